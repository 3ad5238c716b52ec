"""Labels, small editors, text parsers and the all-fields check of the config panel.

``NumberSpinBox`` shows the shortest exact text of a float ("0.001", "1e-5"),
accepts scientific notation and keeps the value exact (a plain
QDoubleSpinBox rounds to its ``decimals``, which would silently change a
config loaded from TOML).
"""
from __future__ import annotations

import math
import re
from dataclasses import fields
from pathlib import Path

from PySide6.QtGui import QPalette, QValidator
from PySide6.QtWidgets import (QAbstractSpinBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSpinBox,
                               QWidget)

from bnviz.engine.config import ConfigError, RunConfig
from bnviz.engine.settings import BY_NAME, MAX_LAYERS, MAX_WIDTH, value_text

FIELD_ORDER = [f.name for f in fields(RunConfig)]
LIVE = " (applies live)"
RESET = " (Apply resets the run)"
LIVE_MARK = " ●"

BN_MODES = [("all", "every layer"), ("none", "no layer"), ("per_layer", "per layer…")]

# A styled spin box loses its native arrow buttons unless they get a size.
STYLE = """
QLineEdit[invalid="true"], QComboBox[invalid="true"], QAbstractSpinBox[invalid="true"] {
    border: 2px solid #d32f2f; border-radius: 3px;
}
QAbstractSpinBox[invalid="true"]::up-button, QAbstractSpinBox[invalid="true"]::down-button { width: 16px; }
QLabel#config_message { color: #c62828; font-weight: bold; }
"""

HIDDEN_RULE = f"1 to {MAX_LAYERS} layer widths, each an integer from 1 to {MAX_WIDTH}"
_TRUE = {"on", "true", "yes", "y", "1", "bn", "x"}
_FALSE = {"off", "false", "no", "n", "0", "-"}
_NUMBER_CHARS = re.compile(r"[0-9.eE+\-]*")


# ----------------------------------------------------------------- text
def format_number(value: float) -> str:
    """Shortest text that reads back as exactly ``value``: 0.1, 1e-5, 100."""
    text = repr(float(value))
    mantissa, _, exponent = text.partition("e")
    if mantissa.endswith(".0"):
        mantissa = mantissa[:-2]
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[,;\s]+", text.strip()) if t]


def parse_hidden(text: str, field: str = "hidden") -> tuple[int, ...]:
    """"100, 100, 100" -> (100, 100, 100); ConfigError(field, ...) if not
    integers (``field``: "hidden", or "conv_channels" of a CNN).

    Ranges and the layer count are left to RunConfig.validate()."""
    rule = HIDDEN_RULE if field == "hidden" else BY_NAME[field].problem(())
    tokens = _tokens(text)
    if not tokens:
        raise ConfigError(field, f"{rule}, e.g. '{'100, 100' if field == 'hidden' else '8, 16'}' "
                                 f"(the field is empty)")
    widths = []
    for token in tokens:
        try:
            widths.append(int(token))
        except ValueError:
            raise ConfigError(field, f"{rule}; {token!r} is not an integer") from None
    return tuple(widths)


def format_hidden(hidden) -> str:
    return ", ".join(str(h) for h in hidden)


def parse_flags(text: str) -> tuple[bool, ...]:
    """"on, on, off" -> (True, True, False); ConfigError("batchnorm", ...) otherwise."""
    tokens = _tokens(text)
    if not tokens:
        raise ConfigError("batchnorm", "one on/off per hidden layer, e.g. 'on, on, off' (the field is empty)")
    flags = []
    for token in tokens:
        low = token.lower()
        if low in _TRUE:
            flags.append(True)
        elif low in _FALSE:
            flags.append(False)
        else:
            raise ConfigError("batchnorm", "one on/off per hidden layer, e.g. 'on, on, off'; "
                                           f"{token!r} is not on or off")
    return tuple(flags)


def format_flags(flags) -> str:
    """"on, on, off": the schema's words for per-layer flags."""
    return value_text("batchnorm", tuple(bool(f) for f in flags))


