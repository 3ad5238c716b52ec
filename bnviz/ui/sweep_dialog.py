"""Run › Sweep…: which setting to vary, its values, the normalizations to
compare and the steps of each run, from the current run A's settings."""
from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QSpinBox, QVBoxLayout)

from ..engine.config import ConfigError, RunConfig
from ..engine.settings import label
from ..engine.sweep import NORM_NAMES, SWEEPABLE, SweepSpec, parse_values
from .config_fields import ChoiceCombo

# What a sweep of each setting starts with in the dialog (Wu & He's batch sizes first).
SUGGESTED = {"batch_size": "2, 4, 8, 16, 32, 64", "lr": "0.001, 0.01, 0.1, 1",
             "bn_momentum": "0.01, 0.1, 0.5, 1", "gn_groups": "1, 2, 4, 8, 16",
             "noise_scale": "0, 0.25, 0.5, 1", "renorm_rmax": "1, 1.5, 2, 3",
             "renorm_dmax": "0, 1, 2, 5", "seed": "0, 1, 2, 3, 4", "sgd_momentum": "0, 0.5, 0.9, 0.99",
             "init_std": "0.01, 0.1, 1", "hidden_width": "8, 16, 32, 64, 128"}
DEFAULT_NORMS = ("bn", "gn", "ln")


class SweepDialog(QDialog):
    def __init__(self, base: RunConfig, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Sweep")
        self.base = base
        self.setting_combo = ChoiceCombo(tuple(
            (s, "width of every hidden layer" if s == "hidden_width" else label(s)) for s in SWEEPABLE))
        self.setting_combo.setToolTip("The setting each run changes; everything else is run A's")
        self.values_edit = QLineEdit(SUGGESTED["batch_size"])
        self.values_edit.setToolTip("The values to train with, comma-separated")
        self.setting_combo.currentIndexChanged.connect(
            lambda: self.values_edit.setText(SUGGESTED[self.setting_combo.value()]))
        self.norm_checks = {}
        norms = QHBoxLayout()
        for key, name in NORM_NAMES.items():
            check = QCheckBox(name)
            check.setChecked(key in DEFAULT_NORMS)
            check.setToolTip(f"One line of runs with {name}" if key != "none" else
                             "One line of runs without any normalization")
            self.norm_checks[key] = check
            norms.addWidget(check)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 10**7)
        self.steps_spin.setSingleStep(100)
        self.steps_spin.setValue(1500)
        self.steps_spin.setToolTip("Mini-batches each run trains before it is measured")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020;")
        form = QFormLayout()
        form.addRow("Setting", self.setting_combo)
        form.addRow("Values", self.values_edit)
        form.addRow("Normalizations", norms)
        form.addRow("Steps per run", self.steps_spin)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Start sweep")
        buttons.accepted.connect(self._on_accepted)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        intro = QLabel("Each run starts from run A's settings, seed and data, with one setting "
                       "changed, and trains in a process of its own; the Sweep view plots their "
                       "final test error against the setting.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.spec: SweepSpec | None = None

    def chosen(self) -> SweepSpec:
        """The sweep the fields describe; ConfigError naming what is wrong."""
        setting = self.setting_combo.value()
        values = parse_values(setting, self.values_edit.text())
        norms = tuple(k for k, check in self.norm_checks.items() if check.isChecked())
        spec = SweepSpec(self.base, setting, values, norms, self.steps_spin.value())
        spec.points()   # every point's settings valid
        return spec

    def _on_accepted(self) -> None:
        try:
            self.spec = self.chosen()
        except ConfigError as exc:
            self.message.setText(str(exc))
            return
        self.accept()
