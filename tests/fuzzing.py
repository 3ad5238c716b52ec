"""Bad files for the property tests: valid ones of each kind, mutated.

Hypothesis profiles: "ci" (the default, a few dozen examples per test, the
fuzz tests' share of the suite under a minute) and "long" (selected by
``BNVIZ_FUZZ=long``, to run by hand: ``BNVIZ_FUZZ=long pytest -k fuzz``).
Each strategy starts from a valid file and mutates it: bytes flipped,
truncated at a random offset, members swapped or replaced, values pushed
out of range, nesting deepened, zip features numpy cannot read.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct
import time
import zipfile

import numpy as np
import tomli_w
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bnviz.engine.config import PRESETS, RunConfig

settings.register_profile(   # reproducible: the same examples every run, none saved
    "ci", max_examples=50, deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(   # random examples; failures kept in .hypothesis/ to replay
    "long", max_examples=5000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("BNVIZ_FUZZ", "").strip() or "ci"
settings.load_profile(PROFILE)
# Examples that start a bnviz process (a second or two each).
COMMAND_EXAMPLES = 3 if PROFILE == "ci" else 100

SECONDS = 5.0   # the most a loader may take to accept or refuse a small file


class Timer:
    """``with Timer() as t:`` ... ``t.seconds``."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


# ------------------------------------------------------------ byte level
def flip_bytes(data: bytes, draw) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(out) - 1))
        out[i] ^= draw(st.integers(1, 255))
    return bytes(out)


def truncate(data: bytes, draw) -> bytes:
    return data[:draw(st.integers(0, len(data) - 1))]


def mutate_bytes(data: bytes, draw) -> bytes:
    how = draw(st.sampled_from(["flip", "truncate", "both"]))
    if how in ("flip", "both"):
        data = flip_bytes(data, draw)
    if how in ("truncate", "both") and data:
        data = truncate(data, draw)
    return data


# -------------------------------------------------------------- zip level
def npz_bytes(arrays: dict, compressed: bool) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def npy_header(shape, descr: str, version=(1, 0)) -> bytes:
    """An npy header declaring ``shape`` and ``descr``, with no data after it."""
    buf = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buf, header)
    else:
        np.lib.format.write_array_header_2_0(buf, header)
    return buf.getvalue()


