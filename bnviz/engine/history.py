"""Per-step series of a run, in bounded memory.

Every step is kept until a store reaches its capacity; then the older half
is thinned to every second row and the newer half kept whole, so a run of
any length fits, the newest steps always at full resolution and the oldest
ever sparser. A ``step`` column says which steps survived.

Snapshots are read-only views that are never written again: appends write
past the end of every view, and thinning or growing allocates new arrays.
So a snapshot can be handed to another thread without copying.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

DEFAULT_BUDGET_BYTES = 96 * 2**20


class SeriesStore:
    """Named columns of fixed per-row shape, one row per recorded step."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], budget_bytes: int = DEFAULT_BUDGET_BYTES,
                 min_capacity: int = 256, dtypes: dict[str, np.dtype] | None = None):
        self.shapes = dict(shapes)
        dtypes = dtypes or {}
        self.dtypes = {k: np.dtype(dtypes.get(k, np.float32)) for k in self.shapes}
        row_bytes = sum(int(np.prod(s, dtype=np.int64)) * self.dtypes[k].itemsize
                        for k, s in self.shapes.items()) or 1
        cap = max(min_capacity, budget_bytes // row_bytes)
        self.capacity = int(cap) // 4 * 4
        self.n = 0
        self._allocated = 0
        self._cols: dict[str, np.ndarray] = {}
        self._grow(min(self.capacity, 1024))

    def _grow(self, rows: int) -> None:
        new = {k: np.empty((rows, *s), self.dtypes[k]) for k, s in self.shapes.items()}
        for k, old in self._cols.items():
            new[k][: self.n] = old[: self.n]
        self._cols, self._allocated = new, rows

    def _thin(self) -> None:
        """Keep every second row of the older half, all of the newer half."""
        half = self.n // 2
        keep = np.concatenate([np.arange(0, half, 2), np.arange(half, self.n)])
        new = {}
        for k, old in self._cols.items():
            col = np.empty_like(old)
            col[: keep.size] = old[keep]
            new[k] = col
        self._cols, self.n = new, int(keep.size)

    def append(self, row: dict[str, object]) -> None:
        if self.n >= self.capacity:
            self._thin()
        elif self.n == self._allocated:
            self._grow(min(self.capacity, self._allocated * 2))
        i = self.n
        cols = self._cols
        for k, v in row.items():
            cols[k][i] = v
        self.n = i + 1

    def __len__(self) -> int:
        return self.n

    def state(self) -> tuple[int, int, dict[str, np.ndarray]]:
        """Row count, capacity, and the filled rows of every column (views):
        enough for ``restore`` to continue appending (and thinning) identically."""
        return self.n, self.capacity, {k: col[: self.n] for k, col in self._cols.items()}

    def restore(self, n: int, capacity: int, columns: dict[str, np.ndarray]) -> None:
        """Replace the contents with ``state()``'s; ValueError names the first
        column whose name, shape or dtype does not fit this store."""
        if not 0 <= n <= capacity or capacity < 1:
            raise ValueError(f"row count {n} and capacity {capacity} are inconsistent")
        missing = sorted(set(self.shapes) - set(columns))
        extra = sorted(set(columns) - set(self.shapes))
        if missing or extra:
            raise ValueError(f"column {(missing or extra)[0]!r} is {'missing' if missing else 'unexpected'}")
        for k, col in columns.items():
            want = (n, *self.shapes[k])
            if col.shape != want or col.dtype != self.dtypes[k]:
                raise ValueError(f"column {k!r} is {col.dtype}{list(col.shape)}, "
                                 f"expected {self.dtypes[k]}{list(want)}")
        self.capacity, self.n, self._cols = int(capacity), 0, {}
        self._grow(min(self.capacity, max(n, 1024)))
        for k, col in columns.items():
            self._cols[k][:n] = col
        self.n = int(n)

    def snapshot(self) -> MappingProxyType:
        views = {}
        for k, col in self._cols.items():
            v = col[: self.n]
            v.flags.writeable = False
            views[k] = v
        return MappingProxyType(views)


def step_columns(widths, bn_flags, has_bias) -> dict[str, tuple[int, ...]]:
    """Column names and shapes of the per-step store. Layer i's columns are
    prefixed ``L{i}.``; per-unit series have shape (D,)."""
    cols = {"step": (), "epoch": (), "loss": (), "batch_accuracy": (), "lr": (), "grad_norm_head": ()}
    for i, (d, bn, bias) in enumerate(zip(widths, bn_flags, has_bias)):
        p = f"L{i}."
        cols[p + "grad_norm_W"] = ()
        if bias:
            cols[p + "grad_norm_b"] = ()
        if bn:
            cols[p + "grad_norm_gamma"] = ()
            cols[p + "grad_norm_beta"] = ()
            for name in BN_SERIES:
                cols[p + name] = (d,)
    return cols


BN_SERIES = ("gamma", "beta", "batch_mean", "batch_var", "running_mean", "running_var")
SUMMARY_SERIES = ("pre_pct", "act_in_pct", "pre_unit_pct", "act_in_unit_pct")


def summary_columns(widths) -> dict[str, tuple[int, ...]]:
    """Percentile summaries (15th, 50th, 85th) of ``pre`` and ``act_in``:
    (3,) over the whole layer, (3, D) per unit; over the step's training
    mini-batch (``pre_pct``, ``act_in_unit_pct``, ...) and over the run's
    fixed probe of held-out examples (``pre_probe_pct``,
    ``act_in_unit_probe_pct``, ..., see ``probe``)."""
    cols = {"step": ()}
    for i, d in enumerate(widths):
        p = f"L{i}."
        for source in ("", "_probe"):
            cols[p + f"pre{source}_pct"] = (3,)
            cols[p + f"act_in{source}_pct"] = (3,)
            cols[p + f"pre_unit{source}_pct"] = (3, d)
            cols[p + f"act_in_unit{source}_pct"] = (3, d)
    return cols


def eval_columns(widths, bn_flags) -> dict[str, tuple[int, ...]]:
    """One row per evaluation: the test accuracies under each kind of
    statistic, and per BN layer the population statistics and the EMA gaps
    (``L{i}.ema_gap_mean``, ``L{i}.ema_gap_var``, see ``stats.ema_gaps``)."""
    cols = {"step": (), "test_loss": (), "test_accuracy": (), "test_accuracy_population": (),
            "test_accuracy_batch": (), "test_accuracy_single": (), "population_step": (),
            "eval_batch_size": ()}
    for i, (d, bn) in enumerate(zip(widths, bn_flags)):
        if bn:
            cols[f"L{i}.population_mean"] = (d,)
            cols[f"L{i}.population_var"] = (d,)
            cols[f"L{i}.ema_gap_mean"] = ()
            cols[f"L{i}.ema_gap_var"] = ()
    return cols


EVAL_FLOAT64 = ("test_loss", "test_accuracy", "test_accuracy_population", "test_accuracy_batch",
                "test_accuracy_single")


@dataclass(frozen=True)
class HistorySnapshot:
    """Read-only views of both stores at one moment."""

    steps: MappingProxyType      # name -> (n, ...) array, one row per kept step
    summaries: MappingProxyType  # percentile summaries, one row per summarised step
    evals: MappingProxyType      # name -> (m, ...) array, one row per evaluation

    def layer(self, i: int, name: str) -> np.ndarray | None:
        """Layer i's series ``name`` from whichever store holds it."""
        key = f"L{i}.{name}"
        if key in self.steps:
            return self.steps[key]
        return self.summaries.get(key)

    def __len__(self) -> int:
        return len(self.steps["step"])


class History:
    """Per-step and per-evaluation series of one run."""

    def __init__(self, widths, bn_flags, has_bias, budget_bytes: int = DEFAULT_BUDGET_BYTES):
        self.widths = tuple(widths)
        self.bn_flags = tuple(bn_flags)
        int_cols = {"step": np.int64, "epoch": np.int64}
        self.steps = SeriesStore(step_columns(widths, bn_flags, has_bias), budget_bytes // 2,
                                 dtypes=int_cols)
        self.summaries = SeriesStore(summary_columns(widths), budget_bytes // 2,
                                     dtypes={"step": np.int64})
        self.evals = SeriesStore(eval_columns(widths, bn_flags), budget_bytes // 8,
                                 dtypes={"step": np.int64, "population_step": np.int64,
                                         "eval_batch_size": np.int64,
                                         **{k: np.float64 for k in EVAL_FLOAT64},
                                         **{f"L{i}.ema_gap_{s}": np.float64
                                            for i in range(len(self.widths)) for s in ("mean", "var")}})

    def stores(self) -> dict[str, SeriesStore]:
        """The three stores by name (what a session saves)."""
        return {"steps": self.steps, "summaries": self.summaries, "evals": self.evals}

    def append_step(self, row: dict[str, object]) -> None:
        self.steps.append(row)

    def append_summary(self, row: dict[str, object]) -> None:
        self.summaries.append(row)

    def append_eval(self, ev) -> None:
        row = {"step": ev.step, **ev.scalars()}
        for i, (mean, var) in enumerate(zip(ev.population_mean, ev.population_var)):
            if mean is not None:
                row[f"L{i}.population_mean"] = mean
                row[f"L{i}.population_var"] = var
        self.evals.append(row)

    def snapshot(self) -> HistorySnapshot:
        return HistorySnapshot(self.steps.snapshot(), self.summaries.snapshot(), self.evals.snapshot())
