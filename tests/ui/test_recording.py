"""File › Record animation: a panel's frames while the run trains."""
from __future__ import annotations

from bnviz.engine.config import RunConfig

from test_panels import make_frame


def test_recording_a_panel_while_it_trains_writes_its_frames(qtbot, tmp_path, monkeypatch):
    """File › Record animation: the frames the window draws, at most fps a second."""
    import bnviz.ui.recording as recording
    clock = [100.0]
    monkeypatch.setattr(recording.time, "monotonic", lambda: clock[0])
    from PySide6.QtWidgets import QStatusBar
    from PIL import Image
    from bnviz.ui.recording import Recording
    bar = QStatusBar()
    qtbot.addWidget(bar)
    path = tmp_path / "curves.gif"
    rec = Recording({"panel": "training_curves_panel", "pixels": (480, 270), "fps": 50, "seconds": 0.06,
                     "format": "gif", "path": str(path)}, bar)
    assert rec.total == 3
    frames = [make_frame(RunConfig(dataset="moons", n_samples=120, hidden=(4,)), steps=s, chunks=1)
              for s in (4, 8, 12, 16)]
    rec.offer(frames[0], frames[0])
    clock[0] += 0.01
    rec.offer(frames[1], frames[1])            # sooner than 1/50 s: not taken
    assert len(rec.recorder.frames) == 1
    with qtbot.waitSignal(rec.finished, timeout=10000) as done:
        for f in frames[1:]:
            clock[0] += 0.03                   # more than 1/50 s apart: taken, until three are
            rec.offer(f, f)
    assert done.args[0] == f"Recorded 3 frames to {path}."
    im = Image.open(path)
    assert im.size == (480, 270) and im.n_frames == 3
    # a recording stopped before any frame writes nothing, and says so
    empty = Recording({"panel": "compare_panel", "pixels": (480, 270), "fps": 10, "seconds": 1,
                       "format": "gif", "path": str(tmp_path / "none.gif")}, bar)
    with qtbot.waitSignal(empty.finished) as done:
        empty.stop()
    assert "nothing written" in done.args[0] and not (tmp_path / "none.gif").exists()


def test_record_dialog_offers_the_panels_sizes_and_formats(qtbot, tmp_path):
    from bnviz.ui.recording import RecordDialog
    dialog = RecordDialog("compare_panel", str(tmp_path))
    qtbot.addWidget(dialog)
    s = dialog.settings()
    assert s == {"panel": "compare_panel", "pixels": (960, 540), "fps": 20, "seconds": 10.0,
                 "format": "gif", "path": str(tmp_path / "animation.gif")}
    dialog.format_combo.setCurrentIndex(1)       # MP4: the file follows
    assert dialog.settings()["path"].endswith("animation.mp4")
    dialog.size_combo.setCurrentIndex(1)
    assert dialog.settings()["pixels"] == (1920, 1080)


def test_a_gif_is_recorded_at_most_50_frames_a_second(qtbot):
    from bnviz.ui.recording import RecordDialog
    dialog = RecordDialog("compare_panel")
    qtbot.addWidget(dialog)
    assert dialog.fps_spin.maximum() == 50
    if dialog.format_combo.model().item(1).isEnabled():
        dialog.format_combo.setCurrentIndex(1)
        assert dialog.fps_spin.maximum() == 60
