"""TestTimePanel: the test-time lab. What a BN network does at test time
depends on which statistics normalise it; this panel shows all of them.

Over training: test accuracy with the running averages, the population
statistics, test mini-batches of k, and one example alone in training mode
(it collapses to beta); per layer, how far the running averages lag behind
the population statistics. Below, one test example under each statistic.
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QSplitter,
                               QVBoxLayout, QWidget)

from .base import AFTER, BEFORE, NORMALIZED, POPULATION, RUNNING, Panel, Series, StickyRange, \
    add_curve, finite_bounds, make_plot, set_title
from .selectors import LayerUnitSelector

# (eval column, inspection mode, legend name, colour)
MODES = (("test_accuracy", "running", "running averages", RUNNING),
         ("test_accuracy_population", "population", "population", POPULATION),
         ("test_accuracy_batch", "batch", "test batches of k", BEFORE),
         ("test_accuracy_single", "single", "one alone (= β)", NORMALIZED))
# BN momentum presets, in PyTorch's convention (the weight of the new batch).
MOMENTUM_PRESETS = (("PyTorch 0.1 (course β = 0.9)", 0.1), ("Keras 0.99 (= 0.01 here)", 0.01),
                    ("cumulative average", None))
GAP_FLOOR = 1e-12          # log axis: an exact zero gap is drawn here
INSPECT_INTERVAL = 0.5     # s: while training, look at the example again this often


class TestTimePanel(Panel):
    title = "Test-time lab"
    object_name = "test_time_panel"
    split_wide = 0.9   # the top row's two plots: side by side unless the panel is narrow
    help_text = (
        "Test accuracy under four ways of normalising at test time: the running averages "
        "(μ ← (1 − m)μ + m·μ<sub>B</sub>), the exact population statistics of the training set, "
        "the statistics of test mini-batches of k, and one example alone in training mode, "
        "where x̂ = (x − x)/√(0 + ε) = 0 so every BN output is β. The middle plot is the lag "
        "of the running averages, mean<sub>j</sub> |μ<sub>run</sub> − μ<sub>pop</sub>| / "
        "√(σ²<sub>pop</sub> + ε) and the same for the variance relative to σ²<sub>pop</sub> + ε.")

    settings_requested = Signal(dict)     # live settings to change, e.g. {"eval_batch_size": 8}
    population_requested = Signal()       # recompute the population statistics now
    inspect_requested = Signal(int)       # look at test example i with the current network

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selector = LayerUnitSelector(with_unit=False)
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 100000)
        self.k_spin.setSpecialValueText("k = training batch")
        self.k_spin.setPrefix("k = ")
        self.k_spin.setKeyboardTracking(False)
        self.k_spin.setToolTip("Size k of the test mini-batches normalised by their own statistics "
                               "(from 2; the lowest setting uses the training batch size)")
        self.population_spin = QSpinBox()
        self.population_spin.setRange(0, 1_000_000)
        self.population_spin.setSingleStep(50)
        self.population_spin.setKeyboardTracking(False)
        self.population_spin.setPrefix("population every ")
        self.population_spin.setSuffix(" steps")
        self.population_spin.setSpecialValueText("population at every evaluation")
        self.population_spin.setToolTip("Recompute the population statistics (one pass over the "
                                        "training set) at most this often; in between, the last ones "
                                        "are used, as a precise-BN schedule would")
        self.momentum_combo = QComboBox()
        for name, value in MOMENTUM_PRESETS:
            self.momentum_combo.addItem(name, value)
        self.momentum_combo.addItem("other (set in Configuration)", "other")
        self.momentum_combo.setToolTip("BN momentum of the running averages; applies live")
        self.population_button = QPushButton("Recompute population")
        self.population_button.setToolTip("Compute the exact statistics of the training set with the "
                                          "current weights now")
        controls = QHBoxLayout()
        for w in (self.selector, self.k_spin, self.momentum_combo, self.population_spin,
                  self.population_button):
            controls.addWidget(w)
        controls.addStretch(1)
        controls.addWidget(self.help_button())

        self.accuracy_plot = make_plot("Test accuracy by the statistics used", "step", "accuracy")
        self.accuracy_range = StickyRange(self.accuracy_plot, steps_x=True, fixed_y=(-0.1, 1.1),
                                          on_user_range=self.redraw)
        self.accuracy_series = {}
        for key, _, name, color in MODES:
            self.accuracy_series[key] = Series(self.accuracy_plot,
                                               add_curve(self.accuracy_plot, name, color, width=2))
        self.gap_plot = make_plot("Lag of the running averages", "step", "relative gap (log scale)")
        self.gap_plot.getPlotItem().setLogMode(y=True)
        self.gap_range = StickyRange(self.gap_plot, steps_x=True, on_user_range=self.redraw)
        self.gap_series = {key: Series(self.gap_plot, add_curve(self.gap_plot, name, color, width=2))
                           for key, name, color in (("mean", "mean", AFTER), ("var", "variance", BEFORE))}
        self.inspect = self._build_inspector()

        # Accuracy and lag side by side above the example: two rows keep the
        # panel short enough to share the window's height with its neighbours.
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.accuracy_plot, self.gap_plot):
            w.setMinimumSize(150, 100)
            self.splitter.addWidget(w)
        rows = QSplitter(Qt.Orientation.Vertical)
        rows.addWidget(self.splitter)
        rows.addWidget(self.inspect)
        rows.setStretchFactor(0, 3)
        rows.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(rows, 1)
        self.inspection = None
        self._last_inspect = 0.0
        self._inspect_timer = QTimer(self)
        self._inspect_timer.setSingleShot(True)
        self._inspect_timer.timeout.connect(self.request_inspection)
        self.selector.selection_changed.connect(self._refit_and_redraw)
        self.k_spin.valueChanged.connect(self._on_k_spin_changed)
        self.population_spin.valueChanged.connect(self._on_population_spin_changed)
        self.momentum_combo.activated.connect(self._on_momentum_combo_activated)
        self.population_button.clicked.connect(self.population_requested)
        self.example_spin.valueChanged.connect(self.request_inspection)
        self.random_button.clicked.connect(self._on_random_clicked)

    def _build_inspector(self) -> QWidget:
        box = QWidget()
        self.example_spin = QSpinBox()
        self.example_spin.setPrefix("test example ")
        self.example_spin.setKeyboardTracking(False)
        self.example_spin.setToolTip("Which test example to inspect (numbered from 0)")
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("Inspect a test example picked at random")
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        self.verdict.setToolTip("The class each kind of statistic predicts for this example")
        row = QHBoxLayout()
        row.addWidget(self.example_spin)
        row.addWidget(self.random_button)
        row.addWidget(self.verdict, 1)
        self.image_plot = make_plot("Example", "", "", legend=False, grid_on_top=True)
        self.image_plot.setAspectLocked(True)
        self.image_plot.getPlotItem().invertY(True)
        self.image_plot.setMinimumSize(90, 90)
        self.image_plot.setMaximumWidth(260)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image_plot.addItem(self.image)
        self.image_plot.hide()   # until an example with an image arrives
        self.features_label = QLabel("")
        self.features_label.setWordWrap(True)
        # No legend: the bars take the colours of the accuracy curves above.
        self.probs_plot = make_plot("Class probabilities", "class", "probability", legend=False)
        self.probs_plot.setToolTip("Bars in the colours of the accuracy curves: running averages, "
                                   "population, test batch of k, the example alone")
        self.probs_plot.setMinimumSize(150, 90)
        self.probs_plot.getPlotItem().getViewBox().setRange(yRange=(0, 1.05), padding=0)
        self.bars = {}
        for j, (_, mode, name, color) in enumerate(MODES):
            bar = pg.BarGraphItem(x=[], height=[], width=0.2, brush=pg.mkBrush(color), name=name)
            self.probs_plot.addItem(bar)
            self.bars[mode] = bar
        plots = QHBoxLayout()
        plots.addWidget(self.image_plot)
        plots.addWidget(self.features_label)
        plots.addWidget(self.probs_plot, 1)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addLayout(plots, 1)
        return box

    def plot_widgets(self) -> list:
        return [self.accuracy_plot, self.gap_plot, self.image_plot, self.probs_plot]

    def sticky_ranges(self) -> list:
        return [self.accuracy_range, self.gap_range]

    # ------------------------------------------------------------ drawing
    def _draw(self, frame) -> None:
        cfg = frame.config
        self.selector.set_layers(cfg.hidden, cfg.bn_layers(), cfg.bn_placement)
        self._sync_controls(frame)
        h = frame.history
        steps = h.steps["step"]
        x_span = (float(steps[0]), float(steps[-1])) if len(steps) else None
        ev = h.evals
        n = len(ev["step"])
        self.accuracy_range.update(x=x_span)
        self.gap_range.update(x=x_span)
        i = self.selector.layer()
        pts, window = self.accuracy_range.points(), self.accuracy_range.window()
        if self._changed("accuracy", (n, ev["step"][-1] if n else None, pts, window)):
            for key, series in self.accuracy_series.items():
                series.set_data(ev["step"], ev[key] if key in ev else np.full(n, np.nan), pts, window)
        pts, window = self.gap_range.points(), self.gap_range.window()
        if self._changed("gap", (n, ev["step"][-1] if n else None, i, pts, window)):
            for key, series in self.gap_series.items():
                col = ev.get(f"L{i}.ema_gap_{key}")
                if col is None:
                    series.clear()
                else:
                    series.set_data(ev["step"], np.maximum(col, GAP_FLOOR), pts, window, key=i)
            self.gap_range.update(y=finite_bounds(*(s.bounds() or () for s in self.gap_series.values())))
        has_bn = i < len(cfg.hidden) and cfg.bn_layers()[i]
        set_title(self.gap_plot, f"Lag of the running averages, layer {i + 1}" if has_bn
                  else f"Layer {i + 1} has no BN: no running averages")
        if self._changed("test_size", frame.n_test):
            self.set_test_size(frame.n_test)
        if frame.record is not None and frame.n_test >= 2:
            self._schedule_inspection()

    def _sync_controls(self, frame) -> None:
        cfg = frame.config
        for spin, value in ((self.k_spin, max(1, cfg.eval_batch_size)),
                            (self.population_spin, cfg.population_every)):
            blocked = spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(blocked)
        index = next((j for j, (_, v) in enumerate(MOMENTUM_PRESETS) if v == cfg.bn_momentum),
                     len(MOMENTUM_PRESETS))
        self.momentum_combo.setCurrentIndex(index)
        ev = frame.evaluation
        k = ev.eval_batch_size if ev is not None else 0
        set_title(self.accuracy_plot, f"Test accuracy by the statistics used (k = {k})" if k
                  else "Test accuracy by the statistics used")

    def _schedule_inspection(self) -> None:
        """Look at the example again with the newer network, a few times a second."""
        if self._inspect_timer.isActive():
            return
        wait = max(0.0, INSPECT_INTERVAL - (time.monotonic() - self._last_inspect))
        self._inspect_timer.start(int(wait * 1000))

    def request_inspection(self, *_args) -> None:
        self._last_inspect = time.monotonic()
        self.inspect_requested.emit(self.example_spin.value())

    def set_inspection(self, ins) -> None:
        """Show an ExampleInspection (computed by the worker)."""
        self.inspection = ins
        self.example_spin.blockSignals(True)
        self.example_spin.setValue(ins.index)
        self.example_spin.blockSignals(False)
        if ins.image is not None:
            image = np.asarray(ins.image, dtype=np.float64)
            # Ink dark on white, as the digit was written.
            self.image.setImage(image, levels=(float(image.max()) or 1.0, float(image.min())))
            h, w = image.shape[:2]
            self.image_plot.getPlotItem().getViewBox().setRange(xRange=(0, w), yRange=(0, h), padding=0)
            self.image_plot.show()
            self.features_label.hide()
        else:
            self.image_plot.hide()
            self.features_label.show()
            self.features_label.setText("features: " + ", ".join(f"{v:.3g}" for v in ins.features[:12]))
        names = ins.class_names
        x = np.arange(len(names), dtype=np.float64)
        for j, (_, mode, _, _) in enumerate(MODES):
            heights = np.nan_to_num(np.asarray(ins.probs(mode), dtype=np.float64))
            self.bars[mode].setOpts(x=x + (j - 1.5) * 0.2, height=heights, width=0.2)
        self.probs_plot.getPlotItem().getViewBox().setRange(xRange=(-0.6, len(names) - 0.4), padding=0)
        ticks = [(float(c), str(name)) for c, name in zip(x, names)]
        self.probs_plot.getPlotItem().getAxis("bottom").setTicks([ticks])
        guesses = ", ".join(f"{mode}{' (k=%d)' % ins.k if mode == 'batch' else ''} → "
                            f"{names[ins.predicted(mode)]}" for _, mode, _, _ in MODES)
        collapse = ("" if ins.single_beta_gap != ins.single_beta_gap else
                    f" Alone in training mode every BN output is β (largest |output − β| = "
                    f"{ins.single_beta_gap:.1g}), so every example gets the same answer.")
        self.verdict.setText(f"True class {names[ins.label]}. Predicted: {guesses}.{collapse}")
        set_title(self.image_plot, f"Test example {ins.index} (class {names[ins.label]})")
        set_title(self.probs_plot, f"Class probabilities at step {ins.step}")

    def set_test_size(self, n: int) -> None:
        """The number of test examples (bounds the example and k spin boxes)."""
        self.example_spin.setRange(0, max(0, n - 1))
        self.k_spin.setRange(1, max(2, n))

    # ----------------------------------------------------------- handlers
    def _on_k_spin_changed(self, value: int) -> None:
        self.settings_requested.emit({"eval_batch_size": 0 if value < 2 else value})

    def _on_population_spin_changed(self, value: int) -> None:
        self.settings_requested.emit({"population_every": int(value)})

    def _on_momentum_combo_activated(self, index: int) -> None:
        value = self.momentum_combo.itemData(index)
        if value != "other":
            self.settings_requested.emit({"bn_momentum": value})

    def _on_random_clicked(self) -> None:
        top = self.example_spin.maximum()
        self.example_spin.setValue(int(np.random.default_rng().integers(0, top + 1)))

    def _clear(self) -> None:
        for s in (*self.accuracy_series.values(), *self.gap_series.values()):
            s.clear()
        for sticky in self.sticky_ranges():
            sticky.reset()
        for bar in self.bars.values():
            bar.setOpts(x=[], height=[])
        self.image.clear()
        self.verdict.setText("")
        self.inspection = None
