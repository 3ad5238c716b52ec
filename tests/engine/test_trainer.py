"""Trainer: step records, determinism, evaluation, learning, history, and
the engine's independence from Qt."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bnviz.engine.config import ConfigError, RunConfig
from bnviz.engine.records import LayerRecord, StepRecord
from bnviz.engine.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]

FIG1 = RunConfig(dataset="digits", hidden=(100, 100, 100), activation="sigmoid", batchnorm=True,
                 optimizer="sgd", lr=0.1, batch_size=60, seed=0)
LAYER_ARRAYS = ("pre", "bn_in", "normalized", "bn_out", "act_in", "batch_mean", "batch_var",
                "running_mean", "running_var", "gamma", "beta")


@pytest.fixture(scope="module")
def fig1_trainer():
    """A Fig. 1 trainer after its first step, with that step's record."""
    tr = Trainer(FIG1)
    return tr, tr.step()


def assert_records_equal(a: StepRecord, b: StepRecord):
    """Bit-identical records, every field."""
    for f in dataclasses.fields(StepRecord):
        if f.name == "layers":
            continue
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb)
        else:
            assert va == vb or (va != va and vb != vb), f.name
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers):
        for f in dataclasses.fields(LayerRecord):
            va, vb = getattr(la, f.name), getattr(lb, f.name)
            if isinstance(va, np.ndarray):
                assert va.dtype == vb.dtype and va.shape == vb.shape, f.name
                assert np.array_equal(va, vb), f.name
            else:
                assert va == vb, f.name


# ------------------------------------------------------------------ records

def test_first_step_record(fig1_trainer):
    tr, rec = fig1_trainer
    assert isinstance(rec, StepRecord)
    assert rec.step == 1 and rec.epoch == 1
    assert np.isfinite(rec.loss) and 0.5 < rec.loss < 5.0  # ~ln(10) at the start
    assert 0.0 <= rec.batch_accuracy <= 1.0
    assert rec.lr == 0.1 and rec.finite
    assert rec.labels.shape == (60,)
    assert len(rec.layers) == 3 and all(isinstance(L, LayerRecord) for L in rec.layers)
    for i, L in enumerate(rec.layers):
        assert L.index == i and L.width == 100 and L.has_bn and L.placement == "before"
        for name in ("pre", "normalized", "act_in", "bn_in", "bn_out"):
            assert getattr(L, name).shape == (60, 100), name
        for name in ("batch_mean", "batch_var", "running_mean", "running_var", "gamma", "beta"):
            assert getattr(L, name).shape == (100,), name
        assert L.pre.dtype == np.float32
        assert L.grad_norm_W > 0 and L.grad_norm_gamma > 0 and L.grad_norm_beta > 0
        assert L.grad_norm_b is None  # BN before the activation drops the bias


def test_step_n_returns_last_record():
    tr = Trainer(FIG1.replace(hidden=(20, 20)))
    assert tr.step().step == 1
    rec = tr.step(100)
    assert rec.step == 101 and tr.step_count == 101
    # 1437 training examples / 60 = 23 full batches per epoch: step 101 is in epoch 5.
    n_train = len(tr.y_train)
    assert rec.epoch == (101 - 1) // (n_train // 60) + 1
    with pytest.raises(ValueError):
        tr.step(0)


def test_record_arrays_are_read_only(fig1_trainer):
    _, rec = fig1_trainer
    with pytest.raises(ValueError):
        rec.labels[0] = 0
    for L in rec.layers:
        for name in LAYER_ARRAYS:
            a = getattr(L, name)
            assert a is not None, name
            assert not a.flags.writeable, name
            with pytest.raises(ValueError):
                a[0] = 0


def test_records_are_copies():
    tr = Trainer(FIG1.replace(hidden=(30, 30)))
    rec = tr.step(3)
    kept = {name: np.array(getattr(rec.layers[0], name)) for name in LAYER_ARRAYS}
    tr.step(10)
    bn = tr.model.layers[0].bn
    # The trainer's state moved on ...
    assert not np.array_equal(bn.gamma, kept["gamma"])
    assert not np.array_equal(bn.running_mean, kept["running_mean"])
    # ... the stored record did not.
    for name, value in kept.items():
        np.testing.assert_array_equal(getattr(rec.layers[0], name), value, err_msg=name)
    assert not np.shares_memory(rec.layers[0].gamma, bn.gamma)
    assert not np.shares_memory(rec.layers[0].running_mean, bn.running_mean)


