"""The main window: run controls, the configuration dock, the live panels.

Commands go to the training process as messages; frames come back through
the training client (see training_client.py). The window never waits on
training.
"""
from __future__ import annotations

import time
import weakref
from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import (QDockWidget, QLabel, QMainWindow, QMessageBox, QTabBar, QTabWidget,
                               QToolButton, QVBoxLayout, QWidget)

from ..engine.config import ConfigError, RunConfig, preset, DEFAULT_PRESET
from ..resources_path import resource_path
from .banner import DivergenceBanner
from .process_banner import ProcessBanner
from .lesson_view import LessonView
from .config_panel import ConfigPanel
from .app_model import AppModel
from .compare_mode import CompareMode
from .file_actions import FileActions
from .window_menus import WindowMenus
from .panels import ALL_PANELS, EVERY_RUN_PANELS
from .sweep_mode import SweepMode
from .status import RunStatus
from .training_client import TrainingClient
from .theme import desktop_theme, restyle_plot
from .theme import set_current as set_current_theme
from .views import DEFAULT_VIEW, VIEW_OF_PANEL, VIEWS, View

MIN_DRAW_GAP = 0.010      # seconds of idle event loop between two redraws
DRAW_IDLE_FACTOR = 0.2    # idle this many times a redraw's cost before the next
SETTINGS_VERSION = 3  # bump when the layout changes incompatibly (3: task views)
DEFAULT_SIZE = (1800, 1100)   # at most; less on a smaller screen
CONFIG_WIDTH = 350            # the configuration column, if the screen has room


