"""LayerUnitSelector: choose a hidden layer and, optionally, one of its units."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget


# A layer's normalization in the layer list: "BN before", "LN after"...
SHORT_NORMS = {"batch": "BN", "layer": "LN", "group": "GN", "renorm": "Renorm", "noisy": "noisy BN"}


def layer_label(index: int, width: int, norm: str | bool | None, placement: str, conv: int = 0) -> str:
    """'Layer 1 (100 units, BN before)': 1-based, as users count. ``norm``:
    the layer's normalization (config's ``norm_kinds``; True is BN). In a
    CNN (``conv`` convolution blocks first) 'Conv 1 (8 channels, BN
    before)', then 'Dense 1 (64 units, ...)'."""
    norm = "batch" if norm is True else norm
    bn = f"{SHORT_NORMS[norm]} {placement}" if norm else "no BN"
    if index < conv:
        return f"Conv {index + 1} ({width} channel{'' if width == 1 else 's'}, {bn})"
    unit = "unit" if width == 1 else "units"
    name = f"Dense {index - conv + 1}" if conv else f"Layer {index + 1}"
    return f"{name} ({width} {unit}, {bn})"


def layer_name(index: int, conv: int = 0) -> str:
    """'layer 2', or in a CNN 'conv 1' and 'dense 1': how titles name a layer."""
    if index < conv:
        return f"conv {index + 1}"
    return f"dense {index - conv + 1}" if conv else f"layer {index + 1}"


class LayerUnitSelector(QWidget):
    """A "Layer" combo box and an optional "Unit" spin box (0-based within
    the layer). Emits ``selection_changed(layer, unit)`` when the user or
    ``set_selection`` changes the choice; ``set_layers`` never emits."""

    selection_changed = Signal(int, int)

    def __init__(self, with_unit: bool = True, parent: QWidget | None = None):
        super().__init__(parent)
        self._structure = None
        self._widths: tuple[int, ...] = ()
        self.conv = 0   # how many of the layers are convolution blocks (their units: channels)
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("Hidden layer to show (numbered from 1, input side first)")
        self.layer_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        # Full width when there is room, but may shrink so a narrow dock stays usable.
        self.layer_combo.setMinimumWidth(90)
        self.unit_spin = QSpinBox()
        self.unit_spin.setToolTip("Unit (neuron) within the layer, numbered from 0")
        self.unit_spin.setRange(0, 0)
        self.unit_spin.setKeyboardTracking(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Layer"))
        layout.addWidget(self.layer_combo)
        self._unit_label = QLabel("Unit")
        layout.addWidget(self._unit_label)
        layout.addWidget(self.unit_spin)
        self._unit_label.setVisible(with_unit)
        self.unit_spin.setVisible(with_unit)
        self.layer_combo.currentIndexChanged.connect(self._on_layer_combo_changed)
        self.unit_spin.valueChanged.connect(self._on_unit_spin_changed)

    # ------------------------------------------------------------ public
    def layer(self) -> int:
        """The chosen 0-based layer index (0 when there are no layers)."""
        return max(self.layer_combo.currentIndex(), 0)

    def unit(self) -> int:
        """The chosen 0-based unit index within the layer."""
        return self.unit_spin.value()

    def set_network(self, config) -> bool:
        """``set_layers`` for a config's network: its convolution blocks, then its hidden layers."""
        return self.set_layers(config.layer_widths(), config.norm_kinds(), config.bn_placement,
                               config.conv_count())

    def name(self, index: int) -> str:
        """How titles name layer ``index``: 'layer 2', 'conv 1', 'dense 1'."""
        return layer_name(index, self.conv)

    def unit_word(self) -> str:
        """'channel' for a convolution block's units, else 'unit'."""
        return "channel" if self.is_conv() else "unit"

    def is_conv(self) -> bool:
        """Whether the chosen layer is a convolution block (its units are channels)."""
        return self.layer() < self.conv

    def set_layers(self, widths, norms, placement: str, conv: int = 0) -> bool:
        """Describe the network; repopulate only if its structure changed,
        keeping the selection where it still exists. The first time, the
        last hidden layer is chosen (the one the BN paper plots).
        Returns True if the list was rebuilt."""
        structure = (tuple(int(w) for w in widths),
                     tuple("batch" if n is True else (n or None) for n in norms), placement, int(conv))
        if structure == self._structure:
            return False
        first = self._structure is None or not self._widths
        layer, unit = self.layer(), self.unit()
        self._structure = structure
        self._widths = structure[0]
        self.conv = structure[3]
        blocked = (self.layer_combo.blockSignals(True), self.unit_spin.blockSignals(True))
        try:
            self.layer_combo.clear()
            for i, (w, bn) in enumerate(zip(*structure[:2])):
                self.layer_combo.addItem(layer_label(i, w, bn, placement, self.conv))
            n = len(self._widths)
            if n:
                layer = n - 1 if first else min(layer, n - 1)
                self.layer_combo.setCurrentIndex(layer)
                self._fit_unit_range()
                self.unit_spin.setValue(min(unit, self._widths[layer] - 1))
        finally:
            self.layer_combo.blockSignals(blocked[0])
            self.unit_spin.blockSignals(blocked[1])
        return True

    def set_selection(self, layer: int, unit: int = 0) -> None:
        """Choose a layer and unit programmatically (emits if it changes)."""
        old = (self.layer(), self.unit())
        blocked = (self.layer_combo.blockSignals(True), self.unit_spin.blockSignals(True))
        try:
            self.layer_combo.setCurrentIndex(layer)
            self._fit_unit_range()
            self.unit_spin.setValue(unit)
        finally:
            self.layer_combo.blockSignals(blocked[0])
            self.unit_spin.blockSignals(blocked[1])
        if (self.layer(), self.unit()) != old:
            self.selection_changed.emit(self.layer(), self.unit())

    # ---------------------------------------------------------- handlers
    def _fit_unit_range(self) -> None:
        i = self.layer_combo.currentIndex()
        if 0 <= i < len(self._widths):
            self.unit_spin.setRange(0, self._widths[i] - 1)
        # A convolution block's units are its channels (each normalised over every pixel).
        conv = self.is_conv()
        self._unit_label.setText("Channel" if conv else "Unit")
        self.unit_spin.setToolTip("Channel of the convolution block, numbered from 0: its values at "
                                  "every pixel of every example" if conv else
                                  "Unit (neuron) within the layer, numbered from 0")

    def _on_layer_combo_changed(self, index: int) -> None:
        blocked = self.unit_spin.blockSignals(True)
        self._fit_unit_range()  # clamps the unit into the new layer's range
        self.unit_spin.blockSignals(blocked)
        self.selection_changed.emit(self.layer(), self.unit())

    def _on_unit_spin_changed(self, value: int) -> None:
        self.selection_changed.emit(self.layer(), value)
