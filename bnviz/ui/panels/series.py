"""Long, growing series drawn cheaply: ``Series``, ``BandSeries``, ``LiveCurve``.

A series is downsampled to about two points per pixel (``downsample``);
all but its newest blocks are painted once, chunk by chunk, into the
plot's Backdrop, so a frame draws and repaints only a short live tail,
a ``LiveCurve`` that Qt paints without calling Python.
"""
from __future__ import annotations

import weakref

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from .backdrop import Mark, backdrop
from .downsampling import (band_path, block_length, downsample, finite_bounds, finite_or_nan,
                           reduce_band, reduce_blocks)

SETTLE_BLOCKS = 16      # blocks of a series moved into the backdrop at a time
MIN_SETTLE_ROWS = 256   # shorter series stay live entirely (cheap enough)


class LiveCurve(QGraphicsPathItem):
    """A curve that Qt paints by itself: a QGraphicsPathItem, so painting it
    runs no Python (a PlotCurveItem runs its paint and boundingRect in
    Python, a tenth of a millisecond or more per frame each), and setData
    costs a sixth of a PlotDataItem's. It speaks enough of PlotDataItem for
    PlotItem, ViewBox and LegendItem (``opts``, ``name``, ``implements``,
    ``dataBounds``), and has optional markers, a histogram mode
    (``stepMode="center"``: len(x) == len(y) + 1, filled down to
    ``fillLevel`` with ``brush``) and ``getOriginalDataset``, which gives
    all of its ``Series`` as drawn. Data in view coordinates (no log mode)."""

    def __init__(self, pen, name: str | None = None, stepMode: str | None = None,
                 fillLevel: float | None = None, brush=None, connect: str = "finite"):
        super().__init__()
        pen = pg.mkPen(pen)
        self.setPen(pen)
        self.opts = {"pen": pen, "name": name, "stepMode": stepMode, "fillLevel": fillLevel,
                     "fillBrush": None, "connect": connect, "symbol": None, "antialias": False}
        self.xData = self.yData = np.empty(0)
        self._rect = QRectF()
        self._series = None       # weak reference to the Series drawing through it, if any
        self._listeners = []      # weak methods called when it is shown or hidden
        self.markers = None       # a ScatterPlotItem child, once markers were asked for
        self.y_bounds = None      # (min, max) of the finite y, or None
        self._pixel_key, self._pixel = None, (0.0, 0.0)
        self._fill = None
        if fillLevel is not None and brush is not None:
            self.opts["fillBrush"] = brush = pg.mkBrush(brush)
            self._fill = QGraphicsPathItem()
            self._fill.setParentItem(self)   # owned by Qt (see Backdrop)
            self._fill.setPen(QPen(Qt.PenStyle.NoPen))
            self._fill.setBrush(brush)
            self._fill.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent)

    # ------------------------------------------------- PlotDataItem-like
    def implements(self, interface=None):
        return ["plotData"] if interface is None else interface == "plotData"

    def name(self):
        return self.opts.get("name")

    def getData(self):
        return self.xData, self.yData

    def getOriginalDataset(self):
        """All of its series as drawn (settled and live), or its own data."""
        series = self.series
        return self.getData() if series is None else series.data()

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        b = finite_bounds(self.xData if ax == 0 else self.yData)
        return (None, None) if b is None else b

    def pixelPadding(self) -> float:
        return self.pen().widthF() / 2 + 1

    @property
    def series(self):
        return None if self._series is None else self._series()

    @series.setter
    def series(self, series) -> None:
        # Weak: no reference cycle (see StickyRange).
        self._series = None if series is None else weakref.ref(series)

    def on_visible_changed(self, method) -> None:
        """Call bound ``method`` (weakly held) when the curve is shown or hidden."""
        self._listeners.append(weakref.WeakMethod(method))

    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemVisibleHasChanged:
            for ref in self._listeners:
                method = ref()
                if method is not None:
                    method()
        return super().itemChange(change, value)

    # -------------------------------------------------------------- data
    def setData(self, x, y) -> None:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self.xData, self.yData = x, y
        step = self.opts["stepMode"] and len(x) == len(y) + 1 and len(y) > 0
        if step:   # a histogram: x are the bin edges
            base = float(self.opts["fillLevel"] or 0.0)
            x = np.repeat(x, 2)
            y = np.concatenate(([base], np.repeat(y, 2), [base]))
        if len(x) < 2 or len(y) != len(x):
            path = QPainterPath()
        elif self.pen().widthF() > 1:
            # Separate segments: Qt strokes a thick polyline with joins four
            # times slower (about 2 ms per thousand points here).
            path = pg.arrayToQPath(np.repeat(x, 2)[1:-1], np.repeat(y, 2)[1:-1], connect="pairs")
        else:
            path = pg.arrayToQPath(x, y, connect="all" if step else self.opts["connect"])
        bx, by = finite_bounds(x), finite_bounds(y)
        self.y_bounds = by
        self.prepareGeometryChange()
        if bx is None or by is None:
            self._rect = QRectF()
        else:
            # Padded by the pen's half width (cosmetic: in pixels) and a pixel.
            pad_x, pad_y = self._pixel_size()
            pad = self.pixelPadding()
            self._rect = QRectF(bx[0] - pad * pad_x, by[0] - pad * pad_y,
                                bx[1] - bx[0] + 2 * pad * pad_x, by[1] - by[0] + 2 * pad * pad_y)
        self.setPath(path)
        if self._fill is not None:
            fill = pg.arrayToQPath(x, y, connect="all") if len(x) > 2 else QPainterPath()
            fill.closeSubpath()
            self._fill.setPath(fill)
        if self.markers is not None and self.opts.get("symbol") is not None:
            self._update_markers()

    def boundingRect(self) -> QRectF:
        return self._rect

    def shape(self) -> QPainterPath:
        # Qt's would stroke the path with the pen's width in data units.
        path = QPainterPath()
        path.addRect(self._rect)
        return path

    def _pixel_size(self) -> tuple[float, float]:
        """Data units per pixel, from the ViewBox holding the curve: its
        range over its size (cached while both stay the same)."""
        vb = self.parentItem()
        vb = vb.parentItem() if vb is not None else None   # ViewBox <- its childGroup
        if vb is None or not hasattr(vb, "viewRange"):
            return 0.0, 0.0
        (x0, x1), (y0, y1) = vb.viewRange()
        size = vb.size()
        key = (x0, x1, y0, y1, size.width(), size.height())
        if key != self._pixel_key:
            w, h = size.width(), size.height()
            self._pixel_key = key
            self._pixel = (abs(x1 - x0) / w, abs(y1 - y0) / h) if w > 0 and h > 0 else (0.0, 0.0)
        return self._pixel

    # ----------------------------------------------------------- markers
    def set_markers(self, symbol: str | None, size: float = 4, brush=None) -> None:
        """Draw ``symbol`` at each point (None: no markers); the legend
        sample shows it too."""
        if symbol is None:
            if self.markers is not None:
                self.markers.setVisible(False)
            self.opts["symbol"] = None
            return
        if self.markers is None:
            self.markers = pg.ScatterPlotItem()
            self.markers.setParentItem(self)   # owned by Qt (see Backdrop)
        self.markers.setData(symbol=symbol, size=size, brush=brush, pen=None)
        self.markers.setVisible(True)
        self.opts.update(symbol=symbol, size=size, brush=brush)   # for the legend sample
        self._update_markers()

    def _update_markers(self) -> None:
        x, y = self.xData, self.yData
        ok = np.isfinite(x) & np.isfinite(y) if len(x) == len(y) else np.zeros(0, bool)
        self.markers.setData(x=x[ok], y=y[ok])


