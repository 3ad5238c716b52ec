"""Compare mode and the guided lessons (a mixin of MainWindow).

In compare mode the training process trains run A (the configuration dock's run) and
the runs of ``self._runset`` in lockstep; a lesson is compare mode with
chosen runs, an explanation beside the plots and its steps trained.
"""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialog

from ..engine.compare import RunSet
from ..engine.lessons import lesson
from .compare_dialog import CompareDialog


class CompareMode:
    """Needs ``_config``, ``_runset``, ``reset_run``, ``_confirm_reset``,
    ``step``, ``lesson_view``, ``lesson_dock``, ``config_dock``, ``show_panel``
    and ``fit_to_screen``."""

    def comparing(self) -> bool:
        return self._runset.comparing

    def compare_with(self) -> None:
        """Ask for run B's settings, then train A and B in lockstep."""
        current_b = self._runset.configs(self._config)[1] if self.comparing() else None
        dialog = CompareDialog(self._config, current_b, self)
        if dialog.exec() != QDialog.Accepted or dialog.b_config() is None:
            return
        if self._confirm_reset("Comparing starts both runs from their initial weights."):
            self.start_runs((self._config, dialog.b_config()), dialog.labels())

    def start_runs(self, configs, labels=None) -> None:
        """Train ``configs`` in lockstep (one config: a lone run), A first."""
        self._runset = RunSet.of(configs, labels)
        self.reset_run(configs[0])

    def single_run(self) -> None:
        """Leave compare mode (and any lesson): run A alone, from the start."""
        if self.comparing() and not self._confirm_reset("Leaving compare mode starts run A alone."):
            return
        self.close_lesson()
        self.start_runs((self._config,))

    def close_lesson(self) -> None:
        """The lesson's text goes; the configuration takes its place again."""
        self.lesson_view.clear()
        self.lesson_dock.hide()
        self.config_dock.show()
        self.config_dock.raise_()

    def open_lesson(self, key: str) -> None:
        """Start a guided lesson: its runs, its text beside the figures in the
        configuration's place, the view that shows its point, and its steps trained."""
        chosen = lesson(key)
        if not self._confirm_reset(f"The lesson “{chosen.title}” starts new runs."):
            return
        self.lesson_view.show_lesson(chosen)
        self.lesson_dock.show()
        self.lesson_dock.raise_()
        QTimer.singleShot(0, self.lesson_dock.raise_)   # (a tab raised before the window is shown stays behind)
        self.start_runs(chosen.configs, chosen.labels)
        self.show_panel(f"{chosen.panel}_panel")
        self.step(chosen.steps)
        # Whatever the lesson's text and panels ask for, the window stays on the screen.
        QTimer.singleShot(0, self.fit_to_screen)
