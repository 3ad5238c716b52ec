"""The training process: the child's loop, and the parent's handle on it.

The child comes from a clean interpreter (``forkserver``, or ``spawn``),
never forked from a process in which Qt has started. Its loop waits for commands while idle
and looks at the pipe between chunks of training while busy; a sender
thread writes its events, so a window that is slow to read never stops
training (frames simply wait until the last one has left).
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time

from .host import RunHost

STOP_TIMEOUT = 1.0        # seconds for the child to stop by itself before it is terminated
MAX_UNSENT_WAIT = 0.05    # a frame is late: wait this long for the window before training on


class Outbox:
    """Events to the parent, written by a thread of their own in order."""

    def __init__(self, conn):
        self._conn = conn
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._frames = 0              # frames queued or being written
        self._lock = threading.Lock()
        self._sent = threading.Condition(self._lock)
        self.broken = False
        self.send_seconds = 0.0
        threading.Thread(target=self._run, name="bnviz-outbox", daemon=True).start()

    def put(self, event: tuple) -> None:
        if event[0] == "frame":
            with self._lock:
                self._frames += 1
        self._queue.put(event)

    def can_send(self) -> bool:
        """Whether every frame queued so far has been written."""
        with self._lock:
            return self._frames == 0

    def wait_sent(self, timeout: float) -> None:
        with self._sent:
            self._sent.wait_for(lambda: self._frames == 0 or self.broken, timeout)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            t0 = time.thread_time()   # CPU time: waiting for the window to read costs none
            try:
                self._conn.send(event)
            except (OSError, ValueError):   # the parent has gone
                self.broken = True
            self.send_seconds += time.thread_time() - t0
            if event[0] == "frame":
                with self._sent:
                    self._frames -= 1
                    self._sent.notify_all()


def serve(conn) -> None:
    """The child's loop: commands between chunks, until ``stop`` or the
    parent closes the pipe."""
    outbox = Outbox(conn)
    host = RunHost(outbox.put, outbox.can_send, lambda: outbox.send_seconds)
    while not outbox.broken:
        try:
            ready = conn.poll(host.wait_time())
        except (OSError, EOFError):
            return
        if ready:
            try:
                command = conn.recv()
            except (OSError, EOFError):   # the parent has gone
                return
            if command[0] == "stop":
                return
            if command[0] == "crash":
                os._exit(int(command[1]))
            host.handle(command)
            continue
        # Keep the rows a frame will carry bounded: a window that has not read
        # for a while is waited for (briefly, then the pipe is looked at again).
        if not outbox.can_send() and host.unsent_rows() > host.row_limit():
            outbox.wait_sent(MAX_UNSENT_WAIT)
            continue
        try:
            host.tick()
        except Exception as exc:   # noqa: BLE001 - say so and wait for commands; never die silently
            host.halt(exc)


def child_main(conn) -> None:
    """The child process's entry point."""
    try:
        serve(conn)
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()


def _context():
    """forkserver where there is one, else spawn. The server is a clean
    interpreter that imports the engine once (well under a second: no data
    set needs scikit-learn imported, see engine.sklearn_data), then forks a
    child per run in milliseconds; it never saw Qt. As with any start method but fork, a script that
    starts training processes guards its code with ``if __name__ ==
    "__main__"``."""
    # Small matrices train fastest on one BLAS thread; the window has the other core.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(PRELOAD))
        return ctx
    return multiprocessing.get_context("spawn")


PRELOAD = (__name__, "bnviz.training.follower")


def start_followers(n: int) -> tuple[list, list]:
    """``n`` follower processes (runs B, C... of a comparison) and, for
    each, the end of its pipe that the leading training process is to
    keep (sent to it with the command that uses them)."""
    from .follower import follower_main
    ctx = _context()
    processes, ends = [], []
    for i in range(n):
        leader_end, follower_end = ctx.Pipe(duplex=True)
        p = ctx.Process(target=follower_main, args=(follower_end, i + 1), name=f"bnviz-run-{i + 1}",
                        daemon=True)
        p.start()
        follower_end.close()
        processes.append(p)
        ends.append(leader_end)
    return processes, ends


class TrainingProcess:
    """The parent's handle: start the child, send commands, read events
    (``conn`` is readable when one waits), stop it. The child ends when
    told to, or when the parent's end of the pipe closes."""

    def __init__(self):
        ctx = _context()
        self.conn, child_end = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=child_main, args=(child_end,), name="bnviz-training",
                                   daemon=True)
        self.process.start()
        child_end.close()   # so the child's end closing is seen here as end of file
        self.closed = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, command: tuple) -> bool:
        """Send a command; False if the child has gone."""
        if self.closed:
            return False
        try:
            self.conn.send(command)
            return True
        except (OSError, ValueError):
            return False

    def alive(self) -> bool:
        return self.process.is_alive()

    def exitcode(self) -> int | None:
        return self.process.exitcode

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Ask the child to stop, reading (and dropping) what it still sends
        so it is never stuck writing; terminate it after ``timeout``, kill
        it if that fails too. Returns its exit code."""
        if self.closed:
            return self.process.exitcode
        self.send(("stop",))
        deadline = time.monotonic() + timeout
        while self.process.is_alive() and time.monotonic() < deadline:
            try:
                if self.conn.poll(0.02):
                    self.conn.recv()
            except (OSError, EOFError):
                self.process.join(max(0.0, deadline - time.monotonic()))
                break
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(0.5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(0.5)
        self.closed = True
        self.conn.close()
        return self.process.exitcode


def prestart() -> None:
    """Start the fork server in the background now (its import of the
    data-set library takes about 2 s), so the first training process is
    ready about when the window is."""
    ctx = _context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver
        threading.Thread(target=forkserver.ensure_running, name="bnviz-forkserver", daemon=True).start()
