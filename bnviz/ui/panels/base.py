"""Panel: the base of every live plot panel, and shared plot styling.

A panel receives every new Frame, but draws only while it is visible: a
hidden panel just keeps the latest frame and draws it when shown.

Every frame is drawn in the GUI's event loop, which must stay responsive,
so plots are built to cost little per frame (measure with
benchmarks/bench_panels.py; what each part of bnviz.ui.plotkit earns
against stock pyqtgraph, with benchmarks/bench_plotkit.py):

- ``StickyRange`` (plotkit.ranges) instead of pyqtgraph's autorange: an
  axis moves only when the data leaves it or fills too little of it, so
  axes are not regenerated and repainted on every frame;
- ``Backdrop`` (plotkit.backdrop): background and grid as one cached
  opaque pixmap beneath the data, instead of the axes' own grid;
- ``Series`` (plotkit.series): a long series bucketed by step to about two
  points per pixel, its settled part painted once into the backdrop, so a
  frame redraws only a short tail, drawn by a ``LiveCurve`` that Qt paints
  alone;
- skip what did not change (``Panel._changed``), and titles that show the
  step are set a few times a second (``set_title(live=True)``).

No reference cycles through a panel (hence the weak references in these
modules): the garbage collector would then delete its Qt objects in any
order, which crashes.
"""
from __future__ import annotations

import math
import time
import weakref

import pyqtgraph as pg
from PySide6.QtCore import QPoint, QRect, Qt, QTimer
from PySide6.QtWidgets import QLabel, QSplitter, QToolButton, QToolTip, QWidget

from ..flow_layout import FlowLayout
from ..theme import LIGHT as LIGHT_THEME
from ..theme import colour_frame
from ..theme import current as current_theme
from ..plot_menu import add_export_actions
from ..plotkit import BandSeries, LiveCurve, Mark, Series, StickyRange, backdrop  # noqa: F401
from ..plotkit import history_rows, sticky_range  # noqa: F401
from ..plotkit.downsampling import block_length, downsample, finite_bounds, finite_or_nan  # noqa: F401
from ..plotkit.series import MIN_SETTLE_ROWS  # noqa: F401

# One palette for every panel, so a colour means the same thing everywhere.
BEFORE = "#e6550d"       # before batch norm (z, or g(z) when BN comes after)
AFTER = "#3182bd"        # after batch norm (gamma * x_hat + beta)
NORMALIZED = "#756bb1"   # x_hat, before the learnt scale and shift
RUNNING = LIGHT_THEME.running   # running (EMA) statistics (dark schemes: theme.py)
POPULATION = "#31a354"   # population statistics (precise BN)
LIGHT = LIGHT_THEME.light       # background series (all units)
CLASS_COLORS = ("#e6550d", "#3182bd", "#31a354", "#756bb1", "#de2d26",
                "#8c564b", "#e377c2", "#636363", "#bcbd22", "#17becf")


def make_plot(title: str, x_label: str, y_label: str, legend: bool = True,
              grid_on_top: bool = False) -> pg.PlotWidget:
    """A PlotWidget in the common style: white, grid, labelled axes, and a
    legend below the axes (never on top of the data). Autorange is off: give
    the plot a ``StickyRange``. The grid is drawn by its ``backdrop``,
    beneath the data unless ``grid_on_top`` (for an image)."""
    w = pg.PlotWidget()
    w.bnviz_theme = current_theme()   # restyled when the desktop's colour scheme changes
    w.setAntialiasing(False)  # speed: these plots redraw up to 30 times a second
    w.setMinimumSize(PLOT_MIN_WIDTH, PLOT_MIN_HEIGHT)  # below this a plot is only axes
    item = w.getPlotItem()
    item.getViewBox().disableAutoRange()
    set_title(w, title)
    for side in ("left", "bottom"):
        ax = item.getAxis(side)
        ax.enableAutoSIPrefix(False)  # "(x0.001)" in an axis label reads as a unit
        # Ticks outside the view: an axis reaching into the view would be
        # repainted with every curve update.
        ax.setStyle(tickLength=4)
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    backdrop(w, grid_on_top=grid_on_top)
    if legend:
        leg = pg.LegendItem(labelTextSize="8pt", horSpacing=12)
        # A row of the PlotItem's own layout under the bottom axis: part of the
        # figure when exported, and PlotItem.addItem(name=...) still fills it.
        item.layout.addItem(leg, 4, 0, 1, 3)
        item.legend = leg
    colour_frame(w, w.bnviz_theme)   # its colours: one rule for new plots and a scheme changed
    add_export_actions(w)   # "Export PNG…" / "Export SVG…" in the right-click menu
    return w


