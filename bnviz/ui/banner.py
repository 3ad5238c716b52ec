"""The divergence banner: says at which step training blew up and offers the
two fixes that usually work."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton


def banner_row(banner: QFrame, name: str, background: str, border: str, text: str) -> QHBoxLayout:
    """Style ``banner`` as a coloured strip and give it ``banner.label``
    (word-wrapped, stretching); returns the row to add its buttons to."""
    banner.setObjectName(name)
    banner.setStyleSheet(f"#{name} {{ background: {background}; border: 1px solid {border};"
                         f" border-radius: 4px; }} #{name} QLabel {{ color: {text}; }}")
    row = QHBoxLayout(banner)
    row.setContentsMargins(10, 6, 10, 6)
    banner.label = QLabel()
    banner.label.setWordWrap(True)
    row.addWidget(banner.label, 1)
    return row


class DivergenceBanner(QFrame):
    """Hidden until ``show_divergence``; the window stays usable around it."""

    lower_lr_requested = Signal()
    reset_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        row = banner_row(self, "divergenceBanner", "#fdecea", "#e0796b", "#611a15")
        self.lower_button = QPushButton("Learning rate ×0.1, reset")
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
        """One line, the advice in its tooltip (the buttons are the advice)."""
        self.label.setText(f"<b>Diverged at step {step:,}:</b> {what} became NaN or infinite; "
                           "training paused.")
        tip = (f"Try a lower learning rate (now {lr:g}), batch norm in every layer, or a reset.")
        self.label.setToolTip(tip)
        self.lower_button.setToolTip(f"Divide the learning rate by 10 (to {lr * 0.1:g}) and start "
                                     "the run again")
        self.show()