# -------------------------------------------------------------- editors
def typed_limit(lo: float, hi: float) -> float:
    """The largest magnitude a box takes as typed: one digit more than its
    range, so that -1 or 500 can be typed (and marked), and the box's size
    stays that of its range."""
    return 10.0 ** (len(str(int(max(abs(lo), abs(hi), 1)))) + 1) - 1
class NumberSpinBox(QDoubleSpinBox):
    """An exact float spin box. ``step`` is "linear", "log" (1-2-5 per
    decade: 0.01, 0.02, 0.05, 0.1) or "log1m" (the same on 1 - x: 0.9, 0.95,
    0.98, 0.99, 0.995 ... for decay rates near 1). ``floor`` is the smallest
    positive value the log steps go down to when the minimum is 0."""

    def __init__(self, lo: float, hi: float, *, step: str = "linear", single_step: float = 0.1,
                 floor: float = 1e-6, integer: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        # What is typed is kept, in range or not (the form says what the range
        # is, and that the value is out of it); the arrows stay inside it.
        self.lo, self.hi = lo, hi
        self.limit = typed_limit(lo, hi)
        self._step, self._floor, self._integer = step, floor, integer
        self.setDecimals(0 if integer else 320)  # exact: the text comes from textFromValue
        self.setRange(-self.limit, self.limit)
        self.setSingleStep(1 if integer else single_step)
        self.setKeyboardTracking(False)  # typed values apply on Enter / focus out, not per key
        self.setCorrectionMode(QAbstractSpinBox.CorrectToNearestValue)

    def textFromValue(self, value: float) -> str:
        return str(int(value)) if self._integer else format_number(value)

    def _parse(self, text: str) -> float:
        text = text.strip()
        return float(int(text)) if self._integer else float(text)

    def valueFromText(self, text: str) -> float:
        try:
            return self._parse(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        try:
            value = self._parse(text)
        except ValueError:
            state = QValidator.Intermediate if _NUMBER_CHARS.fullmatch(text.strip()) else QValidator.Invalid
            return state, text, pos
        if not math.isfinite(value) or abs(value) > self.limit:
            return QValidator.Invalid, text, pos
        return QValidator.Acceptable, text, pos

    def stepBy(self, steps: int) -> None:
        value = self.value()
        if self._step == "log":
            for _ in range(abs(steps)):
                value = _step_125(value, steps > 0, self._floor)
        elif self._step == "log1m":
            for _ in range(abs(steps)):
                value = 1.0 - _step_125(1.0 - value, steps < 0, self._floor)
            value = float(f"{value:.12g}")
        else:
            value = float(f"{value + steps * self.singleStep():.12g}")
        self.setValue(min(max(value, self.lo), self.hi))

    def wheelEvent(self, event):
        _wheel_when_focused(self, event, QDoubleSpinBox)


def _step_125(value: float, up: bool, floor: float) -> float:
    """The next value of the 1-2-5 sequence above (or below) ``value``."""
    if value <= 0:
        return floor if up else 0.0
    exp = math.floor(math.log10(value))
    ladder = [float(f"{k}e{e}") for e in (exp - 1, exp, exp + 1) for k in (1, 2, 5)]
    if up:
        return min(c for c in ladder if c > value * (1 + 1e-9))
    previous = max(c for c in ladder if c < value * (1 - 1e-9))
    if previous >= floor:
        return previous
    return floor if value > floor else value


class IntSpinBox(QSpinBox):
    """An integer spin box that keeps what is typed, in range or not (the
    form marks it); its arrows stay inside ``lo`` .. ``hi``."""

    def __init__(self, lo: int, hi: int, step: int = 1, parent: QWidget | None = None):
        super().__init__(parent)
        self.lo, self.hi = lo, hi
        limit = int(min(typed_limit(lo, hi), 2**31 - 1))
        self.setRange(-limit, limit)
        self.setSingleStep(step)
        self.setKeyboardTracking(False)
        self.setCorrectionMode(QAbstractSpinBox.CorrectToNearestValue)

    def stepBy(self, steps: int) -> None:
        self.setValue(min(max(self.value() + steps * self.singleStep(), self.lo), self.hi))

    def wheelEvent(self, event):
        _wheel_when_focused(self, event, QSpinBox)


class ChoiceCombo(QComboBox):
    """A combo of (value, label) pairs; ``value()`` / ``set_value()`` use the values."""

    def __init__(self, choices, parent: QWidget | None = None):
        super().__init__(parent)
        for value, label in choices:
            self.addItem(label, value)
        self.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(8)

    def value(self):
        return self.currentData()

    def set_value(self, value) -> None:
        index = self.findData(value)
        if index < 0:
            raise ValueError(f"{value!r} is not one of the choices")
        self.setCurrentIndex(index)

    def wheelEvent(self, event):
        _wheel_when_focused(self, event, QComboBox)


def _wheel_when_focused(widget, event, base) -> None:
    """Scrolling the panel must not change the value under the mouse."""
    if widget.hasFocus():
        base.wheelEvent(widget, event)
    else:
        event.ignore()


def hint_label(text: str) -> QLabel:
    """A small, word-wrapped, dimmed explanation under a control."""
    label = QLabel(text)
    label.setWordWrap(True)
    palette = label.palette()
    palette.setColor(QPalette.WindowText, palette.color(QPalette.PlaceholderText))
    label.setPalette(palette)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    return label


def set_invalid(widget: QWidget, message: str | None, help_text: str) -> None:
    """Mark ``widget`` (red border via the "invalid" property) or clear it."""
    bad = bool(message)
    if widget.property("invalid") != bad:
        widget.setProperty("invalid", bad)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
        widget.update()
    set_tooltip(widget, f"⚠ {message}\n{help_text}" if bad else help_text)


def set_tooltip(widget: QWidget, text: str) -> None:
    """Set a tooltip; a spin box's own line edit gets it too (it is what the mouse is over)."""
    widget.setToolTip(text)
    if isinstance(widget, QAbstractSpinBox):
        widget.lineEdit().setToolTip(text)


def hbox(main: QWidget, extra: QWidget) -> QWidget:
    """``main`` stretched, ``extra`` beside it, as one form field."""
    holder = QWidget()
    line = QHBoxLayout(holder)
    line.setContentsMargins(0, 0, 0, 0)
    line.addWidget(main, 1)
    line.addWidget(extra)
    return holder


# ----------------------------------------------------------- checking
def check_values(values: dict, errors: dict[str, str]) -> dict[str, str]:
    """Every invalid field of ``values``, not just the first, in field order.

    ``errors`` holds fields whose text did not parse. Validate, put the
    default in place of the bad value, validate again."""
    errors = dict(errors)
    trial = dict(values)
    defaults = RunConfig()
    for field in errors:
        trial[field] = getattr(defaults, field)
    if "hidden" in errors or "conv_channels" in errors:   # flags can't be counted against widths we can't read
        trial["batchnorm"] = True
    for _ in FIELD_ORDER:
        try:
            RunConfig(**trial).validate()
            break
        except ConfigError as exc:
            if exc.field in errors:
                break
            errors[exc.field] = _explain(exc, trial)
            trial[exc.field] = getattr(defaults, exc.field)
            if exc.field == "data_path":
                trial["dataset"] = defaults.dataset
    if values["dataset"] == "file" and "data_path" not in errors and not Path(values["data_path"]).is_file():
        errors["data_path"] = f"no file at {values['data_path']}"
    return {f: errors[f] for f in FIELD_ORDER if f in errors}


def _explain(exc: ConfigError, trial: dict) -> str:
    """validate()'s message, in the words the panel uses (on/off, not true/false)."""
    if exc.field == "batchnorm" and isinstance(trial["batchnorm"], tuple):
        n, got = len(RunConfig(**trial).layer_widths()), len(trial["batchnorm"])
        which = ("convolution block, then per hidden layer" if trial.get("architecture") == "cnn"
                 else "hidden layer")
        return (f"one on/off per {which}: {n} for this network, got {got} "
                f"(e.g. '{format_flags([True] * n)}')")
    return exc.message


def momentum_note(m: float | None) -> str:
    """bn_momentum in the three conventions people meet."""
    if m is None:
        return "Cumulative average of all batches seen (PyTorch momentum=None)"
    keep = format_number(float(f"{1.0 - m:.12g}"))
    return f"PyTorch {format_number(m)} = course β {keep} = Keras momentum {keep}"
