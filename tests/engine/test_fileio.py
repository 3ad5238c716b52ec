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
