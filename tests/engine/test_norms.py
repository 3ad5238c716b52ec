"""The normalization family (``bnviz.engine.norms``): gradients against
float64 central differences, LayerNorm and GroupNorm against PyTorch, Batch
Renorm against a hand-written copy of the paper's algorithm, and the noise
of noisy BN."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from bnviz.engine.config import ConfigError, RunConfig
from bnviz.engine.layers import BatchNorm
from bnviz.engine.losses import softmax_cross_entropy
from bnviz.engine.model import MLP
from bnviz.engine.norms import BatchRenorm, GroupNorm, LayerNorm, NoisyBatchNorm

from test_gradients import numeric_grad, rel_error

TOL = 1e-7


def _inputs(shape, seed):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 3.0, shape[1]).reshape((1, shape[1]) + (1,) * (len(shape) - 2))
    return rng, rng.normal(size=shape) * scale + 1.5


def _set_affine(layer, rng):
    layer.gamma[:] = rng.uniform(0.5, 2.0, layer.gamma.shape) * rng.choice([-1, 1], layer.gamma.shape)
    layer.beta[:] = rng.normal(size=layer.beta.shape)


def _check_layer(layer, x, rng, params=("gamma", "beta")):
    """dx and the gradients of ``params`` of ``layer`` against central
    differences of sum(R * y); each evaluation runs on a copy, so running
    statistics and noise generators are the same at every one."""
    R = rng.normal(size=copy.deepcopy(layer).forward(x, training=True).shape)

    def loss():
        return float(np.sum(copy.deepcopy(layer).forward(x, training=True) * R))

    probe = copy.deepcopy(layer)
    probe.forward(x, training=True)
    dx = probe.backward(R.copy())
    assert rel_error(dx, numeric_grad(loss, x)) <= TOL
    for name in params:
        assert rel_error(getattr(probe, "d" + name), numeric_grad(loss, getattr(layer, name))) <= TOL, name


@pytest.mark.parametrize("shape,groups", [((6, 8), 1), ((6, 8), 2), ((5, 12), 4), ((5, 6), 6),
                                          ((3, 4, 3, 3), 1), ((3, 6, 3, 2), 3), ((2, 4, 2, 2), 4)])
def test_group_and_layer_norm_gradients(shape, groups):
    rng, x = _inputs(shape, groups)
    layer = GroupNorm(shape[1], groups, dtype=np.float64)
    _set_affine(layer, rng)
    _check_layer(layer, x, rng)


def test_batch_renorm_gradients_with_r_and_d_clipped():
    """With the running statistics far from the batch's, r and d sit at their
    limits: constant near x, so the layer's true derivative is the backward's."""
    rng, x = _inputs((10, 5), 0)
    layer = BatchRenorm(5, momentum=0.1, r_max=1.5, d_max=0.5, warmup=0, ramp=0, dtype=np.float64)
    _set_affine(layer, rng)
    layer.running_mean[:] = -4.0
    layer.running_var[:] = 50.0
    probe = copy.deepcopy(layer)
    probe.forward(x)
    np.testing.assert_array_equal(probe.r, 1 / 1.5)
    np.testing.assert_array_equal(probe.d, 0.5)
    _check_layer(layer, x, rng)


def test_batch_renorm_gradients_hold_r_and_d_constant():
    """Unclipped, r and d depend on x, but the paper holds them constant in
    the backward: the gradient is that of the map with r and d fixed."""
    rng, x = _inputs((10, 5), 1)
    layer = BatchRenorm(5, r_max=10.0, d_max=10.0, warmup=0, ramp=0, dtype=np.float64)
    _set_affine(layer, rng)
    layer.running_mean[:] = rng.normal(size=5)
    layer.running_var[:] = rng.uniform(0.5, 4.0, 5)
    layer.forward(x)
    r, d = layer.r.copy(), layer.d.copy()
    assert np.all((r > 1 / 10) & (r < 10) & (np.abs(d) < 10)) and not np.allclose(r, 1)
    R = rng.normal(size=x.shape)
    dx = layer.backward(R.copy())

    def fixed(x):
        mu = x.mean(0)
        sigma_b = np.sqrt(((x - mu) ** 2).mean(0) + layer.eps)
        return layer.gamma * ((x - mu) / sigma_b * r + d) + layer.beta

    assert rel_error(dx, numeric_grad(lambda: float(np.sum(fixed(x) * R)), x)) <= TOL
    assert rel_error(layer.dgamma, numeric_grad(lambda: float(np.sum(fixed(x) * R)), layer.gamma)) <= TOL


def test_noisy_bn_gradients_with_its_noise():
    rng, x = _inputs((12, 4), 2)
    layer = NoisyBatchNorm(4, noise_scale=0.8, rng=np.random.default_rng(5), dtype=np.float64)
    _set_affine(layer, rng)
    _check_layer(layer, x, rng)


def _paper_renorm(xs, momentum, eps, r_max, d_max, warmup, ramp, gamma, beta):
    """Ioffe 2017, Algorithm 1, written out for a list of batches: each
    step's (y, r, d) and the final running mean and standard deviation."""
    mu, sigma = np.zeros(xs[0].shape[1]), np.sqrt(np.ones(xs[0].shape[1]) + eps)
    out = []
    for t, x in enumerate(xs):
        f = 0.0 if t < warmup else (1.0 if ramp == 0 else min(1.0, (t - warmup) / ramp))
        rmax_t, dmax_t = 1 + (r_max - 1) * f, d_max * f
        mu_b = x.mean(axis=0)
        sigma_b = np.sqrt(((x - mu_b) ** 2).mean(axis=0) + eps)
        r = np.clip(sigma_b / sigma, 1 / rmax_t, rmax_t)
        d = np.clip((mu_b - mu) / sigma, -dmax_t, dmax_t)
        out.append((gamma * ((x - mu_b) / sigma_b * r + d) + beta, r, d))
        mu = mu + momentum * (mu_b - mu)
        sigma = sigma + momentum * (sigma_b - sigma)
    return out, mu, sigma


