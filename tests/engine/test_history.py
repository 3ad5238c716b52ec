"""History: per-step series, percentile summaries against np.percentile,
bounded memory with thinning, and snapshots that never change."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine import RunConfig, Trainer

CFG = RunConfig(dataset="moons", n_samples=300, hidden=(12, 7), activation="tanh", batchnorm=True,
                optimizer="adam", lr=0.01, batch_size=20, seed=2)


@pytest.mark.parametrize("placement,bn", [("before", True), ("after", True), ("before", False),
                                          ("before", (True, False))])
def test_summaries_equal_numpy_percentiles(placement, bn):
    tr = Trainer(CFG.replace(bn_placement=placement, batchnorm=bn))
    for _ in range(5):
        rec = tr.step()
    snap = tr.history.snapshot()
    assert snap.summaries["step"][-1] == rec.step
    for i, L in enumerate(rec.layers):
        q = (15, 50, 85)
        np.testing.assert_allclose(snap.layer(i, "pre_pct")[-1], np.percentile(L.pre, q), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(snap.layer(i, "act_in_pct")[-1], np.percentile(L.act_in, q), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(snap.layer(i, "pre_unit_pct")[-1], np.percentile(L.pre, q, axis=0),
                                   rtol=1e-5, atol=1e-6)
        # Derived from pre's sorted columns through the affine BN map.
        np.testing.assert_allclose(snap.layer(i, "act_in_unit_pct")[-1],
                                   np.percentile(L.act_in, q, axis=0), rtol=1e-4, atol=1e-5)


def test_negative_gamma_swaps_the_percentiles():
    tr = Trainer(CFG)
    tr.step()
    tr.model.layers[0].bn.gamma[:] = -2.0
    rec = tr.step()
    got = tr.history.snapshot().layer(0, "act_in_unit_pct")[-1]
    np.testing.assert_allclose(got, np.percentile(rec.layers[0].act_in, (15, 50, 85), axis=0),
                               rtol=1e-4, atol=1e-5)


def test_summary_interval_and_last_step():
    tr = Trainer(CFG, summary_every=4)
    tr.step(10)
    tr.step(3)
    assert list(tr.history.snapshot().summaries["step"]) == [4, 8, 10, 12, 13]
    assert list(tr.history.snapshot().steps["step"]) == list(range(1, 14))


def test_history_matches_records_step_by_step():
    tr = Trainer(CFG)
    recs = [tr.step() for _ in range(6)]
    snap = tr.history.snapshot()
    np.testing.assert_array_equal(snap.steps["loss"], np.float32([r.loss for r in recs]))
    np.testing.assert_array_equal(snap.layer(1, "batch_var"), np.stack([r.layers[1].batch_var for r in recs]))
    np.testing.assert_array_equal(snap.layer(0, "gamma"), np.stack([r.layers[0].gamma for r in recs]))


def test_memory_is_bounded_for_long_runs():
    tr = Trainer(CFG, history_budget=1)   # the smallest stores: 256 older rows
    tr.step(3000)
    snap = tr.history.snapshot()
    steps = tr.history.steps
    assert steps.stride > 1 and snap.steps["step"][-1] == 3000
    assert len(snap) <= steps.capacity + steps.window + 2 * steps.chunk_rows + steps.stride
    assert int(snap.steps["step_count"].sum()) == 3000


def test_float64_run_keeps_float64_history():
    tr = Trainer(CFG.replace(dtype="float64"))
    tr.step(3)
    snap = tr.history.snapshot()
    assert snap.steps["loss"].dtype == np.float64 and snap.layer(0, "gamma").dtype == np.float64
    assert snap.summaries["L0.pre_pct"].dtype == np.float64
    assert Trainer(CFG).history.snapshot().steps["loss"].dtype == np.float32


def test_summary_growth_keeps_the_grid_and_thins_with_the_run():
    """With growth (as the window and headless runs train), summaries come
    every summary_every steps until 1,024 of them, then the interval doubles
    with the run: about 512 more per doubling, on the same power-of-two grid."""
    tr = Trainer(CFG.replace(hidden=(4,)), summary_every=8, summary_growth=True, history_budget=1)
    tr.advance(40_000)
    steps = np.asarray(tr.history.snapshot().summaries["step"])
    assert tr.summary_interval() == 64
    assert np.all(steps % 8 == 0)
    recent = steps[steps > 20_000]
    assert np.all(np.diff(recent) >= 32)
    fixed = Trainer(CFG.replace(hidden=(4,)), summary_every=8)
    fixed.advance(9000)
    assert fixed.summary_interval() == 8
