"""Each lesson's claim, asserted in numbers by training its runs in lockstep."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine.compare import Comparison
from bnviz.engine.config import preset
from bnviz.engine.lessons import LESSONS, PANELS, Lesson, lesson


def train(les: Lesson, steps: int | None = None, summary_every: int = 50, evals=()):
    """Train a lesson's runs; evaluate every run at each step in ``evals``."""
    cmp = Comparison(*les.configs, summary_every=summary_every)
    done, out = 0, {}
    for e in sorted(evals):
        cmp.advance(e - done)
        done = e
        for t in cmp.runs:
            t.evaluate()
        out[e] = [t.last_evaluation for t in cmp.runs]
    steps = les.steps if steps is None else steps
    if steps > done:
        cmp.advance(steps - done)
    return cmp, out


def test_lessons_are_well_formed():
    assert [les.key for les in LESSONS] == ["fig1", "bias", "gamma_beta", "optimizers",
                                            "small_batches", "momentum"]
    for les in LESSONS:
        assert lesson(les.key) is les
        assert 1 <= len(les.configs) == len(les.labels) <= 5 and les.panel in PANELS
        assert les.steps > 0 and les.title and les.explanation.count(". ") >= 3
        assert all(cfg.dataset == "digits" for cfg in les.configs)
        assert len({cfg.seed for cfg in les.configs}) == 1
    assert lesson("fig1").configs[0] == preset("Ioffe & Szegedy 2015, Fig. 1")
    with pytest.raises(KeyError, match="momentum"):
        lesson("nope")
    with pytest.raises(ValueError):
        Lesson("x", "x", "x", (), (), "compare", 1)


def test_bias_is_redundant():
    les = lesson("bias")
    assert les.configs[0].keep_bias and not les.configs[1].keep_bias
    cmp, _ = train(les, 300)
    a, b = (t.history.snapshot().steps for t in cmp.runs)
    for i in range(2):
        ratio = a[f"L{i}.grad_norm_b"] / a[f"L{i}.grad_norm_W"]
        assert ratio.max() < 1e-6, ratio.max()      # measured: below 1e-16
        assert f"L{i}.grad_norm_b" not in b
        assert np.abs(cmp.a.model.layers[i].linear.b).max() < 1e-8
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=0, atol=1e-9)


def test_gamma_beta_are_learned_before_and_after():
    les = lesson("gamma_beta")
    assert [c.bn_placement for c in les.configs] == ["before", "after"]
    cmp, _ = train(les, 600)
    for t in cmp.runs:
        for L in t.model.layers:
            assert np.abs(L.bn.gamma - 1).mean() > 0.01 and np.abs(L.bn.beta).mean() > 0.01
        loss = t.history.snapshot().steps["loss"]
        assert loss[-50:].mean() < 0.2 * loss[:50].mean()


def test_optimizers_share_batches_and_all_learn():
    les = lesson("optimizers")
    assert [c.optimizer for c in les.configs] == ["sgd", "momentum", "rmsprop", "adam", "gd"]
    cmp, _ = train(les, 300)
    assert cmp.shares_batches == (True, True, True, True, False)
    assert cmp.runs[-1].batch_size == len(cmp.a.y_train)
    labels = cmp.a.last_labels
    for t in cmp.runs[1:4]:
        np.testing.assert_array_equal(t.last_labels, labels)
    for t in cmp.runs:
        loss = t.history.snapshot().steps["loss"]
        assert loss[-20:].mean() < 0.25 * loss[:20].mean(), t.config.optimizer


def test_small_batches_noisy_statistics_and_train_test_gap():
    les = lesson("small_batches")
    assert [c.batch_size for c in les.configs] == [2, 4, 8, 64]
    cmp, _ = train(les, 1000)
    spread, gap, ema = [], [], []
    for t in cmp.runs:
        h = t.history.snapshot().steps
        spread.append(h["L0.batch_mean"][200:, 0].std())
        t.evaluate()
        ev = t.last_evaluation
        # Training-mode accuracy on its own batches against the test accuracy
        # with running statistics (measured: 0.39 vs 0.78 for batch 2,
        # 0.98 vs 0.96 for batch 64).
        gap.append(abs(h["batch_accuracy"][-300:].mean() - ev.test_accuracy))
        ema.append(np.mean(ev.ema_gap_var))
        # Test batches of the training batch size behave like training.
        assert abs(ev.test_accuracy_batch - h["batch_accuracy"][-300:].mean()) < 0.1
    assert spread[0] > 5 * spread[-1], spread
    assert gap[0] > 0.2 > 0.05 > gap[-1], gap
    assert ema[0] > 5 * ema[-1], ema


def test_momentum_conventions_and_ema_lag():
    les = lesson("momentum")
    assert [c.bn_momentum for c in les.configs] == [0.1, 0.01, None]
    _, evs = train(les, 1000, evals=(30, 100, 1000))
    var_gap = {e: [np.mean(ev.ema_gap_var) for ev in row] for e, row in evs.items()}
    mean_gap = {e: [np.mean(ev.ema_gap_mean) for ev in row] for e, row in evs.items()}
    # Early: Keras's 0.99 (m = 0.01) still holds the initial variance 1.
    for e in (30, 100):
        pt, keras, cumulative = var_gap[e]
        assert keras > 3 * pt and keras > 3 * cumulative, var_gap
    # Late: m = 0.01 averages away the batch noise and has the smallest gap;
    # the cumulative average keeps statistics of old weights.
    pt, keras, cumulative = var_gap[1000]
    assert keras < pt and keras < cumulative, var_gap
    assert mean_gap[1000][1] < mean_gap[1000][0] and mean_gap[1000][1] < mean_gap[1000][2], mean_gap


def test_fig1_bn_faster_and_steadier():
    les = lesson("fig1")
    cmp, _ = train(les, summary_every=500)
    acc = [t.evaluate()["test_accuracy"] for t in cmp.runs]
    assert acc[0] > acc[1] + 0.01, acc  # measured: 0.978 vs 0.944
    drift50, width_drift = [], []
    for t in cmp.runs:
        s = t.history.snapshot().summaries
        pct = s["L2.act_in_unit_pct"]             # (rows, 3, units)
        p1, p3 = (pct[int(np.flatnonzero(s["step"] == n)[0])] for n in (1000, 3000))
        drift50.append(np.abs(p3[1] - p1[1]).mean())
        width_drift.append(np.abs((p3[2] - p3[0]) - (p1[2] - p1[0])).mean())
    # measured: 50th-percentile drift 0.17 vs 0.38, band-width drift 0.28 vs 1.10
    assert drift50[0] < 0.6 * drift50[1], drift50
    assert width_drift[0] < 0.5 * width_drift[1], width_drift
