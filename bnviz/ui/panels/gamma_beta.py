"""GammaBetaPanel: the learnt scale (gamma) and shift (beta) of every unit of
one layer over training, the chosen unit highlighted."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout

from .base import AFTER, LIGHT, LiveCurve, Mark, Panel, Series, StickyRange, add_curve, backdrop, \
    finite_bounds, fit_legend, history_rows, log_steps_check, make_plot, set_legend, \
    set_log_steps, set_title, step_span
from ...engine.history import RowsOf
from ..plotkit.downsampling import bucket_starts, bucket_width, log10_steps
from .selectors import LayerUnitSelector

# The all-units curve is background context: beyond these caps its rows are
# strided (the highlighted unit keeps every row it has pixels for). Painting
# it dominates the cost, so all but its newest rows are drawn, chunk by chunk,
# into the plot's backdrop pixmap (see Backdrop) rather than every frame.
MAX_ROWS_PER_UNIT = 600
MAX_BACKGROUND_POINTS = 60_000
SETTLE_ROWS = 4     # kept rows per chunk moved into the backdrop
MAX_LIVE_POINTS = 2000   # below this, all the grey lines stay live (cheap enough)


def background_width(steps, first, d: int, max_rows: int = MAX_ROWS_PER_UNIT) -> int:
    """Steps per kept row of the grey lines of ``d`` units: a power of two
    (so the kept rows stay put as the series grows) that keeps at most
    about ``max_rows`` rows within the caps, and holds each merged row whole."""
    max_rows = max(2, min(max_rows, MAX_ROWS_PER_UNIT, MAX_BACKGROUND_POINTS // max(d, 1)))
    return bucket_width(steps, max_rows - 1, first)


def kept_rows(steps, k: int) -> np.ndarray:
    """The last row of each bucket of ``k`` steps (its state then), the newest included."""
    starts = bucket_starts(steps, k)
    return np.r_[starts[1:], len(steps)] - 1 if len(steps) else np.zeros(0, np.intp)


def settled_boundary(n_kept: int, d: int, k: int, last_step: int) -> int:
    """The last step of the part of the grey lines drawn in the backdrop: a
    multiple of SETTLE_ROWS buckets, so it moves once per chunk; 0 (none)
    while all of them are cheap enough to draw live."""
    if n_kept * d <= MAX_LIVE_POINTS:
        return 0
    chunk = SETTLE_ROWS * k
    return ((int(last_step) - 1) // chunk) * chunk


def polyline(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One NaN-separated polyline through every unit's series, Inf as NaN.
    steps: (n,), values: (n, D) -> x, y of length D * (n + 1)."""
    n, d = values.shape
    x = np.empty((d, n + 1))
    x[:, :n] = steps
    x[:, n] = np.nan          # the break between one unit and the next
    y = np.empty((d, n + 1))
    y[:, :n] = values.T
    y[:, n] = np.nan
    y[~np.isfinite(y)] = np.nan
    return x.ravel(), y.ravel()


def all_units_xy(steps: np.ndarray, values: np.ndarray, max_rows: int = MAX_ROWS_PER_UNIT,
                 first=None) -> tuple[np.ndarray, np.ndarray]:
    """``polyline`` of the rows kept (``background_width``, ``kept_rows``)."""
    keep = kept_rows(steps, background_width(steps, first, values.shape[1], max_rows))
    return polyline(steps[keep], values[keep])


