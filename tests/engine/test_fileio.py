"""Atomic writes: the new file gets an ordinary mode, a replaced one keeps its own."""
from __future__ import annotations

import os
import time

import pytest

from bnviz.engine.fileio import _umask, write_atomic


def test_new_file_has_the_mode_open_would_give(tmp_path):
    path = tmp_path / "out.toml"
    write_atomic(path, b"x = 1\n")
    assert path.read_bytes() == b"x = 1\n"
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    old = os.umask(0o022)
    os.umask(old)
    assert _umask() == old


def test_replaced_file_keeps_its_mode_and_failure_keeps_the_file(tmp_path, monkeypatch):
    path = tmp_path / "private.npz"
    path.write_bytes(b"old")
    path.chmod(0o600)
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o600

    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(path, b"half")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["private.npz"]


def _left_over(folder, name, age_seconds):
    """A temporary file as write_atomic names them, last touched that long ago."""
    import tempfile
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.bnviz-", suffix=".tmp", dir=folder)
    os.write(fd, b"half a session")
    os.close(fd)
    then = time.time() - age_seconds
    os.utime(tmp, (then, then))
    return tmp


def test_the_next_write_removes_what_interrupted_writes_left(tmp_path):
    """A killed save leaves its temporary file; the next write into the folder
    removes the stale ones (bnviz's names, older than STALE_SECONDS), and
    leaves a write still under way and every other file alone."""
    from bnviz.engine.fileio import STALE_SECONDS
    stale = [_left_over(tmp_path, "run.npz", STALE_SECONDS + 60),
             _left_over(tmp_path, "other.npz", 10 * STALE_SECONDS)]
    young = _left_over(tmp_path, "run.npz", 5)
    # Not bnviz's: another program's ".name.XXXXXXXX.tmp", a user's files.
    keep = [tmp_path / ".notes.tmp", tmp_path / "run.npz.tmp", tmp_path / ".run.npz.bnviz-abc.tmp",
            tmp_path / ".run.npz.abcd1234.tmp"]
    for p in keep:
        p.write_bytes(b"mine")
        os.utime(p, (0, 0))
    write_atomic(tmp_path / "run.npz", b"new")
    left = set(os.listdir(tmp_path))
    assert not any(os.path.basename(s) in left for s in stale)
    assert os.path.basename(young) in left
    assert {p.name for p in keep} <= left and (tmp_path / "run.npz").read_bytes() == b"new"


def test_old_style_temporaries_are_removed_only_when_they_are_bnviz_s(tmp_path):
    """Earlier versions named temporary files ".<name>.<8 characters>.tmp",
    as other programs may. Such a file goes only if it begins as bnviz's
    sessions or settings do, even cut short by a kill; every other stays."""
    from bnviz.engine.config import RunConfig
    from bnviz.engine.fileio import STALE_SECONDS, began_by_bnviz
    from bnviz.engine.session import save_runs
    from bnviz.engine.trainer import Trainer
    whole = tmp_path / "whole.npz"
    save_runs(whole, [Trainer(RunConfig(dataset="moons", n_samples=100, hidden=(4,)))], ["A"])
    session = whole.read_bytes()
    settings = RunConfig(dataset="moons").to_toml().encode()
    old = {".run.npz.a1b2c3d4.tmp": session[:len(session) // 3],    # killed a third of the way
           ".run.npz.zz_99xyz.tmp": session[:200],                   # killed at once
           ".run.toml.q8w7e6r5.tmp": settings[:40]}
    foreign = {".photo.png.a1b2c3d4.tmp": b"\x89PNG\r\n\x1a\n" + bytes(100),
               ".data.npz.a1b2c3d4.tmp": _data_npz(),                # a zip, not a session
               ".notes.txt.abcdefgh.tmp": b"[runs]\nmy own notes\n"}
    for name, data in {**old, **foreign}.items():
        (tmp_path / name).write_bytes(data)
        os.utime(tmp_path / name, (0, 0))
    young = tmp_path / ".run.npz.young123.tmp"
    young.write_bytes(session[:500])
    assert all(began_by_bnviz(tmp_path / n) for n in old)
    assert not any(began_by_bnviz(tmp_path / n) for n in foreign)
    write_atomic(tmp_path / "run.npz", session)
    left = set(os.listdir(tmp_path))
    assert not set(old) & left
    assert set(foreign) <= left and young.name in left
    assert time.time() - young.stat().st_mtime < STALE_SECONDS


def _data_npz() -> bytes:
    import io

    import numpy as np
    buf = io.BytesIO()
    np.savez_compressed(buf, format=np.array("bnviz_data"), x=np.zeros((3, 2)))
    return buf.getvalue()
