"""Export actions in every plot's right-click menu ("Export PNG…", "Export SVG…").

The folder of the last export is remembered in QSettings under
"export/last_dir", so the next dialog opens there.
"""
from __future__ import annotations

import weakref
from pathlib import Path

from PySide6.QtCore import QDir, QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

from .. import export
from ..figures import layout_size
from .export_dialog import LAST_DIR_KEY, saved_figure_size

FILTERS = {"png": "PNG image (*.png)", "svg": "SVG vector image (*.svg)"}


def settings() -> QSettings:
    """Where the last export folder is kept (tests replace this)."""
    return QSettings("bnviz", "bnviz")


def add_export_actions(plot) -> dict[str, QAction]:
    """Add "Export PNG…" and "Export SVG…" to ``plot``'s ViewBox menu.
    Returns the actions by format."""
    menu = plot.getPlotItem().getViewBox().menu
    menu.addSeparator()
    # pyqtgraph's own "Export..." (the scene's menu) offers an SVG exporter
    # that fails on PySide6 6.11+; these actions replace it.
    plot.scene().contextMenu = []
    ref = weakref.ref(plot)   # no reference cycle plot -> menu -> slot -> plot
    actions = {}
    for fmt in export.FORMATS:
        act = QAction(f"Export {fmt.upper()}…", menu)
        act.setObjectName(f"export_{fmt}_action")
        act.setToolTip(f"Save this plot as a {fmt.upper()} file")
        act.triggered.connect(lambda _checked=False, f=fmt: export_plot_dialog(ref(), f))
        menu.addAction(act)
        actions[fmt] = act
    return actions


def export_plot_dialog(plot, fmt: str) -> Path | None:
    """Ask for a file name and export ``plot`` there as ``fmt``; a failure
    is shown in a message box. Returns the path written, or None."""
    if plot is None:
        return None
    store = settings()
    folder = str(store.value(LAST_DIR_KEY, "") or QDir.homePath())
    name = export.figure_name(export.plot_title(plot)) + "." + fmt
    path, _ = QFileDialog.getSaveFileName(plot, f"Export plot as {fmt.upper()}",
                                          str(Path(folder) / name), FILTERS[fmt])
    if not path:
        return None
    path = Path(path)
    if path.suffix.lower() != "." + fmt:
        path = path.with_name(path.name + "." + fmt)
    # At the figure size of the last Export all (16:9 by default), not the
    # plot's size on screen: a slide's figure whatever the window's layout.
    pixels = saved_figure_size(store)
    try:
        export.export_figure(plot, path.with_suffix(""), layout_size(pixels), formats=(fmt,))
    except (OSError, ValueError) as exc:
        QMessageBox.warning(plot, "Export failed", f"Could not export the plot to {path}:\n{exc}")
        return None
    store.setValue(LAST_DIR_KEY, str(path.parent))
    say(plot, f"Exported the plot to {path} ({pixels[0]} × {pixels[1]})")
    return path


def say(widget, message: str) -> None:
    """``message`` in the status bar of the window ``widget`` is in (a
    panel floated out of its view included)."""
    from PySide6.QtWidgets import QMainWindow
    w = widget
    while w is not None:
        if isinstance(w, QMainWindow) and w.parentWidget() is None:
            w.statusBar().showMessage(message, 15000)
            return
        w = w.parentWidget()
