"""Property tests: every loader accepts a file or refuses it with its own
error (ConfigError, DatasetError, SessionError) and a message naming the
problem; never another exception, never more than a few seconds.

The files are valid ones mutated (see ``fuzzing``); profile "ci" by
default, ``BNVIZ_FUZZ=long`` for a longer run by hand.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sklearn.model_selection  # noqa: F401 (the data split's; loaded here, not in a timed example)
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import (SECONDS, Timer, config_texts, csv_files, good_session, nested, npy_header,
                     npz_bytes, npz_files, npz_member, session_files, zip_bomb, zip_of)
from bnviz.engine.config import ConfigError, RunConfig
from bnviz.engine.data import Dataset, DatasetError, load_dataset
from bnviz.engine.session import SessionError, load_runs

pytestmark = pytest.mark.filterwarnings("ignore")



# ---------------------------------------------------------------- configs
def check_config(text: str, tmp_path) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    for name, load in (("", lambda: RunConfig.from_toml(text)), (path.name, lambda: RunConfig.load(path))):
        with Timer() as t:
            try:
                cfg = load()
            except ConfigError as exc:
                assert exc.field and exc.message and len(str(exc)) < 2000
                assert name in str(exc)   # the file is named
                continue
        assert t.seconds < SECONDS
        # What validation accepts can be written everywhere a run writes it.
        json.dumps(cfg.to_dict(), allow_nan=False)
        assert RunConfig.from_toml(cfg.to_toml()) == cfg


@given(config_texts())
def test_fuzz_config_files(tmp_path_factory, text):
    check_config(text, tmp_path_factory.mktemp("cfg"))


def test_deeply_nested_config_is_a_config_error(tmp_path):
    for depth in (500, 5000, 50000):
        with pytest.raises(ConfigError, match="nested too deeply|not valid TOML"):
            RunConfig.from_toml(f"[run]\nhidden = {nested(depth)}\n")


def test_dates_and_non_finite_numbers_are_refused_by_validation():
    with pytest.raises(ConfigError, match="data_path: must be text"):
        RunConfig.from_toml('[run]\ndata_path = 2024-01-02\n')
    for field in ("lr", "noise", "init_std", "bn_eps", "adam_beta1"):
        for v in ("inf", "-inf", "nan"):
            with pytest.raises(ConfigError, match=field):
                RunConfig.from_toml(f"[run]\n{field} = {v}\n")


# ------------------------------------------------------------ data files
def check_dataset(path, tmp_path=None) -> None:
    with Timer() as t:
        try:
            ds = load_dataset("file", path=str(path))
        except DatasetError as exc:
            assert path.name in str(exc) and "(unexpected:" not in str(exc), str(exc)
            ds = None
    assert t.seconds < SECONDS, t.seconds
    if ds is not None:
        assert isinstance(ds, Dataset)
        for a in (ds.x_train, ds.x_test, ds.x_test_raw):
            assert np.isfinite(a).all()
        assert ds.y_train.min() >= 0 and ds.y_train.max() < ds.n_classes
        assert len(ds.class_names) == ds.n_classes


@given(csv_files())
def test_fuzz_csv_data(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("csv") / "fuzz.csv"
    path.write_bytes(data)
    check_dataset(path)


@given(npz_files())
def test_fuzz_npz_data(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("npz") / "fuzz.npz"
    path.write_bytes(data)
    check_dataset(path)


@pytest.mark.parametrize("declared", [1 << 30, 1 << 41])
def test_zip_bomb_and_huge_header_are_refused_fast(tmp_path, declared):
    path = tmp_path / "bomb.npz"
    path.write_bytes(zip_bomb(declared))
    with Timer() as t, pytest.raises(DatasetError, match=r"bomb\.npz: .*(limit|zip bomb)"):
        load_dataset("file", path=str(path))
    assert t.seconds < 2


def test_too_large_data_set_says_how_large_and_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.npz"
    np.savez(path, X=np.zeros((4096, 64)), y=np.arange(4096) % 2)   # 2 MiB of features
    monkeypatch.setenv("BNVIZ_MAX_DATA_MB", "1")
    with pytest.raises(DatasetError, match=r"big\.npz: too large .*2\.0 MiB.*limit of 1\.0 MiB.*BNVIZ_MAX_DATA_MB"):
        load_dataset("file", path=str(path))
    csv = tmp_path / "big.csv"
    csv.write_text("0,1\n" * 40000)
    with pytest.raises(DatasetError, match=r"big\.csv: too large .*MiB"):
        load_dataset("file", path=str(csv))


def test_features_too_large_and_labels_outside_int64(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 2))
    np.savez(tmp_path / "huge.npz", X=x * 1e300, y=np.arange(20) % 2)
    with pytest.raises(DatasetError, match=r"huge\.npz: features too large to standardise"):
        load_dataset("file", path=str(tmp_path / "huge.npz"))
    y = (np.arange(20) % 2).astype(np.uint64)
    y[0] = 2**63
    np.savez(tmp_path / "labels.npz", X=x, y=y)
    with pytest.raises(DatasetError, match=r"labels\.npz: labels must be below 2\*\*63"):
        load_dataset("file", path=str(tmp_path / "labels.npz"))
    np.savez(tmp_path / "bytes.npz", X=np.full((20, 2), b"1"), y=np.arange(20) % 2)
    with pytest.raises(DatasetError, match=r"bytes\.npz: X has non-numeric"):
        load_dataset("file", path=str(tmp_path / "bytes.npz"))
    (tmp_path / "raw.npz").write_bytes(zip_of({"X": b"raw bytes", "y.npy": npz_member(np.arange(20) % 2)}))
    with pytest.raises(DatasetError, match=r"raw\.npz: .*member 'X' is not a NumPy array"):
        load_dataset("file", path=str(tmp_path / "raw.npz"))
    np.savez(tmp_path / "date.npz", X=x, y=np.zeros(20, dtype="datetime64[s]"))
    with pytest.raises(DatasetError, match=r"date\.npz: .*datetime64"):
        load_dataset("file", path=str(tmp_path / "date.npz"))


@pytest.mark.parametrize("method", [12, 14, 99])
def test_unreadable_zip_compression_is_a_dataset_error(tmp_path, method):
    data = bytearray(npz_bytes({"X": np.zeros((20, 2)), "y": np.arange(20) % 2}, True))
    for sig, off in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            data[i + off:i + off + 2] = method.to_bytes(2, "little")
            start = i + 4
    (tmp_path / "zip.npz").write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"zip\.npz: .*compression method"):
        load_dataset("file", path=str(tmp_path / "zip.npz"))


# --------------------------------------------------------------- sessions
@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A saved session of two short runs and its arrays."""
    return good_session(tmp_path_factory.mktemp("good") / "good.npz")


