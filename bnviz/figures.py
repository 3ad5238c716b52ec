"""Figures: the one place where bnviz draws its plots for a file, for the
window's exports and headless runs alike.

``figure_panels`` makes offscreen copies of the window's panels drawing a
frame, so a figure never depends on how the window's docks happen to be
sized, tabbed or closed. ``laid_out`` lays one plot out alone at a figure
size (16:9, 4:3, square or any other) for as long as it is written, its
title, axes, ticks and whole legend inside the figure.
Qt is imported inside the functions: a headless run sets its platform first.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

PANEL_SIZE = (900, 600)   # the offscreen copies' size (the plots are then laid out per figure)
FIGURE_SCALE = 2.0        # pixels per layout pixel: text and lines sized for a slide
# Figure sizes in pixels; laid out at size / FIGURE_SCALE.
FIGURE_SIZES = {"16:9": (1920, 1080), "4:3": (1600, 1200), "square": (1200, 1200)}
FIGURE_LABELS = {"16:9": "16:9 slide, 1920 × 1080", "4:3": "4:3 slide, 1600 × 1200",
                 "square": "Square, 1200 × 1200"}
DEFAULT_FIGURE = "16:9"
MIN_FIGURE, MAX_FIGURE = 320, 7680   # pixels, each side, for a custom size
FIGURE_MARGIN = 10                    # layout pixels round a figure


def layout_size(pixels: tuple[int, int], scale: float = FIGURE_SCALE) -> tuple[float, float]:
    """The size a figure of ``pixels`` is laid out at."""
    return pixels[0] / scale, pixels[1] / scale


def parse_size(text: str) -> tuple[int, int]:
    """"1920x1080" (or a preset's name) -> (1920, 1080); ValueError names the problem."""
    text = str(text).strip().lower()
    if text in FIGURE_SIZES:
        return FIGURE_SIZES[text]
    parts = text.replace("×", "x").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"a figure size is WIDTHxHEIGHT in pixels (like 1920x1080) or one of "
                         f"{', '.join(FIGURE_SIZES)}; got {text!r}") from None
    for side in (width, height):
        if not MIN_FIGURE <= side <= MAX_FIGURE:
            raise ValueError(f"each side of a figure is {MIN_FIGURE} to {MAX_FIGURE} pixels; got "
                             f"{width}x{height}")
    return width, height


@contextmanager
def laid_out(plot, size: tuple[float, float]):
    """Lay ``plot`` (a PlotWidget) out at ``size`` (layout pixels) in its
    scene, its legend in as many columns as that width allows, for the
    duration of the block; then as it was. The scene's rectangle (0, 0,
    width, height) is then the figure."""
    from PySide6.QtCore import QRectF
    item = plot.getPlotItem()
    before = item.geometry()
    legend = item.legend
    columns = legend.columnCount if legend is not None else None
    margins = item.layout.getContentsMargins()
    try:
        # A margin all round: nothing (a rotated axis label's box) touches the edge.
        item.layout.setContentsMargins(*(FIGURE_MARGIN,) * 4)
        item.setGeometry(QRectF(0, 0, size[0], size[1]))
        if legend is not None and legend.items:
            from .ui.panels.base import legend_columns
            legend.setColumnCount(legend_columns(legend, size[0]))
            item.layout.activate()
        yield QRectF(0, 0, size[0], size[1])
    finally:
        if legend is not None and columns is not None:
            legend.setColumnCount(columns)
        item.layout.setContentsMargins(*margins)
        item.setGeometry(before)


def figure_panels(frame, inspection=None, like=(), shown=None, dark: bool = False):
    """The window's panels, shown offscreen at PANEL_SIZE, drawing ``frame``
    (and the test-time lab's ``inspection`` of one test example). ``like``:
    panels whose choices (layer, unit, check boxes) the copies take over.
    ``shown``: in compare mode, the run the single-run panels draw (else A).
    On white, whatever the window's colour scheme, unless ``dark``."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from .ui.panels import ALL_PANELS, EVERY_RUN_PANELS
    from .ui.panels.base import TITLE_INTERVAL
    app = QApplication.instance()
    panels = []
    from .ui.theme import DARK, LIGHT, using
    for cls in ALL_PANELS:
        with using(DARK if dark else LIGHT):
            panel = cls()
        panel.resize(*PANEL_SIZE)
        # Laid out and painted as if shown, but never on a screen (the window
        # uses these copies for File > Export all, too).
        panel.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        panel.show()   # panels draw only while visible; offscreen, nothing appears
        panels.append(panel)
    app.processEvents()   # lay the plots out at their size before drawing
    models = {p.object_name: p for p in like}
    for panel in panels:
        one_run = shown is not None and panel.object_name not in EVERY_RUN_PANELS
        panel.set_frame(shown if one_run else frame)
        if panel.object_name in models:
            panel.copy_controls_from(models[panel.object_name])
        panel.redraw()   # once more now that every view has its final size
        if inspection is not None and hasattr(panel, "set_inspection"):
            panel.set_inspection(inspection)
    # Titles that show the step are set at most every TITLE_INTERVAL: let the
    # pending ones land so the figures name the step they show.
    deadline = time.monotonic() + TITLE_INTERVAL + 0.05
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()
    return panels
