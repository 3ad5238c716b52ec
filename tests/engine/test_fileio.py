"""Atomic writes: the new file gets an ordinary mode, a replaced one keeps its own."""
from __future__ import annotations

import os

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
    import time
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
