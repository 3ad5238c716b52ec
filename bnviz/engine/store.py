"""SeriesStore: a run's series at one resolution over the whole run, in
bounded memory, with no append that copies the store.

Rows arrive one per recorded step. The newest ``window`` rows are kept
whole (the *recent* part). Older rows are merged into buckets of
``stride`` steps aligned to step 1 (the *older* part): bucket b holds the
steps ``(b*stride, (b+1)*stride]``, so the older part is evenly spaced.
When the older part reaches ``capacity`` rows the stride doubles for the
whole of it at once: neighbouring buckets merge pairwise, a few rows per
append, into a new array, while snapshots go on showing the old one.
(Thinning only the oldest rows again and again leaves the start of a long
run with a handful of rows: the early curves become straight lines.)

What a merged row keeps depends on its column's kind:

- ``"mean"`` (noisy per-step values: loss, batch statistics, gradient
  norms): the mean over the bucket, and its envelope in the columns
  ``name.min`` and ``name.max``, so spikes and the noise band survive;
- ``"last"`` (state: gamma, beta, running statistics, counters): the value
  at the bucket's last step;
- ``"avg"`` (percentile summaries): the mean, without envelope.

Every row says which steps it covers: ``step`` (its last), ``step_first``
and ``step_count`` (how many recorded rows it merges).

Snapshots are read-only and never change: rows are only ever written past
the end of every snapshot, and a stride change writes a newly allocated
array. Recent rows live in fixed-size chunks, so nothing grows by copying.
Columns of one kind and dtype share one 2-D block, so merging costs a few
NumPy calls per block, not per column.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping

import numpy as np

KINDS = ("mean", "last", "avg")
CHUNK_BYTES = 256 * 2**10   # recent rows merged at once
MAX_PART_BYTES = 2**30      # what a saved store may ask for, older or recent part
COVER = "cover"             # the older part's block of (step_first, step_count)


def _pow2_at_most(n: int) -> int:
    return 1 << max(0, int(n).bit_length() - 1)


class _Layout:
    """Where each column lives: (block, offset, size, shape). Blocks are
    named ``kind/dtype``; the older part adds ``min/dtype`` and ``max/dtype``
    (the envelopes of each ``mean`` block) and ``cover``."""

    def __init__(self, shapes, dtypes, kinds):
        self.raw: dict[str, tuple[str, int, int, tuple]] = {}
        widths: dict[str, int] = {}
        self.block_dtype: dict[str, np.dtype] = {}
        for k, shape in shapes.items():
            block = f"{kinds[k]}/{dtypes[k].name}"
            size = int(np.prod(shape, dtype=np.int64))
            self.raw[k] = (block, widths.get(block, 0), size, tuple(shape))
            widths[block] = widths.get(block, 0) + size
            self.block_dtype[block] = dtypes[k]
        self.raw_widths = dict(widths)
        self.old = dict(self.raw)
        for k, (block, off, size, shape) in self.raw.items():
            if block.startswith("mean/"):
                for edge in ("min", "max"):
                    self.old[f"{k}.{edge}"] = (edge + block[4:], off, size, shape)
        for block in [b for b in widths if b.startswith("mean/")]:
            for edge in ("min", "max"):
                widths[edge + block[4:]] = widths[block]
                self.block_dtype[edge + block[4:]] = self.block_dtype[block]
        widths[COVER], self.block_dtype[COVER] = 2, np.dtype(np.int64)
        self.old["step_first"] = (COVER, 0, 1, ())
        self.old["step_count"] = (COVER, 1, 1, ())
        self.old_widths = widths

    def row_bytes(self, widths) -> int:
        return max(1, sum(w * self.block_dtype[b].itemsize for b, w in widths.items()))


class SeriesStore:
    """Named columns of fixed per-row shape, one kind each (module
    docstring); ``step`` (int64, increasing) is required."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], budget_bytes: int = 48 * 2**20,
                 min_capacity: int = 256, dtypes: dict | None = None, kinds: dict | None = None,
                 window: int | None = None, dtype=np.float32):
        if "step" not in shapes:
            raise ValueError("a SeriesStore needs a 'step' column")
        self.shapes = {k: tuple(s) for k, s in shapes.items()}
        dtypes, kinds = dtypes or {}, kinds or {}
        self.dtypes = {k: np.dtype(dtypes.get(k, dtype)) for k in self.shapes}
        self.dtypes["step"] = np.dtype(np.int64)
        self.kinds = {k: kinds.get(k, "last") for k in self.shapes}
        self.kinds["step"] = "last"
        bad = sorted(k for k, v in self.kinds.items() if v not in KINDS)
        if bad:
            raise ValueError(f"column {bad[0]!r}: unknown kind {self.kinds[bad[0]]!r}")
        self.layout = lay = _Layout(self.shapes, self.dtypes, self.kinds)
        self.keys = tuple(lay.old)
        self._step_at = lay.raw["step"][:2]
        raw, old = lay.row_bytes(lay.raw_widths), lay.row_bytes(lay.old_widths)
        # Small stores (tests, tiny budgets) get small chunks, so they merge early.
        self.chunk_rows = max(8, min(1024, _pow2_at_most(CHUNK_BYTES // raw),
                                     _pow2_at_most(max(1, budget_bytes // 8 // raw))))
        self.transition_rows = max(8, CHUNK_BYTES // old)
        if window is None:
            # Enough for the newest steps at full resolution; each of its chunks
            # is a part a snapshot joins, so not more.
            window = budget_bytes // 16 // raw
        self.window = max(2 * self.chunk_rows, -(-int(window) // self.chunk_rows) * self.chunk_rows)
        cap = max(int(min_capacity), int(budget_bytes - self.window * raw) // old, 16)
        self.capacity = cap // 2 * 2
        self.clear()

    def clear(self) -> None:
        """Forget every row."""
        self.stride = 1
        self._old, self._n_old = self._level(), 0
        self._chunks: list[tuple[dict, dict]] = []   # (blocks, column views) per chunk
        self._chunk0 = 0       # global index of the first row of _chunks[0]
        self._end = 0          # global index of the next row
        self._start = 0        # first recent row not yet in the older part (the open bucket's)
        self._fold = 0         # rows before this are in the older part or in _open
        self._open: dict | None = None   # the open bucket: rows [_start, _fold) merged
        self._pending = False  # the older part is full: double the stride once aligned
        self._next: dict | None = None   # while the stride doubles: the new older part
        self._n_next = 0
        self._merged = 0       # older rows already merged into _next
        self._spare_chunks: list = []    # dropped chunks, reused once no snapshot holds them
        self._spare_level: dict | None = None   # the older part before the last doubling
        self._pin: int | None = None     # recorded rows from here on stay readable (rows_since)

    def _level(self) -> dict[str, np.ndarray]:
        # np.empty: pages are touched, and paid for, only as rows are written.
        rows = self.capacity + self.chunk_rows + 4
        lay = self.layout
        level = {b: np.empty((rows, w), lay.block_dtype[b]) for b, w in lay.old_widths.items()}
        _note_alone(level)
        return level

    def _new_chunk(self) -> tuple[dict, dict]:
        """A chunk for recent rows: a dropped one that nothing else holds any
        more (no snapshot), or a new one. Reusing memory matters: a first
        write to a fresh page costs tens of microseconds on a virtual machine."""
        while self._spare_chunks:
            blocks, views = self._spare_chunks.pop()
            if _alone(blocks):
                return blocks, views
            _ALONE.pop(id(blocks), None)
        lay, n = self.layout, self.chunk_rows
        blocks = {b: np.empty((n, w), lay.block_dtype[b]) for b, w in lay.raw_widths.items()}
        views = {k: blocks[b][:, off:off + size].reshape(n, *shape)
                 for k, (b, off, size, shape) in lay.raw.items()}
        _note_alone(blocks)
        return blocks, views

    def __len__(self) -> int:
        return self._n_old + self._end - self._start

    def last_step(self) -> int | None:
        """The step of the last row appended, or None before any."""
        if self._end == 0:
            return None
        ci, r = divmod(self._end - 1 - self._chunk0, self.chunk_rows)
        return int(self._chunks[ci][1]["step"][r])

    # -------------------------------------------------------------- appends
    def append(self, row: dict[str, object]) -> None:
        """Add one row: every column, ``step`` greater than the last one's."""
        ci, r = divmod(self._end - self._chunk0, self.chunk_rows)
        if ci == len(self._chunks):
            self._chunks.append(self._new_chunk())
        views = self._chunks[ci][1]
        for k, v in row.items():
            views[k][r] = v
        self._end += 1
        if self._next is not None:
            self._double_some()
        elif self._end - self._fold >= self.window + self.chunk_rows:
            self._fold_some()

    def extend(self, blocks: dict[str, np.ndarray], n: int) -> None:
        """Append ``n`` recorded rows given as raw blocks (``rows_since``'s
        form), ending in the same state as ``append`` of each row: merging
        is triggered at exactly the same rows."""
        lay = self.layout
        for b, w in lay.raw_widths.items():
            a = blocks.get(b)
            if a is None or a.shape != (n, w) or a.dtype != lay.block_dtype[b]:
                raise ValueError(f"block {b!r} does not fit {n} rows of this store")
        i = 0
        while i < n:
            ci, r = divmod(self._end - self._chunk0, self.chunk_rows)
            if ci == len(self._chunks):
                self._chunks.append(self._new_chunk())
            # Stop where a single append would merge: at the fold threshold,
            # and row by row while the stride doubles (a few rows each time).
            take = 1 if self._next is not None else min(
                n - i, self.chunk_rows - r, max(1, self._fold + self.window + self.chunk_rows - self._end))
            for b, a in self._chunks[ci][0].items():
                a[r:r + take] = blocks[b][i:i + take]
            self._end += take
            i += take
            if self._next is not None:
                self._double_some()
            elif self._end - self._fold >= self.window + self.chunk_rows:
                self._fold_some()

    # --------------------------------------------------------------- copies
    @property
    def end(self) -> int:
        """How many rows were ever recorded (the index of the next one)."""
        return self._end

    def pin(self, row: int | None) -> None:
        """Keep the recorded rows from index ``row`` on readable by
        ``rows_since`` (None: no longer). Their chunks are kept in memory;
        merging goes on as always, so the store's contents do not change."""
        self._pin = None if row is None else int(row)

    def rows_since(self, row: int) -> tuple[dict[str, np.ndarray], int]:
        """Copies of the rows recorded from index ``row`` (pinned, or still
        recent) to now, as raw blocks, and their count: what ``extend`` of
        another store of the same columns takes to become this one."""
        if row < self._chunk0 or row > self._end:
            raise ValueError(f"rows from {row} are no longer kept (pin them)")
        pieces: list[tuple[dict, int, int]] = []
        g = row
        while g < self._end:
            ci, r = divmod(g - self._chunk0, self.chunk_rows)
            hi = min(self.chunk_rows, r + self._end - g)
            pieces.append((self._chunks[ci][0], r, hi))
            g += hi - r
        lay = self.layout
        blocks = {b: (np.concatenate([p[b][lo:hi] for p, lo, hi in pieces]) if pieces
                      else np.empty((0, w), lay.block_dtype[b])) for b, w in lay.raw_widths.items()}
        return blocks, self._end - row

    def _fold_some(self) -> None:
        """Merge the recent rows from ``_fold`` to the end of their chunk into
        buckets: complete ones go to the older part, the last stays open."""
        ci, r0 = divmod(self._fold - self._chunk0, self.chunk_rows)
        blocks = {b: a[r0:] for b, a in self._chunks[ci][0].items()}
        sb, so = self._step_at
        ids = (blocks[sb][:, so] - 1) // self.stride
        starts = np.r_[0, np.flatnonzero(np.diff(ids)) + 1]
        segs = self._reduce_rows(blocks, ids, starts)
        bounds = self._fold + np.r_[starts, len(ids)]   # bucket j: rows [bounds[j], bounds[j+1])
        if self._open is not None:
            if self._open["id"][0] == segs["id"][0]:
                segs = _cat(self._combine(self._open, _take(segs, 0, 1)), _take(segs, 1, None))
                bounds[0] = self._start
            else:
                segs, bounds = _cat(self._open, segs), np.r_[self._start, bounds]
        m, j = len(segs["id"]), 0
        while j < m - 1:
            if self._pending:
                if self._aligned(int(segs["id"][j])):
                    self._set_open(segs, j, bounds)
                    self._begin_doubling()
                    return
                k = j + 1
            else:
                k = min(m - 1, j + max(1, self.capacity - self._n_old))
            self._emit(segs, j, k)
            j = k
            self._pending = self._pending or self._n_old >= self.capacity
        self._set_open(segs, m - 1, bounds)
        if self._pending and self._aligned(int(segs["id"][-1])):
            self._begin_doubling()

    def _aligned(self, open_id: int) -> bool:
        """Whether a bucket ``open_id`` left open would start a bucket of
        twice the stride, so that doubling splits no bucket."""
        if self._n_old == 0:
            return True
        sb, so = self._step_at
        last = (int(self._old[sb][self._n_old - 1, so]) - 1) // self.stride
        return open_id // 2 != last // 2

    def _set_open(self, segs, j: int, bounds) -> None:
        self._open = _take(segs, j, j + 1)
        self._start, self._fold = int(bounds[j]), int(bounds[j + 1])
        first = self._start if self._pin is None else min(self._start, self._pin)
        keep = max(0, first - self._chunk0) // self.chunk_rows
        if keep:   # chunks wholly before the open bucket (and the pin) are no longer needed
            self._spare_chunks.extend(self._chunks[:keep])
            for blocks, _ in self._spare_chunks[:-8]:
                _ALONE.pop(id(blocks), None)
            del self._spare_chunks[:-8]
            del self._chunks[:keep]
            self._chunk0 += keep * self.chunk_rows

    def _emit(self, segs, j: int, k: int) -> None:
        n = self._n_old
        for b, col in self._old.items():
            col[n:n + k - j] = segs[b][j:k]
        self._n_old = n + k - j

    def _reduce_rows(self, blocks, ids, starts) -> dict[str, np.ndarray]:
        """Recorded rows merged per bucket (``starts``: where each begins);
        means in float64 until written."""
        n = len(ids)
        counts = np.diff(np.r_[starts, n])
        ends = np.r_[starts[1:], n] - 1
        sb, so = self._step_at
        out = {"id": ids[starts], COVER: np.column_stack([blocks[sb][starts, so], counts])}
        for b, v in blocks.items():
            kind, dt = b.split("/", 1)
            if kind == "last":
                out[b] = v[ends]
                continue
            out[b] = _per_segment(np.add, v, starts, counts, np.float64) / counts[:, None]
            if kind == "mean":
                out["min/" + dt] = _per_segment(np.minimum, v, starts, counts)
                out["max/" + dt] = _per_segment(np.maximum, v, starts, counts)
        return out

    def _combine(self, a: dict, b: dict) -> dict:
        """Two one-row buckets of the same id merged: means weighted by
        their step counts, envelopes joined, the later state kept."""
        ca, cb = a[COVER][:, 1:], b[COVER][:, 1:]
        out = _merge_pairs(a, b, ca, cb)
        out["id"] = a["id"]
        out[COVER] = np.column_stack([a[COVER][:, 0], ca[:, 0] + cb[:, 0]])
        return out

    # ------------------------------------------------------ doubling stride
    def _begin_doubling(self) -> None:
        self._pending = False
        spare, self._spare_level = self._spare_level, None
        if spare is None or not _alone(spare):
            spare = self._level()
        self._next, self._n_next, self._merged = spare, 0, 0
        self._double_some()

    def _double_some(self) -> None:
        """Merge the next few older rows pairwise into the new older part;
        after the last, the new part (at twice the stride) replaces the old."""
        old, n_old, t0 = self._old, self._n_old, self._merged
        t1 = min(n_old, t0 + self.transition_rows)
        stride2 = 2 * self.stride
        sb, so = self._step_at
        step = old[sb][:, so]
        if t1 < n_old and (step[t1] - 1) // stride2 == (step[t1 - 1] - 1) // stride2:
            t1 += 1   # never split a pair
        if t1 > t0:
            ids = (step[t0:t1] - 1) // stride2
            starts = np.r_[0, np.flatnonzero(np.diff(ids)) + 1]
            merged = _merge_rows({b: a[t0:t1] for b, a in old.items()}, starts)
            n = self._n_next
            for b, col in self._next.items():
                col[n:n + len(starts)] = merged[b]
            self._n_next, self._merged = n + len(starts), t1
        if t1 == n_old:
            self._spare_level = self._old
            self._old, self._n_old, self._next = self._next, self._n_next, None
            self._n_next = self._merged = 0
            self.stride = stride2
            if self._open is not None:
                self._open["id"] = self._open["id"] // 2

    # ------------------------------------------------------------ snapshots
    def snapshot(self) -> StoreView:
        """Read-only columns of every row now (older part, then recent rows)."""
        parts = [(self._old, 0, self._n_old, False)]
        g = self._start
        while g < self._end:
            ci, r = divmod(g - self._chunk0, self.chunk_rows)
            hi = min(self.chunk_rows, r + self._end - g)
            parts.append((self._chunks[ci][0], r, hi, True))
            g += hi - r
        return StoreView(self.layout, self.keys, parts)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Everything ``load_state_dict`` needs to continue identically:
        ``counters`` (ints and flags) and ``arrays`` (block name -> array)."""
        counters = {"stride": self.stride, "capacity": self.capacity, "window": self.window,
                    "chunk_rows": self.chunk_rows, "n_old": self._n_old, "start": self._start,
                    "fold": self._fold, "end": self._end, "pending": self._pending,
                    "open": self._open is not None, "doubling": self._next is not None,
                    "n_next": self._n_next, "merged": self._merged}
        arrays = {f"old/{b}": a[:self._n_old] for b, a in self._old.items()}
        recent = self.snapshot().parts[1:]
        for b, w in self.layout.raw_widths.items():
            arrays[f"recent/{b}"] = (np.concatenate([a[b][lo:hi] for a, lo, hi, _ in recent])
                                     if recent else np.empty((0, w), self.layout.block_dtype[b]))
        if self._open is not None:
            arrays.update({f"open/{b}": a for b, a in self._open.items()})
        if self._next is not None:
            arrays.update({f"next/{b}": a[:self._n_next] for b, a in self._next.items()})
        return {"counters": counters, "arrays": arrays}

    def load_state_dict(self, state: dict) -> None:
        """Replace the contents with ``state_dict()``'s; ValueError names what
        does not fit this store (nothing is changed then)."""
        c, arrays = state.get("counters"), state.get("arrays")
        if not isinstance(c, dict) or not isinstance(arrays, dict):
            raise ValueError("expected counters and arrays")
        for k in ("stride", "capacity", "window", "chunk_rows", "n_old", "start", "fold", "end",
                  "n_next", "merged"):
            v = c.get(k)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**62:
                raise ValueError(f"{k} is missing or out of range ({v!r})")
        for k in ("pending", "open", "doubling"):
            if not isinstance(c.get(k), bool):
                raise ValueError(f"{k} is missing or not a flag")
        lay = self.layout
        cap, window, chunk, stride = c["capacity"], c["window"], c["chunk_rows"], c["stride"]
        if not (16 <= cap and cap % 2 == 0 and cap * lay.row_bytes(lay.old_widths) <= MAX_PART_BYTES):
            raise ValueError(f"capacity {cap} is out of range")
        if not (8 <= chunk <= 1024 and chunk & (chunk - 1) == 0):
            raise ValueError(f"chunk of {chunk} rows is out of range")
        if not (window >= 2 * chunk and window % chunk == 0
                and window * lay.row_bytes(lay.raw_widths) <= MAX_PART_BYTES):
            raise ValueError(f"window of {window} rows is out of range")
        if stride < 1 or stride & (stride - 1):
            raise ValueError(f"stride {stride} is not a power of two")
        if not (c["start"] <= c["fold"] <= c["end"] and c["n_old"] <= cap + chunk
                and c["n_next"] <= c["merged"] <= c["n_old"]
                and (c["doubling"] or c["n_next"] == c["merged"] == 0)
                and c["open"] == (c["fold"] > c["start"])
                and c["end"] - c["fold"] <= window + chunk + cap * (stride + 1)):
            raise ValueError("row counters are inconsistent")
        old = _checked(arrays, "old/", lay.old_widths, lay.block_dtype, c["n_old"])
        recent = _checked(arrays, "recent/", lay.raw_widths, lay.block_dtype, c["end"] - c["start"])
        open_ = _checked(arrays, "open/", *_open_layout(lay), 1) if c["open"] else {}
        nxt = _checked(arrays, "next/", lay.old_widths, lay.block_dtype, c["n_next"]) \
            if c["doubling"] else None
        extra = sorted(set(arrays) - {f"{p}{b}" for p, part in (("old/", old), ("recent/", recent),
                                                                 ("open/", open_), ("next/", nxt or {}))
                                      for b in part})
        if extra:
            raise ValueError(f"array {extra[0]!r} is unexpected")
        sb, so = self._step_at
        for name, steps in (("older", old[sb][:, so]), ("recent", recent[sb][:, so])):
            if len(steps) > 1 and not np.all(np.diff(steps) >= 0):
                raise ValueError(f"{name} steps are not increasing")
        self.capacity, self.window, self.chunk_rows = cap, window, chunk
        self.clear()
        self.stride, self._n_old = stride, c["n_old"]
        for b, col in self._old.items():
            col[:self._n_old] = old[b]
        self._start, self._fold, self._end = c["start"], c["fold"], c["end"]
        self._chunk0 = self._start // chunk * chunk
        for g in range(self._chunk0, self._end, chunk):
            blocks, views = self._new_chunk()
            lo, hi = max(g, self._start), min(g + chunk, self._end)
            for b, a in blocks.items():
                a[:lo - g] = 0
                a[lo - g:hi - g] = recent[b][lo - self._start:hi - self._start]
            self._chunks.append((blocks, views))
        self._open = {b: np.array(a) for b, a in open_.items()} if c["open"] else None
        self._pending = c["pending"]
        if nxt is not None:
            self._next, self._n_next, self._merged = self._level(), c["n_next"], c["merged"]
            for b, col in self._next.items():
                col[:self._n_next] = nxt[b]


class StoreView(Mapping):
    """One snapshot of a SeriesStore: name -> read-only (n, ...) array,
    joined from its parts on first use. Keys: the columns, ``name.min`` and
    ``name.max`` of the "mean" columns, ``step_first`` and ``step_count``."""

    def __init__(self, layout: _Layout, keys, parts):
        self._layout, self._keys = layout, keys
        self.parts = tuple(parts)
        # The parts with rows (empty ones add nothing; one is kept for its shape).
        self._filled = [p for p in self.parts if p[2] > p[1]] or list(self.parts[:1])
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if key not in self._layout.old:
            raise KeyError(key)
        parts = self._filled
        pieces = [self._piece(arrays, key, lo, hi, raw) for arrays, lo, hi, raw in parts]
        # One piece is a fresh view of the store's array, read-only here only.
        out = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        out.flags.writeable = False
        self._cache[key] = out
        return out

    def column(self, key: str, index) -> np.ndarray:
        """``self[key][(slice(None), *index)]`` (e.g. one unit of a per-unit
        series) without joining the whole of ``key``: only the selected
        values of each part are copied."""
        index = tuple(index) if isinstance(index, tuple) else (index,)
        # Slices are not hashable before Python 3.12.
        cache_key = (key, tuple((i.start, i.stop, i.step) if isinstance(i, slice) else i for i in index))
        hit = self._cache.get(cache_key)
        if hit is not None:
            return hit
        if key not in self._layout.old:
            raise KeyError(key)
        whole = self._cache.get(key)
        if whole is not None:
            out = whole[(slice(None), *index)]
        else:
            parts = self._filled
            out = np.concatenate([self._piece(a, key, lo, hi, raw)[(slice(None), *index)]
                                  for a, lo, hi, raw in parts])
        out.flags.writeable = False
        self._cache[cache_key] = out
        return out

    def take(self, key: str, rows) -> np.ndarray:
        """``self[key][rows]`` for increasing row indices, copying only those
        rows from each part (e.g. the rows a plot keeps of every unit)."""
        rows = np.asarray(rows, dtype=np.intp)
        whole = self._cache.get(key)
        if whole is not None:
            return whole[rows]
        if key not in self._layout.old:
            raise KeyError(key)
        parts = self._filled
        out, start = [], 0
        for arrays, lo, hi, raw in parts:
            a, b = np.searchsorted(rows, (start, start + hi - lo))
            if b > a:
                out.append(self._piece(arrays, key, lo, hi, raw)[rows[a:b] - start])
            start += hi - lo
        if not out:
            return self._piece(*parts[0][:1], key, 0, 0, parts[0][3])
        return np.concatenate(out) if len(out) > 1 else out[0]

    def _piece(self, arrays, key: str, lo: int, hi: int, raw: bool) -> np.ndarray:
        """Rows [lo, hi) of ``key`` from one part; a recorded (raw) row
        covers its own step only, and is its own envelope."""
        lay = self._layout
        if raw:
            if key == "step_count":
                return np.ones(hi - lo, np.int64)
            key = "step" if key == "step_first" else key
            key = key.rsplit(".", 1)[0] if key not in lay.raw else key
            block, off, size, shape = lay.raw[key]
        else:
            block, off, size, shape = lay.old[key]
        return arrays[block][lo:hi, off:off + size].reshape(hi - lo, *shape)

    def __contains__(self, key) -> bool:
        # Mapping's own would build the column to see whether it exists.
        return key in self._layout.old

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def rows(self) -> int:
        return sum(hi - lo for _, lo, hi, _ in self.parts)


def _per_segment(ufunc, v: np.ndarray, starts, counts, dtype=None) -> np.ndarray:
    """``ufunc.reduce`` over each run of rows of ``v`` (``starts``, ``counts``),
    as ``ufunc.reduceat`` but several times faster: NumPy's reduceat along
    the rows is slow, so the equal runs between the first and the last (all
    of them, in a store of evenly spaced steps) are reduced as one reshaped
    array, and only the others one by one."""
    m = len(starts)
    if m == len(v):
        return v.astype(dtype) if dtype is not None else v.copy()
    inner = counts[1:-1]
    if m > 2 and np.all(inner == inner[0]):
        a, b = int(starts[1]), int(starts[-1])
        middle = ufunc.reduce(v[a:b].reshape(m - 2, int(inner[0]), *v.shape[1:]), axis=1, dtype=dtype)
        first = ufunc.reduce(v[:a], axis=0, dtype=dtype)
        last = ufunc.reduce(v[b:], axis=0, dtype=dtype)
        return np.concatenate([first[None], middle, last[None]])
    return np.stack([ufunc.reduce(v[a:a + c], axis=0, dtype=dtype) for a, c in zip(starts, counts)])


# References to a chunk's or level's arrays while the store alone holds them,
# by id(blocks); a snapshot (its parts, or an array taken from it) adds some.
_ALONE: dict[int, tuple] = {}


def _ref_counts(blocks: dict) -> tuple:
    return sys.getrefcount(blocks), tuple(sys.getrefcount(a) for a in blocks.values())


def _note_alone(blocks: dict) -> None:
    """Call with ``blocks`` held by one local name only (just made)."""
    _ALONE[id(blocks)] = _ref_counts(blocks)


def _alone(blocks: dict) -> bool:
    """Whether ``blocks`` (held by the caller's one local name) is referred
    to by nothing but the store: no snapshot can see it change."""
    return _ALONE.get(id(blocks)) == _ref_counts(blocks)


def _take(segs: dict, j: int, k: int | None) -> dict:
    return {key: v[j:k] for key, v in segs.items()}


def _cat(a: dict, b: dict) -> dict:
    return {key: np.concatenate([a[key], b[key]]) for key in a}


def _merge_pairs(first: dict, last: dict, c_first, c_last) -> dict:
    """Blocks of pairs of rows merged (the bucket and id columns aside):
    means weighted by the step counts ``c_first``, ``c_last`` ((n, 1); a
    count of 0 leaves that row out), envelopes joined, the later state kept."""
    out = {}
    for b, vf in first.items():
        kind = b.split("/", 1)[0]
        if b in (COVER, "id"):
            continue
        vl = last[b]
        if kind == "min":
            out[b] = np.minimum(vf, vl)
        elif kind == "max":
            out[b] = np.maximum(vf, vl)
        elif kind == "last":
            out[b] = vl
        else:   # where: a left-out row's NaN must not reach the mean
            out[b] = (vf * c_first + np.where(c_last > 0, vl, 0) * c_last) / (c_first + c_last)
    return out


def _merge_rows(rows: dict, starts) -> dict:
    """Older rows merged per bucket of twice the stride (``starts``): each
    merges one or two rows, its first and its last (the same row when
    alone, then counted once), so indexing does what reduceat would."""
    n = len(rows[COVER])
    ends = np.r_[starts[1:], n] - 1
    c_first, c_last = rows[COVER][starts, 1:], rows[COVER][ends, 1:]
    c_last = np.where((ends > starts)[:, None], c_last, 0)
    out = _merge_pairs({b: v[starts] for b, v in rows.items()}, {b: v[ends] for b, v in rows.items()},
                       c_first, c_last)
    out[COVER] = np.column_stack([rows[COVER][starts, 0], (c_first + c_last)[:, 0]])
    return out


def _open_layout(lay: _Layout) -> tuple[dict, dict]:
    """Blocks and dtypes of the open bucket: the older part's, means in
    float64 until written, and its bucket ``id``."""
    widths = {"id": 0, **lay.old_widths}
    dtypes = {"id": np.dtype(np.int64)}
    for b in lay.old_widths:
        kind = b.split("/", 1)[0]
        dtypes[b] = np.dtype(np.float64) if kind in ("mean", "avg") else lay.block_dtype[b]
    return widths, dtypes


def _checked(arrays: dict, prefix: str, widths: dict, dtypes: dict, n: int) -> dict:
    out = {}
    for b, w in widths.items():
        a = arrays.get(prefix + b)
        want = (n,) if b == "id" else (n, w)
        if a is None:
            raise ValueError(f"array {prefix + b!r} is missing")
        if a.shape != want or a.dtype != dtypes[b]:
            raise ValueError(f"array {prefix + b!r} is {a.dtype}{list(a.shape)}, "
                             f"expected {np.dtype(dtypes[b])}{list(want)}")
        out[b] = a
    return out