def test_bn_before_record_is_self_consistent(fig1_trainer):
    """In one record, what enters the activation is gamma * x_hat + beta with
    the record's gamma and beta, and x_hat = (pre - mean) / sqrt(var + eps)."""
    tr, rec = fig1_trainer
    eps = FIG1.bn_eps
    for L in rec.layers:
        np.testing.assert_allclose(
            L.normalized, (L.pre - L.batch_mean) / np.sqrt(L.batch_var + eps), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(L.batch_mean, L.pre.mean(axis=0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(L.batch_var, L.pre.var(axis=0), rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(L.bn_in, L.pre)
        np.testing.assert_array_equal(L.bn_out, L.act_in)
        np.testing.assert_allclose(L.act_in, L.gamma * L.normalized + L.beta, rtol=1e-5, atol=1e-5)


def test_layers_without_bn_have_none():
    tr = Trainer(FIG1.replace(hidden=(20, 15, 10), batchnorm=(True, False, True), activation="tanh"))
    rec = tr.step(2)
    L = rec.layers[1]
    assert not L.has_bn
    for name in ("normalized", "batch_mean", "batch_var", "running_mean", "running_var", "gamma",
                 "beta", "bn_in", "bn_out", "grad_norm_gamma", "grad_norm_beta"):
        assert getattr(L, name) is None, name
    assert L.pre.shape == (60, 15)
    np.testing.assert_array_equal(L.act_in, L.pre)
    assert L.grad_norm_b is not None and L.grad_norm_b > 0  # the bias is kept without BN
    assert rec.layers[0].has_bn and rec.layers[0].gamma.shape == (20,)
    assert rec.layers[2].has_bn and rec.layers[2].normalized.shape == (60, 10)


def test_bn_after_record():
    tr = Trainer(FIG1.replace(hidden=(12,), bn_placement="after", activation="tanh"))
    L = tr.step().layers[0]
    np.testing.assert_array_equal(L.act_in, L.pre)
    np.testing.assert_allclose(L.bn_in, np.tanh(L.pre), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(L.batch_mean, L.bn_in.mean(axis=0), rtol=1e-4, atol=1e-5)
    assert L.grad_norm_b is not None


# -------------------------------------------------------------- determinism

def test_determinism_and_seed():
    cfg = FIG1.replace(hidden=(40, 40))
    a, b = Trainer(cfg), Trainer(cfg)
    losses_a = [a.step().loss for _ in range(50)]
    losses_b = [b.step().loss for _ in range(50)]
    assert losses_a == losses_b
    ra, rb = a.record(), b.record()
    assert ra.step == 50
    assert_records_equal(ra, rb)
    np.testing.assert_array_equal(ra.layers[1].running_var, rb.layers[1].running_var)

    c = Trainer(cfg.replace(seed=1))
    rc = c.step(50)
    assert rc.loss != ra.loss
    assert not np.array_equal(rc.layers[0].pre, ra.layers[0].pre)
    assert not np.array_equal(rc.layers[0].gamma, ra.layers[0].gamma)
    assert not np.array_equal(rc.layers[1].running_var, ra.layers[1].running_var)


# --------------------------------------------------------------- evaluation

def test_evaluate_keys_ranges_and_no_side_effects():
    cfg = FIG1.replace(hidden=(32, 32))
    a, b = Trainer(cfg), Trainer(cfg)
    for k in range(5):
        ra = a.step(4)
        before = a.record()
        ev = a.evaluate()
        assert set(ev) == {"test_loss", "test_accuracy", "test_accuracy_population", "test_accuracy_batch"}
        for key in ("test_accuracy", "test_accuracy_population", "test_accuracy_batch"):
            assert 0.0 <= ev[key] <= 1.0, key
        assert np.isfinite(ev["test_loss"]) and ev["test_loss"] > 0
        assert_records_equal(before, a.record())  # evaluating changed nothing visible
        rb = b.step(4)
        assert_records_equal(ra, rb)
    assert_records_equal(a.step(), b.step())
    np.testing.assert_array_equal(a.model.head.W, b.model.head.W)


def test_evaluate_without_bn_modes_agree():
    tr = Trainer(FIG1.replace(hidden=(16,), batchnorm=False))
    tr.step(20)
    ev = tr.evaluate()
    assert ev["test_accuracy"] == ev["test_accuracy_population"] == ev["test_accuracy_batch"]


def test_digits_with_bn_reaches_90_percent():
    """Ioffe & Szegedy Fig. 1 setting on sklearn digits: >= 90 % test
    accuracy (running statistics) within 2,000 steps."""
    tr = Trainer(FIG1)
    best = 0.0
    while tr.step_count < 2000:
        for _ in range(250):
            tr.train_batch()
        best = max(best, tr.evaluate()["test_accuracy"])
        if best >= 0.90:
            break
    assert best >= 0.90, f"best test accuracy {best:.3f} after {tr.step_count} steps"


# -------------------------------------------------------------- misc checks

def test_engine_imports_no_qt():
    code = ("import sys, bnviz.engine; print([m for m in sys.modules if m.split('.')[0] in "
            "('PySide6','pyqtgraph','shiboken6') or m.startswith('bnviz.ui')])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_batch_size_larger_than_training_set():
    cfg = RunConfig(dataset="moons", n_samples=100, test_fraction=0.2, hidden=(4,), batch_size=81)
    with pytest.raises(ConfigError) as info:
        Trainer(cfg)
    assert info.value.field == "batch_size"
    assert "80" in str(info.value)
    tr = Trainer(cfg.replace(batch_size=80))  # exactly the training set is fine
    assert tr.step().epoch == 1 and tr.step().epoch == 2
    with pytest.raises(ConfigError) as info:
        Trainer(FIG1.replace(batch_size=5000))
    assert info.value.field == "batch_size"


def test_invalid_config_rejected_by_trainer():
    with pytest.raises(ConfigError) as info:
        Trainer(FIG1.replace(lr=-1.0))
    assert info.value.field == "lr"


# ------------------------------------------------------------------ history

def test_history_matches_records():
    n = 30
    tr = Trainer(FIG1.replace(hidden=(24, 24)))
    recs = [tr.step() for _ in range(n)]
    snap = tr.history.snapshot()
    steps = snap.steps
    np.testing.assert_array_equal(steps["step"], np.arange(1, n + 1))
    np.testing.assert_allclose(steps["loss"], [r.loss for r in recs], rtol=1e-6)
    gamma = steps["L0.gamma"]
    rmean = steps["L0.running_mean"]
    assert gamma.shape == (n, 24) and rmean.shape == (n, 24)
    np.testing.assert_allclose(gamma, np.stack([r.layers[0].gamma for r in recs]), rtol=1e-6)
    np.testing.assert_allclose(rmean, np.stack([r.layers[0].running_mean for r in recs]), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(snap.layer(0, "gamma"), gamma)
    np.testing.assert_array_equal(snap.layer(1, "running_mean"),
                                  np.stack([r.layers[1].running_mean for r in recs]).astype(
                                      snap.layer(1, "running_mean").dtype))
    # step(k) appends every step, not just the last.
    tr.step(5)
    np.testing.assert_array_equal(tr.history.snapshot().steps["step"], np.arange(1, n + 6))


def test_two_classes_per_batch_sampler(tmp_path):
    """Every mini-batch holds two classes only, the larger half of one and
    the rest of another; no row repeats within an epoch; the same seed gives
    the same batches; a comparison shares batches only with the same sampler."""
    from bnviz.engine.compare import Comparison
    cfg = RunConfig(dataset="digits", hidden=(16,), sampler="two_classes", batch_size=9, seed=4)
    t, again = Trainer(cfg), Trainer(cfg)
    seen, epoch = set(), 1
    for _ in range(400):
        idx = t.next_indices()
        np.testing.assert_array_equal(idx, again.next_indices())
        if t.epoch != epoch:
            seen, epoch = set(), t.epoch
        counts = sorted(np.bincount(t.y_train[idx]).tolist(), reverse=True)
        assert counts[:2] == [5, 4] and sum(counts) == 9
        assert not seen & set(idx.tolist())
        seen |= set(idx.tolist())
    assert t.epoch >= 3
    # Nearly every example trains in an epoch: the classes are used evenly.
    assert len(t._order) >= len(t.y_train) - 10 * 9
    cmp = Comparison(cfg, cfg.replace(sampler="shuffle"), cfg.replace(norm="layer"))
    assert cmp.shares_batches == (True, False, True)
    data = tmp_path / "rare.csv"   # 40 examples of class 0, 5 of class 1
    data.write_text("a,b,label\n" + "".join(f"{i},{i % 7},{int(i >= 40)}\n" for i in range(45)))
    rare = RunConfig(dataset="file", data_path=str(data), hidden=(4,), sampler="two_classes",
                     batch_size=20, test_fraction=0.1)
    with pytest.raises(ConfigError, match="sampler: two classes per batch needs two classes with "
                                          "10 and 10 training examples for a batch of 20"):
        Trainer(rare)
    Trainer(rare.replace(batch_size=6))


def test_one_pass_with_two_classes_a_batch_is_the_epochs_batches():
    """The Epoch button trains one pass: with two classes a batch, an epoch
    holds fewer batches than n // batch (rows that fill none sit out)."""
    cfg = RunConfig(dataset="digits", hidden=(8,), sampler="two_classes", batch_size=64, seed=2)
    t = Trainer(cfg)
    first = t.epoch_steps()             # drawn on a copy: the batches that follow are unchanged
    assert Trainer(cfg).next_indices().tolist() == t.next_indices().tolist()
    assert first < t.steps_per_epoch
    t.advance(first - 1)
    assert t.epoch == 1 and t._cursor == first * 64 == t._order.size
    ahead = t.epoch_steps()             # the next epoch's, peeked
    t.advance(ahead)
    assert t.epoch == 2 and t._cursor == t._order.size == ahead * 64
    assert Trainer(RunConfig(dataset="digits", hidden=(8,), batch_size=64)).epoch_steps() == 1437 // 64
