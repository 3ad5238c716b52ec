"""Swap parts of bnviz's plotting layer for stock pyqtgraph, to measure what
each part still earns (benchmarks/bench_plotkit.py runs bench_panels.py
with each swap in a process of its own).

Parts (``use_stock``):

- ``grid``: the axes' own grid (``PlotItem.showGrid``) instead of the
  backdrop's opaque cached grid;
- ``autorange``: pyqtgraph's autorange instead of ``StickyRange``;
- ``settling``: long series stay whole in their live curve (nothing is
  settled into the backdrop's pixmap);
- ``curves``: ``pg.PlotDataItem`` with ``setDownsampling(auto=True,
  method="peak")`` and ``setClipToView(True)`` instead of ``LiveCurve``
  (bnviz still buckets by step first: that is what makes a plot of merged
  history rows true, not a matter of speed).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

PARTS = ("grid", "autorange", "settling", "curves")


class StockCurve(pg.PlotDataItem):
    """A PlotDataItem that speaks what panels ask of a LiveCurve."""

    def __init__(self, pen, name=None, stepMode=None, fillLevel=None, brush=None, connect="finite"):
        kwargs = {"pen": pen, "name": name, "connect": connect}
        if stepMode is not None:
            kwargs.update(stepMode=stepMode, fillLevel=fillLevel, fillBrush=brush)
        super().__init__(**kwargs)
        self.setDownsampling(auto=True, method="peak")
        self.setClipToView(True)
        self.series = None
        self.y_bounds = None
        self.markers = None

    def setData(self, *args, **kwargs):
        if len(args) == 2:
            x, y = (np.asarray(a, dtype=np.float64) for a in args)
            ok = y[np.isfinite(y)]
            self.y_bounds = (float(ok.min()), float(ok.max())) if ok.size else None
        super().setData(*args, **kwargs)

    def on_visible_changed(self, method) -> None:
        self.visibleChanged.connect(method)

    def set_markers(self, symbol, size=4, brush=None) -> None:
        self.setSymbol(symbol)
        if symbol is not None:
            self.setSymbolSize(size)
            self.setSymbolBrush(brush)
            self.setSymbolPen(None)

    def setLogMode(self, x, y):
        pass   # bnviz hands curves their data in view coordinates, logs taken

    def pen(self):
        return pg.mkPen(self.opts["pen"])


def use_stock(parts) -> None:
    """Apply the swaps named in ``parts`` (before any panel is made)."""
    from bnviz.ui import plotkit
    from bnviz.ui.panels import base, gamma_beta
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s) {sorted(unknown)}; choose from {', '.join(PARTS)}")
    if "grid" in parts:
        plotkit.Backdrop._draw_lines = lambda self, painter: None
        made = base.backdrop

        def backdrop_and_grid(plot, grid_on_top=False):
            plot.getPlotItem().showGrid(x=True, y=True, alpha=plotkit.GRID_ALPHA)
            return made(plot, grid_on_top=grid_on_top)
        base.backdrop = backdrop_and_grid
    if "autorange" in parts:
        init = plotkit.StickyRange.__init__

        def autorange_init(self, plot, *args, **kwargs):
            init(self, plot, *args, **kwargs)
            plot.getPlotItem().getViewBox().enableAutoRange()

        def autorange_update(self, x=None, y=None):
            return False   # pyqtgraph refits the view itself when the data changes
        plotkit.StickyRange.__init__ = autorange_init
        plotkit.StickyRange.update = autorange_update
    if "settling" in parts:
        from bnviz.ui.panels import training_curves
        # training_curves reads it (for its markers) through base.
        plotkit.series.MIN_SETTLE_ROWS = base.MIN_SETTLE_ROWS = training_curves.MIN_SETTLE_ROWS = 1 << 62
    if "curves" in parts:
        base.LiveCurve = gamma_beta.LiveCurve = StockCurve
