"""DistributionsPanel: one layer's values before and after batch norm, now
(histograms) and over training (15th/50th/85th percentile bands)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QLabel, QSplitter, QVBoxLayout

from .band import Band, pct_key, source_combo, source_text
from .base import AFTER, BEFORE, NORMALIZED, Panel, StickyRange, add_curve, finite_bounds, \
    make_plot, set_legend, set_title
from .bins import Bins
from .selectors import SHORT_NORMS, LayerUnitSelector

HIST_KEYS = ("before", "normalized", "after")
BAND_KEYS = ("pre", "act_in")


def _hist_sources(L):
    """[(key, values, legend name)] of the histograms for one LayerRecord."""
    if not L.has_bn:
        return [("before", L.pre, "z = activation input (no BN)")]
    short = SHORT_NORMS.get(L.norm or "batch", "BN")
    before = f"z (before {short})" if L.placement == "before" else f"g(z) (before {short})"
    normalized = "x_hat·r + d (normalised, corrected)" if L.norm == "renorm" else "x_hat (normalised)"
    after = "γ·x_hat + β + noise" if L.norm == "noisy" else "γ·x_hat + β"
    return [("before", L.bn_in, before), ("normalized", L.normalized, normalized),
            ("after", L.bn_out, f"{after} (after {short})")]


def _band_names(has_bn: bool, placement: str, source: str, norm: str | None = None) -> dict[str, str]:
    where = " (probe)" if source == "probe" else " (mini-batch)"
    short = SHORT_NORMS.get(norm or "batch", "BN")
    if has_bn and placement == "before":
        return {"pre": f"z, before {short}" + where, "act_in": f"activation input, after {short}" + where}
    why = "BN comes after it" if has_bn else "no BN"
    return {"pre": f"z = activation input ({why})" + where}


class DistributionsPanel(Panel):
    """Histograms of pre / x_hat / bn_out for the chosen layer or unit, and
    percentile bands of pre and act_in over training (the BN paper's Fig. 1b,c)."""

    title = "Distributions"
    object_name = "distributions_panel"
    help_text = (
        "Top: histograms of one layer's values in this step's mini-batch, each on bins of its "
        "own: before BN, normalised x̂ = (x − μ<sub>B</sub>) / √(σ²<sub>B</sub> + ε) (a batch of "
        "2 gives x̂ ≈ ±1) and after BN, y = γ·x̂ + β. Below: the 15th, 50th and 85th "
        "percentiles over training of z and of the activation's input (the BN paper's "
        "Fig. 1b, c), over a fixed probe of test examples or each training mini-batch. With BN "
        "before the activation, normalised by the batch's own statistics, one unit's band is "
        "β + γ times the percentiles of its x̂. LayerNorm and GroupNorm take each example's "
        "μ and σ²; Renorm's x̂ becomes x̂·r + d; noisy BN adds noise after γ, β.")
    split_wide = 1.6

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selector = LayerUnitSelector(with_unit=True)
        self.unit_only_check = QCheckBox("Unit only")
        self.unit_only_check.setToolTip(
            "Show only the chosen unit (checked) or every unit of the layer pooled (unchecked)")
        self.nonfinite_label = QLabel("")
        self.nonfinite_label.setStyleSheet("color: #b30000;")
        self.nonfinite_label.setToolTip("NaN or Inf values are left out of the histogram")
        self.source_combo = source_combo()
        controls = self.control_row(self.selector, self.unit_only_check, self.source_combo,
                                    right=[self.nonfinite_label])

        self.hist_plot = make_plot("Values at this step", "value", "count")
        # The values' extremes jitter from step to step: the value axis is
        # kept fuller than the others, but shrinks only after about a second
        # of frames with data filling too little of it (one outlier does not
        # make it flap). On the Fig. 1 run: about three moves per hundred frames.
        self.hist_range = StickyRange(self.hist_plot, fill=0.5, patience=30)
        self.hist_curves = {}
        for key, color in zip(HIST_KEYS, (BEFORE, NORMALIZED, AFTER)):
            c = pg.mkColor(color)
            c.setAlpha(50)
            curve = add_curve(self.hist_plot, key, color, width=1.5, stepMode="center",
                              fillLevel=0, brush=pg.mkBrush(c))
            self.hist_curves[key] = curve

        self.band_plot = make_plot("15th, 50th, 85th percentiles over training", "step", "value")
        self.band_range = StickyRange(self.band_plot, steps_x=True, on_user_range=self.redraw)
        # Drawn through the plot's backdrop (all fills beneath all curves, as
        # the live items are): only the newest part of each is redrawn per frame.
        self.bands = {key: Band(self.band_plot, key, color)
                      for key, color in zip(BAND_KEYS, (BEFORE, AFTER))}
        self.band_curves = {key: band.curves for key, band in self.bands.items()}   # (15th, 50th, 85th)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.hist_plot)
        self.splitter.addWidget(self.band_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.splitter, 1)
        self._hist_names = self._band_names = None
        # Each histogram on bins of its own, fixed to the view: values spanning
        # little of it (x̂ of a batch of 2 is ±1 beside a wide z) keep their detail.
        self.hist_bins = {key: Bins() for key in HIST_KEYS}
        self.selector.selection_changed.connect(self._refit_and_redraw)
        self.unit_only_check.toggled.connect(self._refit_and_redraw)
        self.source_combo.currentIndexChanged.connect(self._refit_and_redraw)

    def plot_widgets(self) -> list:
        return [self.hist_plot, self.band_plot]

    def sticky_ranges(self) -> list:
        return [self.hist_range, self.band_range]

    # ------------------------------------------------------------ drawing
    def _draw(self, frame) -> None:
        cfg = frame.config
        self.selector.set_network(cfg)
        i, unit = self.selector.layer(), self.selector.unit()
        unit_only = self.unit_only_check.isChecked()
        sel = self.selector
        self.unit_only_check.setText(f"{sel.unit_word().capitalize()} only")
        where = f"{sel.name(i)}, " + (f"{sel.unit_word()} {unit}" if unit_only else f"all {sel.unit_word()}s")
        self._draw_histograms(frame, i, unit if unit_only else None, where)
        self._draw_bands(frame, i, unit if unit_only else None, where)

    def _draw_histograms(self, frame, i: int, unit: int | None, where: str) -> None:
        rec = frame.record
        if rec is None or i >= len(rec.layers):
            self._clear_histograms()
            return
        if not self._changed("histograms", (rec.step, rec.loss, i, unit)):
            return
        sources = _hist_sources(rec.layers[i])
        names = [(self.hist_curves[k], name) for k, _, name in sources]
        if names != self._hist_names:
            set_legend(self.hist_plot, names)
            self._hist_names = names
        values, n_bad = [], 0
        for key, a, _ in sources:
            v = np.asarray(a if unit is None else a[:, unit]).ravel()
            if v.size and not np.isfinite(v.min() + v.max()):   # else all finite: no copy
                ok = np.isfinite(v)
                n_bad += v.size - int(ok.sum())
                v = v[ok]
            values.append((key, v))
        finite = [v for _, v in values if v.size]
        edges = {}
        if finite:
            lo = min(float(v.min()) for v in finite)
            hi = max(float(v.max()) for v in finite)
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5
            self.hist_range.update(x=(lo, hi))
            view = self.hist_range.target[0] if self.hist_range.follow[0] else None
            for key, v in values:
                if v.size:
                    edges[key] = self.hist_bins[key].edges(float(v.min()), float(v.max()), v.size, view)
        top = 0.0
        for key, v in values:
            if v.size:
                edges_k = edges[key]
                # Equal bins given as a count and range: NumPy's fast path (no sort).
                counts, _ = np.histogram(v, bins=len(edges_k) - 1, range=(edges_k[0], edges_k[-1]))
                top = max(top, float(counts.max()))
                used = np.flatnonzero(counts)   # the empty bins either side left out
                a, b = used[0], used[-1] + 1
                self.hist_curves[key].setData(edges_k[a:b + 1], counts[a:b].astype(np.float64))
            else:
                self.hist_curves[key].setData([], [])
        if finite:
            self.hist_range.update(y=(0.0, top))
        set_title(self.hist_plot, f"Values at step {rec.step}, training mini-batch ({where})", live=True)
        self.nonfinite_label.setText(
            "" if n_bad == 0 else f"{n_bad} non-finite value{'s' if n_bad != 1 else ''} not shown")

    def _draw_bands(self, frame, i: int, unit: int | None, where: str) -> None:
        cfg = frame.config
        if i >= len(cfg.layer_widths()):
            self._clear_bands()
            return
        source = self.source_combo.currentData()
        names = _band_names(cfg.bn_layers()[i], cfg.bn_placement, source, cfg.norm)
        entries = [(self.band_curves[k][1], n) for k, n in names.items()]
        if entries != self._band_names:
            set_legend(self.band_plot, entries)
            for key in BAND_KEYS:
                self.bands[key].set_visible(key in names)
            self._band_names = entries
        h = frame.history
        steps = h.summaries["step"]
        pts, window = self.band_range.points(), self.band_range.window()
        x_span = (float(steps[0]), float(steps[-1])) if len(steps) else None
        if self._changed("bands", (len(steps), x_span, i, unit, tuple(names.values()), pts, window)):
            edges = []
            for key in names:
                name = pct_key(key, unit is not None, source)
                pct = h.layer(i, name) if unit is None else h.unit(i, name, unit)
                if pct is None or len(steps) == 0:
                    self._clear_bands(key)
                    continue
                self.bands[key].set_data(steps, pct, pts, window, key=(i, unit, source),
                                         first=h.summaries["step_first"],
                                         count=h.summaries["step_count"])
                edges.extend(self.bands[key].bounds())
            self.band_range.update(x=x_span, y=finite_bounds(*edges))
        set_title(self.band_plot, f"15th, 50th, 85th percentiles over training ({where})<br>"
                                  f"over {source_text(cfg, source, frame.n_test)}")

    def _clear_histograms(self) -> None:
        for c in self.hist_curves.values():
            c.setData([], [])
        self.nonfinite_label.setText("")

    def _clear_bands(self, *keys) -> None:
        for key in keys or BAND_KEYS:
            self.bands[key].clear()

    def _clear(self) -> None:
        self._clear_histograms()
        self._clear_bands()
        self.hist_range.reset()
        self.band_range.reset()
        for bins in self.hist_bins.values():
            bins.reset()
        set_title(self.hist_plot, "Values at this step")
        set_title(self.band_plot, "15th, 50th, 85th percentiles over training")
