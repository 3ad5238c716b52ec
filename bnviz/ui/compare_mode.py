"""Compare mode and the guided lessons.

In compare mode the training process trains run A (the configuration's run)
and the model's other runs in lockstep; a lesson is compare mode with
chosen runs, its text beside the plots and its steps trained. CompareMode
is an object the window holds (``window.compare``), holding it weakly.
"""
from __future__ import annotations

import weakref

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialog

from ..engine.compare import RunSet
from ..engine.lessons import lesson
from .compare_dialog import CompareDialog


class CompareMode:
    def __init__(self, window):
        self._window = weakref.ref(window)

    @property
    def window(self):
        return self._window()

    def compare_with(self) -> None:
        """Ask for run B's settings, then train A and B in lockstep."""
        w = self.window
        model = w.model
        current_b = model.configs()[1] if model.comparing() else None
        dialog = CompareDialog(model.config, current_b, w)
        if dialog.exec() != QDialog.Accepted or dialog.b_config() is None:
            return
        if w.confirm_reset("Comparing starts both runs from their initial weights."):
            self.start_runs((model.config, dialog.b_config()), dialog.labels())

    def start_runs(self, configs, labels=None) -> None:
        """Train ``configs`` in lockstep (one config: a lone run), A first."""
        self.window.reset_run(configs[0], RunSet.of(configs, labels))

    def single_run(self) -> None:
        """Leave compare mode (and any lesson): run A alone, from the start."""
        w = self.window
        if w.model.comparing() and not w.confirm_reset("Leaving compare mode starts run A alone."):
            return
        self.close_lesson()
        self.start_runs((w.model.config,))

    def close_lesson(self) -> None:
        """The lesson's text goes; the configuration takes its place again."""
        w = self.window
        w.model.lesson = None
        w.lesson_view.clear()
        w.lesson_dock.hide()
        w.config_dock.show()
        w.bring_to_front(w.config_dock)

    def open_lesson(self, key: str) -> None:
        """Start a guided lesson: its runs, its text beside the figures in the
        configuration's place, the view that shows its point, and its steps trained."""
        w = self.window
        chosen = lesson(key)
        if not w.confirm_reset(f"The lesson “{chosen.title}” starts new runs."):
            return
        w.model.lesson = chosen
        w.lesson_view.show_lesson(chosen)
        w.lesson_dock.show()
        w.bring_to_front(w.lesson_dock)
        # Once laid out too: a window not yet shown has no tab bar to choose from.
        QTimer.singleShot(0, lambda: w.bring_to_front(w.lesson_dock))
        self.start_runs(chosen.configs, chosen.labels)
        w.show_panel(f"{chosen.panel}_panel")
        w.step(chosen.steps)
        # Whatever the lesson's text and panels ask for, the window stays on the screen.
        QTimer.singleShot(0, w.fit_to_screen)
