"""FeatureMapsPanel: one test example's feature maps in a CNN, every channel
of a convolution block before and after its normalization.

BN on a convolution normalises each channel over the batch and every
pixel; at test time with the running statistics, per channel,
``gamma * (z - mu) / sqrt(var + eps) + beta``. The maps show it: channels
whose raw scales differ widely come out of BN on one scale, each keeping
its own pattern. The maps are computed in inference mode (the running
statistics; GroupNorm and LayerNorm use the example's own) by the training
process, as the test-time lab's inspection of the same example.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QSpinBox, QVBoxLayout

from ...engine.settings import NORMS
from .base import Panel, make_plot, set_title
from .example_view import InspectionPacer
from .selectors import layer_label

COLORMAP = "CET-D1"     # diverging: blue below 0, white at 0, red above
MAX_COLUMNS = 8         # channels side by side in a mosaic row


def tile_maps(maps: np.ndarray, columns: int) -> np.ndarray:
    """(C, H, W) maps -> one (rows*(H+1) - 1, columns*(W+1) - 1) image,
    channel c at row c // columns, column c % columns, one NaN pixel
    (drawn transparent) between tiles."""
    c, h, w = maps.shape
    rows = math.ceil(c / columns)
    out = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan)
    for k in range(c):
        r, col = divmod(k, columns)
        out[r * (h + 1):r * (h + 1) + h, col * (w + 1):col * (w + 1) + w] = maps[k]
    return out


def mosaic_columns(channels: int) -> int:
    """As many per row as fit MAX_COLUMNS, the rows filled evenly (16 -> 8 + 8, 6 -> 6)."""
    return math.ceil(channels / math.ceil(channels / MAX_COLUMNS))


class MapMosaic:
    """One plot: every channel's map tiled, one symmetric colour scale with its bar."""

    def __init__(self, title: str):
        self.plot = make_plot(title, "", "", legend=False)
        item = self.plot.getPlotItem()
        item.setAspectLocked(True)
        item.invertY(True)
        for axis in ("left", "bottom"):   # (and so no grid)
            item.hideAxis(axis)
        self.plot.setMinimumSize(220, 120)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(-1, 1), colorMap=pg.colormap.get(COLORMAP), interactive=False,
                                   width=12)
        self.bar.setImageItem(self.image, insert_in=item)
        self.labels: list[pg.TextItem] = []

    def show(self, maps: np.ndarray | None) -> float:
        """Draw (C, H, W) maps (None: clear); returns the scale's half-width."""
        if maps is None:
            self.image.clear()
            for label in self.labels:
                label.setVisible(False)
            return float("nan")
        c, h, w = maps.shape
        columns = mosaic_columns(c)
        tiled = tile_maps(np.asarray(maps, dtype=np.float64), columns)
        finite = np.abs(maps[np.isfinite(maps)])
        half = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        self.image.setImage(tiled, autoLevels=False)
        self.bar.setLevels((-half, half))
        self._place_labels(c, h, w, columns)
        self.plot.getPlotItem().getViewBox().setRange(
            xRange=(0, tiled.shape[1]), yRange=(-1.2, tiled.shape[0]), padding=0.02)
        return half

    def _place_labels(self, c: int, h: int, w: int, columns: int) -> None:
        while len(self.labels) < c:
            label = pg.TextItem("", color="#444", anchor=(0, 1))
            self.plot.addItem(label)
            self.labels.append(label)
        for k, label in enumerate(self.labels):
            label.setVisible(k < c)
            if k < c:
                r, col = divmod(k, columns)
                label.setText(f"c{k}")
                label.setPos(col * (w + 1), r * (h + 1))

    def clear(self) -> None:
        self.show(None)


