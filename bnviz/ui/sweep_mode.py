"""The window's sweeps: Run › Sweep… starts one (its points in worker
processes), the Sweep view shows it filling in, Run › Stop sweep ends it.
The window's own run goes on meanwhile."""
from __future__ import annotations

import weakref

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialog

from ..engine.config import ConfigError
from .sweep_dialog import SweepDialog

POLL_MS = 250


class SweepMode:
    def __init__(self, window):
        self._window = weakref.ref(window)
        self.runner = None
        self._timer = QTimer(window)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def window(self):
        return self._window()

    @property
    def panel(self):
        return self.window.panels["sweep_panel"]

    @property
    def running(self) -> bool:
        return self.runner is not None and not self.runner.done

    def ask(self) -> None:
        """Run › Sweep…: choose a sweep from run A's settings, then start it."""
        dialog = SweepDialog(self.window.model.config, self.window)
        if dialog.exec() == QDialog.Accepted and dialog.spec is not None:
            self.start(dialog.spec)

    def start(self, spec) -> None:
        from ..training.sweeps import SweepRunner
        self.stop()
        try:
            self.runner = SweepRunner(spec, processes=True)
        except (ConfigError, OSError) as exc:
            self.window.statusBar().showMessage(f"The sweep could not start: {exc}", 8000)
            return
        self.panel.set_sweep(spec, [])
        self._timer.start()
        self._sync()
        self.window.show_view("sweep")
        self.window.statusBar().showMessage(f"Sweeping {spec.setting}: {self.runner.total} runs of "
                                            f"{spec.steps:,} steps", 8000)

    def stop(self) -> None:
        """Run › Stop sweep: the runs not finished are dropped; those done stay plotted."""
        self._timer.stop()
        if self.runner is not None:
            self.runner.cancel()
        self._sync()

    def _poll(self) -> None:
        runner = self.runner
        if runner is None:
            return
        if runner.poll(timeout=0):
            self.panel.set_sweep(runner.spec, runner.results)
        if runner.done:
            self._timer.stop()
            failed = sum(bool(r.error) for r in runner.results)
            self.window.statusBar().showMessage(
                f"Sweep done: {len(runner.results)} runs" + (f", {failed} failed" if failed else ""), 8000)
            self._sync()

    def _sync(self) -> None:
        w = self.window
        w.act_stop_sweep.setEnabled(self.running)
        frame = w.model.frame
        if frame is not None:
            w.refresh_absences()
