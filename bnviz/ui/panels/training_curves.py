"""TrainingCurvesPanel: mini-batch loss, and test accuracy under the three
ways a BN network can be evaluated."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QSplitter, QVBoxLayout

from .base import AFTER, BEFORE, MIN_SETTLE_ROWS, POPULATION, RUNNING, Panel, Series, \
    StickyRange, add_curve, history_rows, log_steps_check, make_plot, set_log_steps, set_title, \
    step_span

# Accuracy markers only while they are at least this many pixels apart.
MARKER_SPACING = 6

# (history column, legend name, colour)
ACCURACY_SERIES = (
    ("test_accuracy", "running statistics", RUNNING),
    ("test_accuracy_batch", "test batches' own statistics", BEFORE),
    ("test_accuracy_population", "population (precise BN)", POPULATION),
)


class TrainingCurvesPanel(Panel):
    """Loss against step; test accuracy against step."""

    title = "Training curves"
    object_name = "training_curves_panel"
    help_text = (
        "Top: the mini-batch loss L = −(1/B) Σ<sub>i</sub> log p(y<sub>i</sub> | x<sub>i</sub>) at "
        "every step; where a point stands for several steps (a long run, or a narrow plot) the "
        "line is their mean and the light band their min to max. Bottom: test accuracy with BN normalising by its running averages (what "
        "eval mode does), by the exact population statistics of the training set (precise BN), "
        "and by each test mini-batch's own mean and variance. The updates follow PyTorch's "
        "torch.optim formulas, or Keras's with the Formulas setting (Keras places Adam's and "
        "RMSprop's ε differently).")
    split_wide = 1.8

    def __init__(self, parent=None):
        super().__init__(parent)
        self.log_check = QCheckBox("Log scale loss")
        self.log_check.setToolTip("Plot the loss on a logarithmic axis")
        self.log_steps = log_steps_check(self._on_log_steps_toggled)
        controls = self.control_row(self.log_check, self.log_steps)
        self.loss_plot = make_plot("Mini-batch loss", "step", "cross-entropy loss", legend=False)
        self.loss_curve = add_curve(self.loss_plot, "batch loss", AFTER, width=1)
        self.loss_series = Series(self.loss_plot, self.loss_curve, envelope=True)
        self.loss_range = StickyRange(self.loss_plot, steps_x=True, on_user_range=self.redraw)
        self.accuracy_plot = make_plot("Test accuracy, by the statistics BN normalises with",
                                       "step", "accuracy")
        # Margins wide enough that the 0 and 1 tick labels are not dropped as clipped.
        self.accuracy_range = StickyRange(self.accuracy_plot, steps_x=True, fixed_y=(-0.1, 1.1),
                                          on_user_range=self.redraw)
        self.accuracy_plot.getPlotItem().getViewBox().setLimits(yMin=-0.1, yMax=1.1)
        self._markers = True
        self.accuracy_curves = {}
        for key, name, color in ACCURACY_SERIES:
            curve = add_curve(self.accuracy_plot, name, color, width=2)
            curve.set_markers("o", 4, pg.mkBrush(color))
            self.accuracy_curves[key] = curve
        self.accuracy_series = {key: Series(self.accuracy_plot, curve)
                                for key, curve in self.accuracy_curves.items()}
        self.splitter = splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.loss_plot)
        splitter.addWidget(self.accuracy_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(splitter, 1)
        self.log_check.toggled.connect(self._on_log_check_toggled)

    def plot_widgets(self) -> list:
        return [self.loss_plot, self.accuracy_plot]

    def _on_log_steps_toggled(self, checked: bool) -> None:
        set_log_steps(self.plot_widgets(), checked)
        self._refit_and_redraw()

    def sticky_ranges(self) -> list:
        return [self.loss_range, self.accuracy_range]

    def _on_log_check_toggled(self, checked: bool) -> None:
        self.loss_plot.getPlotItem().setLogMode(y=checked)
        self.loss_range.refit(1)   # the y axis is now in log10 units
        self.redraw()

    def _draw(self, frame) -> None:
        h = frame.history
        steps = h.steps["step"]
        n = len(steps)
        x_span = step_span(steps, self.log_steps.isChecked())
        log = self.log_check.isChecked()
        pts, window = self.loss_range.points(), self.loss_range.window()
        if self._changed("loss", (n, x_span, log, pts, window)):
            loss = h.steps["loss"]
            if log:
                loss = np.where(loss > 0, loss, np.nan)  # log10 of 0 would be -inf
            self.loss_series.set_data(steps, loss, pts, window,   # log10 on a log axis
                                      **history_rows(h.steps, "loss"))
            self.loss_range.update(x=x_span, y=self.loss_series.bounds())
        # Both plots share the step axis of the whole history.
        self.accuracy_range.update(x=x_span)
        ev_steps = h.evals["step"]
        pts, window = self.accuracy_range.points(), self.accuracy_range.window()
        if self._changed("accuracy", (len(ev_steps), ev_steps[-1] if len(ev_steps) else None,
                                      pts, window)):
            self._show_markers(len(ev_steps), pts)
            for key, _, _ in ACCURACY_SERIES:
                self.accuracy_series[key].set_data(ev_steps, h.evals[key], pts, window,
                                                   **history_rows(h.evals, key))
        set_title(self.loss_plot, f"Mini-batch loss (step {frame.step})", live=True)

    def _show_markers(self, n: int, pts: int) -> None:
        """Markers on the evaluations while there are few; lines only once
        they would merge into a thick band (and cost a symbol each)."""
        markers = n * MARKER_SPACING <= pts // 2 and n <= MIN_SETTLE_ROWS  # none settled
        if markers == self._markers:
            return
        self._markers = markers
        for (key, _, color), curve in zip(ACCURACY_SERIES, self.accuracy_curves.values()):
            curve.set_markers("o" if markers else None, 4, pg.mkBrush(color))
        self.accuracy_plot.getPlotItem().legend.update()

    def _clear(self) -> None:
        self.loss_series.clear()
        for series in self.accuracy_series.values():
            series.clear()
        self._show_markers(0, 1)
        self.loss_range.reset()
        self.accuracy_range.reset()
        set_title(self.loss_plot, "Mini-batch loss")
