"""The window's files: sessions, settings, data sets, export, recent files
and drops; every bad file leaves the current run as it was."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from bnviz.engine.session import load_trainer
from bnviz.ui.export_dialog import ExportDialog
from bnviz.ui.file_actions import file_kind


@pytest.fixture
def warnings(monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    return shown


def _steps(qtbot, win, n):
    target = win.model.frame.step + n
    win.step(n)
    qtbot.waitUntil(lambda: win.model.frame.step == target, timeout=5000)


def _save_as(monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))


def drop(win, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    win.dropEvent(event)


def test_save_and_open_session(qtbot, window, monkeypatch, tmp_path):
    _steps(qtbot, window, 12)
    path = tmp_path / "lesson.npz"
    _save_as(monkeypatch, path)
    with qtbot.waitSignal(window.training.session_saved, timeout=5000):
        window.act_save_session.trigger()
    assert file_kind(str(path)) == "session" and window.files.recent_files()[0] == str(path)
    saved = load_trainer(path)
    assert saved.step_count == 12
    _steps(qtbot, window, 5)
    run = window.model.frame.run_id
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    window.act_open_session.trigger()
    qtbot.waitUntil(lambda: window.model.frame.run_id > run, timeout=5000)
    f = window.model.frame
    assert f.step == 12 and f.config == saved.config
    np.testing.assert_array_equal(f.history.steps["loss"], saved.history.snapshot().steps["loss"])
    _steps(qtbot, window, 3)   # and it goes on from there


def test_bad_session_keeps_the_run(qtbot, window, warnings, tmp_path):
    _steps(qtbot, window, 4)
    run = window.model.frame.run_id
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip file")
    window.files.open_session(str(bad))
    qtbot.waitUntil(lambda: bool(warnings), timeout=5000)
    assert "broken.npz" in warnings[0] and "unchanged" in warnings[0]
    _steps(qtbot, window, 1)
    assert window.model.frame.run_id == run and window.model.frame.step == 5


def test_failed_session_save_is_reported(qtbot, window, monkeypatch, warnings, tmp_path):
    _steps(qtbot, window, 2)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _save_as(monkeypatch, blocker / "run.npz")   # under a regular file: cannot be written
    with qtbot.waitSignal(window.training.session_error, timeout=5000):
        window.act_save_session.trigger()
    qtbot.waitUntil(lambda: bool(warnings), timeout=2000)
    assert "Could not save the session" in warnings[0] and "run.npz" in warnings[0]
    assert window.statusBar().currentMessage() == "The session was not saved"


def test_export_all_writes_figures_data_and_manifest(qtbot, window, monkeypatch, tmp_path):
    _steps(qtbot, window, 20)
    out = tmp_path / "figures"
    monkeypatch.setattr(ExportDialog, "exec", lambda self: (self.folder_edit.setText(str(out)), 1)[1])
    window.act_export.trigger()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["step"] == 20
    names = {f["name"] for f in manifest["files"]}
    assert {"config.toml", "data.csv", "data.npz"} <= names
    assert sum(n.endswith(".png") for n in names) >= 10 and sum(n.endswith(".svg") for n in names) >= 10
    assert window.settings.value("export/last_dir") == str(out)
    assert window.statusBar().currentMessage().startswith(f"Exported {len(names) + 1} files to {out}")
    assert "1920 × 1080" in window.statusBar().currentMessage()
    png = next(n for n in names if n.endswith(".png"))
    assert QImage(str(out / png)).size().toTuple() == (1920, 1080)   # the default: a 16:9 slide


def test_export_all_at_a_chosen_figure_size(qtbot, window, monkeypatch, tmp_path):
    _steps(qtbot, window, 5)
    out = tmp_path / "square"

    def choose(dialog):
        dialog.folder_edit.setText(str(out))
        dialog.size_combo.setCurrentIndex(dialog.size_combo.findData("custom"))
        dialog.width_spin.setValue(1000)
        dialog.height_spin.setValue(800)
        dialog.svg_check.setChecked(False)
        dialog.accept()
        return 1
    monkeypatch.setattr(ExportDialog, "exec", choose)
    window.act_export.trigger()
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) >= 10 and not list(out.glob("*.svg"))
    assert {QImage(str(p)).size().toTuple() for p in pngs} == {(1000, 800)}
    assert window.settings.value("export/figure_size") == "1000x800"   # remembered, for the next


def test_export_this_view_writes_the_view_as_one_figure(qtbot, window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog
    _steps(qtbot, window, 5)
    window.show_view("training")
    target = tmp_path / "view"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a: (str(target), "PNG image (*.png)")))
    window.act_export_view.trigger()
    img = QImage(str(target) + ".png")
    area = window.views["training"].area
    assert img.size().toTuple() == (2 * area.width(), 2 * area.height())
    assert f"to {target}.png" in window.statusBar().currentMessage()


def test_export_to_a_folder_that_cannot_be_written(qtbot, window, monkeypatch, warnings, tmp_path):
    _steps(qtbot, window, 2)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(ExportDialog, "exec",
                        lambda self: (self.folder_edit.setText(str(blocker / "sub")), 1)[1])
    window.act_export.trigger()
    assert warnings and "cannot write" in warnings[0].lower()


def test_dropped_files_open_by_kind(qtbot, window, warnings, tmp_path):
    toml = tmp_path / "run.toml"
    window.model.config.replace(hidden=(5,)).save(toml)
    drop(window, toml)
    qtbot.waitUntil(lambda: window.model.frame.config.hidden == (5,), timeout=5000)
    rng = np.random.default_rng(0)
    csv = tmp_path / "points.csv"
    x = rng.normal(size=(120, 3))
    rows = [f"{a},{b},{c},{int(a > 0)}" for a, b, c in x]
    csv.write_text("f1,f2,f3,label\n" + "\n".join(rows) + "\n")
    drop(window, csv)
    qtbot.waitUntil(lambda: window.model.frame.config.dataset == "file", timeout=5000)
    assert window.model.frame.config.data_path == str(csv)
    assert str(csv) in window.files.recent_files()
    odd = tmp_path / "notes.txt"
    odd.write_text("hello")
    drop(window, odd)   # not offered by the drag, and refused if it comes anyway
    assert not warnings
    window.files.open_path(str(odd))
    assert "opens settings" in warnings[-1]


def test_recent_files_menu(qtbot, window, monkeypatch, warnings, tmp_path):
    path = tmp_path / "saved.toml"
    _save_as(monkeypatch, path)
    window.act_save.trigger()
    assert window.files.recent_files()[0] == str(path)
    window.files.fill_recent_menu()
    entries = [a for a in window.recent_menu.actions() if a.text() == "saved.toml"]
    assert entries and entries[0].toolTip() == str(path)
    path.unlink()
    entries[0].trigger()
    assert "does not exist" in warnings[-1] and str(path) not in window.files.recent_files()


def test_file_kind_reads_no_code(tmp_path):
    data = tmp_path / "mnist_like.npz"
    np.savez(data, x=np.zeros((4, 2)), y=np.array([0, 1, 0, 1]))
    assert file_kind(str(data)) == "data"
    evil = tmp_path / "evil.npz"
    np.savez(evil, format=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="object arrays, which need pickle"):
        file_kind(str(evil))   # refused: the object array is never unpickled
    with pytest.raises(ValueError, match="cannot read"):
        (tmp_path / "junk.npz").write_bytes(b"junk")
        file_kind(str(tmp_path / "junk.npz"))


def test_malformed_settings_and_bad_data_keep_the_run(qtbot, window, warnings, tmp_path):
    _steps(qtbot, window, 3)
    run = window.model.frame.run_id
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nlr = 0.1\n")
    drop(window, bad)
    assert "bad.toml" in warnings[-1] and "not valid TOML" in warnings[-1]
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[run]\nlearning_rate = 0.1\n")
    window.files.open_config(str(unknown))
    assert "learning_rate" in warnings[-1]
    nan = tmp_path / "nan.csv"
    nan.write_text("a,b,label\n1,2,0\nnan,3,1\n" + "1,2,0\n" * 40)
    drop(window, nan)
    qtbot.waitUntil(lambda: len(warnings) == 3, timeout=5000)
    assert "nan.csv" in warnings[-1] and "NaN" in warnings[-1]
    _steps(qtbot, window, 1)
    assert window.model.frame.run_id == run and window.model.frame.step == 4
    assert window.model.frame.config.dataset == "moons" and str(nan) not in window.files.recent_files()


def test_fig1_lesson_on_a_users_data_file(qtbot, window, tmp_path):
    """Fig. 1 on your own data (e.g. MNIST): both runs switch to the file."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 20)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    path = tmp_path / "mnist_like.npz"
    np.savez(path, x=x, y=y)
    window.compare.open_lesson("fig1")
    qtbot.waitUntil(lambda: len(window.model.frame.others) == 1 and window.model.frame.step > 0, timeout=10000)
    window.pause_requested.emit()
    drop(window, path)
    qtbot.waitUntil(lambda: window.model.frame.config.dataset == "file", timeout=10000)
    f = window.model.frame
    assert f.others[0].config.dataset == "file" and f.others[0].config.batchnorm is False
    assert f.config.hidden == (100, 100, 100) and f.config.batch_size == 60
    _steps(qtbot, window, 5)
    assert window.model.frame.others[0].step == 5