class GammaBetaPanel(Panel):
    """gamma and beta against step, every unit thin and grey, one unit bold."""

    title = "Gamma and beta"
    object_name = "gamma_beta_panel"
    help_text = (
        "The learned scale γ and shift β of every unit of a BN layer over training: "
        "y = γ·x̂ + β. They start at 1 and 0; in training mode each unit's output then has batch "
        "mean β and standard deviation γ·√(σ²/(σ²+ε)), so where they move, the network rescales "
        "and shifts the normalised values (γ = √(σ²+ε), β = μ would undo the normalisation).")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selector = LayerUnitSelector(with_unit=True)
        self.log_steps = log_steps_check(self._on_log_steps_toggled)
        controls = self.control_row(self.selector, self.log_steps)
        self.gamma_plot = make_plot("γ (scale) of every unit", "step", "γ")
        self.beta_plot = make_plot("β (shift) of every unit", "step", "β")
        self.all_curves, self.unit_curves = {}, {}
        for key, plot in (("gamma", self.gamma_plot), ("beta", self.beta_plot)):
            # One item for all units: D separate items would be far slower.
            # Its newest rows only: the rest is in the backdrop (see _settle).
            background = LiveCurve(pg.mkPen(LIGHT, width=1))
            plot.addItem(background)
            backdrop(plot).add_owner(background, background)
            background.on_visible_changed(backdrop(plot).invalidate)
            self.all_curves[key] = background
            self.unit_curves[key] = add_curve(plot, "unit", AFTER, width=2.5)
        self.unit_series = {key: Series(plot, self.unit_curves[key])
                            for key, plot in (("gamma", self.gamma_plot), ("beta", self.beta_plot))}
        self.ranges = {key: StickyRange(plot, steps_x=True, on_user_range=self.redraw)
                       for key, plot in (("gamma", self.gamma_plot), ("beta", self.beta_plot))}
        self.plots_or_message(self.gamma_plot, self.beta_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.stack, 1)
        self._legend_key = None
        # key -> (layer, bucket width, first step, log x, last settled step) in the backdrop
        self._settled: dict[str, tuple | None] = {"gamma": None, "beta": None}
        self._bounds_settled: dict[str, tuple | None] = {"gamma": None, "beta": None}
        self.selector.selection_changed.connect(self._refit_and_redraw)

    def absence(self, frame) -> str | None:
        if any(frame.config.bn_layers()):
            return None
        return "this run has no batch norm, so there is no γ and β to learn."

    def plot_widgets(self) -> list:
        return [self.gamma_plot, self.beta_plot]

    def _on_log_steps_toggled(self, checked: bool) -> None:
        set_log_steps(self.plot_widgets(), checked)
        self._refit_and_redraw()

    def sticky_ranges(self) -> list:
        return list(self.ranges.values())

    def _draw(self, frame) -> None:
        cfg = frame.config
        self.selector.set_network(cfg)
        i, unit = self.selector.layer(), self.selector.unit()
        if i >= len(cfg.layer_widths()) or not cfg.bn_layers()[i]:
            self.message.setText(f"{self.selector.name(i).capitalize()} has no batch norm: "
                                 "nothing to learn here")
            self.stack.setCurrentWidget(self.message)
            self._clear_curves()
            return
        self.stack.setCurrentIndex(0)
        d = cfg.layer_widths()[i]
        if (d, unit) != self._legend_key:
            for key in ("gamma", "beta"):
                plot = self.gamma_plot if key == "gamma" else self.beta_plot
                set_legend(plot, [(self.unit_curves[key], f"{self.selector.unit_word()} {unit}")])
                plot.getPlotItem().legend.addItem(self.all_curves[key], f"all {d} units")
                fit_legend(plot)
            self._legend_key = (d, unit)
        h = frame.history
        steps = h.steps["step"]
        log_x = self.log_steps.isChecked()
        x_span = step_span(steps, log_x)
        for key in ("gamma", "beta"):
            name = f"L{i}.{key}"
            # Only the rows the grey lines keep are read (not every unit's every row).
            values = RowsOf(h.steps, name, d) if name in h.steps else None
            sticky = self.ranges[key]
            pts, window = sticky.points(), sticky.window()
            if not self._changed(key, (len(steps), x_span, i, unit, pts, window)):
                continue
            if values is None or len(steps) == 0:
                self._clear_curves(key)
                continue
            rows = history_rows(h.steps, f"L{i}.{key}")
            bx, by = self._draw_background(key, i, steps, values, pts, window, rows["first"], log_x)
            self.unit_series[key].set_data(steps, h.unit(i, key, unit), pts, window, key=(i, unit),
                                           **rows)
            bounds = filter(None, [self._bounds_settled[key], self.unit_series[key].bounds()])
            sticky.update(x=x_span, y=finite_bounds(by, *bounds))
        set_title(self.gamma_plot, f"γ (scale), {self.selector.name(i)}")
        set_title(self.beta_plot, f"β (shift), {self.selector.name(i)}")

    def _draw_background(self, key: str, i: int, steps, values, pts: int, window, first=None,
                         log_x: bool = False):
        """The grey lines of every unit: settled chunks into the backdrop, the
        newest rows into ``all_curves[key]``. Returns the latter's x, y."""
        xs = log10_steps(steps) if log_x else steps
        if window is not None:   # zoomed by hand: only the rows in view, all live
            if log_x:
                window = (10.0 ** window[0], 10.0 ** window[1])
            i0, i1 = np.searchsorted(steps, window)
            rows = slice(max(i0 - 1, 0), i1 + 1)
            shown = values[np.arange(len(steps))[rows]]   # those rows, as an array
            self._settle(key, None)
            keep = kept_rows(steps[rows], background_width(
                steps[rows], None if first is None else first[rows], shown.shape[1], pts // 6))
            x, y = polyline(xs[rows][keep], shown[keep])
            self.all_curves[key].setData(x, y)
            return x, y
        d = values.shape[1]
        k = background_width(steps, first, d, pts // 6)   # about a row per 3 pixels
        keep = kept_rows(steps, k)
        boundary = settled_boundary(len(keep), d, k, steps[-1])
        # Kept rows up to the boundary: the settled part ends at the last of them.
        end = int(np.searchsorted(steps[keep], boundary, "right")) - 1 if boundary else -1
        state = (i, k, int(steps[0]), log_x)
        old = self._settled[key]
        if end < 1:
            self._settle(key, None)
            end = 0
        elif old is None or old[:4] != state or old[4] > boundary:
            # Afresh: a new layer, bucket width, run or step axis.
            self._settle(key, (*state, boundary), polyline(xs[keep[:end + 1]], values[keep[:end + 1]]),
                         add=False)
        elif old[4] < boundary:   # one more chunk (or a few) settled, joined to the last
            start = int(np.searchsorted(steps[keep], old[4], "right")) - 1
            self._settle(key, (*state, boundary),
                         polyline(xs[keep[start:end + 1]], values[keep[start:end + 1]]), add=True)
        live = keep[end:]
        x, y = polyline(xs[live], values[live])
        self.all_curves[key].setData(x, y)
        return x, y

    def _settle(self, key: str, state, xy=None, add: bool = False) -> None:
        """Record ``state`` and draw polyline ``xy`` into the backdrop
        (replacing what it held for ``key`` unless ``add``)."""
        target = backdrop(self.gamma_plot if key == "gamma" else self.beta_plot)
        owner = self.all_curves[key]
        if state is None:
            if self._settled[key] is not None:
                target.set_marks(owner, [])
            self._settled[key] = self._bounds_settled[key] = None
            return
        mark = Mark(*xy, pen=owner.opts["pen"])   # the background curves' pen (light or dark)
        old = self._bounds_settled[key] if add else None
        self._bounds_settled[key] = finite_bounds(xy[1], *filter(None, [old]))
        if add:
            target.add_marks(owner, [mark])
        else:
            target.set_marks(owner, [mark])
        self._settled[key] = state

    def _clear(self) -> None:
        self._clear_curves()
        for sticky in self.ranges.values():
            sticky.reset()
        self.stack.setCurrentIndex(0)

    def _clear_curves(self, *keys) -> None:
        for key in keys or ("gamma", "beta"):
            self.all_curves[key].setData([], [])
            self.unit_series[key].clear()
            self._settle(key, None)
