"""Downsampling long series for live plots, as NumPy on plain arrays.

The blocks have a power-of-two length and are aligned to the first row, so
a growing series keeps its old blocks: they neither shimmer from frame to
frame nor need redrawing (see series.Series).
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


def block_length(n: int, blocks: int) -> int:
    """The smallest power of two k with ceil(n / k) <= ``blocks``."""
    if n <= blocks:
        return 1
    return 1 << max(0, math.ceil(math.log2(n / max(blocks, 1))))


def reduce_blocks(x, y, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Of each block of ``k`` rows, its lowest and its highest point in their
    order (k = 1: every row), as float64 with Inf turned into NaN; an all-NaN
    block gives NaN (a gap). A noisy series keeps its envelope, a smooth one
    stays smooth."""
    x = np.asarray(x)
    n = len(x)
    if k <= 1 or n == 0:
        return np.array(x, dtype=np.float64), finite_or_nan(y)
    nb = -(-n // k)
    blocks = np.full(nb * k, np.nan)
    blocks[:n] = y
    blocks = blocks.reshape(nb, k)
    bad = ~np.isfinite(blocks)
    lowest = np.where(bad, np.inf, blocks).argmin(axis=1)
    highest = np.where(bad, -np.inf, blocks).argmax(axis=1)
    base = np.arange(nb) * k
    idx = np.empty(2 * nb, dtype=np.intp)
    idx[0::2] = base + np.minimum(lowest, highest)
    idx[1::2] = base + np.maximum(lowest, highest)
    xs = x[idx].astype(np.float64)
    ys = finite_or_nan(np.asarray(y)[idx])
    ys[np.repeat(bad.all(axis=1), 2)] = np.nan
    return xs, ys


def downsample(x, y, max_points: int, window: tuple[float, float] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) reduced to at most about ``max_points`` points (``reduce_blocks``
    with blocks of ``block_length``, then the newest point), which drawn at
    ``max_points / 2`` blocks per plot width look like all of them.
    ``window`` (x0, x1): only the rows inside it and one either side
    (x increasing)."""
    x, y = np.asarray(x), np.asarray(y)
    if window is not None and len(x):
        i0 = max(int(np.searchsorted(x, window[0], "left")) - 1, 0)
        i1 = min(int(np.searchsorted(x, window[1], "right")) + 1, len(x))
        i0 -= i0 % block_length(i1 - i0, max(1, max_points // 2))
        x, y = x[i0:i1], y[i0:i1]
    k = block_length(len(x), max(1, max_points // 2))
    xs, ys = reduce_blocks(x, y, k)
    if k > 1:
        xs, ys = np.r_[xs, float(x[-1])], np.r_[ys, finite_or_nan(y[-1:])]
    return xs, ys


def reduce_band(x, lo, hi, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each block of ``k`` rows as its first x, the min of ``lo`` and the max
    of ``hi`` (so a fill never hides an excursion); blocks or rows without
    finite edges are left out."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = finite_or_nan(lo), finite_or_nan(hi)
    if k > 1 and len(x):
        starts = np.arange(0, len(x), k)
        with np.errstate(invalid="ignore"):
            x, lo, hi = x[starts], np.fmin.reduceat(lo, starts), np.fmax.reduceat(hi, starts)
    ok = np.isfinite(lo) & np.isfinite(hi)
    return x[ok], lo[ok], hi[ok]


def band_path(x, lo, hi) -> QPainterPath:
    """The closed polygon around a band: ``hi`` forward, ``lo`` back."""
    if len(x) == 0:
        return QPainterPath()
    path = pg.arrayToQPath(np.r_[x, x[::-1]], np.r_[hi, lo[::-1]], connect="all")
    path.closeSubpath()
    return path