def test_compare_mode_session_round_trip(qtbot, window, monkeypatch, tmp_path):
    a = window.model.config
    window.compare.start_runs((a, a.replace(batchnorm=False)), ("A: with BN", "B: no BN"))
    qtbot.waitUntil(lambda: len(window.model.frame.others) == 1, timeout=5000)
    _steps(qtbot, window, 6)
    path = tmp_path / "pair.npz"
    _save_as(monkeypatch, path)
    with qtbot.waitSignal(window.training.session_saved, timeout=5000):
        window.files.save_session()
    loss_b = window.model.frame.others[0].history.steps["loss"].copy()
    window.compare.single_run()
    qtbot.waitUntil(lambda: not window.model.frame.others, timeout=5000)
    window.files.open_session(str(path))
    qtbot.waitUntil(lambda: len(window.model.frame.others) == 1, timeout=5000)
    f = window.model.frame
    assert (f.step, f.label, f.others[0].label) == (6, "A: with BN", "B: no BN")
    np.testing.assert_array_equal(f.others[0].history.steps["loss"], loss_b)
    assert window.comparing() and window.model.runset.variants == ({"batchnorm": False},)


def test_export_all_in_compare_mode_draws_the_shown_run(qtbot, window, monkeypatch, tmp_path):
    a = window.model.config
    window.compare.start_runs((a, a.replace(batchnorm=False)), ("A: with BN", "B: no BN"))
    qtbot.waitUntil(lambda: len(window.model.frame.others) == 1, timeout=5000)
    _steps(qtbot, window, 6)
    window.run_view_combo.setCurrentIndex(1)
    seen = {}
    from bnviz import figures
    original = figures.figure_panels

    def spy(frame, inspection=None, like=(), shown=None, dark=False):
        panels = original(frame, inspection, like, shown, dark)
        seen.update({p.object_name: p.frame() for p in panels})
        return panels
    monkeypatch.setattr(figures, "figure_panels", spy)
    out = tmp_path / "pair"
    monkeypatch.setattr(ExportDialog, "exec", lambda self: (self.folder_edit.setText(str(out)), 1)[1])
    window.act_export.trigger()
    assert seen["distributions_panel"].label == "B: no BN"
    assert seen["compare_panel"].others and (out / "run-b-data.npz").exists()