def test_batch_renorm_is_the_papers_algorithm_schedule_included():
    """Steps 0-2 plain BN, then the limits relaxed over 4 steps: every
    step's output, r and d, the running mean and sigma, and inference with
    them, as the paper's algorithm computes them."""
    rng = np.random.default_rng(3)
    xs = [rng.normal(size=(4, 6)) * rng.uniform(0.2, 5, 6) + rng.normal(size=6) * 3 for _ in range(10)]
    layer = BatchRenorm(6, momentum=0.3, eps=1e-5, r_max=2.0, d_max=1.0, warmup=3, ramp=4,
                        dtype=np.float64)
    _set_affine(layer, rng)
    want, mu, sigma = _paper_renorm(xs, 0.3, 1e-5, 2.0, 1.0, 3, 4, layer.gamma, layer.beta)
    clipped = inside = 0
    for t, (x, (y, r, d)) in enumerate(zip(xs, want)):
        assert layer.limits(t) == ((1.0, 0.0) if t < 3 else (1 + min(1, (t - 3) / 4), min(1, (t - 3) / 4)))
        np.testing.assert_allclose(layer.forward(x), y, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.r, r, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.d, d, rtol=0, atol=1e-12)
        if t > 3:   # relaxed: some r at a limit, some inside
            at_limit = np.isclose(r, 1 / layer.limits(t)[0]) | np.isclose(r, layer.limits(t)[0])
            clipped += int(at_limit.sum())
            inside += int((~at_limit).sum())
    assert clipped > 0 and inside > 0   # the limits mattered for some units, not all
    np.testing.assert_allclose(layer.running_mean, mu, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(layer.running_var + layer.eps), sigma, rtol=0, atol=1e-12)
    x = rng.normal(size=(3, 6))
    np.testing.assert_allclose(layer.forward(x, training=False),
                               layer.gamma * (x - mu) / sigma + layer.beta, rtol=0, atol=1e-12)


def test_batch_renorm_with_r_max_1_and_d_max_0_is_batch_norm():
    rng = np.random.default_rng(4)
    renorm = BatchRenorm(5, momentum=0.1, r_max=1.0, d_max=0.0, warmup=0, ramp=0, dtype=np.float64)
    bn = BatchNorm(5, momentum=0.1, unbiased_running_var=False, dtype=np.float64)
    for layer in (renorm, bn):
        layer.gamma[:] = np.linspace(0.5, 2, 5)
        layer.beta[:] = np.linspace(-1, 1, 5)
    for _ in range(5):
        x = rng.normal(size=(8, 5)) * 3 + 2
        R = rng.normal(size=x.shape)
        np.testing.assert_allclose(renorm.forward(x), bn.forward(x), rtol=0, atol=1e-12)
        np.testing.assert_allclose(renorm.backward(R.copy()), bn.backward(R.copy()), rtol=0, atol=1e-12)
        np.testing.assert_allclose(renorm.dgamma, bn.dgamma, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(renorm.r, 1.0)
        np.testing.assert_array_equal(renorm.d, 0.0)
    np.testing.assert_allclose(renorm.running_mean, bn.running_mean, rtol=0, atol=1e-12)


def test_noisy_bn_noise_has_the_drawn_mean_and_spread_and_moves_every_step():
    """Per unit, the noise added over a large batch has the mean and standard
    deviation drawn for this step (within 5 standard errors), those lie in
    U(-s, s) and U(0, s), they change from step to step, and inference has
    no noise."""
    n, d, s = 40_000, 6, 0.7
    rng = np.random.default_rng(0)
    noisy = NoisyBatchNorm(d, noise_scale=s, rng=np.random.default_rng(1), dtype=np.float64)
    plain = BatchNorm(d, dtype=np.float64)
    means = []
    for _ in range(3):
        x = rng.normal(size=(n, d)) * 2 + 1
        noise = noisy.forward(x) - plain.forward(x)
        m, sd = noisy.noise_mean, noisy.noise_std
        assert np.all(np.abs(m) <= s) and np.all((sd >= 0) & (sd <= s))
        assert np.all(np.abs(noise.mean(0) - m) <= 5 * sd / np.sqrt(n) + 1e-12)
        assert np.all(np.abs(noise.std(0) - sd) <= 5 * sd / np.sqrt(2 * n) + 1e-12)
        means.append(m.copy())
    assert not np.allclose(means[0], means[1]) and not np.allclose(means[1], means[2])
    np.testing.assert_allclose(noisy.running_mean, plain.running_mean, rtol=0, atol=1e-12)
    x = rng.normal(size=(5, d))
    np.testing.assert_array_equal(noisy.forward(x, training=False), plain.forward(x, training=False))


# ---------------------------------------------------------------- PyTorch

torch = pytest.importorskip("torch", reason="parity tests need PyTorch (CI installs it)")


def _torch_parity(ours, theirs, x, rng):
    _set_affine(ours, rng)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.gamma.copy()))
        theirs.bias.copy_(torch.from_numpy(ours.beta.copy()))
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = theirs(xt)
    R = rng.normal(size=x.shape)
    yt.backward(torch.from_numpy(R))
    y = ours.forward(x)
    dx = ours.backward(R.copy())
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.dgamma, theirs.weight.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.dbeta, theirs.bias.grad.numpy(), rtol=0, atol=1e-10)
    # The same at test time: no running statistics.
    with torch.no_grad():
        theirs.eval()
        np.testing.assert_allclose(ours.forward(x, training=False), theirs(torch.from_numpy(x)).numpy(),
                                   rtol=0, atol=1e-10)


