"""Panel: the base of every live plot panel, and shared plot styling.

A panel receives every new Frame, but draws only while it is visible: a
hidden panel just keeps the latest frame and draws it when shown.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QWidget

# One palette for every panel, so a colour means the same thing everywhere.
BEFORE = "#e6550d"       # before batch norm (z, or g(z) when BN comes after)
AFTER = "#3182bd"        # after batch norm (gamma * x_hat + beta)
NORMALIZED = "#756bb1"   # x_hat, before the learnt scale and shift
RUNNING = "#252525"      # running (EMA) statistics
POPULATION = "#31a354"   # population statistics (precise BN)
LIGHT = "#b8b8b8"        # background series (all units)
CLASS_COLORS = ("#e6550d", "#3182bd", "#31a354", "#756bb1", "#de2d26",
                "#8c564b", "#e377c2", "#636363", "#bcbd22", "#17becf")


def make_plot(title: str, x_label: str, y_label: str, legend: bool = True) -> pg.PlotWidget:
    """A PlotWidget in the common style: white, grid, labelled axes, and a
    legend below the axes (never on top of the data)."""
    w = pg.PlotWidget(background="w")
    w.setAntialiasing(False)  # speed: these plots redraw up to 30 times a second
    w.setMinimumSize(180, 170)  # below this a plot is only axes; let the dock grow instead
    item = w.getPlotItem()
    set_title(w, title)
    for side in ("left", "bottom"):
        ax = item.getAxis(side)
        ax.setPen(pg.mkPen("#444"))
        ax.setTextPen(pg.mkPen("#222"))
        ax.enableAutoSIPrefix(False)  # "(x0.001)" in an axis label reads as a unit
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.2)
    if legend:
        leg = pg.LegendItem(labelTextColor="#222", labelTextSize="8pt", horSpacing=12)
        # A row of the PlotItem's own layout under the bottom axis: part of the
        # figure when exported, and PlotItem.addItem(name=...) still fills it.
        item.layout.addItem(leg, 4, 0, 1, 3)
        item.legend = leg
    return w


def set_title(plot: pg.PlotWidget, text: str) -> None:
    """Set the plot title without letting its length set the plot's minimum
    width (a long title would otherwise stop a dock from narrowing)."""
    item = plot.getPlotItem()
    item.setTitle(text, color="#222", size="10pt")
    item.titleLabel.setMinimumWidth(0)


def orient(splitter: QSplitter, width: int, height: int, wide: float) -> None:
    """Side by side when width > wide * height, stacked otherwise."""
    horizontal = width > wide * height
    splitter.setOrientation(Qt.Orientation.Horizontal if horizontal else Qt.Orientation.Vertical)


def fit_legend(plot: pg.PlotWidget) -> None:
    """Lay the legend out in as many columns as the plot's width allows."""
    leg = plot.getPlotItem().legend
    if leg is None or not leg.items:
        return
    widest = max(s.boundingRect().width() + l.boundingRect().width() + 20 for s, l in leg.items)
    cols = int(max(1, min(len(leg.items), (plot.width() - 20) // max(widest, 1))))
    if cols != leg.columnCount:
        leg.setColumnCount(cols)


def set_legend(plot: pg.PlotWidget, entries) -> None:
    """Show exactly ``entries`` [(item, name), ...] in the plot's legend,
    hiding the plot's other named items. Call only when the names change."""
    legend = plot.getPlotItem().legend
    shown = {id(item) for item, _ in entries}
    for item in plot.getPlotItem().listDataItems():
        if item.name() is not None and id(item) not in shown:
            item.setVisible(False)
    legend.clear()
    for item, name in entries:
        item.setVisible(True)
        item.opts["name"] = name
        legend.addItem(item, name)
    fit_legend(plot)


def add_curve(plot: pg.PlotWidget, name: str | None, color: str, width: float = 1.5,
              **kwargs) -> pg.PlotDataItem:
    """A long-series curve: NaN-tolerant, downsampled, clipped to the view."""
    item = plot.plot([], [], name=name, pen=pg.mkPen(color, width=width), connect="finite",
                     **kwargs)
    # Must be called on the item: passing clipToView to plot() raises here.
    item.setDownsampling(auto=True, method="peak")
    item.setClipToView(True)
    return item


def finite_or_nan(a) -> np.ndarray:
    """A float copy of ``a`` with Inf turned into NaN, which curves skip."""
    out = np.array(a, dtype=np.float64, copy=True)
    out[~np.isfinite(out)] = np.nan
    return out


def message_label(text: str) -> QLabel:
    """A centred, wrapped, grey message shown in place of a plot."""
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: #555; font-size: 11pt; padding: 24px;")
    return label


class Panel(QWidget):
    """Base of the live plot panels. Subclasses implement ``_draw(frame)``
    (build nothing there: only ``setData``) and ``_clear()``."""

    title: str = ""
    object_name: str = ""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(self.object_name)
        self.setWindowTitle(self.title)
        self._frame = None   # latest frame received
        self._drawn = None   # frame currently on screen

    # ------------------------------------------------------------ public
    def set_frame(self, frame) -> None:
        """Show ``frame`` now if visible, otherwise when next shown."""
        self._frame = frame
        if self.isVisible():
            self._draw_latest()

    def frame(self):
        """The latest frame received, or None."""
        return self._frame

    def clear(self) -> None:
        """Forget the frame and empty every plot."""
        self._frame = self._drawn = None
        self._clear()

    def plot_widgets(self) -> list:
        """The plot widgets of this panel, for export."""
        return []

    # ---------------------------------------------------------- internal
    def redraw(self) -> None:
        """Draw the latest frame again (after a control changed)."""
        self._drawn = None
        if self.isVisible():
            self._draw_latest()

    def _draw_latest(self) -> None:
        if self._frame is not None and self._drawn is not self._frame:
            self._drawn = self._frame
            self._draw(self._frame)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        for w in self.plot_widgets():
            if isinstance(w, pg.PlotWidget):
                fit_legend(w)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._draw_latest()

    def _draw(self, frame) -> None:
        raise NotImplementedError

    def _clear(self) -> None:
        raise NotImplementedError

