"""The claims of the panels' '?' texts (``help_text``) that the tests
elsewhere do not already assert. Asserted elsewhere: the running average
r = (1 - m) r + m x and the cumulative average (test_lesson_claims.py, on
the momentum lesson's runs); the population statistics are exact
(test_testtime.py::test_population_statistics_are_exact); one example
alone in training mode gives beta (test_single_example_collapses_to_beta);
the bias gradient is zero and its loss irrelevant (test_lesson_claims.py,
bias); the loss is the mean cross-entropy (test_gradients.py).
"""
from __future__ import annotations

import numpy as np

from bnviz.engine.config import RunConfig
from bnviz.engine.frame import boundary_grid
from bnviz.engine.layers import BatchNorm
from bnviz.engine.losses import softmax
from bnviz.engine.stats import ema_gaps, population_statistics
from bnviz.engine.trainer import Trainer

SMALL = RunConfig(dataset="digits", hidden=(32, 32), activation="tanh", init="glorot", lr=0.1,
                  batch_size=32, seed=3)


def test_gamma_beta_help_output_mean_and_spread_and_undoing():
    """y = gamma x_hat + beta has batch mean beta and standard deviation
    gamma sqrt(var / (var + eps)); gamma = sqrt(var + eps), beta = mu undo it."""
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(50, 4))
    bn = BatchNorm(4, eps=1e-3, dtype=np.float64)
    bn.gamma[:] = [0.5, 1.0, 1.5, 2.0]
    bn.beta[:] = [-1.0, 0.0, 0.5, 1.0]
    y = bn.forward(x)
    var = x.var(axis=0)
    np.testing.assert_allclose(y.mean(axis=0), bn.beta, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=0), bn.gamma * np.sqrt(var / (var + bn.eps)), rtol=1e-12)
    undo = BatchNorm(4, eps=1e-3, dtype=np.float64)
    undo.gamma[:] = np.sqrt(var + undo.eps)
    undo.beta[:] = x.mean(axis=0)
    np.testing.assert_allclose(undo.forward(x), x, rtol=1e-12)


def test_gradients_help_a_kept_bias_stays_at_zero_in_float32():
    """'a kept bias stays at zero up to rounding', also in float32 (measured 7e-9)."""
    tr = Trainer(SMALL.replace(keep_bias=True))
    norms = []
    for _ in range(200):
        tr.advance(1)
        norms += [np.linalg.norm(L.linear.db) for L in tr.model.layers]
    for L in tr.model.layers:
        assert np.abs(L.linear.b).max() < 1e-6
    # README: about 1e-8 in float32 (measured median 1.1e-8, max 3.4e-8)
    assert 1e-9 < np.median(norms) < 1e-7 and max(norms) < 1e-6, (np.median(norms), max(norms))


def test_test_time_help_ema_gap_formula():
    """mean_j |mu_run - mu_pop| / sqrt(var_pop + eps) and
    mean_j |var_run - var_pop| / (var_pop + eps)."""
    tr = Trainer(SMALL.replace(bn_momentum=0.01))
    tr.advance(100)
    pop = population_statistics(tr.model, tr.x_train)
    gap_mean, gap_var = ema_gaps(tr.model, pop)
    for L, (pm, pv), gm, gv in zip(tr.model.layers, pop, gap_mean, gap_var):
        bn = L.bn
        pm, pv = pm.astype(np.float64), pv.astype(np.float64)
        rm, rv = bn.running_mean.astype(np.float64), bn.running_var.astype(np.float64)
        assert np.isclose(gm, np.mean(np.abs(rm - pm) / np.sqrt(pv + bn.eps)), rtol=1e-6)
        assert np.isclose(gv, np.mean(np.abs(rv - pv) / (pv + bn.eps)), rtol=1e-6)
        assert gv > 0 and gm > 0


def test_training_curves_help_accuracy_modes():
    """Test accuracy with the running averages is eval mode's."""
    tr = Trainer(SMALL)
    tr.advance(50)
    ev = tr.evaluate()
    eval_mode = np.mean(tr.model.forward(tr.x_test, training=False).argmax(axis=1) == tr.y_test)
    assert ev["test_accuracy"] == eval_mode


def test_decision_boundary_help_inference_mode():
    """argmax softmax(f(x)) on the plane, in inference mode (running statistics)."""
    tr = Trainer(RunConfig(dataset="moons", hidden=(8, 8), activation="tanh", init="glorot",
                           lr=0.1, batch_size=16, seed=1))
    tr.advance(30)
    grid = boundary_grid(tr, resolution=12)
    gx, gy = np.meshgrid(grid.xs, grid.ys)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    expected = softmax(tr.model.forward(points, training=False)).reshape(12, 12, -1)
    np.testing.assert_allclose(grid.probs, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(grid.points, tr.x_train)   # the training points on top
