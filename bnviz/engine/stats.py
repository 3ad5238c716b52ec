"""Test-time statistics: the three ways a BN network can be evaluated.

1. Running statistics (what every framework does in eval mode).
2. Population statistics ("precise BN", Wu & Johnson 2021): freeze the
   weights and compute each BN layer's exact mean and (biased) variance
   over the whole training set, layer by layer, each layer seeing inputs
   normalised by the population statistics of the layers below it.
3. Batch statistics: normalise test mini-batches by their own mean and
   variance, as in training.
4. A single example in training mode: its own mean is itself and its
   variance 0, so every BN layer outputs beta and all examples get the
   same prediction.
"""
from __future__ import annotations

import numpy as np

from .losses import accuracy, softmax_cross_entropy
from .records import Evaluation, frozen_copy


def walk(model, x: np.ndarray, normalize, pres: list | None = None,
         head: bool = True) -> tuple[np.ndarray | None, list]:
    """Inference-mode forward of x (N, n_in) in which every BN layer's output
    is ``normalize(i, bn, bn_in)`` for hidden layer i: the one walk behind
    every way of evaluating below. Writes nothing in the model. Returns
    (logits (N, K), per layer the BN output (N, D) or None); each layer's
    ``z = W a_prev (+ b)`` (N, D) is appended to ``pres`` if given. With
    ``head=False`` the walk stops after the last hidden layer's BN, and the
    logits are None."""
    a = x
    bn_outs = []
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        z = layer.linear.forward(a, training=False)  # training=False: no cache written
        if pres is not None:
            pres.append(z)
        bn = layer.norm
        # LayerNorm and GroupNorm use each example's own statistics whatever
        # the mode: they are applied as they are, never given statistics.
        apply = normalize if layer.bn is not None else (
            lambda _, norm, v: norm.forward(v, training=False))
        if not head and i == last and (bn is None or layer.placement == "before"):
            bn_outs.append(None if bn is None else apply(i, bn, z))
            return None, bn_outs   # the last activation only feeds the head
        if bn is None:
            a, out = layer.act.forward(z, training=False), None
        elif layer.placement == "before":
            out = apply(i, bn, z)
            a = layer.act.forward(out, training=False)
        else:
            a = out = apply(i, bn, layer.act.forward(z, training=False))
        bn_outs.append(out)
    return (model.head.forward(a, training=False) if head else None), bn_outs


def population_statistics(model, x_train: np.ndarray) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per hidden layer, (mean, var) of what its BN normalises over the whole
    training set with the current weights, each layer normalised by the
    population statistics of the layers below; None where a layer has no BN.
    Sums are taken in float64."""
    stats = [None] * len(model.layers)

    def measure(i, bn, bn_in):
        x64 = bn_in.astype(np.float64)
        mean = x64.mean(axis=0)
        var = ((x64 - mean) ** 2).mean(axis=0)
        stats[i] = (mean.astype(bn.dtype), var.astype(bn.dtype))
        return normalize_with(bn, bn_in, *stats[i])
    walk(model, x_train, measure)
    return stats


def normalize_with(bn, x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``gamma * (x - mean) / sqrt(var + eps) + beta`` with given statistics."""
    scale = bn.gamma / np.sqrt(var + bn.eps)
    return x * scale + (bn.beta - mean * scale)


def forward_with_stats(model, x: np.ndarray, stats) -> np.ndarray:
    """Inference forward with the given per-layer (mean, var) in place of the
    running statistics. x: (N, n_in) -> logits (N, K)."""
    return walk(model, x, lambda i, bn, v: normalize_with(bn, v, *stats[i]))[0]


def train_mode_normalize(bn, x: np.ndarray, single: bool = False) -> np.ndarray:
    """Training-mode BN of x (N, D) without touching the layer:
    ``gamma * (x - mu) / sqrt(var + eps) + beta`` with the batch's mean and
    biased variance, or, with ``single``, every row as a batch of its own:
    ``mu = x``, ``var = 0``, so ``x_hat = 0`` and the output is exactly beta."""
    if single:
        mu, var = x, np.zeros_like(x)
    else:
        mu = x.mean(axis=0)
        var = ((x - mu) ** 2).mean(axis=0)
    x_hat = (x - mu) / np.sqrt(var + bn.eps)  # subtract first: x - x is exactly 0
    return bn.gamma * x_hat + bn.beta


