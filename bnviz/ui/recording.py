"""Record a panel while it trains (File › Record animation…): an offscreen
copy of the panel draws the frames the window draws, at most the asked
frames per second of the window's time, until the asked length is taken;
then the GIF or MP4 is written at once (atomically). The status bar shows
the progress, with a button to stop early (what was taken is written)."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QWidget)

from ..animation import FPS_RANGE, GIF_MAX_FPS, MAX_FRAMES, SECONDS_RANGE, AnimationError, PanelRecorder, check_format
from ..engine.fileio import write_atomic
from ..figures import FIGURE_LABELS, FIGURE_SIZES
from .panels import ALL_PANELS, EVERY_RUN_PANELS

SMALL_SIZE = ("small", (960, 540), "Small 16:9, 960 × 540")


class RecordDialog(QDialog):
    """Which panel, its size, frames per second, length, format and file."""

    def __init__(self, current_panel: str, folder: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle("Record animation")
        self.panel_combo = QComboBox()
        for cls in ALL_PANELS:
            self.panel_combo.addItem(cls.title, cls.object_name)
        self.panel_combo.setCurrentIndex(max(0, self.panel_combo.findData(current_panel)))
        self.panel_combo.setToolTip("The panel to record (its plots; the controls are left out)")
        self.size_combo = QComboBox()
        self.size_combo.addItem(SMALL_SIZE[2], SMALL_SIZE[1])
        for key, pixels in FIGURE_SIZES.items():
            self.size_combo.addItem(FIGURE_LABELS[key], pixels)
        self.size_combo.setToolTip("Each frame's size in pixels (Export's slide sizes)")
        self.fps_spin = QSpinBox()
        self.fps_spin.setRange(*FPS_RANGE)
        self.fps_spin.setValue(20)
        self.fps_spin.setToolTip("Frames per second, taken from the window's frames while it trains "
                                 "(a GIF plays at most 50)")
        self.seconds_spin = QDoubleSpinBox()
        self.seconds_spin.setRange(*SECONDS_RANGE)
        self.seconds_spin.setValue(10.0)
        self.seconds_spin.setSuffix(" s")
        self.seconds_spin.setToolTip("The animation's length: it records for as long, while training")
        self.format_combo = QComboBox()
        for fmt in ("gif", "mp4"):
            self.format_combo.addItem(fmt.upper(), fmt)
        try:
            check_format("mp4")
        except AnimationError as exc:   # greyed out, saying how to get it
            item = self.format_combo.model().item(1)
            item.setEnabled(False)
            item.setToolTip(str(exc))
        self.path_edit = QLineEdit(str(Path(folder or ".") / "animation.gif"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.format_combo.currentIndexChanged.connect(self._match_suffix)
        self.fps_spin.setMaximum(GIF_MAX_FPS)
        form = QFormLayout(self)
        form.addRow("Panel", self.panel_combo)
        form.addRow("Size", self.size_combo)
        form.addRow("Frames per second", self.fps_spin)
        form.addRow("Length", self.seconds_spin)
        form.addRow("Format", self.format_combo)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form.addRow("File", row)
        form.addRow(QLabel("Recording starts now and takes frames while the run trains "
                           "(press Space to train)."))
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Record")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _match_suffix(self, *_args) -> None:
        gif = self.format_combo.currentData() == "gif"
        self.fps_spin.setMaximum(GIF_MAX_FPS if gif else FPS_RANGE[1])   # a GIF's delays: hundredths
        path = Path(self.path_edit.text() or "animation")
        self.path_edit.setText(str(path.with_suffix("." + self.format_combo.currentData())))

    def _browse(self) -> None:
        fmt = self.format_combo.currentData()
        path, _ = QFileDialog.getSaveFileName(self, "Record to", self.path_edit.text(),
                                              f"{fmt.upper()} (*.{fmt})")
        if path:
            self.path_edit.setText(path)

    def settings(self) -> dict:
        return {"panel": self.panel_combo.currentData(), "pixels": tuple(self.size_combo.currentData()),
                "fps": self.fps_spin.value(), "seconds": self.seconds_spin.value(),
                "format": self.format_combo.currentData(), "path": self.path_edit.text()}


class Recording(QObject):
    """One recording in progress: ``offer(frame, shown)`` with every frame
    the window draws; ``finished(message)`` once written (or failed)."""

    finished = Signal(str)

    def __init__(self, settings: dict, status_bar, parent=None):
        super().__init__(parent)
        self.settings = settings
        cls = next(c for c in ALL_PANELS if c.object_name == settings["panel"])
        from .theme import LIGHT, using
        with using(LIGHT):   # on white, as Export's figures
            panel = cls()
        self.recorder = PanelRecorder(panel, settings["pixels"])
        self.total = max(1, min(round(settings["fps"] * settings["seconds"]), MAX_FRAMES))
        self._interval = 1.0 / settings["fps"]
        self._last = -1e9
        self.widget = QWidget()
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(f"Recording {cls.title}")
        self.progress = QProgressBar()
        self.progress.setRange(0, self.total)
        self.progress.setFormat("%v / %m frames")
        self.progress.setToolTip("Frames taken so far; they are taken while the run trains")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop recording and write the frames taken so far")
        self.stop_button.clicked.connect(self.stop)
        for w in (self.label, self.progress, self.stop_button):
            row.addWidget(w)
        status_bar.addPermanentWidget(self.widget)
        self._done = False

    def offer(self, frame, shown) -> None:
        """A frame the window draws: taken if 1/fps has passed since the last."""
        if self._done or frame.record is None:
            return
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        one_run = self.settings["panel"] not in EVERY_RUN_PANELS
        self.recorder.capture(shown if one_run else frame)
        self.progress.setValue(len(self.recorder.frames))
        if len(self.recorder.frames) >= self.total:
            self.stop()

    def stop(self) -> None:
        """Write what was taken (nothing if no frame was) and close."""
        if self._done:
            return
        self._done = True
        frames = len(self.recorder.frames)
        path = self.settings["path"]
        try:
            if frames == 0:
                message = "Recording stopped before any frame was taken (train to record): nothing written."
            else:
                write_atomic(path, self.recorder.encode(self.settings["format"], self.settings["fps"]))
                message = f"Recorded {frames} frames to {path}."
        except (AnimationError, OSError) as exc:
            message = f"Could not write the animation to {path}: {exc}"
        finally:
            self.recorder.close()
            self.widget.deleteLater()
        self.finished.emit(message)
