"""The live plot panels, fed real frames from tiny runs and poisoned ones."""
from __future__ import annotations

import dataclasses
from types import MappingProxyType

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QComboBox, QSpinBox, QToolButton, QToolTip

from bnviz.engine.config import RunConfig
from bnviz.engine.frame import Frame, boundary_grid, frame_of
from bnviz.engine.history import HistorySnapshot
from bnviz.engine.trainer import Trainer
from bnviz.ui.panels import (ALL_PANELS, DecisionBoundaryPanel, DistributionsPanel,
                             GammaBetaPanel, GradientsPanel, LayerUnitSelector, RunningStatsPanel,
                             TrainingCurvesPanel)
from bnviz.ui.panels.base import Series, StickyRange, add_curve, backdrop, downsample, make_plot
from bnviz.ui.plotkit.ranges import nice_ceil, sticky_range

TOY = dict(dataset="moons", hidden=(8, 6), batch_size=16, n_samples=200)


def make_frame(cfg: RunConfig, steps: int = 20, chunks: int = 4) -> Frame:
    """A frame of a real run: ``steps`` steps, an evaluation after each chunk."""
    tr = Trainer(cfg)
    for _ in range(chunks):
        rec = tr.step(steps // chunks)
        tr.evaluate()
    return Frame(run_id=1, config=tr.config, record=rec, history=tr.history.snapshot(),
                 evaluation=tr.last_evaluation, boundary=boundary_grid(tr),
                 steps_per_second=0.0, n_classes=tr.data.n_classes,
                 steps_per_epoch=tr.steps_per_epoch, n_test=len(tr.y_test), meter_seconds=tr.meter_seconds)


@pytest.fixture(scope="module")
def frame() -> Frame:
    return make_frame(RunConfig(**TOY))


@pytest.fixture(scope="module")
def mixed_frame() -> Frame:
    """BN on layer 1 only, placed after the activation."""
    return make_frame(RunConfig(**TOY, batchnorm=(True, False), bn_placement="after",
                                unbiased_running_var=False, bn_momentum=None))


def poisoned(frame: Frame) -> Frame:
    """The frame with NaN and Inf in layer 1's values and in history rows."""
    L = frame.record.layers[0]
    pre = np.array(L.pre, dtype=np.float64)
    pre[0, 0], pre[1, 2], pre[3, 1] = np.nan, np.inf, -np.inf
    L = dataclasses.replace(L, pre=pre, bn_in=pre)  # BN before: bn_in is pre
    record = dataclasses.replace(frame.record, layers=(L, *frame.record.layers[1:]),
                                 loss=float("nan"))

    def spoil(store):
        out = {}
        for k, v in store.items():
            v = np.array(v)
            if k != "step" and v.dtype.kind == "f" and len(v) > 3:
                v[1], v[3] = np.nan, np.inf
            out[k] = v
        return MappingProxyType(out)

    h = frame.history
    history = HistorySnapshot(spoil(h.steps), spoil(h.summaries), spoil(h.evals), h.meters)
    b = frame.boundary
    probs = np.array(b.probs)
    probs[:5, :5] = np.nan
    boundary = dataclasses.replace(b, probs=probs)
    return dataclasses.replace(frame, record=record, history=history, boundary=boundary)


def shown(qtbot, panel_class):
    panel = panel_class()
    qtbot.addWidget(panel)
    panel.resize(700, 450)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def ydata(item) -> np.ndarray:
    return item.getOriginalDataset()[1]


def n_points(a) -> int:
    return 0 if a is None else len(a)


def assert_no_inf(panel) -> None:
    for w in panel.plot_widgets():
        for item in w.getPlotItem().listDataItems():
            x, y = item.getData() if hasattr(item, "getData") else (None, None)
            for a in (x, y):
                if a is not None and len(a):
                    assert not np.any(np.isinf(np.asarray(a, dtype=float)))


# ------------------------------------------------------------------ general
def test_all_panels_have_stable_ids_and_tooltips(qtbot):
    ids = [cls.object_name for cls in ALL_PANELS]
    assert len(set(ids)) == len(ALL_PANELS) and all(ids)
    for cls in ALL_PANELS:
        panel = cls()
        qtbot.addWidget(panel)
        assert panel.title and panel.objectName() == cls.object_name
        assert panel.plot_widgets()
        assert 100 < len(panel.help_text) < 700, cls   # two or three sentences
        assert panel.findChild(QToolButton, "help_button") is not None, cls
        controls = [w for t in (QAbstractButton, QComboBox, QSpinBox) for w in panel.findChildren(t)]
        for control in controls:
            assert control.toolTip(), control


def test_empty_frame_before_first_step(qtbot):
    tr = Trainer(RunConfig(**TOY))
    empty = Frame(run_id=1, config=tr.config, record=None, history=tr.history.snapshot(),
                  evaluation=None, boundary=boundary_grid(tr), steps_per_second=0.0,
                  n_classes=tr.data.n_classes, steps_per_epoch=tr.steps_per_epoch)
    for cls in ALL_PANELS:
        panel = shown(qtbot, cls)
        panel.set_frame(empty)  # nothing to plot yet: nothing raises
        panel.clear()


def test_hidden_panel_draws_when_shown(qtbot, frame):
    panel = TrainingCurvesPanel()
    qtbot.addWidget(panel)
    panel.set_frame(frame)
    assert n_points(ydata(panel.loss_curve)) == 0
    panel.show()
    qtbot.waitExposed(panel)
    assert len(ydata(panel.loss_curve)) == len(frame.history)


def test_selector_keeps_selection_and_adapts_unit_range(qtbot):
    sel = LayerUnitSelector()
    qtbot.addWidget(sel)
    assert sel.set_layers((100, 50), (True, False), "before")
    assert sel.layer_combo.itemText(0) == "Layer 1 (100 units, BN before)"
    assert sel.layer_combo.itemText(1) == "Layer 2 (50 units, no BN)"
    assert sel.layer() == 1 and sel.unit_spin.maximum() == 49  # last layer first
    with qtbot.waitSignal(sel.selection_changed) as blocker:
        sel.set_selection(0, 70)
    assert blocker.args == [0, 70]
    assert not sel.set_layers((100, 50), (True, False), "before")  # unchanged: no rebuild
    assert sel.set_layers((100, 50, 10), (True, True, True), "after")
    assert (sel.layer(), sel.unit()) == (0, 70)
    assert sel.layer_combo.itemText(2) == "Layer 3 (10 units, BN after)"
    with qtbot.waitSignal(sel.selection_changed) as blocker:
        sel.layer_combo.setCurrentIndex(2)
    assert blocker.args == [2, 9] and sel.unit_spin.maximum() == 9
    for w in (sel.layer_combo, sel.unit_spin):
        assert w.toolTip()


# ------------------------------------------------------------ distributions
def test_distributions_histograms_and_bands(qtbot, frame):
    panel = shown(qtbot, DistributionsPanel)
    panel.set_frame(frame)
    i = panel.selector.layer()
    L = frame.record.layers[i]
    b, d = L.pre.shape
    for key in ("before", "normalized", "after"):
        x, y = panel.hist_curves[key].getOriginalDataset()
        assert len(x) == len(y) + 1 and y.sum() == b * d
    # The bands over the probe by default, the training mini-batch the other choice.
    assert panel.source_combo.currentData() == "probe" and panel.source_combo.toolTip()
    np.testing.assert_allclose(ydata(panel.band_curves["pre"][0]),
                               frame.history.layer(i, "pre_probe_pct")[:, 0])
    np.testing.assert_allclose(ydata(panel.band_curves["act_in"][2]),
                               frame.history.layer(i, "act_in_probe_pct")[:, 2])
    title = panel.band_plot.getPlotItem().titleLabel.text
    assert "over the probe of 40 test examples, normalised by its own batch statistics" in title
    assert [n for _, n in panel._band_names] == ["z, before BN (probe)", "activation input, after BN (probe)"]
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("batch"))
    np.testing.assert_allclose(ydata(panel.band_curves["pre"][0]), frame.history.layer(i, "pre_pct")[:, 0])
    np.testing.assert_allclose(ydata(panel.band_curves["act_in"][2]),
                               frame.history.layer(i, "act_in_pct")[:, 2])
    assert "over each step's training mini-batch" in panel.band_plot.getPlotItem().titleLabel.text
    assert panel.nonfinite_label.text() == ""

    panel.selector.set_selection(0, 3)  # switching the layer updates the curves
    np.testing.assert_allclose(ydata(panel.band_curves["pre"][1]), frame.history.layer(0, "pre_pct")[:, 1])
    assert ydata(panel.hist_curves["before"]).sum() == frame.record.layers[0].pre.size

    panel.unit_only_check.setChecked(True)
    assert ydata(panel.hist_curves["after"]).sum() == b
    np.testing.assert_allclose(ydata(panel.band_curves["pre"][0]),
                               frame.history.layer(0, "pre_unit_pct")[:, 0, 3])
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("probe"))
    np.testing.assert_allclose(ydata(panel.band_curves["act_in"][1]),
                               frame.history.layer(0, "act_in_unit_probe_pct")[:, 1, 3])
    panel.clear()
    assert all(n_points(ydata(c)) == 0 for c in panel.hist_curves.values())
    assert n_points(ydata(panel.band_curves["pre"][1])) == 0


