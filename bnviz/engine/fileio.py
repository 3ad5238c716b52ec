"""Atomic file writes: a temporary file in the same folder, then a rename.

A write that is killed (the app closed by force, the machine off) leaves its
temporary file behind; the next write into that folder removes such files,
recognised by the names write_atomic gives them and by their age.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import zlib
from pathlib import Path

# ".<target name>.bnviz-<mkstemp's 8 characters>.tmp", as write_atomic names
# them: the marker keeps other programs' ".name.XXXXXXXX.tmp" files out.
TEMPORARY_PREFIX = ".{name}.bnviz-"
TEMPORARY_NAME = re.compile(r"^\..+\.bnviz-[A-Za-z0-9_]{8}\.tmp$")
STALE_SECONDS = 600   # no write takes this long: an older temporary file was abandoned


# Earlier versions named them ".<target name>.<8 characters>.tmp", as other
# programs may: such a file is taken for bnviz's only by what it begins with.
OLD_TEMPORARY_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
# The first member of every session file (``session.FORMAT``), declared here,
# below the session module, which writes through this one.
SESSION_TAG = "bnviz_session"
_PEEK = 1 << 12   # bytes read of an old-style file to tell whose it is


def remove_stale(folder: str | Path, name: re.Pattern, folders: bool = False,
                 older_than: float = STALE_SECONDS, ours=None) -> list[Path]:
    """Remove what interrupted work left in ``folder``: files (or with
    ``folders``, folders and all they hold) whose whole name matches ``name``
    and that are untouched for ``older_than`` seconds (work still going on,
    in this or another bnviz, is younger). Symbolic links are never
    followed. ``ours(path)``, if given, must also say yes. Returns what was
    removed; what cannot be is left quietly."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not name.fullmatch(entry.name):
            continue
        try:
            kind_ok = entry.is_dir(follow_symlinks=False) if folders else entry.is_file(follow_symlinks=False)
            if (kind_ok and now - entry.stat(follow_symlinks=False).st_mtime > older_than
                    and (ours is None or ours(entry.path))):
                shutil.rmtree(entry.path) if folders else os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """The temporary files of interrupted write_atomic calls in ``folder``:
    today's names, and the old-style names of earlier versions' sessions and
    settings (``began_by_bnviz``)."""
    return (remove_stale(folder, TEMPORARY_NAME)
            + remove_stale(folder, OLD_TEMPORARY_NAME, ours=began_by_bnviz))


def began_by_bnviz(path: str | Path) -> bool:
    """Whether the (possibly truncated) file at ``path`` begins as bnviz's
    sessions and settings do: a zip whose first member is the session tag
    ("format.npy", deflated, holding "bnviz_session"), or TOML text opening
    with bnviz's "[run]" table. Reads at most 4 KiB; never raises."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_PEEK)
    except OSError:
        return False
    if head.startswith(b"[run]\n"):
        return True
    if not head.startswith(b"PK\x03\x04") or len(head) < 30:
        return False
    method = int.from_bytes(head[8:10], "little")
    name_len, extra_len = int.from_bytes(head[26:28], "little"), int.from_bytes(head[28:30], "little")
    if head[30:30 + name_len] != b"format.npy":
        return False
    body = head[30 + name_len + extra_len:]
    try:
        body = zlib.decompressobj(-15).decompress(body, _PEEK) if method == 8 else body
    except zlib.error:
        return False
    # The tag is a NumPy unicode scalar: UTF-32 in the file.
    return SESSION_TAG.encode("utf-32-le") in body


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new
    one, never a half-written mix; on any error the old file is untouched
    and the temporary file removed. Stale temporary files of earlier,
    interrupted writes in the same folder are removed first."""
    path = Path(path)
    remove_stale_temporaries(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=TEMPORARY_PREFIX.format(name=path.name), suffix=".tmp",
                               dir=path.parent)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain
        # open() would (0666 less the umask), or keep the replaced file's.
        try:
            mode = os.stat(path).st_mode & 0o777
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    """The process umask, read without changing it where the system says it
    (os.umask can only read it by setting it, which races other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask
