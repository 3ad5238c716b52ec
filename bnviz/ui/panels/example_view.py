"""ExampleView: one test example and its class probabilities under each kind
of statistic (part of the test-time lab)."""
from __future__ import annotations

import time
import weakref

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from .base import make_plot, set_title

BAR_WIDTH = 0.2
INSPECT_INTERVAL = 0.5     # s: while training, look at the example again this often


class InspectionPacer:
    """Asks for a fresh inspection of the example at most every
    INSPECT_INTERVAL while frames arrive (the training process computes it),
    by calling ``owner.<method>()``. The owner is held weakly: a panel that
    owns its pacer is then freed without the garbage collector."""

    def __init__(self, owner, method: str):
        self._owner = weakref.ref(owner)
        self._method = method
        self._last = 0.0
        self._timer = QTimer(owner)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.request_now)

    def schedule(self) -> None:
        """Look at the example again with the newer network, a few times a second."""
        if self._timer.isActive():
            return
        wait = max(0.0, INSPECT_INTERVAL - (time.monotonic() - self._last))
        self._timer.start(int(wait * 1000))

    def request_now(self, *_args) -> None:
        self._last = time.monotonic()
        owner = self._owner()
        if owner is not None:
            getattr(owner, self._method)()


class ExampleView(QWidget):
    """Pick a test example; show it (the image, for digits) and a group of
    bars per class: its probabilities under each statistic."""

    example_chosen = Signal(int)   # a test example to look at

    def __init__(self, modes, parent=None):
        super().__init__(parent)
        self.modes = tuple(modes)   # (mode, colour) in bar order
        self.inspection = None
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
        for mode, color in self.modes:
            bar = pg.BarGraphItem(x=[], height=[], width=BAR_WIDTH, brush=pg.mkBrush(color))
            self.probs_plot.addItem(bar)
            self.bars[mode] = bar
        plots = QHBoxLayout()
        plots.addWidget(self.image_plot)
        plots.addWidget(self.features_label)
        plots.addWidget(self.probs_plot, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addLayout(plots, 1)
        self.example_spin.valueChanged.connect(self.example_chosen)
        self.random_button.clicked.connect(self._on_random_clicked)

    def index(self) -> int:
        return self.example_spin.value()

    def set_test_size(self, n: int) -> None:
        self.example_spin.setRange(0, max(0, n - 1))

    def set_inspection(self, ins, run_label: str = "") -> None:
        """Show an ExampleInspection (computed by the worker)."""
        self.inspection = ins
        blocked = self.example_spin.blockSignals(True)
        self.example_spin.setValue(ins.index)
        self.example_spin.blockSignals(blocked)
        self._show_example(ins)
        names = ins.class_names
        x = np.arange(len(names), dtype=np.float64)
        offset = (len(self.modes) - 1) / 2
        for j, (mode, _) in enumerate(self.modes):
            heights = np.nan_to_num(np.asarray(ins.probs(mode), dtype=np.float64))
            self.bars[mode].setOpts(x=x + (j - offset) * BAR_WIDTH, height=heights, width=BAR_WIDTH)
        self.probs_plot.getPlotItem().getViewBox().setRange(xRange=(-0.6, len(names) - 0.4), padding=0)
        self.probs_plot.getPlotItem().getAxis("bottom").setTicks(
            [[(float(c), str(name)) for c, name in zip(x, names)]])
        guesses = ", ".join(f"{mode}{' (k=%d)' % ins.k if mode == 'batch' else ''} → "
                            f"{names[ins.predicted(mode)]}" for mode, _ in self.modes)
        gap = ins.single_beta_gap
        if gap != gap:   # no BN
            collapse = ""
        elif ins.feature_maps and gap > 1e-6:
            # BatchNorm2d on one example still has its pixels: only the dense layers collapse.
            collapse = (f" Alone in training mode a convolution block still normalises it over its "
                        f"own pixels (largest |BN output − β| = {gap:.3g}); a dense layer's BN, "
                        f"where there is one, outputs β.")
        else:
            collapse = (f" Alone in training mode every BN output is β (largest |output − β| = "
                        f"{gap:.1g}), so every example gets the same answer.")
        if ins.population_step != ins.step:   # a CNN's, from the last evaluation
            collapse += f" (Population statistics of step {ins.population_step:,}.)"
        who = f"Run {run_label}: t" if run_label else "T"
        self.verdict.setText(f"{who}rue class {names[ins.label]}. Predicted: {guesses}.{collapse}")
        set_title(self.image_plot, f"Test example {ins.index} (class {names[ins.label]})")
        set_title(self.probs_plot, f"Class probabilities at step {ins.step}")

    def _show_example(self, ins) -> None:
        if ins.image is None:
            self.image_plot.hide()
            self.features_label.show()
            self.features_label.setText("features: " + ", ".join(f"{v:.3g}" for v in ins.features[:12]))
            return
        image = np.asarray(ins.image, dtype=np.float64)
        # Ink dark on white, as the digit was written.
        self.image.setImage(image, levels=(float(image.max()) or 1.0, float(image.min())))
        h, w = image.shape[:2]
        self.image_plot.getPlotItem().getViewBox().setRange(xRange=(0, w), yRange=(0, h), padding=0)
        self.image_plot.show()
        self.features_label.hide()

    def clear(self) -> None:
        for bar in self.bars.values():
            bar.setOpts(x=[], height=[])
        self.image.clear()
        self.verdict.setText("")
        self.inspection = None

    def _on_random_clicked(self) -> None:
        top = self.example_spin.maximum()
        self.example_spin.setValue(int(np.random.default_rng().integers(0, top + 1)))
