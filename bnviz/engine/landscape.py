"""Why batch norm helps, measured as Santurkar et al. 2018 measure it
("How Does Batch Normalization Help Optimization?", arXiv 1805.11604).

Internal covariate shift (their section 2.1): for layer i at a step, G is
the gradient of the loss with respect to layer i's weights before the
update, and G' the same gradient, on the same batch, once the layers below
i have taken this step's update; ``||G - G'||`` and ``cos(G, G')`` say how
much the layers below moved the ground under layer i.

The landscape along the gradient (their Fig. 4): from the weights x of a
step, move along the gradient g by step sizes eta and record the loss
L(x - eta g), how far the gradient there is from g, ``||grad L(x - eta g)
- g||``, and the effective beta-smoothness, the largest ``||grad L(x -
eta g) - g|| / ||eta g||`` (a local Lipschitz constant of the gradient).
The top Hessian eigenvalue, by power iteration on Hessian-vector products
taken as central differences of gradients, is the same curvature from
another side.

Every measurement runs on copies of the model: the run itself, its
running statistics and its noise generators are never touched, and every
gradient is taken from the same copy of the model as it was before the
step (noisy BN then draws the same noise each time, Batch Renorm the same
r and d).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from .losses import softmax_cross_entropy

# Step sizes along the gradient, in multiples of the learning rate: from
# half to four times the step plain SGD would take.
STEP_MULTIPLES = (0.5, 1.0, 2.0, 4.0)


class Scratch:
    """One copy of a model, set back before every evaluation to the model
    as it was (its parameters, or others given, and what a training forward
    changes and reads again: running statistics and batch counts, which
    Batch Renorm's r and d use, and noisy BN's generators), so that each
    gradient is taken from the same state at the cost of one copy."""

    def __init__(self, model):
        self.model = copy.deepcopy(model)
        self._named = self.model.named_parameters()
        self.take(model)

    def take(self, model) -> "Scratch":
        """Be ``model`` as it is now (a model of the same structure): what a
        trainer's meters do at each measured step, without another copy."""
        self._params = [p.copy() for _, p, _ in model.named_parameters()]
        self._norms = [(mine, n.running_mean.copy(), n.running_var.copy(), n.num_batches_tracked)
                       for mine, n in zip(self.model.batchnorms(), model.batchnorms())]
        noisy = [n for n in model.norms() if n.kind == "noisy"]
        self._noise = [(mine, copy.deepcopy(n.rng.bit_generator.state)) for mine, n in
                       zip([n for n in self.model.norms() if n.kind == "noisy"], noisy)]
        return self

    def names(self) -> list[str]:
        return [n for n, _, _ in self._named]

    def parameters(self) -> list[np.ndarray]:
        """The parameters as they were, in float64."""
        return [p.astype(np.float64) for p in self._params]

    def _forward(self, x, y, values):
        for (_, p, _), v in zip(self._named, values if values is not None else self._params):
            p[...] = v
        for norm, mean, var, count in self._norms:
            norm.running_mean[...] = mean
            norm.running_var[...] = var
            norm.num_batches_tracked = count
        for norm, state in self._noise:
            norm.rng.bit_generator.state = state
        logits = self.model.forward(x, training=True)
        return softmax_cross_entropy(logits, y)[:2]

    def loss_and_gradient(self, x: np.ndarray, y: np.ndarray, values=None):
        """(loss, gradients in float64) of the training-mode network on the
        batch (x, y) at ``values`` (``named_parameters`` order; None: as it was)."""
        with np.errstate(all="ignore"):
            loss, dlogits = self._forward(x, y, values)
            self.model.backward(dlogits)
        return float(loss), [g.astype(np.float64) for _, _, g in self._named]

    def weight_gradient(self, x: np.ndarray, y: np.ndarray, values, layer: int) -> np.ndarray:
        """Only layer ``layer``'s weight gradient (the head's: the number of
        layers), in float64: the backward pass stops there."""
        m = self.model
        with np.errstate(all="ignore"):
            _, dlogits = self._forward(x, y, values)
            if layer == len(m.layers):
                m.head.backward(dlogits, need_dx=False)
                return m.head.dW.astype(np.float64)
            da = m.head.backward(dlogits)
            for j in range(len(m.layers) - 1, layer - 1, -1):
                da = m.layers[j].backward(da, need_dx=j > layer)
        return m.layers[layer].linear.dW.astype(np.float64)


def _scratch(model) -> Scratch:
    return model if isinstance(model, Scratch) else Scratch(model)


def loss_and_gradient(snapshot, x: np.ndarray, y: np.ndarray, values=None):
    """(loss, gradients) of the training-mode network ``snapshot`` (a model,
    not changed, or a Scratch) on the batch (x, y), its parameters first set
    to ``values`` (in ``named_parameters`` order) if given."""
    return _scratch(snapshot).loss_and_gradient(x, y, values)


def _norm(arrays) -> float:
    return math.sqrt(sum(float(np.vdot(a, a)) for a in arrays))


@dataclass(frozen=True)
class CovariateShift:
    """Per layer (the network's layers, then the head), ||G - G'|| and
    cos(G, G') of its weights' gradient; None for the first layer, which
    has no layers below it."""

    step: int
    distance: tuple[float | None, ...]
    cosine: tuple[float | None, ...]


