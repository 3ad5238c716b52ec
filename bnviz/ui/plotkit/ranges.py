"""Sticky axis ranges: a live plot's view moves only when its data needs it.

pyqtgraph's autorange refits the view whenever the data changes, which in a
live plot is every frame; each move regenerates both axes (about 3 ms each)
and repaints the whole plot. ``sticky_range`` decides when an axis must
move, ``StickyRange`` applies it to a plot.
"""
from __future__ import annotations

import math
import weakref

import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer

FILL = 0.4          # re-fit an axis when its data fills less than this share of it
MARGIN = 0.06       # room left on each side of the data when an axis is fitted
HEADROOM = 0.15     # extra room on a side the data outgrew, so a drift re-fits rarely
STEP_PAD = 0.03     # room left of 0 on a step axis (its label fits), as a share of its range
NICE = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0)   # step-axis ends: the data fills 60 to 100%

EMPTY_RANGE = (0.0, 1.0)   # the axes of a plot with no data (a new run)


def nice_ceil(v: float) -> float:
    """The smallest number m * 10**e with m in NICE that is >= v (0 if v <= 0)."""
    if v <= 0:
        return 0.0
    k = math.floor(math.log10(v))
    for m in NICE:
        # Divided rather than multiplied below 1, so 0.7 is 0.7, not 0.70000000000000001.
        nice = m * 10.0 ** k if k >= 0 else m / 10.0 ** -k
        if nice >= v * (1 - 1e-12):
            return nice
    return 10.0 ** (k + 1)


def _fit(lo: float, hi: float, steps: bool, margin: float) -> tuple[float, float]:
    if steps:   # a growing counter: from 0 (or below) to a round number
        lo = min(lo, 0.0)
        hi = max(nice_ceil(hi), lo + 1.0)
        # A little room left of 0, so the first point is not drawn on the axis.
        return lo - STEP_PAD * (hi - lo), hi
    floor = max(1e-4 * max(abs(lo), abs(hi)), 1e-12) if (lo or hi) else 1.0
    if hi - lo < floor:   # (nearly) constant data: a range of its own scale
        mid = 0.5 * (lo + hi)
        lo, hi = mid - 0.5 * floor, mid + 0.5 * floor
    pad = margin * (hi - lo)
    return lo - pad, hi + pad


