"""Long, growing series drawn cheaply: ``Series``, ``BandSeries``, ``LiveCurve``.

A series is downsampled by step to about two points per pixel (``downsample``);
all but its newest blocks are painted once, chunk by chunk, into the
plot's Backdrop, so a frame draws and repaints only a short live tail,
a ``LiveCurve`` that Qt paints without calling Python.
"""
from __future__ import annotations

import weakref

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from ...engine.history import column, series_kind
from .backdrop import Mark, backdrop
from .downsampling import band_path, bucket_width, finite_bounds, log10_steps, reduce_band, reduce_steps

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
    """Which steps of a growing series are settled into the backdrop: those
    up to ``boundary``, a multiple of the chunk (SETTLE_BLOCKS buckets),
    advanced chunk by chunk and reset when anything else changed (bucket
    width, run, selection). Kept in steps, not rows: the history merges
    rows, but a bucket drawn from merged rows is the bucket drawn before."""

    def __init__(self):
        self.key = None
        self.boundary = 0

    def plan(self, x, max_points: int, window, key, first=None) -> tuple[int, int, int]:
        """(bucket width, rows settled before, rows settled now); before is
        -1 when the settled part must be redrawn from scratch."""
        n = len(x)
        k = bucket_width(x, max(1, max_points // 2), first)
        chunk = k * SETTLE_BLOCKS
        settle = window is None and n > MIN_SETTLE_ROWS
        boundary = ((int(x[-1]) - 1) // chunk) * chunk if settle else 0
        key = (k, int((first if first is not None else x)[0]) if n else None, key)
        same = key == self.key and self.boundary <= boundary
        before = int(np.searchsorted(x, self.boundary, "right")) if same and self.boundary else (
            0 if same else -1)
        self.key, self.boundary = key, boundary
        end = int(np.searchsorted(x, boundary, "right")) if boundary else 0
        return k, before, end


def _join(*arrays) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])


def _rows(merged: dict, a, b) -> dict:
    """The history's per-row arrays among ``merged`` (first, count, lo, hi), rows a:b."""
    return {k: (v[a:b] if isinstance(v, np.ndarray) else v) for k, v in merged.items()}


class Series:
    """A long, growing series (x increasing) drawn by a ``LiveCurve`` and the
    plot's Backdrop: ``set_data`` downsamples it by step, settles all but
    its newest buckets into the backdrop, chunk by chunk, and gives the
    curve only the rest, so a frame draws and repaints only a short tail.
    With ``envelope`` it also fills the min/max band of every bucket that
    merges several steps (a light band around the mean line). On a log y
    axis it plots log10(y); on a log x axis, log10 of the step."""

    def __init__(self, plot: pg.PlotWidget, item: LiveCurve, envelope: bool = False):
        self.item = item
        item.series = self
        plot_item = plot.getPlotItem()
        self._axis, self._x_axis = plot_item.getAxis("left"), plot_item.getAxis("bottom")
        self.band = None
        if envelope:   # first, so the backdrop paints the band beneath the line
            fill = QGraphicsPathItem()
            fill.setParentItem(item)   # shown and hidden with the curve; owned by Qt
            fill.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent)
            fill.setPen(QPen(Qt.PenStyle.NoPen))
            fill.setBrush(pg.mkBrush(light(item.opts["pen"].color())))
            self.band = BandSeries(plot, fill)
        self.backdrop = backdrop(plot)
        self.backdrop.add_owner(self, item)
        item.on_visible_changed(self.backdrop.invalidate)
        self._settling = _Settling()
        self._settled: list[tuple[np.ndarray, np.ndarray]] = []
        self._settled_bounds = None
        self._live = (np.empty(0), np.empty(0))

    def set_data(self, x, y, max_points: int, window=None, key=None, *, first=None, count=None,
                 lo=None, hi=None, mode: str = "mean") -> None:
        """Show (x, y) at about ``max_points`` points (``downsample``), only
        rows inside ``window`` if given (then nothing is settled). ``key``:
        anything else that changes what is shown (e.g. the chosen unit).
        ``first``, ``count``, ``lo``, ``hi``: a history's merged rows (their
        first step, step count and envelope); ``mode``: "mean" for a noisy
        series, "last" for state (see ``reduce_steps``)."""
        x, y = np.asarray(x), np.asarray(y)
        log, log_x = bool(self._axis.logMode), bool(self._x_axis.logMode)
        if log_x and window is not None:   # the view's range is in log10 of the step
            window = (10.0 ** window[0], 10.0 ** window[1])
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.log10(y)
                lo = None if lo is None else np.log10(lo)
                hi = None if hi is None else np.log10(hi)
        merged = {k: v for k, v in (("first", first), ("count", count), ("lo", lo), ("hi", hi))
                  if v is not None}
        arrays = {k: np.asarray(v) for k, v in merged.items()}
        if self.band is not None:
            self.band.set_data(x, lo if lo is not None else y, hi if hi is not None else y,
                               2 * max_points, window, key=(key, log), first=first, log_x=log_x)
        n = len(x)
        k, before, end = self._settling.plan(x, max_points, window, (key, log, log_x), first)

        def reduce(a, b):
            xs, ys, _, _ = reduce_steps(x[a:b], y[a:b], k, mode=mode, **_rows(arrays, a, b))
            return (log10_steps(xs) if log_x else xs), ys
        if window is not None and n:
            i0 = max(int(np.searchsorted(x, window[0], "left")) - 1, 0)
            i1 = min(int(np.searchsorted(x, window[1], "right")) + 1, n)
        else:
            i0, i1 = 0, n
        if end == 0:
            self._set_settled([])
        elif before <= 0:
            self._set_settled([reduce(0, end)])
        elif before < end:
            cx, cy = reduce(before, end)
            lx, ly = self._settled[-1][0][-1:], self._settled[-1][1][-1:]
            self._settled.append((cx, cy))
            self._settled_bounds = finite_bounds(cy, *filter(None, [self._settled_bounds]))
            # Starting from the last settled point, so the line is unbroken.
            self.backdrop.add_marks(self, [self._mark(_join(lx, cx), _join(ly, cy))])
        if end == 0:
            self._live = reduce(i0, i1)
        else:
            sx, sy = self._settled[-1]
            lx, ly = reduce(end, n) if n > end else (np.empty(0), np.empty(0))
            self._live = (_join(sx[-1:], lx), _join(sy[-1:], ly))
        self.item.setData(*self._live)

    def clear(self) -> None:
        self._settling = _Settling()
        self._set_settled([])
        self._live = (np.empty(0), np.empty(0))
        self.item.setData([], [])
        if self.band is not None:
            self.band.clear()

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """All points drawn, settled and live, in order."""
        if not self._settled:
            return self._live
        return (_join(*(x for x, _ in self._settled), self._live[0][1:]),
                _join(*(y for _, y in self._settled), self._live[1][1:]))

    def bounds(self) -> tuple[float, float] | None:
        """(min, max) of the finite y drawn (log10 on a log axis), the
        envelope included, or None."""
        own = finite_bounds(*filter(None, [self.item.y_bounds, self._settled_bounds]))
        band = self.band.bounds() if self.band is not None else None
        return finite_bounds(*filter(None, [own, band]))

    # ---------------------------------------------------------- internal
    def _set_settled(self, parts) -> None:
        if not parts and not self._settled:
            return
        self._settled = list(parts)
        self._settled_bounds = finite_bounds(*(y for _, y in self._settled))
        self.backdrop.set_marks(self, [self._mark(x, y) for x, y in self._settled])

    def _mark(self, x, y) -> Mark:
        return Mark(x, y, pen=pg.mkPen(self.item.opts["pen"]))


