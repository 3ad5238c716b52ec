"""The runs a training process trains: all in it (``LocalRuns``), or run A
in it and each other run in a follower process of its own
(``ParallelRuns``), so a comparison uses every core.

Both answer the same questions for the host. Parallel runs train in
lockstep: every chunk goes to every run at once, and the next one only
when all have finished it, so no run is more than one chunk ahead. Runs
on A's data and batch size draw A's batches by themselves (``Comparison``
gives them A's sampler), so they train on the same mini-batches as in one
process, step for step.
"""
from __future__ import annotations

import numpy as np

from ..engine.compare import Comparison, run_name
from ..engine.config import RunConfig
from ..engine.frame import boundary_grid
from ..engine.npzfile import data_limit_mb
from ..engine.session import run_arrays, save_runs, write_runs
from ..engine.testtime import inspect_example
from ..engine.trainer import Trainer
from .messages import RunStart, RunUpdate


class RunLost(RuntimeError):
    """A follower process ended: its run cannot go on."""


def run_start(t: Trainer, label: str) -> RunStart:
    return RunStart(config=t.config, label=label, n_classes=t.data.n_classes,
                    steps_per_epoch=t.steps_per_epoch, n_test=len(t.y_test),
                    history_spec=dict(t.history.spec), history_state=t.history.state_dict())


def run_update(t: Trainer, mark: dict, boundary: bool, diverged_at) -> tuple[RunUpdate, dict]:
    """Run ``t``'s news since ``mark``, and the mark to give next time."""
    grid = None
    if boundary and t.data.is_2d:
        with np.errstate(all="ignore"):
            grid = boundary_grid(t)
    update = RunUpdate(config=t.config, record=t.record() if t.step_count else None,
                       evaluation=t.last_evaluation, boundary=grid,
                       rows=t.history.rows_since(mark), diverged_at=diverged_at,
                       meter_seconds=t.meter_seconds)
    return update, t.history.mark()


def live_config(a_old: RunConfig, a_new: RunConfig, mine: RunConfig) -> RunConfig:
    """Run ``mine``'s config after A's live settings changed from ``a_old``
    to ``a_new``: it follows every change of a value it shared with A."""
    old, new, own = a_old.to_dict(), a_new.to_dict(), mine.to_dict()
    own.update({k: v for k, v in new.items() if v != old[k] and own[k] == old[k]})
    return RunConfig.from_dict(own)


class LocalRuns:
    """Every run in this process (a lone run, or a comparison in one core)."""

    def __init__(self, comparison: Comparison):
        self.comparison = comparison
        self.a = comparison.a
        self.count = len(comparison.runs)
        self._marks: list[dict] = []

    def configs(self) -> list[RunConfig]:
        return [t.config for t in self.comparison.runs]

    def starts(self, labels) -> tuple[RunStart, ...]:
        out = tuple(run_start(t, lab) for t, lab in zip(self.comparison.runs, labels))
        self._marks = [t.history.mark() for t in self.comparison.runs]
        return out

    def advance(self, n: int, summarize_last: bool) -> int:
        return self.comparison.advance(n, stop_on_divergence=True, summarize_last=summarize_last)

    def finite_losses(self) -> bool:
        return all(np.isfinite(t.last_loss) for t in self.comparison.runs)

    def unsent_rows(self) -> int:
        """A's training steps recorded since the last update (kept until sent)."""
        return self.a.history.steps.end - self._marks[0]["steps"] if self._marks else 0

    def broken(self) -> tuple[int, int, str] | None:
        """(run, step, what) of the first run whose loss or statistics are not finite."""
        for i, t in enumerate(self.comparison.runs):
            d = divergence(t)
            if d is not None:
                return (i, *d)
        return None

    def summarize(self) -> None:
        with np.errstate(all="ignore"):
            for t in self.comparison.runs:
                t.summarize()

    def evaluate(self, force_population: bool = False) -> None:
        with np.errstate(all="ignore"):
            for t in self.comparison.runs:
                t.evaluate(force_population=force_population)

    def updates(self, boundary: bool, diverged_at) -> tuple[RunUpdate, ...]:
        out = []
        for i, t in enumerate(self.comparison.runs):
            update, self._marks[i] = run_update(t, self._marks[i], boundary, diverged_at)
            out.append(update)
        return tuple(out)

    def set_live(self, config: RunConfig) -> None:
        old = self.a.config
        for t in self.comparison.runs:
            t.set_live(config if t is self.a else live_config(old, config, t.config))

    def inspect(self, run: int, index: int):
        t = self.comparison.runs[run]
        with np.errstate(all="ignore"):
            return inspect_example(t, index)

    def save(self, path: str, labels) -> None:
        save_runs(path, self.comparison.runs, list(labels))

    def close(self) -> None:
        pass


