"""RunHost: the runs of the window's session, trained in the training process.

It trains in chunks of about 20 ms (``tick``) between looks at the
command pipe, so play, pause and step are served within a chunk. Frames
go out at most about 30 times a second, and only when the last one has
left (``can_send``), carrying what is new since the one before: new
history rows, the latest record and evaluation, and a decision-boundary
grid when one was computed. Qt-free: the process loop drives it.
"""
from __future__ import annotations

import dataclasses
import time
import traceback
from bisect import bisect_left

import numpy as np

from ..engine.compare import Comparison, run_name
from ..engine.config import ConfigError, RunConfig
from ..engine.data import DatasetError
from ..engine.npzfile import set_data_limit_mb
from ..engine.session import SessionError, load_runs
from ..engine.trainer import PLAYING_SUMMARY_EVERY, Trainer
from .messages import FrameUpdate, RunStart
from .runs import LocalRuns, ParallelRuns, RunLost, close_followers

CHUNK_SECONDS = 0.020        # training time between two looks at the command pipe
FRAME_INTERVAL = 1.0 / 30    # at most this often a frame is published
EVAL_INTERVAL = 0.25         # evaluate the test set at most this often...
EVAL_SHARE = 0.10            # ...and with at most this share of the time
BOUNDARY_INTERVAL = 0.15
RATE_SPAN = 5.0              # s: the longest stretch the steps/s read-out looks back over
EXPECTED = (ConfigError, DatasetError, SessionError, ValueError, OSError)


def _message(exc: BaseException) -> str:
    """A failure in words: the documented ones as they are, anything else
    named as unexpected (its traceback goes to the process's stderr)."""
    if isinstance(exc, EXPECTED):
        return str(exc)
    traceback.print_exception(exc)
    return f"unexpected {type(exc).__name__}: {exc}"


def _time_of(entry: tuple[float, int]) -> float:
    return entry[0]