def train_mode_forward(model, x: np.ndarray, single: bool = False) -> tuple[np.ndarray, list]:
    """Training-mode forward of x (N, n_in) as one batch (or, with
    ``single``, as N batches of one), with no cache, statistic or record of
    the model changed. Returns (logits (N, K), per layer the BN output
    (N, D) or None)."""
    return walk(model, x, lambda i, bn, v: train_mode_normalize(bn, v, single))


def batch_stat_logits(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Logits of x in consecutive mini-batches of ``batch_size``, each
    normalised by its own statistics; a last batch of 1 joins the one before
    (BN cannot normalise a single example). Nothing in the model changes."""
    n = x.shape[0]
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < 2:
        del bounds[-2]
    parts = [train_mode_forward(model, x[s:e])[0] for s, e in zip(bounds[:-1], bounds[1:])]
    return np.concatenate(parts)


def ema_gaps(model, population) -> tuple[tuple[float | None, ...], tuple[float | None, ...]]:
    """The lag of the running statistics behind the population ones, per
    hidden layer (None without BN), each a mean over the layer's units:
    mean gap ``mean_j |running_mean_j - pop_mean_j| / sqrt(pop_var_j + eps)``
    (in units of the population's standard deviation) and variance gap
    ``mean_j |running_var_j - pop_var_j| / (pop_var_j + eps)`` (relative).
    The running variance is compared as stored, so with
    ``unbiased_running_var`` it includes the factor m/(m-1)."""
    g_mean, g_var = [], []
    for layer, st in zip(model.layers, population):
        if layer.bn is None or st is None:
            g_mean.append(None)
            g_var.append(None)
            continue
        bn = layer.bn
        pm, pv = (np.asarray(a, np.float64) for a in st)
        rm, rv = (np.asarray(a, np.float64) for a in (bn.running_mean, bn.running_var))
        g_mean.append(float(np.mean(np.abs(rm - pm) / np.sqrt(pv + bn.eps))))
        g_var.append(float(np.mean(np.abs(rv - pv) / (pv + bn.eps))))
    return tuple(g_mean), tuple(g_var)


def evaluate_model(model, x_train, x_test, y_test, batch_size: int, step: int,
                   population=None, population_step: int | None = None) -> Evaluation:
    """Every test-time figure at one step. ``batch_size`` is the k of the
    test mini-batches; ``population`` reuses per-layer (mean, var) computed
    at ``population_step`` (None: compute them now, exactly)."""
    logits = model.forward(x_test, training=False)
    loss, _, _ = softmax_cross_entropy(logits, y_test)
    acc = accuracy(logits, y_test)
    if model.batchnorms():
        if population is None:
            population, population_step = population_statistics(model, x_train), step
        pop = population
        acc_pop = accuracy(forward_with_stats(model, x_test, pop), y_test)
        acc_batch = accuracy(batch_stat_logits(model, x_test, min(batch_size, len(y_test))), y_test) \
            if len(y_test) >= 2 else float("nan")
        acc_single = accuracy(train_mode_forward(model, x_test, single=True)[0], y_test)
        gap_mean, gap_var = ema_gaps(model, pop)
    else:
        # Without BN the four modes are the same computation.
        pop = [None] * len(model.layers)
        acc_pop = acc_batch = acc_single = acc
        gap_mean = gap_var = (None,) * len(model.layers)
        population_step = step
    means = tuple(frozen_copy(s[0]) if s else None for s in pop)
    vars_ = tuple(frozen_copy(s[1]) if s else None for s in pop)
    return Evaluation(step=step, test_loss=loss, test_accuracy=acc, test_accuracy_population=acc_pop,
                      test_accuracy_batch=acc_batch, population_mean=means, population_var=vars_,
                      test_accuracy_single=acc_single, ema_gap_mean=gap_mean, ema_gap_var=gap_var,
                      population_step=int(population_step), eval_batch_size=int(batch_size))
