"""A small learning-rate sweep: which rate suits each optimizer on a config.

Every (optimizer, rate) pair is trained from ``base`` in lockstep (one
``Comparison``: the same initial weights and, for the mini-batch methods,
the same mini-batches), and each optimizer gets the rate with the lowest
mean mini-batch loss over the first ``steps`` steps: the area under its
loss curve, which is small only for a rate that is both fast early and
stable later. A run whose loss is NaN or Inf counts as infinitely bad.

The optimizers lesson's rates are the result of
``sweep_learning_rates(lessons.OPTIMIZER_BASE, OPTIMIZERS)``; the lesson
tests rerun it.
"""
from __future__ import annotations

import numpy as np

from .compare import Comparison
from .config import RunConfig

# Powers of ten: the usual first sweep.
SWEEP_RATES = (1e-3, 1e-2, 0.1, 1.0, 10.0)
SWEEP_STEPS = 200


def sweep_losses(base: RunConfig, optimizers, rates=SWEEP_RATES,
                 steps: int = SWEEP_STEPS) -> dict[str, np.ndarray]:
    """{optimizer: (len(rates), steps) mini-batch losses}, every run in lockstep."""
    optimizers, rates = tuple(optimizers), tuple(rates)
    configs = [base.replace(optimizer=opt, lr=float(lr)) for opt in optimizers for lr in rates]
    cmp = Comparison.of(configs, summary_every=10**9)
    losses = np.empty((len(configs), steps))
    for s in range(steps):
        cmp.advance(1, summarize_last=False)
        losses[:, s] = [t.last_loss for t in cmp.runs]
    n = len(rates)
    return {opt: losses[i * n:(i + 1) * n] for i, opt in enumerate(optimizers)}


def best_rates(losses: dict[str, np.ndarray], rates=SWEEP_RATES) -> dict[str, float]:
    """{optimizer: the rate whose runs had the lowest mean loss}."""
    out = {}
    for opt, rows in losses.items():
        score = np.where(np.isfinite(rows).all(axis=1), rows.mean(axis=1), np.inf)
        out[opt] = float(rates[int(np.argmin(score))])
    return out


def sweep_learning_rates(base: RunConfig, optimizers, rates=SWEEP_RATES,
                         steps: int = SWEEP_STEPS) -> dict[str, float]:
    """{optimizer: its best rate among ``rates``} for ``base`` (see the module docstring)."""
    return best_rates(sweep_losses(base, optimizers, rates, steps), rates)
