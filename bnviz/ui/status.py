"""The status bar's live read-out: what training is doing, the run shown,
step, epoch, loss, test accuracy and speed."""
from __future__ import annotations

import math

from PySide6.QtWidgets import QLabel, QStatusBar


def _fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "–"
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else "inf"
    return format(value, spec)


def speed_text(steps_per_second: float) -> str:
    """"" when nothing trains; one decimal below 10 steps/s (a slow run's 0.5 is not 0)."""
    if not steps_per_second > 0:
        return ""
    spec = ".1f" if steps_per_second < 10 else ",.0f"
    return f"{format(steps_per_second, spec)} steps/s"


def state_text(playing: bool, stepping: tuple[int, int] | None) -> str:
    """"▶ training", "training 3,000 steps… (1,234 / 3,000)" or "❚❚ paused"."""
    if stepping is not None:
        done, total = stepping
        return f"▶ training {total:,} steps… ({done:,} / {total:,})"
    return "▶ training" if playing else "❚❚ paused"


class RunStatus:
    """Permanent labels in a QStatusBar, filled from each Frame."""

    def __init__(self, bar: QStatusBar):
        self.labels = {}
        tips = {"state": "What training is doing: playing, paused, or the steps asked for",
                "run": "Compare mode: the run the single-run panels and this read-out show "
                       "(Show run in the toolbar)",
                "step": "Mini-batches trained so far", "epoch": "Passes over the training set (1-based)",
                "loss": "Cross-entropy of the last mini-batch",
                "acc": "Test accuracy in inference mode (running statistics)",
                "speed": "Training speed, mini-batches per second (blank while nothing trains)"}
        for key in ("state", "run", "step", "epoch", "loss", "acc", "speed"):
            label = QLabel()
            label.setObjectName(f"status_{key}")
            label.setToolTip(tips[key])
            label.setMinimumWidth(70)
            bar.addPermanentWidget(label)
            self.labels[key] = label
        self.playing = False
        self._stepping = None
        self.labels["run"].hide()
        self.set_playing(False)
        self.clear()

    def clear(self) -> None:
        self.labels["step"].setText("step 0")
        self.labels["epoch"].setText("epoch –")
        self.labels["loss"].setText("loss –")
        self.labels["acc"].setText("test acc –")
        self.labels["speed"].setText("")
        self._stepping = None
        self._show_state()

    def set_playing(self, playing: bool) -> None:
        self.playing = playing
        if not playing:
            self.labels["speed"].setText("")
        self._show_state()

    def _show_state(self) -> None:
        self.labels["state"].setText(state_text(self.playing, self._stepping))

    def update(self, frame, shown_name: str = "") -> None:
        """Read out ``frame``, the run on screen (``shown_name`` in compare mode)."""
        rec, ev = frame.record, frame.evaluation
        self._stepping = frame.stepping
        self._show_state()
        self.labels["run"].setText(f"showing {shown_name}")
        self.labels["run"].setVisible(bool(shown_name))
        self.labels["step"].setText(f"step {frame.step:,}")
        self.labels["epoch"].setText(f"epoch {rec.epoch}" if rec else "epoch –")
        self.labels["loss"].setText(f"loss {_fmt(rec.loss if rec else None, '.4f')}")
        acc = ev.test_accuracy * 100 if ev else None
        self.labels["acc"].setText(f"test acc {_fmt(acc, '.1f')}%" if ev else "test acc –")
        busy = self.playing or frame.stepping is not None
        self.labels["speed"].setText(speed_text(frame.steps_per_second) if busy else "")
