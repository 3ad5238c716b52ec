"""The window's file commands: settings (TOML), sessions (NPZ), data sets,
export, recent files and files dropped on the window.

An object the window holds (``window.files``), holding the window weakly.
Every failure is shown with the file and the reason, and the current run
goes on untouched.
"""
from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMessageBox

from .. import export
from ..figures import FIGURE_SCALE, layout_size
from ..engine.config import ConfigError, RunConfig
from ..engine.fileio import remove_stale_temporaries
from ..engine.npzfile import (DEFAULT_LIMIT, LIMIT_ENV, LIMIT_MB_RANGE, TooLarge, data_limit_mb, read_npz,
                              set_data_limit_mb)
from ..engine.session import FORMAT as SESSION_FORMAT
from .export_dialog import LAST_DIR_KEY, ExportDialog, offscreen_copies

MAX_RECENT = 8
RECENT_KEY = "recent_files"
DATA_LIMIT_KEY = "data/max_mb"   # the data limit chosen in File › Data size limit…
SESSION_FILTER = "bnviz session (*.npz)"
CONFIG_FILTER = "bnviz settings (*.toml)"
DATA_FILTER = "Data set (*.csv *.npz)"
VIEW_FILTER = "PNG image (*.png);;SVG vector image (*.svg)"


