"""LandscapePanel: Santurkar et al.'s two explanations of BN, measured on
the runs while they train (``engine.landscape``): each layer's internal
covariate shift, and how smooth the loss is along the gradient, one line
per run of a comparison."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QSplitter, QStackedWidget, QVBoxLayout

from .base import (Panel, Series, StickyRange, add_curve, finite_bounds, make_plot, message_label, set_legend,
                   set_title)
from .compare import MAX_RUNS, RUN_COLORS
from .selectors import layer_name

# (plot key, history column or None for the layer's, title, y label, log scale)
PLOTS = (("ics", "ics_distance", "Internal covariate shift ‖G − G′‖", "‖G − G′‖", True),
         ("cos", "ics_cosine", "cos(G, G′)", "cosine", False),
         ("range", "landscape_loss_range", "Loss range along the gradient", "max − min of L", True),
         ("smooth", "landscape_smoothness", "Effective β-smoothness along the gradient",
          "max ‖Δ∇L‖ / ‖η∇L‖", True))
LOG_FLOOR = 1e-12


class LandscapePanel(Panel):
    title = "Landscape"
    object_name = "landscape_panel"
    split_wide = 1.2
    help_text = (
        "Santurkar et al. 2018, measured every few steps (Meters in the Configuration). Covariate "
        "shift of a layer: G is the gradient of its weights before the step, G′ the same on the "
        "same batch once the layers below have taken the step's update; ‖G − G′‖ and "
        "cos(G, G′). Along the gradient g, from the step's weights x: the loss L(x − ηg) for η "
        "from ½ to 4 times the learning rate (the raw gradient, whatever the optimizer; its "
        "range), and the effective β-smoothness, max ‖∇L(x − ηg) − g‖ / ‖ηg‖. One line per run.")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("The layer whose covariate shift to show (the first has no "
                                    "layer below it; the head sees every layer move)")
        self.cost_label = QLabel("")
        self.cost_label.setObjectName("meter_cost")
        self.cost_label.setToolTip("What the measurements cost: their time against the training "
                                   "time between two of them")
        self.plots, self.series, self.ranges = {}, {}, {}
        grid = QSplitter()
        columns = [QSplitter(), QSplitter()]
        for column in columns:
            column.setOrientation(Qt.Orientation.Vertical)
            grid.addWidget(column)
        for k, (key, _col, title, y_label, log) in enumerate(PLOTS):
            plot = make_plot(title, "step", y_label + (" (log scale)" if log else ""))
            if log:
                plot.getPlotItem().setLogMode(y=True)
            self.plots[key] = plot
            self.ranges[key] = StickyRange(plot, steps_x=True, on_user_range=self.redraw)
            self.series[key] = [Series(plot, add_curve(plot, None, RUN_COLORS[j], width=1.8))
                                for j in range(MAX_RUNS)]
            columns[k // 2].addWidget(plot)
        self.splitter = grid
        self.message = message_label("")
        self.stack = QStackedWidget()   # the plots, or why there are none (then not exported)
        self.stack.addWidget(grid)
        self.stack.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.control_row(QLabel("Layer"), self.layer_combo, right=[self.cost_label]))
        layout.addWidget(self.stack, 1)
        self._layers = None
        self._legend = None
        self.layer_combo.currentIndexChanged.connect(self._refit_and_redraw)

    def absence(self, frame) -> str | None:
        if any(run.config.meters for run in (frame, *frame.others)):
            return None
        return ("the landscape meters are off: turn on Landscape meters in the Configuration "
                "(group Meters), or open the lesson “Why BN helps”.")

    def plot_widgets(self) -> list:
        return list(self.plots.values())

    def sticky_ranges(self) -> list:
        return list(self.ranges.values())

    # ------------------------------------------------------------ drawing
    def _draw(self, frame) -> None:
        runs = (frame, *frame.others)[:MAX_RUNS]
        cfg = frame.config
        absent = self.absence(frame)
        if absent is not None:
            self.message.setText("No measurements: " + absent)
            self.stack.setCurrentWidget(self.message)
            self.cost_label.setText("")
            return
        self.stack.setCurrentIndex(0)
        n = len(cfg.layer_widths())
        layers = (n, cfg.conv_count())
        if layers != self._layers:   # layers 2..n, then the head (history index n)
            self._layers = layers
            keep = self.layer_combo.currentIndex()
            blocked = self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            for i in range(1, n + 1):
                self.layer_combo.addItem("head" if i == n else layer_name(i, cfg.conv_count()), i)
            self.layer_combo.setCurrentIndex(keep if 0 <= keep < n else n - 1)
            self.layer_combo.blockSignals(blocked)
        i = self.layer_combo.currentData() or n
        legend = tuple(r.label or "run" for r in runs)
        if legend != self._legend:
            self._legend = legend
            for key, plot in self.plots.items():
                set_legend(plot, [(self.series[key][j].item, label) for j, label in enumerate(legend)]
                           if len(runs) > 1 else [])
        key = tuple((len(r.history.meters["step"]), r.step) for r in runs)
        head = i == n   # each run's own head (a run of another depth has its own index)
        for pkey, column, title, _y, log in PLOTS:
            sticky = self.ranges[pkey]
            pts, window = sticky.points(), sticky.window()
            if not self._changed(pkey, (key, i, pts, window)):
                continue
            for j, series in enumerate(self.series[pkey]):
                meters = runs[j].history.meters if j < len(runs) else None
                if pkey in ("ics", "cos"):
                    k = len(runs[j].config.layer_widths()) if head and j < len(runs) else i
                    name = f"L{k}.{column}"
                else:
                    name = column
                if meters is None or name not in meters or len(meters["step"]) == 0:
                    series.clear()
                    continue
                y = meters[name].astype(np.float64)
                series.set_data(meters["step"], np.maximum(y, LOG_FLOOR) if log else y, pts, window,
                                key=(runs[j].label, i))
            steps = [r.history.meters["step"] for r in runs if len(r.history.meters["step"])]
            x = (float(min(s[0] for s in steps)), float(max(s[-1] for s in steps))) if steps else None
            sticky.update(x=x, y=finite_bounds(*(s.bounds() or () for s in self.series[pkey])))
        where = "head" if i == n else layer_name(i, cfg.conv_count())
        set_title(self.plots["ics"], f"Internal covariate shift ‖G − G′‖, {where}")
        set_title(self.plots["cos"], f"cos(G, G′), {where}")
        self._show_cost(runs)

    def _show_cost(self, runs) -> None:
        """The measurements' share of the time, from the last measurement's
        duration and the training speed between two of them."""
        parts = []
        for r in runs:
            seconds = r.meter_seconds
            if not r.config.meters or seconds != seconds:
                continue
            rate = r.steps_per_second
            share = seconds / (seconds + r.config.meter_every / rate) if rate > 0 else float("nan")
            who = f"{r.label.split(':')[0]}: " if len(runs) > 1 else ""
            cost = f", {100 * share:.0f}% of the time" if share == share else ""
            parts.append(f"{who}every {r.config.meter_every} steps, {1000 * seconds:.0f} ms each{cost}")
        self.cost_label.setText("Meters: " + "; ".join(parts) if parts else "")

    def _clear(self) -> None:
        for group in self.series.values():
            for s in group:
                s.clear()
        for sticky in self.ranges.values():
            sticky.reset()
        self._legend = None
        self.cost_label.setText("")
