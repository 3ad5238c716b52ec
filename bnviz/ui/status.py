"""The status bar's live read-out: step, epoch, loss, test accuracy, speed."""
from __future__ import annotations

import math

from PySide6.QtWidgets import QLabel, QStatusBar


def _fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "–"
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else "inf"
    return format(value, spec)


class RunStatus:
    """Permanent labels in a QStatusBar, filled from each Frame."""

    def __init__(self, bar: QStatusBar):
        self.labels = {}
        tips = {"step": "Mini-batches trained so far", "epoch": "Passes over the training set (1-based)",
                "loss": "Cross-entropy of the last mini-batch",
                "acc": "Test accuracy in inference mode (running statistics)",
                "speed": "Training speed, mini-batches per second",
                "state": "Whether training is running"}
        for key in ("state", "step", "epoch", "loss", "acc", "speed"):
            label = QLabel()
            label.setToolTip(tips[key])
            label.setMinimumWidth(90)
            bar.addPermanentWidget(label)
            self.labels[key] = label
        self.set_playing(False)
        self.clear()

    def clear(self) -> None:
        self.labels["step"].setText("step 0")
        self.labels["epoch"].setText("epoch –")
        self.labels["loss"].setText("loss –")
        self.labels["acc"].setText("test acc –")
        self.labels["speed"].setText("– steps/s")

    def set_playing(self, playing: bool) -> None:
        self.labels["state"].setText("▶ training" if playing else "❚❚ paused")

    def update(self, frame) -> None:
        rec, ev = frame.record, frame.evaluation
        self.labels["step"].setText(f"step {frame.step}")
        self.labels["epoch"].setText(f"epoch {rec.epoch}" if rec else "epoch –")
        self.labels["loss"].setText(f"loss {_fmt(rec.loss if rec else None, '.4f')}")
        acc = ev.test_accuracy * 100 if ev else None
        self.labels["acc"].setText(f"test acc {_fmt(acc, '.1f')}%" if ev else "test acc –")
        self.labels["speed"].setText(f"{frame.steps_per_second:.0f} steps/s")