def test_distributions_x_hat_of_a_batch_of_2_on_its_own_bins(qtbot):
    """The small_batches lesson's point: with two examples x_hat is about -1
    or +1, drawn as two spikes, not one block beside the wide z."""
    from bnviz.engine.lessons import lesson
    tr = Trainer(lesson("small_batches").configs[0])   # batch 2
    tr.step(300)
    frame = frame_of(tr, 1, boundary=None)
    panel = shown(qtbot, DistributionsPanel)
    panel.set_frame(frame)
    x_hat = frame.record.layers[panel.selector.layer()].normalized
    assert np.mean(np.abs(np.abs(x_hat) - 1) < 0.01) > 0.95   # measured 0.97 at step 300
    for unit_only in (False, True):
        panel.unit_only_check.setChecked(unit_only)
        edges, counts = panel.hist_curves["normalized"].getOriginalDataset()
        assert counts.sum() == (x_hat[:, 0].size if unit_only else x_hat.size)
        minus, plus = (int(np.searchsorted(edges, v, side="right")) - 1 for v in (-1.0, 1.0))
        near = [int(np.searchsorted(edges, v, side="right")) - 1 for v in (-0.99, 0.99)]
        # -1 and +1 in bins of their own, with empty bins between them
        assert plus - minus >= 3 and counts[minus + 1:plus - 1].sum() <= 0.05 * counts.sum()
        spikes = counts[min(minus, near[0]):max(minus, near[0]) + 1].sum() \
            + counts[min(plus, near[1]):max(plus, near[1]) + 1].sum()
        assert spikes >= 0.95 * counts.sum(), (edges, counts)
        if not unit_only:   # z of all units is binned across its own, wider range: coarser bins
            z_edges, _ = panel.hist_curves["before"].getOriginalDataset()
            assert np.diff(z_edges)[0] > 2 * np.diff(edges)[0]


