"""plotkit: what bnviz's live plots add to pyqtgraph, and why each part stays.

Each part was measured against its stock pyqtgraph counterpart with
``benchmarks/bench_plotkit.py`` (every panel, real frames of the Fig. 1
network, offscreen, 700x450): all panels' milliseconds per frame with the
part swapped for stock, as a multiple of plotkit's, after 3,000 and 30,000
steps of history. All parts swapped at once: 10.5x and 11.9x.

- ``downsampling``: series bucketed by step, a power of two of steps wide,
  aligned as the history's own merged rows, so a plot of merged rows is the
  plot of every step (mean, min and max per bucket). About truth, not
  speed: pyqtgraph's downsampling picks samples by index.
- ``series``: ``LiveCurve``, a curve Qt paints without calling Python,
  against PlotDataItem with ``setDownsampling(auto=True)`` and
  ``setClipToView(True)``: 1.90x, 1.62x; ``Series`` and ``BandSeries``,
  which settle all but the newest part of a long series into the backdrop,
  against keeping it all live: 1.61x, 1.87x.
- ``backdrop``: ``Backdrop``, background, grid and settled series as one
  cached opaque pixmap, against the axes' own grid (``showGrid``): 1.52x,
  1.64x.
- ``ranges``: ``StickyRange``, an axis that moves only when the data needs
  it, against pyqtgraph's autorange: 1.16x, 1.43x.

Removed after measuring: an AxisItem that painted nothing when no label was
exposed (1.05x over four rounds, within this machine's noise, once ticks
were drawn outside the view), with the two internals it touched.

pyqtgraph internals touched (``tests/ui/test_plotkit_internals.py`` fails,
naming the one that changed, when a pyqtgraph release changes any of them;
``pyproject.toml`` pins pyqtgraph below its next minor release):

1. ``AxisItem.tickValues(minVal, maxVal, size)``: [(spacing, values)], coarse
   levels first (the backdrop's grid lines).
2. ``pyqtgraph.graphicsItems.PlotCurveItem.arrayToLineSegments`` and its
   result's ``drawargs()`` (thick settled lines, as PlotCurveItem draws them).
3. ``pyqtgraph.functions.create_qpolygonf`` / ``ndarray_from_qpolygonf``
   (settled markers as one polygon).
4. ``ViewBox.state["autoRange"]`` and ``ViewBox.childTransform()``
   (StickyRange, the backdrop's mapping).
5. ``PlotItem.autoBtn``, ``_exportOpts``, ``mouseHovering``, ``buttonsHidden``
   and ``updateButtons`` (StickyRange replaces it, to show the "A" button only
   while an axis does not follow).
6. What PlotItem, ViewBox and LegendItem read of a data item, which
   ``LiveCurve`` provides: ``implements("plotData")``, ``name()``,
   ``opts`` (pen, name, symbol, ...), ``dataBounds(ax, frac, orthoRange)``,
   ``pixelPadding()``; a curve's parent is the ViewBox's child group.
7. ``PlotItem.layout`` (a grid layout: the legend goes in row 4) and
   ``PlotItem.legend``, ``PlotItem.titleLabel`` (the panels' base).
"""
from . import downsampling, series
from .backdrop import GRID_ALPHA, Backdrop, Mark, backdrop
from .ranges import StickyRange, sticky_range
from .series import BandSeries, LiveCurve, Series, history_rows

__all__ = ["GRID_ALPHA", "Backdrop", "Mark", "backdrop", "StickyRange",
           "sticky_range", "BandSeries", "LiveCurve", "Series", "history_rows", "downsampling",
           "series"]
