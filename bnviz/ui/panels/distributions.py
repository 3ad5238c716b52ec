"""DistributionsPanel: one layer's values before and after batch norm, now
(histograms) and over training (15th/50th/85th percentile bands)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import (QCheckBox, QGraphicsPathItem, QHBoxLayout, QLabel, QSplitter,
                               QVBoxLayout)

from .base import AFTER, BEFORE, NORMALIZED, Panel, add_curve, finite_or_nan, make_plot, orient, \
    set_legend, set_title
from .selectors import LayerUnitSelector

HIST_KEYS = ("before", "normalized", "after")
BAND_KEYS = ("pre", "act_in")
MAX_FILL_POINTS = 1000   # per edge of a band's filled polygon


def band_polygon(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A closed polygon around the band between ``lo`` and ``hi``, rows with
    a non-finite edge left out. Long series are reduced to per-block min of
    lo and max of hi, so the fill never hides an excursion."""
    ok = np.isfinite(lo) & np.isfinite(hi)
    x, lo, hi = x[ok], lo[ok], hi[ok]
    n = len(x)
    if n > MAX_FILL_POINTS:
        k = -(-n // MAX_FILL_POINTS)
        starts = np.arange(0, n, k)
        lo = np.minimum.reduceat(lo, starts)
        hi = np.maximum.reduceat(hi, starts)
        # Each block from its first step; the last one extended to the newest step.
        x, lo, hi = np.r_[x[starts], x[-1]], np.r_[lo, lo[-1]], np.r_[hi, hi[-1]]
    return np.r_[x, x[::-1]], np.r_[hi, lo[::-1]]


def _hist_sources(L):
    """[(key, values, legend name)] of the histograms for one LayerRecord."""
    if not L.has_bn:
        return [("before", L.pre, "z = activation input (no BN)")]
    before = "z (before BN)" if L.placement == "before" else "g(z) (before BN)"
    return [("before", L.bn_in, before), ("normalized", L.normalized, "x_hat (normalised)"),
            ("after", L.bn_out, "γ·x_hat + β (after BN)")]


def _band_names(has_bn: bool, placement: str) -> dict[str, str]:
    if has_bn and placement == "before":
        return {"pre": "z, before BN", "act_in": "activation input, after BN"}
    why = "BN comes after it" if has_bn else "no BN"
    return {"pre": f"z = activation input ({why})"}


class DistributionsPanel(Panel):
    """Histograms of pre / x_hat / bn_out for the chosen layer or unit, and
    percentile bands of pre and act_in over training (the BN paper's Fig. 1b,c)."""

    title = "Distributions"
    object_name = "distributions_panel"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selector = LayerUnitSelector(with_unit=True)
        self.unit_only_check = QCheckBox("Chosen unit only")
        self.unit_only_check.setToolTip(
            "Show only the chosen unit (checked) or every unit of the layer pooled (unchecked)")
        self.nonfinite_label = QLabel("")
        self.nonfinite_label.setStyleSheet("color: #b30000;")
        self.nonfinite_label.setToolTip("NaN or Inf values are left out of the histogram")
        controls = QHBoxLayout()
        controls.addWidget(self.selector)
        controls.addWidget(self.unit_only_check)
        controls.addStretch(1)
        controls.addWidget(self.nonfinite_label)

        self.hist_plot = make_plot("Values at this step", "value", "count")
        self.hist_curves = {}
        for key, color in zip(HIST_KEYS, (BEFORE, NORMALIZED, AFTER)):
            c = pg.mkColor(color)
            c.setAlpha(50)
            self.hist_curves[key] = self.hist_plot.plot(
                [], [], stepMode="center", fillLevel=0, brush=pg.mkBrush(c),
                pen=pg.mkPen(color, width=1.5), name=key)

        self.band_plot = make_plot("15th, 50th, 85th percentiles over training", "step", "value")
        self.band_curves: dict[str, tuple] = {}   # key -> (15th, 50th, 85th) curves
        self.band_fills: dict[str, QGraphicsPathItem] = {}
        for key, color in zip(BAND_KEYS, (BEFORE, AFTER)):
            lo = add_curve(self.band_plot, None, color, width=0.5)
            mid = add_curve(self.band_plot, key, color, width=2)
            hi = add_curve(self.band_plot, None, color, width=0.5)
            fill_color = pg.mkColor(color)
            fill_color.setAlpha(60)
            # A plain path item, not FillBetweenItem: that one rebuilds its
            # polygon from both full curves on each setData (~10 ms at 3000 steps).
            fill = QGraphicsPathItem()
            fill.setBrush(pg.mkBrush(fill_color))
            fill.setPen(pg.mkPen(None))
            fill.setZValue(-10)
            self.band_plot.addItem(fill, ignoreBounds=True)
            self.band_curves[key], self.band_fills[key] = (lo, mid, hi), fill

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.hist_plot)
        self.splitter.addWidget(self.band_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.splitter, 1)
        self._hist_names = self._band_names = None
        self.selector.selection_changed.connect(self._on_selector_changed)
        self.unit_only_check.toggled.connect(self._on_unit_only_toggled)

    def plot_widgets(self) -> list:
        return [self.hist_plot, self.band_plot]

    def resizeEvent(self, event) -> None:
        orient(self.splitter, event.size().width(), event.size().height(), wide=1.6)
        super().resizeEvent(event)

    def _on_selector_changed(self, layer: int, unit: int) -> None:
        self.redraw()

    def _on_unit_only_toggled(self, checked: bool) -> None:
        self.redraw()

    # ------------------------------------------------------------ drawing
    def _draw(self, frame) -> None:
        cfg = frame.config
        self.selector.set_layers(cfg.hidden, cfg.bn_layers(), cfg.bn_placement)
        i, unit = self.selector.layer(), self.selector.unit()
        unit_only = self.unit_only_check.isChecked()
        where = f"layer {i + 1}, unit {unit}" if unit_only else f"layer {i + 1}, all units"
        self._draw_histograms(frame, i, unit if unit_only else None, where)
        self._draw_bands(frame, i, unit if unit_only else None, where)

    def _draw_histograms(self, frame, i: int, unit: int | None, where: str) -> None:
        rec = frame.record
        if rec is None or i >= len(rec.layers):
            self._clear_histograms()
            return
        sources = _hist_sources(rec.layers[i])
        names = [(self.hist_curves[k], name) for k, _, name in sources]
        if names != self._hist_names:
            set_legend(self.hist_plot, names)
            self._hist_names = names
        values, n_bad = [], 0
        for key, a, _ in sources:
            v = np.asarray(a if unit is None else a[:, unit]).ravel()
            ok = np.isfinite(v)
            n_bad += v.size - int(ok.sum())
            values.append((key, v[ok]))
        finite = [v for _, v in values if v.size]
        if finite:
            lo = min(float(v.min()) for v in finite)
            hi = max(float(v.max()) for v in finite)
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5
            n_bins = int(np.clip(np.sqrt(max(v.size for v in finite)), 10, 80))
            edges = np.linspace(lo, hi, n_bins + 1)
        for key, v in values:
            if v.size:
                counts, _ = np.histogram(v, bins=edges)
                self.hist_curves[key].setData(edges, counts.astype(np.float64))
            else:
                self.hist_curves[key].setData([], [])
        set_title(self.hist_plot, f"Values at step {rec.step} ({where})")
        self.nonfinite_label.setText(
            "" if n_bad == 0 else f"{n_bad} non-finite value{'s' if n_bad != 1 else ''} not shown")

    def _draw_bands(self, frame, i: int, unit: int | None, where: str) -> None:
        cfg = frame.config
        if i >= len(cfg.hidden):
            self._clear_bands()
            return
        names = _band_names(cfg.bn_layers()[i], cfg.bn_placement)
        entries = [(self.band_curves[k][1], n) for k, n in names.items()]
        if entries != self._band_names:
            set_legend(self.band_plot, entries)
            for key in BAND_KEYS:
                for item in (*self.band_curves[key], self.band_fills[key]):
                    item.setVisible(key in names)
            self._band_names = entries
        h = frame.history
        steps = h.summaries["step"]
        for key in names:
            pct = h.layer(i, f"{key}_pct" if unit is None else f"{key}_unit_pct")
            if pct is None or len(steps) == 0:
                for c in self.band_curves[key]:
                    c.setData([], [])
                self.band_fills[key].setPath(QPainterPath())
                continue
            if unit is not None:
                pct = pct[:, :, unit]
            for q, c in enumerate(self.band_curves[key]):
                c.setData(steps, finite_or_nan(pct[:, q]))
            px, py = band_polygon(steps, pct[:, 0], pct[:, 2])
            path = pg.arrayToQPath(px, py, connect="all") if len(px) else QPainterPath()
            path.closeSubpath()
            self.band_fills[key].setPath(path)
        set_title(self.band_plot, f"15th, 50th, 85th percentiles over training ({where})")

    def _clear_histograms(self) -> None:
        for c in self.hist_curves.values():
            c.setData([], [])
        self.nonfinite_label.setText("")

    def _clear_bands(self) -> None:
        for key, curves in self.band_curves.items():
            for c in curves:
                c.setData([], [])
            self.band_fills[key].setPath(QPainterPath())

    def _clear(self) -> None:
        self._clear_histograms()
        self._clear_bands()
        set_title(self.hist_plot, "Values at this step")
        set_title(self.band_plot, "15th, 50th, 85th percentiles over training")
