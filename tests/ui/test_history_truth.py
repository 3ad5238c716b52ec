"""Truth at any run length: on a 50,000-step run, the curves drawn from the
bounded history agree with those drawn from every step, at the plot's own
resolution. Per pixel column: the drawn value within 2 % of the series'
range of the reference's, and a noisy series' envelope containing every
reference value of that column. (The old store, thinning its older half
again and again, kept 1 row in 128 of the first steps; these columns then
had no row at all.)"""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine import RunConfig, Trainer
from bnviz.engine.frame import frame_of
from bnviz.engine.history import series_kind
from bnviz.engine.store import SeriesStore
from bnviz.ui.panels import TrainingCurvesPanel
from bnviz.ui.plotkit.downsampling import bucket_width, reduce_steps

STEPS = 50_000
COLUMNS = 800   # the plot's width in pixels: one bucket per column
# One small BN layer: 50,000 steps in seconds.
CFG = RunConfig(dataset="digits", hidden=(12,), activation="tanh", batchnorm=True,
                optimizer="sgd", lr=0.05, batch_size=16, seed=3)
SERIES = (("loss", None), ("L0.gamma", 5), ("L0.running_mean", 2), ("L0.batch_var", 7))


@pytest.fixture(scope="module")
def run():
    """The run with a history that keeps every step (the reference), and the
    same rows fed to a small store that has to merge them many times."""
    tr = Trainer(CFG, history_budget=2**30, summary_every=STEPS)
    tr.advance(STEPS)
    full = tr.history.snapshot().steps
    assert len(full["step"]) == STEPS and full["step_count"].max() == 1
    src = tr.history.steps
    small = SeriesStore(src.shapes, budget_bytes=2 * 2**20, dtypes=src.dtypes, kinds=src.kinds)
    cols = list(src.shapes)
    for j in range(STEPS):
        small.append({k: full[k][j] for k in cols})
    return tr, full, small


def pick(a, unit):
    return a if unit is None else a[:, unit]


@pytest.mark.parametrize("key,unit", SERIES)
def test_drawn_curves_agree_with_every_step(run, key, unit):
    _, full, small = run
    view = small.snapshot()
    assert small.stride >= 8, "the store merged rows several times over"
    assert len(view["step"]) < STEPS / 5
    k = bucket_width(view["step"], COLUMNS, view["step_first"])
    assert k >= small.stride and k == bucket_width(full["step"], COLUMNS)
    mode = "last" if series_kind(key) == "last" else "mean"
    merged = {"first": view["step_first"], "count": view["step_count"], "mode": mode}
    if mode == "mean":
        merged.update(lo=pick(view[key + ".min"], unit), hi=pick(view[key + ".max"], unit))
    xs, ys, lo, hi = reduce_steps(view["step"], pick(view[key], unit), k, **merged)
    ref = pick(full[key], unit).astype(np.float64)
    rx, ry, rlo, rhi = reduce_steps(full["step"], ref, k, mode=mode)
    np.testing.assert_array_equal(xs, rx)              # the same columns, every one of them
    assert len(xs) >= COLUMNS * 0.7
    span = float(ref.max() - ref.min())
    assert span > 0
    assert np.max(np.abs(ys - ry)) <= 0.02 * span
    if mode == "mean":
        assert np.all(lo <= rlo) and np.all(hi >= rhi)  # every step's value inside the band
        np.testing.assert_allclose(lo, rlo)
        np.testing.assert_allclose(hi, rhi)


def test_panel_draws_what_every_step_draws(qtbot, run):
    """Through the panel: the loss curve drawn from the merged history is the
    one drawn from all 50,000 steps."""
    tr, full, small = run
    frame = frame_of(tr, boundary=None)
    merged_frame = type(frame)(**{**frame.__dict__,
                                  "history": type(frame.history)(small.snapshot(), frame.history.summaries,
                                                                 frame.history.evals,
                                                                 frame.history.meters)})
    drawn = {}
    for name, f in (("full", frame), ("merged", merged_frame)):
        panel = TrainingCurvesPanel()
        qtbot.addWidget(panel)
        panel.resize(900, 500)
        panel.show()
        qtbot.waitExposed(panel)
        panel.set_frame(f)
        drawn[name] = panel.loss_curve.getOriginalDataset()
    np.testing.assert_array_equal(drawn["merged"][0], drawn["full"][0])
    span = float(full["loss"].max() - full["loss"].min())
    assert np.nanmax(np.abs(drawn["merged"][1] - drawn["full"][1])) <= 0.02 * span
