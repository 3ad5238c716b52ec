"""Sessions: one or more runs in one ``.npz`` file, continued bit-identically.

Top-level keys: ``format`` ("bnviz_session"), ``version``, ``bnviz_version``,
``labels`` (JSON list, one label per run). Per run, under ``run{i}/``:
``config`` (TOML), ``data_sha256``, ``state`` (JSON: counters, last loss and
accuracy, batch-generator state, optimizer hyper-parameters, BN batch counts,
history row counts, last evaluation's scalars), ``order``, ``labels``,
``param/<name>``, ``grad/<name>``, ``opt/<slot>/<name>``, ``layer{k}/<array>``
(BN statistics and the last forward's values, which ``record()`` reads),
``eval/<field>/<k>`` and ``history/<store>/<column>``.

Text is stored in 0-d unicode arrays and the file is read with
``allow_pickle=False``: nothing in a session is ever executed. The data set is
not stored; it is rebuilt from the config and checked against its hash.
What a run's keys hold, and how they are checked, is in ``session_state``.
"""
from __future__ import annotations

import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

import bnviz

from .fileio import write_atomic
from .session_state import load_run, run_arrays
from .trainer import Trainer

FORMAT = "bnviz_session"
VERSION = 2


class SessionError(ValueError):
    """A session file cannot be saved or loaded; the message names the file and the problem."""


# ------------------------------------------------------------------- saving
def save_runs(path, trainers: list[Trainer], labels: list[str]) -> None:
    """Write every run to one session file at ``path`` (atomically: a failed
    save leaves an existing file as it was)."""
    if len(trainers) != len(labels) or not trainers:
        raise ValueError("save_runs needs one label per run and at least one run")
    arrays = {"format": np.array(FORMAT), "version": np.array(VERSION),
              "bnviz_version": np.array(bnviz.__version__), "labels": np.array(json.dumps(list(labels)))}
    for i, tr in enumerate(trainers):
        arrays.update(run_arrays(tr, f"run{i}/"))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    try:
        write_atomic(path, buf.getvalue())
    except OSError as exc:
        raise SessionError(f"{path}: cannot save the session ({exc.strerror or exc})") from exc


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
        runs.append(load_run(r, f"run{i}/", runs[0] if runs else None))
    return runs, labels


def _read_all(path) -> dict[str, np.ndarray]:
    try:
        if Path(path).is_file() and Path(path).stat().st_size == 0:
            raise SessionError(f"{path}: the file is empty")
        z = np.load(Path(path), allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise SessionError(f"{path}: not a bnviz session (a single array, not an .npz archive)")
        with z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise SessionError(f"{path}: file not found") from None
    except ValueError as exc:
        if isinstance(exc, SessionError):
            raise
        if "Object arrays" in str(exc):
            raise SessionError(f"{path}: holds an object array, which is never loaded "
                               "(unpickling could run code)") from None
        # np.load calls anything that is neither .npy nor zip "pickled" data.
        raise SessionError(f"{path}: not a bnviz session (not an .npz archive)") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError) as exc:
        raise SessionError(f"{path}: not a readable session file, truncated or corrupt ({exc})") from None
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

    def array(self, key: str, shape: tuple, dtype) -> np.ndarray:
        a = self.get(key)
        if a.shape != tuple(shape) or a.dtype != np.dtype(dtype):
            self.fail(f"{key}: expected {np.dtype(dtype)} of shape {tuple(shape)}, "
                      f"got {a.dtype} of shape {a.shape}")
        return np.array(a)  # a private, writable copy

    def number(self, v, what: str, kind=int, lo=0):
        """``v`` checked to be an int >= lo (or, for kind float, any number)."""
        ok = not isinstance(v, bool) and isinstance(v, int if kind is int else (int, float))
        if not ok or (kind is int and v < lo):
            self.fail(f"state: {what} is missing or invalid ({v!r})")
        return v if kind is int else float(v)

