"""Light and dark: the plots follow the desktop's colour scheme; figures
written to files stay on white unless the export asks for dark."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication

from bnviz.ui import theme
from bnviz.ui.export_dialog import ExportDialog


def _colour(pen_or_brush) -> str:
    return pen_or_brush.color().name().lower()


@pytest.fixture
def dark_palette(qapp):
    before = QPalette(qapp.palette())
    dark = QPalette()
    for role in (QPalette.Window, QPalette.Base, QPalette.Button):
        dark.setColor(role, QColor("#202124"))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        dark.setColor(role, QColor("#e8e8e8"))
    yield lambda: qapp.setPalette(dark)
    qapp.setPalette(before)
    theme.set_current(theme.LIGHT)


def test_the_desktop_scheme_decides(qapp):
    class Hints:
        def __init__(self, scheme):
            self.scheme = scheme

        def colorScheme(self):   # noqa: N802
            return self.scheme

    class App:
        def __init__(self, scheme):
            self.hints = Hints(scheme)

        def styleHints(self):   # noqa: N802
            return self.hints

        def palette(self):
            return qapp.palette()   # light, on this platform

    assert theme.desktop_theme(App(Qt.ColorScheme.Dark)) is theme.DARK
    assert theme.desktop_theme(App(Qt.ColorScheme.Light)) is theme.LIGHT
    assert theme.desktop_theme(App(Qt.ColorScheme.Unknown)) is theme.LIGHT   # from the palette


def test_a_dark_palette_switches_every_plot_and_back(qtbot, window, dark_palette):
    window.step(20)
    qtbot.waitUntil(lambda: window.model.frame.step == 20, timeout=10000)
    curves = window.panels["training_curves_panel"]
    plot = curves.accuracy_plot
    running = next(c for c in plot.getPlotItem().listDataItems() if c.name() == "running statistics")
    assert _colour(plot.backgroundBrush()) == theme.LIGHT.background
    assert _colour(running.opts["pen"]) == theme.LIGHT.running
    dark_palette()
    qtbot.waitUntil(lambda: _colour(plot.backgroundBrush()) == theme.DARK.background, timeout=3000)
    assert _colour(running.opts["pen"]) == theme.DARK.running   # black would vanish on dark
    item = plot.getPlotItem()
    assert _colour(item.getAxis("left").pen()) == theme.DARK.axis
    assert theme.DARK.text in item.titleLabel.text or item.titleLabel.opts["color"] == theme.DARK.text
    assert item.getAxis("bottom").labelStyle["color"] == theme.DARK.text
    for panel in window.panels.values():   # every plot of every panel
        for p in panel.plot_widgets():
            if hasattr(p, "getPlotItem"):
                assert p.bnviz_theme is theme.DARK, panel.object_name
    assert curves.frame() is not None   # redrawn, not emptied
    QApplication.instance().setPalette(QPalette())   # the light default again
    qtbot.waitUntil(lambda: _colour(plot.backgroundBrush()) == theme.LIGHT.background, timeout=3000)
    assert _colour(running.opts["pen"]) == theme.LIGHT.running


@pytest.mark.parametrize("dark", [False, True])
def test_exports_stay_on_white_unless_asked(qtbot, window, dark_palette, monkeypatch, tmp_path, dark):
    window.step(10)
    qtbot.waitUntil(lambda: window.model.frame.step == 10, timeout=10000)
    dark_palette()
    qtbot.waitUntil(lambda: theme.current() is theme.DARK, timeout=3000)
    out = tmp_path / "figs"

    def choose(dialog):
        dialog.folder_edit.setText(str(out))
        dialog.dark_check.setChecked(dark)
        dialog.svg_check.setChecked(False)
        return 1
    monkeypatch.setattr(ExportDialog, "exec", choose)
    window.act_export.trigger()
    png = out / "training-curves-mini-batch-loss.png"
    corner = QImage(str(png)).pixelColor(3, 3).name().lower()
    assert corner == (theme.DARK.background if dark else theme.LIGHT.background)
    assert theme.current() is theme.DARK   # the window keeps its colours