class ParallelRuns:
    """Run A here, runs B, C... in follower processes (``follower``), one
    connection each; every call goes to all of them at once."""

    def __init__(self, comparison: Comparison, followers, labels):
        self.a = comparison.a
        self._solo = Comparison.from_runs([self.a])
        self.count = len(comparison.runs)
        self._followers = list(followers)
        self._labels = [run_name(labels, i) for i in range(self.count)]
        self._mark: dict = {}
        self._finite: list[bool] = [True] * self.count
        self._broken: list = [None] * self.count
        self._configs = [t.config for t in comparison.runs]
        # Each follower rebuilds its run from the state built (and checked) here.
        for conn, t in zip(self._followers, comparison.runs[1:]):
            conn.send(("adopt", t.config, t.summary_every, t.summary_growth, t.state_dict(),
                       data_limit_mb()))
        self._collect()

    # ----------------------------------------------------------- plumbing
    def _ask(self, i: int, conn):
        try:
            reply = conn.recv()
        except (EOFError, OSError):
            raise RunLost(f"the training process of run {self._labels[i + 1]} ended") from None
        if reply[0] == "error":
            raise RuntimeError(f"run {self._labels[i + 1]}: {reply[1]}")
        return reply[1] if len(reply) > 1 else None

    def _send_all(self, command) -> None:
        for i, conn in enumerate(self._followers):
            try:
                conn.send(command)
            except (OSError, ValueError):
                raise RunLost(f"the training process of run {self._labels[i + 1]} ended") from None

    def _collect(self) -> list:
        return [self._ask(i, conn) for i, conn in enumerate(self._followers)]

    def _everywhere(self, command, local):
        """Send ``command`` to every follower, do ``local()`` here meanwhile,
        then wait for their answers: A's result first."""
        self._send_all(command)
        mine = local()
        return [mine, *self._collect()]

    # ------------------------------------------------------------- runs
    def configs(self) -> list[RunConfig]:
        return list(self._configs)

    def starts(self, labels) -> tuple[RunStart, ...]:
        self._send_all(("start", labels[1:]))
        mine = run_start(self.a, labels[0])
        self._mark = self.a.history.mark()
        return (mine, *self._collect())

    def advance(self, n: int, summarize_last: bool) -> int:
        def local():
            with np.errstate(all="ignore"):
                return self._solo.advance(n, stop_on_divergence=True, summarize_last=summarize_last)
        done = self._everywhere(("advance", n, summarize_last), local)
        self._finite = [bool(np.isfinite(self.a.last_loss))] + [d[1] for d in done[1:]]
        self._broken = [divergence(self.a)] + [d[2] for d in done[1:]]
        return done[0]

    def finite_losses(self) -> bool:
        return all(self._finite)

    def unsent_rows(self) -> int:
        return self.a.history.steps.end - self._mark["steps"] if self._mark else 0

    def broken(self):
        for i, b in enumerate(self._broken):
            if b is not None:
                return (i, *b)
        return None

    def summarize(self) -> None:
        def local():
            with np.errstate(all="ignore"):
                self.a.summarize()
        self._everywhere(("summarize",), local)

    def evaluate(self, force_population: bool = False) -> None:
        def local():
            with np.errstate(all="ignore"):
                self.a.evaluate(force_population=force_population)
        self._everywhere(("evaluate", force_population), local)

    def updates(self, boundary: bool, diverged_at) -> tuple[RunUpdate, ...]:
        def local():
            update, self._mark = run_update(self.a, self._mark, boundary, diverged_at)
            return update
        return tuple(self._everywhere(("update", boundary, diverged_at), local))

    def set_live(self, config: RunConfig) -> None:
        old = self.a.config
        new = [config] + [live_config(old, config, c) for c in self._configs[1:]]
        for c in new:
            c.validate()
        self.a.set_live(config)
        for conn, c in zip(self._followers, new[1:]):
            conn.send(("set_live", c))
        self._collect()
        self._configs = new

    def inspect(self, run: int, index: int):
        if run == 0:
            with np.errstate(all="ignore"):
                return inspect_example(self.a, index)
        conn = self._followers[run - 1]
        conn.send(("inspect", index))
        return self._ask(run - 1, conn)

    def save(self, path: str, labels) -> None:
        self._send_all(("arrays",))
        runs = [run_arrays(self.a, 0), *self._collect()]
        write_runs(path, runs, list(labels))

    def close(self) -> None:
        """Stop the followers (they exit at once; the client reaps them)."""
        close_followers(self._followers)
        self._followers = []


def divergence(t: Trainer) -> tuple[int, str] | None:
    """(step, what became NaN or Inf) once run ``t`` diverged, else None."""
    if t.is_finite():
        return None
    return t.step_count, "the loss" if not np.isfinite(t.last_loss) else "a batch norm statistic"


def close_followers(conns) -> None:
    """Tell follower processes to end, and close their pipes."""
    for conn in conns:
        try:
            conn.send(("stop",))
            conn.close()
        except (OSError, ValueError):
            pass
