"""Histogram bins: how many, and where, for every histogram a panel draws."""
from __future__ import annotations

import numpy as np

MIN_BINS, MAX_BINS = 10, 80   # across the data: about sqrt(n) of them
MAX_VIEW_BINS = 4096          # across the whole view, for data that fills little of it


def bin_count(n_values: int) -> int:
    """Bins across the data's range for ``n_values`` values: sqrt(n), 10 to 80."""
    return int(np.clip(np.sqrt(max(n_values, 1)), MIN_BINS, MAX_BINS))


class Bins:
    """Equal bins for one set of values (one histogram, or several drawn on
    shared bins). Given the plot's view, the bins are fixed to it, so they
    stay put while the data's extremes jitter from step to step, and as many
    as give the data ``bin_count`` bins when the view was fitted: a set of
    values that fills only part of the view (x_hat beside a wide z) still
    gets its own resolution."""

    def __init__(self):
        self._fitted = None   # (view, bins across the data) the count below was fitted to
        self._count = 0

    def edges(self, lo: float, hi: float, n_values: int, view=None) -> np.ndarray:
        """Bin edges for values spanning [lo, hi]; ``view``: the axis range
        (lo, hi) the histogram is drawn in, or None for bins across the data."""
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5
        n_bins = bin_count(n_values)
        if view is None or not (view[0] <= lo and hi <= view[1]):
            return np.linspace(lo, hi, n_bins + 1)
        if (view, n_bins) != self._fitted:
            self._fitted = (view, n_bins)
            ratio = (view[1] - view[0]) / (hi - lo)
            self._count = int(np.clip(round(n_bins * ratio), n_bins, MAX_VIEW_BINS))
        return np.linspace(view[0], view[1], self._count + 1)

    def reset(self) -> None:
        self._fitted = None
