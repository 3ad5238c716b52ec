"""A follower process: one run of a comparison, trained on the leader's
word (``runs.ParallelRuns``). Every command gets one answer, ``("ok",
value)`` or ``("error", message)``; the leader waits for them, which is
what keeps the runs in lockstep."""
from __future__ import annotations

import numpy as np

from ..engine.compare import Comparison
from ..engine.npzfile import set_data_limit_mb
from ..engine.session import run_arrays
from ..engine.testtime import inspect_example
from ..engine.trainer import Trainer
from .runs import divergence, run_start, run_update


class Follower:
    def __init__(self, index: int):
        self.index = index        # the run's place in the comparison (1 = B)
        self.trainer: Trainer | None = None
        self._solo: Comparison | None = None
        self._mark: dict = {}

    def cmd_adopt(self, config, summary_every, summary_growth, state, limit_mb):
        # The leader's data limit: this process may have started before it was set.
        set_data_limit_mb(limit_mb)
        t = Trainer(config, summary_every=summary_every, summary_growth=summary_growth)
        t.load_state_dict(state)
        self.trainer, self._solo = t, Comparison.from_runs([t])

    def cmd_start(self, labels):
        start = run_start(self.trainer, labels[self.index - 1] if self.index - 1 < len(labels) else "")
        self._mark = self.trainer.history.mark()
        return start

    def cmd_advance(self, n, summarize_last):
        t = self.trainer
        with np.errstate(all="ignore"):
            done = self._solo.advance(n, stop_on_divergence=True, summarize_last=summarize_last)
        broken = divergence(t)
        return done, bool(np.isfinite(t.last_loss)), broken

    def cmd_summarize(self):
        with np.errstate(all="ignore"):
            self.trainer.summarize()

    def cmd_evaluate(self, force_population):
        with np.errstate(all="ignore"):
            self.trainer.evaluate(force_population=force_population)

    def cmd_update(self, boundary, diverged_at):
        update, self._mark = run_update(self.trainer, self._mark, boundary, diverged_at)
        return update

    def cmd_set_live(self, config):
        self.trainer.set_live(config)

    def cmd_inspect(self, index):
        with np.errstate(all="ignore"):
            return inspect_example(self.trainer, index)

    def cmd_arrays(self):
        return run_arrays(self.trainer, self.index)


def follower_main(conn, index: int) -> None:
    """The follower process's entry point: serve the leader until it says
    stop or its end of the pipe closes."""
    follower = Follower(index)
    try:
        while True:
            try:
                name, *args = conn.recv()
            except (EOFError, OSError):
                return
            if name == "stop":
                return
            try:
                reply = ("ok", getattr(follower, "cmd_" + name)(*args))
            except Exception as exc:   # noqa: BLE001 - the leader says which run, and why
                reply = ("error", f"{type(exc).__name__}: {exc}")
            try:
                conn.send(reply)
            except (OSError, ValueError):
                return
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()
