"""The window's actions, toolbar and menus (a mixin of MainWindow)."""
from __future__ import annotations

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
    """Builds every QAction once; the toolbar and menus share them."""

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
                          lambda: self.open_config(), "Ctrl+O")
        self.act_save = a("Save config…", "Save the run settings to a TOML file (Ctrl+S)",
                          self.save_config, "Ctrl+S")
        self.act_open_session = a("Open session…", "Continue a saved session: every run exactly where "
                                  "it was (Ctrl+Shift+O)", lambda: self.open_session(), "Ctrl+Shift+O")
        self.act_save_session = a("Save session…", "Save every run (weights, optimizer, random state, "
                                  "history) to continue later (Ctrl+Shift+S)", self.save_session,
                                  "Ctrl+Shift+S")
        self.act_open_data = a("Open data set…", "Train this network on your own CSV or NPZ file "
                               "(features and labels)", lambda: self.open_data())
        self.act_export = a("Export all…", "Write every figure (PNG, SVG), the recorded data (CSV, "
                            "NPZ), the settings and a manifest to a folder (Ctrl+E)", self.export_all,
                            "Ctrl+E")
        self.act_export_view = a("Export this view…", "Write the view on screen, as it is laid out, "
                                 "as one figure (PNG or SVG) (Ctrl+Shift+E)", self.export_view,
                                 "Ctrl+Shift+E")
        self.act_compare = a("Compare with…", "Train a second run beside this one, on the same "
                             "mini-batches from the same initial weights (Ctrl+K)",
                             self.compare_with, "Ctrl+K")
        self.act_single = a("Single run", "Leave compare mode: run A alone, from its initial weights",
                            self.single_run)
        self.act_reset_layout = a("Reset layout", "Put the window's size, every view and every "
                                  "panel back as they started",
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
        # Compare mode: which run the single-run panels show.
        self.run_view_label = QLabel(" Show run ")
        self.run_view_combo = QComboBox()
        self.run_view_combo.setToolTip("Compare mode: the run that the distributions, γ and β, "
                                       "running statistics, gradients, training curves and decision "
                                       "boundary panels show (Compare runs and the Test-time lab "
                                       "show every run)")
        self.run_view_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.run_view_combo.currentIndexChanged.connect(self._on_run_view_combo_changed)
        self.run_view_actions = (bar.addWidget(self.run_view_label), bar.addWidget(self.run_view_combo))
        for act in self.run_view_actions:
            act.setVisible(False)
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
        for act in (self.act_open, self.act_save, None, self.act_open_session, self.act_save_session,
                    None, self.act_open_data):
            file_menu.addSeparator() if act is None else file_menu.addAction(act)
        self.recent_menu = file_menu.addMenu("Open recent")
        self.recent_menu.setToolTipsVisible(True)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.act_export)
        file_menu.addAction(self.act_export_view)
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
            act = QAction(menu_text(item.title), self)
            first = item.explanation.split(". ")[0].rstrip(".") + "."
            act.setToolTip(first)
            act.setStatusTip(first)
            act.triggered.connect(lambda _=False, key=item.key: self.open_lesson(key))
            lessons_menu.addAction(act)
            self.lesson_actions[item.key] = act
        view_menu = mb.addMenu("&View")
        self.view_actions = {}
        for i, (key, view) in enumerate(self.views.items()):
            act = self._action(menu_text(view.spec.title), f"{view.spec.tip} (Ctrl+{i + 1})",
                               lambda _=False, k=key: self.show_view(k), f"Ctrl+{i + 1}")
            view_menu.addAction(act)
            self.view_actions[key] = act
        view_menu.addSeparator()
        panels_menu = self.panels_menu = view_menu.addMenu("Panels")
        for view in self.views.values():
            panels_menu.addSection(menu_text(view.spec.title))
            for dock in view.docks.values():
                panels_menu.addAction(dock.toggle_action)
        panels_menu.setToolTipsVisible(True)
        for dock, tip in ((self.config_dock, "Show or hide the run's settings"),
                          (self.lesson_dock, "Show or hide the open lesson's text")):
            act = dock.toggleViewAction()
            act.setToolTip(tip)
            view_menu.addAction(act)
        view_menu.addSeparator()
        view_menu.addAction(self.act_reset_layout)
        help_menu = mb.addMenu("&Help")
        help_menu.addAction(self.act_keys)
        help_menu.addAction(self.act_about)
        for menu in (file_menu, run_menu, lessons_menu, view_menu, help_menu):
            menu.setToolTipsVisible(True)
        self.menus = {"file": file_menu, "run": run_menu, "lessons": lessons_menu, "view": view_menu,
                      "help": help_menu}

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
