"""ComparePanel: runs trained in lockstep, side by side (the BN paper's Fig. 1).

(a) test accuracy of every run against the step, with the loss beside it;
(b, c) the 15th/50th/85th percentiles of one unit's activation input over
training in run A and in a second run, on one shared value axis so that
their flatness can be compared at a glance.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QSplitter, QStackedLayout,
                               QVBoxLayout, QWidget)

from .band import Band, pct_key, source_combo, source_text
from .base import Panel, Series, StickyRange, add_curve, finite_bounds, history_rows, make_plot, \
    message_label, set_legend, set_title
from .bins import Bins
from ..plotkit.downsampling import trailing_mean
from .selectors import LayerUnitSelector

# One colour per run, A first (the same in every plot of the panel).
RUN_COLORS = ("#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#8c564b", "#e377c2", "#17becf")
MAX_RUNS = len(RUN_COLORS)
SMOOTH_STEPS = 25   # trailing mean of the noisy mini-batch loss
QUANTITIES = (("act_in", "activation input"), ("pre", "z = W·a (before BN)"))
VIEWS = (("bands", "percentiles over training"), ("histograms", "values at this step"))
OFF_MESSAGE = ("Compare mode is off.\n\nRun › Compare with… trains a second run beside this one "
               "(by default: the same network without batch norm), and the Lessons menu opens "
               "guided comparisons.")


def labelled(text: str, widget) -> QWidget:
    """``text`` and ``widget`` as one item of a control row (they wrap together)."""
    pair = QWidget()
    row = QHBoxLayout(pair)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(QLabel(text))
    row.addWidget(widget)
    return pair


class ComparePanel(Panel):
    title = "Compare runs"
    object_name = "compare_panel"
    help_text = (
        "Runs trained in lockstep: the same initial weights and the same mini-batches, "
        "differing only in the settings chosen for each. Top: test accuracy of every run with "
        "running statistics (solid) and, with BN, population statistics (dashed), and the "
        "mini-batch loss. Bottom: the 15th, 50th and 85th percentiles of one unit's input to its "
        "activation over training, over a fixed probe of test examples or each training "
        "mini-batch, in run A and another run on one value axis: Ioffe &amp; Szegedy's Fig. 1(b, c).")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selector = LayerUnitSelector(with_unit=True)
        self.quantity_combo = QComboBox()
        for key, name in QUANTITIES:
            self.quantity_combo.addItem(name, key)
        self.quantity_combo.setToolTip("Which value's percentiles the lower plots show")
        self.view_combo = QComboBox()
        for key, name in VIEWS:
            self.view_combo.addItem(name, key)
        self.view_combo.setToolTip("Lower plots: one unit's 15th/50th/85th percentiles over training, "
                                   "or the histogram of the whole layer's values at this step")
        self.source_combo = source_combo()
        self.other_combo = QComboBox()
        self.other_combo.setToolTip("The run shown beside run A in the lower plots")
        self.other_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.smooth_check = QCheckBox(f"Smooth loss ({SMOOTH_STEPS} steps)")
        self.smooth_check.setChecked(True)
        self.smooth_check.setToolTip(f"Plot the mean of the last {SMOOTH_STEPS} mini-batch losses")
        self.gap_label = QLabel("")
        self.gap_label.setToolTip("The largest difference between the mini-batch losses of A and "
                                  "the run beside it, over every step kept")
        controls = self.control_row(self.selector, self.quantity_combo, self.view_combo,
                                    self.source_combo, labelled("beside A:", self.other_combo),
                                    self.smooth_check, right=[self.gap_label])

        self.accuracy_plot = make_plot("(a) Test accuracy", "step", "accuracy")
        self.accuracy_range = StickyRange(self.accuracy_plot, steps_x=True, fixed_y=(-0.1, 1.1),
                                          on_user_range=self.redraw)
        self.loss_plot = make_plot("Mini-batch loss", "step", "cross-entropy loss")
        self.loss_range = StickyRange(self.loss_plot, steps_x=True, on_user_range=self.redraw)
        self.acc_series, self.loss_series, self.pop_series = [], [], []
        for color in RUN_COLORS:
            self.acc_series.append(Series(self.accuracy_plot, add_curve(self.accuracy_plot, "", color, 2)))
            # Fig. 1 (a)'s inference network uses population statistics: dashed, BN runs only.
            pop = add_curve(self.accuracy_plot, "", color, 1)
            # Width 1: a stroked path, whose dashes run on across its points.
            pop.opts["pen"] = pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine)
            pop.setPen(pop.opts["pen"])
            self.pop_series.append(Series(self.accuracy_plot, pop))
            self.loss_series.append(Series(self.loss_plot, add_curve(self.loss_plot, "", color, 1)))
        self.band_plots, self.bands, self.band_ranges, self.hists = [], [], [], []
        for j in range(2):
            plot = make_plot("(b) Run A" if j == 0 else "(c) Run B", "step", "value", legend=False)
            self.band_plots.append(plot)
            self.bands.append(Band(plot, None, RUN_COLORS[j]))   # the title names the run
            color = pg.mkColor(RUN_COLORS[j])
            color.setAlpha(60)
            self.hists.append(add_curve(plot, None, RUN_COLORS[j], width=1.5, stepMode="center",
                                        fillLevel=0, brush=pg.mkBrush(color)))
            self.band_ranges.append(StickyRange(plot, steps_x=True, on_user_range=self.redraw))
        self._link_band_axes("y")
        for hist in self.hists:
            hist.setVisible(False)   # the bands are shown first
        for plot in (self.accuracy_plot, self.loss_plot, *self.band_plots):
            plot.setMinimumSize(150, 100)   # four plots: the dock must still fit under the others

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.accuracy_plot)
        top.addWidget(self.loss_plot)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        for plot in self.band_plots:
            bottom.addWidget(plot)
        rows = QSplitter(Qt.Orientation.Vertical)
        rows.addWidget(top)
        rows.addWidget(bottom)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addLayout(controls)
        body_layout.addWidget(rows, 1)
        self.off_label = message_label(OFF_MESSAGE)
        self.stack = QStackedLayout()
        self.stack.addWidget(self.off_label)
        self.stack.addWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.stack)
        self._legend_labels = None
        self.selector.selection_changed.connect(self._refit_and_redraw)
        self.quantity_combo.currentIndexChanged.connect(self._refit_and_redraw)
        self.other_combo.currentIndexChanged.connect(self._refit_and_redraw)
        self.view_combo.currentIndexChanged.connect(self._on_view_combo_changed)
        self.source_combo.currentIndexChanged.connect(self._refit_and_redraw)
        self.hist_bins = Bins()
        self.smooth_check.toggled.connect(self._refit_and_redraw)

    def absence(self, frame) -> str | None:
        if frame.others:
            return None
        return ("compare mode is off. Run › Compare with… (Ctrl+K) trains a second run beside "
                "this one, on the same mini-batches; the Lessons menu opens guided comparisons.")

    def plot_widgets(self) -> list:
        return [self.accuracy_plot, self.loss_plot, *self.band_plots]

    def sticky_ranges(self) -> list:
        return [self.accuracy_range, self.loss_range, *self.band_ranges]

    def is_comparing(self) -> bool:
        return self.stack.currentIndex() == 1

    # ------------------------------------------------------------ drawing
    def _draw(self, frame) -> None:
        runs = (frame, *frame.others)[:MAX_RUNS]
        if len(runs) < 2:
            self.stack.setCurrentIndex(0)
            return
        self.stack.setCurrentIndex(1)
        labels = [(r.label, r.config.has_running_stats()) for r in runs]
        if labels != self._legend_labels:
            self._set_runs(labels)
        cfg = frame.config
        self.selector.set_network(cfg)
        self._draw_curves(runs)
        other = runs[min(self.other_combo.currentIndex() + 1, len(runs) - 1)]
        if self.view_combo.currentData() == "bands":
            self._draw_bands((frame, other))
        else:
            self._draw_histograms((frame, other))
        self._draw_gap(frame, other)

    def _set_runs(self, runs) -> None:
        """Legends and the run chooser for runs [(label, has running statistics), ...]."""
        self._legend_labels = runs
        labels = [label for label, _ in runs]
        n = len(labels)
        # One key for every dashed curve (a legend row per run would crowd the plot).
        population = [(s.item, "population statistics")
                      for s, (_, bn) in zip(self.pop_series, runs) if bn][:1]
        set_legend(self.accuracy_plot, [(s.item, name) for s, name in zip(self.acc_series, labels)]
                   + population)
        for s, (_, bn) in zip(self.pop_series, runs):
            s.item.setVisible(bn)   # set_legend hides the dashed curves it does not list
        set_legend(self.loss_plot, [(s.item, name) for s, name in zip(self.loss_series, labels)])
        for j, s in enumerate(self.pop_series):
            if j >= n or not runs[j][1]:
                s.clear()   # without BN the population accuracy is the running one
        for series in (self.acc_series, self.loss_series):
            for s in series[n:]:
                s.clear()
        blocked = self.other_combo.blockSignals(True)
        current = max(self.other_combo.currentIndex(), 0)
        self.other_combo.clear()
        self.other_combo.addItems(labels[1:])
        self.other_combo.setCurrentIndex(min(current, n - 2))
        self.other_combo.blockSignals(blocked)

    def _draw_curves(self, runs) -> None:
        x_span = None
        for r in runs:
            steps = r.history.steps["step"]
            if len(steps):
                x_span = (float(steps[0]), float(steps[-1]))
        smooth = self.smooth_check.isChecked()
        pts, window = self.loss_range.points(), self.loss_range.window()
        key = tuple((len(r.history), r.step) for r in runs)
        if self._changed("loss", (key, x_span, smooth, pts, window)):
            for r, series in zip(runs, self.loss_series):
                st = r.history.steps
                loss = st["loss"]
                y = trailing_mean(loss, SMOOTH_STEPS, st["step"], st["step_count"]) if smooth else loss
                series.set_data(st["step"], y, pts, window, key=smooth, **history_rows(st, "loss"))
            self.loss_range.update(x=x_span, y=finite_bounds(
                *(s.bounds() or () for s in self.loss_series[:len(runs)])))
        self.accuracy_range.update(x=x_span)
        pts, window = self.accuracy_range.points(), self.accuracy_range.window()
        key = tuple(len(r.history.evals["step"]) for r in runs)
        if self._changed("accuracy", (key, pts, window)):
            for r, series, pop in zip(runs, self.acc_series, self.pop_series):
                evals = r.history.evals
                steps = evals["step"]
                series.set_data(steps, evals["test_accuracy"], pts, window)
                if r.config.has_running_stats():
                    pop.set_data(steps, evals["test_accuracy_population"], pts, window)
        # Running statistics only: a title wider than the plot would widen it past its view.
        text = ", ".join(f"{r.label.split(':')[0]} {r.evaluation.test_accuracy:.1%}"
                         for r in runs if r.evaluation)
        set_title(self.accuracy_plot, f"(a) Test accuracy ({text})" if text else "(a) Test accuracy",
                  live=True)

    def _draw_bands(self, pair) -> None:
        i, unit = self.selector.layer(), self.selector.unit()
        quantity = self.quantity_combo.currentData()
        source = self.source_combo.currentData()
        name = self.quantity_combo.currentText()
        bounds = []
        for j, (r, band, plot, sticky) in enumerate(zip(pair, self.bands, self.band_plots,
                                                        self.band_ranges)):
            h = r.history
            steps = h.summaries["step"]
            pct = h.layer(i, pct_key(quantity, True, source)) if i < len(r.config.layer_widths()) else None
            letter = "bc"[j]
            sel = self.selector
            set_title(plot, f"({letter}) {r.label}: {sel.name(i)}, {sel.unit_word()} {unit}, {name}<br>"
                            f"over {source_text(r.config, source, r.n_test)}")
            pts, window = sticky.points(), sticky.window()
            if pct is None or len(steps) == 0 or unit >= pct.shape[2]:
                band.clear()
                continue
            if self._changed(f"band{j}", (len(steps), steps[-1], i, unit, quantity, source, r.label,
                                          pts, window)):
                band.set_data(steps, h.unit(i, pct_key(quantity, True, source), unit), pts, window,
                              key=(i, unit, quantity, source, r.label),
                              first=h.summaries["step_first"], count=h.summaries["step_count"])
            bounds.extend(band.bounds())
            sticky.update(x=(float(steps[0]), float(steps[-1])))
        y = finite_bounds(*bounds)
        if y is not None:
            self.band_ranges[0].update(y=y)   # the other plot's y axis is linked

    def _draw_histograms(self, pair) -> None:
        """The whole layer's values at this step in both runs, on shared bins."""
        i = self.selector.layer()
        quantity = self.quantity_combo.currentData()
        records = [r.record for r in pair]
        if any(rec is None or i >= len(rec.layers) for rec in records):
            for h in self.hists:
                h.setData([], [])
            return
        if not self._changed("hists", (records[0].step, pair[1].label, i, quantity)):
            return
        values = []
        for rec in records:
            v = np.asarray(getattr(rec.layers[i], quantity), dtype=np.float64).ravel()
            values.append(v[np.isfinite(v)])
        lo_hi = finite_bounds(*values)
        if lo_hi is None:
            return
        edges = self.hist_bins.edges(*lo_hi, max(v.size for v in values))
        lo, hi = edges[0], edges[-1]
        top = 1.0
        for j, (v, hist, plot, r) in enumerate(zip(values, self.hists, self.band_plots, pair)):
            counts, _ = np.histogram(v, bins=edges)
            hist.setData(edges, counts.astype(np.float64))
            top = max(top, float(counts.max(initial=0)))
            name = self.quantity_combo.currentText()
            set_title(plot, f"({'bc'[j]}) {r.label}: {self.selector.name(i)}, {name}, step {records[j].step}"
                            "<br>in the training mini-batch", live=True)
        for plot in self.band_plots:
            plot.getPlotItem().getViewBox().setRange(xRange=(lo, hi), yRange=(0, top * 1.05), padding=0)

    def _on_view_combo_changed(self, _index: int) -> None:
        histograms = self.view_combo.currentData() == "histograms"
        for band, hist in zip(self.bands, self.hists):
            band.set_visible(not histograms)
            hist.setVisible(histograms)
        for plot in self.band_plots:
            plot.getPlotItem().setLabel("bottom", "value" if histograms else "step")
            plot.getPlotItem().setLabel("left", "count" if histograms else "value")
        # Bands share the value (y) axis; histograms the value (x) axis.
        self._link_band_axes("x" if histograms else "y")
        self._refit_and_redraw()

    def _link_band_axes(self, axis: str) -> None:
        a, b = (p.getPlotItem() for p in self.band_plots)
        b.setXLink(a if axis == "x" else None)
        b.setYLink(a if axis == "y" else None)

    def _draw_gap(self, a, b) -> None:
        sa, sb = a.history.steps, b.history.steps
        if not self._changed("gap", (len(sa["step"]), len(sb["step"]), a.step, b.label)):
            return   # a pass over every kept step: once per new step, not per frame
        # Rows that cover the same steps in both runs (their histories may
        # merge at different times: rows of different widths fill differently).
        j = np.searchsorted(sb["step"], sa["step"])
        j_ok = np.minimum(j, max(len(sb["step"]) - 1, 0))
        same = ((j < len(sb["step"])) & (sb["step"][j_ok] == sa["step"])
                & (sb["step_first"][j_ok] == sa["step_first"])) if len(sb["step"]) else j < 0
        if not same.any():
            self.gap_label.setText("")
            return
        with np.errstate(invalid="ignore"):
            gap = float(np.nanmax(np.abs(sa["loss"][same].astype(np.float64) - sb["loss"][j_ok[same]])))
        self.gap_label.setText(f"max |loss A − loss {b.label.split(':')[0]}| = {gap:.2g}")

    def _clear(self) -> None:
        for s in (*self.acc_series, *self.pop_series, *self.loss_series):
            s.clear()
        for band in self.bands:
            band.clear()
        for hist in self.hists:
            hist.setData([], [])
        for sticky in self.sticky_ranges():
            sticky.reset()
        self.gap_label.setText("")
