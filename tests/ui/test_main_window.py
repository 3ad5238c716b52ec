"""The main window: shortcuts, menus, tooltips, reset, divergence, layout
persistence and closing while training."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit,
                               QSlider)

from bnviz.engine.config import RunConfig
from bnviz.ui.main_window import MainWindow

SMALL = RunConfig(dataset="moons", n_samples=200, hidden=(8, 8), activation="tanh",
                  batchnorm=True, optimizer="sgd", lr=0.1, batch_size=16, seed=0)  # as in conftest
ROOT = Path(__file__).resolve().parents[2]


def _step(win):
    return 0 if win.model.frame is None else win.model.frame.step


def test_window_basics(window):
    assert "bnviz" in window.windowTitle()
    assert not window.windowIcon().isNull()
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Run", "Lessons", "View", "Help"]
    # Every view has its entry and shortcut, every dock its toggle in the View menu.
    view = window.menus["view"]
    assert len([a for a in view.actions() if a.isCheckable()]) == 2   # configuration, lesson
    panels = window.panels_menu
    assert panels.menuAction() in view.actions()
    assert len([a for a in panels.actions() if a.isCheckable()]) == len(window.panel_docks)
    # A lesson title's "&" is shown as is, not taken for a mnemonic.
    fig1 = window.lesson_actions["fig1"].text()
    assert fig1.startswith("Ioffe && Szegedy") and fig1.replace("&&", "&").startswith("Ioffe & Szegedy")
    for i, key in enumerate(window.views):
        assert window.view_actions[key].shortcut().toString() == f"Ctrl+{i + 1}"
        window.view_actions[key].trigger()
        assert window.current_view() is window.views[key]


def test_help_menu(window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox
    seen = []
    parents = []
    monkeypatch.setattr(QMessageBox, "about",
                        lambda parent, title, text: (parents.append(parent), seen.append(text)))
    monkeypatch.setattr(QMessageBox, "information",
                        lambda parent, title, text: (parents.append(parent), seen.append(text)))
    window.act_about.trigger()
    from bnviz import __version__
    assert __version__ in seen[0]
    window.act_keys.trigger()
    assert "Space" in seen[1] and "Ctrl+R" in seen[1]
    assert parents == [window, window]   # a widget: Qt refuses any other parent


def test_every_control_has_a_tooltip(window):
    for act in window.actions():
        assert act.toolTip(), act.text()
    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit, QSlider)
    missing = [w for w in window.findChildren(QAbstractButton) + window.findChildren(QComboBox)
               + window.findChildren(QAbstractSpinBox) + window.findChildren(QLineEdit)
               + window.findChildren(QSlider)
               if isinstance(w, kinds) and w.isVisibleTo(window) and not w.toolTip()
               and w.objectName() not in ("qt_toolbar_ext_button",)
               and type(w).__name__ not in ("QToolBarExtension",)
               and not (w.parent() is not None and type(w.parent()).__name__ in ("QDockWidget", "QSpinBox", "QDoubleSpinBox", "QComboBox"))]
    assert not missing, [(type(w).__name__, w.objectName(), getattr(w, "text", lambda: "")()) for w in missing]


def test_shortcuts(qtbot, window):
    assert window.act_play.shortcut() == QKeySequence("Space")
    assert window.act_step.shortcut() == QKeySequence("Right")
    assert window.act_reset.shortcut() == QKeySequence("Ctrl+R")
    assert window.act_quit.shortcut() == QKeySequence("Ctrl+Q")
    window.activateWindow()
    window.setFocus()
    QTest.keyClick(window, Qt.Key_Right)
    qtbot.waitUntil(lambda: _step(window) == 1, timeout=5000)
    with qtbot.waitSignal(window.training.playing_changed, timeout=2000) as sig:
        QTest.keyClick(window, Qt.Key_Space)
    assert sig.args == [True]
    qtbot.waitUntil(lambda: _step(window) > 20, timeout=5000)
    with qtbot.waitSignal(window.training.playing_changed, timeout=2000) as sig:
        QTest.keyClick(window, Qt.Key_Space)
    assert sig.args == [False]
    run_before = window.model.run_id
    QTest.keyClick(window, Qt.Key_R, Qt.ControlModifier)
    qtbot.waitUntil(lambda: window.model.frame.run_id == run_before + 1 and _step(window) == 0, timeout=5000)


def test_step_buttons_and_status_bar(qtbot, window):
    window.act_step10.trigger()
    qtbot.waitUntil(lambda: _step(window) == 10, timeout=5000)
    window.act_step100.trigger()
    qtbot.waitUntil(lambda: _step(window) == 110, timeout=5000)
    window.act_epoch.trigger()
    spe = window.model.frame.steps_per_epoch
    qtbot.waitUntil(lambda: _step(window) == 110 + spe, timeout=5000)
    labels = window.status.labels
    assert labels["step"].text() == f"step {110 + spe}"
    assert labels["loss"].text().startswith("loss 0.") or labels["loss"].text().startswith("loss 1.")
    assert labels["acc"].text().endswith("%")


def test_live_learning_rate_and_structural_reset(qtbot, window, monkeypatch):
    window.config_panel.live_changed.emit(SMALL.replace(lr=0.03))
    window.act_step.trigger()
    qtbot.waitUntil(lambda: _step(window) == 1, timeout=5000)
    assert window.model.frame.record.lr == pytest.approx(0.03)
    from PySide6.QtWidgets import QMessageBox
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Ok)
    window.config_panel.apply_requested.emit(SMALL.replace(hidden=(5,)))
    qtbot.waitUntil(lambda: window.model.frame.config.hidden == (5,), timeout=5000)
    assert window.model.frame.step == 0


def test_bad_config_keeps_the_run(qtbot, window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QMessageBox
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Ok)
    window.act_step10.trigger()
    qtbot.waitUntil(lambda: _step(window) == 10, timeout=5000)
    run = window.model.frame.run_id
    window.reset_run(RunConfig(dataset="file", data_path=str(tmp_path / "missing.npz")))
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert "missing.npz" in shown[0]
    window.act_step.trigger()
    qtbot.waitUntil(lambda: _step(window) == 11, timeout=5000)
    assert window.model.frame.run_id == run
    assert window.config_panel.applied_config().dataset == "moons"


def test_divergence_shows_the_banner(qtbot, settings):
    bad = RunConfig(dataset="moons", n_samples=200, hidden=(16, 16), activation="identity",
                    batchnorm=False, init="gaussian", init_std=3.0, optimizer="sgd", lr=80.0,
                    batch_size=16)
    win = MainWindow(bad, settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model.frame is not None, timeout=5000)
    with qtbot.waitSignal(win.training.diverged, timeout=10000) as sig:
        win.toggle_play()
    qtbot.waitUntil(win.banner.isVisible, timeout=2000)
    assert f"step {sig.args[0]}" in win.banner.label.text()
    assert "learning rate" in win.banner.label.toolTip()
    # One line with its buttons, on a laptop-wide window.
    win.resize(1280, 700)
    qtbot.waitUntil(lambda: win.width() == 1280, timeout=2000)
    qtbot.waitUntil(lambda: win.banner.label.height() < 2 * win.banner.label.fontMetrics().height(),
                    timeout=2000)
    # The window stays usable: lower the learning rate and start again.
    win.banner.lower_button.click()
    qtbot.waitUntil(lambda: win.model.frame.config.lr == pytest.approx(8.0) and win.model.frame.step == 0,
                    timeout=5000)
    assert not win.banner.isVisible()
    win.close()


def test_layout_is_restored(qtbot, settings):
    win = MainWindow(SMALL, settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.show_view("layer")
    qtbot.waitUntil(lambda: win.panel_docks["gamma_beta_panel"].isVisible(), timeout=2000)
    win.panel_docks["gamma_beta_panel"].close()     # the user closes a panel...
    win.show_view("training")                        # ...and works in another view
    win.resize(700, 560)
    win.close()
    again = MainWindow(SMALL, settings=settings)
    qtbot.addWidget(again)
    again.show()
    assert again.current_view() is again.views["training"]
    assert (again.width(), again.height()) == (700, 560)
    dock = again.panel_docks["gamma_beta_panel"]
    assert not dock.wanted and not dock.toggle_action.isChecked()
    # A panel the run had no use for (Compare, with one run) was not closed by the user.
    assert again.panel_docks["compare_panel"].wanted
    assert again.views["compare"].closed() == [] and "Closed:" not in again.views["compare"].notes.text()
    again.show_view("layer")
    assert not dock.isVisible() and "Gamma and beta" in again.views["layer"].notes.text()
    again.reset_layout()
    qtbot.waitUntil(dock.isVisible, timeout=2000)
    assert dock.wanted and again.size().toTuple() == again.default_size()
    again.close()


CLOSE_SCRIPT = """
import multiprocessing.forkserver as fs, sys, time
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
from bnviz.engine.config import preset
from bnviz.ui.main_window import MainWindow
if __name__ == "__main__":
    app = QApplication([])
    win = MainWindow(preset("Ioffe & Szegedy 2015, Fig. 1"),
                     settings=QSettings(sys.argv[1], QSettings.IniFormat))
    win.show()
    if sys.argv[2] == "compare":
        fig1 = preset("Ioffe & Szegedy 2015, Fig. 1")
        win.compare.start_runs((fig1, fig1.replace(batchnorm=False)))
    t = {}
    def close():
        t["pids"] = (win.training.pid, fs._forkserver._forkserver_pid,
                     *(p.pid for p in win.training._followers))
        t["close"] = time.perf_counter()
        win.close()
    def check():
        if win.model.frame is not None and win.model.frame.step > 50:
            close()
        else:
            QTimer.singleShot(20, check)
    QTimer.singleShot(0, win.toggle_play)
    QTimer.singleShot(100, check)
    rc = app.exec()
    print(time.perf_counter() - t["close"], *t["pids"], flush=True)
    sys.exit(rc)
