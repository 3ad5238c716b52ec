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
         head: bool = True, upto: int | None = None) -> tuple[np.ndarray | None, list]:
    """Inference-mode forward of x (N, n_in) in which every BN layer's output
    is ``normalize(i, bn, bn_in)`` for layer i (its input (N, D); a
    convolution block's as rows (N*H*W, C), see ``cnn``): the one walk
    behind every way of evaluating below. Writes nothing in the model.
    Returns (logits (N, K), per layer the normalization's output or None);
    each layer's linear output z is appended to ``pres`` if given. With
    ``head=False`` the walk stops after the last layer's normalization
    (``upto``: after layer ``upto``'s), and the logits are None."""
    a = x
    bn_outs = []
    last = len(model.layers) - 1 if upto is None else upto
    for i, layer in enumerate(model.layers):
        stop = (not head or upto is not None) and i == last
        a, out = layer.infer(a, lambda norm, v, i=i: normalize(i, norm, v), pres, stop_after_norm=stop)
        bn_outs.append(out)
        if stop:
            return None, bn_outs   # the last activation only feeds the head
    return model.head.forward(a, training=False), bn_outs


def walk_logits(model, x: np.ndarray, normalize) -> np.ndarray:
    """``walk``'s logits alone, where ``normalize`` uses given statistics
    (each example on its own): then a network that asks for it
    (``infer_batch``: large images) is walked in parts."""
    return model.in_parts(x, lambda part: walk(model, part, normalize)[0])


def population_statistics(model, x_train: np.ndarray) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Per layer, (mean, var) of what its BN normalises over the whole
    training set with the current weights, each layer normalised by the
    population statistics of the layers below; None where a layer has no BN.
    Sums are taken in float64. A network walked in parts (``infer_batch``)
    is measured layer by layer, each part's moments merged exactly."""
    step = model.infer_batch
    if step is None or len(x_train) <= step:
        return _population_at_once(model, x_train)
    stats = [None] * len(model.layers)
    for target, layer in enumerate(model.layers):
        if layer.bn is None:
            continue
        total, mean, m2 = 0, 0.0, 0.0
        for s in range(0, len(x_train), step):
            seen = []

            def measure(i, bn, v):
                if i == target:
                    seen.append(v.astype(np.float64))
                    return v
                return normalize_with(bn, v, *stats[i])
            walk(model, x_train[s:s + step], measure, head=False, upto=target)
            part = seen[0]
            n, part_mean = part.shape[0], part.mean(axis=0)
            part_m2 = ((part - part_mean) ** 2).sum(axis=0)
            delta = part_mean - mean   # Chan et al.'s merge of two sets' moments
            mean = mean + delta * (n / (total + n))
            m2 = m2 + part_m2 + delta ** 2 * (total * n / (total + n))
            total += n
        stats[target] = (mean.astype(layer.bn.dtype), (m2 / total).astype(layer.bn.dtype))
    return stats


def _population_at_once(model, x_train):
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
    return walk_logits(model, x, lambda i, bn, v: normalize_with(bn, v, *stats[i]))


def train_mode_normalize(bn, x: np.ndarray, single: bool = False, examples: int | None = None) -> np.ndarray:
    """Training-mode BN of x (N, D) without touching the layer:
    ``gamma * (x - mu) / sqrt(var + eps) + beta`` with the batch's mean and
    biased variance, or, with ``single``, every example as a batch of its
    own. A dense layer's example is one row: ``mu = x``, ``var = 0``, so
    ``x_hat = 0`` and the output is exactly beta. A convolution block's rows
    (N*H*W, C) hold ``examples`` examples' pixels in turn: each example's
    channel is normalised over its own pixels (BatchNorm2d on a batch of
    one), which does not collapse."""
    if single and examples is not None and x.shape[0] != examples:
        g = x.reshape(examples, -1, x.shape[1])
        mu = g.mean(axis=1, keepdims=True)
        var = ((g - mu) ** 2).mean(axis=1, keepdims=True)
        x_hat = ((g - mu) / np.sqrt(var + bn.eps)).reshape(x.shape)
        return bn.gamma * x_hat + bn.beta
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
    n = x.shape[0]
    return walk(model, x, lambda i, bn, v: train_mode_normalize(bn, v, single, n))


def single_example_logits(model, x: np.ndarray) -> np.ndarray:
    """Logits (N, K) of each row of x (N, n_in) fed alone in training mode.
    A batch of one is its own mean with variance 0, so every dense BN layer
    outputs ``beta`` whatever came in; computed for all rows at once (a
    network of large images, ``infer_batch``, in parts)."""
    return model.in_parts(x, lambda part: train_mode_forward(model, part, single=True)[0])


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
        acc_single = accuracy(single_example_logits(model, x_test), y_test)
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
