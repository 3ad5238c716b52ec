"""Test-time statistics: population, batch-of-k and single-example
evaluation, the EMA gap, population reuse, and inspect_example, each
against an independent float64 computation; nothing in the trainer changes."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bnviz.engine.config import RunConfig
from bnviz.engine.records import Evaluation
from bnviz.engine.stats import batch_stat_logits, ema_gaps, population_statistics, single_example_logits
from bnviz.engine.testtime import ExampleInspection, bn_outputs_single, inspect_example, softmax
from bnviz.engine.trainer import Trainer

CFG = RunConfig(dataset="digits", hidden=(32, 24), activation="sigmoid", batchnorm=True,
                optimizer="sgd", lr=0.1, batch_size=30, seed=2, dtype="float64")
ACTS = {"sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)), "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0.0)}


def trained(cfg=CFG, steps=40) -> Trainer:
    tr = Trainer(cfg)
    tr.advance(steps)
    return tr


def reference_forward(model, x, act, stats_of):
    """Independent float64 forward. ``stats_of(layer_index, bn_input)``
    returns the (mean, var) to normalise with, or None where there is no BN.
    Returns (logits, per-layer (mean, var) used)."""
    a = np.asarray(x, np.float64)
    used = []
    for i, L in enumerate(model.layers):
        z = a @ L.linear.W.astype(np.float64)
        if L.linear.b is not None:
            z = z + L.linear.b
        if L.bn is None:
            a = act(z)
            used.append(None)
            continue
        bn_in = z if L.placement == "before" else act(z)
        mean, var = stats_of(i, bn_in)
        y = L.bn.gamma * (bn_in - mean) / np.sqrt(var + L.bn.eps) + L.bn.beta
        a = act(y) if L.placement == "before" else y
        used.append((mean, var))
    return a @ model.head.W + model.head.b, used


def own_stats(_i, x):
    return x.mean(axis=0), x.var(axis=0)  # biased variance, as BN normalises


def model_arrays(model) -> dict[str, object]:
    """Every array (and cache reference) a forward or evaluation could touch."""
    out = {}
    for i, L in enumerate(model.layers + [model]):
        objs = {"lin": L.head} if L is model else {"lin": L.linear, "bn": L.bn, "act": L.act, "layer": L}
        for name, obj in objs.items():
            if obj is None:
                continue
            for attr, v in vars(obj).items():
                key = f"{i}.{name}.{attr}"
                if isinstance(v, np.ndarray):
                    out[key] = (id(v), v.copy())
                elif isinstance(v, (int, float, tuple)) or v is None:
                    out[key] = (id(v), v)
    return out


def assert_unchanged(before, after):
    assert before.keys() == after.keys()
    for key, (ident, value) in before.items():
        assert after[key][0] == ident or not isinstance(value, np.ndarray), key
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key][1], value, err_msg=key)
        elif isinstance(value, tuple):
            for u, v in zip(value, after[key][1]):
                assert u is v, key
        else:
            assert after[key][1] == value or value != value, key


# ------------------------------------------------------- population statistics

@pytest.mark.parametrize("placement,activation,bn", [("before", "sigmoid", True),
                                                     ("after", "tanh", True),
                                                     ("before", "relu", (True, False))])
def test_population_statistics_are_exact(placement, activation, bn):
    tr = trained(CFG.replace(bn_placement=placement, activation=activation, batchnorm=bn), 30)
    pop = population_statistics(tr.model, tr.x_train)
    _, ref = reference_forward(tr.model, tr.x_train, ACTS[activation], own_stats)
    for got, want in zip(pop, ref):
        if want is None:
            assert got is None
            continue
        np.testing.assert_allclose(got[0], want[0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-6)
        assert np.ptp(want[1]) > 0  # a real, non-trivial check


# ------------------------------------------------------------- single example

@pytest.mark.parametrize("dtype,placement", [("float64", "before"), ("float32", "before"),
                                             ("float32", "after")])
def test_single_example_collapses_to_beta(dtype, placement):
    tr = trained(CFG.replace(dtype=dtype, bn_placement=placement), 60)
    outs = bn_outputs_single(tr.model, tr.x_test)
    for L, out in zip(tr.model.layers, outs):
        assert np.abs(L.bn.beta).max() > 1e-3  # beta has moved: the collapse is not to 0
        assert out.shape == (len(tr.y_test), L.bn.num_features)
        np.testing.assert_allclose(out, np.broadcast_to(L.bn.beta, out.shape), rtol=0, atol=1e-6)
    logits = single_example_logits(tr.model, tr.x_test)
    np.testing.assert_array_equal(logits, np.broadcast_to(logits[0], logits.shape))
    tr.evaluate()
    ev = tr.last_evaluation
    share = float(np.mean(tr.y_test == logits[0].argmax()))
    assert ev.test_accuracy_single == share < 0.2  # one class for everybody: ~1/10
    # A single example in training mode would raise in the layer itself.
    with pytest.raises(ValueError, match="more than 1 value"):
        tr.model.layers[0].bn.forward(tr.x_test[:1] @ tr.model.layers[0].linear.W, training=True,
                                      update_stats=False)


def test_single_equals_running_without_bn():
    tr = trained(CFG.replace(batchnorm=False), 30)
    ev = tr.evaluate()
    assert tr.last_evaluation.test_accuracy_single == ev["test_accuracy"]
    assert tr.last_evaluation.ema_gap_mean == (None, None)
    np.testing.assert_array_equal(single_example_logits(tr.model, tr.x_test),
                                  tr.model.forward(tr.x_test, training=False))


# ---------------------------------------------------------------- batch of k

def test_batch_of_whole_test_set_is_full_batch_normalisation():
    tr = trained(CFG, 40)
    n = len(tr.y_test)
    tr.set_live(tr.config.replace(eval_batch_size=n))  # live: no reset
    assert tr.step_count == 40 and tr.eval_batch_size() == n
    tr.evaluate()
    ref, _ = reference_forward(tr.model, tr.x_test, ACTS["sigmoid"], own_stats)
    np.testing.assert_allclose(batch_stat_logits(tr.model, tr.x_test, n), ref, rtol=0, atol=1e-9)
    ev = tr.last_evaluation
    assert ev.eval_batch_size == n
    assert ev.test_accuracy_batch == float(np.mean(ref.argmax(axis=1) == tr.y_test))
    # Smaller k: another figure, recomputed at the same step when k changes.
    tr.set_live(tr.config.replace(eval_batch_size=2))
    tr.evaluate()
    assert tr.last_evaluation.eval_batch_size == 2 and tr.last_evaluation.step == 40
    assert tr.history.snapshot().evals["eval_batch_size"].tolist() == [n, 2]


# ------------------------------------------------------------------- EMA gap

def test_ema_gap_zero_when_running_equals_population():
    tr = trained(CFG, 30)
    tr.evaluate()
    assert all(g > 0 for g in tr.last_evaluation.ema_gap_mean)
    for bn, (mean, var) in zip(tr.model.batchnorms(), tr.population):
        bn.running_mean[:] = mean
        bn.running_var[:] = var
    tr.evaluate(force_population=True)
    ev = tr.last_evaluation
    assert max(ev.ema_gap_mean) < 1e-12 and max(ev.ema_gap_var) < 1e-12
    # Then the running and population accuracies are the same computation.
    assert ev.test_accuracy == ev.test_accuracy_population
    cols = tr.history.snapshot().evals
    assert cols["L1.ema_gap_mean"][-1] == ev.ema_gap_mean[1]


def test_ema_gap_grows_as_momentum_slows():
    gaps = []
    for m in (0.3, 0.03, 0.003):
        tr = trained(CFG.replace(bn_momentum=m, unbiased_running_var=False), 150)
        tr.evaluate()
        ev = tr.last_evaluation
        gaps.append((np.mean(ev.ema_gap_mean), np.mean(ev.ema_gap_var)))
        # The formula, by hand, for the last layer.
        bn = tr.model.layers[1].bn
        pm, pv = ev.population_mean[1], ev.population_var[1]
        assert ev.ema_gap_mean[1] == pytest.approx(np.mean(np.abs(bn.running_mean - pm) / np.sqrt(pv + bn.eps)))
        assert ev.ema_gap_var[1] == pytest.approx(np.mean(np.abs(bn.running_var - pv) / (pv + bn.eps)))
    assert gaps[0][0] < gaps[1][0] < gaps[2][0], gaps
    assert gaps[0][1] < gaps[1][1] < gaps[2][1], gaps


# ---------------------------------------------------------- population reuse

def test_population_every_reuses_and_force_recomputes():
    tr = Trainer(CFG.replace(population_every=10))
    tr.advance(5)
    tr.evaluate()
    assert tr.population_step == 5 and tr.last_evaluation.population_step == 5
    kept = [(m.copy(), v.copy()) for m, v in tr.population]
    tr.advance(3)
    tr.evaluate()
    ev = tr.last_evaluation
    assert ev.step == 8 and ev.population_step == 5  # reused: only 3 steps old
    for (m, v), pm, pv in zip(kept, ev.population_mean, ev.population_var):
        np.testing.assert_array_equal(pm, m)
        np.testing.assert_array_equal(pv, v)
    fresh = population_statistics(tr.model, tr.x_train)
    # The weights did move (layer 0's mean stays 0: standardised inputs, no bias).
    assert not np.allclose(fresh[0][1], kept[0][1]) and not np.allclose(fresh[1][0], kept[1][0])
    gm, _ = ema_gaps(tr.model, kept)
    assert ev.ema_gap_mean == gm  # the gap is measured against the reused statistics
    tr.evaluate(force_population=True)
    ev = tr.last_evaluation
    assert ev.step == 8 and ev.population_step == 8
    np.testing.assert_array_equal(ev.population_var[0], fresh[0][1])
    tr.advance(9)
    tr.evaluate()
    assert tr.last_evaluation.population_step == 8  # 9 < 10 steps
    tr.advance(1)
    tr.evaluate()
    assert tr.last_evaluation.population_step == 18
    assert tr.history.snapshot().evals["population_step"].tolist() == [5, 5, 8, 8, 18]
    # population_every is live; 0 recomputes at every evaluation.
    tr.set_live(tr.config.replace(population_every=0))
    tr.advance(1)
    tr.evaluate()
    assert tr.last_evaluation.population_step == 19


# ------------------------------------------------------------- inspect example

def test_inspect_example_against_independent_computation():
    tr = trained(CFG, 50)
    n = len(tr.y_test)
    before = model_arrays(tr.model)
    ins = inspect_example(tr, 7, k=12, rng_seed=3)
    assert_unchanged(before, model_arrays(tr.model))
    assert isinstance(ins, ExampleInspection) and ins.index == 7 and ins.step == 50 and ins.k == 12
    assert ins.label == tr.y_test[7]
    np.testing.assert_array_equal(ins.features, tr.data.x_test_raw[7])
    np.testing.assert_array_equal(ins.image, tr.data.x_test_raw[7].reshape(8, 8))
    batch = ins.batch_indices
    assert batch[0] == 7 and len(set(batch.tolist())) == 12 and batch.max() < n
    np.testing.assert_array_equal(inspect_example(tr, 7, k=12, rng_seed=3).batch_indices, batch)
    assert not np.array_equal(inspect_example(tr, 7, k=12, rng_seed=4).batch_indices, batch)

    x = tr.x_test[7:8]
    act = ACTS["sigmoid"]
    running, _ = reference_forward(tr.model, x, act,
                                   lambda i, _: (tr.model.layers[i].bn.running_mean, tr.model.layers[i].bn.running_var))
    _, pop = reference_forward(tr.model, tr.x_train, act, own_stats)
    population, _ = reference_forward(tr.model, x, act, lambda i, _: pop[i])
    in_batch, _ = reference_forward(tr.model, tr.x_test[batch], act, own_stats)
    single, _ = reference_forward(tr.model, x, act, lambda i, z: (z, np.zeros_like(z)))

    def probs(logits):
        e = np.exp(logits[0] - logits[0].max())
        return e / e.sum()

    for mode, ref in (("running", running), ("population", population), ("batch", in_batch[:1]),
                      ("single", single)):
        np.testing.assert_allclose(ins.probs(mode), probs(ref), rtol=0, atol=1e-9, err_msg=mode)
        assert ins.probs(mode).sum() == pytest.approx(1.0)
        assert not ins.probs(mode).flags.writeable
    # Alone in training mode every BN layer outputs beta exactly (x - mean = 0).
    assert ins.single_beta_gap == 0.0
    assert np.isnan(inspect_example(trained(CFG.replace(batchnorm=False), 3), 7).single_beta_gap)
    # Every example alone gets the same probabilities.
    np.testing.assert_allclose(inspect_example(tr, 100).probs_single, ins.probs_single, rtol=0, atol=1e-12)
    with pytest.raises(ValueError):
        inspect_example(tr, 7, k=1)
    with pytest.raises(IndexError):
        inspect_example(tr, n)
    assert inspect_example(tr, 0).k == tr.batch_size  # default: the training batch size
    np.testing.assert_allclose(softmax(np.array([[0.0, 0.0]])), [[0.5, 0.5]])


# ------------------------------------------------------ nothing else changes

def test_evaluate_changes_no_model_array_and_records_are_frozen():
    tr = trained(CFG.replace(hidden=(16, 16, 16), batchnorm=(True, False, True)), 20)
    rec = tr.record()
    before = model_arrays(tr.model)
    tr.set_live(tr.config.replace(eval_batch_size=7))
    tr.evaluate()
    tr.evaluate(force_population=True)
    assert_unchanged(before, model_arrays(tr.model))
    assert tr.record().loss == rec.loss
    ev = tr.last_evaluation
    assert isinstance(ev, Evaluation)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.test_accuracy_single = 1.0
    for a in ev.population_mean + ev.population_var:
        assert a is None or not a.flags.writeable
    assert ev.ema_gap_mean[1] is None and ev.ema_gap_mean[0] > 0
    keys = set(tr.history.snapshot().evals)
    assert {"test_accuracy_single", "L0.ema_gap_mean", "L2.ema_gap_var"} <= keys
    assert "L1.ema_gap_mean" not in keys
    assert set(ev.scalars()) <= keys


def test_inspect_reuses_only_population_statistics_of_this_step():
    from bnviz.engine.stats import forward_with_stats
    from bnviz.engine.testtime import softmax
    tr = trained(CFG.replace(population_every=100), 50)
    tr.evaluate()
    assert tr.population_step == 50
    x = tr.x_test[3:4]
    fresh = softmax(forward_with_stats(tr.model, x, population_statistics(tr.model, tr.x_train)))[0]
    np.testing.assert_array_equal(inspect_example(tr, 3).probs_population, fresh)
    tr.advance(5)
    tr.evaluate()   # reuses step 50's statistics (population_every = 100)
    stale = softmax(forward_with_stats(tr.model, x, tr.population))[0]
    fresh = softmax(forward_with_stats(tr.model, x, population_statistics(tr.model, tr.x_train)))[0]
    assert not np.array_equal(stale, fresh)
    np.testing.assert_array_equal(inspect_example(tr, 3).probs_population, fresh)
    assert tr.population_step == 50   # inspecting leaves the evaluation's schedule alone
