"""The banner shown when the training process has died: what happened, and
the two ways to go on. The last frame stays on screen (and in Export all)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QPushButton

from .banner import banner_row


class ProcessBanner(QFrame):
    """Hidden until ``show_death``; the window stays usable around it."""

    restart_requested = Signal()          # from scratch, with the current settings
    session_requested = Signal(str)       # from the last saved or opened session

    def __init__(self, parent=None):
        super().__init__(parent)
        row = banner_row(self, "processBanner", "#fff4e5", "#e0a04b", "#5c3b00")
        self._session = ""
        self.session_button = QPushButton("Continue from the last session")
        self.session_button.clicked.connect(lambda: self.session_requested.emit(self._session))
        row.addWidget(self.session_button)
        self.restart_button = QPushButton("Start again from scratch")
        self.restart_button.setToolTip("A new training process, and the run from step 0 with the current settings")
        self.restart_button.clicked.connect(self.restart_requested)
        row.addWidget(self.restart_button)
        self.hide()

    def show_death(self, message: str, session: str | None) -> None:
        self._session = session or ""
        self.label.setText(f"<b>Training stopped:</b> {message} The plots show the last frame "
                           "received; Export all still works. Start a new run to go on.")
        self.session_button.setVisible(bool(session))
        if session:
            self.session_button.setToolTip(f"A new training process, continuing {session}")
            self.session_button.setText(f"Continue from {Path(session).name}")
        self.show()