def test_distributions_without_bn_and_bn_after(qtbot, mixed_frame):
    panel = shown(qtbot, DistributionsPanel)
    panel.set_frame(mixed_frame)
    assert panel.selector.layer() == 1  # no BN
    assert panel.hist_curves["before"].isVisible() and not panel.hist_curves["after"].isVisible()
    assert ydata(panel.hist_curves["before"]).sum() == mixed_frame.record.layers[1].pre.size
    assert not panel.band_curves["act_in"][1].isVisible()
    panel.selector.set_selection(0, 0)  # BN after the activation: g(z) is "before BN"
    L = mixed_frame.record.layers[0]
    assert panel.hist_curves["after"].isVisible()
    assert ydata(panel.hist_curves["before"]).sum() == L.bn_in.size
    assert panel.hist_curves["before"].name() == "g(z) (before BN)"


def test_distributions_non_finite(qtbot, frame):
    panel = shown(qtbot, DistributionsPanel)
    panel.set_frame(poisoned(frame))
    panel.selector.set_selection(0, 0)
    x, y = panel.hist_curves["before"].getOriginalDataset()
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))
    assert y.sum() == frame.record.layers[0].pre.size - 3
    assert "3 non-finite" in panel.nonfinite_label.text()
    assert_no_inf(panel)
    panel.unit_only_check.setChecked(True)  # unit 0 holds one NaN
    assert "1 non-finite" in panel.nonfinite_label.text()


# --------------------------------------------------------------- gamma/beta
def test_gamma_beta_highlights_chosen_unit(qtbot, frame):
    panel = shown(qtbot, GammaBetaPanel)
    panel.set_frame(frame)
    panel.selector.set_selection(0, 5)
    h = frame.history
    np.testing.assert_allclose(ydata(panel.unit_curves["gamma"]), h.layer(0, "gamma")[:, 5])
    np.testing.assert_allclose(ydata(panel.unit_curves["beta"]), h.layer(0, "beta")[:, 5])
    x, y = panel.all_curves["gamma"].getData()
    assert len(y) == 8 * (len(h) + 1)  # one NaN-separated polyline for all 8 units
    panel.selector.set_selection(1, 2)
    np.testing.assert_allclose(ydata(panel.unit_curves["gamma"]), h.layer(1, "gamma")[:, 2])
    panel.clear()
    assert n_points(panel.all_curves["gamma"].getData()[1]) == 0


