"""Convolution, pooling, per-channel batch norm and the CNN: gradients against
float64 central differences, and parity with PyTorch's layers."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from bnviz.engine.cnn import CNN
from bnviz.engine.conv import BatchNorm2d, Conv2d, Pool2d, PerChannel
from bnviz.engine.losses import softmax_cross_entropy
from bnviz.engine.norms import BatchRenorm

from test_gradients import numeric_grad, rel_error
from test_norms import _check_layer

TOL = 1e-7


def _check(layer, x, params=()):
    """dx and each of ``params`` of ``layer`` (test_norms' check, for any parameters)."""
    _check_layer(layer, x, np.random.default_rng(9), params)


@pytest.mark.parametrize("k,bias", [(3, True), (5, True), (3, False)])
def test_conv2d_gradients(k, bias):
    rng = np.random.default_rng(k)
    conv = Conv2d(rng.normal(size=(4, 3, k, k)), rng.normal(size=4) if bias else None)
    _check(conv, rng.normal(size=(2, 3, 5, 6)), ("W", "b") if bias else ("W",))


@pytest.mark.parametrize("kind", ["avg", "max"])
def test_pooling_gradients(kind):
    _check(Pool2d(kind), np.random.default_rng(1).normal(size=(2, 3, 4, 6)))


def test_per_channel_batch_norm_and_renorm_gradients():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 3, 3)) * 2 + 1
    bn = BatchNorm2d(4, dtype=np.float64)
    bn.gamma[:] = rng.uniform(0.5, 2, 4)
    bn.beta[:] = rng.normal(size=4)
    _check(bn, x, ("gamma", "beta"))
    renorm = PerChannel(BatchRenorm(4, r_max=1.3, d_max=0.2, warmup=0, ramp=0, dtype=np.float64))
    renorm.running_var[:] = 30.0   # r and d at their limits: constant near x
    renorm.running_mean[:] = -5.0
    _check(renorm, x, ("gamma", "beta"))


@pytest.mark.parametrize("norm", ["batch", "group", "layer", "renorm", "noisy", None])
def test_cnn_gradients_every_parameter(norm):
    rng = np.random.default_rng(3)
    options = {"group": dict(groups=2), "renorm": dict(r_max=1.2, d_max=0.1, warmup=0, ramp=0)}
    # tanh: a ReLU that passes every value would let the next BN cancel a shift exactly (zero gradient)
    model = CNN((2, 4, 4), (4, 4), 3, (6,), 3, norm=norm, norm_options=options.get(norm),
                activation="tanh", dtype=np.float64, seed=1)
    for block in model.blocks:
        if block.linear.b is not None:
            block.linear.b[:] = rng.normal(scale=0.3, size=block.linear.b.shape)
    for norm_layer in [L.norm for L in model.layers]:
        if norm_layer is not None:
            norm_layer.gamma[:] = rng.uniform(0.5, 1.5, norm_layer.gamma.shape)
            norm_layer.beta[:] = rng.normal(scale=0.5, size=norm_layer.beta.shape)
        if norm == "renorm":   # far from the batches' statistics: r and d at their limits
            norm_layer.running_var[:] = 40.0
            norm_layer.running_mean[:] = 5.0
    x = rng.normal(size=(6, 2, 4, 4))
    y = rng.integers(0, 3, size=6)

    def loss():
        return softmax_cross_entropy(copy.deepcopy(model).forward(x), y)[0]

    probe = copy.deepcopy(model)
    _, dlogits, _ = softmax_cross_entropy(probe.forward(x), y)
    probe.backward(dlogits)
    names = [n for n, _, _ in model.named_parameters()]
    assert ("conv1.b" in names) == (norm not in ("batch", "renorm", "noisy"))
    for (name, p, _), (_, _, g) in zip(model.named_parameters(), probe.named_parameters()):
        assert rel_error(g, numeric_grad(loss, p)) <= TOL, name


# ---------------------------------------------------------------- PyTorch
torch = pytest.importorskip("torch", reason="parity tests need PyTorch (CI installs it)")


@pytest.mark.parametrize("k", [3, 5])
def test_conv2d_is_torch_conv2d(k):
    rng = np.random.default_rng(k)
    x = rng.normal(size=(3, 2, 7, 6))
    theirs = torch.nn.Conv2d(2, 5, k, padding=k // 2, dtype=torch.float64)
    ours = Conv2d(theirs.weight.detach().numpy().copy(), theirs.bias.detach().numpy().copy())
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out = theirs(xt)
    R = rng.normal(size=out.shape)
    out.backward(torch.from_numpy(R))
    np.testing.assert_allclose(ours.forward(x), out.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.backward(R.copy()), xt.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.dW, theirs.weight.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.db, theirs.bias.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", ["avg", "max"])
def test_pooling_is_torchs(kind):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 6, 4))
    theirs = torch.nn.AvgPool2d(2) if kind == "avg" else torch.nn.MaxPool2d(2)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out = theirs(xt)
    R = rng.normal(size=out.shape)
    out.backward(torch.from_numpy(R))
    ours = Pool2d(kind)
    np.testing.assert_allclose(ours.forward(x), out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.backward(R.copy()), xt.grad.numpy(), rtol=0, atol=1e-12)


def test_batch_norm_2d_is_torchs_running_statistics_included():
    rng = np.random.default_rng(5)
    theirs = torch.nn.BatchNorm2d(3, momentum=0.1, eps=1e-5, dtype=torch.float64)
    ours = BatchNorm2d(3, momentum=0.1, eps=1e-5, unbiased_running_var=True, dtype=np.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.5, 1.5, -1.0], dtype=torch.float64))
        theirs.bias.copy_(torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64))
    ours.gamma[:] = [0.5, 1.5, -1.0]
    ours.beta[:] = [0.1, -0.2, 0.3]
    for _ in range(4):
        x = rng.normal(size=(4, 3, 5, 5)) * 2 + 1
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        theirs.weight.grad = theirs.bias.grad = None
        out = theirs(xt)
        R = rng.normal(size=out.shape)
        out.backward(torch.from_numpy(R))
        np.testing.assert_allclose(ours.forward(x), out.detach().numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.backward(R.copy()), xt.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.dgamma, theirs.weight.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.dbeta, theirs.bias.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=0, atol=1e-12)
    theirs.eval()
    x = rng.normal(size=(2, 3, 5, 5))
    with torch.no_grad():
        np.testing.assert_allclose(ours.forward(x, training=False), theirs(torch.from_numpy(x)).numpy(),
                                   rtol=0, atol=1e-12)
