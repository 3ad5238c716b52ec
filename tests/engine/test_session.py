"""Sessions: a saved run continues bit-identically; bad files fail clearly."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bnviz.engine import fileio
from bnviz.engine.compare import Comparison
from bnviz.engine.config import RunConfig
from bnviz.engine.records import LayerRecord, StepRecord
from bnviz.engine.session import (SessionError, load_comparison, load_runs, load_trainer, save_comparison,
                                  save_runs, save_trainer)
from bnviz.engine.trainer import Trainer

MOONS = RunConfig(dataset="moons", n_samples=300, hidden=(8, 6), activation="relu", batchnorm=True,
                  optimizer="sgd", lr=0.05, batch_size=32, seed=3, dtype="float64")
CNN_DIGITS = RunConfig(dataset="digits", architecture="cnn", conv_channels=(4, 6), hidden=(16,),
                       activation="relu", init="he", lr=0.05, batch_size=60, dtype="float64",
                       renorm_warmup=5, renorm_ramp=20, renorm_rmax=1.5, renorm_dmax=0.5)
CONFIGS = {
    "sgd-float64": (MOONS, 1),
    "momentum-float32-after-keep_bias": (MOONS.replace(
        dtype="float32", optimizer="momentum", bn_placement="after", keep_bias=True,
        activation="tanh"), 1),
    "adam-float32-mixed-bn-cumulative-summary3": (MOONS.replace(
        dtype="float32", optimizer="adam", lr=0.01, batchnorm=(True, False), bn_momentum=None), 3),
    "rmsprop-no-bn": (MOONS.replace(optimizer="rmsprop", lr=0.01, batchnorm=False), 1),
    "gd-float64": (MOONS.replace(optimizer="gd", activation="sigmoid"), 2),
    # The normalization family: the renorm run is saved inside its schedule's
    # ramp, the noisy run's noise generators must continue where they were.
    "layernorm-after-float32": (MOONS.replace(norm="layer", bn_placement="after", dtype="float32"), 1),
    "groupnorm-mixed": (MOONS.replace(norm="group", gn_groups=2, batchnorm=(True, False)), 2),
    "renorm-in-its-ramp": (MOONS.replace(norm="renorm", renorm_warmup=5, renorm_ramp=20,
                                         renorm_rmax=1.5, renorm_dmax=0.5), 1),
    "noisy-bn-float32": (MOONS.replace(norm="noisy", noise_scale=0.5, dtype="float32"), 1),
    # Two classes per batch: an epoch's order holds only whole two-class batches.
    "two-classes-renorm": (MOONS.replace(sampler="two_classes", norm="renorm", batch_size=30), 1),
    # Convolutional runs on the digits: every normalization per channel, and
    # one without it on a block.
    **{f"cnn-{norm}": (CNN_DIGITS.replace(norm=norm), 1) for norm in ("batch", "layer", "renorm", "noisy")},
    "cnn-groupnorm-after-mixed": (CNN_DIGITS.replace(norm="group", gn_groups=2, bn_placement="after",
                                                     batchnorm=(True, False, True)), 2),
    # The landscape meters' history (every 5 steps) is part of the session.
    "meters-every-5": (MOONS.replace(meters=True, meter_every=5), 1),
    # Population statistics reused between evaluations must survive the save.
    "population-every-10-k5": (MOONS.replace(population_every=10, eval_batch_size=5), 1),
}


def assert_records_equal(a: StepRecord | LayerRecord, b: StepRecord | LayerRecord):
    """Bit-identical records, every field, types and dtypes included."""
    assert type(a) is type(b)
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if f.name == "layers":
            assert len(va) == len(vb)
            for la, lb in zip(va, vb):
                assert_records_equal(la, lb)
        elif isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and va.shape == vb.shape, f.name
            np.testing.assert_array_equal(va, vb, err_msg=f.name)
        else:
            assert type(va) is type(vb) and (va == vb or (va != va and vb != vb)), f.name


def assert_history_equal(a: Trainer, b: Trainer):
    sa, sb = a.history.snapshot(), b.history.snapshot()
    for name in ("steps", "summaries", "evals", "meters"):
        ca, cb = getattr(sa, name), getattr(sb, name)
        assert ca.keys() == cb.keys(), name
        for k in ca:
            assert ca[k].dtype == cb[k].dtype, k
            np.testing.assert_array_equal(ca[k], cb[k], err_msg=f"{name}/{k}")
    for x, y in zip(a.history.stores().values(), b.history.stores().values()):
        assert x.state_dict()["counters"] == y.state_dict()["counters"]


def assert_evaluations_equal(a: Trainer, b: Trainer):
    ea, eb = a.last_evaluation, b.last_evaluation
    assert ea.as_dict().keys() == eb.as_dict().keys() and ea.step == eb.step
    np.testing.assert_array_equal(list(ea.as_dict().values()), list(eb.as_dict().values()))
    assert ea.scalars() == eb.scalars() or np.testing.assert_array_equal(
        list(ea.scalars().values()), list(eb.scalars().values()))
    for ma, mb in zip(ea.population_mean + ea.population_var, eb.population_mean + eb.population_var):
        assert (ma is None) == (mb is None)
        if ma is not None:
            np.testing.assert_array_equal(ma, mb)


def first_part(tr: Trainer, k: int):
    tr.advance(k - 3)
    tr.evaluate()
    tr.advance(3)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_saved_run_continues_bit_identically(tmp_path, name):
    cfg, every = CONFIGS[name]
    k, m = 17, 14  # 240 training examples, 7 batches an epoch: both parts cross epochs
    ref, tr = Trainer(cfg, summary_every=every), Trainer(cfg, summary_every=every)
    first_part(ref, k)
    first_part(tr, k)
    before = tr.record()
    path = tmp_path / "run.npz"
    save_trainer(path, tr)
    loaded = load_trainer(path)
    assert loaded.config == tr.config and loaded.summary_every == every
    assert_records_equal(loaded.record(), before)
    assert_history_equal(loaded, tr)
    assert_evaluations_equal(loaded, tr)
    assert loaded.evaluate() == tr.evaluate() == ref.evaluate()  # a fresh one at step k
    assert loaded.evaluate() == ref.evaluate()  # then the kept one, no new row
    ref.advance(m)
    loaded.advance(m)
    assert_records_equal(loaded.record(), ref.record())
    assert loaded.population_step == ref.population_step
    ref.evaluate()
    loaded.evaluate()
    assert_history_equal(loaded, ref)
    assert_evaluations_equal(loaded, ref)


def test_unstepped_run_and_live_settings(tmp_path):
    cfg = CONFIGS["adam-float32-mixed-bn-cumulative-summary3"][0]
    save_trainer(tmp_path / "fresh.npz", Trainer(cfg))
    assert_records_equal(load_trainer(tmp_path / "fresh.npz").step(9), Trainer(cfg).step(9))
    ref, tr = Trainer(cfg), Trainer(cfg)
    for t in (ref, tr):
        t.advance(5)
        t.set_live(cfg.replace(lr=0.002, adam_beta1=0.8, bn_momentum=0.3))
    save_trainer(tmp_path / "live.npz", tr)
    loaded = load_trainer(tmp_path / "live.npz")
    assert loaded.config.lr == 0.002 and loaded.optimizer.beta1 == 0.8
    assert_records_equal(loaded.step(6), ref.step(6))


def test_thinned_history_continues_identically(tmp_path):
    cfg = MOONS.replace(hidden=(3,), batch_size=16)
    ref, tr = Trainer(cfg, history_budget=1), Trainer(cfg, history_budget=1)
    ref.advance(300)
    tr.advance(300)
    assert tr.history.steps.stride > 1  # the 256-row store has merged already
    save_trainer(tmp_path / "s.npz", tr)
    loaded = load_trainer(tmp_path / "s.npz")
    assert_history_equal(loaded, tr)
    ref.advance(230)
    loaded.advance(230)  # thins again on the way
    assert_history_equal(loaded, ref)
    assert_records_equal(loaded.record(), ref.record())


@pytest.mark.parametrize("b_batch", [32, 20])
def test_comparison_continues_in_lockstep(tmp_path, b_batch):
    cfg_b = MOONS.replace(batchnorm=False, batch_size=b_batch)
    ref, cmp = Comparison(MOONS, cfg_b, summary_every=2), Comparison(MOONS, cfg_b, summary_every=2)
    ref.advance(12)
    cmp.advance(12)
    before = [t.record() for t in cmp.runs]
    save_comparison(tmp_path / "cmp.npz", cmp)
    loaded = load_comparison(tmp_path / "cmp.npz")
    assert loaded.shares_batches == cmp.shares_batches == (True, b_batch == 32)
    assert loaded.b.data is loaded.a.data  # one data set, as a new Comparison has
    for t, rec in zip(loaded.runs, before):
        assert_records_equal(t.record(), rec)
    for got, want in zip(loaded.step(15), ref.step(15)):
        assert_records_equal(got, want)
    for t, u in zip(loaded.runs, ref.runs):
        assert_history_equal(t, u)
    assert load_runs(tmp_path / "cmp.npz")[1] == ["A", "B"]


def test_run_count_and_labels(tmp_path):
    t = Trainer(MOONS)
    save_runs(tmp_path / "two.npz", [t, Trainer(MOONS.replace(seed=4))], ["with BN", "seed 4"])
    runs, labels = load_runs(tmp_path / "two.npz")
    assert labels == ["with BN", "seed 4"] and runs[1].config.seed == 4
    with pytest.raises(SessionError, match="2 runs"):
        load_trainer(tmp_path / "two.npz")
    save_trainer(tmp_path / "one.npz", t)
    with pytest.raises(SessionError, match="single run"):
        load_comparison(tmp_path / "one.npz")


# ------------------------------------------------------------- failed saves

def test_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    tr = Trainer(MOONS)
    save_trainer(path, tr)
    old = path.read_bytes()
    tr.advance(3)

    def fail(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(fileio.os, "replace", fail)  # after the temporary file is written
    with pytest.raises(SessionError, match="No space left"):
        save_trainer(path, tr)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]
    monkeypatch.undo()
    with pytest.raises(SessionError, match="cannot save"):
        save_trainer(tmp_path, tr)  # a folder: the rename fails
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]


# --------------------------------------------------------------- bad files

@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A real session of a short run, and its arrays."""
    path = tmp_path_factory.mktemp("good") / "good.npz"
    tr = Trainer(MOONS.replace(optimizer="adam", lr=0.01))
    tr.advance(4)
    tr.evaluate()
    save_trainer(path, tr)
    with np.load(path) as z:
        return path, {k: z[k] for k in z.files}


