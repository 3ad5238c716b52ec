"""Reading ``.npz`` archives that may be hostile: limits before reading.

``np.load`` trusts an archive: a member's header may declare terabytes
(``MemoryError``), a small deflated member may expand to gigabytes (a zip
bomb keeps the reader busy for minutes), a member without ``.npy`` comes back
as ``bytes``, and zip features it cannot read raise ``NotImplementedError``.
``read_npz`` reads each member's npy header first (shape and dtype, without
the data), checks the declared size against ``limit`` and, for a compressed
member, against the file's real size times the most that deflate can expand
(``MAX_DEFLATE_RATIO``), and only then reads exactly that many bytes.
Every problem is an ``NpzError`` naming the member; callers turn it into
their own error.
"""
from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

# Deflate cannot expand data more than about 1032 times; a member that
# claims more than this ratio to the whole file is corrupt or a zip bomb.
MAX_DEFLATE_RATIO = 1100
_HEADER_SLACK = 1 << 16   # npy header and zip framing of a stored member
_CHUNK = 1 << 22          # read 4 MiB at a time
DEFAULT_LIMIT = 1 << 30   # 1 GiB of array data
LIMIT_ENV = "BNVIZ_MAX_DATA_MB"
# The limits a user may set, in MiB: from about a kilobyte to a petabyte (beyond: a typo).
LIMIT_MB_RANGE = (0.001, float(1 << 30))
# How a user raises the limit, for the messages of files refused by it.
HOW_TO_RAISE = f"File › Data size limit… in the window, --max-data-mb or {LIMIT_ENV}"


class NpzError(ValueError):
    """An archive or one of its members cannot be read safely."""


class TooLarge(NpzError):
    """The arrays declare more bytes than the limit allows."""

    def __init__(self, declared: int, limit: int, what: str):
        super().__init__(f"{what} {human_bytes(declared)}, more than the limit of "
                         f"{human_bytes(limit)} (raise it with {HOW_TO_RAISE})")
        self.declared, self.limit = declared, limit


def data_limit() -> int:
    """The most bytes of array data a file may hold: ``DEFAULT_LIMIT``, or
    ``BNVIZ_MAX_DATA_MB`` megabytes when that is set to a positive number."""
    return max(1, int(data_limit_mb() * (1 << 20)))


def set_data_limit_mb(mb: float | None) -> None:
    """Make ``mb`` MiB the limit of the files this process reads from now on
    (None: back to ``DEFAULT_LIMIT``). Kept in ``BNVIZ_MAX_DATA_MB``, so
    that a process started after it inherits it; one started before is
    told with the training process's ``set_data_limit`` command."""
    if mb is None:
        os.environ.pop(LIMIT_ENV, None)
    else:
        lo, hi = LIMIT_MB_RANGE
        if not lo <= mb <= hi:
            raise ValueError(f"a data limit must be from {lo:g} to {hi:.0f} MiB, not {mb!r}")
        os.environ[LIMIT_ENV] = repr(float(mb))


def data_limit_mb() -> float:
    """The limit in MiB, as it was set (the window's dialog shows it)."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    try:
        mb = float(text) if text else 0.0
    except ValueError:
        mb = 0.0
    return mb if math.isfinite(mb) and mb > 0 else DEFAULT_LIMIT / (1 << 20)


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} bytes"


def read_npz(path, limit: int | None = None, kinds: str = "biufcUS",
             names=None) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path`` by name (``.npy`` stripped),
    or only those of ``names`` that it holds (the other members unread).

    ``kinds``: the dtype kinds accepted (object arrays never are: nothing is
    unpickled). Raises NpzError (TooLarge for the size limit) for anything
    unreadable, OSError if the file cannot be opened."""
    path = Path(path)
    limit = data_limit() if limit is None else limit
    file_size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            plans, total = [], 0
            if names is not None:
                infos = [i for i in infos if i.filename.endswith(".npy") and i.filename[:-4] in names]
            for info in infos:
                plan = _plan(zf, info, file_size, limit, kinds)
                total += plan[3]
                if total > limit:
                    raise TooLarge(total, limit, "the arrays hold at least")
                plans.append(plan)
            return {name: _read(zf, info, *header) for name, info, header, _ in plans}
    except NpzError:
        raise
    except zipfile.BadZipFile as exc:
        raise NpzError(f"a corrupt zip archive ({exc})") from None
    except NotImplementedError as exc:   # zip features zipfile lacks
        raise NpzError(f"uses a zip feature that cannot be read ({exc})") from None
    except RuntimeError as exc:          # encrypted members
        raise NpzError(f"cannot be read ({exc})") from None
    except MemoryError:   # within the limit, but more than this machine has free
        raise NpzError(f"needs more memory than is free (its arrays are within the limit of "
                       f"{human_bytes(limit)})") from None
    except (zlib.error, EOFError, ValueError, OverflowError) as exc:
        raise NpzError(f"truncated or corrupt ({type(exc).__name__}: {exc})") from None
    except OSError as exc:
        if path.exists() and not isinstance(exc, PermissionError):
            raise NpzError(f"truncated or corrupt ({exc})") from None
        raise