def test_layer_norm_is_torch_layer_norm():
    rng, x = _inputs((7, 10), 0)
    _torch_parity(LayerNorm(10, eps=1e-5, dtype=np.float64),
                  torch.nn.LayerNorm(10, eps=1e-5, dtype=torch.float64), x, rng)


@pytest.mark.parametrize("shape,groups", [((7, 12), 3), ((7, 12), 12), ((4, 6, 5, 5), 2), ((4, 6, 5, 5), 1)])
def test_group_norm_is_torch_group_norm(shape, groups):
    """Dense and convolutional; one group is the convolutional LayerNorm Wu & He compare."""
    rng, x = _inputs(shape, groups)
    ours = (LayerNorm(shape[1], dtype=np.float64) if groups == 1
            else GroupNorm(shape[1], groups, dtype=np.float64))
    _torch_parity(ours, torch.nn.GroupNorm(groups, shape[1], eps=1e-5, dtype=torch.float64), x, rng)


# ------------------------------------------------------------ in a network

NETWORKS = {
    "layer-before": dict(norm="layer", bn_placement="before"),
    "layer-after": dict(norm="layer", bn_placement="after"),
    "group-before": dict(norm="group", norm_options=dict(groups=2)),
    "renorm-clipped": dict(norm="renorm", norm_options=dict(r_max=1.2, d_max=0.1, warmup=0, ramp=0)),
    "noisy": dict(norm="noisy", norm_options=dict(noise_scale=0.6)),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_network_gradients_with_each_normalization(name):
    """Every parameter of a 2-hidden-layer network with the normalization,
    against central differences (each evaluation from the same state)."""
    rng = np.random.default_rng(11)
    model = MLP(6, (8, 6), 4, activation="tanh", bn_layers=(True, True), dtype=np.float64, seed=3,
                init_std=0.5, **NETWORKS[name])
    for norm in model.norms():
        _set_affine(norm, rng)
        if norm.kind == "renorm":   # far from the batches' statistics: r and d at their limits
            norm.running_mean[:] = 3.0
            norm.running_var[:] = 40.0
    x = rng.normal(size=(12, 6))
    y = rng.integers(0, 4, size=12)
    assert (model.layers[0].linear.b is None) == (NETWORKS[name]["norm"] in ("renorm", "noisy")
                                                  and NETWORKS[name].get("bn_placement") != "after")

    def loss():
        return softmax_cross_entropy(copy.deepcopy(model).forward(x, training=True), y)[0]

    probe = copy.deepcopy(model)
    _, dlogits, _ = softmax_cross_entropy(probe.forward(x, training=True), y)
    probe.backward(dlogits)
    for (pname, p, _), (_, _, g) in zip(model.named_parameters(), probe.named_parameters()):
        assert rel_error(g, numeric_grad(loss, p)) <= TOL, pname


def test_group_count_must_divide_every_normalized_width():
    RunConfig(hidden=(12, 8), norm="group", gn_groups=4).validate()
    RunConfig(hidden=(12, 7), norm="group", gn_groups=4, batchnorm=(True, False)).validate()
    with pytest.raises(ConfigError, match="gn_groups: .*width of 7 does not divide by 4"):
        RunConfig(hidden=(12, 7), norm="group", gn_groups=4).validate()
    RunConfig(hidden=(12, 7), norm="layer", gn_groups=4).validate()   # groups only for GroupNorm
    with pytest.raises(ConfigError, match="norm"):
        RunConfig(norm="instance").validate()
