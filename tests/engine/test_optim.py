"""Optimizers: the first steps equal the textbook updates, live
hyper-parameter changes take effect, make_optimizer reads the config, and
PyTorch's optimizers agree."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bnviz.engine.config import RunConfig
from bnviz.engine.optim import GD, SGD, Adam, Momentum, Optimizer, RMSProp, make_optimizer

W0 = np.array([[0.5, -1.0, 2.0], [0.25, 0.0, -3.0]])
B0 = np.array([0.1, -0.2])
# A different gradient at each of three steps.
GRADS = [
    (np.array([[0.1, -0.2, 0.3], [1.0, -0.5, 0.05]]), np.array([0.2, -0.1])),
    (np.array([[-0.3, 0.4, 0.1], [0.2, 0.0, -0.7]]), np.array([0.05, 0.3])),
    (np.array([[0.6, 0.1, -0.2], [-0.4, 0.25, 0.5]]), np.array([-0.5, 0.01])),
]


def run(opt, steps=3):
    params = [W0.copy(), B0.copy()]
    ids = [id(p) for p in params]
    out = []
    for g in GRADS[:steps]:
        opt.update(params, [g[0].copy(), g[1].copy()])
        assert [id(p) for p in params] == ids  # in place
        out.append([p.copy() for p in params])
    return out


def check(actual, expected):
    for got_step, exp_step in zip(actual, expected, strict=True):
        for got, exp in zip(got_step, exp_step, strict=True):
            np.testing.assert_allclose(got, exp, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("cls", [SGD, GD])
def test_sgd_and_gd(cls):
    lr = 0.3
    w, b = W0.copy(), B0.copy()
    expected = []
    for gw, gb in GRADS:
        w, b = w - lr * gw, b - lr * gb
        expected.append([w, b])
    check(run(cls(lr)), expected)


def test_momentum_pytorch_form():
    lr, mu = 0.1, 0.9
    w, b = W0.copy(), B0.copy()
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    expected = []
    for gw, gb in GRADS:
        vw, vb = mu * vw + gw, mu * vb + gb
        w, b = w - lr * vw, b - lr * vb
        expected.append([w, b])
    opt = Momentum(lr, mu)
    check(run(opt), expected)
    # After step 2 with g1, g2: v = mu * g1 + g2 (not (1 - mu) weighted).
    two = run(Momentum(lr, mu), steps=2)[-1][0]
    np.testing.assert_allclose(two, W0 - lr * GRADS[0][0] - lr * (mu * GRADS[0][0] + GRADS[1][0]), rtol=1e-14)


def test_rmsprop():
    lr, rho, eps = 0.01, 0.9, 1e-8
    w, b = W0.copy(), B0.copy()
    sw, sb = np.zeros_like(w), np.zeros_like(b)
    expected = []
    for gw, gb in GRADS:
        sw = rho * sw + (1 - rho) * gw ** 2
        sb = rho * sb + (1 - rho) * gb ** 2
        w = w - lr * gw / (np.sqrt(sw) + eps)
        b = b - lr * gb / (np.sqrt(sb) + eps)
        expected.append([w, b])
    check(run(RMSProp(lr, rho, eps)), expected)
    # First step: s = (1 - rho) g^2, so the step is lr * sign(g) / sqrt(1 - rho).
    first = run(RMSProp(lr, rho, 0.0), steps=1)[0][0]
    g = GRADS[0][0]
    nz = g != 0
    np.testing.assert_allclose((W0 - first)[nz], lr * np.sign(g[nz]) / math.sqrt(1 - rho), rtol=1e-13)


def test_adam_bias_corrected():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w, b = W0.copy(), B0.copy()
    mw, mb = np.zeros_like(w), np.zeros_like(b)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    expected = []
    for t, (gw, gb) in enumerate(GRADS, start=1):
        mw = b1 * mw + (1 - b1) * gw
        mb = b1 * mb + (1 - b1) * gb
        vw = b2 * vw + (1 - b2) * gw ** 2
        vb = b2 * vb + (1 - b2) * gb ** 2
        w = w - lr * (mw / (1 - b1 ** t)) / (np.sqrt(vw / (1 - b2 ** t)) + eps)
        b = b - lr * (mb / (1 - b1 ** t)) / (np.sqrt(vb / (1 - b2 ** t)) + eps)
        expected.append([w, b])
    opt = Adam(lr, b1, b2, eps)
    check(run(opt), expected)
    assert opt.t == 3
    # Adam's first step moves every entry with a non-zero gradient by ~lr.
    first = run(Adam(lr, b1, b2, eps), steps=1)[0][0]
    g = GRADS[0][0]
    nz = g != 0
    np.testing.assert_allclose(np.abs(W0 - first)[nz], lr, rtol=1e-6)


def test_float32_parameters_stay_float32():
    for opt in (SGD(0.1), Momentum(0.1), RMSProp(0.01), Adam(0.01)):
        p = [W0.astype(np.float32)]
        for gw, _ in GRADS:
            opt.update(p, [gw.astype(np.float32)])
        assert p[0].dtype == np.float32


# ------------------------------------------------------- live hyper-parameters

def test_lr_change_between_steps_takes_effect():
    opt = SGD(0.2)
    p = [W0.copy()]
    opt.update(p, [GRADS[0][0]])
    opt.lr = 0.1
    opt.update(p, [GRADS[1][0]])
    np.testing.assert_allclose(p[0], W0 - 0.2 * GRADS[0][0] - 0.1 * GRADS[1][0], rtol=1e-14)


def test_adam_lr_and_betas_change_between_steps():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = Adam(lr, b1, b2, eps)
    p = [W0.copy()]
    opt.update(p, [GRADS[0][0]])
    opt.lr, opt.beta1 = lr / 2, 0.5
    opt.update(p, [GRADS[1][0]])
    g1, g2 = GRADS[0][0], GRADS[1][0]
    m1 = (1 - b1) * g1
    v1 = (1 - b2) * g1 ** 2
    w = W0 - lr * (m1 / (1 - b1)) / (np.sqrt(v1 / (1 - b2)) + eps)
    m2 = 0.5 * m1 + 0.5 * g2
    v2 = b2 * v1 + (1 - b2) * g2 ** 2
    w = w - (lr / 2) * (m2 / (1 - 0.5 ** 2)) / (np.sqrt(v2 / (1 - b2 ** 2)) + eps)
    np.testing.assert_allclose(p[0], w, rtol=1e-13)


def test_momentum_and_rho_change_between_steps():
    opt = Momentum(0.1, 0.9)
    p = [W0.copy()]
    opt.update(p, [GRADS[0][0]])
    opt.momentum = 0.5
    opt.update(p, [GRADS[1][0]])
    v2 = 0.5 * GRADS[0][0] + GRADS[1][0]
    np.testing.assert_allclose(p[0], W0 - 0.1 * GRADS[0][0] - 0.1 * v2, rtol=1e-14)

    opt = RMSProp(0.01, 0.9, 1e-8)
    p = [W0.copy()]
    opt.update(p, [GRADS[0][0]])
    opt.rho = 0.5
    opt.update(p, [GRADS[1][0]])
    s1 = 0.1 * GRADS[0][0] ** 2
    s2 = 0.5 * s1 + 0.5 * GRADS[1][0] ** 2
    w = W0 - 0.01 * GRADS[0][0] / (np.sqrt(s1) + 1e-8) - 0.01 * GRADS[1][0] / (np.sqrt(s2) + 1e-8)
    np.testing.assert_allclose(p[0], w, rtol=1e-13)


# ---------------------------------------------------------------- factory

@pytest.mark.parametrize("name,cls", [("gd", GD), ("sgd", SGD), ("momentum", Momentum),
                                      ("rmsprop", RMSProp), ("adam", Adam)])
def test_make_optimizer(name, cls):
    cfg = RunConfig(optimizer=name, lr=0.037, sgd_momentum=0.77, rmsprop_rho=0.81,
                    adam_beta1=0.85, adam_beta2=0.9876, opt_eps=3e-7)
    opt = make_optimizer(cfg)
    assert type(opt) is cls and isinstance(opt, Optimizer)
    assert opt.lr == 0.037 and opt.t == 0
    if cls is Momentum:
        assert opt.momentum == 0.77
    if cls is RMSProp:
        assert opt.rho == 0.81 and opt.eps == 3e-7
    if cls is Adam:
        assert (opt.beta1, opt.beta2, opt.eps) == (0.85, 0.9876, 3e-7)


# ---------------------------------------------------------------- PyTorch

@pytest.mark.parametrize("kind", ["sgd", "momentum", "rmsprop", "adam"])
def test_matches_torch(kind):
    torch = pytest.importorskip("torch")
    lr = 0.05
    if kind == "sgd":
        ours = SGD(lr)
        make = lambda ps: torch.optim.SGD(ps, lr=lr)  # noqa: E731
    elif kind == "momentum":
        ours = Momentum(lr, 0.8)
        make = lambda ps: torch.optim.SGD(ps, lr=lr, momentum=0.8)  # noqa: E731
    elif kind == "rmsprop":
        ours = RMSProp(lr, 0.85, 1e-8)
        make = lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=0.85, eps=1e-8)  # noqa: E731
    else:
        ours = Adam(lr, 0.9, 0.99, 1e-8)
        make = lambda ps: torch.optim.Adam(ps, lr=lr, betas=(0.9, 0.99), eps=1e-8)  # noqa: E731
    tparams = [torch.tensor(W0.copy(), dtype=torch.float64, requires_grad=True),
               torch.tensor(B0.copy(), dtype=torch.float64, requires_grad=True)]
    topt = make(tparams)
    params = [W0.copy(), B0.copy()]
    for gw, gb in GRADS:
        ours.update(params, [gw, gb])
        tparams[0].grad = torch.from_numpy(gw.copy())
        tparams[1].grad = torch.from_numpy(gb.copy())
        topt.step()
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
    # The parameters actually moved.
    assert not np.allclose(params[0], W0)
