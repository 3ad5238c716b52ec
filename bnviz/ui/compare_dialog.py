"""CompareDialog: choose run B, trained in lockstep beside run A."""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPushButton,
                               QVBoxLayout)

from ..engine.settings import label, value_text
from ..engine.compare import describe, differences
from ..engine.config import ConfigError, RunConfig
from .config_panel import ConfigPanel


class CompareDialog(QDialog):
    """Run B's settings, starting from ``b`` (by default A without batch
    norm). Every setting can differ; the runs share their mini-batches and
    initial weights wherever data, batch size and layer shapes agree."""

    def __init__(self, a: RunConfig, b: RunConfig | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Compare with run B")
        self._a = a
        self.config_panel = ConfigPanel(b if b is not None else a.replace(batchnorm=False))
        # The dialog's own OK button applies; the panel's buttons would reset A.
        for name in ("apply", "revert"):
            button = self.config_panel.findChild(QPushButton, name)
            if button is not None:
                button.hide()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.label_edit = QLineEdit()
        self.label_edit.setToolTip("Run B's name in legends and titles (leave empty for a summary "
                                   "of what differs)")
        self.label_edit.setPlaceholderText("made from what differs")
        form = QFormLayout()
        form.addRow("Name of run B", self.label_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button = buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setText("Compare")
        self.ok_button.setToolTip("Start runs A and B from their initial weights, in lockstep")
        buttons.button(QDialogButtonBox.Cancel).setToolTip("Keep the current run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        intro = QLabel("Run B is trained beside the current run A, on the same mini-batches from "
                       "the same initial weights. Change what B should do differently:")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self.config_panel, 1)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(460, 760)
        self.config_panel.edited.connect(self._update)
        self.config_panel.preset_chosen.connect(self.config_panel.set_config)
        self.config_panel.preset_chosen.connect(self._update)
        self._update()

    def b_config(self) -> RunConfig | None:
        """B's settings, or None while a field is invalid."""
        try:
            return self.config_panel.config().validate()
        except ConfigError:
            return None

    def labels(self) -> tuple[str, str]:
        """(A's label, B's label)."""
        b = self.b_config()
        fields = sorted(differences(self._a, b)) if b is not None else []
        own = self.label_edit.text().strip()
        return (f"A: {describe(self._a, fields)}",
                f"B: {own}" if own else f"B: {describe(b, fields)}" if b is not None else "B")

    def _update(self, *_args) -> None:
        b = self.b_config()
        if b is None:
            errors = self.config_panel.errors()
            self.summary.setText("Fix the marked setting first: " + "; ".join(errors.values()))
        elif not differences(self._a, b):
            self.summary.setText("B is the same as A: change at least one setting.")
        else:
            self.summary.setText("Differs from A: " + "; ".join(
                f"{label(k)} {value_text(k, v)} (A: {value_text(k, getattr(self._a, k))})"
                for k, v in differences(self._a, b).items()))
        self.ok_button.setEnabled(b is not None and bool(differences(self._a, b)))
