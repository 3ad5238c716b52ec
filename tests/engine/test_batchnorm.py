"""Batch-norm conventions: normalisation, running statistics (PyTorch's
formula and unbiased variance), cumulative average, Keras/Flax biased
storage, inference mode, batch of one, and the redundant bias."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine.layers import BatchNorm
from bnviz.engine.losses import softmax_cross_entropy
from bnviz.engine.model import MLP


def _batches(k=3, n=10, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, d) + rng.normal(size=d) * 2 for _ in range(k)]


# ------------------------------------------------------------ normalisation

def test_training_output_has_mean_beta_and_std_gamma():
    rng = np.random.default_rng(1)
    n, d = 64, 6
    bn = BatchNorm(d, dtype=np.float64)
    gamma = rng.uniform(0.5, 3.0, d)
    beta = rng.normal(size=d) * 2
    bn.gamma[:] = gamma
    bn.beta[:] = beta
    x = rng.normal(size=(n, d)) * rng.uniform(1.0, 5.0, d) + rng.normal(size=d) * 10
    y = bn.forward(x, training=True)
    np.testing.assert_allclose(y.mean(axis=0), beta, rtol=0, atol=1e-12)
    # Biased std; eps shrinks it by sqrt(var / (var + eps)).
    var = x.var(axis=0)
    np.testing.assert_allclose(y.std(axis=0), gamma * np.sqrt(var / (var + bn.eps)), rtol=1e-12)
    np.testing.assert_allclose(y.std(axis=0), gamma, rtol=1e-5)
    # The cached statistics are the batch's (biased variance).
    np.testing.assert_allclose(bn.batch_mean, x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(bn.batch_var, var, rtol=1e-12)
    np.testing.assert_allclose(bn.x_hat, (x - x.mean(0)) / np.sqrt(var + bn.eps), rtol=1e-12, atol=1e-14)


def test_float32_stays_float32():
    bn = BatchNorm(3)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    y = bn.forward(x, training=True)
    assert y.dtype == np.float32 and bn.running_var.dtype == np.float32
    assert bn.backward(np.ones_like(y)).dtype == np.float32


def test_initial_state():
    bn = BatchNorm(5, dtype=np.float64)
    np.testing.assert_array_equal(bn.gamma, np.ones(5))
    np.testing.assert_array_equal(bn.beta, np.zeros(5))
    np.testing.assert_array_equal(bn.running_mean, np.zeros(5))
    np.testing.assert_array_equal(bn.running_var, np.ones(5))
    assert bn.num_batches_tracked == 0 and bn.momentum == 0.1 and bn.eps == 1e-5


# ---------------------------------------------------------- running stats

def test_running_stats_pytorch_formula_unbiased_by_hand():
    m = 0.1
    bn = BatchNorm(4, momentum=m, dtype=np.float64)
    rm, rv, rv_biased = np.zeros(4), np.ones(4), np.ones(4)
    for k, x in enumerate(_batches(3, n=10), start=1):
        bn.forward(x, training=True)
        n = x.shape[0]
        mu = x.mean(axis=0)
        var_unbiased = ((x - mu) ** 2).sum(axis=0) / (n - 1)
        rm = (1 - m) * rm + m * mu
        rv = (1 - m) * rv + m * var_unbiased
        rv_biased = (1 - m) * rv_biased + m * ((x - mu) ** 2).sum(axis=0) / n
        np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(bn.running_var, rv, rtol=1e-13)
        assert bn.num_batches_tracked == k
    # The unbiased and biased results are measurably different here.
    assert np.min(np.abs(rv - rv_biased) / rv) > 1e-3


def test_momentum_none_is_cumulative_average():
    xs = _batches(4, n=8, seed=3)
    bn = BatchNorm(4, momentum=None, dtype=np.float64)
    means, uvars = [], []
    for k, x in enumerate(xs, start=1):
        bn.forward(x, training=True)
        means.append(x.mean(axis=0))
        uvars.append(x.var(axis=0, ddof=1))
        np.testing.assert_allclose(bn.running_mean, np.mean(means, axis=0), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(bn.running_var, np.mean(uvars, axis=0), rtol=1e-12)
        assert bn.num_batches_tracked == k
    # After the first batch the initial 0 / 1 are fully replaced.
    bn1 = BatchNorm(4, momentum=None, dtype=np.float64)
    bn1.forward(xs[0], training=True)
    np.testing.assert_allclose(bn1.running_mean, xs[0].mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(bn1.running_var, xs[0].var(axis=0, ddof=1), rtol=1e-13)


def test_biased_running_var_keras_flax():
    m = 0.01  # Keras momentum 0.99
    bn = BatchNorm(4, momentum=m, eps=1e-3, unbiased_running_var=False, dtype=np.float64)
    rm, rv = np.zeros(4), np.ones(4)
    for x in _batches(3, n=6, seed=4):
        bn.forward(x, training=True)
        rm = (1 - m) * rm + m * x.mean(axis=0)
        rv = (1 - m) * rv + m * x.var(axis=0)  # biased (ddof=0)
    np.testing.assert_allclose(bn.running_mean, rm, rtol=1e-13)
    np.testing.assert_allclose(bn.running_var, rv, rtol=1e-13)


def test_update_stats_false_leaves_running_stats():
    bn = BatchNorm(4, dtype=np.float64)
    x0, x1 = _batches(2, seed=5)
    bn.forward(x0, training=True)
    rm, rv, xh = bn.running_mean.copy(), bn.running_var.copy(), bn.x_hat.copy()
    y = bn.forward(x1, training=True, update_stats=False)
    np.testing.assert_allclose(y.mean(axis=0), bn.beta, atol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, rm)
    np.testing.assert_array_equal(bn.running_var, rv)
    np.testing.assert_array_equal(bn.x_hat, xh)
    assert bn.num_batches_tracked == 1


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_matches_torch_batchnorm1d(momentum):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    d, eps = 5, 1e-5
    gamma = rng.uniform(0.5, 2.0, d)
    beta = rng.normal(size=d)
    bn = BatchNorm(d, momentum=momentum, eps=eps, dtype=np.float64)
    bn.gamma[:] = gamma
    bn.beta[:] = beta
    tbn = torch.nn.BatchNorm1d(d, momentum=momentum, eps=eps, dtype=torch.float64)
    with torch.no_grad():
        tbn.weight.copy_(torch.from_numpy(gamma))
        tbn.bias.copy_(torch.from_numpy(beta))
    tbn.train()
    for x in _batches(3, n=12, d=d, seed=8):
        R = rng.normal(size=x.shape)
        y = bn.forward(x, training=True)
        dx = bn.backward(R)
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        tbn.weight.grad = None
        tbn.bias.grad = None
        yt = tbn(xt)
        (yt * torch.from_numpy(R)).sum().backward()
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(bn.dgamma, tbn.weight.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(bn.dbeta, tbn.bias.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=0, atol=1e-10)
        assert bn.num_batches_tracked == int(tbn.num_batches_tracked)
    # Inference mode agrees too.
    tbn.eval()
    xe = _batches(1, n=7, d=d, seed=9)[0]
    with torch.no_grad():
        ye = tbn(torch.from_numpy(xe)).numpy()
    np.testing.assert_allclose(bn.forward(xe, training=False), ye, rtol=0, atol=1e-10)


# -------------------------------------------------------------- inference

def test_eval_mode_uses_running_stats_and_changes_nothing():
    rng = np.random.default_rng(10)
    d = 4
    bn = BatchNorm(d, dtype=np.float64)
    bn.gamma[:] = rng.uniform(0.5, 2.0, d)
    bn.beta[:] = rng.normal(size=d)
    for x in _batches(3, d=d, seed=11):
        bn.forward(x, training=True)
    rm, rv = bn.running_mean.copy(), bn.running_var.copy()
    tracked = bn.num_batches_tracked
    bm, bv, xh = bn.batch_mean.copy(), bn.batch_var.copy(), bn.x_hat.copy()
    x = rng.normal(size=(1, d)) * 3  # a single example is fine at test time
    x = np.vstack([x, rng.normal(size=(5, d))])
    y = bn.forward(x, training=False)
    expect = bn.gamma * (x - rm) / np.sqrt(rv + bn.eps) + bn.beta
    np.testing.assert_allclose(y, expect, rtol=1e-12, atol=1e-13)
    y1 = bn.forward(x[:1], training=False)
    np.testing.assert_allclose(y1, expect[:1], rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(bn.running_mean, rm)
    np.testing.assert_array_equal(bn.running_var, rv)
    assert bn.num_batches_tracked == tracked
    np.testing.assert_array_equal(bn.batch_mean, bm)
    np.testing.assert_array_equal(bn.batch_var, bv)
    np.testing.assert_array_equal(bn.x_hat, xh)


def test_training_batch_of_one_raises():
    bn = BatchNorm(3, dtype=np.float64)
    with pytest.raises(ValueError, match=r"more than 1 value|at least 2"):
        bn.forward(np.ones((1, 3)), training=True)
    assert bn.num_batches_tracked == 0
    np.testing.assert_array_equal(bn.running_var, np.ones(3))


def test_wrong_width_raises():
    bn = BatchNorm(3, dtype=np.float64)
    with pytest.raises(ValueError, match="3"):
        bn.forward(np.ones((4, 2)), training=True)


@pytest.mark.parametrize("kwargs", [dict(momentum=0.0), dict(momentum=1.5), dict(eps=0.0), dict(eps=-1e-5)])
def test_invalid_hyperparameters_raise(kwargs):
    with pytest.raises(ValueError):
        BatchNorm(3, **kwargs)


# ---------------------------------------------------------- redundant bias

def test_bias_before_bn_is_redundant():
    rng = np.random.default_rng(12)
    model = MLP(6, (8, 5), 3, activation="tanh", keep_bias=True, bn_placement="before",
                dtype=np.float64, seed=1)
    lin = model.layers[0].linear
    assert lin.b is not None
    x = rng.normal(size=(16, 6))
    y = rng.integers(0, 3, size=16)

    lin.b[:] = 0.0
    logits0 = model.forward(x, training=True)
    lin.b[:] = rng.normal(size=lin.b.shape) * 3
    logits1 = model.forward(x, training=True)
    assert np.max(np.abs(logits1 - logits0)) <= 1e-12 * np.max(np.abs(logits0))

    _, dlogits, _ = softmax_cross_entropy(logits1, y)
    model.backward(dlogits)
    dW_norm = np.linalg.norm(lin.dW)
    assert dW_norm > 1e-6
    assert np.linalg.norm(lin.db) <= 1e-12 * dW_norm
    # Without keep_bias the layer has no bias at all.
    lean = MLP(6, (8, 5), 3, keep_bias=False, bn_placement="before", dtype=np.float64)
    assert all(layer.linear.b is None for layer in lean.layers)
    # After the activation, the bias matters and is kept.
    after = MLP(6, (8, 5), 3, keep_bias=False, bn_placement="after", dtype=np.float64)
    assert all(layer.linear.b is not None for layer in after.layers)