def test_a_dead_training_process_is_reported_and_loses_nothing(qtbot, window, monkeypatch, tmp_path):
    """Killed mid-run: the window says so within a second, keeps the last
    frame on screen and in Export all, and goes on from the last session
    (or from scratch) in a new training process."""
    _steps(qtbot, window, 12)
    path = tmp_path / "before.npz"
    _save_as(monkeypatch, path)
    with qtbot.waitSignal(window.training.session_saved, timeout=5000):
        window.act_save_session.trigger()
    _steps(qtbot, window, 5)
    window.toggle_play()
    qtbot.waitUntil(lambda: window.model.frame.step > 30, timeout=10000)
    last = window.model.frame
    with qtbot.waitSignal(window.training.died, timeout=1000):
        window.training._process.process.kill()
    qtbot.waitUntil(window.process_banner.isVisible, timeout=1000)
    assert "killed" in window.process_banner.label.text()
    assert window.model.frame is last and window.status.labels["state"].text().endswith("paused")
    assert window.process_banner.session_button.isVisible()
    out = tmp_path / "export"
    monkeypatch.setattr(ExportDialog, "exec", lambda self: (self.folder_edit.setText(str(out)), 1)[1])
    window.act_export.trigger()
    assert json.loads((out / "manifest.json").read_text())["step"] == last.step
    window.process_banner.session_button.click()   # a new process, the saved session's runs
    qtbot.waitUntil(lambda: window.model.frame.step == 12 and window.model.frame is not last, timeout=10000)
    assert not window.process_banner.isVisible()
    _steps(qtbot, window, 1)
    assert window.model.frame.step == 13