def test_gamma_beta_message_without_bn_and_non_finite(qtbot, frame, mixed_frame):
    panel = shown(qtbot, GammaBetaPanel)
    panel.set_frame(mixed_frame)
    assert panel.stack.currentWidget() is panel.message
    assert panel.message.text() == "Layer 2 has no batch norm: nothing to learn here"
    panel.selector.set_selection(0, 0)
    assert panel.stack.currentIndex() == 0
    panel.set_frame(poisoned(frame))
    assert_no_inf(panel)


# ----------------------------------------------------------- running stats
def test_running_stats_curves(qtbot, frame):
    panel = shown(qtbot, RunningStatsPanel)
    panel.set_frame(frame)
    panel.selector.set_selection(1, 4)
    h = frame.history
    np.testing.assert_allclose(ydata(panel.running_curves["mean"]), h.layer(1, "running_mean")[:, 4])
    np.testing.assert_allclose(ydata(panel.running_curves["var"]), h.layer(1, "running_var")[:, 4])
    np.testing.assert_allclose(ydata(panel.batch_curves["var"]), h.layer(1, "batch_var")[:, 4])
    pop = h.evals["L1.population_var"][:, 4]
    np.testing.assert_allclose(panel.population_points["var"].getData()[1], pop)
    assert "m = 0.1" in panel.caption.text() and "β = 0.9" in panel.caption.text()
    assert "unbiased" in panel.running_curves["var"].name()
    panel.clear()
    assert n_points(ydata(panel.running_curves["mean"])) == 0


def test_running_stats_cumulative_biased_and_poisoned(qtbot, frame, mixed_frame):
    panel = shown(qtbot, RunningStatsPanel)
    panel.set_frame(mixed_frame)
    assert panel.stack.currentWidget() is panel.message
    panel.selector.set_selection(0, 0)
    assert "cumulative" in panel.caption.text()
    assert "biased" in panel.running_curves["var"].name()
    assert "unbiased" not in panel.running_curves["var"].name()
    panel.set_frame(poisoned(frame))
    assert_no_inf(panel)


# ---------------------------------------------------------- training curves
def test_training_curves(qtbot, frame):
    panel = shown(qtbot, TrainingCurvesPanel)
    panel.set_frame(frame)
    h = frame.history
    assert len(ydata(panel.loss_curve)) == len(h) == 20
    for key, curve in panel.accuracy_curves.items():
        np.testing.assert_allclose(ydata(curve), h.evals[key])
    assert len(ydata(panel.accuracy_curves["test_accuracy_population"])) == 4
    panel.log_check.setChecked(True)
    assert len(ydata(panel.loss_curve)) == 20
    panel.set_frame(poisoned(frame))
    assert_no_inf(panel)
    panel.clear()
    assert n_points(ydata(panel.loss_curve)) == 0


# -------------------------------------------------------- decision boundary
def test_decision_boundary(qtbot, frame):
    panel = shown(qtbot, DecisionBoundaryPanel)
    panel.set_frame(frame)
    b = frame.boundary
    h, w = len(b.ys), len(b.xs)
    assert panel.image.image.shape[:2] == (h, w)
    assert len(panel.scatter.data) == len(b.points)
    rect = panel.image.mapRectToParent(panel.image.boundingRect())
    assert rect.left() < b.xs[0] < b.xs[-1] < rect.right()
    # The boundary fills its plot, wide or tall: the view is the grid's extent
    # and a small margin, not a square of it in wide empty axes.
    for size in ((900, 300), (300, 700)):
        panel.resize(*size)
        qtbot.waitUntil(lambda: panel.size().toTuple() == size, timeout=2000)
        panel.set_frame(frame)
        (x0, x1), (y0, y1) = panel.plot.getPlotItem().getViewBox().viewRange()
        assert x1 - x0 < 1.2 * rect.width() and y1 - y0 < 1.2 * rect.height(), size
        assert x0 <= rect.left() and rect.right() <= x1 and y0 <= rect.top() and rect.bottom() <= y1
    panel.set_frame(poisoned(frame))
    assert panel.image.image.shape[:2] == (h, w)
    panel.clear()
    assert panel.image.image is None and len(panel.scatter.data) == 0


def test_decision_boundary_message_for_many_features(qtbot):
    f = make_frame(RunConfig(dataset="digits", hidden=(10,), batch_size=32), steps=4, chunks=1)
    assert f.boundary is None
    panel = shown(qtbot, DecisionBoundaryPanel)
    panel.set_frame(f)
    assert panel.stack.currentWidget() is panel.message
    assert "2-D data sets" in panel.message.text()
    for cls in (DistributionsPanel, GammaBetaPanel, RunningStatsPanel, TrainingCurvesPanel):
        shown(qtbot, cls).set_frame(f)  # one hidden layer of 10: nothing raises


