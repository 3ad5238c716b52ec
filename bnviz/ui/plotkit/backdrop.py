"""What lies beneath a live plot's data: ``Backdrop``.

Measured with benchmarks/bench_panels.py on the slow target machine: an
AxisItem with pyqtgraph's grid covers the whole view, so every curve update
replayed its cached picture (about 2 ms a plot); translucent lines and
fills draw about ten times slower than opaque ones; thick or long
polylines cost about a millisecond each. So the grid and the settled parts
of long series (``Mark``s, see series.Series) are one cached opaque pixmap
on screen, redrawn only when the view moves or resizes.
"""
from __future__ import annotations

import math
import weakref

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.PlotCurveItem import arrayToLineSegments
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEngine, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject

from ..theme import current

from .downsampling import finite_bounds

GRID_ALPHA = 0.2


# -------------------------------------------------------------- backdrop
class Mark:
    """A settled piece of a series, in data coordinates: a polyline
    (``pen``), a filled polygon (``path`` and ``brush``), or round markers
    (``dots`` = (diameter in pixels, fill colour, edge colour))."""

    __slots__ = ("pen", "brush", "x", "y", "path", "dots", "_cache", "_rect")

    def __init__(self, x=None, y=None, pen=None, path: QPainterPath | None = None, brush=None,
                 dots: tuple | None = None):
        self.pen, self.brush, self.x, self.y, self.path, self.dots = pen, brush, x, y, path, dots
        self._cache = self._rect = None

    def rect(self) -> QRectF:
        """Its extent in data coordinates (may be flat: a level line)."""
        if self._rect is None:
            if self.path is not None:
                self._rect = self.path.boundingRect()
            else:
                bx, by = finite_bounds(self.x), finite_bounds(self.y)
                self._rect = QRectF() if bx is None or by is None else \
                    QRectF(bx[0], by[0], bx[1] - bx[0], by[1] - by[0])
        return self._rect

    def overlaps(self, area: QRectF) -> bool:
        r = self.rect()
        return (not r.isNull() and r.left() <= area.right() and area.left() <= r.right()
                and r.top() <= area.bottom() and area.top() <= r.bottom())

    def draw(self, painter: QPainter) -> None:
        if self.brush is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.brush)
            painter.drawPath(self.path)
        elif self.dots is not None:
            # Round-capped points of a cosmetic pen: one C++ call per colour.
            if self._cache is None:
                ok = np.isfinite(self.x) & np.isfinite(self.y)
                self._cache = pg.functions.create_qpolygonf(int(ok.sum()))
                xy = pg.functions.ndarray_from_qpolygonf(self._cache)
                xy[:, 0], xy[:, 1] = self.x[ok], self.y[ok]
            size, fill, edge = self.dots
            for color, width in ((edge, size), (fill, size - 2)):
                pen = QPen(pg.mkColor(color))
                pen.setCosmetic(True)
                pen.setWidthF(width)
                pen.setCapStyle(Qt.PenCapStyle.RoundCap)
                painter.setPen(pen)
                painter.drawPoints(self._cache)
        elif self.pen.widthF() > 1:   # as PlotCurveItem: separate segments beat a stroked path
            if self._cache is None:
                self._cache = arrayToLineSegments(self.x, self.y, connect="finite",
                                                  finiteCheck=True)
            painter.setPen(self.pen)
            painter.drawLines(*self._cache.drawargs())
        else:
            if self.path is None:
                self.path = pg.arrayToQPath(self.x, self.y, connect="finite")
            painter.setPen(self.pen)
            # A band drawn before leaves its brush: a polyline would be filled.
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(self.path)


