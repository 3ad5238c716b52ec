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