# ------------------------------------------------------- cheap live drawing
def test_sticky_range_moves_only_when_it_must():
    # First fit: the data with a margin.
    lo, hi = sticky_range(None, 0.0, 1.0)
    assert lo < 0.0 and hi > 1.0 and hi - lo < 1.2
    view = (lo, hi)
    # Small changes inside the range (and filling enough of it): stay put.
    assert sticky_range(view, 0.05, 0.95) is None
    assert sticky_range(view, 0.0, 1.0) is None
    # Data leaving the range: expand, with room beyond the side it outgrew;
    # the side it did not outgrow stays.
    grown = sticky_range(view, 0.0, 1.5)
    assert grown[1] > 1.5 and grown[0] == view[0]
    assert sticky_range(grown, 0.0, 1.55) is None   # the drift goes on: no move yet
    low = sticky_range(view, -1.0, 1.0)
    assert low[0] < -1.0 and low[1] == view[1]
    # Data filling less than 40% of the range: shrink to fit it.
    shrunk = sticky_range(view, 0.4, 0.6)
    assert shrunk[0] < 0.4 < 0.6 < shrunk[1] and shrunk[1] - shrunk[0] < 0.3
    assert sticky_range(view, 0.3, 0.75) is None   # 45%: still fills enough
    # No room below zero for data that never goes below it (a loss).
    assert sticky_range((0.5, 2.5), 0.1, 2.4)[0] > -0.2
    # Constant data gets a range of its own scale; non-finite data moves nothing.
    c0, c1 = sticky_range(None, 1.0, 1.0)
    assert c0 < 1.0 < c1 and c1 - c0 < 0.01
    assert sticky_range(view, float("nan"), 1.0) is None
    assert sticky_range(view, 0.0, float("inf")) is None


def test_sticky_range_of_steps_ends_on_round_numbers():
    lo, hi = sticky_range(None, 1, 4321, steps=True)
    assert lo < 0 < 4321 < hi == 5000
    assert sticky_range((lo, hi), 1, 4900, steps=True) is None
    assert sticky_range((lo, hi), 1, 5001, steps=True)[1] == 7000
    assert sticky_range((lo, hi), 1, 30, steps=True)[1] == 30   # a new run: shrink
    assert [nice_ceil(v) for v in (0.7, 1, 1.1, 13, 2100, 9000)] == [0.7, 1, 1.5, 15, 3000, 10000]


def test_sticky_range_on_a_plot_and_the_user_taking_over(qtbot):
    plot = make_plot("t", "step", "y")
    qtbot.addWidget(plot)
    plot.resize(400, 300)
    plot.show()
    qtbot.waitExposed(plot)
    sticky = StickyRange(plot, steps_x=True)
    vb = plot.getPlotItem().getViewBox()
    assert sticky.update(x=(1, 65), y=(0.0, 1.0))
    first = [list(r) for r in vb.viewRange()]
    assert first[0][1] == 70 and first[1][0] < 0 < 1 < first[1][1]
    assert not sticky.update(x=(1, 69), y=(0.1, 0.9))   # small changes: no move
    assert [list(r) for r in vb.viewRange()] == first
    assert sticky.update(x=(1, 71), y=(0.0, 1.0))         # past the round number
    assert vb.viewRange()[0][1] == 100
    # The user pans: that axis stays where the user left it.
    vb.translateBy(x=10)
    vb.sigRangeChangedManually.emit([True, False])
    moved = list(vb.viewRange()[0])
    assert sticky.window() == tuple(moved)
    sticky.update(x=(1, 500), y=(0.0, 1.0))
    assert list(vb.viewRange()[0]) == moved
    # The "A" button turns pyqtgraph's autorange on: the data takes the view back.
    vb.enableAutoRange()
    sticky.update(x=(1, 500), y=(0.0, 1.0))
    assert vb.viewRange()[0][1] == 500 and sticky.window() is None
    assert vb.autoRangeEnabled() == [False, False]


def test_sticky_range_patience_waits_before_shrinking(qtbot):
    plot = make_plot("t", "x", "y")
    qtbot.addWidget(plot)
    sticky = StickyRange(plot, patience=3)
    sticky.update(x=(-5.0, 5.0))
    wide = sticky.target[0]
    assert not sticky.update(x=(-1.0, 1.0)) and not sticky.update(x=(-1.0, 1.0))
    assert sticky.update(x=(-1.0, 1.0)) and sticky.target[0][1] < wide[1]
    assert sticky.update(x=(-3.0, 3.0))   # growing never waits