class FeatureMapsPanel(Panel):
    title = "Feature maps"
    object_name = "feature_maps_panel"
    split_wide = 3.0   # the two mosaics one above the other unless the panel is very wide
    help_text = (
        "One test example through a convolution block, in inference mode: on top the "
        "normalization's input per channel (c0, c1, ...): the convolution's output z, or g(z) "
        "with the normalization after the activation; below, the normalization's output. "
        "BN normalises each channel over the batch and every pixel, at test time with the "
        "running statistics: γ<sub>c</sub>·(z − μ<sub>c</sub>)/√(σ²<sub>c</sub> + ε) + "
        "β<sub>c</sub>, one affine map per channel, so each map keeps its pattern while the "
        "channels come onto a common scale. GroupNorm and LayerNorm use the example's own "
        "statistics. Each mosaic has one colour scale, symmetric about 0 (white).")

    inspect_requested = Signal(int, int)   # test example, run (0 = A)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.block_combo = QComboBox()
        self.block_combo.setToolTip("Convolution block whose channels to show (numbered from 1, "
                                    "input side first)")
        self.block_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.example_spin = QSpinBox()
        self.example_spin.setPrefix("test example ")
        self.example_spin.setKeyboardTracking(False)
        self.example_spin.setToolTip("Which test example to show (numbered from 0); the test-time "
                                     "lab looks at the same one")
        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("Show a test example picked at random")
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setObjectName("feature_maps_caption")
        self.before = MapMosaic("Before normalization")
        self.after = MapMosaic("After normalization")
        self.inspection = None
        self._blocks = None
        # Which run of compare mode the panel shows (the window's Show run sets it).
        self.run_of = lambda: 0
        self._inspections = InspectionPacer(self, "_request_inspection")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.control_row(QLabel("Block"), self.block_combo, self.example_spin,
                                          self.random_button))
        layout.addWidget(self.caption)
        layout.addWidget(self.plots_or_message(self.before.plot, self.after.plot), 1)
        self.block_combo.currentIndexChanged.connect(self._show_inspection)
        self.example_spin.valueChanged.connect(self.request_inspection)
        self.random_button.clicked.connect(self._on_random_clicked)

    def absence(self, frame) -> str | None:
        if frame.config.is_cnn():
            return None
        return ("only a convolutional network has feature maps: choose Network › convolutional "
                "(CNN) in the Configuration, or the preset “Small CNN on digits”.")

    def plot_widgets(self) -> list:
        return [self.before.plot, self.after.plot]

    # ------------------------------------------------------------ drawing
    def _draw(self, frame) -> None:
        cfg = frame.config
        if not cfg.is_cnn():   # (its plots then hidden: not exported either)
            self.message.setText("No feature maps: " + self.absence(frame))
            self.stack.setCurrentWidget(self.message)
            self.inspection = None
            return
        blocks = (cfg.conv_channels, cfg.norm_kinds()[:cfg.conv_count()], cfg.bn_placement)
        if self.inspection is not None and self.inspection.run != self.run_of():
            self.inspection = None   # another run shown: its maps come with the next inspection
            self.before.clear()
            self.after.clear()
        if blocks != self._blocks:
            self._blocks = blocks
            keep = max(self.block_combo.currentIndex(), 0)
            blocked = self.block_combo.blockSignals(True)
            self.block_combo.clear()
            for i, (width, norm) in enumerate(zip(blocks[0], blocks[1])):
                self.block_combo.addItem(layer_label(i, width, norm, cfg.bn_placement, len(blocks[0])))
            self.block_combo.setCurrentIndex(min(keep, self.block_combo.count() - 1))
            self.block_combo.blockSignals(blocked)
        if self._changed("test_size", frame.n_test):
            self.example_spin.setRange(0, max(0, frame.n_test - 1))
        if frame.record is not None and frame.n_test >= 1:
            self._inspections.schedule()

    # -------------------------------------------------------- inspection
    def request_inspection(self, *_args) -> None:
        self._inspections.request_now()

    def _request_inspection(self) -> None:
        self.inspect_requested.emit(self.example_spin.value(), self.run_of())

    def set_inspection(self, ins) -> None:
        """Show an ExampleInspection's feature maps (one without any, or of
        another run than the one shown, is ignored)."""
        if not ins.feature_maps or ins.run != self.run_of() or self.stack.currentWidget() is self.message:
            return
        self.inspection = ins
        blocked = self.example_spin.blockSignals(True)
        self.example_spin.setValue(ins.index)
        self.example_spin.blockSignals(blocked)
        self._show_inspection()

    def _show_inspection(self, *_args) -> None:
        ins = self.inspection
        if ins is None:
            return
        i = min(max(self.block_combo.currentIndex(), 0), len(ins.feature_maps) - 1)
        z, normed = ins.feature_maps[i]
        kinds = self._blocks[1] if self._blocks else ()
        kind = kinds[i] if i < len(kinds) else None
        name = NORMS.get(kind, "the normalization") if kind else None
        label = ins.class_names[ins.label] if ins.class_names else str(ins.label)
        self.stack.setCurrentWidget(self.splitter)
        z_half = self.before.show(z)
        after_act = normed is not None and self._blocks is not None and self._blocks[2] == "after"
        taken = "g(z), after the activation" if after_act else "z = conv(x)"
        set_title(self.before.plot, f"Before normalization: {taken}, conv {i + 1} "
                                    f"(scale ±{z_half:.3g})")
        if normed is None:
            self.after.clear()
            set_title(self.after.plot, f"Conv {i + 1} has no normalization")
            self.after.plot.hide()
        else:
            self.after.plot.show()
            half = self.after.show(normed)
            how = "running statistics" if kind in ("batch", "renorm", "noisy") else "the example's own statistics"
            set_title(self.after.plot, f"After {name}, conv {i + 1} ({how}, scale ±{half:.3g})")
        spread = _channel_spread(z)
        channels = f"{z.shape[0]} channel{'' if z.shape[0] == 1 else 's'}"
        self.caption.setText(
            f"Test example {ins.index} (class {label}) at step {ins.step:,}: {channels} of "
            f"{z.shape[1]}×{z.shape[2]}. Before: the channels' standard deviations range over "
            f"{spread[0]:.3g} to {spread[1]:.3g}"
            + ("" if normed is None else
               f"; after: {_channel_spread(normed)[0]:.3g} to {_channel_spread(normed)[1]:.3g}") + ".")

    def _on_random_clicked(self) -> None:
        top = self.example_spin.maximum()
        self.example_spin.setValue(int(np.random.default_rng().integers(0, top + 1)))

    def _clear(self) -> None:
        self.before.clear()
        self.after.clear()
        self.inspection = None
        self.caption.setText("")


def _channel_spread(maps: np.ndarray) -> tuple[float, float]:
    """The smallest and largest standard deviation of one example's channels, over their pixels."""
    stds = np.asarray(maps, dtype=np.float64).reshape(maps.shape[0], -1).std(axis=1)
    stds = stds[np.isfinite(stds)]
    return (float(stds.min()), float(stds.max())) if stds.size else (float("nan"), float("nan"))
