"""TestTimePanel: the test-time lab. What a BN network does at test time
depends on which statistics normalise it; this panel shows all of them.

Over training: test accuracy with the running averages, the population
statistics, test mini-batches of k, and one example alone in training mode
(it collapses to beta), beside the accuracy on the training batches; per
layer, how far the running averages lag behind the population statistics
(in compare mode, for every run). Below, one test example under each
statistic.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout

from ...engine.settings import NORMS, RUNNING_STAT_NORMS
from .base import BEFORE, NORMALIZED, POPULATION, RUNNING, Panel, Series, StickyRange, add_curve, \
    finite_bounds, make_plot, set_legend, set_title
from .compare import MAX_RUNS, RUN_COLORS
from ..plotkit.downsampling import trailing_mean
from .example_view import ExampleView, InspectionPacer
from .lab_controls import MOMENTUM_PRESETS, LabControls  # noqa: F401 (presets: part of the API)
from .selectors import LayerUnitSelector

# (eval column, inspection mode, legend name, colour)
MODES = (("test_accuracy", "running", "running averages", RUNNING),
         ("test_accuracy_population", "population", "population", POPULATION),
         ("test_accuracy_batch", "batch", "test batches of k", BEFORE),
         ("test_accuracy_single", "single", "one alone (= β)", NORMALIZED))
TRAIN_COLOR = "#8c564b"    # accuracy on the training mini-batches
SMOOTH_STEPS = 25
GAP_FLOOR = 1e-12          # log axis: an exact zero gap is drawn here


class TestTimePanel(Panel):
    title = "Test-time lab"
    object_name = "test_time_panel"
    split_wide = 0.9   # the top row's two plots: side by side unless the panel is narrow
    help_text = (
        "Test accuracy under four ways of normalising at test time: the running averages "
        "(μ ← (1 − m)μ + m·μ<sub>B</sub>), the exact population statistics of the training set, "
        "the statistics of test mini-batches of k, and one example alone in training mode, "
        "where in a dense layer x̂ = (x − x)/√(0 + ε) = 0 so every BN output is β (a "
        "convolution block still normalises the example over its own pixels). Beside it, the lag of the "
        "running averages, mean<sub>j</sub> |μ<sub>run</sub> − μ<sub>pop</sub>| / "
        "√(σ²<sub>pop</sub> + ε) and the same for the variance relative to σ²<sub>pop</sub> + ε.")

    settings_requested = Signal(dict)     # live settings to change, e.g. {"eval_batch_size": 8}
    population_requested = Signal()       # recompute the population statistics now
    inspect_requested = Signal(int, int)  # test example, run (0 = A)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selector = LayerUnitSelector(with_unit=False)
        self.controls = LabControls()
        # The controls tests and the window reach directly.
        self.k_spin, self.momentum_combo = self.controls.k_spin, self.controls.momentum_combo
        self.population_spin = self.controls.population_spin
        self.population_button = self.controls.population_button
        self.run_combo = self.controls.run_combo
        row = self.control_row(self.selector, self.controls)

        self.accuracy_plot = make_plot("Test accuracy by the statistics used", "step", "accuracy")
        self.accuracy_range = StickyRange(self.accuracy_plot, steps_x=True, fixed_y=(-0.1, 1.1),
                                          on_user_range=self.redraw)
        self.accuracy_series = {key: Series(self.accuracy_plot,
                                            add_curve(self.accuracy_plot, name, color, width=2))
                                for key, _, name, color in MODES}
        self.train_series = Series(self.accuracy_plot, add_curve(
            self.accuracy_plot, "training batches", TRAIN_COLOR, width=1))   # a trailing mean
        self.gap_plot = make_plot("Lag of the running averages", "step", "relative gap (log scale)")
        self.gap_plot.getPlotItem().setLogMode(y=True)
        self.gap_range = StickyRange(self.gap_plot, steps_x=True, on_user_range=self.redraw)
        # One run: the mean's and the variance's lag. Compare mode: a pair per
        # run, in the run's colour, the variance solid and the mean dashed.
        self.gap_series = []
        for j in range(MAX_RUNS):
            pair = {}
            for key, style, width in (("var", Qt.SolidLine, 2), ("mean", Qt.DashLine, 1.5)):
                curve = add_curve(self.gap_plot, "", RUN_COLORS[j], width=width)
                curve.setPen(pg.mkPen(RUN_COLORS[j], width=width, style=style))
                curve.opts["pen"] = curve.pen()
                pair[key] = Series(self.gap_plot, curve)
            self.gap_series.append(pair)
        self.example = ExampleView([(mode, color) for _, mode, _, color in MODES])
        self.example_spin, self.verdict = self.example.example_spin, self.example.verdict

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.accuracy_plot, self.gap_plot):
            w.setMinimumSize(150, 100)
            self.splitter.addWidget(w)
        rows = QSplitter(Qt.Orientation.Vertical)
        rows.addWidget(self.splitter)
        rows.addWidget(self.example)
        rows.setStretchFactor(0, 3)
        rows.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(rows, 1)
        self._gap_legend = None
        self._inspections = InspectionPacer(self, "_request_inspection")
        self.selector.selection_changed.connect(self._refit_and_redraw)
        self.controls.settings_requested.connect(self.settings_requested)
        self.controls.population_requested.connect(self.population_requested)
        self.controls.run_chosen.connect(self._on_controls_run_chosen)
        self.example.example_chosen.connect(self.request_inspection)

    @property
    def inspection(self):
        return self.example.inspection

    def absence(self, frame) -> str | None:
        if any(run.config.has_running_stats() for run in (frame, *frame.others)):
            return None
        normed = [run.config.norm for run in (frame, *frame.others) if any(run.config.bn_layers())]
        if normed:   # (in compare mode, every run's: LayerNorm in A, GroupNorm in B...)
            names = " and ".join(dict.fromkeys(NORMS[n] for n in normed))
            verb = "normalises" if len(set(normed)) == 1 else "normalise"
            return (f"{names} {verb} each example by its own statistics, the same in training "
                    "and inference mode, so there is nothing to compare. BatchNorm, Batch Renorm "
                    "and noisy BN keep running statistics.")
        return ("without batch norm a network is the same in training and inference mode, so "
                "there is nothing to compare. Turn batch norm on in the Configuration.")

    def plot_widgets(self) -> list:
        return [self.accuracy_plot, self.gap_plot, self.example.image_plot, self.example.probs_plot]

    def sticky_ranges(self) -> list:
        return [self.accuracy_range, self.gap_range]

    # ------------------------------------------------------------ drawing
    def _draw(self, frame) -> None:
        runs = (frame, *frame.others)[:MAX_RUNS]
        cfg = frame.config
        self.selector.set_network(cfg)
        labels = [r.label for r in runs] if len(runs) > 1 else []
        if self._changed("controls", (cfg.eval_batch_size, cfg.population_every, cfg.bn_momentum,
                                      tuple(labels))):
            self.controls.sync(cfg, labels)
        run = runs[min(self.controls.run_index(), len(runs) - 1)]
        steps = frame.history.steps["step"]
        x_span = (float(steps[0]), float(steps[-1])) if len(steps) else None
        self.accuracy_range.update(x=x_span)
        self.gap_range.update(x=x_span)
        self._draw_accuracy(run, len(runs) > 1)
        self._draw_gaps(runs)
        if self._changed("test_size", frame.n_test):
            self.example.set_test_size(frame.n_test)
            self.controls.set_test_size(frame.n_test)
        if frame.record is not None and frame.n_test >= 2:
            self._schedule_inspection()

    def _draw_accuracy(self, run, compare: bool) -> None:
        ev, st = run.history.evals, run.history.steps
        n = len(ev["step"])
        pts, window = self.accuracy_range.points(), self.accuracy_range.window()
        if self._changed("accuracy", (run.label, n, ev["step"][-1] if n else None, len(st["step"]),
                                      pts, window)):
            for key, series in self.accuracy_series.items():
                series.set_data(ev["step"], ev[key] if key in ev else np.full(n, np.nan), pts, window,
                                key=run.label)
            self.train_series.set_data(st["step"], trailing_mean(st["batch_accuracy"], SMOOTH_STEPS,
                                                                 st["step"], st["step_count"]),
                                       pts, window, key=run.label, count=st["step_count"],
                                       first=st["step_first"])
        k = run.evaluation.eval_batch_size if run.evaluation is not None else 0
        who = f"{run.label.split(':')[0]}: " if compare else ""
        set_title(self.accuracy_plot, f"{who}Test accuracy by the statistics used"
                  + (f" (k = {k})" if k else ""))

    def _draw_gaps(self, runs) -> None:
        i = self.selector.layer()
        compare = len(runs) > 1
        legend = tuple(r.label for r in runs) if compare else ("variance", "mean")
        if legend != self._gap_legend:
            self._gap_legend = legend
            if compare:
                entries = [(self.gap_series[j]["var"].item, label) for j, label in enumerate(legend)]
            else:
                entries = [(self.gap_series[0]["var"].item, "variance"),
                           (self.gap_series[0]["mean"].item, "mean")]
            set_legend(self.gap_plot, entries)
        pts, window = self.gap_range.points(), self.gap_range.window()
        key = tuple((len(r.history.evals["step"]), r.step) for r in runs)
        if self._changed("gap", (key, i, pts, window)):
            for j, pair in enumerate(self.gap_series):
                ev = runs[j].history.evals if j < len(runs) else None
                for name, series in pair.items():
                    col = None if ev is None else ev.get(f"L{i}.ema_gap_{name}")
                    if col is None:
                        series.clear()
                        series.item.setVisible(False)
                    else:
                        series.item.setVisible(True)
                        series.set_data(ev["step"], np.maximum(col, GAP_FLOOR), pts, window, key=i)
            self.gap_range.update(y=finite_bounds(*(s.bounds() or () for pair in self.gap_series
                                                    for s in pair.values())))
        cfg = runs[0].config
        has_bn = i < len(cfg.layer_widths()) and cfg.norm_kinds()[i] in RUNNING_STAT_NORMS
        what = " (solid: variance, dashed: mean)" if compare else ""
        set_title(self.gap_plot, f"Lag of the running averages, {self.selector.name(i)}{what}" if has_bn
                  else f"{self.selector.name(i).capitalize()} has no BN: no running averages")

    # -------------------------------------------------------- inspection
    def _schedule_inspection(self) -> None:
        self._inspections.schedule()

    def request_inspection(self, *_args) -> None:
        self._inspections.request_now()

    def _request_inspection(self) -> None:
        self.inspect_requested.emit(self.example.index(), self.controls.run_index())

    def set_inspection(self, ins) -> None:
        """Show an ExampleInspection (computed by the worker) of the run chosen
        here (the feature maps panel asks for the run the window shows)."""
        if ins.run != self.controls.run_index():
            return
        label = self.run_combo.currentText() if self.run_combo.isVisibleTo(self) else ""
        self.example.set_inspection(ins, label.split(":")[0])

    def _on_controls_run_chosen(self, _index: int) -> None:
        self._refit_and_redraw()
        self.request_inspection()

    def _clear(self) -> None:
        for s in (*self.accuracy_series.values(), self.train_series,
                  *(s for pair in self.gap_series for s in pair.values())):
            s.clear()
        for sticky in self.sticky_ranges():
            sticky.reset()
        self._gap_legend = None
        self.example.clear()
