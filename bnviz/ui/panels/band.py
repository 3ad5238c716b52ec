"""Band: a 15th/50th/85th percentile band drawn on a plot (thin outer
curves, a thick median and a translucent fill between them), and the
choice of the values a band is taken over (its source)."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QGraphicsPathItem

from bnviz.engine.probe import PROBE_SIZE

from .base import BandSeries, Series, add_curve

# Whose values the percentiles are taken over; the probe first (the default).
SOURCES = (("probe", "over probe"), ("batch", "over batch"))   # short: the band titles say more
SOURCE_TIP = ("Whose values the percentiles are taken over: a fixed probe of held-out test "
              "examples, the same at every step, so the band moves only as the weights change; "
              "or each step's training mini-batch, whose band also moves with which examples "
              "were drawn")
PROBE_STATISTICS = {"batch": "normalised by its own batch statistics",
                    "running": "with running statistics", "population": "with population statistics"}


def source_combo() -> QComboBox:
    """A combo box choosing the band source (``currentData()``: "probe" or "batch")."""
    combo = QComboBox()
    for key, name in SOURCES:
        combo.addItem(name, key)
    combo.setToolTip(SOURCE_TIP)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return combo


def pct_key(quantity: str, per_unit: bool, source: str) -> str:
    """The summary series of ``quantity`` ("pre", "act_in") from ``source``:
    ``act_in_unit_probe_pct``, ``pre_pct``, ..."""
    return f"{quantity}{'_unit' if per_unit else ''}{'_probe' if source == 'probe' else ''}_pct"


def source_text(config, source: str, n_test: int = 0) -> str:
    """What a band from ``source`` is taken over, for a title: "the probe of
    360 test examples, normalised by its own batch statistics", or "each
    step's training mini-batch"."""
    if source == "batch":
        return "each step's training mini-batch"
    text = f"the probe of {min(n_test, PROBE_SIZE)} test examples" if n_test else "the probe of test examples"
    if config.has_running_stats():
        text += ", " + PROBE_STATISTICS[config.probe_statistics]
    return text


class Band:
    """One percentile band on ``plot``; ``set_data(steps, pct)`` with pct of
    shape (n, 3) holding the 15th, 50th and 85th percentiles per step."""

    def __init__(self, plot: pg.PlotWidget, name: str | None, color: str):
        lo = add_curve(plot, None, color, width=0.5)
        self.median = add_curve(plot, name, color, width=2)
        hi = add_curve(plot, None, color, width=0.5)
        fill_color = pg.mkColor(color)
        fill_color.setAlpha(60)
        # A plain path item, not FillBetweenItem: that one rebuilds its
        # polygon from both full curves on each setData.
        self.fill = QGraphicsPathItem()
        self.fill.setBrush(pg.mkBrush(fill_color))
        self.fill.setPen(pg.mkPen(None))
        self.fill.setZValue(-10)
        plot.addItem(self.fill, ignoreBounds=True)
        self.curves = (lo, self.median, hi)
        self.series = tuple(Series(plot, c) for c in self.curves)
        self.fill_series = BandSeries(plot, self.fill)

    def set_data(self, steps, pct, max_points: int, window=None, key=None, first=None,
                 count=None) -> None:
        """``first``, ``count``: the history's cover of each row (merged
        summaries), so the band is downsampled in whole buckets of steps."""
        for q, series in enumerate(self.series):
            series.set_data(steps, pct[:, q], max_points, window, key=key, first=first, count=count)
        # max_points * 2: the fill in the curves' buckets (BandSeries halves it).
        self.fill_series.set_data(steps, pct[:, 0], pct[:, 2], 2 * max_points, window, key=key,
                                  first=first)

    def bounds(self) -> list:
        """(lo, hi) of the outer curves, for fitting the axis."""
        return [s.bounds() or () for s in (self.series[0], self.series[2])]

    def set_visible(self, visible: bool) -> None:
        for item in (*self.curves, self.fill):
            item.setVisible(visible)

    def clear(self) -> None:
        for series in self.series:
            series.clear()
        self.fill_series.clear()
