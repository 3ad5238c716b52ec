"""GradientsPanel: the size of each parameter's gradient in one layer over
training, on a log scale (where a bias kept under BN shows its ~0 gradient)."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout

from .base import AFTER, BEFORE, NORMALIZED, POPULATION, Panel, Series, StickyRange, add_curve, \
    finite_bounds, history_rows, log_steps_check, make_plot, set_legend, set_log_steps, set_title, \
    step_span
from .selectors import LayerUnitSelector

# (history column, legend name, colour)
GRADIENT_SERIES = (
    ("grad_norm_W", "‖∂L/∂W‖", AFTER),
    ("grad_norm_b", "‖∂L/∂b‖ (bias)", BEFORE),
    ("grad_norm_gamma", "‖∂L/∂γ‖", NORMALIZED),
    ("grad_norm_beta", "‖∂L/∂β‖", POPULATION),
)
# A zero gradient has no logarithm: it is drawn at this floor (and said so).
LOG_FLOOR = 1e-20


class GradientsPanel(Panel):
    title = "Gradients"
    object_name = "gradients_panel"
    help_text = (
        "The norm of each parameter's gradient in the chosen layer at every step, on a log "
        "scale: ‖∂L/∂W‖<sub>F</sub>, ‖∂L/∂b‖, ‖∂L/∂γ‖, ‖∂L/∂β‖. When BN follows the linear map, "
        "z + b − mean(z + b) = z − mean(z), so the loss does not depend on b and "
        "∂L/∂b = 0 up to rounding: a kept bias stays at zero up to rounding. Exact zeros are "
        "drawn at "
        f"{LOG_FLOOR:g}. Where a point stands for several steps, the line is their mean and the "
        "light band their min to max.")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selector = LayerUnitSelector(with_unit=False)
        self.ratio_label = QLabel("")
        self.ratio_label.setToolTip("The largest ‖∂L/∂b‖ / ‖∂L/∂W‖ over the stored rows (a row "
                                    "that stands for several steps holds their means)")
        self.log_steps = log_steps_check(self._on_log_steps_toggled)
        controls = self.control_row(self.selector, self.log_steps, right=[self.ratio_label])
        self.plot = make_plot("Gradient norms", "step", "norm (log scale)")
        self.plot.getPlotItem().setLogMode(y=True)
        self.range = StickyRange(self.plot, steps_x=True, on_user_range=self.redraw)
        self.curves = {key: add_curve(self.plot, name, color, width=1.5)
                       for key, name, color in GRADIENT_SERIES}
        self.series = {key: Series(self.plot, c, envelope=True) for key, c in self.curves.items()}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.plot, 1)
        self._shown = None
        self.selector.selection_changed.connect(self._refit_and_redraw)

    def plot_widgets(self) -> list:
        return [self.plot]

    def sticky_ranges(self) -> list:
        return [self.range]

    def _on_log_steps_toggled(self, checked: bool) -> None:
        set_log_steps(self.plot_widgets(), checked)
        self._refit_and_redraw()

    def _draw(self, frame) -> None:
        cfg = frame.config
        self.selector.set_network(cfg)
        i = self.selector.layer()
        h = frame.history
        steps = h.steps["step"]
        present = [k for k, _, _ in GRADIENT_SERIES if f"L{i}.{k}" in h.steps]
        if present != self._shown:
            self._shown = present
            set_legend(self.plot, [(self.curves[k], n) for k, n, _ in GRADIENT_SERIES if k in present])
        x_span = step_span(steps, self.log_steps.isChecked())
        pts, window = self.range.points(), self.range.window()
        if self._changed("norms", (len(steps), x_span, i, pts, window)):
            for key in present:
                name = f"L{i}.{key}"
                rows = history_rows(h.steps, name,
                                    pick=lambda a: np.maximum(a.astype(np.float64), LOG_FLOOR))
                y = np.maximum(h.steps[name].astype(np.float64), LOG_FLOOR)
                self.series[key].set_data(steps, y, pts, window, key=i, **rows)
            for key in set(self.series) - set(present):
                self.series[key].clear()
            self.range.update(x=x_span, y=finite_bounds(*(self.series[k].bounds() or () for k in present)))
        self._show_ratio(h, i)
        where = "" if run_label(frame) == "" else f", run {run_label(frame)}"
        set_title(self.plot, f"Gradient norms, {self.selector.name(i)}{where}")

    def _show_ratio(self, h, i: int) -> None:
        b, w = h.steps.get(f"L{i}.grad_norm_b"), h.steps.get(f"L{i}.grad_norm_W")
        if b is None or len(b) == 0:
            self.ratio_label.setText("")
            return
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = float(np.nanmax(b.astype(np.float64) / w))
        self.ratio_label.setText(f"max ‖∂L/∂b‖ / ‖∂L/∂W‖ = {ratio:.2g}")

    def _clear(self) -> None:
        for s in self.series.values():
            s.clear()
        self.range.reset()
        self.ratio_label.setText("")


def run_label(frame) -> str:
    """The run's name in compare mode ("A", "B"...), else ""."""
    return frame.label.split(":")[0]
