"""The window's actions, toolbar and menus, built once for a window. The
object holds the window weakly; the actions it makes belong to the window."""
from __future__ import annotations

import weakref

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMessageBox, QToolBar

from .. import __version__
from ..engine.lessons import LESSONS
from .speed import SpeedControl


def menu_text(text: str) -> str:
    """``text`` shown as is in a menu ("&" would otherwise mark a mnemonic)."""
    return text.replace("&", "&&")


class WindowMenus:
    """Builds every QAction of ``window`` once (as its ``act_*``); the
    toolbar and menus share them."""

    def __init__(self, window):
        self._window = weakref.ref(window)
        self._build_actions()
        self._build_toolbar()
        self._build_menus()

    @property
    def window(self):
        return self._window()

    def _action(self, text, tip, slot, shortcut=None, checkable=False) -> QAction:
        w = self.window
        act = QAction(text, w)
        act.setToolTip(tip)
        act.setStatusTip(tip)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.WindowShortcut)
        act.setCheckable(checkable)
        act.triggered.connect(slot)
        w.addAction(act)  # shortcuts work even with the toolbar hidden
        return act

    def _build_actions(self) -> None:
        w = self.window
        a = self._action
        w.act_play = a("Play", "Train continuously, or pause (Space)", w.toggle_play, "Space")
        w.act_step = a("Step", "Train one mini-batch (Right arrow)", lambda: w.step(1), "Right")
        w.act_step10 = a("×10", "Train 10 mini-batches", lambda: w.step(10))
        w.act_step100 = a("×100", "Train 100 mini-batches", lambda: w.step(100))
        w.act_epoch = a("Epoch", "Train one pass over the training set", w.step_epoch)
        w.act_reset = a("Reset", "Start the run again from its initial weights (Ctrl+R)",
                           lambda: w.reset_run(w.model.config), "Ctrl+R")
        w.act_quit = a("Quit", "Close bnviz (Ctrl+Q)", w.close, QKeySequence.Quit)
        w.act_quit.setShortcut(QKeySequence("Ctrl+Q"))
        w.act_open = a("Open config…", "Load run settings from a TOML file (Ctrl+O)",
                          lambda: w.files.open_config(), "Ctrl+O")
        w.act_save = a("Save config…", "Save the run settings to a TOML file (Ctrl+S)",
                          w.files.save_config, "Ctrl+S")
        w.act_open_session = a("Open session…", "Continue a saved session: every run exactly where "
                                  "it was (Ctrl+Shift+O)", lambda: w.files.open_session(), "Ctrl+Shift+O")
        w.act_save_session = a("Save session…", "Save every run (weights, optimizer, random state, "
                                  "history) to continue later (Ctrl+Shift+S)", w.files.save_session,
                                  "Ctrl+Shift+S")
        w.act_open_data = a("Open data set…", "Train this network on your own CSV or NPZ file "
                               "(features and labels)", lambda: w.files.open_data())
        w.act_data_limit = a("Data size limit…", "The largest data set or session bnviz opens; "
                                "larger files are refused before they are read", w.files.ask_data_limit)
        w.act_export = a("Export all…", "Write every figure (PNG, SVG), the recorded data (CSV, "
                            "NPZ), the settings and a manifest to a folder (Ctrl+E)", w.files.export_all,
                            "Ctrl+E")
        w.act_export_view = a("Export this view…", "Write the view on screen, as it is laid out, "
                                 "as one figure (PNG or SVG) (Ctrl+Shift+E)", w.files.export_view,
                                 "Ctrl+Shift+E")
        w.act_record = a("Record animation…", "Record a panel while the run trains, as a GIF or "
                            "MP4 for slides; choose it again to stop (Ctrl+Shift+R)", w.record_animation,
                            "Ctrl+Shift+R")
        w.act_compare = a("Compare with…", "Train a second run beside this one, on the same "
                             "mini-batches from the same initial weights (Ctrl+K)",
                             w.compare.compare_with, "Ctrl+K")
        w.act_sweep = a("Sweep…", "Train one run per value of a setting (batch size, learning rate…) "
                           "for each normalization, in parallel processes, and plot their final "
                           "test error against it in the Sweep view (Ctrl+Shift+K)",
                           lambda: w.sweeps.ask(), "Ctrl+Shift+K")
        w.act_stop_sweep = a("Stop sweep", "Stop the sweep: the runs not finished are dropped, "
                                "those done stay plotted", lambda: w.sweeps.stop())
        w.act_stop_sweep.setEnabled(False)
        w.act_single = a("Single run", "Leave compare mode: run A alone, from its initial weights",
                            w.compare.single_run)
        w.act_reset_layout = a("Reset layout", "Put the window's size, every view and every "
                                  "panel back as they started",
                                  w.reset_layout)
        w.act_about = a("About bnviz", "Version and what bnviz is", self.show_about)
        w.act_keys = a("Keyboard shortcuts", "List the keyboard shortcuts (F1)",
                          self.show_shortcuts, "F1")

    def _build_toolbar(self) -> None:
        w = self.window
        bar = QToolBar("Run")
        bar.setObjectName("toolbar_run")
        bar.setMovable(False)
        for act in (w.act_play, w.act_step, w.act_step10, w.act_step100, w.act_epoch):
            bar.addAction(act)
        bar.addSeparator()
        bar.addAction(w.act_reset)
        bar.addSeparator()
        # Compare mode: which run the single-run panels show.
        w.run_view_label = QLabel(" Show run ")
        w.run_view_combo = QComboBox()
        w.run_view_combo.setToolTip("Compare mode: the run that the distributions, γ and β, "
                                       "running statistics, gradients, training curves and decision "
                                       "boundary panels show (Compare runs and the Test-time lab "
                                       "show every run)")
        w.run_view_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        w.run_view_combo.currentIndexChanged.connect(w._on_run_view_combo_changed)
        w.run_view_actions = (bar.addWidget(w.run_view_label), bar.addWidget(w.run_view_combo))
        for act in w.run_view_actions:
            act.setVisible(False)
        bar.addSeparator()
        w.speed = SpeedControl()
        w.speed.speed_changed.connect(w.speed_requested)
        bar.addWidget(w.speed)
        for act in bar.actions():
            widget = bar.widgetForAction(act)
            if widget is not None:
                widget.setToolTip(act.toolTip())
        w.addToolBar(Qt.TopToolBarArea, bar)
        w.toolbar = bar

    def _build_menus(self) -> None:
        w = self.window
        mb = w.menuBar()
        file_menu = mb.addMenu("&File")
        for act in (w.act_open, w.act_save, None, w.act_open_session, w.act_save_session,
                    None, w.act_open_data, w.act_data_limit):
            file_menu.addSeparator() if act is None else file_menu.addAction(act)
        w.recent_menu = file_menu.addMenu("Open recent")
        w.recent_menu.setToolTipsVisible(True)
        w.recent_menu.aboutToShow.connect(w.files.fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(w.act_export)
        file_menu.addAction(w.act_export_view)
        file_menu.addAction(w.act_record)
        file_menu.addSeparator()
        file_menu.addAction(w.act_quit)
        run_menu = mb.addMenu("&Run")
        for act in (w.act_play, w.act_step, w.act_step10, w.act_step100, w.act_epoch):
            run_menu.addAction(act)
        run_menu.addSeparator()
        run_menu.addAction(w.act_reset)
        run_menu.addSeparator()
        run_menu.addAction(w.act_compare)
        run_menu.addAction(w.act_single)
        run_menu.addSeparator()
        run_menu.addAction(w.act_sweep)
        run_menu.addAction(w.act_stop_sweep)
        lessons_menu = mb.addMenu("&Lessons")
        w.lesson_actions = {}
        for item in LESSONS:
            act = QAction(menu_text(item.title), w)
            first = item.explanation.split(". ")[0].rstrip(".") + "."
            act.setToolTip(first)
            act.setStatusTip(first)
            act.triggered.connect(lambda _=False, key=item.key: w.compare.open_lesson(key))
            lessons_menu.addAction(act)
            w.lesson_actions[item.key] = act
        view_menu = mb.addMenu("&View")
        w.view_actions = {}
        for i, (key, view) in enumerate(w.views.items()):
            act = self._action(menu_text(view.spec.title), f"{view.spec.tip} (Ctrl+{i + 1})",
                               lambda _=False, k=key: w.show_view(k), f"Ctrl+{i + 1}")
            view_menu.addAction(act)
            w.view_actions[key] = act
        view_menu.addSeparator()
        panels_menu = w.panels_menu = view_menu.addMenu("Panels")
        for view in w.views.values():
            panels_menu.addSection(menu_text(view.spec.title))
            for dock in view.docks.values():
                panels_menu.addAction(dock.toggle_action)
        panels_menu.setToolTipsVisible(True)
        for dock, tip in ((w.config_dock, "Show or hide the run's settings"),
                          (w.lesson_dock, "Show or hide the open lesson's text")):
            act = dock.toggleViewAction()
            act.setToolTip(tip)
            view_menu.addAction(act)
        view_menu.addSeparator()
        view_menu.addAction(w.act_reset_layout)
        help_menu = mb.addMenu("&Help")
        help_menu.addAction(w.act_keys)
        help_menu.addAction(w.act_about)
        for menu in (file_menu, run_menu, lessons_menu, view_menu, help_menu):
            menu.setToolTipsVisible(True)
        w.menus = {"file": file_menu, "run": run_menu, "lessons": lessons_menu, "view": view_menu,
                      "help": help_menu}

    def show_shortcuts(self) -> None:
        w = self.window
        rows = [(act.shortcut().toString(QKeySequence.NativeText), act.toolTip())
                for act in w.actions() if not act.shortcut().isEmpty()]
        table = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{t}</td></tr>" for k, t in rows)
        QMessageBox.information(w, "Keyboard shortcuts", f"<table>{table}</table>")

    def show_about(self) -> None:
        w = self.window
        QMessageBox.about(
            w, "About bnviz",
            f"<h3>bnviz {__version__}</h3><p>A desktop laboratory for batch normalization: "
            "watch what batch norm does inside every layer of a real network while it trains."
            "</p><p>The network, its gradients and its statistics are computed by bnviz's own "
            "NumPy engine, checked against finite differences and PyTorch's conventions.</p>")