class MainWindow(QMainWindow):
    """The window: holds the app's model (AppModel), its panels in views,
    and three helpers that hold the window in turn: ``files`` (FileActions),
    ``compare`` (CompareMode) and ``menus_of`` (WindowMenus: actions,
    toolbar, menus). Commands to the training process are signals."""

    # Commands to the training process (through the training client).
    reset_requested = Signal(object, object, int)   # configs (A first), labels, run id
    play_requested = Signal()
    pause_requested = Signal()
    toggle_requested = Signal()
    steps_requested = Signal(int)
    epoch_requested = Signal()
    speed_requested = Signal(float)
    live_config_requested = Signal(object)
    inspect_requested = Signal(int, int)   # test example, run
    save_session_requested = Signal(str)
    open_session_requested = Signal(str, int)
    population_requested = Signal()

    def __init__(self, config: RunConfig | None = None, settings: QSettings | None = None):
        super().__init__()
        self.setWindowTitle("bnviz: batch normalization laboratory")
        self.setWindowIcon(QIcon(str(resource_path("bnviz.svg"))))
        self.settings = settings if settings is not None else QSettings("bnviz", "bnviz")
        self.model = AppModel(config or preset(DEFAULT_PRESET))
        self.files = FileActions(self)
        self.compare = CompareMode(self)
        self.sweeps = SweepMode(self)
        self._closing = False
        self.frames_drawn = 0
        self._slices = []   # (panel, frame) still to draw of the frame being drawn
        self._drawing = None
        self._shown_once = False
        self.recording = None   # a Recording in progress (File › Record animation)

        self._build_panels()
        self.follow_desktop_scheme()
        QGuiApplication.styleHints().colorSchemeChanged.connect(self.follow_desktop_scheme)
        self.menus_of = WindowMenus(self)
        self.status = RunStatus(self.statusBar())
        self.mode_label = QLabel()
        self.mode_label.setToolTip("Runs trained in lockstep (Run › Compare with…, or a lesson)")
        self.statusBar().addPermanentWidget(self.mode_label)
        self._start_training()
        self.files.apply_saved_data_limit()
        self._restore_layout()
        self.setAcceptDrops(True)
        self.model.on("run_started", self._on_run_started)
        self.model.on("run_refused", self._on_run_refused)
        self.reset_run(self.model.config)
        # Once the window is up: left-overs of saves a kill interrupted.
        QTimer.singleShot(0, self, self.files.clean_interrupted_saves)

    # ------------------------------------------------------------ building
    def _build_panels(self) -> None:
        self.panels = {cls.object_name: cls() for cls in ALL_PANELS}
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(4, 4, 4, 4)
        self.banner = DivergenceBanner()
        self.banner.lower_lr_requested.connect(self._on_banner_lower_lr_requested)
        self.banner.reset_requested.connect(lambda: self.reset_run(self.model.config))
        column.addWidget(self.banner)
        self.process_banner = ProcessBanner()
        self.process_banner.restart_requested.connect(self.restart_training)
        self.process_banner.session_requested.connect(self.restart_training)
        column.addWidget(self.process_banner)
        self.views = {spec.key: View(spec, self.panels) for spec in VIEWS}
        self.panel_docks = {name: dock for view in self.views.values()
                            for name, dock in view.docks.items()}
        self.view_tabs = QTabWidget()
        self.view_tabs.setObjectName("view_tabs")
        self.view_tabs.setDocumentMode(True)
        for i, view in enumerate(self.views.values()):
            self.view_tabs.addTab(view, view.spec.title)
            self.view_tabs.setTabToolTip(i, f"{view.spec.tip} (Ctrl+{i + 1})")
        self.view_tabs.currentChanged.connect(self._on_view_changed)
        # A narrow window scrolls the tabs with two arrow buttons of the tab bar's own.
        for arrow in self.view_tabs.tabBar().findChildren(QToolButton):
            arrow.setToolTip(f"More views (or Ctrl+1 to Ctrl+{len(VIEWS)})")
        column.addWidget(self.view_tabs, 1)
        self.setCentralWidget(central)
        # Keyboard focus starts on the plots, not in a form field, so Space
        # and the arrow keys drive training instead of editing a setting.
        central.setFocusPolicy(Qt.StrongFocus)

        self.config_panel = ConfigPanel()
        self.config_panel.set_config(self.model.config)
        self.config_panel.live_changed.connect(self._on_config_live_changed)
        self.config_panel.apply_requested.connect(self._on_config_apply_requested)
        self.config_panel.preset_chosen.connect(self._on_config_preset_chosen)
        # The panel scrolls inside itself and keeps Apply/Revert pinned below.
        self.config_dock = self._dock("Configuration", "dock_config", self.config_panel,
                                      Qt.LeftDockWidgetArea)
        self.lesson_view = LessonView()
        self.lesson_view.steps_requested.connect(self.step)
        self.lesson_view.restart_requested.connect(
            lambda: self.compare.open_lesson(self.model.lesson.key))
        self.lesson_view.leave_requested.connect(lambda: self.compare.single_run())
        self.lesson_dock = self._dock("Lesson", "dock_lesson", self.lesson_view, Qt.LeftDockWidgetArea)
        # A lesson's text takes the configuration's place (its tab stays a click away).
        self.tabifyDockWidget(self.config_dock, self.lesson_dock)
        self.lesson_dock.hide()
        self.config_dock.raise_()
        self.resize(*self.default_size())
        self._fit_views()
        self._default_state = None

    def default_size(self) -> tuple[int, int]:
        """DEFAULT_SIZE, or the screen's available room less a margin."""
        room = self._screen_room()
        if room is None:
            return DEFAULT_SIZE
        return min(DEFAULT_SIZE[0], room.width() - 40), min(DEFAULT_SIZE[1], room.height() - 60)

    def _screen_room(self):
        screen = self.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry() if screen is not None else None

    def _fit_views(self) -> None:
        """The default shares of every view, for the window's default size."""
        width, height = self.default_size()
        # The dock in front of the column (resizing the other would raise it).
        front = self.lesson_dock if self.model.lesson is not None else self.config_dock
        self.resizeDocks([front], [min(CONFIG_WIDTH, width // 3)], Qt.Horizontal)
        self.bring_to_front(front)
        for view in self.views.values():
            view.fit_default(max(width - CONFIG_WIDTH, View.MIN_WIDTH), max(height - 150, View.MIN_HEIGHT))

    def bring_to_front(self, dock) -> None:
        """``dock`` in front of its tab group. (QDockWidget.raise_ alone is
        lost when the dock was hidden while tabified, as the lesson's is
        until a lesson opens: its tab is chosen here too.)"""
        dock.raise_()
        for bar in self.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
            for i in range(bar.count()):
                if bar.tabText(i) == dock.windowTitle():
                    bar.setCurrentIndex(i)

    def fit_to_screen(self) -> None:
        """Keep the window inside the screen's available room (a restored
        geometry from a larger screen, a lesson's wider text)."""
        room = self._screen_room()
        if room is None or self.isMaximized() or self.isFullScreen():
            return
        frame = self.frameGeometry()
        extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()
        width = min(self.width(), room.width() - extra_w)
        height = min(self.height(), room.height() - extra_h)
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        frame = self.frameGeometry()
        x = min(max(frame.x(), room.x()), room.right() - frame.width() + 1)
        y = min(max(frame.y(), room.y()), room.bottom() - frame.height() + 1)
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    # ------------------------------------------------------------- views
    def show_view(self, key: str) -> None:
        self.view_tabs.setCurrentWidget(self.views[key])

    def current_view(self) -> View:
        return self.view_tabs.currentWidget()

    def show_panel(self, name: str) -> None:
        """Bring panel ``name`` on screen: its view, and its dock in front."""
        self.show_view(VIEW_OF_PANEL[name])
        dock = self.panel_docks[name]
        dock.wanted = True   # asked for: shown as soon as the run gives it something to show
        dock.sync()
        dock.raise_()

    def _on_view_changed(self, _index: int) -> None:
        for panel in self.current_view().panels():
            QTimer.singleShot(0, panel.show_latest)

    def refresh_absences(self) -> None:
        """Which panels have something to show, asked again (a sweep began)."""
        if self.model.frame is not None:
            self._update_absences(self.model.frame)

    def _update_absences(self, frame) -> None:
        """Panels with nothing to show for this run leave their views."""
        shown = self._shown_run(frame)
        for view in self.views.values():
            view.set_absences({name: dock.panel.absence(frame if name in EVERY_RUN_PANELS else shown)
                               for name, dock in view.docks.items()})

    # ------------------------------------------------------ colour scheme
    def follow_desktop_scheme(self, *_args) -> None:
        """Plots in the desktop's light or dark colours (theme.py)."""
        from PySide6.QtWidgets import QApplication
        self.apply_theme(desktop_theme(QApplication.instance()))

    def apply_theme(self, theme) -> None:
        set_current_theme(theme)
        for panel in self.panels.values():
            plots = [p for p in panel.plot_widgets() if hasattr(p, "getPlotItem")]
            if any([restyle_plot(p, theme) for p in plots]):
                frame = panel.frame()
                panel.clear()   # every series drawn afresh in the new colours
                if frame is not None:
                    panel.set_frame(frame)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:   # a platform that has no colorScheme
            self.follow_desktop_scheme()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.centralWidget().setFocus()
        if not self._shown_once:
            self._shown_once = True
            # Docks take their shares once the window has its size on screen.
            if self.settings.value("layout_version") != str(SETTINGS_VERSION):
                QTimer.singleShot(0, self._fit_views)
            QTimer.singleShot(0, self.fit_to_screen)

    def _dock(self, title, name, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                         | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    # ------------------------------------------------------------ training
    def _start_training(self) -> None:
        self._draw_timer = QTimer(self)
        self._draw_timer.setSingleShot(True)
        self._draw_timer.timeout.connect(self._draw_latest)
        self._next_draw = 0.0
        self.training = TrainingClient(self)
        for signal, command in ((self.reset_requested, self.training.reset_runs),
                                (self.play_requested, self.training.play),
                                (self.pause_requested, self.training.pause),
                                (self.toggle_requested, self.training.toggle),
                                (self.steps_requested, self.training.step_n),
                                (self.epoch_requested, self.training.step_epoch),
                                (self.speed_requested, self.training.set_speed),
                                (self.live_config_requested, self.training.set_live),
                                (self.inspect_requested, self.training.inspect),
                                (self.population_requested, self.training.recompute_population),
                                (self.save_session_requested, self.training.save_session),
                                (self.open_session_requested, self.training.open_session)):
            signal.connect(command)
        lab = self.panels["test_time_panel"]
        lab.inspect_requested.connect(self.inspect_requested)
        maps = self.panels["feature_maps_panel"]
        combo = weakref.ref(self.run_view_combo)   # (weakly: the panel does not keep the window)
        maps.run_of = lambda: max(combo().currentIndex(), 0) if combo() is not None else 0
        maps.inspect_requested.connect(self.inspect_requested)
        self.training.inspection_ready.connect(maps.set_inspection)
        lab.population_requested.connect(self.population_requested)
        lab.settings_requested.connect(self.apply_live_settings)
        self.training.inspection_ready.connect(lab.set_inspection)
        self.training.session_saved.connect(self.files.session_saved)
        self.training.session_error.connect(self.files.session_not_saved)
        self.training.frame_ready.connect(self._on_training_frame_ready)
        self.training.playing_changed.connect(self._on_training_playing_changed)
        self.training.diverged.connect(self._on_training_diverged)
        self.training.failed.connect(self._on_training_failed)
        self.training.error.connect(self._on_training_error)
        self.training.died.connect(self._on_training_died)
        self.speed_requested.emit(self.speed.speed())

    def _on_training_frame_ready(self) -> None:
        """A new frame: draw soon, but never back to back, so the
        event loop always has time for input, timers and painting."""
        if not self._draw_timer.isActive() and self._next_draw != float("inf"):
            wait = max(0.0, self._next_draw - time.perf_counter())
            self._draw_timer.start(int(wait * 1000))

    def _draw_latest(self) -> None:
        frame = self.training.take_frame()
        if frame is None or not self.model.fresh(frame):
            return  # from before a reset: stale
        self._draw_started = time.perf_counter()
        self._next_draw = float("inf")  # until the paint is done
        self._draw(frame)

    def _on_draw_painted(self) -> None:
        """Pace the next redraw: after a redraw that took t seconds (data and
        paint) the event loop idles DRAW_IDLE_FACTOR * t (at least
        MIN_DRAW_GAP) for input, timers and the pipe."""
        now = time.perf_counter()
        cost = now - self._draw_started
        self._next_draw = now + max(MIN_DRAW_GAP, DRAW_IDLE_FACTOR * cost)
        if self.training.has_frame() and not self._draw_timer.isActive():
            self._draw_timer.start(int((self._next_draw - now) * 1000))

    @property
    def playing(self) -> bool:
        """Whether the training process is playing (as it last said)."""
        return self.status.playing

    def _on_run_started(self, frame) -> None:
        """The first frame of new runs (AppModel's event): the window shows them."""
        self.statusBar().clearMessage()
        n = 1 + len(frame.others)
        self.mode_label.setText(f"Comparing {n} runs in lockstep" if n > 1 else "")
        self._fill_run_view((frame.label, *(o.label for o in frame.others)))
        for panel in self.panels.values():
            panel.clear()
        self._show_settings_of(self._shown_run(frame), frame)

    def _on_run_refused(self, message: str) -> None:
        """The runs asked for could not start (AppModel's event); the old ones go on."""
        self.config_panel.set_config(self.model.config)
        self.statusBar().showMessage(f"Could not start the run: {message}", 10000)
        QMessageBox.warning(self, "bnviz", f"Could not start the run:\n{message}\n\n"
                            "The current run goes on unchanged.")

    def _draw(self, frame) -> None:
        self._drawing = frame   # the model's frame once every panel has it
        _, recent = self.model.arrive(frame)   # (on the first, _on_run_started has run)
        if recent:
            self.files.add_recent(recent)
        shown = self._shown_run(frame)
        self._update_absences(frame)
        self._slices = [(panel, frame if name in EVERY_RUN_PANELS else shown)
                        for name, panel in self.panels.items()]
        self.status.update(shown, shown_name=shown.label if frame.others else "")
        self.frames_drawn += 1
        if self.recording is not None:
            self.recording.offer(frame, shown)
        self._draw_slice()

    def _draw_slice(self) -> None:
        """Give the next panel on screen its frame (the hidden ones keep
        theirs for when they are shown), then let the event loop run: input,
        timers and the pipe wait at most one panel's drawing, not a frame's."""
        while self._slices:
            panel, frame = self._slices.pop(0)
            drawn = panel.on_screen()
            panel.set_frame(frame)
            if drawn and self._slices:
                QTimer.singleShot(0, self._draw_slice)
                return
        self.model.shown(self._drawing)   # the frame now on screen
        # A zero-time timer runs once the posted paint events are through.
        QTimer.singleShot(0, self._on_draw_painted)

    def _shown_run(self, frame):
        """The frame of the run the single-run panels show (compare mode)."""
        runs = (frame, *frame.others)
        return runs[min(max(self.run_view_combo.currentIndex(), 0), len(runs) - 1)]

    def _fill_run_view(self, labels) -> None:
        blocked = self.run_view_combo.blockSignals(True)
        self.run_view_combo.clear()
        if len(labels) > 1:
            self.run_view_combo.addItems(list(labels))
        self.run_view_combo.blockSignals(blocked)
        for act in self.run_view_actions:
            act.setVisible(len(labels) > 1)

    def _on_run_view_combo_changed(self, _index: int) -> None:
        """Another run in the single-run panels: their series start afresh."""
        frame = self.model.frame
        if frame is None:
            return
        shown = self._shown_run(frame)
        self._update_absences(frame)
        self._show_settings_of(shown, frame)
        self.status.update(shown, shown_name=shown.label)
        for name, panel in self.panels.items():
            if name not in EVERY_RUN_PANELS:
                panel.clear()
                panel.set_frame(shown)

    def _show_settings_of(self, shown, frame) -> None:
        """The configuration shows the settings of the run on screen: run A's
        to edit, another run's to read (they follow from A's and its own
        differences, chosen in Run › Compare with…)."""
        is_a = shown is frame
        self.config_panel.set_config(self.model.config if is_a else shown.config)
        self.config_panel.set_owner(shown.label if frame.others else "", editable=is_a)

    def _on_training_playing_changed(self, playing: bool) -> None:
        self.act_play.setText("Pause" if playing else "Play")
        self.status.set_playing(playing)

    def _on_training_diverged(self, step: int, what: str) -> None:
        self.banner.show_divergence(step, what, self.model.config.lr)

    def _on_training_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        QMessageBox.warning(self, "bnviz", f"{message}\n\nThe run is paused; nothing was lost.")

    def _on_training_died(self, message: str) -> None:
        """The training process ended: say so, keep the last frame on screen
        (and for Export all), and offer to start again."""
        self.act_play.setText("Play")
        self.status.set_playing(False)
        self.statusBar().showMessage(message + " The last frame stays on screen.", 0)
        self.process_banner.show_death(message, self.model.last_session)

    def restart_training(self, session: str | None = None) -> None:
        """A new training process, then the run from scratch or from ``session``."""
        self.process_banner.hide()
        self.training.restart()
        self.speed_requested.emit(self.speed.speed())
        if session:   # the runs as they were (a lesson's text stays)
            self.open_session_requested.emit(session, self._begin(None, session=session))
        else:
            self.reset_run(self.model.config)

    def _on_training_failed(self, message: str) -> None:
        self.model.refused(message)   # the old run goes on (_on_run_refused says so)

    # ------------------------------------------------------------ commands
    def toggle_play(self) -> None:
        self.toggle_requested.emit()

    def step(self, n: int) -> None:
        self.steps_requested.emit(int(n))

    def step_epoch(self) -> None:
        self.epoch_requested.emit()

    def reset_run(self, config: RunConfig, runset=None, recent: str | None = None) -> None:
        """Start a new run with run A's ``config``, and the runs of ``runset``
        (by default the current ones) beside it; the training process keeps
        the old runs if these fail. ``recent``: a file to list under Open
        recent once it runs."""
        run_id = self._begin(runset, recent=recent)
        self.config_panel.set_config(config)
        self.statusBar().showMessage("Preparing the run (loading data, building the network)…")
        self.reset_requested.emit(self.model.configs(config), self.model.runset.labels, run_id)

    def begin_session(self, path: str) -> None:
        """The runs of the session file ``path``, each where it was."""
        self.compare.close_lesson()
        run_id = self._begin(None, session=path)
        self.statusBar().showMessage(f"Opening {path}…")
        self.open_session_requested.emit(path, run_id)

    def _begin(self, runset, **where) -> int:
        """The one reset path: a new run id (older frames are stale), the
        divergence banner gone."""
        self.banner.hide()
        return self.model.begin(runset, **where)

    def _on_config_live_changed(self, config: RunConfig) -> None:
        self.model.config = config
        self.live_config_requested.emit(config)

    def apply_live_settings(self, changes: dict) -> None:
        """Change live settings from a panel, as if edited in the Configuration."""
        try:
            config = self.model.config.replace(**changes).validate()
        except ConfigError as exc:
            self.statusBar().showMessage(str(exc), 8000)
            return
        self.config_panel.set_config(config)
        self._on_config_live_changed(config)

    def confirm_reset(self, what: str) -> bool:
        """Ask before a new run replaces one with progress to lose."""
        if self.model.step() == 0:
            return True
        answer = QMessageBox.question(
            self, "Reset the run?", f"{what} The current run (step {self.model.step()}) will be "
            "reset and its progress lost.", QMessageBox.Ok | QMessageBox.Cancel, QMessageBox.Ok)
        return answer == QMessageBox.Ok

    def _on_config_apply_requested(self, config: RunConfig) -> None:
        if self.confirm_reset("These settings change the network or the data."):
            self.reset_run(config)
        else:
            self.config_panel.set_config(self.model.config)

    def _on_config_preset_chosen(self, config: RunConfig) -> None:
        if self.confirm_reset("Loading a preset starts a new run."):
            self.reset_run(config)
        else:
            self.config_panel.set_config(self.model.config)

    def _on_banner_lower_lr_requested(self) -> None:
        self.reset_run(self.model.config.replace(lr=self.model.config.lr * 0.1))

    # -------------------------------------------------------------- layout
    def _restore_layout(self) -> None:
        self._default_state = self.saveState(SETTINGS_VERSION)
        if self.settings.value("layout_version") != str(SETTINGS_VERSION):
            self.show_view(DEFAULT_VIEW)
            return   # an older layout (docks of another kind): start from the default
        geometry = self.settings.value("geometry")
        state = self.settings.value("window_state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state, SETTINGS_VERSION)
        for key, view in self.views.items():
            view_state = self.settings.value(f"view_state/{key}")
            if view_state is not None:
                closed = self.settings.value(f"view_closed/{key}", [])
                view.restore_state(view_state, [closed] if isinstance(closed, str) else closed or [])
        current = self.settings.value("current_view", DEFAULT_VIEW)
        self.show_view(current if current in self.views else DEFAULT_VIEW)
        self.lesson_dock.setVisible(self.model.lesson is not None)
        self.fit_to_screen()

    def reset_layout(self) -> None:
        """The default size (fitted to the screen), docks and views."""
        if self.isMaximized() or self.isFullScreen():
            self.showNormal()
        if self._default_state is not None:
            self.restoreState(self._default_state, SETTINGS_VERSION)
        for dock in (self.config_dock, self.lesson_dock):
            dock.setFloating(False)
        self.config_dock.show()
        self.lesson_dock.setVisible(self.model.lesson is not None)
        self.bring_to_front(self.lesson_dock if self.lesson_dock.isVisible() else self.config_dock)
        for view in self.views.values():
            view.reset()
        self.resize(*self.default_size())
        self._fit_views()
        self.fit_to_screen()

    def comparing(self) -> bool:
        return self.model.comparing()

    def dragEnterEvent(self, event) -> None:
        self.files.drag_enter(event)

    def dropEvent(self, event) -> None:
        self.files.drop(event)

    def record_animation(self) -> None:
        """File › Record animation: ask what to record and start, or stop the recording."""
        if self.recording is not None:
            self.recording.stop()
            return
        from .recording import RecordDialog, Recording
        view = self.current_view()
        dialog = RecordDialog(view.spec.main, str(Path.home()), self)
        if dialog.exec() != RecordDialog.Accepted:
            return
        self.recording = Recording(dialog.settings(), self.statusBar(), self)
        self.recording.finished.connect(self._on_recording_finished)
        self.act_record.setText("Stop recording")

    def _on_recording_finished(self, message: str) -> None:
        self.recording = None
        self.act_record.setText("Record animation…")
        self.statusBar().showMessage(message, 15000)

    def closeEvent(self, event) -> None:
        if self.recording is not None:   # what was taken is written, not lost
            self.recording.stop()
        if not self._closing:
            self._closing = True
            self.settings.setValue("layout_version", str(SETTINGS_VERSION))
            self.settings.setValue("geometry", self.saveGeometry())
            self.settings.setValue("window_state", self.saveState(SETTINGS_VERSION))
            for key, view in self.views.items():
                self.settings.setValue(f"view_state/{key}", view.save_state())
                self.settings.setValue(f"view_closed/{key}", view.closed())
            self.settings.setValue("current_view", self.current_view().spec.key)
            self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the training process cooperatively (terminated only after a
        timeout, see TrainingProcess.stop), and any sweep's workers."""
        self._draw_timer.stop()
        self.sweeps.stop()
        self.training.shutdown()
