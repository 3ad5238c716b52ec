"""The framework presets use their framework's defaults, and what the
README, the settings' tooltips and the '?' texts say about the optimizer
formulas holds: bnviz updates as PyTorch's torch.optim does; Keras's
published update rules (keras/src/optimizers/adam.py, rmsprop.py, sgd.py,
written out below in NumPy) differ as described.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from bnviz.engine.config import RunConfig, preset
from bnviz.engine.optim import (Adam, KerasAdam, KerasMomentum, KerasRMSProp, Momentum, RMSProp,
                                make_optimizer)
from bnviz.engine.trainer import Trainer


def test_keras_preset_uses_keras_defaults():
    cfg = preset("Keras defaults")
    # keras.layers.BatchNormalization: momentum 0.99 (0.01 in PyTorch's
    # convention), epsilon 1e-3, the biased batch variance in the moving average.
    assert cfg.bn_momentum == 0.01 and math.isclose(1 - cfg.bn_momentum, 0.99)
    assert cfg.bn_eps == 1e-3 and cfg.unbiased_running_var is False
    # keras.optimizers.Adam: learning_rate 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-7;
    # RMSprop: rho 0.9 (and epsilon 1e-7); Model.fit: batch_size 32.
    assert (cfg.optimizer, cfg.lr, cfg.adam_beta1, cfg.adam_beta2) == ("adam", 1e-3, 0.9, 0.999)
    assert cfg.opt_eps == 1e-7 and cfg.rmsprop_rho == 0.9 and cfg.batch_size == 32
    assert cfg.init == "glorot" and cfg.optimizer_formulas == "keras"
    opt = make_optimizer(cfg)
    assert isinstance(opt, KerasAdam) and opt.eps == 1e-7
    for kind, cls in (("rmsprop", KerasRMSProp), ("momentum", KerasMomentum)):
        assert type(make_optimizer(cfg.replace(optimizer=kind))) is cls


def test_pytorch_preset_uses_pytorch_defaults():
    cfg = preset("PyTorch defaults")
    # torch.nn.BatchNorm1d: momentum 0.1, eps 1e-5, unbiased running variance;
    # torch.optim.RMSprop: alpha 0.99, eps 1e-8; Adam: betas (0.9, 0.999), eps 1e-8.
    assert cfg.bn_momentum == 0.1 and cfg.bn_eps == 1e-5 and cfg.unbiased_running_var is True
    assert cfg.rmsprop_rho == 0.99 and cfg.opt_eps == 1e-8
    assert (cfg.adam_beta1, cfg.adam_beta2) == (0.9, 0.999)
    assert cfg.optimizer_formulas == RunConfig().optimizer_formulas == "pytorch"
    for kind, cls in (("adam", Adam), ("rmsprop", RMSProp), ("momentum", Momentum)):
        assert type(make_optimizer(cfg.replace(optimizer=kind))) is cls
    # bnviz's own default decay is Keras's (and Hinton's) 0.9.
    assert RunConfig().rmsprop_rho == 0.9


# ------------------------------------------------- Keras's update rules
def keras_adam(w, grads, lr, b1, b2, eps):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        w = w - m * alpha / (np.sqrt(v) + eps)
        yield w


def keras_rmsprop(w, grads, lr, rho, eps):
    s = np.zeros_like(w)
    for g in grads:
        s = rho * s + (1 - rho) * g * g
        w = w - lr * g / np.sqrt(s + eps)
        yield w


def keras_sgd_momentum(w, grads, lr, mu):
    v = np.zeros_like(w)
    for g in grads:
        v = mu * v - lr * g
        w = w + v
        yield w


def gradients(scale, steps=50, seed=0):
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(6) for _ in range(steps)]


def ours(opt, w, grads, change=None):
    w = w.copy()
    for t, g in enumerate(grads, start=1):
        if change is not None:
            change(opt, t)
        opt.update([w], [g.copy()])
        yield w.copy()


def test_keras_adam_is_ours_with_eps_scaled_by_the_bias_correction():
    """Keras's Adam adds eps to the uncorrected sqrt(v) with a corrected
    learning rate: it is PyTorch's with eps / sqrt(1 - beta2^t), so its eps
    acts larger early on (31.6 times at the first step)."""
    w0, grads, eps = np.ones(6), gradients(1e-6), 1e-7
    keras = list(keras_adam(w0, grads, 1e-3, 0.9, 0.999, eps))

    def scaled(opt, t):
        opt.eps = eps / math.sqrt(1 - 0.999 ** t)

    matched = list(ours(Adam(1e-3, 0.9, 0.999, eps), w0, grads, scaled))
    for k, m in zip(keras, matched):
        np.testing.assert_allclose(k, m, rtol=1e-12, atol=0)
    # With the same eps, ours steps further at first when gradients are small.
    plain = list(ours(Adam(1e-3, 0.9, 0.999, eps), w0, grads))
    first_ours, first_keras = abs(plain[0] - w0).mean(), abs(keras[0] - w0).mean()
    assert first_ours > 5 * first_keras, (first_ours, first_keras)
    assert 1 / math.sqrt(1 - 0.999) == pytest.approx(31.62, abs=0.01)


def test_keras_rmsprop_puts_eps_inside_the_square_root():
    w0, grads, eps = np.ones(6), gradients(1e-4), 1e-7
    keras = list(keras_rmsprop(w0, grads, 1e-3, 0.9, eps))
    # Ours with eps' = 0 and Keras's with eps = 0 agree...
    np.testing.assert_allclose(list(ours(RMSProp(1e-3, 0.9, 1e-300), w0, grads)),
                               list(keras_rmsprop(w0, grads, 1e-3, 0.9, 0.0)), rtol=1e-12)
    # ...but with the same eps they differ: sqrt(s + eps) is far larger than
    # sqrt(s) + eps when s is about eps or smaller (here s ~ 1e-8).
    plain = list(ours(RMSProp(1e-3, 0.9, eps), w0, grads))
    assert abs(plain[0] - w0).mean() > 2 * abs(keras[0] - w0).mean()


def test_keras_momentum_is_ours_at_a_constant_rate():
    w0, grads = np.ones(6), gradients(1.0)
    keras = list(keras_sgd_momentum(w0, grads, 0.05, 0.9))
    np.testing.assert_allclose(list(ours(Momentum(0.05, 0.9), w0, grads)), keras, rtol=1e-12)


# ----------------------------------------------- the Keras formulas option
@pytest.mark.parametrize("scale", [1e-6, 1.0])
def test_keras_formulas_follow_keras_update_rules(scale):
    w0, grads = np.ones(6), gradients(scale)
    np.testing.assert_allclose(list(ours(KerasAdam(1e-3, 0.9, 0.999, 1e-7), w0, grads)),
                               list(keras_adam(w0, grads, 1e-3, 0.9, 0.999, 1e-7)), rtol=1e-13)
    np.testing.assert_allclose(list(ours(KerasRMSProp(1e-3, 0.9, 1e-7), w0, grads)),
                               list(keras_rmsprop(w0, grads, 1e-3, 0.9, 1e-7)), rtol=1e-13)
    np.testing.assert_allclose(list(ours(KerasMomentum(0.05, 0.9), w0, grads)),
                               list(keras_sgd_momentum(w0, grads, 0.05, 0.9)), rtol=1e-13)


def test_keras_momentum_differs_once_the_rate_changes():
    """Keras's velocity holds past steps (lr already applied), PyTorch's past
    gradients: after a change of lr they part."""
    w0, grads = np.ones(6), gradients(1.0, steps=20)

    def halve(opt, t):
        opt.lr = 0.05 if t <= 10 else 0.025

    torch_form = list(ours(Momentum(0.05, 0.9), w0, grads, halve))
    keras_form = list(ours(KerasMomentum(0.05, 0.9), w0, grads, halve))
    np.testing.assert_allclose(torch_form[9], keras_form[9], rtol=1e-12)
    assert np.abs(torch_form[-1] - keras_form[-1]).max() > 1e-3


def test_keras_preset_trains_with_keras_formulas():
    tr = Trainer(preset("Keras defaults").replace(hidden=(32,)))
    first = tr.train_batch()
    tr.advance(150)
    assert isinstance(tr.optimizer, KerasAdam) and tr.optimizer.t == 151
    assert tr.last_loss < 0.5 * first