def zip_of(members: dict[str, bytes], compress=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def patch_zip_headers(data: bytes, draw) -> bytes:
    """Rewrite fields of the zip's local and central headers: compression
    method, flags (encryption), version needed to extract."""
    out = bytearray(data)
    field = draw(st.sampled_from(["method", "flags", "version"]))
    value = {"method": draw(st.sampled_from([1, 6, 9, 12, 14, 93, 98, 99])),
             "flags": draw(st.sampled_from([0x1, 0x40, 0x41, 0x2000])),
             "version": draw(st.sampled_from([45, 63, 99, 255]))}[field]
    for sig, offsets in ((b"PK\x03\x04", {"version": 4, "flags": 6, "method": 8}),
                         (b"PK\x01\x02", {"version": 6, "flags": 8, "method": 10})):
        start = 0
        while (i := out.find(sig, start)) >= 0:
            struct.pack_into("<H", out, i + offsets[field], value)
            start = i + 4
    return bytes(out)


def zip_bomb(declared_bytes: int, name: str = "X.npy") -> bytes:
    """An .npz whose member ``name`` declares ``declared_bytes`` of zeros, deflated
    (a small file that np.load would expand, or try to allocate)."""
    n = declared_bytes // 8
    head = npy_header((n, 1), "<f8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w", force_zip64=True) as fh:
            fh.write(head)
            zeros = bytes(1 << 20)
            for _ in range(min(n * 8, 8 << 20) // len(zeros)):   # 8 MiB of data behind the header
                fh.write(zeros)
        zf.writestr("y.npy", npz_member(np.arange(n % 1000 + 10) % 2))
    return buf.getvalue()


def npz_member(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()


# ------------------------------------------------------------ value level
BAD_NUMBERS = [math.inf, -math.inf, math.nan, 1e300, -1e300, 2**62, 2**63, 2**64, -1, -2**63,
               0, 1.5, -0.5, 1e-320, 10**30]
BAD_JSON = BAD_NUMBERS + [None, True, "x", "", [], {}, [1, 2], {"a": 1}]


def json_paths(value, prefix=()):
    """Every path to a value in a JSON document (dict keys and list indexes)."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:8]):
            yield from json_paths(v, prefix + (i,))


def replaced(doc, path, new):
    if not path:
        return new
    doc = json.loads(json.dumps(doc, allow_nan=True))
    target = doc
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = new
    return doc


def nested(depth: int, leaf="1") -> str:
    return "[" * depth + leaf + "]" * depth


def bad_array(draw, like: np.ndarray | None = None) -> np.ndarray:
    """An array of a wrong kind, shape or value for where ``like`` was."""
    shape = like.shape if like is not None and like.ndim else (4,)
    kind = draw(st.sampled_from(["bytes", "str", "datetime", "timedelta", "complex", "bool",
                                 "uint64", "float16", "huge", "nan", "shape", "scalar", "empty",
                                 "int8", "2d", "void"]))
    if kind == "bytes":
        return np.full(shape, b"ab", dtype="S2")
    if kind == "str":
        return np.full(shape, "1", dtype="U1")
    if kind == "datetime":
        return np.zeros(shape, dtype="datetime64[s]")
    if kind == "timedelta":
        return np.zeros(shape, dtype="timedelta64[s]")
    if kind == "complex":
        return np.ones(shape, dtype=np.complex128)
    if kind == "bool":
        return np.ones(shape, dtype=bool)
    if kind == "uint64":
        return np.full(shape, 2**64 - 1, dtype=np.uint64)
    if kind == "float16":
        return np.ones(shape, dtype=np.float16)
    if kind == "huge":
        return np.full(shape, draw(st.sampled_from([1e300, -1e300, 1e38, 2.0**63, 2.0**64])))
    if kind == "nan":
        return np.full(shape, draw(st.sampled_from([np.nan, np.inf, -np.inf])))
    if kind == "shape":
        return np.zeros(tuple(s + 1 for s in shape) + (2,))
    if kind == "scalar":
        return np.array(draw(st.sampled_from([0, 1.5, 2**62, -1])))
    if kind == "empty":
        return np.zeros((0,) + tuple(shape[1:]))
    if kind == "int8":
        return np.full(shape, -3, dtype=np.int8)
    if kind == "2d":
        return np.zeros((2, 3, 4))
    return np.zeros(shape, dtype=[("a", "<f8"), ("b", "<i4")])


# ------------------------------------------------------------- file kinds
SMALL = RunConfig(dataset="moons", n_samples=60, hidden=(4, 3), batch_size=8, optimizer="adam",
                  lr=0.01, dtype="float64")
FIELDS = list(RunConfig().to_dict())


@st.composite
def config_texts(draw) -> str:
    """A preset's TOML, then one of: bytes flipped or cut, a value replaced
    by one out of range or of the wrong type (dates, tables, inf, NaN), or
    a value nested in arrays up to thousands of levels deep."""
    cfg = PRESETS[draw(st.sampled_from(sorted(PRESETS)))]
    data = cfg.to_dict()
    how = draw(st.sampled_from(["bytes", "value", "nest", "table", "keys"]))
    if how == "bytes":
        raw = mutate_bytes(cfg.to_toml().encode(), draw)
        return raw.decode("utf-8", errors=draw(st.sampled_from(["replace", "ignore"])))
    key = draw(st.sampled_from(FIELDS))
    if how == "nest":
        depth = draw(st.integers(1, 5000))
        lines = [ln for ln in cfg.to_toml().splitlines() if not ln.startswith(key + " ")]
        return "\n".join(lines + [f"{key} = {nested(depth)}"]) + "\n"
    if how == "table":
        depth = draw(st.integers(1, 3000))
        return "[run]\n" + f"{key} = " + "{a = " * depth + "1" + "}" * depth + "\n"
    if how == "keys":
        return "[run]\n" + "".join(f"[run{'.x' * i}]\n" for i in range(draw(st.integers(1, 300))))
    value = draw(st.one_of(
        st.sampled_from([v for v in BAD_NUMBERS if not (isinstance(v, int) and abs(v) >= 2**63)]),
        st.dates(), st.datetimes(), st.times(), st.text(max_size=20), st.booleans(),
        st.lists(st.integers(-2**63, 2**63 - 1), max_size=20), st.dictionaries(st.text(max_size=3),
                                                                                st.integers(), max_size=3),
        st.floats()))
    data[key] = value
    return tomli_w.dumps({"run": data})


def good_csv(draw) -> str:
    n = draw(st.integers(10, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.normal(size=(n, 2))
    labels = draw(st.sampled_from([["0", "1"], ["a", "b", "c"], ["1", "2.0", "10"]]))
    header = draw(st.booleans())
    rows = ["label,x1,x2"] if header else []
    rows += [f"{labels[i % len(labels)]},{x[i, 0]:.4f},{x[i, 1]:.4f}" for i in range(n)]
    return "\n".join(rows) + "\n"


CSV_CELLS = ["1e300", "-1e300", "1e308", "nan", "inf", "", "abc", "9223372036854775808",
             "18446744073709551616", "-1", "1.5", "0x10", "1e-320", '"', "\x00", "1,2"]


@st.composite
def csv_files(draw) -> bytes:
    text = good_csv(draw)
    how = draw(st.sampled_from(["bytes", "cell", "column", "label"]))
    if how == "bytes":
        return mutate_bytes(text.encode(), draw)
    rows = [r.split(",") for r in text.splitlines()]
    r = draw(st.integers(0, len(rows) - 1))
    if how == "column":
        rows[r].append(draw(st.sampled_from(CSV_CELLS)))
    else:
        c = 0 if how == "label" else draw(st.integers(0, len(rows[r]) - 1))
        for rr in draw(st.lists(st.integers(0, len(rows) - 1), min_size=1, max_size=len(rows))) + [r]:
            rows[rr][c] = draw(st.sampled_from(CSV_CELLS))
    return ("\n".join(",".join(row) for row in rows) + "\n").encode()


def good_arrays(draw) -> dict:
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n = draw(st.integers(10, 24))
    x = rng.normal(size=(n, 3)).astype(draw(st.sampled_from([np.float64, np.float32, np.int16])))
    y = np.arange(n) % draw(st.integers(2, 3))
    if draw(st.booleans()):
        k = n // 2
        return {"x_train": x[:k], "y_train": y[:k], "x_test": x[k:], "y_test": y[k:]}
    return {draw(st.sampled_from(["X", "x"])): x, "y": y}


@st.composite
def npz_files(draw) -> bytes:
    arrays = good_arrays(draw)
    how = draw(st.sampled_from(["bytes", "array", "swap", "extra", "zip", "header", "bomb", "big_label"]))
    names = sorted(arrays)
    if how == "array":
        k = draw(st.sampled_from(names))
        arrays[k] = bad_array(draw, arrays[k])
    elif how == "swap":
        a, b = draw(st.permutations(names))[:2]
        arrays[a], arrays[b] = arrays[b], arrays[a]
    elif how == "big_label":
        k = next(n for n in names if n.startswith("y"))
        y = arrays[k].astype(np.uint64)
        y[0] = draw(st.sampled_from([2**63, 2**64 - 1]))
        arrays[k] = y if draw(st.booleans()) else y.astype(np.float64)
    members = {f"{k}.npy": npz_member(a) for k, a in arrays.items()}
    if how == "extra":
        members[draw(st.sampled_from(["notes.txt", "X", "y", "dir/", "meta.json"]))] = b"hello"
    if how == "header":
        k = draw(st.sampled_from(names))
        shape = draw(st.sampled_from([(2**40, 1), (2**31, 2**31), (10, -1), (2**62,), (10**6, 300)]))
        descr = draw(st.sampled_from(["<f8", "|u1", "<M8[s]", "|O", "<U1000000", "|V16"]))
        members[f"{k}.npy"] = npy_header(shape, descr) + b"\0" * draw(st.integers(0, 64))
    if how == "bomb":
        return zip_bomb(draw(st.sampled_from([1 << 30, 1 << 41])))
    compress = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                     zipfile.ZIP_LZMA]))
    data = zip_of(members, compress)
    if how == "bytes":
        data = mutate_bytes(data, draw)
    elif how == "zip":
        data = patch_zip_headers(data, draw)
    return data


@st.composite
def session_files(draw, good) -> bytes:
    data, arrays = good
    arrays = dict(arrays)
    how = draw(st.sampled_from(["bytes", "zip", "meta", "meta", "meta", "array", "array",
                                "swap", "delete", "config", "header", "labels"]))
    run = draw(st.sampled_from(sorted({k.split("/")[0] for k in arrays if k.startswith("run")})))
    if how == "bytes":
        return mutate_bytes(data, draw)
    if how == "zip":
        return patch_zip_headers(data, draw)
    names = sorted(arrays)
    if how == "meta":
        meta = json.loads(str(arrays[f"{run}/state"]))
        path = draw(st.sampled_from(list(json_paths(meta))))
        new = draw(st.sampled_from(BAD_JSON))
        arrays[f"{run}/state"] = np.array(json.dumps(replaced(meta, path, new), allow_nan=True))
    elif how == "labels":
        labels = json.loads(str(arrays["labels"]))
        path = draw(st.sampled_from(list(json_paths(labels))))
        arrays["labels"] = np.array(json.dumps(replaced(labels, path, draw(st.sampled_from(BAD_JSON))),
                                               allow_nan=True))
    elif how == "array":
        k = draw(st.sampled_from(names))
        arrays[k] = bad_array(draw, arrays[k])
    elif how == "swap":
        a, b = draw(st.permutations(names))[:2]
        arrays[a], arrays[b] = arrays[b], arrays[a]
    elif how == "delete":
        del arrays[draw(st.sampled_from(names))]
    elif how == "config":
        text = str(arrays[f"{run}/config"])
        key = draw(st.sampled_from(FIELDS))
        value = draw(st.sampled_from(["inf", "nan", "-1", nested(draw(st.integers(1, 5000))),
                                      "2024-01-01", '"x"', "{a = 1}", "1e300"]))
        lines = [ln for ln in text.splitlines() if not ln.startswith(key + " ")]
        arrays[f"{run}/config"] = np.array("\n".join(lines + [f"{key} = {value}"]))
    members = {f"{k}.npy": npz_member(a) for k, a in arrays.items()}
    if how == "header":
        k = draw(st.sampled_from(names))
        members[f"{k}.npy"] = npy_header(draw(st.sampled_from([(2**40,), (2**20, 2**20), (3, 5)])),
                                         draw(st.sampled_from(["<f8", "<i8", "|O", "<U9"])))
    return zip_of(members)


def good_session(path) -> tuple[bytes, dict]:
    """A saved comparison of two short runs (stepped, evaluated; B without
    BN and with momentum, on A's data): its bytes and its arrays."""
    from bnviz.engine.session import save_runs
    from bnviz.engine.trainer import Trainer
    runs = [Trainer(SMALL), Trainer(SMALL.replace(batchnorm=False, optimizer="momentum"))]
    for tr in runs:
        tr.advance(3)
        tr.evaluate()
    save_runs(path, runs, ["A", "B: no BN"])
    with np.load(path) as z:
        return path.read_bytes(), {k: z[k] for k in z.files}