EMPTY_HINT = "Press Space to train, or Right for one mini-batch"
TITLE_INTERVAL = 0.25   # s: a title that changes every frame (the step) changes at most this often


def set_title(plot: pg.PlotWidget, text: str, live: bool = False) -> None:
    """Set the plot title without letting its length set the plot's minimum
    width (a long title would otherwise stop a dock from narrowing). Does
    nothing when the title is already ``text``. ``live``: a title that
    changes with every frame (it shows the step) is set at most every
    TITLE_INTERVAL (laying out and painting the text costs about half a
    millisecond), and the latest text a moment later, so it ends right."""
    item = plot.getPlotItem()
    state = item.__dict__.setdefault("_bnviz_title", {"text": None, "time": -1e9, "timer": None})
    state["pending"] = None
    if state["text"] == text:
        return
    now = time.monotonic()
    if live and now - state["time"] < TITLE_INTERVAL:
        state["pending"] = text
        if state["timer"] is None:
            timer = state["timer"] = QTimer(plot)
            timer.setSingleShot(True)
            ref = weakref.ref(plot)
            timer.timeout.connect(lambda: _apply_pending_title(ref))
        if not state["timer"].isActive():
            state["timer"].start(int(1000 * (TITLE_INTERVAL - (now - state["time"]))) + 1)
        return
    state["text"], state["time"] = text, now
    _free_title_width(item.titleLabel)
    item.setTitle(text, color=getattr(plot, "bnviz_theme", LIGHT_THEME).text, size="10pt")
    item.titleLabel.setMinimumWidth(0)


def _free_title_width(label) -> None:
    """A title never widens its plot: pyqtgraph's LabelItem sets its minimum
    width to its text's at every resize (``updateMin``), which made a plot
    narrower than its title wider than its widget, the right of it cut off.
    Patched once per label, through a weak reference (no cycle to collect)."""
    if getattr(label, "_bnviz_free_width", False):
        return
    ref = weakref.ref(label)

    def update_min():
        me = ref()
        if me is not None:
            pg.LabelItem.updateMin(me)
            me.setMinimumWidth(0)
    label.updateMin = update_min
    label._bnviz_free_width = True


def _apply_pending_title(ref) -> None:
    plot = ref()
    if plot is None:
        return
    state = plot.getPlotItem().__dict__.get("_bnviz_title")
    if state is not None and state.get("pending") is not None:
        set_title(plot, state["pending"])


def flush_titles(panel) -> None:
    """Set every pending live title of ``panel``'s plots now (an animation's
    frame shows the step it was taken at)."""
    for plot in panel.plot_widgets():
        if hasattr(plot, "getPlotItem"):
            _apply_pending_title(weakref.ref(plot))


def orient(splitter: QSplitter, width: int, height: int, wide: float) -> None:
    """Side by side when width > wide * height, stacked otherwise."""
    horizontal = width > wide * height
    splitter.setOrientation(Qt.Orientation.Horizontal if horizontal else Qt.Orientation.Vertical)


PLOT_MIN_WIDTH = 220         # px: narrower, and the axes take the plot
PLOT_MIN_HEIGHT = 150        # px without a legend: title, axes and room for the data
LEGEND_ROW_HEIGHT = 24       # px per row of legend entries (8 pt text and its spacing)


