"""History: per-step series, percentile summaries against np.percentile,
bounded memory with thinning, and snapshots that never change."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine import RunConfig, Trainer
from bnviz.engine.history import SeriesStore

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


def test_store_thins_old_rows_and_keeps_the_newest():
    store = SeriesStore({"step": (), "v": (3,)}, budget_bytes=0, min_capacity=64,
                        dtypes={"step": np.int64})
    assert store.capacity == 64
    for s in range(1, 1001):
        store.append({"step": s, "v": np.full(3, s)})
        assert len(store) <= store.capacity
    steps = store.snapshot()["step"]
    assert steps[-1] == 1000 and steps[0] == 1
    assert np.all(np.diff(steps) > 0)
    # The newest stretch is kept at full resolution.
    assert np.all(np.diff(steps[-16:]) == 1)
    np.testing.assert_array_equal(store.snapshot()["v"][:, 0], steps)


def test_snapshots_are_read_only_and_never_change():
    store = SeriesStore({"step": ()}, budget_bytes=0, min_capacity=16, dtypes={"step": np.int64})
    for s in range(10):
        store.append({"step": s})
    snap = store.snapshot()["step"]
    frozen = snap.copy()
    with pytest.raises(ValueError):
        snap[0] = 99
    for s in range(10, 200):  # growth and thinning both happen here
        store.append({"step": s})
    np.testing.assert_array_equal(snap, frozen)


def test_memory_is_bounded_for_long_runs():
    tr = Trainer(CFG)
    cap = tr.history.steps.capacity
    tr.history.steps.capacity = 128  # small cap to exercise thinning quickly
    tr.history.summaries.capacity = 128
    tr.step(600)
    snap = tr.history.snapshot()
    assert len(snap) <= 128 and snap.steps["step"][-1] == 600
    assert len(snap.summaries["step"]) <= 128
    assert cap >= 256
