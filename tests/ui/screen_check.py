"""Run by test_screens.py in a process of its own (the screen and its
scale are fixed when Qt starts): open the window on the screen given by the
environment, then each lesson, and print what the tests check, as JSON.

    QT_QPA_PLATFORM=offscreen:configfile=SCREEN.json [QT_SCALE_FACTOR=2] \
        python tests/ui/screen_check.py SETTINGS.ini
"""
from __future__ import annotations

import json
import sys
import time

from PySide6.QtCore import QPoint, QSettings
from PySide6.QtWidgets import (QAbstractButton, QAbstractSpinBox, QApplication, QCheckBox,
                               QComboBox, QLabel, QLineEdit, QMessageBox, QScrollArea)


def wait(app, until, seconds=10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not until():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.005)
    return True


def settle(app, seconds=0.3) -> None:
    wait(app, lambda: False, seconds)


def clipped_controls(panel) -> list[str]:
    """Controls of the configuration narrower than they ask to be (or, for a
    label that does not wrap, than its text)."""
    out = []
    viewport = panel.findChild(QScrollArea).viewport()
    for w in panel.findChildren(QAbstractButton) + panel.findChildren(QComboBox) \
            + panel.findChildren(QAbstractSpinBox) + panel.findChildren(QLineEdit) \
            + panel.findChildren(QLabel) + panel.findChildren(QCheckBox):
        if not w.isVisibleTo(panel) or w.objectName().startswith("qt_"):
            continue
        if isinstance(w, QLabel) and w.wordWrap():
            continue
        need = w.minimumSizeHint().width() if not isinstance(w, (QLabel, QCheckBox, QAbstractButton)) \
            else w.sizeHint().width()
        name = f"{type(w).__name__} {w.objectName() or getattr(w, 'text', lambda: '')()!r}"
        if w.width() < need:
            out.append(f"{name}: {w.width()} < {need}")
        elif viewport.isAncestorOf(w) and w.mapTo(viewport, QPoint(w.width(), 0)).x() > viewport.width():
            out.append(f"{name}: beyond the visible width")   # scrolled off to the right
    return out


def geometry(win, app) -> dict:
    room = win.screen().availableGeometry()
    frame = win.frameGeometry()
    hint = win.minimumSizeHint()
    return {"room": [room.x(), room.y(), room.width(), room.height()],
            "frame": [frame.x(), frame.y(), frame.width(), frame.height()],
            "min_hint": [hint.width(), hint.height()],
            "min": [win.minimumSize().width(), win.minimumSize().height()],
            "inside": room.contains(frame),
            "clipped": clipped_controls(win.config_panel) if win.config_dock.isVisible()
            and not win.config_dock.visibleRegion().isEmpty() else []}


def main() -> None:
    app = QApplication([])
    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.Ok)
    from bnviz.engine.lessons import LESSONS
    from bnviz.ui.main_window import MainWindow
    win = MainWindow(settings=QSettings(sys.argv[1], QSettings.IniFormat))
    win.show()
    wait(app, lambda: win.model.frame is not None)
    settle(app)
    report = {"scale": win.devicePixelRatioF(), "start": geometry(win, app), "lessons": {}}
    for item in LESSONS:
        win.compare.open_lesson(item.key)
        wait(app, lambda: win.model.frame is not None and 1 + len(win.model.frame.others) == len(item.configs))
        settle(app)
        entry = geometry(win, app)
        entry["view"] = win.current_view().spec.key
        entry["lesson_on_screen"] = (win.lesson_dock.isVisible()
                                     and not win.lesson_view.visibleRegion().isEmpty())
        report["lessons"][item.key] = entry
    win.compare.single_run()
    settle(app)
    win.reset_layout()
    settle(app)
    report["after_reset_layout"] = geometry(win, app)
    print(json.dumps(report), flush=True)
    win.close()


if __name__ == "__main__":
    main()
