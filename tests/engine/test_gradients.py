"""Analytic gradients of every engine layer against central finite differences (float64)."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine.layers import BatchNorm, Linear, make_activation
from bnviz.engine.losses import softmax_cross_entropy
from bnviz.engine.model import MLP

H = 1e-5
TINY = 1e-300


def rel_error(a, n) -> float:
    """max|a - n| / max(max(|a| + |n|), tiny)."""
    a = np.asarray(a, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    assert a.shape == n.shape
    return float(np.max(np.abs(a - n)) / max(float(np.max(np.abs(a) + np.abs(n))), TINY))


def numeric_grad(f, arr: np.ndarray, idx=None, h: float = H) -> np.ndarray:
    """Central differences of the scalar f() with respect to entries of arr
    (perturbed in place and restored). idx: iterable of multi-indices, or
    None for every entry; returns an array shaped like arr (zeros elsewhere)
    when idx is None, else a 1-D array in the order of idx."""
    full = idx is None
    if full:
        idx = list(np.ndindex(arr.shape))
    out = np.zeros(len(idx), dtype=np.float64)
    for k, i in enumerate(idx):
        old = arr[i]
        arr[i] = old + h
        fp = f()
        arr[i] = old - h
        fm = f()
        arr[i] = old
        out[k] = (fp - fm) / (2 * h)
    return out.reshape(arr.shape) if full else out


# ------------------------------------------------------------------ BatchNorm

@pytest.mark.parametrize("n,d,seed", [(8, 5, 0), (16, 5, 1), (12, 3, 2)])
def test_batchnorm_gradients(n, d, seed):
    rng = np.random.default_rng(seed)
    bn = BatchNorm(d, dtype=np.float64)
    bn.gamma[:] = rng.uniform(0.5, 2.0, d) * rng.choice([-1, 1], d)
    bn.beta[:] = rng.normal(size=d)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, d) + rng.normal(size=d) * 2
    R = rng.normal(size=(n, d))

    def loss():
        return float(np.sum(bn.forward(x, training=True) * R))

    y = bn.forward(x, training=True)
    assert y.dtype == np.float64
    dx = bn.backward(R.copy())
    dgamma, dbeta = bn.dgamma.copy(), bn.dbeta.copy()
    assert dx.shape == (n, d) and dgamma.shape == (d,) and dbeta.shape == (d,)

    num_dx = numeric_grad(loss, x)
    num_dgamma = numeric_grad(loss, bn.gamma)
    num_dbeta = numeric_grad(loss, bn.beta)
    assert rel_error(dx, num_dx) <= 1e-7
    assert rel_error(dgamma, num_dgamma) <= 1e-7
    assert rel_error(dbeta, num_dbeta) <= 1e-7
    # The gradients are not trivially zero.
    assert np.max(np.abs(dx)) > 1e-3 and np.max(np.abs(dgamma)) > 1e-3


def test_batchnorm_dx_sums_to_zero_per_unit():
    """Because the batch mean is subtracted, shifting every example of a unit
    by the same constant changes nothing: sum_n dx[n, j] = 0."""
    rng = np.random.default_rng(5)
    bn = BatchNorm(4, dtype=np.float64)
    bn.gamma[:] = [1.5, -0.7, 2.0, 0.3]
    x = rng.normal(size=(10, 4)) * 3 + 1
    bn.forward(x, training=True)
    dx = bn.backward(rng.normal(size=(10, 4)))
    assert np.max(np.abs(dx.sum(axis=0))) <= 1e-12 * np.max(np.abs(dx)) * 10


# --------------------------------------------------------------------- Linear

@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_gradients(with_bias):
    rng = np.random.default_rng(3)
    n, din, dout = 7, 4, 3
    W = rng.normal(size=(din, dout))
    b = rng.normal(size=dout) if with_bias else None
    lin = Linear(W, b)
    x = rng.normal(size=(n, din))
    R = rng.normal(size=(n, dout))

    def loss():
        return float(np.sum(lin.forward(x, training=True) * R))

    z = lin.forward(x, training=True)
    expect = x @ W + (b if with_bias else 0.0)
    np.testing.assert_allclose(z, expect, rtol=1e-13, atol=1e-13)
    dx = lin.backward(R.copy(), need_dx=True)
    dW = lin.dW.copy()
    assert rel_error(dx, numeric_grad(loss, x)) <= 1e-7
    assert rel_error(dW, numeric_grad(loss, lin.W)) <= 1e-7
    if with_bias:
        assert rel_error(lin.db, numeric_grad(loss, lin.b)) <= 1e-7
    else:
        assert lin.db is None
    # need_dx=False still sets dW and returns None.
    lin.forward(x, training=True)
    lin.dW[:] = 0
    assert lin.backward(R, need_dx=False) is None
    np.testing.assert_allclose(lin.dW, dW, rtol=1e-13)


# ---------------------------------------------------------------- activations

@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
def test_activation_gradients(name):
    rng = np.random.default_rng(4)
    act = make_activation(name)
    z = rng.normal(size=(6, 5)) * 2.0
    # Keep away from the kink at 0 of relu / leaky relu.
    z = np.where(np.abs(z) < 0.1, np.sign(z) * 0.1 + z, z)
    assert np.all(np.abs(z) >= 0.1)
    R = rng.normal(size=z.shape)

    def loss():
        return float(np.sum(act.forward(z, training=True) * R))

    act.forward(z, training=True)
    dz = act.backward(R.copy())
    num = numeric_grad(loss, z)
    assert rel_error(dz, num) <= 1e-7


@pytest.mark.parametrize("name,fn", [
    ("sigmoid", lambda z: 1.0 / (1.0 + np.exp(-z))),
    ("tanh", np.tanh),
    ("relu", lambda z: np.maximum(z, 0.0)),
    ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
    ("identity", lambda z: z),
])
def test_activation_values(name, fn):
    z = np.linspace(-6, 6, 25)[None, :]
    np.testing.assert_allclose(make_activation(name).forward(z, training=False), fn(z), rtol=1e-12, atol=1e-15)


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match="softplus"):
        make_activation("softplus")


# --------------------------------------------------------------------- softmax

def test_softmax_cross_entropy_gradient_and_value():
    rng = np.random.default_rng(6)
    n, k = 9, 4
    logits = rng.normal(size=(n, k)) * 2
    y = rng.integers(0, k, size=n)

    loss, dlogits, probs = softmax_cross_entropy(logits, y)
    direct = -np.mean([np.log(np.exp(logits[i, y[i]]) / np.exp(logits[i]).sum()) for i in range(n)])
    assert loss == pytest.approx(direct, rel=1e-12)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(probs, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), rtol=1e-12)

    num = numeric_grad(lambda: softmax_cross_entropy(logits, y)[0], logits)
    assert rel_error(dlogits, num) <= 1e-7
    # dlogits = (p - onehot) / N: each row sums to 0.
    np.testing.assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-15)


def test_softmax_cross_entropy_large_logits_do_not_overflow():
    rng = np.random.default_rng(7)
    base = rng.normal(size=(5, 3))
    y = np.array([0, 1, 2, 1, 0])
    big = base * 1e3
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        loss, dlogits, probs = softmax_cross_entropy(big, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits)) and np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-14)
    # Stable reference: logsumexp by hand.
    m = big.max(axis=1)
    lse = m + np.log(np.exp(big - m[:, None]).sum(axis=1))
    assert loss == pytest.approx(np.mean(lse - big[np.arange(5), y]), rel=1e-12)
    # Shift invariance: adding 1e3 to every logit changes nothing.
    loss2, d2, p2 = softmax_cross_entropy(base + 1e3, y)
    loss0, d0, p0 = softmax_cross_entropy(base, y)
    assert loss2 == pytest.approx(loss0, rel=1e-10)
    np.testing.assert_allclose(p2, p0, rtol=1e-9)


# ------------------------------------------------------------------ whole MLP

MLP_CONFIGS = [
    dict(activation="sigmoid", bn_layers=(True, True), bn_placement="before"),
    dict(activation="tanh", bn_layers=(True, True), bn_placement="after"),
    dict(activation="tanh", bn_layers=(True, False), bn_placement="before"),
    dict(activation="leaky_relu", bn_layers=(False, True), bn_placement="before", init="he"),
    dict(activation="sigmoid", bn_layers=(True, True), bn_placement="before", keep_bias=True),
    dict(activation="tanh", bn_layers=(True, False), bn_placement="after", keep_bias=True, init="glorot"),
    dict(activation="sigmoid", bn_layers=(False, False), bn_placement="before"),
]


@pytest.mark.parametrize("cfg", MLP_CONFIGS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_mlp_gradients_every_parameter(cfg):
    rng = np.random.default_rng(11)
    n, n_in, hidden, n_out = 12, 6, (7, 5), 4
    cfg = dict(cfg)
    cfg.setdefault("init", "gaussian")
    model = MLP(n_in, hidden, n_out, dtype=np.float64, seed=3, init_std=0.5, **cfg)
    # Non-trivial BN parameters and biases so every path carries signal.
    for layer in model.layers:
        if layer.bn is not None:
            layer.bn.gamma[:] = rng.uniform(0.5, 1.5, layer.bn.gamma.shape)
            layer.bn.beta[:] = rng.normal(scale=0.3, size=layer.bn.beta.shape)
        if layer.linear.b is not None:
            layer.linear.b[:] = rng.normal(scale=0.3, size=layer.linear.b.shape)
    model.head.b[:] = rng.normal(scale=0.3, size=n_out)
    x = rng.normal(size=(n, n_in))
    y = rng.integers(0, n_out, size=n)

    def loss():
        return softmax_cross_entropy(model.forward(x, training=True), y)[0]

    logits = model.forward(x, training=True)
    _, dlogits, _ = softmax_cross_entropy(logits, y)
    model.backward(dlogits)
    named = model.named_parameters()
    grads = {name: g.copy() for name, _, g in named}

    # Every learnable array is listed, once.
    expected = []
    for i, (layer, has_bn) in enumerate(zip(model.layers, cfg["bn_layers"]), start=1):
        expected.append(f"layer{i}.W")
        bias_redundant = has_bn and cfg["bn_placement"] == "before"
        if cfg.get("keep_bias", False) or not bias_redundant:
            expected.append(f"layer{i}.b")
        if has_bn:
            expected += [f"layer{i}.gamma", f"layer{i}.beta"]
    expected += ["head.W", "head.b"]
    assert [name for name, _, _ in named] == expected

    for name, p, _ in named:
        g = grads[name]
        assert g.shape == p.shape and g.dtype == np.float64
        flat = list(np.ndindex(p.shape))
        if len(flat) > 30:
            pick = rng.choice(len(flat), 30, replace=False)
            flat = [flat[j] for j in pick]
        num = numeric_grad(loss, p, flat)
        ana = np.array([g[i] for i in flat])
        if np.max(np.abs(num)) < 1e-9:
            # A parameter with no effect (bias right before BN): the analytic
            # gradient must vanish too.
            assert np.max(np.abs(ana)) < 1e-9, name
        else:
            assert rel_error(ana, num) <= 1e-6, name
