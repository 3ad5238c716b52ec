"""Downsampling long series for live plots, by step, as NumPy on plain arrays.

A plot's buckets are a power of two of steps wide and aligned to step 1, as
the history's own buckets (see ``bnviz.engine.store``), so a growing series
keeps its old buckets (they neither shimmer from frame to frame nor need
redrawing, see series.Series), and a bucket drawn from merged rows equals
the one drawn from every step: the mean of the steps, their min and max.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPainterPath


def finite_or_nan(a) -> np.ndarray:
    """A float copy of ``a`` with Inf turned into NaN, which curves skip."""
    out = np.array(a, dtype=np.float64, copy=True)
    out[~np.isfinite(out)] = np.nan
    return out


def log10_steps(x) -> np.ndarray:
    """log10 of steps for a log step axis, as float64; step 0 (and any
    non-finite result) becomes NaN, which curves skip."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(np.asarray(x, dtype=np.float64))
    out[~np.isfinite(out)] = np.nan
    return out


def finite_bounds(*arrays) -> tuple[float, float] | None:
    """(min, max) over the finite values of all ``arrays``, or None."""
    lo, hi = math.inf, -math.inf
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        if a.size == 0:
            continue
        a_lo, a_hi = float(a.min()), float(a.max())   # NaN or Inf if any is
        if not (math.isfinite(a_lo) and math.isfinite(a_hi)):
            a = a[np.isfinite(a)]
            if a.size == 0:
                continue
            a_lo, a_hi = float(a.min()), float(a.max())
        lo, hi = min(lo, a_lo), max(hi, a_hi)
    return (lo, hi) if lo <= hi else None


def pow2_at_least(v: float) -> int:
    """The smallest power of two >= v (1 for v <= 1)."""
    return 1 if v <= 1 else 1 << math.ceil(math.log2(v) - 1e-12)


def block_length(n: int, blocks: int) -> int:
    """The smallest power of two k with ceil(n / k) <= ``blocks`` (a count of
    things, e.g. the units' rows of the gamma panel's background lines)."""
    if n <= blocks:
        return 1
    return pow2_at_least(n / max(blocks, 1))


def bucket_width(x, blocks: int, first=None) -> int:
    """The width in steps of a plot's buckets for steps ``x``: the smallest
    power of two that puts the whole span in at most ``blocks`` buckets and
    holds each row's cover (``first`` to ``x``: merged rows of a history)
    whole. Buckets are aligned to step 1, as the history's own buckets, so
    no row is ever split between two of them."""
    n = len(x)
    if n == 0:
        return 1
    x0 = float(first[0] if first is not None else x[0])
    k = pow2_at_least((float(x[-1]) - x0 + 1) / max(blocks, 1))
    if first is not None:
        k = max(k, pow2_at_least(float(np.max(np.asarray(x) - np.asarray(first))) + 1))
    return k


def bucket_starts(x, k: int) -> np.ndarray:
    """Row indices where each bucket of ``k`` steps begins (x increasing)."""
    ids = (np.asarray(x, dtype=np.int64) - 1) // k
    return np.r_[0, np.flatnonzero(np.diff(ids)) + 1] if len(ids) else np.zeros(0, np.intp)