def test_downsample_by_step_keeps_means_envelopes_and_buckets():
    from bnviz.ui.plotkit.downsampling import reduce_steps
    rng = np.random.default_rng(0)
    x = np.arange(1, 10_001)
    y = rng.normal(size=10_000)
    y[5000:5100] = np.nan      # a gap
    y[7] = np.inf
    xs, ys = downsample(x, y, 1000)
    assert len(xs) <= 501 and np.all(np.diff(xs) > 0)
    assert not np.any(np.isinf(ys)) and np.isnan(ys).any()   # Inf dropped, the gap kept
    # Buckets of 32 steps (the power of two that fits 500), aligned to step 1:
    # each point is the mean of its steps' finite values, at their middle.
    k = 32
    np.testing.assert_allclose(xs[:3], [16.5, 48.5, 80.5])
    fin = np.where(np.isfinite(y), y, np.nan)
    np.testing.assert_allclose(ys[1], fin[32:64].mean())
    np.testing.assert_allclose(ys[0], np.nanmean(fin[0:32]))   # y[7] = Inf left out
    _, _, lo, hi = reduce_steps(x, y, k)
    np.testing.assert_array_equal(lo[1:3], [fin[32:64].min(), fin[64:96].min()])
    np.testing.assert_array_equal(hi[1:3], [fin[32:64].max(), fin[64:96].max()])
    # Growing by a few rows keeps all the old buckets (no shimmer).
    xs2, ys2 = downsample(np.arange(1, 10_051), np.r_[y, rng.normal(size=50)], 1000)
    n = len(xs) - 2
    np.testing.assert_array_equal(xs2[:n], xs[:n])
    np.testing.assert_array_equal(ys2[:n], ys[:n])
    # Uneven rows (a merged history) give the buckets that every step gives.
    merged_first = np.r_[1, np.arange(9, 10_001, 8)[:-1] + 0]
    rows_last = np.r_[np.arange(8, 9_001, 8), np.arange(9_001, 10_001)]
    rows_first = np.r_[np.arange(1, 9_001, 8), np.arange(9_001, 10_001)]
    count = rows_last - rows_first + 1
    fy = np.nan_to_num(fin, nan=0.0)
    means = np.array([fy[a - 1:b].mean() for a, b in zip(rows_first, rows_last)])
    mx, my = downsample(rows_last, means, 1000, first=rows_first, count=count)
    ex, ey = downsample(x, fy, 1000)
    np.testing.assert_allclose(mx, ex)
    np.testing.assert_allclose(my, ey, rtol=1e-12, atol=1e-12)
    del merged_first
    # Short series are kept whole; a window keeps only the rows in it.
    np.testing.assert_array_equal(downsample(x[:50], y[:50], 1000)[0], x[:50])
    xw, _ = downsample(x, y, 1000, window=(2000, 2100))
    assert xw.min() < 2000 <= 2100 < xw.max() < 2200 and len(xw) <= 103
    # State keeps the value at each bucket's last step.
    sx, sy = downsample(x, np.arange(1.0, 10_001.0), 1000, mode="last")
    np.testing.assert_array_equal(sx, sy)
    assert sx[0] == 32 and sx[-1] == 10_000


def test_series_settles_into_the_backdrop(qtbot):
    plot = make_plot("t", "step", "y")
    qtbot.addWidget(plot)
    plot.resize(500, 300)
    plot.show()
    qtbot.waitExposed(plot)
    curve = add_curve(plot, "s", "#000", width=2)
    series = Series(plot, curve)
    rng = np.random.default_rng(1)
    y = rng.normal(size=6000)
    pts = 600
    for n in (3000, 3100, 3350, 6000):   # a growing series, frame by frame
        series.set_data(np.arange(1, n + 1), y[:n], pts)
        x_all, y_all = series.data()
        np.testing.assert_array_equal(x_all, downsample(np.arange(1, n + 1), y[:n], pts)[0])
        np.testing.assert_allclose(y_all, downsample(np.arange(1, n + 1), y[:n], pts)[1], rtol=1e-12)
        assert len(curve.getData()[0]) < 60   # only the newest blocks are live
        assert np.array_equal(curve.getOriginalDataset()[1], y_all)
    marks = backdrop(plot)._owners[id(series)][1]
    assert len(marks) >= 1
    lo, hi = series.bounds()
    assert y.min() <= lo < hi <= y.max()   # the bucket means
    series.clear()
    assert len(series.data()[0]) == 0 and not backdrop(plot)._owners[id(series)][1]


