"""Optimizers with one interface: ``opt.update(params, grads)`` updates the
parameter arrays in place. Hyper-parameters are plain attributes and may be
changed between steps (the GUI changes the learning rate live).

Formulas (g is the gradient, t the 1-based step count):

- GD / SGD: ``w -= lr * g`` (GD is SGD on the whole training set each step)
- momentum (PyTorch's form): ``v = mu * v + g``; ``w -= lr * v``
- RMSProp: ``s = rho * s + (1 - rho) * g^2``; ``w -= lr * g / (sqrt(s) + eps)``
- Adam: ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``;
  ``w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``

These are PyTorch's ``torch.optim`` formulas. Keras's (keras/src/optimizers,
``formulas="keras"``) differ in three places:

- momentum: ``v = mu * v - lr * g``; ``w += v`` (the same while lr is constant)
- RMSprop: ``w -= lr * g / sqrt(s + eps)`` (eps inside the root)
- Adam: ``w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``: eps
  added to the uncorrected sqrt(v), so it acts ``1 / sqrt(1 - b2^t)`` times
  larger early on
"""
from __future__ import annotations

import math

import numpy as np

from .state import StateError, array, count


class Optimizer:
    name = "sgd"
    slots: tuple[str, ...] = ()  # keys of ``state``, filled from the first update on

    def __init__(self, lr: float):
        self.lr = float(lr)
        self.t = 0
        self.state: dict[str, list[np.ndarray]] = {}

    def update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        self.t += 1
        self._update(params, grads)

    def hyperparameters(self) -> dict[str, float]:
        """The float settings (lr, momentum, betas, eps...) by attribute name."""
        return {k: v for k, v in vars(self).items() if isinstance(v, float)}

    def state_dict(self, names: list[str]) -> dict:
        """Step count, settings and slot arrays (``slot/name``, one per
        parameter, named by ``names``)."""
        meta = {"name": self.name, "t": self.t, "hyper": self.hyperparameters(),
                "slots": sorted(self.state)}
        arrays = {f"{slot}/{n}": a for slot, arrs in self.state.items() for n, a in zip(names, arrs)}
        return {"meta": meta, "arrays": arrays}

    def load_state_dict(self, state: dict, params: list[tuple[str, np.ndarray]]) -> None:
        """Take ``state_dict()``'s; the settings must be this optimizer's own
        (they come from the run's config), the slots those of its kind."""
        meta, arrays = state["meta"], state["arrays"]
        if meta.get("name") != self.name:
            raise StateError(f"optimizer {meta.get('name')!r} does not match the config's {self.name!r}")
        t = count(meta, "t")
        hyper = meta.get("hyper")
        if not isinstance(hyper, dict) or hyper != self.hyperparameters():
            raise StateError(f"optimizer settings {hyper!r} differ from the config's "
                             f"{self.hyperparameters()!r}")
        slots = meta.get("slots")
        if slots != (sorted(self.slots) if t else []):
            raise StateError(f"optimizer slots {slots!r} do not fit {self.name!r} at step {t}")
        loaded = {slot: [array(arrays, f"{slot}/{n}", p.shape, p.dtype) for n, p in params]
                  for slot in slots}
        self.t, self.state = t, loaded

    def _slots(self, key: str, params: list[np.ndarray]) -> list[np.ndarray]:
        """Per-parameter state arrays, created as zeros on first use."""
        if key not in self.state:
            self.state[key] = [np.zeros_like(p) for p in params]
        return self.state[key]

    def _update(self, params, grads):
        lr = self.lr
        for p, g in zip(params, grads):
            p -= lr * g


class SGD(Optimizer):
    name = "sgd"


class GD(Optimizer):
    """Full-batch gradient descent: the update of SGD; the trainer feeds it
    the whole training set each step."""

    name = "gd"