def covariate_shift(snapshot, update, x: np.ndarray, y: np.ndarray, step: int = 0,
                    base=None) -> CovariateShift:
    """Santurkar's ICS at one step: ``snapshot`` is the model before the
    step (or its Scratch), ``update`` each parameter's change in the step
    (after - before, in ``named_parameters`` order), (x, y) the step's
    batch; ``base``: the gradients there, if already taken."""
    scratch = _scratch(snapshot)
    names, before = scratch.names(), scratch.parameters()
    prefixes = list(scratch.model.layer_names()) + ["head"]
    if base is None:
        _, base = scratch.loss_and_gradient(x, y)
    distance, cosine = [None], [None]
    for i, prefix in enumerate(prefixes[1:], start=1):
        below = set(prefixes[:i])
        moved = [b + np.asarray(u, np.float64) if n.split(".")[0] in below else b
                 for n, b, u in zip(names, before, update)]
        g = base[names.index(f"{prefix}.W")]
        g2 = scratch.weight_gradient(x, y, moved, i)
        distance.append(float(np.linalg.norm(g - g2)))
        norms = float(np.linalg.norm(g)) * float(np.linalg.norm(g2))
        cosine.append(float(np.vdot(g, g2)) / norms if norms > 0 else float("nan"))
    return CovariateShift(int(step), tuple(distance), tuple(cosine))


@dataclass(frozen=True)
class Landscape:
    """The loss and gradient along the gradient direction at one step."""

    step: int
    step_sizes: tuple[float, ...]     # eta
    losses: tuple[float, ...]         # L(x - eta g)
    gradient_changes: tuple[float, ...]   # ||grad L(x - eta g) - g||
    loss: float                       # L(x)
    gradient_norm: float              # ||g||

    @property
    def loss_range(self) -> float:
        """max - min of the loss over the step sizes."""
        return max(self.losses) - min(self.losses)

    @property
    def gradient_change_range(self) -> float:
        return max(self.gradient_changes) - min(self.gradient_changes)

    @property
    def smoothness(self) -> float:
        """Effective beta-smoothness: max ||grad L(x - eta g) - g|| / ||eta g||."""
        if self.gradient_norm == 0:
            return float("nan")
        return max(c / (eta * self.gradient_norm) for c, eta in zip(self.gradient_changes, self.step_sizes))


def along_gradient(loss_and_grad, x0, step_sizes, step: int = 0, start=None) -> Landscape:
    """The landscape from the point ``x0`` (a list of arrays) along minus
    its gradient: ``loss_and_grad(values) -> (loss, gradients)``;
    ``start``: (loss, gradients) at x0, if already taken."""
    loss, g = start if start is not None else loss_and_grad(x0)
    losses, changes = [], []
    for eta in step_sizes:
        moved = [a - eta * d for a, d in zip(x0, g)]
        loss_eta, g_eta = loss_and_grad(moved)
        losses.append(float(loss_eta))
        changes.append(_norm([a - b for a, b in zip(g_eta, g)]))
    return Landscape(int(step), tuple(float(e) for e in step_sizes), tuple(losses), tuple(changes),
                     float(loss), _norm(g))


def landscape(snapshot, x: np.ndarray, y: np.ndarray, lr: float, step: int = 0,
              multiples=STEP_MULTIPLES, start=None) -> Landscape:
    """``along_gradient`` for a model's (or Scratch's) loss on the batch
    (x, y), the step sizes ``multiples`` times the learning rate ``lr``."""
    scratch = _scratch(snapshot)
    return along_gradient(lambda values: scratch.loss_and_gradient(x, y, values), scratch.parameters(),
                          [m * lr for m in multiples], step, start)


def top_hessian_eigenvalue(loss_and_grad, x0, iterations: int = 30, eps: float = 1e-4,
                           seed: int = 0) -> float:
    """The Hessian's eigenvalue of largest magnitude at ``x0``, by power
    iteration on Hessian-vector products ``H v ~ (grad(x0 + eps v) -
    grad(x0 - eps v)) / (2 eps)`` (v of unit norm); the Rayleigh quotient
    of the last iterate."""
    rng = np.random.default_rng(seed)
    v = [rng.standard_normal(a.shape) for a in x0]
    n = _norm(v)
    v = [a / n for a in v]
    value = 0.0
    for _ in range(iterations):
        _, plus = loss_and_grad([a + eps * b for a, b in zip(x0, v)])
        _, minus = loss_and_grad([a - eps * b for a, b in zip(x0, v)])
        hv = [(p - m) / (2 * eps) for p, m in zip(plus, minus)]
        value = sum(float(np.vdot(a, b)) for a, b in zip(v, hv))
        n = _norm(hv)
        if n == 0:
            return 0.0
        v = [a / n for a in hv]
    return value


def measure(before: Scratch, after, x: np.ndarray, y: np.ndarray, lr: float,
            step: int) -> tuple[CovariateShift, Landscape]:
    """One step measured (the trainer's meters): ``before`` the model before
    it, ``after`` its parameters after it (``named_parameters`` order),
    (x, y) its batch, ``lr`` its learning rate. The covariate shift its
    update causes, and the landscape along the batch's gradient."""
    update = [np.asarray(p, np.float64) - b for p, b in zip(after, before.parameters())]
    start = before.loss_and_gradient(x, y)   # shared by both measures
    return (covariate_shift(before, update, x, y, step, base=start[1]),
            landscape(before, x, y, lr, step, start=start))