def test_plots_export_as_vectors(qtbot, tmp_path):
    """The backdrop is a pixmap on screen only: in an SVG, grid and curves
    stay vectors."""
    from PySide6.QtCore import QRect, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    panel = shown(qtbot, TrainingCurvesPanel)
    panel.set_frame(make_frame(RunConfig(**TOY), steps=600, chunks=3))
    plot = panel.loss_plot
    gen = QSvgGenerator()
    gen.setFileName(str(tmp_path / "plot.svg"))
    gen.setSize(QSize(plot.width(), plot.height()))
    gen.setViewBox(QRect(0, 0, plot.width(), plot.height()))
    gen.setResolution(plot.logicalDpiX())
    painter = QPainter(gen)
    plot.render(painter)
    painter.end()
    svg = (tmp_path / "plot.svg").read_text()
    assert "<image" not in svg                                   # no raster
    assert svg.count("<polyline") > 10 and svg.count("<rect") > 10   # curves, grid


@pytest.fixture(scope="module")
def long_frame() -> Frame:
    """Long enough that series are downsampled and partly settled."""
    return make_frame(RunConfig(**TOY), steps=1600, chunks=8)


def test_long_series_are_downsampled_with_real_values(qtbot, long_frame):
    h = long_frame.history
    steps = h.steps["step"]
    panel = shown(qtbot, TrainingCurvesPanel)
    panel.set_frame(long_frame)
    pts = panel.loss_range.points()
    x, y = panel.loss_curve.getOriginalDataset()
    ex, ey = downsample(steps, h.steps["loss"], pts)
    assert len(ex) < len(steps) or len(steps) <= pts
    np.testing.assert_allclose(x, ex)
    np.testing.assert_allclose(y, ey)
    assert len(panel.loss_curve.getData()[0]) < len(x)   # only a tail is live

    panel = shown(qtbot, RunningStatsPanel)
    panel.set_frame(long_frame)
    panel.selector.set_selection(1, 2)
    pts = panel.ranges["var"].points()
    ex, ey = downsample(steps, h.layer(1, "running_var")[:, 2], pts, mode="last")   # state
    np.testing.assert_allclose(panel.running_curves["var"].getOriginalDataset()[1], ey)
    ex, ey = downsample(steps, h.layer(1, "batch_var")[:, 2], pts)   # noisy: bucket means
    np.testing.assert_allclose(panel.batch_curves["var"].getOriginalDataset()[1], ey, rtol=1e-6)

    panel = shown(qtbot, DistributionsPanel)
    panel.set_frame(long_frame)
    i = panel.selector.layer()
    pts = panel.band_range.points()
    ex, ey = downsample(h.summaries["step"], h.layer(i, "pre_probe_pct")[:, 1], pts)
    np.testing.assert_allclose(ydata(panel.band_curves["pre"][1]), ey)

    for cls in ALL_PANELS:   # and poisoned, long: nothing raises, no Inf drawn
        panel = shown(qtbot, cls)
        panel.set_frame(poisoned(long_frame))
        assert_no_inf(panel)


def test_panels_are_freed_without_the_garbage_collector(qtbot, frame):
    """No reference cycle may hold a panel: the collector would delete its Qt
    objects in any order, which crashes (seen with back references)."""
    import gc
    import weakref

    gc.disable()
    try:
        for cls in ALL_PANELS:
            panel = cls()
            panel.resize(700, 450)
            panel.show()
            qtbot.waitExposed(panel)
            panel.set_frame(frame)
            refs = [weakref.ref(panel)] + [weakref.ref(w.getPlotItem())
                                           for w in panel.plot_widgets()]
            panel.close()
            del panel
            assert all(ref() is None for ref in refs), cls.__name__
    finally:
        gc.enable()


def test_help_button_shows_what_the_panel_plots(qtbot):
    for cls in ALL_PANELS:
        panel = shown(qtbot, cls)
        button = panel.findChild(QToolButton, "help_button")
        qtbot.mouseClick(button, Qt.LeftButton)
        qtbot.waitUntil(QToolTip.isVisible, timeout=2000)
        assert panel.title in QToolTip.text() and panel.help_text[:40] in QToolTip.text()
        QToolTip.hideText()