class Momentum(Optimizer):
    name = "momentum"
    slots = ("velocity",)

    def __init__(self, lr: float, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = float(momentum)

    def _update(self, params, grads):
        lr, mu = self.lr, self.momentum
        for p, g, v in zip(params, grads, self._slots("velocity", params)):
            v *= mu
            v += g
            p -= lr * v


class RMSProp(Optimizer):
    name = "rmsprop"
    slots = ("square_avg",)

    def __init__(self, lr: float, rho: float = 0.9, eps: float = 1e-8):
        super().__init__(lr)
        self.rho = float(rho)
        self.eps = float(eps)

    def _update(self, params, grads):
        lr, rho, eps = self.lr, self.rho, self.eps
        for p, g, s in zip(params, grads, self._slots("square_avg", params)):
            s *= rho
            s += (1.0 - rho) * g * g
            p -= lr * g / (np.sqrt(s) + eps)


class Adam(Optimizer):
    name = "adam"
    slots = ("m", "v")

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)

    def _update(self, params, grads):
        b1, b2, t = self.beta1, self.beta2, self.t
        # m_hat = m / c1 and sqrt(v_hat) = sqrt(v) / sqrt(c2): the textbook
        # update, with the corrections applied as Python scalars so float32
        # parameters stay float32.
        c1 = 1.0 - b1 ** t
        c2 = 1.0 - b2 ** t
        step = self.lr / c1
        sqrt_c2 = math.sqrt(c2)
        for p, g, m, v in zip(params, grads, self._slots("m", params), self._slots("v", params)):
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * g * g
            p -= step * m / (np.sqrt(v) / sqrt_c2 + self.eps)


class KerasMomentum(Momentum):
    """Keras's SGD with momentum: the velocity holds steps, not gradients."""

    def _update(self, params, grads):
        lr, mu = self.lr, self.momentum
        for p, g, v in zip(params, grads, self._slots("velocity", params)):
            v *= mu
            v -= lr * g
            p += v


class KerasRMSProp(RMSProp):
    """Keras's RMSprop: eps inside the square root."""

    def _update(self, params, grads):
        lr, rho, eps = self.lr, self.rho, self.eps
        for p, g, s in zip(params, grads, self._slots("square_avg", params)):
            s *= rho
            s += (1.0 - rho) * g * g
            p -= lr * g / np.sqrt(s + eps)


class KerasAdam(Adam):
    """Keras's Adam: bias correction in the rate, eps on the uncorrected sqrt(v)."""

    def _update(self, params, grads):
        b1, b2, t = self.beta1, self.beta2, self.t
        alpha = self.lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        for p, g, m, v in zip(params, grads, self._slots("m", params), self._slots("v", params)):
            m += (g - m) * (1.0 - b1)
            v += (g * g - v) * (1.0 - b2)
            p -= alpha * m / (np.sqrt(v) + self.eps)


def make_optimizer(cfg) -> Optimizer:
    """The optimizer a RunConfig names, with its hyper-parameters, in
    PyTorch's formulas or (``cfg.optimizer_formulas == "keras"``) Keras's."""
    kind = cfg.optimizer
    keras = getattr(cfg, "optimizer_formulas", "pytorch") == "keras"
    if kind == "gd":
        return GD(cfg.lr)
    if kind == "sgd":
        return SGD(cfg.lr)
    if kind == "momentum":
        return (KerasMomentum if keras else Momentum)(cfg.lr, cfg.sgd_momentum)
    if kind == "rmsprop":
        return (KerasRMSProp if keras else RMSProp)(cfg.lr, cfg.rmsprop_rho, cfg.opt_eps)
    if kind == "adam":
        return (KerasAdam if keras else Adam)(cfg.lr, cfg.adam_beta1, cfg.adam_beta2, cfg.opt_eps)
    raise ValueError(f"unknown optimizer {kind!r}")


def apply_hyperparameters(opt: Optimizer, cfg) -> None:
    """Change lr and the optimizer's own knobs between steps (live edits)."""
    opt.lr = float(cfg.lr)
    if isinstance(opt, Momentum):
        opt.momentum = float(cfg.sgd_momentum)
    elif isinstance(opt, RMSProp):
        opt.rho, opt.eps = float(cfg.rmsprop_rho), float(cfg.opt_eps)
    elif isinstance(opt, Adam):
        opt.beta1, opt.beta2, opt.eps = float(cfg.adam_beta1), float(cfg.adam_beta2), float(cfg.opt_eps)