def file_kind(path: str) -> str:
    """"config", "session" or "data", from the file itself (never executed):
    a .toml is settings; a .npz is a session if it carries bnviz's tag,
    else a data set; a .csv is a data set. Raises ValueError otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix == ".toml":
        return "config"
    if suffix == ".csv":
        return "data"
    if suffix == ".npz":
        try:   # only the tag is read, its size checked first (see npzfile)
            tag = read_npz(path, limit=1 << 12, names=("format",)).get("format")
            tagged = tag is not None and tag.shape == () and str(tag) == SESSION_FORMAT
        except TooLarge:   # a data set's own array named "format"
            tagged = False
        except (OSError, ValueError) as exc:   # NpzError is a ValueError
            raise ValueError(f"cannot read {path}: {exc}") from None
        return "session" if tagged else "data"
    raise ValueError(f"{path}: bnviz opens settings (.toml), sessions (.npz) and data sets "
                     "(.csv, .npz)")


class FileActions:
    """The File menu's commands, recent files and drops, for ``window``."""

    def __init__(self, window):
        self._window = weakref.ref(window)

    @property
    def window(self):
        return self._window()

    @property
    def settings(self):
        return self.window.settings

    def _say(self, message: str, msecs: int = 0) -> None:
        self.window.statusBar().showMessage(message, msecs)

    # ---------------------------------------------------------- settings
    def open_config(self, path: str | None = None) -> None:
        path = path or self._ask_open("Open run settings", CONFIG_FILTER)
        if not path:
            return
        try:
            config = RunConfig.load(path)
        except ConfigError as exc:
            self._warn(f"Cannot open {path}:\n{exc}")
            return
        self.add_recent(path)
        if self.window.confirm_reset("Opening settings starts a new run."):
            self.window.reset_run(config)

    def save_config(self) -> None:
        path = self._ask_save("Save run settings", CONFIG_FILTER, ".toml", "bnviz-settings.toml")
        if not path:
            return
        try:
            self.window.model.config.save(path)
        except OSError as exc:
            self._warn(f"Cannot save {path}:\n{exc}", unchanged=False)
            return
        self.add_recent(path)
        self._say(f"Saved settings to {path}", 5000)

    # ---------------------------------------------------------- sessions
    def save_session(self) -> None:
        """Save every run (weights, optimizer and random state, history)."""
        step = self.window.model.step()
        path = self._ask_save("Save session", SESSION_FILTER, ".npz", f"bnviz-session-step{step}.npz")
        if path:
            self._say(f"Saving the session to {path}…")
            self.window.save_session_requested.emit(path)

    def open_session(self, path: str | None = None) -> None:
        path = path or self._ask_open("Open session", SESSION_FILTER)
        if not path:
            return
        # The file first: no question about losing progress for a file that
        # cannot be a session (the training process checks the rest).
        try:
            kind = file_kind(path) if Path(path).is_file() else None
        except ValueError as exc:
            self._warn(str(exc))
            return
        if kind != "session":
            self._warn(f"{path} is not a bnviz session" + (" (it has no session tag; as a data set, "
                       "File › Open data set… trains on it)" if kind == "data" else
                       " (no such file)" if kind is None else ""))
            return
        if not self.window.confirm_reset("Opening a session replaces the current run."):
            return
        self.window.begin_session(path)

    def session_saved(self, path: str) -> None:
        """The training process wrote the session ``path``."""
        self.add_recent(path)
        self.window.model.last_session = path
        self._say(f"Saved the session to {path}", 8000)

    def session_not_saved(self, message: str) -> None:
        self._say("The session was not saved", 8000)
        self._warn(f"Could not save the session:\n{message}\n\nAny earlier file there is unchanged.")

    # ----------------------------------------------------------- data sets
    def open_data(self, path: str | None = None) -> None:
        """Train the current network on a user's CSV or NPZ file."""
        path = path or self._ask_open("Open data set", DATA_FILTER)
        if not path:
            return
        if self.window.confirm_reset("Training on another data set starts a new run."):
            self.window.reset_run(self.window.model.config.replace(dataset="file", data_path=str(path)),
                                  recent=str(path))

    # ------------------------------------------------------- the data limit
    def apply_saved_data_limit(self) -> None:
        """At start, before the first run: the limit chosen in an earlier
        session, unless this one was given one (--max-data-mb or
        BNVIZ_MAX_DATA_MB), which then holds for this session."""
        if os.environ.get(LIMIT_ENV, "").strip():
            return
        try:
            mb = float(self.settings.value(DATA_LIMIT_KEY) or "nan")
        except (TypeError, ValueError):
            return
        lo, hi = LIMIT_MB_RANGE
        if lo <= mb <= hi:   # a hand-edited value out of range is ignored
            self.set_data_limit(mb)

    def set_data_limit(self, mb: float) -> None:
        """The largest data set or session read from now on, here and in the
        training processes."""
        set_data_limit_mb(mb)
        self.window.training.set_data_limit(mb)

    def ask_data_limit(self) -> None:
        """File › Data size limit…: the limit for this session and the next."""
        lo, hi = LIMIT_MB_RANGE
        mb, ok = QInputDialog.getDouble(
            self.window, "Data size limit",
            "The most array data a data set or session file may hold, in MiB.\n"
            "Larger files are refused before they are read (a CSV may be an eighth\n"
            f"of it). Raise it for a large data set of your own; the default is {DEFAULT_LIMIT >> 20}.",
            data_limit_mb(), lo, hi, 3)
        if not ok:
            return
        self.set_data_limit(mb)
        self.settings.setValue(DATA_LIMIT_KEY, mb)
        self._say(f"Data sets and sessions of up to {mb:,g} MiB open from now on", 8000)

    # -------------------------------------------------------------- export
    def export_all(self) -> None:
        """Every panel's figures, the data, the settings and a manifest, to a folder."""
        if self.window.model.frame is None or self.window.model.frame.record is None:
            self._warn("Nothing to export yet: train at least one step first.", unchanged=False)
            return
        dialog = ExportDialog(self.settings, self.window)
        if not dialog.exec():
            return
        folder, pixels, formats, unit_csv = dialog.choice()
        frame = self.window.model.frame
        self._say(f"Exporting to {folder}…")
        QApplication.setOverrideCursor(Qt.WaitCursor)   # a few seconds for a long run's data
        copies, error = [], None
        try:
            copies = offscreen_copies(self.window.panels.values(), frame, self.window._shown_run(frame),
                                      dark=dialog.dark_check.isChecked())
            written = export.export_all(folder, frame, copies, formats=formats, unit_csv=unit_csv,
                                        size=layout_size(pixels))
        except (OSError, ValueError) as exc:
            error = exc
        finally:
            QApplication.restoreOverrideCursor()
            for panel in copies:
                panel.close()
                panel.deleteLater()
        if error is not None:
            self._say("Nothing was exported", 8000)
            self._warn(f"Could not export to {folder}:\n{error}", unchanged=False)
            return
        self.settings.setValue(LAST_DIR_KEY, str(folder))
        self._say(f"Exported {len(written)} files to {folder} (figures "
                                     f"{pixels[0]} × {pixels[1]})", 15000)

    def export_view(self) -> None:
        """The view on screen as one figure (PNG at twice its pixels, or SVG),
        its panels as they are laid out now."""
        view = self.window.current_view()
        step = self.window.model.step()
        name = f"bnviz-{export.slug(view.spec.title)}-step{step}.png"
        start = str(Path(self.settings.value(LAST_DIR_KEY, "") or Path.home()) / name)
        path, chosen = QFileDialog.getSaveFileName(self.window, "Export this view", start, VIEW_FILTER)
        if not path:
            return
        path = Path(path)
        if path.suffix.lower() not in (".png", ".svg"):
            path = path.with_name(path.name + (".svg" if "svg" in chosen.lower() else ".png"))
        try:
            if path.suffix.lower() == ".svg":
                export.export_svg(view.area, path)
            else:
                export.export_png(view.area, path, scale=FIGURE_SCALE)
        except (OSError, ValueError) as exc:
            self._warn(f"Could not export the view to {path}:\n{exc}", unchanged=False)
            return
        self.settings.setValue(LAST_DIR_KEY, str(path.parent))
        self._say(f"Exported the {view.spec.title} view to {path}", 15000)

    # ---------------------------------------------------- recent and drops
    def open_path(self, path: str) -> None:
        """Open a settings, session or data file, whichever it is."""
        if not Path(path).is_file():
            self._remove_recent(path)
            self._warn(f"{path} does not exist (any more).")
            return
        try:
            kind = file_kind(path)
        except ValueError as exc:
            self._warn(str(exc))
            return
        {"config": self.open_config, "session": self.open_session, "data": self.open_data}[kind](path)

    def recent_files(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        if isinstance(value, str):   # QSettings returns one entry as a bare string
            value = [value]
        return [str(v) for v in value or []]

    def fill_recent_menu(self) -> None:
        menu = self.window.recent_menu
        menu.clear()
        paths = self.recent_files()
        for path in paths:
            act = menu.addAction(Path(path).name)
            act.setToolTip(path)
            act.setStatusTip(path)
            act.triggered.connect(lambda _=False, p=path: self.open_path(p))
        if paths:
            menu.addSeparator()
            menu.addAction("Clear the list", lambda: self.settings.setValue(RECENT_KEY, []))
        else:
            menu.addAction("No recent files").setEnabled(False)

    def add_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        paths = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue(RECENT_KEY, paths[:MAX_RECENT])
        self.settings.setValue("last_dir", str(Path(path).parent))

    def clean_interrupted_saves(self) -> threading.Thread:
        """At start: the temporary files that interrupted saves (the app
        killed while writing) left beside the recent files and in the last
        folder used, recognised by name and age (``fileio``). In a thread of
        its own: a folder on an unreachable drive must not freeze the window."""
        folders = {Path(p).parent for p in self.recent_files()}
        last = self.settings.value("last_dir")
        if last:
            folders.add(Path(str(last)))
        worker = threading.Thread(target=lambda: [remove_stale_temporaries(f) for f in folders],
                                  name="bnviz-clean-saves", daemon=True)
        worker.start()
        return worker

    def _remove_recent(self, path: str) -> None:
        self.settings.setValue(RECENT_KEY, [p for p in self.recent_files() if p != path])

    def drag_enter(self, event) -> None:
        if self._dropped_files(event):
            event.acceptProposedAction()

    def drop(self, event) -> None:
        files = self._dropped_files(event)
        if files:
            event.acceptProposedAction()
            self.open_path(files[0])

    @staticmethod
    def _dropped_files(event) -> list[str]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()
                and Path(u.toLocalFile()).suffix.lower() in (".toml", ".npz", ".csv")]

    # ------------------------------------------------------------- helpers
    def _ask_open(self, title: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self.window, title, self._last_dir(), filters + ";;All files (*)")
        return path

    def _ask_save(self, title: str, filters: str, suffix: str, name: str = "") -> str:
        start = str(Path(self._last_dir() or Path.home()) / name) if name else self._last_dir()
        path, _ = QFileDialog.getSaveFileName(self.window, title, start, filters)
        if path and not path.lower().endswith(suffix):
            path += suffix
        return path

    def _last_dir(self) -> str:
        return str(self.settings.value("last_dir", ""))

    def _warn(self, text: str, unchanged: bool = True) -> None:
        QMessageBox.warning(self.window, "bnviz", text + ("\n\nThe current run is unchanged." if unchanged else ""))
