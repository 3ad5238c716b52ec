"""GammaBetaPanel: the learnt scale (gamma) and shift (beta) of every unit of
one layer over training, the chosen unit highlighted."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QStackedWidget, QVBoxLayout

from .base import AFTER, LIGHT, Panel, add_curve, finite_or_nan, fit_legend, make_plot, \
    message_label, orient, set_legend, set_title
from .selectors import LayerUnitSelector

# The all-units curve is background context: beyond these caps its rows are
# strided (the highlighted unit keeps every row). Painting it dominates the cost.
MAX_ROWS_PER_UNIT = 600
MAX_BACKGROUND_POINTS = 60_000


def all_units_xy(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One NaN-separated polyline through every unit's series.
    steps: (n,), values: (n, D) -> x, y of length D * (n + 1)."""
    n, d = values.shape
    stride = max(1, -(-n // MAX_ROWS_PER_UNIT), -(-n * d // MAX_BACKGROUND_POINTS))
    if stride > 1:
        keep = np.unique(np.r_[np.arange(0, n, stride), n - 1])  # always keep the newest row
        steps, values = steps[keep], values[keep]
        n = len(steps)
    x = np.empty((d, n + 1))
    x[:, :n] = steps
    x[:, n] = np.nan          # the break between one unit and the next
    y = np.empty((d, n + 1))
    y[:, :n] = values.T
    y[:, n] = np.nan
    y[~np.isfinite(y)] = np.nan
    return x.ravel(), y.ravel()


class GammaBetaPanel(Panel):
    """gamma and beta against step, every unit thin and grey, one unit bold."""

    title = "Gamma and beta"
    object_name = "gamma_beta_panel"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selector = LayerUnitSelector(with_unit=True)
        controls = QHBoxLayout()
        controls.addWidget(self.selector)
        controls.addStretch(1)
        self.gamma_plot = make_plot("γ (scale) of every unit", "step", "γ")
        self.beta_plot = make_plot("β (shift) of every unit", "step", "β")
        self.all_curves, self.unit_curves = {}, {}
        for key, plot in (("gamma", self.gamma_plot), ("beta", self.beta_plot)):
            # One item for all units: D separate items would be far slower.
            background = pg.PlotCurveItem([], [], pen=pg.mkPen(LIGHT, width=1), connect="finite")
            plot.addItem(background)
            self.all_curves[key] = background
            self.unit_curves[key] = add_curve(plot, "unit", AFTER, width=2.5)
        self.splitter = plots = QSplitter()
        plots.addWidget(self.gamma_plot)
        plots.addWidget(self.beta_plot)
        self.message = message_label("")
        self.stack = QStackedWidget()
        self.stack.addWidget(plots)
        self.stack.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.stack, 1)
        self._legend_key = None
        self.selector.selection_changed.connect(self._on_selector_changed)

    def plot_widgets(self) -> list:
        return [self.gamma_plot, self.beta_plot]

    def resizeEvent(self, event) -> None:
        orient(self.splitter, event.size().width(), event.size().height(), wide=1.0)
        super().resizeEvent(event)

    def _on_selector_changed(self, layer: int, unit: int) -> None:
        self.redraw()

    def _draw(self, frame) -> None:
        cfg = frame.config
        self.selector.set_layers(cfg.hidden, cfg.bn_layers(), cfg.bn_placement)
        i, unit = self.selector.layer(), self.selector.unit()
        if i >= len(cfg.hidden) or not cfg.bn_layers()[i]:
            self.message.setText(f"Layer {i + 1} has no batch norm: nothing to learn here")
            self.stack.setCurrentWidget(self.message)
            self._clear_curves()
            return
        self.stack.setCurrentIndex(0)
        d = cfg.hidden[i]
        if (d, unit) != self._legend_key:
            for key in ("gamma", "beta"):
                plot = self.gamma_plot if key == "gamma" else self.beta_plot
                set_legend(plot, [(self.unit_curves[key], f"unit {unit}")])
                plot.getPlotItem().legend.addItem(self.all_curves[key], f"all {d} units")
                fit_legend(plot)
            self._legend_key = (d, unit)
        h = frame.history
        steps = h.steps["step"]
        for key in ("gamma", "beta"):
            values = h.layer(i, key)
            if values is None or len(steps) == 0:
                self.all_curves[key].setData([], [])
                self.unit_curves[key].setData([], [])
                continue
            self.all_curves[key].setData(*all_units_xy(steps, values), connect="finite")
            self.unit_curves[key].setData(steps, finite_or_nan(values[:, unit]))
        set_title(self.gamma_plot, f"γ (scale), layer {i + 1}")
        set_title(self.beta_plot, f"β (shift), layer {i + 1}")

    def _clear(self) -> None:
        self._clear_curves()
        self.stack.setCurrentIndex(0)

    def _clear_curves(self) -> None:
        for key in ("gamma", "beta"):
            self.all_curves[key].setData([], [])
            self.unit_curves[key].setData([], [])