def test_legends_stay_visible_and_the_plot_keeps_room_for_them(qtbot):
    from bnviz.ui.panels.base import LEGEND_ROW_HEIGHT, PLOT_MIN_HEIGHT, fit_legend
    plot = make_plot("t", "x", "y")
    for i in range(6):
        add_curve(plot, f"a long curve name {i}", "#000")
    qtbot.addWidget(plot)
    plot.show()
    legend = plot.getPlotItem().legend
    for width in (900, 260):
        plot.resize(width, 120)
        qtbot.waitUntil(lambda: plot.width() == width, timeout=2000)
        fit_legend(plot)
        rows = -(-len(legend.items) // legend.columnCount)
        assert legend.isVisible()
        assert plot.minimumHeight() == PLOT_MIN_HEIGHT + rows * LEGEND_ROW_HEIGHT
        if width == 900:
            assert legend.columnCount >= 3
        else:
            assert legend.columnCount == 1 and rows == 6


def test_trailing_mean_by_step_weighs_merged_rows():
    from bnviz.ui.plotkit.downsampling import trailing_mean
    rng = np.random.default_rng(2)
    y = rng.normal(size=4000)
    steps = np.arange(1, 4001)
    want = trailing_mean(y, 25)
    np.testing.assert_allclose(trailing_mean(y, 25, steps, np.ones(4000)), want)
    # The first 3000 steps merged in rows of 8: a row's mean of the last 24
    # steps (3 rows, the window's steps are whole rows) equals every step's.
    first3k = y[:3000].reshape(-1, 8)
    my = np.r_[first3k.mean(axis=1), y[3000:]]
    mstep = np.r_[np.arange(8, 3001, 8), np.arange(3001, 4001)]
    mcount = np.r_[np.full(375, 8), np.ones(1000)]
    got = trailing_mean(my, 24, mstep, mcount)
    np.testing.assert_allclose(got[:375][3:], trailing_mean(y, 24)[7:3000:8][3:], rtol=1e-10)
    np.testing.assert_allclose(got[-900:], trailing_mean(y, 24)[-900:], rtol=1e-10)


def test_a_settled_line_after_a_band_is_not_filled(qtbot):
    """The backdrop draws a band (a brush) and then a polyline: the line
    must not take the band's brush (it once filled the chord of a falling
    loss curve, a large false triangle)."""
    import pyqtgraph as pg
    from PySide6.QtGui import QColor, QImage, QPainter

    from bnviz.ui.plotkit.backdrop import Mark
    from bnviz.ui.plotkit.downsampling import band_path
    img = QImage(100, 100, QImage.Format.Format_RGB32)
    img.fill(QColor("white"))
    painter = QPainter(img)
    band = Mark(path=band_path(np.array([0.0, 10.0]), np.array([0.0, 0.0]), np.array([5.0, 5.0])),
                brush=pg.mkBrush("#cccccc"))
    line = Mark(np.array([10.0, 10.0, 90.0]), np.array([10.0, 90.0, 90.0]), pen=pg.mkPen("#000", width=1))
    band.draw(painter)
    line.draw(painter)
    painter.end()
    assert img.pixelColor(30, 70) == QColor("white")   # between the L and its chord
    assert img.pixelColor(3, 3) != QColor("white")     # the band itself is drawn


@pytest.mark.parametrize("cls", [TrainingCurvesPanel, RunningStatsPanel, GammaBetaPanel, GradientsPanel])
def test_log_steps_draws_log10_of_the_step(qtbot, long_frame, cls):
    panel = shown(qtbot, cls)
    panel.set_frame(long_frame)
    curve = {TrainingCurvesPanel: lambda p: p.loss_curve,
             RunningStatsPanel: lambda p: p.batch_curves["mean"],
             GammaBetaPanel: lambda p: p.unit_curves["gamma"],
             GradientsPanel: lambda p: p.curves["grad_norm_W"]}[cls](panel)
    linear = curve.getOriginalDataset()[0]
    panel.log_steps.setChecked(True)
    logx = curve.getOriginalDataset()[0]
    assert np.nanmax(logx) == pytest.approx(np.log10(linear.max()), abs=0.01)
    assert np.nanmin(logx) < 1.0 < np.nanmax(logx)   # the first steps spread over a decade
    panel.log_steps.setChecked(False)
    np.testing.assert_allclose(curve.getOriginalDataset()[0], linear)


def test_a_title_longer_than_its_plot_never_widens_it(qtbot):
    """pyqtgraph sets a title's minimum width to its text's at every resize;
    a plot narrower than its title then grew past its widget, cut off."""
    from bnviz.ui.panels.base import make_plot, set_title
    plot = make_plot("", "step", "value")
    qtbot.addWidget(plot)
    plot.resize(300, 200)
    plot.show()
    qtbot.waitExposed(plot)
    set_title(plot, "A long title " * 12 + "<br>and a second line")
    plot.resize(280, 200)
    qtbot.waitUntil(lambda: plot.getPlotItem().width() <= 280)
    assert plot.getPlotItem().titleLabel.minimumWidth() == 0