def history_rows(view, key: str, unit: int | None = None, pick=None) -> dict:
    """The keywords ``Series.set_data`` takes for series ``key`` of a history
    store ``view`` (a StoreView): each row's first step and step count, the
    envelope of a noisy series, and how buckets merge ("mean", or "last" for
    state). ``unit``: the envelope of that unit of a per-unit series;
    ``pick``: applied to the envelope's arrays, as to the values."""
    kind = series_kind(key)
    out = {"first": view["step_first"], "count": view["step_count"],
           "mode": "last" if kind == "last" else "mean"}
    if kind == "mean" and f"{key}.min" in view:
        if unit is None:
            lo, hi = view[f"{key}.min"], view[f"{key}.max"]
        else:
            lo, hi = column(view, f"{key}.min", (unit,)), column(view, f"{key}.max", (unit,))
        out["lo"], out["hi"] = (lo, hi) if pick is None else (pick(lo), pick(hi))
    return out


def light(color, share: float = 0.78) -> QColor:
    """An opaque tint of ``color`` (translucent fills draw ten times slower)."""
    c = QColor(color)
    return QColor(*(round(v + (255 - v) * share) for v in (c.red(), c.green(), c.blue())))


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
        self._bounds = self._live_bounds = None

    def set_data(self, x, lo, hi, max_points: int, window=None, key=None, first=None,
                 log_x: bool = False) -> None:
        """The band from ``lo`` to ``hi`` at about ``max_points / 2`` points
        an edge, by step (``reduce_band``); ``first``: merged rows' first steps."""
        x = np.asarray(x)
        lo, hi = np.asarray(lo), np.asarray(hi)
        first = None if first is None else np.asarray(first)
        if window is not None and len(x):
            i0, i1 = np.searchsorted(x, window)
            rows = slice(max(int(i0) - 1, 0), int(i1) + 1)
            x, lo, hi = x[rows], lo[rows], hi[rows]
            first = None if first is None else first[rows]
        n = len(x)
        # Half the points of a curve: a fill's outline has two edges.
        k, before, end = self._settling.plan(x, max_points // 2, window, (key, log_x), first)

        def reduce(a, b):
            bx, blo, bhi = reduce_band(x[a:b], lo[a:b], hi[a:b], k,
                                       None if first is None else first[a:b])
            return (log10_steps(bx) if log_x else bx), blo, bhi
        if end == 0:
            if self._last is not None:
                self.backdrop.set_marks(self, [])
            self._last = None
            self._bounds = None
        elif before < end:
            start = max(before, 0)
            bx, blo, bhi = reduce(start, end)
            self._bounds = finite_bounds(blo, bhi, *filter(None, [self._bounds if before > 0 else None]))
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
        bx, blo, bhi = reduce(end, n)
        self._live_bounds = finite_bounds(blo, bhi)
        if end and self._last is not None:
            bx, blo, bhi = (_join(self._last[0], bx), _join(self._last[1], blo),
                            _join(self._last[2], bhi))
        self.item.setPath(band_path(bx, blo, bhi))

    def bounds(self) -> tuple[float, float] | None:
        """(min, max) of the band drawn, or None."""
        return finite_bounds(*filter(None, [self._bounds, self._live_bounds]))

    def clear(self) -> None:
        self._settling = _Settling()
        self._last = None
        self._bounds = self._live_bounds = None
        self.backdrop.set_marks(self, [])
        self.item.setPath(QPainterPath())
