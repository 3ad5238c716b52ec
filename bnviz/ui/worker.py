"""The training worker: a QObject living in its own QThread, owning the Trainer.

It trains in chunks of about 20 ms from a zero-interval QTimer it owns, so
its event loop keeps serving play, pause, step and stop between chunks. The
newest Frame waits in a lock-protected slot; the window is pinged at most
about 30 times a second and takes the frame when it is ready to draw, so the
redraw rate never depends on the training speed.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ..engine.compare import Comparison, run_letter
from ..engine.config import ConfigError, RunConfig
from ..engine.data import DatasetError
from ..engine.frame import Frame, boundary_grid, frame_of
from ..engine.session import SessionError, load_runs, save_runs
from ..engine.testtime import inspect_example
from ..engine.trainer import Trainer

CHUNK_SECONDS = 0.020        # training time between two looks at the event loop
FRAME_INTERVAL = 1.0 / 30    # at most this often a frame is published
EVAL_INTERVAL = 0.25         # evaluate the test set at most this often...
EVAL_SHARE = 0.10            # ...and with at most this share of the time
BOUNDARY_INTERVAL = 0.15
SUMMARY_EVERY = 8            # percentile summaries every 8th step when playing (and at every stop)


class TrainingWorker(QObject):
    """Owns the runs of the current session: one Trainer, or several in
    lockstep (compare mode). All its slots run in the worker thread."""

    frame_ready = Signal()           # a new Frame waits in the slot: call take_frame()
    playing_changed = Signal(bool)
    diverged = Signal(int, str)      # step, what became non-finite (and in which run)
    failed = Signal(str)             # a reset could not build the run
    inspection_ready = Signal(object)   # an ExampleInspection of run A
    session_saved = Signal(str)         # path written
    session_error = Signal(str)         # a session could not be saved

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()
        self._latest: Frame | None = None
        self._ping_pending = False
        self._stopping = threading.Event()
        self._runs: Comparison | None = None
        self._labels: tuple[str, ...] = ()
        self._run_id = 0
        self._timer: QTimer | None = None
        self._playing = False
        self._pending_steps = 0
        self._speed = 0.0            # steps per second; 0 = flat out
        self._credit = 0.0           # steps owed at a limited speed
        self._last_tick = 0.0
        self._steps_per_chunk = 1
        self._published_step = -1
        self._last_publish = 0.0
        self._last_eval = 0.0
        self._eval_cost = 0.0
        self._last_boundary = 0.0
        self._boundary = None
        self._rate_window: list[tuple[float, int]] = []
        self._diverged_at: int | None = None

    # ----------------------------------------------------------- GUI thread
    def take_frame(self) -> Frame | None:
        """The newest frame (thread-safe; called from the GUI thread)."""
        with self._lock:
            frame, self._ping_pending = self._latest, False
            return frame

    def has_frame(self) -> bool:
        """Whether a frame waits that the window has not taken yet."""
        with self._lock:
            return self._ping_pending

    def request_stop(self) -> None:
        """Thread-safe: make every later tick a no-op, at once."""
        self._stopping.set()

    # -------------------------------------------------------- worker thread
    @Slot()
    def start(self) -> None:
        """Create the timer in the worker thread (timers belong to a thread)."""
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._on_timer_timeout)

    @Slot()
    def stop(self) -> None:
        """Stop for good: the timer is stopped and deleted here, in the thread
        that owns it (Qt forbids stopping timers from another thread), then
        this thread's event loop quits."""
        self._stopping.set()
        if self._timer is not None:
            self._timer.stop()
            self._timer.deleteLater()
            self._timer = None
        self.thread().quit()

    @property
    def _trainer(self) -> Trainer | None:
        """Run A (the lone run outside compare mode)."""
        return None if self._runs is None else self._runs.a

    @Slot(object, int)
    def reset(self, config: RunConfig, run_id: int) -> None:
        """Start a new lone run; on a bad config or data file keep the old one."""
        self.reset_runs((config,), (), run_id)

    @Slot(object, object, int)
    def reset_runs(self, configs, labels, run_id: int) -> None:
        """Start runs in lockstep (A first); keep the old ones on failure."""
        try:
            runs = Comparison.of(configs, summary_every=SUMMARY_EVERY, summary_growth=True)
        except (ConfigError, DatasetError, ValueError, OSError) as exc:
            self.failed.emit(str(exc))
            return
        self._install(runs, tuple(labels), run_id)

    @Slot(str)
    def save_session(self, path: str) -> None:
        """Save every run (weights, optimizer, random state, history) to one
        file, written atomically; the runs are untouched either way."""
        if self._runs is None:
            return
        labels = [self._label(i) if len(self._runs.runs) > 1 else "" for i in range(len(self._runs.runs))]
        try:
            save_runs(path, self._runs.runs, labels)
        except (SessionError, OSError) as exc:
            self.session_error.emit(str(exc))
            return
        self.session_saved.emit(path)

    @Slot(str, int)
    def open_session(self, path: str, run_id: int) -> None:
        """Continue the runs saved in ``path``; keep the current ones if it
        cannot be used (``failed`` says why)."""
        try:
            runs, labels = load_runs(path)
        except (SessionError, OSError) as exc:
            self.failed.emit(str(exc))
            return
        self._install(Comparison.from_runs(runs), tuple(labels), run_id)

    def _install(self, runs: Comparison, labels: tuple[str, ...], run_id: int) -> None:
        self._set_playing(False)
        self._pending_steps = 0
        self._runs, self._labels, self._run_id = runs, labels, run_id
        self._published_step = -1
        self._rate_window.clear()
        self._diverged_at = None
        self._boundary = None
        self._publish(force=True)

    @Slot()
    def play(self) -> None:
        if self._trainer is None or self._diverged_at is not None:
            return
        self._pending_steps = 0
        self._set_playing(True)

    @Slot()
    def pause(self) -> None:
        self._pending_steps = 0
        self._set_playing(False)
        self._publish(force=True)

    @Slot()
    def toggle(self) -> None:
        self.pause() if self._playing else self.play()

    @Slot(int)
    def step_n(self, n: int) -> None:
        """Pause, then train exactly ``n`` more mini-batches (in chunks)."""
        if self._trainer is None or self._diverged_at is not None:
            return
        self._set_playing(False)
        self._pending_steps += max(0, int(n))
        self._ensure_timer()

    @Slot()
    def step_epoch(self) -> None:
        if self._trainer is not None:
            self.step_n(self._trainer.steps_per_epoch)

    @Slot(float)
    def set_speed(self, steps_per_second: float) -> None:
        self._speed = max(0.0, float(steps_per_second))
        self._credit = 0.0
        self._last_tick = time.perf_counter()
        self._ensure_timer()

    @Slot(object)
    def set_live(self, config: RunConfig) -> None:
        """Live settings of run A. In compare mode a change reaches every run
        that had A's old value, so the runs still differ only as chosen."""
        if self._runs is None:
            return
        old = self._runs.a.config.to_dict()
        new = config.to_dict()
        try:
            for tr in self._runs.runs:
                mine = tr.config.to_dict()
                mine.update({k: v for k, v in new.items() if v != old[k] and mine[k] == old[k]})
                tr.set_live(RunConfig.from_dict(mine) if tr is not self._runs.a else config)
        except ConfigError as exc:
            self.failed.emit(str(exc))
            return
        if not self._playing and self._pending_steps == 0 and self._trainer.step_count > 0:
            # Paused: show what the new settings give (e.g. another k) at once.
            with np.errstate(all="ignore"):
                for t in self._runs.runs:
                    t.evaluate()
            self._publish(force=True, evaluate=False)

    @Slot(int, int)
    def inspect(self, index: int, run: int = 0) -> None:
        """Look at one test example under every kind of statistic, in run
        ``run`` (0 = A)."""
        if self._runs is None:
            return
        tr = self._runs.runs[min(max(int(run), 0), len(self._runs.runs) - 1)]
        if len(tr.y_test) < 2:
            return
        index = min(max(int(index), 0), len(tr.y_test) - 1)
        with np.errstate(all="ignore"):
            self.inspection_ready.emit(inspect_example(tr, index))

    @Slot()
    def recompute_population(self) -> None:
        """Population statistics of every run now, and a frame that shows them."""
        if self._runs is None or self._trainer.step_count == 0:
            return
        with np.errstate(all="ignore"):
            for t in self._runs.runs:
                t.evaluate(force_population=True)
        self._publish(force=True, evaluate=False)

    # ------------------------------------------------------------ internals
    def _set_playing(self, playing: bool) -> None:
        if not playing and self._playing and self._runs is not None:
            with np.errstate(all="ignore"):   # a diverged run's summary holds NaN
                for t in self._runs.runs:   # the bands reach the step it stopped at
                    t.summarize()
        if playing != self._playing:
            self._playing = playing
            self.playing_changed.emit(playing)
        self._last_tick = time.perf_counter()
        self._credit = 0.0
        self._ensure_timer()

    def _ensure_timer(self) -> None:
        if self._timer is None:
            return
        busy = self._playing or self._pending_steps > 0
        # Flat out (or working off requested steps): a zero-interval timer.
        # At a limited speed, tick about once per step (5 ms at the fastest)
        # so the thread sleeps in its event loop instead of spinning.
        limited = self._speed > 0 and self._pending_steps == 0
        self._timer.setInterval(int(min(1000, max(5, 1000 / self._speed))) if limited else 0)
        if busy and not self._timer.isActive():
            self._timer.start()
        elif not busy and self._timer.isActive():
            self._timer.stop()

    def _steps_wanted(self, now: float) -> int:
        if self._pending_steps > 0:
            return self._pending_steps
        if self._speed <= 0:
            return 1 << 30
        self._credit += (now - self._last_tick) * self._speed
        self._credit = min(self._credit, max(1.0, self._speed * 0.1))
        self._last_tick = now
        return int(self._credit)

    @Slot()
    def _on_timer_timeout(self) -> None:
        if self._stopping.is_set() or self._trainer is None:
            return
        start = time.perf_counter()
        wanted = self._steps_wanted(start)
        if wanted == 0:
            return
        tr = self._trainer
        runs = self._runs
        done = 0
        # End the chunk when the next frame is due, so frames go out on time
        # (~30 a second) rather than on the chunk grid (every 2nd chunk, 25/s).
        end = min(start + CHUNK_SECONDS, self._last_publish + FRAME_INTERVAL)
        end = max(end, start + 0.002)
        with np.errstate(all="ignore"):
            while done < wanted and time.perf_counter() < end:
                n = min(wanted - done, self._steps_per_chunk)
                t0 = time.perf_counter()
                # While playing, summaries every SUMMARY_EVERY steps only (the
                # probe's take milliseconds); the last step gets one on stopping.
                done += runs.advance(n, stop_on_divergence=True, summarize_last=not self._playing)
                # Aim for ~5 ms per advance() so a tick stays near 20 ms.
                per_step = (time.perf_counter() - t0) / n
                self._steps_per_chunk = max(1, min(512, int(0.005 / max(per_step, 1e-6))))
                if not all(np.isfinite(t.last_loss) for t in runs.runs):
                    break
        if self._pending_steps > 0:
            self._pending_steps = max(0, self._pending_steps - done)
            if self._pending_steps == 0:
                self._ensure_timer()  # back to the speed's interval
        elif self._speed > 0:
            self._credit -= done
        self._rate_window.append((time.perf_counter(), tr.step_count))
        broken = [t for t in runs.runs if not t.is_finite()]
        if broken:
            self._on_divergence(broken[0])
            return
        finished = self._pending_steps == 0 and not self._playing
        if finished:
            self._ensure_timer()
        self._publish(force=finished)

    def _on_divergence(self, tr: Trainer) -> None:
        self._diverged_at = tr.step_count
        self._pending_steps = 0
        self._set_playing(False)
        what = "the loss" if not np.isfinite(tr.last_loss) else "a batch statistic"
        if len(self._runs.runs) > 1:
            what += f" of run {self._label(self._runs.runs.index(tr))}"
        self._publish(force=True)
        self.diverged.emit(tr.step_count, what)

    def _label(self, i: int) -> str:
        """Run i's name: the one given, else A, B, C..."""
        return self._labels[i] if i < len(self._labels) and self._labels[i] else run_letter(i)

    def _steps_per_second(self) -> float:
        now = time.perf_counter()
        window = [(t, s) for t, s in self._rate_window if now - t <= 1.0]
        self._rate_window = window
        if len(window) < 2 or window[-1][0] <= window[0][0]:
            return 0.0
        return (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])

    def _publish(self, force: bool = False, evaluate: bool = True) -> None:
        now = time.perf_counter()
        if not force and now - self._last_publish < FRAME_INTERVAL:
            return
        tr = self._trainer
        if tr is None:
            return
        self._last_publish = now
        fresh = tr.step_count != self._published_step
        # Evaluate at most every EVAL_INTERVAL and at most EVAL_SHARE of the
        # time; always when training stops, so a paused view is exact.
        due_eval = now - self._last_eval >= max(EVAL_INTERVAL, self._eval_cost / EVAL_SHARE)
        if evaluate and tr.step_count > 0 and (force or due_eval) and fresh:
            t0 = time.perf_counter()
            with np.errstate(all="ignore"):
                for t in self._runs.runs:
                    t.evaluate()
            self._eval_cost = time.perf_counter() - t0
            self._last_eval = now
        if tr.data.is_2d and (force or now - self._last_boundary >= BOUNDARY_INTERVAL or self._boundary is None):
            with np.errstate(all="ignore"):   # every run's, so any can be shown
                self._boundary = [boundary_grid(t) for t in self._runs.runs]
            self._last_boundary = now
        boundaries = self._boundary or [None] * len(self._runs.runs)
        self._published_step = tr.step_count
        rate = self._steps_per_second()
        others = tuple(frame_of(t, self._run_id, boundary=boundaries[i], steps_per_second=rate,
                                diverged_at=self._diverged_at, label=self._label(i))
                       for i, t in enumerate(self._runs.runs[1:], start=1))
        frame = frame_of(tr, self._run_id, boundary=boundaries[0], steps_per_second=rate,
                         diverged_at=self._diverged_at, label=self._label(0) if others else "",
                         others=others)
        with self._lock:
            self._latest = frame
            ping = not self._ping_pending
            self._ping_pending = True
        if ping:
            self.frame_ready.emit()
