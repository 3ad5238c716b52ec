"""LessonView: a guided lesson's explanation, beside the plots that show it."""
from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget


class LessonView(QWidget):
    """Title, explanation, which runs are compared, and the lesson's buttons."""

    steps_requested = Signal(int)
    restart_requested = Signal()
    leave_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("lesson_view")
        self.lesson = None
        self.title_label = QLabel()
        self.title_label.setWordWrap(True)
        self.title_label.setStyleSheet("font-weight: bold; font-size: 12pt;")
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        # The whole text at a readable size: the dock's height is the box's.
        self.text.setStyleSheet("QTextBrowser { font-size: 11pt; }")
        self.text.setFrameShape(QTextBrowser.NoFrame)
        self.setMinimumWidth(260)
        self.text.setToolTip("What this lesson shows, and where to look")
        self.run_button = QPushButton()
        self.run_button.setToolTip("Train every run of the lesson this many more steps, in lockstep")
        self.run_button.clicked.connect(lambda: self.steps_requested.emit(self.lesson.steps))
        self.restart_button = QPushButton("Start again")
        self.restart_button.setToolTip("Reset the lesson's runs to their initial weights")
        self.restart_button.clicked.connect(self.restart_requested)
        self.leave_button = QPushButton("Leave lesson")
        self.leave_button.setToolTip("Go back to a single run with run A's settings")
        self.leave_button.clicked.connect(self.leave_requested)
        self.title_label.setText("No lesson open")
        self.text.setHtml("<p>The Lessons menu opens guided comparisons: Ioffe &amp; Szegedy's "
                          "Fig. 1, the redundant bias, γ and β, the optimizers, small batches and "
                          "the BN momentum conventions. Each one's explanation appears here.</p>")
        for b in (self.run_button, self.restart_button, self.leave_button):
            b.setEnabled(False)
        self.run_button.setText("Train more steps")
        # The main action on a row of its own, so a narrow column clips nothing.
        buttons = QHBoxLayout()
        for b in (self.restart_button, self.leave_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title_label)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.run_button)
        layout.addLayout(buttons)

    def clear(self) -> None:
        """No lesson open (the dock is hidden)."""
        self.lesson = None
        for b in (self.run_button, self.restart_button, self.leave_button):
            b.setEnabled(False)

    def show_lesson(self, lesson) -> None:
        self.lesson = lesson
        self.title_label.setText(lesson.title)
        runs = "".join(f"<li>{html.escape(label)}</li>" for label in lesson.labels if label)
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in lesson.explanation.split("\n\n"))
        hint = ("<p><i>Show run</i> in the toolbar chooses the run the other panels show; Compare "
                "runs and the Test-time lab show them all.</p>")
        self.text.setHtml(paragraphs + (f"<p><b>Runs, trained in lockstep:</b></p><ul>{runs}</ul>{hint}"
                                        if len(lesson.labels) > 1 else ""))
        self.run_button.setText(f"Train {lesson.steps:,} more steps")
        for b in (self.run_button, self.restart_button, self.leave_button):
            b.setEnabled(True)