def test_the_window_removes_what_a_killed_save_left_beside_recent_files(qtbot, settings, tmp_path):
    """Temporary files of saves the app was killed in (bnviz's names, older
    than fileio.STALE_SECONDS) beside a recent file or in the last folder
    used are removed when the window starts; other files stay."""
    import tempfile as tf

    from bnviz.engine.config import RunConfig
    from bnviz.engine.fileio import STALE_SECONDS
    from bnviz.ui.main_window import MainWindow
    sessions, last = tmp_path / "sessions", tmp_path / "last"
    sessions.mkdir()
    last.mkdir()
    stale = []
    for folder in (sessions, last):
        fd, tmp = tf.mkstemp(prefix=".run.npz.bnviz-", suffix=".tmp", dir=folder)
        os.close(fd)
        os.utime(tmp, (0, STALE_SECONDS))
        stale.append(tmp)
    (sessions / "run.npz").write_bytes(b"a session")
    settings.setValue("recent_files", [str(sessions / "run.npz")])
    settings.setValue("last_dir", str(last))
    win = MainWindow(RunConfig(dataset="moons", n_samples=200, hidden=(8,)), settings=settings)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: not any(os.path.exists(p) for p in stale), timeout=5000)
    assert (sessions / "run.npz").read_bytes() == b"a session"
    win.close()


def test_open_session_checks_the_file_before_asking_about_progress(qtbot, window, warnings,
                                                                     monkeypatch, tmp_path):
    from PySide6.QtWidgets import QMessageBox
    _steps(qtbot, window, 5)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.Ok)
    data = tmp_path / "points.npz"
    np.savez(data, x=np.zeros((20, 2)), y=np.zeros(20))
    for path, words in ((tmp_path / "missing.npz", "no such file"), (data, "Open data set"),
                        (tmp_path / "notes.txt", "bnviz opens")):
        if path.suffix == ".txt":
            path.write_text("hello")
        window.files.open_session(str(path))
        assert warnings and words in warnings[-1], warnings[-1]
    assert asked == []                 # never asked to give up the run for a bad file
    assert window.model.frame.step == 5     # and the run goes on


def test_the_data_size_limit_is_chosen_in_the_window_and_kept(qtbot, window, settings, warnings,
                                                               monkeypatch, tmp_path):
    """File › Data size limit… sets the limit of the training process (it
    started before) and of the window; a data set above it is refused with
    its size, the limit and where to raise it, and the run goes on; the
    next window starts with the limit chosen."""
    from PySide6.QtWidgets import QInputDialog

    from bnviz.engine.npzfile import LIMIT_ENV, data_limit_mb
    from bnviz.ui.main_window import MainWindow
    monkeypatch.setenv(LIMIT_ENV, "")   # restored after the test, whatever the window sets
    data = tmp_path / "data.csv"
    data.write_text("x1,x2,label\n" + "0.5,0.25,1\n0.125,0.75,0\n" * 200)   # 10.2 KiB
    _steps(qtbot, window, 2)
    run = window.model.frame.run_id
    monkeypatch.setattr(QInputDialog, "getDouble", lambda *a, **k: (0.005, True))
    window.act_data_limit.trigger()
    assert data_limit_mb() == 0.005
    window.files.open_data(str(data))
    qtbot.waitUntil(lambda: len(warnings) == 1, timeout=5000)
    assert "data.csv" in warnings[-1] and "too large" in warnings[-1] and "5.1 KiB" in warnings[-1]
    assert "Data size limit" in warnings[-1]
    _steps(qtbot, window, 1)
    assert window.model.frame.run_id == run and window.model.frame.step == 3
    monkeypatch.setattr(QInputDialog, "getDouble", lambda *a, **k: (1.0, True))
    window.act_data_limit.trigger()
    window.files.open_data(str(data))
    qtbot.waitUntil(lambda: window.model.frame.config.dataset == "file", timeout=10000)
    assert len(warnings) == 1 and float(settings.value("data/max_mb")) == 1.0
    monkeypatch.setenv(LIMIT_ENV, "")
    again = MainWindow(window.model.config.replace(dataset="moons", data_path=""), settings=settings)
    qtbot.addWidget(again)
    assert data_limit_mb() == 1.0 and again.training.data_limit_mb == 1.0
    again.close()


def test_a_follower_reads_with_the_leaders_data_limit(monkeypatch, tmp_path):
    """A compare run's process may have started before the limit was set:
    it takes the leader's with its run."""
    from bnviz.engine.config import RunConfig
    from bnviz.engine.data import DatasetError
    from bnviz.engine.npzfile import LIMIT_ENV
    from bnviz.engine.trainer import Trainer
    from bnviz.training.follower import Follower
    data = tmp_path / "data.csv"
    data.write_text("x1,x2,label\n" + "0.5,0.25,1\n0.125,0.75,0\n" * 200)
    leader = Trainer(RunConfig(dataset="file", data_path=str(data), hidden=(4,)))
    args = (leader.config, leader.summary_every, leader.summary_growth, leader.state_dict())
    monkeypatch.setenv(LIMIT_ENV, "0.001")   # what the follower's process started with
    with pytest.raises(DatasetError, match="too large"):
        Follower(1).cmd_adopt(*args, 0.005)
    Follower(1).cmd_adopt(*args, 1.0)