class _Settling:
    """Which rows of a growing series are settled into the backdrop: rows
    [0, end), a multiple of the chunk, advanced chunk by chunk and reset
    when anything else changed (block length, run, selection, thinning)."""

    def __init__(self):
        self.key = None
        self.end = 0
        self.end_x = None

    def plan(self, x, max_points: int, window, key) -> tuple[int, int, int]:
        """(block length, rows settled before, rows to settle now); before
        is -1 when the settled part must be redrawn from scratch."""
        n = len(x)
        k = block_length(n, max(1, max_points // 2))
        chunk = k * SETTLE_BLOCKS
        end = ((n - 1) // chunk) * chunk if window is None and n > MIN_SETTLE_ROWS else 0
        key = (k, float(x[0]) if n else None, key)
        same = (key == self.key and self.end <= end
                and (self.end == 0 or float(x[self.end - 1]) == self.end_x))
        before = self.end if same else -1
        self.key, self.end = key, end
        self.end_x = float(x[end - 1]) if end else None
        return k, before, end


def _join(*arrays) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])


class Series:
    """A long, growing series (x increasing) drawn by a ``LiveCurve`` and the
    plot's Backdrop: ``set_data`` downsamples it, settles all but its newest
    blocks into the backdrop, chunk by chunk, and gives the curve only the
    rest, so a frame draws and repaints only a short tail. On a log y axis
    it plots log10(y)."""

    def __init__(self, plot: pg.PlotWidget, item: LiveCurve):
        self.item = item
        item.series = self
        self._axis = plot.getPlotItem().getAxis("left")
        self.backdrop = backdrop(plot)
        self.backdrop.add_owner(self, item)
        item.on_visible_changed(self.backdrop.invalidate)
        self._settling = _Settling()
        self._settled: list[tuple[np.ndarray, np.ndarray]] = []
        self._settled_bounds = None
        self._live = (np.empty(0), np.empty(0))

    def set_data(self, x, y, max_points: int, window=None, key=None) -> None:
        """Show (x, y) at about ``max_points`` points (``downsample``), only
        rows inside ``window`` if given (then nothing is settled). ``key``:
        anything else that changes what is shown (e.g. the chosen unit)."""
        x, y = np.asarray(x), np.asarray(y)
        log = bool(self._axis.logMode)
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.log10(y)
        n = len(x)
        k, before, end = self._settling.plan(x, max_points, window, (key, log))
        if end == 0:
            self._set_settled([])
        elif before <= 0:
            self._set_settled([reduce_blocks(x[:end], y[:end], k)])
        elif before < end:
            cx, cy = reduce_blocks(x[before:end], y[before:end], k)
            lx, ly = self._settled[-1][0][-1:], self._settled[-1][1][-1:]
            self._settled.append((cx, cy))
            self._settled_bounds = finite_bounds(cy, *filter(None, [self._settled_bounds]))
            # Starting from the last settled point, so the line is unbroken.
            self.backdrop.add_marks(self, [self._mark(_join(lx, cx), _join(ly, cy))])
        if end == 0:
            self._live = downsample(x, y, max_points, window)
        else:
            sx, sy = self._settled[-1]
            if n > end:
                lx, ly = reduce_blocks(x[end:], y[end:], k)
                self._live = (_join(sx[-1:], lx, x[-1:]), _join(sy[-1:], ly, finite_or_nan(y[-1:])))
            else:
                self._live = (sx[-1:], sy[-1:])
        self.item.setData(*self._live)

    def clear(self) -> None:
        self._settling = _Settling()
        self._set_settled([])
        self._live = (np.empty(0), np.empty(0))
        self.item.setData([], [])

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """All points drawn, settled and live, in order."""
        if not self._settled:
            return self._live
        return (_join(*(x for x, _ in self._settled), self._live[0][1:]),
                _join(*(y for _, y in self._settled), self._live[1][1:]))

    def bounds(self) -> tuple[float, float] | None:
        """(min, max) of the finite y drawn (log10 on a log axis), or None."""
        return finite_bounds(*filter(None, [self.item.y_bounds, self._settled_bounds]))

    # ---------------------------------------------------------- internal
    def _set_settled(self, parts) -> None:
        if not parts and not self._settled:
            return
        self._settled = list(parts)
        self._settled_bounds = finite_bounds(*(y for _, y in self._settled))
        self.backdrop.set_marks(self, [self._mark(x, y) for x, y in self._settled])

    def _mark(self, x, y) -> Mark:
        return Mark(x, y, pen=pg.mkPen(self.item.opts["pen"]))


class BandSeries:
    """The filled band between two growing series ``lo`` and ``hi`` (e.g.
    percentiles), as ``Series`` does a curve: settled polygons in the
    backdrop, the newest part in ``item``, a QGraphicsPathItem whose brush
    and visibility it takes."""

    def __init__(self, plot: pg.PlotWidget, item):
        self.item = item
        self.backdrop = backdrop(plot)
        self.backdrop.add_owner(self, item)
        self._settling = _Settling()
        self._last = None   # the last settled (x, lo, hi), where the live part starts

    def set_data(self, x, lo, hi, max_points: int, window=None, key=None) -> None:
        x = np.asarray(x)
        lo, hi = np.asarray(lo), np.asarray(hi)
        if window is not None and len(x):
            i0, i1 = np.searchsorted(x, window)
            rows = slice(max(int(i0) - 1, 0), int(i1) + 1)
            x, lo, hi = x[rows], lo[rows], hi[rows]
        n = len(x)
        # Half the points of a curve: a fill's outline has two edges.
        k, before, end = self._settling.plan(x, max_points // 2, window, key)
        if end == 0:
            if self._last is not None:
                self.backdrop.set_marks(self, [])
            self._last = None
        elif before < end:
            start = max(before, 0)
            bx, blo, bhi = reduce_band(x[start:end], lo[start:end], hi[start:end], k)
            if before > 0 and self._last is not None:   # joined to the settled part
                bx, blo, bhi = (_join(self._last[0], bx), _join(self._last[1], blo),
                                _join(self._last[2], bhi))
            mark = Mark(path=band_path(bx, blo, bhi), brush=self.item.brush())
            if before < 0:
                self.backdrop.set_marks(self, [mark])
            else:
                self.backdrop.add_marks(self, [mark])
            if len(bx):
                self._last = (bx[-1:], blo[-1:], bhi[-1:])
        bx, blo, bhi = reduce_band(x[end:], lo[end:], hi[end:], k)
        if n and k > 1 and np.isfinite(lo[-1]) and np.isfinite(hi[-1]):   # up to the newest row
            bx, blo, bhi = _join(bx, x[-1:]), _join(blo, lo[-1:]), _join(bhi, hi[-1:])
        if end and self._last is not None:
            bx, blo, bhi = (_join(self._last[0], bx), _join(self._last[1], blo),
                            _join(self._last[2], bhi))
        self.item.setPath(band_path(bx, blo, bhi))

    def clear(self) -> None:
        self._settling = _Settling()
        self._last = None
        self.backdrop.set_marks(self, [])
        self.item.setPath(QPainterPath())