class RunHost:
    """Owns the runs (one Trainer, or several in lockstep). ``send(event)``
    queues an event for the window; ``can_send()`` says whether the last
    frame has left, so frames never pile up behind a busy window."""

    def __init__(self, send, can_send=lambda: True, send_seconds=lambda: 0.0):
        self._send = send
        self._can_send = can_send
        self.send_seconds = send_seconds   # the sender thread's time writing events
        self._runs: LocalRuns | ParallelRuns | None = None
        self._n_test: list[int] = []
        self._lost = ""              # why the runs cannot go on (a follower process ended)
        self._labels: tuple[str, ...] = ()
        self._run_id = 0
        self._playing = False
        self._pending_steps = 0
        self._stepping_total = 0     # steps of the step-n request training now
        self._speed = 0.0            # steps per second; 0 = flat out
        self._credit = 0.0           # steps owed at a limited speed
        self._last_tick = 0.0
        self._steps_per_chunk = 1
        self._last_publish = 0.0
        self._owed = False           # a frame that must go out once the last has left
        self._skip_eval = False      # ... without a new evaluation
        self._last_eval = 0.0
        self._eval_cost = 0.0
        self._last_boundary = 0.0
        self._starts: tuple[RunStart, ...] = ()
        self._published_step = -1
        self._rate_window: list[tuple[float, int]] = []
        self._diverged_at: int | None = None
        self.busy_seconds = 0.0      # time spent training (for the frame-cost share)
        self.frame_seconds = 0.0     # time spent building frames (evaluations aside)
        self.eval_seconds = 0.0      # time spent evaluating the test set for frames

    # ----------------------------------------------------------- commands
    def handle(self, command: tuple) -> None:
        """Run one command; a failure becomes a ``failed`` event and the
        current runs go on."""
        name, *args = command
        if self._lost and name not in ("reset_runs", "open_session", "ping"):
            self._send(("error", self._lost))
            return
        try:
            getattr(self, "cmd_" + name)(*args)
        except RunLost as exc:
            self._lose(str(exc))
        except Exception as exc:   # noqa: BLE001 - anything: say so, keep the runs
            self._set_playing(False)
            self._send(("failed" if name in ("reset_runs", "open_session") else "error", _message(exc)))
            self._owe_frame()

    def cmd_reset_runs(self, configs, labels, run_id: int, followers=()) -> None:
        """Start runs in lockstep (A first), runs B, C... in the follower
        processes given (one connection each) if there are enough; keep the
        old runs on failure."""
        try:
            runs = Comparison.of(configs, summary_every=PLAYING_SUMMARY_EVERY, summary_growth=True)
        except EXPECTED as exc:
            close_followers(followers)
            self._send(("failed", str(exc)))
            return
        self._install(runs, tuple(labels), run_id, followers)

    def cmd_open_session(self, path: str, run_id: int, followers=()) -> None:
        try:
            runs, labels = load_runs(path)
        except (SessionError, OSError) as exc:
            close_followers(followers)
            self._send(("failed", str(exc)))
            return
        self._install(Comparison.from_runs(runs), tuple(labels), run_id, followers)

    def cmd_save_session(self, path: str) -> None:
        """Every run (weights, optimizer, random state, history) in one
        file, written atomically; the runs are untouched either way."""
        if self._runs is None:
            return
        n = self._runs.count
        labels = [self._label(i) if n > 1 else "" for i in range(n)]
        try:
            self._runs.save(path, labels)
        except Exception as exc:   # noqa: BLE001 - the old file stays; say why
            self._send(("save_error", _message(exc)))
            return
        self._send(("saved", path))

    def cmd_play(self) -> None:
        if self._trainer is None or self._diverged_at is not None:
            return
        self._pending_steps = 0
        self._set_playing(True)

    def cmd_pause(self) -> None:
        self._pending_steps = 0
        self._set_playing(False)
        self._owe_frame()

    def cmd_toggle(self) -> None:
        self.cmd_pause() if self._playing else self.cmd_play()

    def cmd_step_n(self, n: int) -> None:
        """Pause, then train exactly ``n`` more mini-batches (in chunks)."""
        if self._trainer is None or self._diverged_at is not None:
            return
        self._set_playing(False)
        if self._pending_steps == 0:
            self._stepping_total = 0   # a new request, not more of the one training
        self._stepping_total += max(0, int(n))
        self._pending_steps += max(0, int(n))

    def cmd_step_epoch(self) -> None:
        if self._trainer is not None:
            self.cmd_step_n(self._trainer.epoch_steps())

    def cmd_set_speed(self, steps_per_second: float) -> None:
        self._speed = max(0.0, float(steps_per_second))
        self._credit = 0.0
        self._last_tick = time.perf_counter()

    def cmd_set_data_limit(self, mb: float | None) -> None:
        set_data_limit_mb(mb)

    def cmd_set_live(self, config: RunConfig) -> None:
        """Live settings of run A. A change reaches every run that had A's
        old value, so the runs still differ only as chosen."""
        if self._runs is None:
            return
        try:
            self._runs.set_live(config)
        except (ConfigError, RuntimeError) as exc:
            self._send(("error", str(exc)))
            return
        if not self.busy and self._trainer.step_count > 0:
            # Paused: show what the new settings give (e.g. another k) at once.
            self._runs.evaluate()
            self._owe_frame(evaluate=False)

    def cmd_inspect(self, index: int, run: int = 0) -> None:
        """One test example under every kind of statistic, in run ``run``."""
        if self._runs is None:
            return
        run = min(max(int(run), 0), self._runs.count - 1)
        n_test = self._n_test[run]
        if n_test < 2:
            return
        ins = self._runs.inspect(run, min(max(int(index), 0), n_test - 1))
        self._send(("inspection", dataclasses.replace(ins, run=run)))

    def cmd_recompute_population(self) -> None:
        if self._runs is None or self._trainer.step_count == 0:
            return
        self._runs.evaluate(force_population=True)
        self._owe_frame(evaluate=False)

    def cmd_ping(self, token) -> None:
        import sys
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6"))
        stats = {"busy_seconds": self.busy_seconds, "frame_seconds": self.frame_seconds,
                 "eval_seconds": self.eval_seconds,
                 "send_seconds": self.send_seconds()}
        self._send(("pong", token, loaded, stats))

    # ------------------------------------------------------------- state
    @property
    def _trainer(self) -> Trainer | None:
        return None if self._runs is None else self._runs.a

    @property
    def busy(self) -> bool:
        """Whether there is training to do (playing, or steps owed)."""
        return self._trainer is not None and not self._lost and (self._playing or self._pending_steps > 0)

    def wait_time(self) -> float | None:
        """How long the process may wait for a command before the next tick:
        0 flat out, about a step's time at a limited speed, a few ms while a
        frame is owed, None when there is nothing to do."""
        if self.busy:
            if self._speed > 0 and self._pending_steps == 0:
                return min(1.0, max(0.005, 1.0 / self._speed))
            return 0.0
        return 0.005 if self._owed else None

    def _install(self, comparison: Comparison, labels: tuple[str, ...], run_id: int, followers=()) -> None:
        n = len(comparison.runs)
        names = [run_name(labels, i) for i in range(n)]
        if followers and len(followers) == n - 1:
            try:
                runs = ParallelRuns(comparison, followers, names)
            except (RunLost, RuntimeError) as exc:
                close_followers(followers)
                self._send(("failed", str(exc)))
                return
        else:
            close_followers(followers)
            runs = LocalRuns(comparison)
        self._set_playing(False)
        if self._runs is not None:
            self._runs.close()
        self._lost = ""
        self._pending_steps = 0
        self._runs, self._labels, self._run_id = runs, labels, run_id
        self._rate_window.clear()
        self._diverged_at = None
        self._published_step = -1
        self._starts = runs.starts([self._label(i) if n > 1 else "" for i in range(n)])
        self._n_test = [s.n_test for s in self._starts]
        self._last_boundary = 0.0
        self._owe_frame()

    def _label(self, i: int) -> str:
        return run_name(self._labels, i)

    def _set_playing(self, playing: bool) -> None:
        if not playing and self._playing and self._runs is not None:
            self._runs.summarize()   # the bands reach the step it stopped at
        if playing != self._playing:
            self._playing = playing
            self._send(("playing", playing))
        self._last_tick = time.perf_counter()
        self._credit = 0.0

    # ------------------------------------------------------------ training
    def _steps_wanted(self, now: float) -> int:
        if self._pending_steps > 0:
            return self._pending_steps
        if self._speed <= 0:
            return 1 << 30
        self._credit += (now - self._last_tick) * self._speed
        self._credit = min(self._credit, max(1.0, self._speed * 0.1))
        self._last_tick = now
        return int(self._credit)

    def tick(self) -> None:
        """Train one chunk if there is training to do; publish what is due."""
        if not self.busy:
            self.flush()
            return
        start = time.perf_counter()
        wanted = self._steps_wanted(start)
        if wanted == 0:
            self.flush()
            return
        runs, done = self._runs, 0
        end = max(start + 0.002, min(start + CHUNK_SECONDS, self._last_publish + FRAME_INTERVAL))
        try:
            with np.errstate(all="ignore"):
                while done < wanted and time.perf_counter() < end:
                    n = min(wanted - done, self._steps_per_chunk)
                    t0 = time.perf_counter()
                    # Summaries every PLAYING_SUMMARY_EVERY steps only (the probe's take
                    # milliseconds), and one at the last step of a step_n.
                    last = not self._playing and done + n >= wanted
                    done += runs.advance(n, summarize_last=last)
                    per_step = (time.perf_counter() - t0) / n
                    # Aim for ~5 ms per advance() so a chunk stays near 20 ms.
                    self._steps_per_chunk = max(1, min(512, int(0.005 / max(per_step, 1e-6))))
                    if not runs.finite_losses():
                        break
        except RunLost as exc:
            self._lose(str(exc))
            return
        except Exception as exc:   # noqa: BLE001 - a run that cannot go on pauses, and says why
            self._pending_steps = 0
            self._set_playing(False)
            self._send(("error", f"training paused at step {self._trainer.step_count}: {_message(exc)}"))
            self._owe_frame()
            self.flush()
            return
        self.busy_seconds += time.perf_counter() - start
        if self._pending_steps > 0:
            self._pending_steps = max(0, self._pending_steps - done)
        elif self._speed > 0:
            self._credit -= done
        self._rate_window.append((time.perf_counter(), self._trainer.step_count))
        broken = runs.broken()
        if broken is not None:
            self._on_divergence(*broken)
            return
        if not self.busy:
            self._owe_frame()
        self.flush()

    def halt(self, exc: BaseException) -> None:
        """Stop training after a failure outside any command (the process's
        loop calls this), and say why; nothing more is tried on the runs."""
        if isinstance(exc, RunLost):
            self._lose(str(exc))
            return
        self._pending_steps = 0
        self._owed = False
        if self._playing:
            self._playing = False
            self._send(("playing", False))
        self._send(("error", f"training paused: {_message(exc)}"))

    def _lose(self, why: str) -> None:
        """A follower process ended: stop, say so, and refuse to train these
        runs any further (the window keeps their last frame; a reset or a
        session starts new ones)."""
        self._pending_steps = 0
        if self._playing:
            self._playing = False
            self._send(("playing", False))
        self._owed = False
        self._lost = (f"Training stopped at step {self._trainer.step_count}: {why}. "
                      "Start new runs (reset) or open a session to go on.")
        self._send(("error", self._lost))

    def _on_divergence(self, run: int, step: int, what: str) -> None:
        """Run ``run`` diverged at ``step``: every run pauses, and it is named."""
        self._diverged_at = step
        self._pending_steps = 0
        self._set_playing(False)
        if self._runs.count > 1:
            what += f" of run {self._label(run)}"
        self._owe_frame()
        self.flush()
        self._send(("diverged", step, what))

    # ------------------------------------------------------------- frames
    def _owe_frame(self, evaluate: bool = True) -> None:
        """A frame must go out as soon as the last has left (a stop, a reset)."""
        self._owed = True
        self._skip_eval = self._skip_eval or not evaluate

    def unsent_rows(self) -> int:
        """Training steps recorded since the last frame (kept until sent)."""
        if self._runs is None:
            return 0
        return self._runs.unsent_rows()

    def row_limit(self) -> int:
        """Unsent rows beyond which training waits for the window to read
        (a store's recent window: the rows stay in memory until sent)."""
        return 1 << 30 if self._runs is None else max(1024, self._runs.a.history.steps.window)

    def flush(self) -> None:
        """Publish a frame if one is owed or due, and the last one has left."""
        if self._runs is None or self._lost or not self._can_send():
            return
        now = time.perf_counter()
        if not self._owed and now - self._last_publish < FRAME_INTERVAL:
            return
        t0, evaluating = now, self.eval_seconds
        self._publish(now, force=self._owed, evaluate=not self._skip_eval)
        self._owed = self._skip_eval = False
        self.frame_seconds += time.perf_counter() - t0 - (self.eval_seconds - evaluating)

    def _publish(self, now: float, force: bool, evaluate: bool) -> None:
        tr, runs = self._trainer, self._runs
        self._last_publish = now
        fresh = tr.step_count != self._published_step
        # Evaluate at most every EVAL_INTERVAL and at most EVAL_SHARE of the
        # time; always when training stops, so a paused view is exact.
        due_eval = now - self._last_eval >= max(EVAL_INTERVAL, self._eval_cost / EVAL_SHARE)
        if evaluate and tr.step_count > 0 and (force or due_eval) and fresh:
            t0 = time.perf_counter()
            runs.evaluate()
            self._eval_cost = time.perf_counter() - t0
            self.eval_seconds += self._eval_cost
            self._last_eval = now
        boundary = tr.data.is_2d and (force or now - self._last_boundary >= BOUNDARY_INTERVAL)
        if boundary:
            self._last_boundary = now
        self._published_step = tr.step_count
        updates = runs.updates(boundary, self._diverged_at)
        owed = self._pending_steps
        stepping = (self._stepping_total - owed, self._stepping_total) if owed > 0 else None
        self._send(("frame", FrameUpdate(run_id=self._run_id, steps_per_second=self._steps_per_second(),
                                         runs=updates, starts=self._starts, stepping=stepping)))
        self._starts = ()

    def _steps_per_second(self) -> float:
        now = time.perf_counter()
        # The last second, but at least the last three advances of the last
        # RATE_SPAN seconds: at 1 step/s a one-second window holds one. The
        # entries are in time order (one per advance, ~1,000 flat out): found
        # by bisection, the old ones cut off in one slice.
        kept = self._rate_window
        del kept[:bisect_left(kept, now - RATE_SPAN, key=_time_of)]
        first = min(bisect_left(kept, now - 1.0, key=_time_of), max(len(kept) - 3, 0))
        if not self.busy or len(kept) - first < 2 or kept[-1][0] <= kept[first][0]:
            return 0.0
        return (kept[-1][1] - kept[first][1]) / (kept[-1][0] - kept[first][0])
