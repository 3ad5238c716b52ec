"""SweepPanel: a sweep's final metric against the swept setting, one line
per normalization (``engine.sweep``), and how far the sweep has come."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout

from ...engine.sweep import METRICS, NORM_NAMES, axis_label, log_axis, series
from ..config_fields import ChoiceCombo
from .base import Panel, finite_bounds, fit_legend, make_plot, set_title
from .compare import RUN_COLORS

# Each normalization keeps its colour whichever others a sweep compares.
NORM_COLORS = {"bn": RUN_COLORS[0], "gn": RUN_COLORS[1], "ln": RUN_COLORS[2], "renorm": RUN_COLORS[3],
               "noisy": RUN_COLORS[4], "none": RUN_COLORS[5]}


class SweepPanel(Panel):
    """Final metric against the setting; ``set_sweep(spec, results)`` draws
    what has been measured so far. A sweep's runs are not the window's run:
    frames change nothing here."""

    title = "Sweep"
    object_name = "sweep_panel"
    help_text = ("Each point is a run of its own, trained for the same steps from the same seed "
                 "and data, with one setting changed; its final test error (with running, "
                 "population or the test batches' own statistics) or training loss. One line per "
                 "normalization: Wu & He's Fig. 1 is test error against batch size.")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.metric_combo = ChoiceCombo(tuple(METRICS.items()))
        self.metric_combo.setToolTip("Which final measurement of each run to plot")
        self.metric_combo.setSizeAdjustPolicy(ChoiceCombo.SizeAdjustPolicy.AdjustToContents)
        self.metric_combo.currentIndexChanged.connect(self.redraw)
        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m runs")
        self.progress.setMinimumWidth(160)
        self.progress.setToolTip("Runs of the sweep measured so far")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.plot = make_plot("Sweep", "", "")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.control_row(self.metric_combo, self.progress))
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.status)
        self.lines: dict[str, pg.PlotDataItem] = {}
        self._spec = None
        self._results = []
        self.plot.setVisible(False)   # nothing to show, or to export, before a sweep
        self._show_hint(False)

    def plot_widgets(self) -> list:
        return [self.plot]

    def absence(self, frame) -> str | None:
        if self._spec is not None:
            return None
        return ("no sweep yet: Run › Sweep… trains one run per value of a setting, for each "
                "normalization, and plots their final test error here.")

    def _draw(self, frame) -> None:
        pass   # the sweep's own runs, not the frame's

    def _clear(self) -> None:
        pass   # a new run of the window leaves the sweep as it was

    def _show_hint(self, empty: bool) -> None:
        super()._show_hint(False)   # "press Space to train" is about the window's run, not a sweep

    def copy_controls_from(self, other: "SweepPanel") -> None:
        super().copy_controls_from(other)
        if other._spec is not None:
            self.set_sweep(other._spec, other._results)

    def set_metric(self, metric: str) -> None:
        self.metric_combo.set_value(metric)

    def set_sweep(self, spec, results) -> None:
        """Show ``spec``'s results so far (a list of PointResult)."""
        if spec is not self._spec:
            self._spec = spec
            self._rebuild_lines()
            self.plot.setVisible(True)
        self._results = list(results)
        total = len(spec.values) * len(spec.norms)
        self.progress.setRange(0, total)
        self.progress.setValue(len(self._results))
        failed = [r for r in self._results if r.error]
        self.status.setText("; ".join(f"{NORM_NAMES.get(r.norm, r.norm)}, {spec.setting} = {r.value}: "
                                      f"{r.error}" for r in failed[:3])
                            + (f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""))
        self.redraw()

    def _rebuild_lines(self) -> None:
        item = self.plot.getPlotItem()
        for line in self.lines.values():
            item.removeItem(line)
        item.legend.clear()
        self.lines = {}
        for norm in self._spec.norms:
            color = NORM_COLORS[norm]
            line = pg.PlotDataItem([], [], pen=pg.mkPen(color, width=2), symbol="o", symbolSize=7,
                                   symbolBrush=color, symbolPen=color, name=NORM_NAMES[norm])
            item.addItem(line)
            self.lines[norm] = line
        fit_legend(self.plot)
        log_x = log_axis(self._spec)
        values = np.asarray(self._spec.values, dtype=np.float64)
        ticks = [((math.log10(v) if log_x else v), f"{v:g}") for v in values]
        item.getAxis("bottom").setTicks([ticks])
        item.setLabel("bottom", axis_label(self._spec) + (" (log scale)" if log_x else ""))

    def redraw(self) -> None:
        spec = self._spec
        if spec is None:
            return
        metric = self.metric_combo.value()
        log_x = log_axis(spec)
        ys = []
        for norm, (x, y) in series(spec, self._results, metric).items():
            ok = np.isfinite(y)
            xs = np.log10(x[ok]) if log_x else x[ok]
            self.lines[norm].setData(xs, y[ok])
            ys.append(y[ok])
        self.plot.getPlotItem().setLabel("left", METRICS[metric])
        lo, hi = finite_bounds(*ys) or (0.0, 1.0)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        if metric.startswith("test_error"):
            lo, hi = 0.0, max(hi, 0.05) * 1.1   # errors from 0: how large, not only how they differ
        self.plot.getPlotItem().getViewBox().setYRange(lo, hi, padding=0.05)
        xv = np.asarray(spec.values, dtype=np.float64)
        xv = np.log10(xv) if log_x else xv
        self.plot.getPlotItem().getViewBox().setXRange(xv.min(), xv.max(), padding=0.08)
        name = axis_label(spec)
        if name[1:2].islower():   # "batch size", but "BN momentum"
            name = name[0].lower() + name[1:]
        set_title(self.plot, f"{METRICS[metric].split(' (')[0].capitalize()} after {spec.steps:,} "
                             f"steps, against {name}")
