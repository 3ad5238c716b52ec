"""The window on common screens: a 1280x720 laptop, and HiDPI at scale 1.5
and 2 (whose logical screens are 1280x720 too). Each case is a process of
its own (Qt fixes the screen when it starts): screen_check.py opens the
window, then every lesson, and reports the geometry."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bnviz.engine.lessons import LESSONS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MAX_MIN_SIZE = (1024, 640)   # logical pixels: the window's minimum size may be no larger

SCREENS = {"laptop 1280x720": (1280, 720, None), "1920x1080 at scale 1.5": (1920, 1080, "1.5"),
           "2560x1440 at scale 2": (2560, 1440, "2")}


@pytest.fixture(scope="module", params=list(SCREENS))
def report(request, tmp_path_factory):
    width, height, scale = SCREENS[request.param]
    folder = tmp_path_factory.mktemp("screen")
    config = folder / "screen.json"
    config.write_text(json.dumps({"screens": [{"name": "s", "x": 0, "y": 0, "width": width,
                                               "height": height, "logicalDpi": 96,
                                               "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    env.pop("QT_SCALE_FACTOR", None)
    if scale:
        env["QT_SCALE_FACTOR"] = scale
    proc = subprocess.run([sys.executable, str(HERE / "screen_check.py"), str(folder / "s.ini")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["expected_scale"] = float(scale or 1)
    return result


def _fits(entry) -> None:
    assert entry["min_hint"][0] <= MAX_MIN_SIZE[0] and entry["min_hint"][1] <= MAX_MIN_SIZE[1], entry
    assert entry["min"][0] <= MAX_MIN_SIZE[0] and entry["min"][1] <= MAX_MIN_SIZE[1], entry
    assert entry["inside"], f"window {entry['frame']} outside the screen's room {entry['room']}"
    assert entry["clipped"] == []


def test_the_window_opens_inside_the_screen_with_a_small_minimum(report):
    assert report["scale"] == report["expected_scale"]
    assert report["start"]["room"][2:] == [1280, 720]   # logical pixels
    _fits(report["start"])
    # It uses the room: not a small window in a corner.
    assert report["start"]["frame"][2] >= 1280 * 0.9 and report["start"]["frame"][3] >= 720 * 0.85


def test_no_lesson_grows_the_window_past_the_screen(report):
    views = {"compare": "compare", "gradients": "training", "gamma_beta": "layer",
             "distributions": "layer", "running_stats": "layer", "test_time": "test_time",
             "training_curves": "training", "feature_maps": "maps", "landscape": "landscape"}
    assert set(report["lessons"]) == {item.key for item in LESSONS}
    for item in LESSONS:
        entry = report["lessons"][item.key]
        _fits(entry)
        assert entry["frame"] == report["start"]["frame"], item.key   # never grows, never moves
        assert entry["view"] == views[item.panel], item.key           # its view in front
        assert entry["lesson_on_screen"], item.key                    # its text beside it


def test_reset_layout_brings_back_the_default_size(report):
    _fits(report["after_reset_layout"])
    assert report["after_reset_layout"]["frame"] == report["start"]["frame"]


def test_the_clipping_check_sees_a_clipped_configuration(qtbot, monkeypatch):
    """The check above can fail: without FormScroll's guard, a configuration
    squeezed below its width is caught."""
    from PySide6.QtWidgets import QScrollArea
    from bnviz.ui import config_panel
    sys.path.insert(0, str(HERE))
    from screen_check import clipped_controls
    panels = []
    for guarded in (True, False):
        if not guarded:
            monkeypatch.setattr(config_panel.FormScroll, "minimumSizeHint", QScrollArea.minimumSizeHint)
        panel = config_panel.ConfigPanel()
        qtbot.addWidget(panel)
        panel.resize(200, 900)
        panel.show()
        qtbot.waitExposed(panel)
        panels.append(panel)
    guarded, bare = panels
    qtbot.waitUntil(lambda: bare.width() < 220, timeout=2000)   # (its buttons need 207 px)
    assert guarded.width() > 280   # the guard holds the column open
    qtbot.waitUntil(lambda: clipped_controls(guarded) == [], timeout=5000)
    assert clipped_controls(bare)