"""


def _gone(pid: int) -> bool:
    """No such process, or only a zombie about to be reaped by init."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"


@pytest.mark.parametrize("mode", ["single", "compare"])
@pytest.mark.parametrize("attempt", range(int(os.environ.get("BNVIZ_CLOSE_RUNS", "1"))))
def test_closing_while_training_exits_cleanly(tmp_path, attempt, mode):
    """A real app process: train flat out, close the window; the training
    process is stopped and joined, the app exits 0 within 1.5 s of the
    close, nothing on stderr, no process left behind. (BNVIZ_CLOSE_RUNS=20
    repeats it 20 times.)"""
    script = tmp_path / "close_while_training.py"
    script.write_text(CLOSE_SCRIPT)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "s.ini"), mode], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    ended = time.perf_counter()
    assert proc.returncode == 0, proc.stderr
    elapsed, *pids = proc.stdout.split()
    assert float(elapsed) < 1.5, f"{float(elapsed):.2f} s from close to the end of the event loop"
    assert len(pids) == (3 if mode == "compare" else 2)
    deadline = time.monotonic() + 2.0
    while not all(_gone(int(p)) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(int(p)) for p in pids), "a training process outlived the app"
    noise = "This plugin does not support propagateSizeHints()"
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and ln.strip() != noise]
    assert lines == [], proc.stderr
    assert ended - started < 30


def test_closing_while_training_twenty_times_joins_the_child(qtbot, settings):
    """Twenty windows in a row, each closed while training flat out: each
    child stops by itself (exit code 0, not terminated) within 1.5 s."""
    for _ in range(20):
        win = MainWindow(SMALL, settings=settings)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.model.frame is not None, timeout=10000)
        win.toggle_play()
        qtbot.waitUntil(lambda: win.model.frame.step > 20, timeout=10000)
        process = win.training._process
        t0 = time.perf_counter()
        win.close()
        assert time.perf_counter() - t0 < 1.5
        assert not process.alive() and process.exitcode() == 0
