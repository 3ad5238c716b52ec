"""Test-time statistics: the three ways a BN network can be evaluated.

1. Running statistics (what every framework does in eval mode).
2. Population statistics ("precise BN", Wu & Johnson 2021): freeze the
   weights and compute each BN layer's exact mean and (biased) variance
   over the whole training set, layer by layer, each layer seeing inputs
   normalised by the population statistics of the layers below it.
3. Batch statistics: normalise test mini-batches by their own mean and
   variance, as in training.
"""
from __future__ import annotations

import numpy as np

from .losses import softmax_cross_entropy
from .records import Evaluation, frozen_copy


def population_statistics(model, x_train: np.ndarray) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per hidden layer, (mean, var) of what its BN normalises over the whole
    training set with the current weights; None where a layer has no BN.
    Sums are taken in float64."""
    stats = []
    a = x_train
    for layer in model.layers:
        z = layer.linear.forward(a, training=False)
        bn = layer.bn
        if bn is None:
            stats.append(None)
            a = layer.act.forward(z, training=False)
            continue
        bn_in = z if layer.placement == "before" else layer.act.forward(z, training=False)
        x64 = bn_in.astype(np.float64)
        mean = x64.mean(axis=0)
        var = ((x64 - mean) ** 2).mean(axis=0)
        stats.append((mean.astype(bn.dtype), var.astype(bn.dtype)))
        y = normalize_with(bn, bn_in, mean.astype(bn.dtype), var.astype(bn.dtype))
        a = layer.act.forward(y, training=False) if layer.placement == "before" else y
    return stats


def normalize_with(bn, x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``gamma * (x - mean) / sqrt(var + eps) + beta`` with given statistics."""
    scale = bn.gamma / np.sqrt(var + bn.eps)
    return x * scale + (bn.beta - mean * scale)


def forward_with_stats(model, x: np.ndarray, stats) -> np.ndarray:
    """Inference forward with the given per-layer (mean, var) in place of the
    running statistics. x: (N, n_in) -> logits (N, K)."""
    a = x
    for layer, st in zip(model.layers, stats):
        z = layer.linear.forward(a, training=False)
        if layer.bn is None:
            a = layer.act.forward(z, training=False)
        elif layer.placement == "before":
            a = layer.act.forward(normalize_with(layer.bn, z, *st), training=False)
        else:
            a = normalize_with(layer.bn, layer.act.forward(z, training=False), *st)
    return model.head.forward(a, training=False)


def batch_stat_logits(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Logits of x in consecutive mini-batches of ``batch_size``, each
    normalised by its own statistics; a last batch of 1 joins the one before
    (BN cannot normalise a single example). Running statistics untouched."""
    n = x.shape[0]
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < 2:
        del bounds[-2]
    parts = [model.forward(x[s:e], training=True, update_stats=False)
             for s, e in zip(bounds[:-1], bounds[1:])]
    return np.concatenate(parts)


def _accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(logits.argmax(axis=1) == y))


def evaluate_model(model, x_train, x_test, y_test, batch_size: int, step: int) -> Evaluation:
    logits = model.forward(x_test, training=False)
    loss, _, _ = softmax_cross_entropy(logits, y_test)
    acc = _accuracy(logits, y_test)
    if model.batchnorms():
        pop = population_statistics(model, x_train)
        acc_pop = _accuracy(forward_with_stats(model, x_test, pop), y_test)
        acc_batch = _accuracy(batch_stat_logits(model, x_test, min(batch_size, len(y_test))), y_test) \
            if len(y_test) >= 2 else float("nan")
    else:
        # Without BN the three modes are the same computation.
        pop = [None] * len(model.layers)
        acc_pop = acc_batch = acc
    means = tuple(frozen_copy(s[0]) if s else None for s in pop)
    vars_ = tuple(frozen_copy(s[1]) if s else None for s in pop)
    return Evaluation(step=step, test_loss=loss, test_accuracy=acc, test_accuracy_population=acc_pop,
                      test_accuracy_batch=acc_batch, population_mean=means, population_var=vars_)
