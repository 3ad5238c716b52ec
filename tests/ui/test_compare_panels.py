"""The compare and gradients panels, fed frames of real lockstep runs."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from bnviz.engine.compare import Comparison
from bnviz.engine.config import RunConfig
from bnviz.engine.frame import frame_of
from bnviz.ui.panels import ComparePanel, GradientsPanel
from bnviz.ui.panels.compare import trailing_mean
from bnviz.ui.panels.gradients import LOG_FLOOR

BASE = RunConfig(dataset="digits", hidden=(16, 12), activation="sigmoid", batch_size=30,
                 optimizer="sgd", lr=0.1, seed=2)


def lockstep_frame(configs, labels, steps=40, chunks=4):
    cmp = Comparison.of(configs)
    for _ in range(chunks):
        cmp.step(steps // chunks)
        for t in cmp.runs:
            t.evaluate()
    others = tuple(frame_of(t, 1, boundary=None, label=lab) for t, lab in zip(cmp.runs[1:], labels[1:]))
    return cmp, frame_of(cmp.a, 1, label=labels[0], others=others)


@pytest.fixture(scope="module")
def pair():
    return lockstep_frame((BASE, BASE.replace(batchnorm=False)), ("A: with BN", "B: no BN"))


def shown(qtbot, cls, frame):
    panel = cls()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_frame(frame)
    return panel


def test_trailing_mean_matches_its_formula():
    y = np.array([1.0, 3.0, 5.0, np.nan, 7.0])
    out = trailing_mean(y, 2)
    np.testing.assert_allclose(out[:3], [1.0, 2.0, 4.0])
    assert np.isnan(out[3]) and out[4] == 7.0   # a NaN is left out of its neighbour's mean


def test_compare_panel_says_when_compare_mode_is_off(qtbot):
    cmp, frame = lockstep_frame((BASE,), ("",), steps=8, chunks=1)
    panel = shown(qtbot, ComparePanel, frame)
    assert not panel.is_comparing() and "Compare mode is off" in panel.off_label.text()


def test_compare_panel_overlays_both_runs_and_shows_their_bands(qtbot, pair):
    cmp, frame = pair
    panel = shown(qtbot, ComparePanel, frame)
    assert panel.is_comparing()
    legend = [label.text for _, label in panel.accuracy_plot.getPlotItem().legend.items]
    assert legend == ["A: with BN", "B: no BN", "population statistics"]
    for run, series in zip(cmp.runs, panel.acc_series):
        x, y = series.data()
        ev = run.history.snapshot().evals
        np.testing.assert_array_equal(x, ev["step"])
        np.testing.assert_allclose(y, ev["test_accuracy"])
    # Fig. 1 (a) with population statistics: dashed, for the BN run only.
    x, y = panel.pop_series[0].data()
    ev = cmp.a.history.snapshot().evals
    np.testing.assert_array_equal(x, ev["step"])
    np.testing.assert_allclose(y, ev["test_accuracy_population"])
    assert panel.pop_series[0].item.opts["pen"].style() == Qt.PenStyle.DashLine
    assert not panel.pop_series[1].item.isVisible()
    # (b, c): the last hidden layer and unit 0 of each run, the median curve, over the probe.
    assert panel.selector.layer() == 1 and panel.source_combo.currentData() == "probe"
    for source, key in (("probe", "L1.act_in_unit_probe_pct"), ("batch", "L1.act_in_unit_pct")):
        panel.source_combo.setCurrentIndex(panel.source_combo.findData(source))
        for run, band, plot in zip(cmp.runs, panel.bands, panel.band_plots):
            s = run.history.snapshot()
            x, y = band.series[1].data()
            np.testing.assert_array_equal(x, s.summaries["step"])
            np.testing.assert_allclose(y, s.summaries[key][:, 1, 0], rtol=1e-6)
            title = plot.getPlotItem().titleLabel.text
            assert ("over the probe of 360 test examples" if source == "probe"
                    else "over each step's training mini-batch") in title
        if source == "probe":
            titles = [plot.getPlotItem().titleLabel.text for plot in panel.band_plots]
            assert "normalised by its own batch statistics" in titles[0]
            assert "statistics" not in titles[1]   # no BN in B
    panel.source_combo.setCurrentIndex(0)
    # One value axis for both band plots.
    ya = panel.band_plots[0].getPlotItem().getViewBox().viewRange()[1]
    yb = panel.band_plots[1].getPlotItem().getViewBox().viewRange()[1]
    assert ya == pytest.approx(yb)
    la, lb = cmp.a.history.steps.snapshot()["loss"], cmp.b.history.steps.snapshot()["loss"]
    assert f"{np.max(np.abs(la.astype(float) - lb)):.2g}" in panel.gap_label.text()


def test_compare_panel_choice_of_second_run_and_unit(qtbot):
    cmp, frame = lockstep_frame((BASE, BASE.replace(batchnorm=False), BASE.replace(lr=0.3)),
                                ("A", "B", "C: lr 0.3"), steps=16, chunks=2)
    panel = shown(qtbot, ComparePanel, frame)
    assert [panel.other_combo.itemText(i) for i in range(panel.other_combo.count())] == ["B", "C: lr 0.3"]
    legend = [label.text for _, label in panel.accuracy_plot.getPlotItem().legend.items]
    assert legend == ["A", "B", "C: lr 0.3", "population statistics"]   # one key for all
    assert [s.item.isVisible() for s in panel.pop_series[:3]] == [True, False, True]   # BN runs
    panel.other_combo.setCurrentIndex(1)
    panel.selector.set_selection(0, 5)
    x, y = panel.bands[1].series[1].data()
    s = cmp.runs[2].history.snapshot()
    np.testing.assert_allclose(y, s.summaries["L0.act_in_unit_probe_pct"][:, 1, 5], rtol=1e-6)
    assert "C: lr 0.3" in panel.band_plots[1].getPlotItem().titleLabel.text


def test_gradients_panel_shows_the_bias_gradient_on_a_log_axis(qtbot):
    cfg = BASE.replace(keep_bias=True, dtype="float64")
    cmp, frame = lockstep_frame((cfg,), ("",), steps=20, chunks=2)
    panel = shown(qtbot, GradientsPanel, frame)
    panel.selector.set_selection(0)
    h = cmp.a.history.snapshot()
    x, y = panel.series["grad_norm_b"].data()
    np.testing.assert_array_equal(x, h.steps["step"])
    np.testing.assert_allclose(y, np.log10(np.maximum(h.steps["L0.grad_norm_b"], LOG_FLOOR)))
    x, y = panel.series["grad_norm_W"].data()
    np.testing.assert_allclose(y, np.log10(h.steps["L0.grad_norm_W"]))
    ratio = float(panel.ratio_label.text().split("=")[1])
    assert ratio < 1e-6   # the bias under BN gets (almost) no gradient
    legend = [label.text for _, label in panel.plot.getPlotItem().legend.items]
    assert any("bias" in t for t in legend) and len(legend) == 4


def test_gradients_panel_without_a_bias_lists_three_series(qtbot, pair):
    _, frame = pair
    panel = shown(qtbot, GradientsPanel, frame)
    legend = [label.text for _, label in panel.plot.getPlotItem().legend.items]
    assert len(legend) == 3 and panel.ratio_label.text() == ""


def test_compare_panel_histograms_of_both_runs_on_shared_bins(qtbot, pair):
    cmp, frame = pair
    panel = shown(qtbot, ComparePanel, frame)
    panel.view_combo.setCurrentIndex(1)
    assert all(h.isVisible() for h in panel.hists) and not panel.bands[0].median.isVisible()
    edges = []
    for run, hist in zip(cmp.runs, panel.hists):
        x, counts = hist.xData, hist.yData
        edges.append(x)
        values = np.asarray(run.record().layers[1].act_in, dtype=np.float64).ravel()
        np.testing.assert_array_equal(counts, np.histogram(values, bins=x)[0])
        assert counts.sum() == values.size
    np.testing.assert_array_equal(edges[0], edges[1])
    assert panel.band_plots[0].getPlotItem().getViewBox().viewRange()[0] == pytest.approx(
        panel.band_plots[1].getPlotItem().getViewBox().viewRange()[0])
    panel.view_combo.setCurrentIndex(0)
    assert panel.bands[0].median.isVisible() and not panel.hists[0].isVisible()