def sticky_range(current: tuple[float, float] | None, lo: float, hi: float, steps: bool = False,
                 fill: float = FILL, margin: float = MARGIN, headroom: float = HEADROOM
                 ) -> tuple[float, float] | None:
    """The view range an axis should move to for data spanning [lo, hi], or
    None to stay at ``current``.

    It stays while the data is inside it and fills at least ``fill`` of it.
    Otherwise the data is fitted with ``margin`` on each side, and a side
    the data outgrew gets ``headroom`` more (the side it did not outgrow
    stays), so a drifting series moves the axis now and then, not every
    frame. ``steps``: a step-counter axis, fitted from 0 to a round number
    (``nice_ceil``), so it moves a few times per tenfold growth."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    lo, hi = min(lo, hi), max(lo, hi)
    fresh = _fit(lo, hi, steps, margin)
    if current is None:
        return fresh
    c0, c1 = current
    width = fresh[1] - fresh[0]
    if c0 <= lo and hi <= c1 and width >= fill * (c1 - c0):
        return None
    if steps or width < fill * (c1 - c0):
        return fresh   # a step axis, or the data shrank within the range
    extra = headroom * width
    new_lo = c0 if lo >= c0 else fresh[0] - extra
    new_hi = c1 if hi <= c1 else fresh[1] + extra
    # No headroom across zero for data that stays on one side of it (a loss
    # falling towards 0 needs no room below -0.1).
    if lo >= 0:
        new_lo = max(new_lo, fresh[0])
    if hi <= 0:
        new_hi = min(new_hi, fresh[1])
    new = (new_lo, new_hi)
    return new if width >= fill * (new[1] - new[0]) else fresh


class StickyRange(QObject):
    """Keeps a plot's view on its data, calling setRange only when
    ``sticky_range`` says an axis must move.

    The user keeps control: an axis zoomed or panned by hand stays where the
    user left it (``on_user_range`` is called, e.g. to redraw curves for the
    new range) until the plot's "A" button is pressed, which hands the view
    back to the data. A child of the plot, so that its slots are
    disconnected when the plot is deleted."""

    def __init__(self, plot: pg.PlotWidget, steps_x: bool = False,
                 fixed_y: tuple[float, float] | None = None, on_user_range=None,
                 fill: float = FILL, patience: int = 0):
        super().__init__(plot)
        # Only weak references back to the plot and the panel: a reference
        # cycle through a panel would leave its deletion to the garbage
        # collector, which tears pyqtgraph's items down in any order (a crash).
        self._plot_item = weakref.ref(plot.getPlotItem())
        self.vb = plot.getPlotItem().getViewBox()
        self.vb.disableAutoRange()
        self.steps_x = steps_x
        self.fixed_y = fixed_y
        self.fill = fill
        # How many updates must ask for a shrink (since the view last moved)
        # before it is made: for data whose extent jitters (a histogram's
        # extremes), so one frame's outlier does not leave the view wide for
        # ever, nor does the view flap from frame to frame.
        self.patience = patience
        self._asked = [0, 0]
        self.follow = [True, True]
        self.target: list[tuple[float, float] | None] = [None, None]
        self._on_user_range = None if on_user_range is None else weakref.WeakMethod(on_user_range)
        # pyqtgraph announces a zoom or pan by hand after the range changed:
        # call back once the event is over, when both are known.
        self._user_timer = QTimer(self)
        self._user_timer.setSingleShot(True)
        self._user_timer.setInterval(0)
        self._user_timer.timeout.connect(self._call_user_range)
        self._setting = False
        if fixed_y is not None:
            self._set({"yRange": fixed_y})
        self.vb.sigRangeChangedManually.connect(self._on_vb_range_changed_manually)
        self.vb.sigRangeChanged.connect(self._on_vb_range_changed)
        # The "A" (auto-range) button: shown on hover only once the user has
        # moved an axis, as with pyqtgraph's own autorange.
        me = weakref.ref(self)

        def update_buttons():
            sticky = me()
            if sticky is not None:
                sticky._update_buttons()
        plot.getPlotItem().updateButtons = update_buttons

    def update(self, x: tuple[float, float] | None = None,
               y: tuple[float, float] | None = None) -> bool:
        """Move the axes that must move for data spanning ``x`` and ``y``
        ((lo, hi), or None to leave that axis). Returns True if the view moved."""
        if any(a is not False for a in self.vb.state["autoRange"]):
            self._resume()
        ranges = {}
        for axis, data, key in ((0, x, "xRange"), (1, y, "yRange")):
            if data is None or not self.follow[axis] or (axis == 1 and self.fixed_y):
                continue
            current = self.target[axis]
            new = sticky_range(current, data[0], data[1],
                               steps=self.steps_x and axis == 0, fill=self.fill)
            if new is None:
                continue
            if current is not None and current[0] <= min(data) and max(data) <= current[1]:
                self._asked[axis] += 1   # a shrink: counted until the view moves
                if self._asked[axis] < self.patience:
                    continue
            self._asked[axis] = 0
            self.target[axis] = new
            ranges[key] = new
        if ranges:
            self._set(ranges)
        return bool(ranges)

    def reset(self) -> None:
        """Follow the data again and fit it afresh (a new run); until data
        comes, the axes are the empty ones of a new plot, not the last run's."""
        self.follow = [True, True]
        self.target = [None, None]
        self._asked = [0, 0]
        empty = {"xRange": EMPTY_RANGE}
        if self.fixed_y is None:
            empty["yRange"] = EMPTY_RANGE
        self._set(empty)
        self._update_buttons()

    def refit(self, axis: int | None = None) -> None:
        """Fit ``axis`` (0: x, 1: y, None: both) afresh at the next update,
        e.g. when other data is chosen; an axis the user moved stays put."""
        for a in (0, 1) if axis is None else (axis,):
            self.target[a] = None
            self._asked[a] = 0

    def window(self) -> tuple[float, float] | None:
        """The x range to draw curves for: None (all of the data) while the
        x axis follows the data, the visible range once the user moved it."""
        return None if self.follow[0] else tuple(self.vb.viewRange()[0])

    def points(self) -> int:
        """How many points a curve across the whole view needs: two per pixel."""
        return 2 * max(int(self.vb.width()), 200)

    # ---------------------------------------------------------- internal
    def _set(self, ranges: dict) -> None:
        self._setting = True
        try:
            self.vb.setRange(padding=0, **ranges)
        finally:
            self._setting = False

    def _resume(self) -> None:
        """The "A" button (or code) turned pyqtgraph's autorange on: take over."""
        auto = self.vb.state["autoRange"]
        for axis in (0, 1):
            if auto[axis] is not False:
                self.follow[axis], self.target[axis] = True, None
        self.vb.disableAutoRange()
        if self.fixed_y is not None:
            self._set({"yRange": self.fixed_y})
        self._update_buttons()

    def _update_buttons(self) -> None:
        item = self._plot_item()
        if item is None:
            return
        try:
            item.autoBtn.setVisible(item._exportOpts is False and item.mouseHovering
                                    and not item.buttonsHidden and not all(self.follow))
        except RuntimeError:
            pass   # the plot is being deleted

    def _on_vb_range_changed_manually(self, mask) -> None:
        for axis in (0, 1):
            if mask[axis]:
                self.follow[axis] = False
        self._update_buttons()
        if self._on_user_range is not None:
            self._user_timer.start()

    def _on_vb_range_changed(self, *args) -> None:
        if not self._setting and self._on_user_range is not None:
            self._user_timer.start()

    def _call_user_range(self) -> None:
        callback = self._on_user_range()
        if callback is not None:
            callback()