def rewrite(tmp_path, arrays, **changes) -> str:
    """The good session with some arrays replaced (None deletes one)."""
    out = dict(arrays)
    for k, v in changes.items():
        k = k.replace("__", "/")
        if v is None:
            del out[k]
        else:
            out[k] = v
    path = tmp_path / "bad.npz"
    np.savez_compressed(path, **out)
    return path


def load_error(path) -> str:
    with pytest.raises(SessionError) as info:
        load_trainer(path)
    assert str(path) in str(info.value)
    return str(info.value)


def test_unreadable_files(tmp_path, good):
    path = tmp_path / "bad.npz"
    assert "not found" in load_error(path)
    path.write_bytes(b"")
    assert "empty" in load_error(path)
    data = good[0].read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in load_error(path)
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    assert "not an .npz" in load_error(path)
    broken = bytearray(data)
    broken[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # inside a compressed member
    path.write_bytes(bytes(broken))
    assert "corrupt" in load_error(path)


def test_wrong_tag_and_version(tmp_path, good):
    arrays = good[1]
    assert "missing array 'format'" in load_error(rewrite(tmp_path, arrays, format=None))
    assert "wrong format tag" in load_error(rewrite(tmp_path, arrays, format=np.array("other")))
    assert "newer bnviz" in load_error(rewrite(tmp_path, arrays, version=np.array(3)))
    assert "older bnviz (session format 1)" in load_error(rewrite(tmp_path, arrays, version=np.array(1)))


def test_missing_and_misshapen_arrays(tmp_path, good):
    arrays = good[1]
    msg = load_error(rewrite(tmp_path, arrays, **{"run0__array__model__param__layer1.W": None}))
    assert "run0: model: missing array 'param/layer1.W'" in msg
    msg = load_error(rewrite(tmp_path, arrays, **{"run0__array__model__param__layer1.W": np.zeros((3, 3))}))
    assert "param/layer1.W" in msg and "shape (2, 8)" in msg
    msg = load_error(rewrite(tmp_path, arrays, **{"run0__array__optimizer__m__head.b": np.zeros(2, np.float32)}))
    assert "optimizer: m/head.b" in msg and "float64" in msg
    key = "run0__array__history__steps__recent__mean__float32"
    msg = load_error(rewrite(tmp_path, arrays, **{key: np.zeros(2, np.float32)}))
    assert "history: steps:" in msg and "'recent/mean/float32'" in msg


def test_invalid_config_names_the_field(tmp_path, good):
    text = str(good[1]["run0/config"]).replace("lr = 0.01", "lr = -1.0")
    msg = load_error(rewrite(tmp_path, good[1], run0__config=np.array(text)))
    assert "'lr'" in msg and "invalid setting" in msg


UNPICKLED = []


def _mark():
    UNPICKLED.append(True)


class Trap:
    def __reduce__(self):
        return _mark, ()


def test_object_array_is_refused_without_unpickling(tmp_path, good):
    trap = np.empty(1, dtype=object)
    trap[0] = Trap()
    assert "object array" in load_error(rewrite(tmp_path, good[1], run0__array__order=trap))
    assert not UNPICKLED


def test_changed_data_file_is_refused(tmp_path):
    rng = np.random.default_rng(1)
    csv = tmp_path / "points.csv"
    rows = [f"{a:.6f},{b:.6f},{int(a > b)}" for a, b in rng.standard_normal((80, 2))]
    csv.write_text("x1,x2,label\n" + "\n".join(rows) + "\n")
    cfg = MOONS.replace(dataset="file", data_path=str(csv), batch_size=16)
    tr = Trainer(cfg)
    tr.advance(5)
    save_trainer(tmp_path / "s.npz", tr)
    assert_records_equal(load_trainer(tmp_path / "s.npz").step(3), tr.step(3))
    csv.write_text("x1,x2,label\n" + "\n".join(rows[:-1] + ["0.5,0.25,1"]) + "\n")
    assert "changed since the session was saved" in load_error(tmp_path / "s.npz")
    csv.unlink()
    assert "cannot be loaded" in load_error(tmp_path / "s.npz")