def reduce_steps(x, y, k: int, first=None, count=None, lo=None, hi=None, mode: str = "mean"
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Rows of a series merged into buckets of ``k`` steps: (xs, ys, los, his)
    as float64, Inf turned into NaN, an all-NaN bucket NaN (a gap).

    ``mode="mean"`` (noisy series): the mean of the bucket's finite values,
    weighted by each row's ``count`` of steps, at the middle of the steps it
    covers; ``los``, ``his``: the envelope, the min and max of ``lo`` and
    ``hi`` (the merged rows' own envelopes; ``y`` where not given).
    ``mode="last"`` (state): the value and step of the bucket's last row,
    and no envelope. ``first``: each row's first step (``x`` where not
    given), ``x`` its last."""
    x = np.asarray(x)
    yv = finite_or_nan(y)
    n = len(x)
    if n == 0:
        e = np.empty(0)
        return e, e, (None if mode == "last" else e), (None if mode == "last" else e)
    starts = bucket_starts(x, k)
    ends = np.r_[starts[1:], n] - 1
    if mode == "last":
        return x[ends].astype(np.float64), yv[ends], None, None
    first = x if first is None else np.asarray(first)
    xs = 0.5 * (first[starts].astype(np.float64) + x[ends].astype(np.float64))
    if len(starts) == n:   # nothing to merge
        los = yv if lo is None else finite_or_nan(lo)
        his = yv if hi is None else finite_or_nan(hi)
        return xs, yv, los, his
    ok = np.isfinite(yv)
    w = np.where(ok, 1.0 if count is None else np.asarray(count, dtype=np.float64), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ys = np.add.reduceat(np.where(ok, yv, 0.0) * w, starts) / np.add.reduceat(w, starts)
        los = np.fmin.reduceat(yv if lo is None else finite_or_nan(lo), starts)
        his = np.fmax.reduceat(yv if hi is None else finite_or_nan(hi), starts)
    return xs, ys, los, his


def downsample(x, y, max_points: int, window: tuple[float, float] | None = None, **merged
               ) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) reduced to at most about ``max_points`` points: ``reduce_steps``
    in buckets of ``bucket_width`` steps, which drawn at ``max_points / 2``
    buckets per plot width look like all of them. ``window`` (x0, x1): only
    the rows inside it and one either side (x increasing). ``merged``: the
    history's ``first``, ``count``, ``lo``, ``hi`` and ``mode``."""
    x, y = np.asarray(x), np.asarray(y)
    merged = dict(merged)
    if window is not None and len(x):
        i0 = max(int(np.searchsorted(x, window[0], "left")) - 1, 0)
        i1 = min(int(np.searchsorted(x, window[1], "right")) + 1, len(x))
        x, y = x[i0:i1], y[i0:i1]
        merged = {k: (v[i0:i1] if isinstance(v, np.ndarray) else v) for k, v in merged.items()}
    mode = merged.pop("mode", "mean")
    k = bucket_width(x, max(1, max_points // 2), merged.get("first"))
    xs, ys, _, _ = reduce_steps(x, y, k, mode=mode, **merged)
    return xs, ys


def reduce_band(x, lo, hi, k: int, first=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A band (``lo`` to ``hi``, e.g. percentiles or an envelope) merged into
    buckets of ``k`` steps, as ``reduce_steps`` places them: each bucket's
    middle, the min of ``lo`` and the max of ``hi`` (so a fill never hides
    an excursion); buckets without finite edges are left out."""
    xs, _, blo, bhi = reduce_steps(x, lo, k, first=first, lo=lo, hi=hi)
    ok = np.isfinite(blo) & np.isfinite(bhi)
    return xs[ok], blo[ok], bhi[ok]


def trailing_mean(y, n: int, steps=None, count=None) -> np.ndarray:
    """At each row, the mean over the last ``n`` steps up to it (fewer at the
    start): by step, so a history's merged rows (``steps`` their last step,
    ``count`` how many they merge, their values means) weigh what they hold;
    without ``steps``, over the last ``n`` rows. Rows whose value is not
    finite stay NaN; they are left out of their neighbours' means."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0:
        return y
    ok = np.isfinite(y)
    w = np.where(ok, 1.0 if count is None else np.asarray(count, dtype=np.float64), 0.0)
    c = np.cumsum(np.concatenate(([0.0], np.where(ok, y, 0.0) * w)))
    cw = np.cumsum(np.concatenate(([0.0], w)))
    idx = np.arange(1, len(y) + 1)
    if steps is None:
        lo = np.maximum(idx - n, 0)
    else:   # the first row whose last step is inside the window (the row itself at least)
        steps = np.asarray(steps)
        lo = np.minimum(np.searchsorted(steps, steps - n, "right"), idx - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (c[idx] - c[lo]) / (cw[idx] - cw[lo])
    out[~ok] = np.nan
    return out


def band_path(x, lo, hi) -> QPainterPath:
    """The closed polygon around a band: ``hi`` forward, ``lo`` back."""
    if len(x) == 0:
        return QPainterPath()
    path = pg.arrayToQPath(np.r_[x, x[::-1]], np.r_[hi, lo[::-1]], connect="all")
    path.closeSubpath()
    return path
