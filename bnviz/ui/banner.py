"""The divergence banner: says at which step training blew up and offers the
two fixes that usually work."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton


class DivergenceBanner(QFrame):
    """Hidden until ``show_divergence``; the window stays usable around it."""

    lower_lr_requested = Signal()
    reset_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("divergenceBanner")
        self.setStyleSheet("#divergenceBanner { background: #fdecea; border: 1px solid #e0796b;"
                           " border-radius: 4px; } #divergenceBanner QLabel { color: #611a15; }")
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        self.label = QLabel()
        self.label.setWordWrap(True)
        row.addWidget(self.label, 1)
        self.lower_button = QPushButton("Lower learning rate ×0.1 and reset")
        self.lower_button.setToolTip("Divide the learning rate by 10 and start the run again")
        self.lower_button.clicked.connect(self.lower_lr_requested)
        row.addWidget(self.lower_button)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Start the run again with the same settings (Ctrl+R)")
        self.reset_button.clicked.connect(self.reset_requested)
        row.addWidget(self.reset_button)
        self.close_button = QPushButton("Dismiss")
        self.close_button.setToolTip("Hide this message; the diverged run stays paused")
        self.close_button.clicked.connect(self.hide)
        row.addWidget(self.close_button)
        self.hide()

    def show_divergence(self, step: int, what: str, lr: float) -> None:
        self.label.setText(
            f"<b>Training diverged at step {step}:</b> {what} became NaN or infinite, so "
            f"training paused. Try a lower learning rate (now {lr:g}), batch norm in every "
            "layer, or a reset.")
        self.show()