def legend_columns(legend, width: float) -> int:
    """How many columns of ``legend``'s entries fit in ``width``. From the
    text's own width: a label laid out in one column is stretched to the
    legend's width, which would keep the legend in one column for ever
    (+ the legend's spacing between columns and its margins)."""
    widest = max(s.boundingRect().width() + l.item.boundingRect().width() + 36 for s, l in legend.items)
    return int(max(1, min(len(legend.items), (width - 20) // max(widest, 1))))


def fit_legend(plot: pg.PlotWidget) -> None:
    """Lay the legend out below the axes in as many columns as the plot's
    width allows, always visible, and keep the plot tall enough for the
    legend's rows and its data (a view scrolls rather than squash it)."""
    leg = plot.getPlotItem().legend
    if leg is None or not leg.items:
        return
    cols = legend_columns(leg, plot.width())
    if cols != leg.columnCount:
        leg.setColumnCount(cols)
    rows = -(-len(leg.items) // cols)
    height = PLOT_MIN_HEIGHT + rows * LEGEND_ROW_HEIGHT
    if plot.minimumHeight() != height:
        plot.setMinimumHeight(height)


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
              **kwargs) -> LiveCurve:
    """A NaN-tolerant curve (``LiveCurve``), added to the plot and, if named,
    to its legend. Draw a long series through a ``Series``, or give it
    ``downsample``d data."""
    curve = LiveCurve(pg.mkPen(color, width=width), name=name, **kwargs)
    plot.addItem(curve)
    return curve


def message_label(text: str) -> QLabel:
    """A centred, wrapped, grey message shown in place of a plot."""
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(text); font-size: 11pt; padding: 24px;")
    return label


def log_steps_check(on_toggled) -> "QCheckBox":
    """The "Log steps" box of a time-series panel: a logarithmic step axis,
    which gives the first steps of a long run the room they need."""
    from PySide6.QtWidgets import QCheckBox
    box = QCheckBox("Log steps")
    box.setToolTip("A logarithmic step axis: the first hundred steps get as much room as "
                   "the next ten thousand")
    box.toggled.connect(on_toggled)
    return box


def set_log_steps(plots, log: bool) -> None:
    """Put the step (x) axis of ``plots`` in log mode or back; Series then
    draw log10 of the steps."""
    for plot in plots:
        plot.getPlotItem().setLogMode(x=log)


def step_span(steps, log: bool = False) -> tuple[float, float] | None:
    """The x extent of ``steps`` on a step axis, in log10 units on a log
    one (step 0 left out), or None when there are none."""
    if len(steps) == 0:
        return None
    lo, hi = float(steps[0]), float(steps[-1])
    if not log:
        return lo, hi
    if hi <= 0:
        return None
    return math.log10(max(lo, 1.0)), math.log10(hi)


class Panel(QWidget):
    """Base of the live plot panels. Subclasses implement ``_draw(frame)``
    (build nothing there: only ``setData``) and ``_clear()``."""

    title: str = ""
    object_name: str = ""
    # What the panel plots and the formula, in two or three sentences (HTML),
    # shown by its "?" button.
    help_text: str = ""
    # A panel with a ``splitter`` of plots lays them side by side when it is
    # wider than ``split_wide`` times its height, stacked otherwise.
    split_wide: float = 1.0

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(self.object_name)
        self.setWindowTitle(self.title)
        self._frame = None   # latest frame received
        self._drawn = None   # frame currently on screen
        self._keys: dict = {}   # what each item last showed (see _changed)
        # Curves are downsampled for the plot's width: redraw once a resize settles.
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(150)
        self._resize_timer.timeout.connect(self.redraw)
        # Over the empty plots of a run not yet trained: what to do first.
        self.hint = QLabel(EMPTY_HINT, self)
        self.hint.setObjectName("empty_hint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hint.setStyleSheet("QLabel { background: palette(base); color: palette(text); "
                                "border: 1px solid #c8c8c8; border-radius: 6px; padding: 10px; "
                                "font-size: 11pt; }")

    # ------------------------------------------------------------ public
    def set_frame(self, frame) -> None:
        """Show ``frame`` now if visible, otherwise when next shown."""
        self._frame = frame
        self._show_hint(frame.record is None)
        if self.on_screen():
            self._draw_latest()

    def on_screen(self) -> bool:
        """Shown and not wholly covered: a dock tabbed behind another is
        "visible" to Qt but has no visible region, and is drawn when its
        tab is raised (``visibilityChanged``), not at every frame."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def show_latest(self) -> None:
        """Draw the latest frame if it is not on screen yet (a tab raised)."""
        if self.on_screen():
            self._draw_latest()

    def frame(self):
        """The latest frame received, or None."""
        return self._frame

    def clear(self) -> None:
        """Forget the frame and empty every plot."""
        self._frame = self._drawn = None
        self._keys.clear()
        self._clear()
        self._show_hint(True)

    def absence(self, frame) -> str | None:
        """Why this panel has nothing to show for ``frame``'s run (it then
        leaves its view, and the view says why), or None."""
        return None

    def plot_widgets(self) -> list:
        """The plot widgets of this panel, for export."""
        return []

    def copy_controls_from(self, other: "Panel") -> None:
        """Take over ``other``'s choices (a panel of the same class): its
        layer and unit, check boxes and combo boxes, e.g. to export a copy."""
        from PySide6.QtWidgets import QCheckBox, QComboBox
        selector = getattr(self, "selector", None)
        if selector is not None:
            selector.set_selection(other.selector.layer(), other.selector.unit())
        for mine, theirs in zip(self.findChildren(QCheckBox), other.findChildren(QCheckBox)):
            mine.setChecked(theirs.isChecked())
        for mine, theirs in zip(self.findChildren(QComboBox), other.findChildren(QComboBox)):
            if mine.count() == theirs.count() and mine is not getattr(selector, "layer_combo", None):
                mine.setCurrentIndex(theirs.currentIndex())

    def control_row(self, *left: QWidget, right=()) -> FlowLayout:
        """The row above a panel's plots: its controls, read-outs, then the
        "?" button, wrapping onto a second row when the panel is narrow."""
        row = FlowLayout()
        for w in (*left, *right, self.help_button()):
            row.addWidget(w)
        return row

    def plots_or_message(self, *plots) -> QWidget:
        """``plots`` side by side in ``self.splitter`` (oriented to the panel's
        shape), in ``self.stack`` with ``self.message`` to show instead."""
        from PySide6.QtWidgets import QStackedWidget
        self.splitter = QSplitter()
        for plot in plots:
            self.splitter.addWidget(plot)
        self.message = message_label("")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.splitter)
        self.stack.addWidget(self.message)
        return self.stack

    def help_button(self) -> QToolButton:
        """A "?" button that explains the panel (``help_text``)."""
        button = QToolButton()
        button.setText("?")
        button.setObjectName("help_button")
        button.setToolTip(f"What the {self.title} panel shows, and the formula")
        button.setAutoRaise(True)
        button.setStyleSheet("QToolButton { font-weight: bold; min-width: 18px; }")
        button.clicked.connect(self.show_help)
        self._help_button = button
        return button

    def show_help(self) -> None:
        """Show ``help_text`` beside the "?" button until the next click."""
        anchor = getattr(self, "_help_button", None) or self
        pos = anchor.mapToGlobal(QPoint(0, anchor.height()))
        html = f"<div style='max-width: 420px'><b>{self.title}</b><br>{self.help_text}</div>"
        QToolTip.showText(pos, html, anchor, QRect(), 60000)

    # ---------------------------------------------------------- internal
    def redraw(self) -> None:
        """Draw the latest frame again (after a control changed)."""
        self._drawn = None
        self._keys.clear()
        if self.on_screen():
            self._draw_latest()

    def _changed(self, name: str, key) -> bool:
        """True (and remember ``key``) unless item ``name`` already shows
        what ``key`` describes, e.g. (rows, last step, layer, unit)."""
        if self._keys.get(name, self) == key:
            return False
        self._keys[name] = key
        return True

    def _draw_latest(self) -> None:
        if self._frame is not None and self._drawn is not self._frame:
            self._drawn = self._frame
            self._draw(self._frame)

    def sticky_ranges(self) -> list:
        """The panel's StickyRange objects (refitted when the data shown changes)."""
        return []

    def _refit_and_redraw(self, *_signal_args) -> None:
        """Other data (a new layer, unit or mode): fit the axes afresh and draw."""
        for sticky in self.sticky_ranges():
            sticky.refit()
        self.redraw()

    def _show_hint(self, empty: bool) -> None:
        if empty == self.hint.isHidden():
            self.hint.setVisible(empty)
            if empty:
                self._place_hint()

    def _place_hint(self) -> None:
        width = min(self.width() - 20, 360)
        height = self.hint.heightForWidth(width)
        self.hint.setGeometry((self.width() - width) // 2, (self.height() - height) // 2, width, height)
        self.hint.raise_()

    def resizeEvent(self, event) -> None:
        if self.hint.isVisible():
            self._place_hint()
        splitter = getattr(self, "splitter", None)
        if splitter is not None:
            orient(splitter, event.size().width(), event.size().height(), self.split_wide)
        super().resizeEvent(event)
        for w in self.plot_widgets():
            if isinstance(w, pg.PlotWidget):
                fit_legend(w)
        if self._drawn is not None:
            self._resize_timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._draw_latest()

    def _draw(self, frame) -> None:
        raise NotImplementedError

    def _clear(self) -> None:
        raise NotImplementedError