def check_session(path) -> None:
    with Timer() as t:
        try:
            runs, labels = load_runs(path)
        except SessionError as exc:
            assert str(path) in str(exc) and "(unexpected:" not in str(exc), str(exc)
            runs = None
    assert t.seconds < SECONDS, t.seconds
    if runs is not None:   # what loads must go on training
        with np.errstate(all="ignore"):
            for tr in runs:
                tr.advance(2)
                tr.evaluate()


@given(st.data())
def test_fuzz_session_files(tmp_path_factory, session, data):
    raw = data.draw(session_files(session))
    path = tmp_path_factory.mktemp("session") / "fuzz.npz"
    path.write_bytes(raw)
    check_session(path)


@pytest.mark.parametrize("change", [
    ("step_count", 2**62), ("step_count", 2**63), ("cursor", -1), ("epoch", 2**64),
    ("last_loss", "x"), ("summary_every", 0)])
def test_session_counters_out_of_range(tmp_path, session, change):
    arrays = dict(session[1])
    meta = json.loads(str(arrays["run0/state"]))
    meta[change[0]] = change[1]
    arrays["run0/state"] = np.array(json.dumps(meta))
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(SessionError, match=change[0]):
        load_runs(path)


@pytest.mark.parametrize("hyper,value", [("beta1", 1.5), ("lr", -0.1), ("lr", math.nan),
                                         ("beta2", math.inf), ("eps", 0.0)])
def test_session_optimizer_settings_must_be_the_configs(tmp_path, session, hyper, value):
    arrays = dict(session[1])
    meta = json.loads(str(arrays["run0/state"]))
    meta["optimizer"]["hyper"][hyper] = value
    arrays["run0/state"] = np.array(json.dumps(meta, allow_nan=True))
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(SessionError, match="optimizer settings .* differ from the config's"):
        load_runs(path)


@pytest.mark.parametrize("rng", [{"bit_generator": "PCG64", "state": {"state": 2**200, "inc": 1},
                                  "has_uint32": 0, "uinteger": 0},
                                 {"bit_generator": "PCG64", "state": {"state": -1, "inc": -1},
                                  "has_uint32": 0, "uinteger": -1},
                                 {"bit_generator": "MT19937"}, [1, 2], None])
def test_session_generator_state_out_of_range(tmp_path, session, rng):
    arrays = dict(session[1])
    meta = json.loads(str(arrays["run0/state"]))
    meta["rng"] = rng
    arrays["run0/state"] = np.array(json.dumps(meta))
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(SessionError, match="random generator state"):
        load_runs(path)


def test_session_zip_bomb_is_refused_fast(tmp_path, session):
    members = {f"{k}.npy": npz_member(a) for k, a in session[1].items()}
    members["run0/array/order.npy"] = npy_header((2**27,), "<i8") + bytes(8 << 20)
    path = tmp_path / "bomb.npz"
    path.write_bytes(zip_of(members))
    with Timer() as t, pytest.raises(SessionError, match="zip bomb|limit"):
        load_runs(path)
    assert t.seconds < 2


def test_too_many_classes_and_an_oversized_config_are_refused(tmp_path):
    np.savez(tmp_path / "classes.npz", X=np.random.default_rng(0).normal(size=(2000, 2)),
             y=np.arange(2000))
    with pytest.raises(DatasetError, match=r"classes\.npz: 2000 different labels; .* at most 1000"):
        load_dataset("file", path=str(tmp_path / "classes.npz"))
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (5 << 20) + "\n[run]\nlr = 0.1\n")
    with Timer() as t, pytest.raises(ConfigError, match=r"big\.toml is too large for a config"):
        RunConfig.load(big)
    assert t.seconds < 1
    with pytest.raises(ConfigError, match="more than a config may hold"):
        RunConfig.from_toml("# " + "x" * (2 << 20))