def _plan(zf: zipfile.ZipFile, info: zipfile.ZipInfo, file_size: int, limit: int, kinds: str):
    """(name, info, (shape, dtype, fortran), declared bytes) of one member,
    from its header alone; NpzError if it is not an array bnviz may read."""
    raw = info.filename
    if not raw.endswith(".npy") or info.is_dir():
        raise NpzError(f"member {raw!r} is not a NumPy array (.npy)")
    name = raw[:-4]
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise NpzError(f"member {raw!r} uses zip compression method {info.compress_type}; "
                       "only stored and deflated members (numpy.savez, savez_compressed) are read")
    if info.flag_bits & 0x1:
        raise NpzError(f"member {raw!r} is encrypted")
    with zf.open(info) as fp:
        try:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
            else:
                raise NpzError(f"member {raw!r}: unsupported npy format version {version}")
        except NpzError:
            raise
        except (ValueError, SyntaxError, TypeError, EOFError, RecursionError, MemoryError) as exc:
            raise NpzError(f"member {raw!r} has no valid npy header ({type(exc).__name__}: "
                           f"{str(exc)[:200]})") from None
    dtype = np.dtype(dtype)
    if dtype.hasobject or dtype.kind == "O":
        raise NpzError(f"member {raw!r} holds object arrays, which need pickle and are "
                       "never loaded (unpickling could run code)")
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        raise NpzError(f"member {raw!r} has dtype {dtype}, not plain numbers"
                       + (" or text" if "U" in kinds else ""))
    if dtype.itemsize == 0 and dtype.kind in "US":
        raise NpzError(f"member {raw!r} has dtype {dtype} of zero width")
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise NpzError(f"member {raw!r} declares an invalid shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > limit:
        raise TooLarge(nbytes, limit, f"member {name!r} declares")
    bound = file_size * MAX_DEFLATE_RATIO if info.compress_type == zipfile.ZIP_DEFLATED \
        else file_size + _HEADER_SLACK
    if nbytes > bound or info.file_size > bound:
        raise NpzError(f"member {raw!r} declares {human_bytes(max(nbytes, info.file_size))}, "
                       f"more than a file of {human_bytes(file_size)} can hold (corrupt, or a "
                       "zip bomb)")
    return name, info, (tuple(shape), dtype, fortran), nbytes


def _read(zf: zipfile.ZipFile, info, shape, dtype, fortran) -> np.ndarray:
    """The member's data: exactly the declared bytes, read in chunks."""
    out = np.empty(math.prod(shape), dtype=dtype)
    view = memoryview(out.view(np.uint8).reshape(-1)) if out.size else memoryview(b"")
    with zf.open(info) as fp:
        version = np.lib.format.read_magic(fp)
        (np.lib.format.read_array_header_1_0 if version == (1, 0)
         else np.lib.format.read_array_header_2_0)(fp)
        done = 0
        while done < len(view):
            chunk = fp.read(min(_CHUNK, len(view) - done))
            if not chunk:
                raise NpzError(f"member {info.filename!r} is truncated "
                               f"({done} of {len(view)} data bytes)")
            view[done:done + len(chunk)] = chunk
            done += len(chunk)
    return out.reshape(shape, order="F" if fortran else "C")