class Backdrop(QGraphicsObject):
    """What lies beneath a plot's data and rarely changes: the background,
    the grid, and the settled parts (``Mark``s) of its long series.

    The grid is at the axes' ticks with AxisItem's levels and alphas, but
    opaque, in the colour the translucent lines have over the background.
    On screen the whole backdrop is one cached opaque pixmap, redrawn when
    the view's range or size changes, marks added to it incrementally;
    elsewhere (SVG, print, scene exports) it is drawn as vectors.

    A QGraphicsObject, not a plain item, so that the signals it listens to
    are disconnected when it is deleted (a plain item could be called while
    half destroyed)."""

    def __init__(self, plot_item: pg.PlotItem, alpha: float = GRID_ALPHA,
                 grid_on_top: bool = False):
        vb = plot_item.getViewBox()
        super().__init__()
        # setParentItem, not the constructor's parent, hands the item to Qt:
        # owned by Python, it could be deleted by a garbage collection while
        # still in the scene (a crash).
        self.setParentItem(vb)
        self.setZValue(-1000)   # beneath the data (the ViewBox's children)
        self._vb = vb
        self._background = pg.mkColor(current().background)
        self._axes = (plot_item.getAxis("bottom"), plot_item.getAxis("left"))
        self._alpha = alpha
        self._rect = QRectF()
        self._lines: list[tuple[QColor, list[QRectF]]] = []
        self._owners: dict[int, tuple] = {}   # id -> (item, [Mark]), drawn in this order
        self._pixmap: QPixmap | None = None
        # The grid over the data instead, translucent (slow to draw: for plots
        # whose data hides the background and changes seldom, e.g. an image).
        self._overlay = _GridOverlay(self) if grid_on_top else None
        vb.sigRangeChanged.connect(self._rebuild)
        vb.sigResized.connect(self._rebuild)

    # ------------------------------------------------------------ marks
    def add_owner(self, owner, item) -> None:
        """Register ``owner``'s marks, drawn with ``item``'s visibility and
        opacity, over those of owners registered before."""
        self._owners[id(owner)] = (item, [])

    def set_marks(self, owner, marks) -> None:
        """Replace ``owner``'s marks."""
        item, old = self._owners[id(owner)]
        if not old and not marks:
            return
        self._owners[id(owner)] = (item, list(marks))
        self.invalidate()

    def add_marks(self, owner, marks) -> None:
        """Add to ``owner``'s marks. On screen only their area is redrawn, in
        the cached pixmap (with every mark there, in owner order, so a chunk
        settled later does not cover another series' line), and repainted."""
        item, old = self._owners[id(owner)]
        old.extend(marks)
        if not item.isVisible():
            return
        to_vb = self._vb.childTransform()
        area = QRectF()
        for m in marks:
            area = area.united(to_vb.mapRect(m.rect()))
        # Room for the widest pen or marker, and whole pixels.
        area = QRectF(area.adjusted(-6, -6, 6, 6).toAlignedRect()).intersected(self._rect)
        if area.isEmpty():
            return
        if self._pixmap is not None:
            inside = to_vb.inverted()[0].mapRect(area)
            p = QPainter(self._pixmap)
            try:
                p.translate(-self._rect.topLeft())
                p.setClipRect(area)
                p.fillRect(area, self._background)
                if self._overlay is None:
                    self._draw_lines(p)
                self._draw_marks(p, [(it, [m for m in ms if m.overlaps(inside)])
                                     for it, ms in self._owners.values()])
            finally:
                p.end()
        self.update(area)

    def set_background(self, color) -> None:
        """Another background (a colour scheme): the grid is blended anew."""
        self._background = pg.mkColor(color)
        self._rebuild()

    def invalidate(self) -> None:
        """Redraw everything (e.g. an owner's item was shown or hidden)."""
        self._pixmap = None
        self.update()

    # ---------------------------------------------------------- drawing
    def _rebuild(self, *args) -> None:
        self.prepareGeometryChange()
        rect = self._vb.boundingRect()
        self._rect, self._lines, self._pixmap = rect, [], None
        background = self._background
        for axis, (lo, hi) in zip(self._axes, self._vb.viewRange()):
            horizontal = axis is self._axes[0]
            length = rect.width() if horizontal else rect.height()
            # A hidden axis has no grid either (a mosaic of images, say).
            if length < 2 or not hi > lo or not axis.isVisible():
                continue
            scale = length / (hi - lo)
            ink = axis.pen().color()
            for i, (_, values) in enumerate(axis.tickValues(lo, hi, length)):
                # AxisItem's grid alpha: fainter for finer levels and dense ticks.
                a = self._alpha / (i + 1) * min(max(0.05 * length / (len(values) + 1), 0.0), 1.0)
                if self._overlay is None:   # opaque: as the line over the background
                    color = QColor(*(round(b + (c - b) * a) for c, b in (
                        (ink.red(), background.red()), (ink.green(), background.green()),
                        (ink.blue(), background.blue()))))
                else:
                    color = QColor(ink)
                    color.setAlphaF(a)
                if horizontal:
                    pos = [math.floor(rect.left() + (v - lo) * scale) for v in values]
                    lines = [QRectF(p, rect.top(), 1, rect.height()) for p in pos]
                else:
                    pos = [math.floor(rect.bottom() - (v - lo) * scale) for v in values]
                    lines = [QRectF(rect.left(), p, rect.width(), 1) for p in pos]
                self._lines.append((color, lines))
        self._lines.reverse()   # finer levels first, so major lines are on top
        self.update()
        if self._overlay is not None:
            self._overlay.prepareGeometryChange()
            self._overlay.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def _draw_lines(self, painter: QPainter) -> None:
        for color, lines in self._lines:
            for r in lines:
                painter.fillRect(r, color)

    def _draw(self, painter: QPainter) -> None:
        if self._overlay is None:
            self._draw_lines(painter)
        self._draw_marks(painter, self._owners.values())

    def _draw_marks(self, painter: QPainter, owners) -> None:
        owners = [(item, marks) for item, marks in owners if marks and item.isVisible()]
        if not owners:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setClipRect(self._rect, Qt.ClipOperation.IntersectClip)
        painter.setTransform(self._vb.childTransform(), True)
        for item, marks in owners:
            painter.setOpacity(item.opacity())
            for m in marks:
                m.draw(painter)
        painter.restore()

    def paint(self, painter, option, widget=None) -> None:
        if widget is None or painter.paintEngine().type() != QPaintEngine.Type.Raster:
            self._draw(painter)
            return
        dpr = widget.devicePixelRatioF()
        if self._pixmap is None or self._pixmap.devicePixelRatioF() != dpr:
            size = self._rect.size()
            pixmap = QPixmap(max(1, math.ceil(size.width() * dpr)),
                             max(1, math.ceil(size.height() * dpr)))
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(self._background)
            p = QPainter(pixmap)
            try:
                p.translate(-self._rect.topLeft())
                self._draw(p)
            finally:
                p.end()
            self._pixmap = pixmap
        painter.drawPixmap(self._rect.topLeft(), self._pixmap)


class _GridOverlay(QGraphicsItem):
    """A Backdrop's grid drawn over the data (``grid_on_top``)."""

    def __init__(self, owner: Backdrop):
        super().__init__()
        self.setParentItem(owner.parentItem())   # owned by Qt (see Backdrop)
        self.setZValue(900)   # over the data, under the ViewBox's border
        self._owner = weakref.ref(owner)

    def boundingRect(self) -> QRectF:
        owner = self._owner()
        return QRectF() if owner is None else owner.boundingRect()

    def paint(self, painter, option, widget=None) -> None:
        owner = self._owner()
        if owner is not None:
            owner._draw_lines(painter)


def backdrop(plot: pg.PlotWidget, grid_on_top: bool = False) -> Backdrop:
    """The Backdrop of a plot, made on first use (``grid_on_top``: see Backdrop)."""
    item = plot.getPlotItem()
    if getattr(item, "bnviz_backdrop", None) is None:
        item.bnviz_backdrop = Backdrop(item, grid_on_top=grid_on_top)
    return item.bnviz_backdrop
