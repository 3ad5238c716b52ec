"""RunningStatsPanel: each batch's mean and variance of one unit against
the running (exponential moving average) estimate and the population value."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QGraphicsItem, QLabel, QVBoxLayout)

from ...engine.history import column
from ...engine.norms import renorm_limits
from ...engine.settings import NORMS
from .base import AFTER, BEFORE, LIGHT, NORMALIZED, POPULATION, RUNNING, Mark, Panel, Series, \
    LiveCurve, StickyRange, add_curve, \
    backdrop, finite_bounds, finite_or_nan, history_rows, log_steps_check, make_plot, \
    set_legend, set_log_steps, set_title, step_span
from ..plotkit.downsampling import log10_steps
from .selectors import LayerUnitSelector

POPULATION_EDGE = "#1b5e20"
POPULATION_DOTS = (7, POPULATION, POPULATION_EDGE)   # diameter (pixels), fill, edge

POPULATION_NOTE = ("batch: this step's mini-batch, normalised with its biased variance; "
                   "population: the whole training set at the current weights (precise BN).")


def momentum_caption(m: float | None, renorm: bool = False) -> str:
    """The momentum in the three conventions users meet."""
    if m is None:
        rule = "running = cumulative average of all batches so far (PyTorch momentum=None)."
    else:
        rule = (f"running ← (1 − m)·running + m·batch with m = {m:g} (PyTorch convention), "
                f"the same as course β = {1 - m:g} or Keras momentum = {1 - m:g}.")
    if renorm:   # the paper averages standard deviations, not variances
        rule += " Batch Renorm averages σ_B, not σ²_B: the running variance is σ² − ε."
    return f"{rule} {POPULATION_NOTE}"


CAPTION_MIN_HEIGHT = 380   # px


MARK_PIECES = 32   # appended pieces of population points before they are merged into one


class RunningStatsPanel(Panel):
    """Batch mean/var (noisy) vs running mean/var (smooth) vs population."""

    title = "Running statistics"
    object_name = "running_stats_panel"
    help_text = (
        "One unit's batch mean μ<sub>B</sub> and variance σ²<sub>B</sub> at every step (noisy) "
        "against the running averages used at test time: running ← (1 − m)·running + m·batch, "
        "with PyTorch's momentum m (Keras and the course write the same average with 1 − m). "
        "Where a point stands for several steps, the batch line is their mean and its light band "
        "their min to max; the running line is its value at the last of them. "
        "The dots are the exact statistics of the whole training set (population). "
        "Batch Renorm: a third plot shows r = σ<sub>B</sub>/σ and d = (μ<sub>B</sub> − μ)/σ "
        "between their limits.")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selector = LayerUnitSelector(with_unit=True)
        self.log_steps = log_steps_check(self._on_log_steps_toggled)
        controls = self.control_row(self.selector, self.log_steps)
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #333;")
        self.caption.setToolTip("How the running statistics are updated after each batch")
        self.mean_plot = make_plot("Mean", "step", "mean")
        self.var_plot = make_plot("Variance", "step", "variance")
        self.batch_curves, self.running_curves, self.population_points = {}, {}, {}
        for key, plot in (("mean", self.mean_plot), ("var", self.var_plot)):
            batch = add_curve(plot, "batch", BEFORE, width=1)
            batch.setOpacity(0.7)
            self.batch_curves[key] = batch
            self.running_curves[key] = add_curve(plot, "running", RUNNING, width=2.5)
            # A ScatterPlotItem of its own: its legend sample takes the
            # marker colour from the item (a PlotDataItem's may not). It holds
            # the points, but the backdrop draws them (they change only at an
            # evaluation): painting a ScatterPlotItem each frame runs Python.
            points = pg.ScatterPlotItem(symbol="o", size=7, brush=pg.mkBrush(POPULATION),
                                        pen=pg.mkPen(POPULATION_EDGE), name="population")
            points.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
            plot.addItem(points)
            self.population_points[key] = points
        self.ranges = {key: StickyRange(plot, steps_x=True, on_user_range=self.redraw)
                       for key, plot in (("mean", self.mean_plot), ("var", self.var_plot))}
        self.series = {key: (Series(plot, self.batch_curves[key], envelope=True),
                             Series(plot, self.running_curves[key]))
                       for key, plot in (("mean", self.mean_plot), ("var", self.var_plot))}
        self._dots = {}   # key -> (x, y) of the population points in the backdrop
        self._pieces = {}   # key -> how many marks hold them
        for key, plot in (("mean", self.mean_plot), ("var", self.var_plot)):
            backdrop(plot).add_owner(self.population_points[key], self.population_points[key])
        # Batch Renorm's r and d of the unit, between the schedule's limits (shown for Renorm only).
        self.rd_plot = make_plot("Batch Renorm's r and d", "step", "r, d")
        self.rd_curves = {"r": add_curve(self.rd_plot, "r = σ_B/σ", NORMALIZED, width=2.5),
                          "d": add_curve(self.rd_plot, "d = (μ_B − μ)/σ", AFTER, width=2.5)}
        self.rd_series = {key: Series(self.rd_plot, curve, envelope=True)
                          for key, curve in self.rd_curves.items()}
        dashed = pg.mkPen(LIGHT, width=1.5, style=Qt.DashLine)
        self.limit_curves = []
        for k in range(4):   # r max, 1/r max, d max, −d max
            self.limit_curves.append(LiveCurve(dashed, name="limits" if k == 0 else None))
            self.rd_plot.addItem(self.limit_curves[-1])
        self.rd_range = StickyRange(self.rd_plot, steps_x=True, on_user_range=self.redraw)
        self.plots_or_message(self.mean_plot, self.var_plot, self.rd_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.caption)
        layout.addWidget(self.stack, 1)
        self._legend_key = None
        self._bounds = {"mean": (), "var": ()}        # curves' y, for the view's range
        self._pop_bounds = {"mean": (), "var": ()}    # population points' y
        self.selector.selection_changed.connect(self._refit_and_redraw)

    def resizeEvent(self, event) -> None:
        # A short panel keeps its rows for the plots; the caption is also the tooltip.
        self.caption.setVisible(event.size().height() >= CAPTION_MIN_HEIGHT)
        super().resizeEvent(event)

    def absence(self, frame) -> str | None:
        cfg = frame.config
        if cfg.has_running_stats():
            return None
        if any(cfg.bn_layers()):
            return (f"{NORMS[cfg.norm]} keeps no running statistics: each example is normalised "
                    "by its own, alike in training and at test time.")
        return "this run has no batch norm, so no batch or running statistics."

    def plot_widgets(self) -> list:
        return [self.mean_plot, self.var_plot, self.rd_plot]

    def _on_log_steps_toggled(self, checked: bool) -> None:
        set_log_steps(self.plot_widgets(), checked)
        self._refit_and_redraw()

    def sticky_ranges(self) -> list:
        return [*self.ranges.values(), self.rd_range]

    def _update_legends(self, unbiased: bool) -> None:
        if unbiased == self._legend_key:
            return
        # Which variance each series is: the batch's normalises (biased); the
        # running one may be stored unbiased, as PyTorch does.
        running_var = "running (unbiased)" if unbiased else "running (biased)"
        set_legend(self.mean_plot, [
            (self.batch_curves["mean"], "batch"),
            (self.running_curves["mean"], "running"),
            (self.population_points["mean"], "population")])
        set_legend(self.var_plot, [
            (self.batch_curves["var"], "batch (biased)"),
            (self.running_curves["var"], running_var),
            (self.population_points["var"], "population (biased)")])
        self._legend_key = unbiased

    def _draw(self, frame) -> None:
        cfg = frame.config
        self.selector.set_network(cfg)
        i, unit = self.selector.layer(), self.selector.unit()
        caption = momentum_caption(cfg.bn_momentum, cfg.norm == "renorm")
        if caption != self.caption.text():
            self.caption.setText(caption)
        if i >= len(cfg.layer_widths()) or not cfg.bn_layers()[i]:
            self.message.setText(f"{self.selector.name(i).capitalize()} has no batch norm: "
                                 "no running statistics")
            self.stack.setCurrentWidget(self.message)
            self._clear_curves()
            return
        self.stack.setCurrentIndex(0)
        # Batch Renorm averages the biased σ_B, whatever the setting says (see norms.BatchRenorm).
        self._update_legends(cfg.unbiased_running_var and cfg.norm != "renorm")
        h = frame.history
        steps = h.steps["step"]
        ev_steps = h.evals["step"]
        log_x = self.log_steps.isChecked()
        x_span = step_span(steps, log_x)
        ev_key = (len(ev_steps), int(ev_steps[-1]) if len(ev_steps) else None, i, unit, log_x)
        what = "z" if cfg.bn_placement == "before" else "g(z)"
        for key, plot in (("mean", self.mean_plot), ("var", self.var_plot)):
            sticky = self.ranges[key]
            pts, window = sticky.points(), sticky.window()
            changed = False
            if self._changed(key, (len(steps), x_span, i, unit, pts, window)):
                changed = True
                batch = h.unit(i, f"batch_{key}", unit)
                running = h.unit(i, f"running_{key}", unit)
                batch_series, running_series = self.series[key]
                if batch is None or len(steps) == 0:
                    batch_series.clear()
                    running_series.clear()
                    self._bounds[key] = ()
                else:
                    batch_series.set_data(steps, batch, pts, window, key=(i, unit),
                                          **history_rows(h.steps, f"L{i}.batch_{key}", unit))
                    running_series.set_data(steps, running, pts, window, key=(i, unit),
                                            **history_rows(h.steps, f"L{i}.running_{key}"))
                    self._bounds[key] = tuple(filter(None, [batch_series.bounds(),
                                                            running_series.bounds()]))
            if self._changed(f"population_{key}", ev_key):
                changed = True
                name = f"L{i}.population_{key}"
                pop = column(h.evals, name, (unit,)) if name in h.evals else None
                if pop is None or len(ev_steps) == 0:
                    self._set_population(key, np.empty(0), np.empty(0))
                    self._pop_bounds[key] = ()
                else:
                    y = finite_or_nan(pop)
                    x = log10_steps(ev_steps) if log_x else ev_steps.astype(np.float64)
                    ok = np.isfinite(y) & np.isfinite(x)  # scatter: drop NaN, not draw nothing
                    self._set_population(key, x[ok], y[ok])
                    self._pop_bounds[key] = (y[ok],)
            if changed:
                sticky.update(x=x_span, y=finite_bounds(*self._bounds[key], *self._pop_bounds[key]))
            name = "mean" if key == "mean" else "variance"
            set_title(plot, f"{name} of {what}, {self.selector.name(i)}, {self.selector.unit_word()} {unit}")
        self.rd_plot.setVisible(cfg.norm == "renorm")
        if cfg.norm == "renorm":
            self._draw_r_and_d(cfg, h, steps, x_span, log_x, i, unit)

    def _draw_r_and_d(self, cfg, h, steps, x_span, log_x: bool, i: int, unit: int) -> None:
        """r and d of the unit at every step, and the limits of the step's
        schedule: 1/r max and r max, −d max and d max (a record's step s used
        the limits of training step s − 1)."""
        sticky = self.rd_range
        pts, window = sticky.points(), sticky.window()
        if not self._changed("rd", (len(steps), x_span, i, unit, pts, window)):
            return
        if len(steps) == 0 or f"L{i}.renorm_r" not in h.steps:
            for series in self.rd_series.values():
                series.clear()
            for curve in self.limit_curves:
                curve.setData([], [])
            return
        bounds = []
        for key, series in self.rd_series.items():
            series.set_data(steps, h.unit(i, f"renorm_{key}", unit), pts, window, key=(i, unit),
                            **history_rows(h.steps, f"L{i}.renorm_{key}", unit))
            bounds.append(series.bounds())
        # The schedule is piecewise linear: its corners are enough.
        first, last = int(steps[0]), int(steps[-1])
        corners = np.unique(np.clip([first, cfg.renorm_warmup + 1, cfg.renorm_warmup + 1 + cfg.renorm_ramp,
                                     last], first, last)).astype(np.float64)
        r_max, d_max = renorm_limits(corners - 1, cfg.renorm_rmax, cfg.renorm_dmax, cfg.renorm_warmup,
                                     cfg.renorm_ramp)
        x = log10_steps(corners) if log_x else corners
        for curve, y in zip(self.limit_curves, (r_max, 1.0 / r_max, d_max, -d_max)):
            curve.setData(x, y)
        sticky.update(x=x_span, y=finite_bounds(*filter(None, bounds), r_max, -d_max))
        sel = self.selector
        set_title(self.rd_plot, f"Batch Renorm's r and d, {sel.name(i)}, {sel.unit_word()} {unit}")

    def _set_population(self, key: str, x: np.ndarray, y: np.ndarray) -> None:
        """The population points: on the scatter (its data and legend), and
        drawn by the backdrop, only the new ones when they were appended.
        Appended pieces hold copies of their own points (not views of the
        whole series) and are merged into one every MARK_PIECES, so the cost
        of a long run grows with its evaluations, not with their square."""
        old = self._dots.get(key)
        if old is not None and len(old[0]) == len(x) and np.array_equal(x, old[0]) \
                and np.array_equal(y, old[1]):
            return   # no new evaluation: nothing to redo
        points = self.population_points[key]
        points.setData(x=x, y=y)
        target = backdrop(self.mean_plot if key == "mean" else self.var_plot)
        self._dots[key] = (x, y)
        n = 0 if old is None else len(old[0])
        pieces = self._pieces.get(key, 0)
        if 0 < n < len(x) and pieces < MARK_PIECES and np.array_equal(x[:n], old[0]) \
                and np.array_equal(y[:n], old[1]):
            target.add_marks(points, [Mark(x[n:].copy(), y[n:].copy(), dots=POPULATION_DOTS)])
            self._pieces[key] = pieces + 1
        else:
            target.set_marks(points, [Mark(x.copy(), y.copy(), dots=POPULATION_DOTS)] if len(x) else [])
            self._pieces[key] = 1

    def _clear_curves(self) -> None:
        self._keys.clear()
        for key in ("mean", "var"):
            for series in self.series[key]:
                series.clear()
            self._set_population(key, np.empty(0), np.empty(0))
            self._bounds[key] = self._pop_bounds[key] = ()
        for series in self.rd_series.values():
            series.clear()
        for curve in self.limit_curves:
            curve.setData([], [])

    def _clear(self) -> None:
        self._clear_curves()
        for sticky in self.sticky_ranges():
            sticky.reset()
        self.caption.setText("")
        self.stack.setCurrentIndex(0)
