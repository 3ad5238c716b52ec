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
    ``step``, ``lesson_view``, ``lesson_dock`` and ``panel_docks``."""

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
        self.lesson_dock.hide()
        self.start_runs((self._config,))

    def open_lesson(self, key: str) -> None:
        """Start a guided lesson: its runs, its explanation, the panel that
        shows its point in front, and its steps trained."""
        chosen = lesson(key)
        if not self._confirm_reset(f"The lesson “{chosen.title}” starts new runs."):
            return
        self.lesson_view.show_lesson(chosen)
        self.lesson_dock.show()
        self.lesson_dock.raise_()
        dock = self.panel_docks.get(f"{chosen.panel}_panel")
        if dock is not None:
            dock.show()
            dock.raise_()
            # Once the window is laid out (a lesson may open before it is shown).
            QTimer.singleShot(0, lambda: self._bring_forward(dock))
        self.start_runs(chosen.configs, chosen.labels)
        self.step(chosen.steps)

    def _bring_forward(self, dock) -> None:
        """Give ``dock``, in front of its tab group, room enough to read:
        about half the window across its dock area (it is shown and raised
        already; this runs once the window is laid out)."""
        from PySide6.QtCore import Qt
        if dock.isFloating():
            return
        area = self.dockWidgetArea(dock)
        if area in (Qt.BottomDockWidgetArea, Qt.TopDockWidgetArea):
            self.resizeDocks([dock], [int(self.height() * 0.48)], Qt.Vertical)
            self.resizeDocks([dock], [int(self.width() * 0.7)], Qt.Horizontal)
        elif area in (Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea):
            self.resizeDocks([dock], [int(self.width() * 0.45)], Qt.Horizontal)
            self.resizeDocks([dock], [int(self.height() * 0.6)], Qt.Vertical)
