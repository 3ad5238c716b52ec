"""TrainingClient: the window's side of the training process.

Commands are sent as messages and never waited for. Events are read when
the pipe is readable (a QSocketNotifier), so the GUI thread never blocks
on the child; frames are applied to the window's copy of the histories
(``training.replica``) as they come, and the newest waits in ``take_frame``
for the window to draw it. If the child dies, ``died`` says so at once and
the last frame stays; ``restart`` starts a new child.
"""
from __future__ import annotations

import threading
import time
from multiprocessing.connection import Connection

from PySide6.QtCore import QObject, QSocketNotifier, Signal

from ..training.messages import FrameUpdate
from ..training.process import TrainingProcess, start_followers
from ..training.replica import Replica

READ_BUDGET = 0.008   # seconds of reading per notifier wake-up, then the event loop goes on


def _close_pipes(command: tuple) -> None:
    """Close this process's copies of the follower pipes a command carried."""
    for arg in command:
        if isinstance(arg, tuple):
            for item in arg:
                if isinstance(item, Connection):
                    item.close()


def _session_runs(path: str) -> int:
    """How many runs a session holds (1 if that cannot be read here: the
    training process says what is wrong with the file)."""
    import json

    from ..engine.npzfile import read_npz
    try:
        labels = json.loads(str(read_npz(path, limit=1 << 16, names=("labels",))["labels"]))
        return max(1, min(len(labels), 26)) if isinstance(labels, list) else 1
    except Exception:   # noqa: BLE001 - any problem is the training process's to report
        return 1


