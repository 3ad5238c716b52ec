"""Per-step series of a run, in bounded memory, at one resolution.

Three ``SeriesStore``s (see ``store``): every training step, the percentile
summaries, the evaluations. Long runs keep their newest rows whole and the
rest evenly merged (mean and envelope of noisy series, the last value of
state), so no part of a run is drawn from fewer rows than another.

Snapshots are read-only and never change afterwards, so one can be handed
to another thread without copying.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .settings import RUNNING_STAT_NORMS
from .state import StateError, nest, part
from .store import SeriesStore, StoreView


def _as_state(store_state: dict) -> dict:
    return {"meta": store_state["counters"], "arrays": store_state["arrays"]}

DEFAULT_BUDGET_BYTES = 96 * 2**20


def norm_kinds(norms) -> tuple[str | None, ...]:
    """Per layer its normalization's kind or None (True, as older callers
    say "BN here", is "batch")."""
    return tuple("batch" if n is True else (n or None) for n in norms)


def step_columns(widths, norms, has_bias) -> dict[str, tuple[int, ...]]:
    """Column names and shapes of the per-step store. Layer i's columns are
    prefixed ``L{i}.``; per-unit series have shape (D,). ``norms``: per
    layer its normalization (``norm_kinds``)."""
    cols = {"step": (), "epoch": (), "loss": (), "batch_accuracy": (), "lr": (), "grad_norm_head": ()}
    for i, (d, kind, bias) in enumerate(zip(widths, norm_kinds(norms), has_bias)):
        p = f"L{i}."
        cols[p + "grad_norm_W"] = ()
        if bias:
            cols[p + "grad_norm_b"] = ()
        if kind:
            cols[p + "grad_norm_gamma"] = ()
            cols[p + "grad_norm_beta"] = ()
            for name in NORM_SERIES:
                cols[p + name] = (d,)
        if kind in RUNNING_STAT_NORMS:
            for name in BN_SERIES:
                cols[p + name] = (d,)
        if kind == "renorm":
            for name in RENORM_SERIES:
                cols[p + name] = (d,)
    return cols


NORM_SERIES = ("gamma", "beta")
BN_SERIES = ("batch_mean", "batch_var", "running_mean", "running_var")   # with running statistics
RENORM_SERIES = ("renorm_r", "renorm_d")   # Batch Renorm's corrections, per unit

# Series measured afresh at every step (or evaluation), noisy from one to the
# next: merged rows keep their mean and min/max envelope. Everything else is
# state (gamma, beta, running statistics, counters): merged rows keep the
# value at their last step. Percentile summaries (``*_pct``) are averaged.
NOISY_SERIES = ("loss", "batch_accuracy", "batch_mean", "batch_var", "grad_norm_head",
                "grad_norm_W", "grad_norm_b", "grad_norm_gamma", "grad_norm_beta", "test_loss",
                "test_accuracy", "test_accuracy_population", "test_accuracy_batch",
                "test_accuracy_single", "ema_gap_mean", "ema_gap_var", "renorm_r", "renorm_d",
                "ics_distance", "ics_cosine", *(f"landscape_{s}" for s in ("loss", "gradient_norm",
                                                                           "loss_range",
                                                                           "gradient_change_range",
                                                                           "smoothness")))


def series_kind(name: str) -> str:
    """How merged rows keep the column ``name`` (see ``store``)."""
    base = name.rsplit(".", 1)[-1]
    if base.endswith("_pct"):
        return "avg"
    return "mean" if base in NOISY_SERIES else "last"


def _kinds(columns) -> dict[str, str]:
    return {k: series_kind(k) for k in columns}
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


def eval_columns(widths, norms) -> dict[str, tuple[int, ...]]:
    """One row per evaluation: the test accuracies under each kind of
    statistic, and per BN layer the population statistics and the EMA gaps
    (``L{i}.ema_gap_mean``, ``L{i}.ema_gap_var``, see ``stats.ema_gaps``)."""
    cols = {"step": (), "test_loss": (), "test_accuracy": (), "test_accuracy_population": (),
            "test_accuracy_batch": (), "test_accuracy_single": (), "population_step": (),
            "eval_batch_size": ()}
    for i, (d, kind) in enumerate(zip(widths, norm_kinds(norms))):
        if kind in RUNNING_STAT_NORMS:
            cols[f"L{i}.population_mean"] = (d,)
            cols[f"L{i}.population_var"] = (d,)
            cols[f"L{i}.ema_gap_mean"] = ()
            cols[f"L{i}.ema_gap_var"] = ()
    return cols


# What a meter measurement (``landscape``) adds: along the gradient, and per
# layer but the first (index 1..n; n = the head) Santurkar's covariate shift.
METER_SCALARS = ("loss", "gradient_norm", "loss_range", "gradient_change_range", "smoothness")


def meter_columns(n_layers: int) -> dict[str, tuple[int, ...]]:
    """One row per measured step: ``landscape_<scalar>`` for METER_SCALARS
    and ``L{i}.ics_distance``, ``L{i}.ics_cosine`` for i = 1..n_layers (the
    head's index is n_layers)."""
    cols = {"step": (), **{f"landscape_{s}": () for s in METER_SCALARS}}
    for i in range(1, n_layers + 1):
        cols[f"L{i}.ics_distance"] = ()
        cols[f"L{i}.ics_cosine"] = ()
    return cols


EVAL_FLOAT64 = ("test_loss", "test_accuracy", "test_accuracy_population", "test_accuracy_batch",
                "test_accuracy_single")


class RowsOf:
    """A history column read a few rows at a time: ``rows_of[index_array]``
    copies only those rows (``StoreView.take``), ``shape`` is the column's."""

    def __init__(self, view, key: str, width: int):
        self.view, self.key = view, key
        self.shape = (len(view["step"]), width)

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(self.view, StoreView) and not isinstance(rows, slice):
            return self.view.take(self.key, rows)
        return np.asarray(self.view[self.key])[rows]


def column(view, key: str, index) -> np.ndarray:
    """``view[key][:, *index]``, through ``StoreView.column`` where there is one
    (it copies only the selected values), for any mapping of arrays else."""
    if isinstance(view, StoreView):
        return view.column(key, index)
    return np.asarray(view[key])[(slice(None), *index)]


@dataclass(frozen=True)
class HistorySnapshot:
    """Read-only views of the stores at one moment. Each maps a name
    to an (n, ...) array, one row per stored step or bucket of steps; the
    rows' cover is in ``step`` (last), ``step_first`` and ``step_count``,
    and the envelope of a noisy series ``name`` in ``name.min``, ``name.max``."""

    steps: StoreView      # every training step
    summaries: StoreView  # percentile summaries, one row per summarised step
    evals: StoreView      # one row per evaluation
    meters: StoreView     # one row per measured step (``landscape``), when the meters are on

    def layer(self, i: int, name: str) -> np.ndarray | None:
        """Layer i's series ``name`` from whichever store holds it."""
        key = f"L{i}.{name}"
        if key in self.steps:
            return self.steps[key]
        return self.summaries.get(key)

    def unit(self, i: int, name: str, unit: int) -> np.ndarray | None:
        """Unit ``unit`` of layer i's per-unit series ``name``: (n,), or (n, 3)
        for percentile summaries; joins only that unit's values."""
        key = f"L{i}.{name}"
        view = self.steps if key in self.steps else self.summaries if key in self.summaries else None
        if view is None:
            return None
        index = (slice(None), unit) if name.endswith("_pct") else (unit,)
        return column(view, key, index)

    def __len__(self) -> int:
        return len(self.steps["step"])


class History:
    """Per-step and per-evaluation series of one run."""

    def __init__(self, widths, norms, has_bias, budget_bytes: int = DEFAULT_BUDGET_BYTES,
                 dtype=np.float32):
        """``norms``: per layer its normalization (``norm_kinds``). ``dtype``:
        the run's, in which every float series is stored (but the test
        accuracies, float64 whatever the run)."""
        self.widths = tuple(widths)
        self.norms = norm_kinds(norms)
        # The arguments that build an empty history like this one (a copy's).
        self.spec = {"widths": self.widths, "norms": self.norms, "has_bias": tuple(has_bias),
                     "budget_bytes": int(budget_bytes), "dtype": np.dtype(dtype).name}
        steps = step_columns(widths, self.norms, has_bias)
        self.steps = SeriesStore(steps, budget_bytes // 2, dtypes={"epoch": np.int64},
                                 kinds=_kinds(steps), dtype=dtype)
        summaries = summary_columns(widths)
        self.summaries = SeriesStore(summaries, budget_bytes // 2, kinds=_kinds(summaries), dtype=dtype)
        evals = eval_columns(widths, self.norms)
        self.evals = SeriesStore(evals, budget_bytes // 8, kinds=_kinds(evals), dtype=dtype,
                                 dtypes={"population_step": np.int64, "eval_batch_size": np.int64,
                                         **{k: np.float64 for k in EVAL_FLOAT64},
                                         **{f"L{i}.ema_gap_{s}": np.float64
                                            for i in range(len(self.widths)) for s in ("mean", "var")}})
        meters = meter_columns(len(self.widths))
        self.meters = SeriesStore(meters, budget_bytes // 16, kinds=_kinds(meters), dtype=np.float64)

    def state_dict(self) -> dict:
        """Each store's state under its name (see ``SeriesStore.state_dict``)."""
        return nest({}, {}, **{name: _as_state(store.state_dict())
                               for name, store in self.stores().items()})

    def load_state_dict(self, state: dict) -> None:
        for name, store in self.stores().items():
            if name == "meters" and name not in state["meta"]:
                continue   # a session saved before the meters existed: none measured
            sub = part(state, name)
            try:
                store.load_state_dict({"counters": sub["meta"], "arrays": sub["arrays"]})
            except ValueError as exc:
                raise StateError(f"{name}: {exc}") from None

    def stores(self) -> dict[str, SeriesStore]:
        """The stores by name (what a session saves)."""
        return {"steps": self.steps, "summaries": self.summaries, "evals": self.evals,
                "meters": self.meters}

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

    def append_meters(self, shift, land) -> None:
        """A measured step's ``landscape.CovariateShift`` and ``Landscape``
        (not what it cost: the history is the same for the same run)."""
        row = {"step": land.step, **{f"landscape_{s}": getattr(land, s) for s in METER_SCALARS}}
        for i, (d, c) in enumerate(zip(shift.distance, shift.cosine)):
            if d is not None:
                row[f"L{i}.ics_distance"], row[f"L{i}.ics_cosine"] = d, c
        self.meters.append(row)

    # ----------------------------------------------------- the window's copy
    def mark(self) -> dict[str, int]:
        """Each store's row count now, pinned: ``rows_since(mark)`` later
        returns every row recorded in between."""
        marks = {}
        for name, store in self.stores().items():
            marks[name] = store.end
            store.pin(store.end)
        return marks

    def rows_since(self, marks: dict[str, int]) -> dict[str, tuple[dict, int]]:
        """The rows recorded since ``marks`` (``mark()``), per store, as raw
        blocks: ``extend`` of a copy that had the same rows at ``marks``
        makes it equal to this history."""
        return {name: store.rows_since(marks[name]) for name, store in self.stores().items()}

    def extend(self, rows: dict[str, tuple[dict, int]]) -> None:
        """Add another history's ``rows_since`` (see there)."""
        for name, store in self.stores().items():
            blocks, n = rows[name]
            if n:
                store.extend(blocks, n)

    def snapshot(self) -> HistorySnapshot:
        return HistorySnapshot(self.steps.snapshot(), self.summaries.snapshot(), self.evals.snapshot(),
                               self.meters.snapshot())
