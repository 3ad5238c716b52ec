"""Training speed control: from one mini-batch per second to flat out."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

# Steps per second at each slider notch; 0 means as fast as possible.
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 0)


class SpeedControl(QWidget):
    speed_changed = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        caption = QLabel("Speed")
        caption.setToolTip("How fast Play trains")
        row.addWidget(caption)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, len(SPEEDS) - 1)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setFixedWidth(140)
        self.slider.setToolTip("Training speed while playing: 1 mini-batch per second up to flat out")
        self.slider.setFocusPolicy(Qt.NoFocus)  # arrow keys belong to stepping
        row.addWidget(self.slider)
        self.value_label = QLabel()
        self.value_label.setMinimumWidth(70)
        self.value_label.setToolTip("The chosen training speed")
        row.addWidget(self.value_label)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.slider.setValue(len(SPEEDS) - 1)
        self._on_slider_value_changed(self.slider.value())

    def speed(self) -> float:
        return float(SPEEDS[self.slider.value()])

    def set_speed(self, steps_per_second: float) -> None:
        best = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - steps_per_second)
                   if SPEEDS[i] else (0 if steps_per_second <= 0 else 1e9))
        self.slider.setValue(best)

    def _on_slider_value_changed(self, index: int) -> None:
        s = SPEEDS[index]
        self.value_label.setText("flat out" if s == 0 else f"{s} step/s" if s == 1 else f"{s} steps/s")
        self.speed_changed.emit(float(s))