class TrainingClient(QObject):
    """The runs of the window's session, trained in a child process."""

    frame_ready = Signal()           # a new Frame waits: call take_frame()
    playing_changed = Signal(bool)
    diverged = Signal(int, str)      # step, what became non-finite (and in which run)
    failed = Signal(str)             # new runs could not start; the old ones go on
    error = Signal(str)              # another command failed, or training could not go on (paused)
    inspection_ready = Signal(object)   # an ExampleInspection
    session_saved = Signal(str)
    session_error = Signal(str)
    pong = Signal(object, object, object)   # token, Qt modules loaded in the child, its time use
    died = Signal(str)               # the training process ended unexpectedly
    _started = Signal(object)        # from the starting thread: the process, or an error

    def __init__(self, parent=None):
        super().__init__(parent)
        self._process: TrainingProcess | None = None
        self._notifier: QSocketNotifier | None = None
        self._queued: list[tuple] = []   # commands sent before the child is up
        self._followers: list = []       # processes of runs B, C... (they end with their runs)
        self.parallel = True             # compare runs each in a process of their own
        self.data_limit_mb: float | None = None   # set_data_limit's, for every new process
        self._replica: Replica | None = None
        self._latest = None
        self._pending = False
        self._stopping = False
        self.dead = False
        self._started.connect(self._on_started)
        self.start()

    # ------------------------------------------------------------ process
    def start(self) -> None:
        """Start a child (in a thread: the first one waits ~2 s for the
        data-set library's import; the window is up meanwhile)."""
        self.dead = False
        threading.Thread(target=self._start_process, name="bnviz-start", daemon=True).start()

    def _start_process(self) -> None:
        try:
            process = TrainingProcess()
        except OSError as exc:   # e.g. no more processes or memory
            process = exc
        try:
            self._started.emit(process)
        except RuntimeError:   # the client was deleted meanwhile (a window closed at once)
            if isinstance(process, TrainingProcess):
                process.stop(timeout=0.2)

    def _on_started(self, process) -> None:
        if isinstance(process, Exception):
            self.dead = True
            self.died.emit(f"the training process could not start ({process})")
            return
        if self._stopping:
            process.stop()
            return
        self._process = process
        self._notifier = QSocketNotifier(process.conn.fileno(), QSocketNotifier.Read, self)
        self._notifier.activated.connect(self._on_notifier_activated)
        queued, self._queued = self._queued, []
        for command in queued:
            process.send(command)
            _close_pipes(command)

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def restart(self) -> None:
        """A new child after one died (its runs are gone; reset or open a session)."""
        self._drop_process()
        self._queued.clear()
        if self.data_limit_mb is not None:
            self._queued.append(("set_data_limit", self.data_limit_mb))
        self.start()

    def shutdown(self) -> int | None:
        """Stop the child cooperatively; terminate it after a timeout."""
        self._stopping = True
        process = self._process
        self._drop_process()
        code = None if process is None else process.stop()
        for follower in self._followers:   # told to stop by the training process, or orphaned
            follower.join(0.5)
            if follower.is_alive():
                follower.terminate()
                follower.join(0.5)
        self._followers = []
        return code

    def _drop_process(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        process, self._process = self._process, None
        if process is not None and not process.closed and not self._stopping:
            process.stop(timeout=0.2)

    # ------------------------------------------------------------ commands
    def _send(self, *command) -> None:
        if self.dead or self._stopping:
            return
        if self._process is None:
            self._queued.append(command)
            return
        sent = self._process.send(command)
        _close_pipes(command)   # sent as copies: the training process holds them now
        if not sent:
            self._on_died()

    def reset_runs(self, configs, labels, run_id: int) -> None:
        configs = tuple(configs)
        self._send("reset_runs", configs, tuple(labels), int(run_id), self._new_followers(len(configs) - 1))

    def reset(self, config, run_id: int) -> None:
        self.reset_runs((config,), (), run_id)

    def open_session(self, path: str, run_id: int) -> None:
        self._send("open_session", str(path), int(run_id), self._new_followers(_session_runs(path) - 1))

    def _new_followers(self, n: int) -> tuple:
        """Processes for runs B, C... and their pipes' ends for the training
        process (which uses them if the runs start, and lets them end else)."""
        self._followers = [p for p in self._followers if p.is_alive()]
        if n < 1 or not self.parallel or self.dead or self._stopping:
            return ()
        try:
            processes, ends = start_followers(n)
        except OSError:   # no more processes: the runs train in one
            return ()
        self._followers += processes
        return tuple(ends)

    def save_session(self, path: str) -> None:
        self._send("save_session", str(path))

    def play(self) -> None:
        self._send("play")

    def pause(self) -> None:
        self._send("pause")

    def toggle(self) -> None:
        self._send("toggle")

    def step_n(self, n: int) -> None:
        self._send("step_n", int(n))

    def step_epoch(self) -> None:
        self._send("step_epoch")

    def set_speed(self, steps_per_second: float) -> None:
        self._send("set_speed", float(steps_per_second))

    def set_data_limit(self, mb: float | None) -> None:
        """The largest data set or session the training process reads from
        now on (it started before the window's setting was known); sent
        again to any process started after it."""
        self.data_limit_mb = mb
        self._send("set_data_limit", mb)

    def set_live(self, config) -> None:
        self._send("set_live", config)

    def inspect(self, index: int, run: int = 0) -> None:
        self._send("inspect", int(index), int(run))

    def recompute_population(self) -> None:
        self._send("recompute_population")

    def ping(self, token) -> None:
        self._send("ping", token)

    def crash(self, code: int = 9) -> None:
        """End the child at once (tests of a dying training process)."""
        self._send("crash", int(code))

    # -------------------------------------------------------------- frames
    def take_frame(self):
        """The newest frame (None before the first)."""
        self._pending = False
        return self._latest

    def has_frame(self) -> bool:
        """Whether a frame waits that the window has not taken yet."""
        return self._pending

    # -------------------------------------------------------------- events
    def _on_notifier_activated(self, *_args) -> None:
        process = self._process
        if process is None:
            return
        deadline = time.perf_counter() + READ_BUDGET
        try:
            while process.conn.poll(0):
                self._on_event(process.conn.recv())
                if time.perf_counter() > deadline or self._process is not process:
                    break   # the notifier fires again while more waits
        except (EOFError, OSError):
            self._on_died()

    def _on_event(self, event: tuple) -> None:
        kind, *payload = event
        if kind == "frame":
            self._on_frame(payload[0])
        elif kind == "playing":
            self.playing_changed.emit(bool(payload[0]))
        elif kind == "diverged":
            self.diverged.emit(int(payload[0]), str(payload[1]))
        elif kind == "failed":
            self.failed.emit(str(payload[0]))
        elif kind == "error":
            self.error.emit(str(payload[0]))
        elif kind == "inspection":
            self.inspection_ready.emit(payload[0])
        elif kind == "saved":
            self.session_saved.emit(str(payload[0]))
        elif kind == "save_error":
            self.session_error.emit(str(payload[0]))
        elif kind == "pong":
            self.pong.emit(payload[0], payload[1], payload[2])

    def _on_frame(self, update: FrameUpdate) -> None:
        if update.starts:
            self._replica = Replica(update.run_id, update.starts)
        if self._replica is None or self._replica.run_id != update.run_id:
            return
        self._latest = self._replica.apply(update)
        ping = not self._pending
        self._pending = True
        if ping:
            self.frame_ready.emit()

    def _on_died(self) -> None:
        process = self._process
        if process is None or self.dead:
            return
        self.dead = True
        if self._notifier is not None:
            self._notifier.setEnabled(False)
        process.process.join(0.5)
        code = process.exitcode()
        process.stop(timeout=0.1)
        self._process = None
        how = "was killed" if code is not None and code < 0 else f"ended (exit code {code})"
        self.died.emit(f"The training process {how}.")
