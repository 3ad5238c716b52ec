"""Sessions: one or more runs in one ``.npz`` file, continued bit-identically.

A one-way codec: it asks each run for its ``Trainer.state_dict()`` and
writes it, then reads it back and hands it to ``load_state_dict()`` of a
Trainer rebuilt from the run's config; what a state holds and how it is
checked is each component's own business (see ``state``).

Top-level keys: ``format`` ("bnviz_session"), ``version``, ``bnviz_version``,
``labels`` (JSON list, one label per run). Per run, under ``run{i}/``:
``config`` (TOML), ``data_sha256``, ``state`` (JSON: the state's ``meta``),
and ``array/<name>`` for each of the state's arrays.

Text is stored in 0-d unicode arrays and the file is read with
``allow_pickle=False``: nothing in a session is ever executed. The data set is
not stored; it is rebuilt from the config and checked against its hash.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

import bnviz

from .compare import Comparison, run_letter, same_data
from .config import ConfigError, RunConfig
from .data import DatasetError
from .fileio import SESSION_TAG, write_atomic
from .npzfile import NpzError, TooLarge, read_npz
from .state import StateError
from .trainer import Trainer

FORMAT = SESSION_TAG
VERSION = 2   # 2: histories at one resolution (SeriesStore), components' own states


# What a value no check foresaw may raise while a run is rebuilt from it;
# the message says "unexpected", and the property tests look for it (a check to add).
UNEXPECTED = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError,
              ZeroDivisionError)


class SessionError(ValueError):
    """A session file cannot be saved or loaded; the message names the file and the problem."""


# ------------------------------------------------------------------- saving
def save_runs(path, trainers: list[Trainer], labels: list[str]) -> None:
    """Write every run to one session file at ``path`` (atomically: a failed
    save leaves an existing file as it was)."""
    if len(trainers) != len(labels) or not trainers:
        raise ValueError("save_runs needs one label per run and at least one run")
    write_runs(path, [run_arrays(tr, i) for i, tr in enumerate(trainers)], labels)


def write_runs(path, runs: list[dict], labels: list[str]) -> None:
    """``save_runs`` of runs already turned into arrays (``run_arrays``),
    e.g. by the training processes that own them."""
    if len(runs) != len(labels) or not runs:
        raise ValueError("write_runs needs one label per run and at least one run")
    arrays = {"format": np.array(FORMAT), "version": np.array(VERSION),
              "bnviz_version": np.array(bnviz.__version__), "labels": np.array(json.dumps(list(labels)))}
    for run in runs:
        arrays.update(run)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    try:
        write_atomic(path, buf.getvalue())
    except OSError as exc:
        raise SessionError(f"{path}: cannot save the session ({exc.strerror or exc})") from exc


def check_save_path(path) -> None:
    """SessionError unless a session could be saved at ``path`` now: not a
    folder, in a folder that exists and takes a new file (tried by creating
    and removing one), so a run does not train for nothing."""
    import os
    import tempfile
    p = Path(path)
    if p.is_dir():
        raise SessionError(f"{path}: cannot save the session there (it is a folder)")
    folder = p.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except (OSError, ValueError) as exc:
        reason = "no such folder" if isinstance(exc, FileNotFoundError) else \
            getattr(exc, "strerror", None) or str(exc)
        raise SessionError(f"{path}: cannot save the session there ({reason})") from None


# ------------------------------------------------------------------ loading
def load_runs(path) -> tuple[list[Trainer], list[str]]:
    """The runs and labels saved by ``save_runs``. Raises SessionError for
    any unusable file; nothing is built from it until it has been read whole."""
    r = _Reader(_read_all(path), path)
    if r.text("format") != FORMAT:
        r.fail("not a bnviz session (wrong format tag)")
    version = r.json_of(r.text("version"), "version")
    if not isinstance(version, int) or version < 1:
        r.fail(f"invalid format version {version!r}")
    if version < VERSION:
        r.fail(f"saved by an older bnviz (session format {version}); this version reads format "
               f"{VERSION}, whose history keeps long runs at one resolution. Open it with the "
               "bnviz that saved it and export the data, or train the run again")
    if version > VERSION:
        r.fail(f"saved by a newer bnviz (session format {version}; this version reads up to {VERSION})")
    labels = r.json_of(r.text("labels"), "labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(s, str) for s in labels):
        r.fail("labels: expected a non-empty list of strings")
    runs: list[Trainer] = []
    for i in range(len(labels)):
        try:
            runs.append(_load_run(r, f"run{i}/", runs[0] if runs else None))
        except SessionError:
            raise
        except UNEXPECTED as exc:   # a value no check foresaw: still this file's problem
            r.fail(f"run{i} does not fit this bnviz (unexpected: {type(exc).__name__}: "
                   f"{str(exc)[:200]})")
    return runs, labels


def save_trainer(path, trainer: Trainer) -> None:
    """Save one run (``load_trainer`` continues it bit-identically)."""
    save_runs(path, [trainer], [""])


def load_trainer(path) -> Trainer:
    """The run saved by ``save_trainer``; SessionError for any unusable file."""
    runs, _ = load_runs(path)
    if len(runs) != 1:
        raise SessionError(f"{path}: holds {len(runs)} runs; open it as a comparison")
    return runs[0]


def save_comparison(path, comparison: Comparison, labels: list[str] | None = None) -> None:
    """Save every run of a comparison (labels default to A, B, ...)."""
    save_runs(path, comparison.runs, labels or [run_letter(i) for i in range(len(comparison.runs))])


def load_comparison(path) -> Comparison:
    """The comparison saved by ``save_comparison``: its runs continue in
    lockstep exactly as before. SessionError for any unusable file."""
    runs, _ = load_runs(path)
    if len(runs) < 2:
        raise SessionError(f"{path}: holds a single run, not a comparison")
    return Comparison.from_runs(runs)


# ---------------------------------------------------------------- one run
def data_fingerprint(tr: Trainer) -> str:
    """SHA-256 of the train/test arrays, their shapes and dtypes."""
    h = hashlib.sha256()
    for a in (tr.x_train, tr.y_train, tr.x_test, tr.y_test):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _text(s: str) -> np.ndarray:
    return np.array(s, dtype=np.str_)


def run_arrays(tr: Trainer, i: int) -> dict[str, np.ndarray]:
    """Run ``i`` of a session: its arrays under ``run{i}/``."""
    p = f"run{i}/"
    state = tr.state_dict()
    out = {p + "config": _text(tr.config.to_toml()), p + "data_sha256": _text(data_fingerprint(tr)),
           p + "state": _text(json.dumps(state["meta"], allow_nan=True))}
    out.update({f"{p}array/{k}": a for k, a in state["arrays"].items()})
    return out


def _load_run(r: _Reader, p: str, first: Trainer | None) -> Trainer:
    try:
        config = RunConfig.from_toml(r.text(p + "config"))
    except ConfigError as exc:
        r.fail(f"{p}config: invalid setting {exc.field!r}: {exc.message}")
    meta = r.json_of(r.text(p + "state"), p + "state")
    if not isinstance(meta, dict):
        r.fail(f"{p}state: expected a JSON object")
    every = meta.get("summary_every")
    if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every < 2**31:
        r.fail(f"{p}state: summary_every is missing or out of range ({every!r})")
    # As Comparison does: runs on A's data share its arrays.
    shared = first.data if first is not None and same_data(first.config, config) else None
    try:
        tr = Trainer(config, dataset=shared, summary_every=every,
                     summary_growth=meta.get("summary_growth") is True)
    except ConfigError as exc:
        r.fail(f"{p}config: invalid setting {exc.field!r}: {exc.message}")
    except DatasetError as exc:
        r.fail(f"the data of {p[:-1]} cannot be loaded: {exc}")
    except ValueError as exc:
        r.fail(f"{p[:-1]} cannot be rebuilt from its config: {exc}")
    if data_fingerprint(tr) != r.text(p + "data_sha256"):
        r.fail(f"the data of {p[:-1]} ({config.data_path or config.dataset}) changed since the "
               "session was saved; the run cannot be continued on different data")
    prefix = p + "array/"
    arrays = {k[len(prefix):]: a for k, a in r.arrays.items() if k.startswith(prefix)}
    try:
        tr.load_state_dict({"meta": meta, "arrays": arrays})
    except StateError as exc:
        r.fail(f"{p[:-1]}: {exc}")
    return tr


def _read_all(path) -> dict[str, np.ndarray]:
    """Every array of the file, each member's declared size checked against
    the limit before it is read (see ``npzfile``); nothing is unpickled."""
    try:
        p = Path(path)
        if p.is_file() and p.stat().st_size == 0:
            raise SessionError(f"{path}: the file is empty")
        if not zipfile.is_zipfile(p):
            with p.open("rb") as fh:
                zip_start = fh.read(4) == b"PK\x03\x04"
            raise SessionError(f"{path}: not a readable session file, truncated or corrupt" if zip_start
                               else f"{path}: not a bnviz session (not an .npz archive)")
        return read_npz(p, kinds="biufU")
    except FileNotFoundError:
        raise SessionError(f"{path}: file not found") from None
    except TooLarge as exc:
        raise SessionError(f"{path}: too large to load: {exc}") from None
    except NpzError as exc:
        if "object arrays" in str(exc):
            raise SessionError(f"{path}: holds an object array, which is never loaded "
                               "(unpickling could run code)") from None
        raise SessionError(f"{path}: not a readable session file: {exc}") from None
    except OSError as exc:
        raise SessionError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


class _Reader:
    """Typed access to the file's arrays; every failure is a SessionError."""

    def __init__(self, arrays: dict[str, np.ndarray], path):
        self.arrays, self.path = arrays, path

    def fail(self, message: str):
        raise SessionError(f"{self.path}: {message}")

    def get(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            self.fail(f"missing array {key!r}")
        return self.arrays[key]

    def text(self, key: str) -> str:
        a = self.get(key)
        if a.shape != () or a.dtype.kind not in "Ui":
            self.fail(f"{key}: expected a text or integer scalar, got {a.dtype}{list(a.shape)}")
        return str(a.item())

    def json_of(self, text: str, key: str):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            self.fail(f"{key}: not valid JSON")
