"""TrainingCurvesPanel: mini-batch loss, and test accuracy under the three
ways a BN network can be evaluated."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QSplitter, QVBoxLayout

from .base import AFTER, BEFORE, POPULATION, RUNNING, Panel, add_curve, finite_or_nan, make_plot, \
    orient, set_title

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

    def __init__(self, parent=None):
        super().__init__(parent)
        self.log_check = QCheckBox("Log scale loss")
        self.log_check.setToolTip("Plot the loss on a logarithmic axis")
        controls = QHBoxLayout()
        controls.addWidget(self.log_check)
        controls.addStretch(1)
        self.loss_plot = make_plot("Mini-batch loss", "step", "cross-entropy loss", legend=False)
        self.loss_curve = add_curve(self.loss_plot, "batch loss", AFTER, width=1)
        self.accuracy_plot = make_plot("Test accuracy, by the statistics BN normalises with",
                                       "step", "accuracy")
        # Margins wide enough that the 0 and 1 tick labels are not dropped as clipped.
        self.accuracy_plot.setYRange(-0.1, 1.1, padding=0)
        self.accuracy_plot.getPlotItem().enableAutoRange(axis="y", enable=False)
        self.accuracy_plot.getPlotItem().getViewBox().setLimits(yMin=-0.1, yMax=1.1)
        self.accuracy_curves = {}
        for key, name, color in ACCURACY_SERIES:
            curve = add_curve(self.accuracy_plot, name, color, width=2)
            curve.setSymbol("o")
            curve.setSymbolSize(4)
            curve.setSymbolBrush(color)
            curve.setSymbolPen(None)
            # The legend sample reads the marker style from the scatter's own options.
            curve.scatter.setBrush(pg.mkBrush(color))
            curve.scatter.setPen(pg.mkPen(None))
            self.accuracy_curves[key] = curve
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

    def resizeEvent(self, event) -> None:
        orient(self.splitter, event.size().width(), event.size().height(), wide=1.8)
        super().resizeEvent(event)

    def _on_log_check_toggled(self, checked: bool) -> None:
        self.loss_plot.getPlotItem().setLogMode(y=checked)
        self.redraw()

    def _draw(self, frame) -> None:
        h = frame.history
        loss = finite_or_nan(h.steps["loss"])
        if self.log_check.isChecked():
            loss[loss <= 0] = np.nan  # log10 of 0 would be -inf
        self.loss_curve.setData(h.steps["step"], loss)
        ev_steps = h.evals["step"]
        for key, _, _ in ACCURACY_SERIES:
            self.accuracy_curves[key].setData(ev_steps, finite_or_nan(h.evals[key]))
        set_title(self.loss_plot, f"Mini-batch loss (step {frame.step})")

    def _clear(self) -> None:
        self.loss_curve.setData([], [])
        for curve in self.accuracy_curves.values():
            curve.setData([], [])
        set_title(self.loss_plot, "Mini-batch loss")
