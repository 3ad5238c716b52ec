"""Lockstep comparison: same batches, same initial weights, two records."""
from __future__ import annotations

import numpy as np

from bnviz.engine import RunConfig
from bnviz.engine.compare import Comparison

CFG = RunConfig(dataset="digits", hidden=(32, 32), activation="sigmoid", batchnorm=True,
                optimizer="sgd", lr=0.1, batch_size=30, seed=4, dtype="float64")


def test_default_b_is_a_without_batch_norm():
    cmp = Comparison(CFG)
    assert cmp.a.config.batchnorm is True and cmp.b.config.batchnorm is False
    assert cmp.shared_batches and cmp.b.data is cmp.a.data


def test_same_initial_weights_and_batches():
    cmp = Comparison(CFG)
    for la, lb in zip(cmp.a.model.layers, cmp.b.model.layers):
        np.testing.assert_array_equal(la.linear.W, lb.linear.W)
    np.testing.assert_array_equal(cmp.a.model.head.W, cmp.b.model.head.W)
    ra, rb = cmp.step()
    # Same batch, same first-layer weights: the same z before any update.
    np.testing.assert_array_equal(ra.labels, rb.labels)
    np.testing.assert_allclose(ra.layers[0].pre, rb.layers[0].pre, rtol=0, atol=1e-12)
    for _ in range(60):  # over two epochs: the permutations stay shared
        ra, rb = cmp.step()
        np.testing.assert_array_equal(ra.labels, rb.labels)
    assert ra.step == rb.step == 61 and ra.epoch == rb.epoch
    assert ra.loss != rb.loss  # the runs themselves differ


def test_a_matches_a_lone_run():
    from bnviz.engine import Trainer
    cmp = Comparison(CFG)
    alone = Trainer(CFG)
    ra, _ = cmp.step(25)
    rl = alone.step(25)
    assert ra.loss == rl.loss
    np.testing.assert_array_equal(ra.layers[1].running_var, rl.layers[1].running_var)


def test_different_batch_sizes_step_together():
    cmp = Comparison(CFG, CFG.replace(batch_size=8))
    assert not cmp.shared_batches
    ra, rb = cmp.step(5)
    assert ra.step == rb.step == 5 and len(rb.labels) == 8


def test_more_than_two_runs_share_batches():
    cmp = Comparison(CFG, CFG.replace(optimizer="momentum"), CFG.replace(optimizer="adam", lr=1e-3),
                     CFG.replace(batch_size=10))
    assert cmp.shares_batches == (True, True, True, False) and not cmp.shared_batches
    recs = cmp.step(7)
    assert len(recs) == 4 and all(r.step == 7 for r in recs)
    for r in recs[1:3]:
        np.testing.assert_array_equal(r.labels, recs[0].labels)
    assert len(recs[3].labels) == 10


def test_advance_stops_when_any_run_diverges():
    cmp = Comparison(CFG, CFG.replace(batchnorm=False, lr=100.0, activation="identity", init_std=10.0))
    with np.errstate(all="ignore"):
        done = cmp.advance(500, stop_on_divergence=True)
    assert done < 500 and not np.isfinite(cmp.b.last_loss)
    assert cmp.a.step_count == cmp.b.step_count == done


def test_of_builds_exactly_the_runs_given():
    lone = Comparison.of([CFG])
    assert len(lone.runs) == 1 and lone.shared_batches
    (rec,) = lone.step(3)
    assert rec.step == 3
    three = Comparison.of([CFG, CFG.replace(lr=0.2), CFG.replace(batchnorm=False)])
    assert [t.config.lr for t in three.runs] == [0.1, 0.2, 0.1]



def test_run_set_keeps_differences_when_a_changes():
    from bnviz.engine.compare import RunSet
    rs = RunSet.of((CFG, CFG.replace(batchnorm=False), CFG.replace(optimizer="adam", lr=0.001)))
    assert rs.variants == ({"batchnorm": False}, {"optimizer": "adam", "lr": 0.001})
    assert rs.labels == ("A: with BN, lr 0.1, SGD", "B: no BN, lr 0.1, SGD",
                         "C: with BN, lr 0.001, Adam")
    a2 = CFG.replace(batch_size=50, lr=0.2)
    configs = rs.configs(a2)
    assert [c.batch_size for c in configs] == [50, 50, 50]
    assert configs[1].batchnorm is False and configs[1].lr == 0.2 and configs[2].lr == 0.001
    single = RunSet.of((CFG,))
    assert not single.comparing and single.configs(CFG) == (CFG,)
