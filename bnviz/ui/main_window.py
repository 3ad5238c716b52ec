"""The main window: run controls, the configuration dock, the live panels.

Commands go to the worker as queued signals; frames come back through the
worker's slot (see worker.py). The window never waits on training.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (QDialog, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QToolBar, QVBoxLayout, QWidget)

from .. import __version__
from ..engine.compare import RunSet
from ..engine.config import ConfigError, RunConfig, preset, DEFAULT_PRESET
from ..engine.lessons import LESSONS, lesson
from ..resources_path import resource_path
from .banner import DivergenceBanner
from .compare_dialog import CompareDialog
from .lesson_view import LessonView
from .config_panel import ConfigPanel
from .panels import ALL_PANELS
from .speed import SpeedControl
from .status import RunStatus
from .worker import TrainingWorker

# The default layout: distributions in the middle, the rest docked around.
CENTRAL_PANEL = "distributions_panel"
DOCKED_PANELS = (("gamma_beta_panel", Qt.RightDockWidgetArea),
                 ("running_stats_panel", Qt.RightDockWidgetArea),
                 ("training_curves_panel", Qt.BottomDockWidgetArea),
                 ("decision_boundary_panel", Qt.BottomDockWidgetArea),
                 ("compare_panel", Qt.BottomDockWidgetArea),
                 ("gradients_panel", Qt.RightDockWidgetArea),
                 ("test_time_panel", Qt.RightDockWidgetArea))
# Docks that share a place with another as tabs (the first named is in front).
TABBED_PANELS = (("training_curves_panel", "compare_panel"), ("gamma_beta_panel", "gradients_panel"),
                 ("running_stats_panel", "test_time_panel"))
MIN_DRAW_GAP = 0.010      # seconds of idle event loop between two redraws
DRAW_IDLE_FACTOR = 1.5    # idle this many times a redraw's cost before the next
SETTINGS_VERSION = 2  # bump when the dock layout changes incompatibly


class MainWindow(QMainWindow):
    # Commands to the worker thread (queued: the worker's slots run there).
    reset_requested = Signal(object, object, int)   # configs (A first), labels, run id
    play_requested = Signal()
    pause_requested = Signal()
    toggle_requested = Signal()
    steps_requested = Signal(int)
    epoch_requested = Signal()
    speed_requested = Signal(float)
    live_config_requested = Signal(object)
    stop_requested = Signal()
    inspect_requested = Signal(int)
    population_requested = Signal()

    def __init__(self, config: RunConfig | None = None, settings: QSettings | None = None):
        super().__init__()
        self.setWindowTitle("bnviz: batch normalization laboratory")
        self.setWindowIcon(QIcon(str(resource_path("bnviz.svg"))))
        self.settings = settings if settings is not None else QSettings("bnviz", "bnviz")
        self._run_id = 0
        self._live_run_id = 0
        self._config = (config or preset(DEFAULT_PRESET)).validate()
        self._runset = self._live_runset = RunSet()   # compare mode: the runs beside A
        self._frame = None
        self._playing = False
        self._closing = False
        self.frames_drawn = 0

        self._build_panels()
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self.status = RunStatus(self.statusBar())
        self.mode_label = QLabel()
        self.mode_label.setToolTip("Runs trained in lockstep (Run › Compare with…, or a lesson)")
        self.statusBar().addPermanentWidget(self.mode_label)
        self._start_worker()
        self._restore_layout()
        self.reset_run(self._config)

    # ------------------------------------------------------------ building
    def _build_panels(self) -> None:
        self.panels = {cls.object_name: cls() for cls in ALL_PANELS}
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(4, 4, 4, 4)
        self.banner = DivergenceBanner()
        self.banner.lower_lr_requested.connect(self._on_banner_lower_lr_requested)
        self.banner.reset_requested.connect(lambda: self.reset_run(self._config))
        column.addWidget(self.banner)
        column.addWidget(self.panels[CENTRAL_PANEL], 1)
        self.setCentralWidget(central)
        # Keyboard focus starts on the plots, not in a form field, so Space
        # and the arrow keys drive training instead of editing a setting.
        central.setFocusPolicy(Qt.StrongFocus)
        self.setDockNestingEnabled(True)

        self.config_panel = ConfigPanel()
        self.config_panel.set_config(self._config)
        self.config_panel.live_changed.connect(self._on_config_live_changed)
        self.config_panel.apply_requested.connect(self._on_config_apply_requested)
        self.config_panel.preset_chosen.connect(self._on_config_preset_chosen)
        # The panel scrolls inside itself and keeps Apply/Revert pinned below.
        self.config_dock = self._dock("Configuration", "dock_config", self.config_panel,
                                      Qt.LeftDockWidgetArea)
        self.lesson_view = LessonView()
        self.lesson_view.steps_requested.connect(self.step)
        self.lesson_view.restart_requested.connect(lambda: self.open_lesson(self.lesson_view.lesson.key))
        self.lesson_view.leave_requested.connect(self.single_run)
        self.lesson_dock = self._dock("Lesson", "dock_lesson", self.lesson_view, Qt.LeftDockWidgetArea)
        self.splitDockWidget(self.lesson_dock, self.config_dock, Qt.Vertical)
        self.lesson_dock.hide()
        self.panel_docks = {}
        for name, area in DOCKED_PANELS:
            panel = self.panels[name]
            self.panel_docks[name] = self._dock(panel.title, "dock_" + name, panel, area)
        tabbed = {second for _, second in TABBED_PANELS}
        right = [self.panel_docks[n] for n, a in DOCKED_PANELS
                 if a == Qt.RightDockWidgetArea and n not in tabbed]
        bottom = [self.panel_docks[n] for n, a in DOCKED_PANELS
                  if a == Qt.BottomDockWidgetArea and n not in tabbed]
        for a, b in zip(right, right[1:]):
            self.splitDockWidget(a, b, Qt.Vertical)
        for a, b in zip(bottom, bottom[1:]):
            self.splitDockWidget(a, b, Qt.Horizontal)
        for first, second in TABBED_PANELS:
            self.tabifyDockWidget(self.panel_docks[first], self.panel_docks[second])
            self.panel_docks[first].raise_()
        self.resizeDocks([self.config_dock] + right[:1], [330, 480], Qt.Horizontal)
        self.resizeDocks(bottom[:1], [320], Qt.Vertical)
        self.resizeDocks(bottom, [900, 560][:len(bottom)], Qt.Horizontal)
        self.resizeDocks(right, [380, 420][:len(right)], Qt.Vertical)
        self.resize(1560, 960)
        self._default_state = None

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.centralWidget().setFocus()

    def _dock(self, title, name, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                         | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text, tip, slot, shortcut=None, checkable=False) -> QAction:
        act = QAction(text, self)
        act.setToolTip(tip)
        act.setStatusTip(tip)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.WindowShortcut)
        act.setCheckable(checkable)
        act.triggered.connect(slot)
        self.addAction(act)  # shortcuts work even with the toolbar hidden
        return act

    def _build_actions(self) -> None:
        a = self._action
        self.act_play = a("Play", "Train continuously, or pause (Space)", self.toggle_play, "Space")
        self.act_step = a("Step", "Train one mini-batch (Right arrow)", lambda: self.step(1), "Right")
        self.act_step10 = a("×10", "Train 10 mini-batches", lambda: self.step(10))
        self.act_step100 = a("×100", "Train 100 mini-batches", lambda: self.step(100))
        self.act_epoch = a("Epoch", "Train one pass over the training set", self.step_epoch)
        self.act_reset = a("Reset", "Start the run again from its initial weights (Ctrl+R)",
                           lambda: self.reset_run(self._config), "Ctrl+R")
        self.act_quit = a("Quit", "Close bnviz (Ctrl+Q)", self.close, QKeySequence.Quit)
        self.act_quit.setShortcut(QKeySequence("Ctrl+Q"))
        self.act_open = a("Open config…", "Load run settings from a TOML file (Ctrl+O)",
                          self.open_config, "Ctrl+O")
        self.act_save = a("Save config…", "Save the run settings to a TOML file (Ctrl+S)",
                          self.save_config, "Ctrl+S")
        self.act_compare = a("Compare with…", "Train a second run beside this one, on the same "
                             "mini-batches from the same initial weights (Ctrl+K)",
                             self.compare_with, "Ctrl+K")
        self.act_single = a("Single run", "Leave compare mode: run A alone, from its initial weights",
                            self.single_run)
        self.act_reset_layout = a("Reset layout", "Put every panel back where it started",
                                  self.reset_layout)
        self.act_about = a("About bnviz", "Version and what bnviz is", self.show_about)
        self.act_keys = a("Keyboard shortcuts", "List the keyboard shortcuts (F1)",
                          self.show_shortcuts, "F1")

    def _build_toolbar(self) -> None:
        bar = QToolBar("Run")
        bar.setObjectName("toolbar_run")
        bar.setMovable(False)
        for act in (self.act_play, self.act_step, self.act_step10, self.act_step100, self.act_epoch):
            bar.addAction(act)
        bar.addSeparator()
        bar.addAction(self.act_reset)
        bar.addSeparator()
        self.speed = SpeedControl()
        self.speed.speed_changed.connect(self.speed_requested)
        bar.addWidget(self.speed)
        for act in bar.actions():
            w = bar.widgetForAction(act)
            if w is not None:
                w.setToolTip(act.toolTip())
        self.addToolBar(Qt.TopToolBarArea, bar)
        self.toolbar = bar

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        file_menu.addAction(self.act_open)
        file_menu.addAction(self.act_save)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        run_menu = mb.addMenu("&Run")
        for act in (self.act_play, self.act_step, self.act_step10, self.act_step100, self.act_epoch):
            run_menu.addAction(act)
        run_menu.addSeparator()
        run_menu.addAction(self.act_reset)
        run_menu.addSeparator()
        run_menu.addAction(self.act_compare)
        run_menu.addAction(self.act_single)
        lessons_menu = mb.addMenu("&Lessons")
        self.lesson_actions = {}
        for item in LESSONS:
            act = QAction(item.title, self)
            first = item.explanation.split(". ")[0].rstrip(".") + "."
            act.setToolTip(first)
            act.setStatusTip(first)
            act.triggered.connect(lambda _=False, key=item.key: self.open_lesson(key))
            lessons_menu.addAction(act)
            self.lesson_actions[item.key] = act
        view_menu = mb.addMenu("&View")
        view_menu.addAction(self.config_dock.toggleViewAction())
        view_menu.addAction(self.lesson_dock.toggleViewAction())
        for dock in self.panel_docks.values():
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        view_menu.addAction(self.act_reset_layout)
        help_menu = mb.addMenu("&Help")
        help_menu.addAction(self.act_keys)
        help_menu.addAction(self.act_about)
        for menu in (file_menu, run_menu, lessons_menu, view_menu, help_menu):
            menu.setToolTipsVisible(True)
        self.menus = {"file": file_menu, "run": run_menu, "lessons": lessons_menu, "view": view_menu,
                      "help": help_menu}

    # -------------------------------------------------------------- worker
    def _start_worker(self) -> None:
        self._draw_timer = QTimer(self)
        self._draw_timer.setSingleShot(True)
        self._draw_timer.timeout.connect(self._draw_latest)
        self._next_draw = 0.0
        self.thread_ = QThread()
        self.thread_.setObjectName("bnviz-training")
        self.worker = TrainingWorker()
        self.worker.moveToThread(self.thread_)
        self.thread_.started.connect(self.worker.start)
        self.reset_requested.connect(self.worker.reset_runs)
        self.play_requested.connect(self.worker.play)
        self.pause_requested.connect(self.worker.pause)
        self.toggle_requested.connect(self.worker.toggle)
        self.steps_requested.connect(self.worker.step_n)
        self.epoch_requested.connect(self.worker.step_epoch)
        self.speed_requested.connect(self.worker.set_speed)
        self.live_config_requested.connect(self.worker.set_live)
        self.stop_requested.connect(self.worker.stop)
        self.inspect_requested.connect(self.worker.inspect)
        self.population_requested.connect(self.worker.recompute_population)
        lab = self.panels["test_time_panel"]
        lab.inspect_requested.connect(self.inspect_requested)
        lab.population_requested.connect(self.population_requested)
        lab.settings_requested.connect(self.apply_live_settings)
        self.worker.inspection_ready.connect(lab.set_inspection)
        self.worker.frame_ready.connect(self._on_worker_frame_ready)
        self.worker.playing_changed.connect(self._on_worker_playing_changed)
        self.worker.diverged.connect(self._on_worker_diverged)
        self.worker.failed.connect(self._on_worker_failed)
        self.thread_.start()
        self.speed_requested.emit(self.speed.speed())

    def _on_worker_frame_ready(self) -> None:
        """A ping from the worker: draw soon, but never back to back, so the
        event loop always has time for input, timers and painting."""
        if not self._draw_timer.isActive() and self._next_draw != float("inf"):
            wait = max(0.0, self._next_draw - time.perf_counter())
            self._draw_timer.start(int(wait * 1000))

    def _draw_latest(self) -> None:
        frame = self.worker.take_frame()
        if frame is None or frame.run_id != self._run_id:
            return  # from before a reset: stale
        self._draw_started = time.perf_counter()
        self._next_draw = float("inf")  # until the paint is done
        self._draw(frame)
        # A zero-time timer runs once the posted paint events are through.
        QTimer.singleShot(0, self._on_draw_painted)

    def _on_draw_painted(self) -> None:
        """Pace the next redraw: the GUI thread shares the interpreter lock
        with training, so after a redraw that took t seconds (data and
        paint) it idles DRAW_IDLE_FACTOR * t, keeping its share of the lock
        near 1 / (1 + DRAW_IDLE_FACTOR)."""
        now = time.perf_counter()
        cost = now - self._draw_started
        self._next_draw = now + max(MIN_DRAW_GAP, DRAW_IDLE_FACTOR * cost)
        if self.worker.has_frame() and not self._draw_timer.isActive():
            self._draw_timer.start(int((self._next_draw - now) * 1000))

    def _draw(self, frame) -> None:
        first = self._frame is None or self._frame.run_id != frame.run_id
        self._frame = frame
        if first:
            self.statusBar().clearMessage()
            self._config = frame.config
            self._live_run_id = frame.run_id
            self._live_runset = self._runset
            n = 1 + len(frame.others)
            self.mode_label.setText(f"Comparing {n} runs in lockstep" if n > 1 else "")
            for panel in self.panels.values():
                panel.clear()
        for panel in self.panels.values():
            panel.set_frame(frame)
        self.status.update(frame)
        self.frames_drawn += 1

    def _on_worker_playing_changed(self, playing: bool) -> None:
        self._playing = playing
        self.act_play.setText("Pause" if playing else "Play")
        self.status.set_playing(playing)

    def _on_worker_diverged(self, step: int, what: str) -> None:
        self.banner.show_divergence(step, what, self._config.lr)

    def _on_worker_failed(self, message: str) -> None:
        # The old run goes on: accept its frames again and show its settings.
        self._run_id = self._live_run_id
        self._runset = self._live_runset
        self.config_panel.set_config(self._config)
        self.statusBar().showMessage(f"Could not start the run: {message}", 10000)
        QMessageBox.warning(self, "bnviz", f"Could not start the run:\n{message}\n\n"
                            "The current run goes on unchanged.")

    # ------------------------------------------------------------ commands
    def toggle_play(self) -> None:
        self.toggle_requested.emit()

    def step(self, n: int) -> None:
        self.steps_requested.emit(int(n))

    def step_epoch(self) -> None:
        self.epoch_requested.emit()

    def reset_run(self, config: RunConfig) -> None:
        """Start a new run, and in compare mode its companions (the worker
        keeps the old runs if these fail)."""
        self._run_id += 1
        self.banner.hide()
        self.statusBar().showMessage("Preparing the run (loading data, building the network)…")
        self.config_panel.set_config(config)
        self.reset_requested.emit(self._runset.configs(config), self._runset.labels, self._run_id)

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
        self.start_runs(chosen.configs, chosen.labels)
        self.step(chosen.steps)

    def _on_config_live_changed(self, config: RunConfig) -> None:
        self._config = config
        self.live_config_requested.emit(config)

    def apply_live_settings(self, changes: dict) -> None:
        """Change live settings from a panel, as if edited in the Configuration."""
        try:
            config = self._config.replace(**changes).validate()
        except ConfigError as exc:
            self.statusBar().showMessage(str(exc), 8000)
            return
        self.config_panel.set_config(config)
        self._on_config_live_changed(config)

    def _confirm_reset(self, what: str) -> bool:
        if self._frame is None or self._frame.step == 0:
            return True
        answer = QMessageBox.question(
            self, "Reset the run?", f"{what} The current run (step {self._frame.step}) will be "
            "reset and its progress lost.", QMessageBox.Ok | QMessageBox.Cancel, QMessageBox.Ok)
        return answer == QMessageBox.Ok

    def _on_config_apply_requested(self, config: RunConfig) -> None:
        if self._confirm_reset("These settings change the network or the data."):
            self.reset_run(config)
        else:
            self.config_panel.set_config(self._config)

    def _on_config_preset_chosen(self, config: RunConfig) -> None:
        if self._confirm_reset("Loading a preset starts a new run."):
            self.reset_run(config)
        else:
            self.config_panel.set_config(self._config)

    def _on_banner_lower_lr_requested(self) -> None:
        self.reset_run(self._config.replace(lr=self._config.lr * 0.1))

    def open_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open run settings", self._last_dir(),
                                              "bnviz settings (*.toml);;All files (*)")
        if not path:
            return
        self._remember_dir(path)
        try:
            config = RunConfig.load(path)
        except ConfigError as exc:
            QMessageBox.warning(self, "bnviz", f"Cannot open {path}:\n{exc}\n\nThe current run is unchanged.")
            return
        if self._confirm_reset("Opening settings starts a new run."):
            self.reset_run(config)

    def save_config(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save run settings", self._last_dir(),
                                              "bnviz settings (*.toml)")
        if not path:
            return
        if not path.endswith(".toml"):
            path += ".toml"
        self._remember_dir(path)
        try:
            self._config.save(path)
        except OSError as exc:
            QMessageBox.warning(self, "bnviz", f"Cannot save {path}:\n{exc}")
            return
        self.statusBar().showMessage(f"Saved settings to {path}", 5000)

    def _last_dir(self) -> str:
        return str(self.settings.value("last_dir", ""))

    def _remember_dir(self, path: str) -> None:
        from pathlib import Path
        self.settings.setValue("last_dir", str(Path(path).parent))

    def show_shortcuts(self) -> None:
        rows = [(act.shortcut().toString(QKeySequence.NativeText), act.toolTip())
                for act in self.actions() if not act.shortcut().isEmpty()]
        table = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{t}</td></tr>" for k, t in rows)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{table}</table>")

    def show_about(self) -> None:
        QMessageBox.about(
            self, "About bnviz",
            f"<h3>bnviz {__version__}</h3><p>A desktop laboratory for batch normalization: "
            "watch what batch norm does inside every layer of a real network while it trains."
            "</p><p>The network, its gradients and its statistics are computed by bnviz's own "
            "NumPy engine, checked against finite differences and PyTorch's conventions.</p>")

    # -------------------------------------------------------------- layout
    def _restore_layout(self) -> None:
        self._default_state = self.saveState(SETTINGS_VERSION)
        geometry = self.settings.value("geometry")
        state = self.settings.value("window_state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state, SETTINGS_VERSION)

    def reset_layout(self) -> None:
        if self._default_state is not None:
            self.restoreState(self._default_state, SETTINGS_VERSION)
        for dock in [self.config_dock, *self.panel_docks.values()]:
            dock.show()
            dock.setFloating(False)
        self.lesson_dock.setFloating(False)
        self.lesson_dock.setVisible(self.lesson_view.lesson is not None and self.comparing())

    def closeEvent(self, event) -> None:
        if not self._closing:
            self._closing = True
            self.settings.setValue("geometry", self.saveGeometry())
            self.settings.setValue("window_state", self.saveState(SETTINGS_VERSION))
            self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the worker cooperatively and wait for its thread (never terminate)."""
        if self.thread_.isRunning():
            # The worker stops its timer and quits its own thread, so the
            # timer dies in the thread that owns it.
            self._draw_timer.stop()
            self.worker.request_stop()
            self.stop_requested.emit()
            self.thread_.wait(2000)
