"""Fixtures shared by the window tests."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from bnviz.engine.config import RunConfig
from bnviz.ui.main_window import MainWindow

SMALL = RunConfig(dataset="moons", n_samples=200, hidden=(8, 8), activation="tanh",
                  batchnorm=True, optimizer="sgd", lr=0.1, batch_size=16, seed=0)


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "bnviz.ini"), QSettings.IniFormat)


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch):
    """A modal dialog would wait for a click that never comes."""
    from PySide6.QtWidgets import QMessageBox
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Ok)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.Ok)
    monkeypatch.setattr(QMessageBox, "about", lambda *a, **k: None)
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: QMessageBox.Ok)


@pytest.fixture
def window(qtbot, settings):
    win = MainWindow(SMALL, settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.model.frame is not None, timeout=5000)
    yield win
    win.close()
