"""LabControls: the test-time lab's settings (k, the population schedule, the
BN momentum convention) and, in compare mode, which run it looks at."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QSpinBox, QWidget

# BN momentum presets, in PyTorch's convention (the weight of the new batch).
MOMENTUM_PRESETS = (("PyTorch 0.1 (course β = 0.9)", 0.1), ("Keras 0.99 (= 0.01 here)", 0.01),
                    ("cumulative average", None))


class LabControls(QWidget):
    settings_requested = Signal(dict)     # live settings to change, e.g. {"eval_batch_size": 8}
    population_requested = Signal()       # recompute the population statistics now
    run_chosen = Signal(int)              # compare mode: the run to look at (0 = A)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.run_combo = QComboBox()
        self.run_combo.setToolTip("Compare mode: the run whose accuracies and example are shown "
                                  "(the lag plot shows every run)")
        self.run_combo.hide()
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
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.run_combo, self.k_spin, self.momentum_combo, self.population_spin,
                  self.population_button):
            row.addWidget(w)
        self.k_spin.valueChanged.connect(self._on_k_spin_changed)
        self.population_spin.valueChanged.connect(self._on_population_spin_changed)
        self.momentum_combo.activated.connect(self._on_momentum_combo_activated)
        self.population_button.clicked.connect(self.population_requested)
        self.run_combo.currentIndexChanged.connect(self._on_run_combo_changed)

    def run_index(self) -> int:
        return max(self.run_combo.currentIndex(), 0) if self.run_combo.isVisibleTo(self) else 0

    def sync(self, config, labels) -> None:
        """Show the run's settings and the runs to choose from (emits nothing)."""
        for spin, value in ((self.k_spin, max(1, config.eval_batch_size)),
                            (self.population_spin, config.population_every)):
            blocked = spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(blocked)
        index = next((j for j, (_, v) in enumerate(MOMENTUM_PRESETS) if v == config.bn_momentum),
                     len(MOMENTUM_PRESETS))
        self.momentum_combo.setCurrentIndex(index)
        labels = list(labels)
        if labels != [self.run_combo.itemText(i) for i in range(self.run_combo.count())]:
            blocked = self.run_combo.blockSignals(True)
            current = self.run_combo.currentIndex()
            self.run_combo.clear()
            self.run_combo.addItems(labels)
            self.run_combo.setCurrentIndex(min(max(current, 0), len(labels) - 1))
            self.run_combo.blockSignals(blocked)
        self.run_combo.setVisible(len(labels) > 1)

    def set_test_size(self, n: int) -> None:
        self.k_spin.setRange(1, max(2, n))

    def _on_k_spin_changed(self, value: int) -> None:
        self.settings_requested.emit({"eval_batch_size": 0 if value < 2 else value})

    def _on_population_spin_changed(self, value: int) -> None:
        self.settings_requested.emit({"population_every": int(value)})

    def _on_momentum_combo_activated(self, index: int) -> None:
        value = self.momentum_combo.itemData(index)
        if value != "other":
            self.settings_requested.emit({"bn_momentum": value})

    def _on_run_combo_changed(self, index: int) -> None:
        self.run_chosen.emit(max(index, 0))
