"""The probe: a fixed set of held-out examples behind Fig. 1 (b, c).

The paper plots one sigmoid's input distribution over training. Taken over
each step's training mini-batch, that distribution also moves with which
examples were drawn; over the same held-out examples at every step it
moves only with the weights. So at the start of a run a probe of at most
``PROBE_SIZE`` test examples is fixed, chosen from the config alone (a
session need not store it), and every percentile summary also runs the
network on it, without changing anything in the model.

A BN network can be run on the probe three ways (``RunConfig.probe_statistics``):
"batch", the probe as one batch normalised by its own statistics (the
training-mode network, as the paper does); "running", inference mode with
the running statistics; "population", with population statistics of the
training set. Batch Renorm's and noisy BN's probe in "batch" mode is
normalised as their test batches are, by BN's formula: the correction r, d
and the noise belong to a training step, which the probe is not (it changes
nothing in the model).
"""
from __future__ import annotations

import numpy as np

from .layers import column_ones
from .records import layer_percentiles
from .stats import walk

PROBE_SIZE = 512


def probe_rows(n_test: int, seed: int, size: int = PROBE_SIZE) -> np.ndarray:
    """Rows of the test set in the probe: all of them when there are at most
    ``size``, else ``size`` of them drawn without replacement by a generator
    keyed by (seed, 4), in increasing order."""
    if n_test <= size:
        return np.arange(n_test)
    return np.sort(np.random.default_rng([seed, 4]).choice(n_test, size, replace=False))


def probe_stats(model, mode: str, population=None) -> list | None:
    """Per hidden layer the (mean, var) a BN layer normalises the probe with
    in ``mode``; None for "batch" (the probe's own statistics). ``population``:
    per-layer population statistics, needed for "population"."""
    if mode == "batch":
        return None
    if mode == "running":
        return [None if L.bn is None else (L.bn.running_mean, L.bn.running_var) for L in model.layers]
    if mode == "population":
        if population is None and model.batchnorms():
            raise ValueError("probe statistics 'population' need the population statistics")
        return population if population is not None else [None] * len(model.layers)
    raise ValueError(f"unknown probe statistics {mode!r}")


def probe_percentiles(model, x: np.ndarray, stats=None) -> list[tuple[np.ndarray, ...]]:
    """Per hidden layer, ``records.layer_percentiles`` of pre = z and act_in
    over the probe x (N, n_in), each BN layer normalising with ``stats[i]``
    = (mean, var), or with the probe's own mean and biased variance where
    ``stats`` is None: ``act_in = gamma * (z - mean) / sqrt(var + eps) + beta``
    with BN before the activation. Nothing in the model changes."""
    affines = [None] * len(model.layers)

    def normalize(i, bn, v):
        if stats is None:   # column sums as one product with ones, as BatchNorm does
            ones, inv_n = column_ones(v.shape[0], v.dtype), 1.0 / v.shape[0]
            mean = (ones @ v) * inv_n
            centered = v - mean
            var = (ones @ (centered * centered)) * inv_n
        else:
            mean, var = stats[i]
            centered = v - mean
        scale = bn.gamma / np.sqrt(var + bn.eps)
        affines[i] = (mean, scale, bn.beta)
        centered *= scale
        centered += bn.beta
        return centered

    pres: list[np.ndarray] = []
    _, outs = walk(model, x, normalize, pres, head=False)
    out = []
    for layer, z, bn_out, affine in zip(model.layers, pres, outs, affines):
        if layer.norm is not None and layer.placement == "before":
            # affine is None for LayerNorm and GroupNorm: bn_out measured directly
            out.append(layer_percentiles(z, bn_out, affine))
        else:   # no normalization, or one after the activation: z enters the activation
            out.append(layer_percentiles(z, z))
    return out
