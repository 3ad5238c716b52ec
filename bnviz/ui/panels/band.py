"""Band: a 15th/50th/85th percentile band drawn on a plot (thin outer
curves, a thick median and a translucent fill between them)."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsPathItem

from .base import BandSeries, Series, add_curve


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

    def set_data(self, steps, pct, max_points: int, window=None, key=None) -> None:
        for q, series in enumerate(self.series):
            series.set_data(steps, pct[:, q], max_points, window, key=key)
        self.fill_series.set_data(steps, pct[:, 0], pct[:, 2], max_points, window, key=key)

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
