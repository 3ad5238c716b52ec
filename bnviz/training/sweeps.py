"""A sweep's points trained in parallel processes (``engine.sweep``).

Each point is a run of its own, so the points are spread over worker
processes started as the training process is (a clean interpreter that
never saw Qt); results come back as they finish. With one worker (or one
point) everything runs here, in order.
"""
from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from ..engine.npzfile import data_limit_mb, set_data_limit_mb
from ..engine.sweep import PointResult, SweepPoint, SweepSpec, run_point


def default_workers() -> int:
    """One per core but one (the window, or the caller, keeps a core)."""
    return max(1, (os.cpu_count() or 1) - 1)


def _run(point: SweepPoint, steps: int, limit_mb: float) -> PointResult:
    set_data_limit_mb(limit_mb)   # the worker may have started before the limit was set
    return run_point(point, steps)


class SweepRunner:
    """Runs ``spec``'s points; ``poll()`` returns those finished since the
    last call, ``cancel()`` stops what has not started."""

    def __init__(self, spec: SweepSpec, workers: int | None = None, processes: bool | None = None):
        """``processes``: train in worker processes (the window must: a
        point takes seconds); by default only with more than one worker."""
        from .process import _context
        self.spec = spec
        self.points = spec.points()
        self.total = len(self.points)
        self.results: list[PointResult] = []
        self._workers = min(workers or default_workers(), self.total)
        self._context = _context
        self._pool = None
        self._pending = set()   # futures of the points in the workers
        self._point_of = {}     # future -> its point
        self._retried = set()   # points given a second pool after a worker died
        self._queue = []        # points trained here, one per poll
        if processes or (processes is None and self._workers > 1):
            self._submit(self.points)
        else:
            self._queue = list(self.points)

    def _submit(self, points) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self._workers, mp_context=self._context())
        for p in points:
            future = self._pool.submit(_run, p, self.spec.steps, data_limit_mb())
            self._point_of[future] = (p, self._pool)
            self._pending.add(future)

    @property
    def done(self) -> bool:
        """Every point measured, or the sweep cancelled."""
        return not self._queue and not self._pending

    def poll(self, timeout: float | None = 0.0) -> list[PointResult]:
        """Results finished since the last call (waiting up to ``timeout``
        seconds for one; None: until one is). In-process, one point is trained."""
        if self._pool is None:
            if not self._queue:
                return []
            point = self._queue.pop(0)
            try:
                result = run_point(point, self.spec.steps)
            except Exception as exc:   # a bug in one point: it fails, the sweep (and the window) go on
                result = PointResult(point.norm, point.value, 0, error=f"{type(exc).__name__}: {exc}")
            self.results.append(result)
            return [result]
        if not self._pending:
            return []
        finished, self._pending = wait(self._pending, timeout=timeout, return_when=FIRST_COMPLETED)
        new, again, broken = [], [], None
        for future in finished:
            point, pool = self._point_of.pop(future)
            if future.cancelled():
                continue
            exc = future.exception()
            if exc is None:
                new.append(future.result())
            elif isinstance(exc, BrokenProcessPool) and id(point) not in self._retried:
                # A worker died (killed, out of memory): every point in the pool fails with it.
                # Each gets one more try in a new pool; the sweep goes on.
                self._retried.add(id(point))
                again.append(point)
                broken = broken or pool
            else:
                new.append(PointResult(point.norm, point.value, 0, error=f"the worker failed ({exc})"))
        if again:
            if broken is self._pool:   # (not a pool already replaced)
                self.close(keep_pending=True)
            self._submit(again)
        self.results.extend(new)
        if not self._pending:
            self.close()
        return new

    def run(self, progress=None) -> list[PointResult]:
        """Every result, in the spec's order; ``progress(done, total)`` after each."""
        while not self.done:
            if self.poll(timeout=None) and progress is not None:
                progress(len(self.results), self.total)
        order = {(p.norm, p.value): i for i, p in enumerate(self.points)}
        return sorted(self.results, key=lambda r: order.get((r.norm, r.value), len(order)))

    def cancel(self) -> None:
        # The points left are forgotten, not cancelled: their futures fail with
        # the pool closed below (Python 3.11.2's pool raises in its own thread
        # when it fails a future already cancelled).
        self._pending = set()
        self._queue = []
        self.close()

    def close(self, keep_pending: bool = False) -> None:
        """Shut the workers down; a point still training is stopped, not
        waited for (a pool's shutdown alone lets it run to its end).
        ``keep_pending``: a broken pool's, whose futures still report."""
        if not keep_pending:
            self._point_of = {f: p for f, p in self._point_of.items() if f in self._pending}
        if self._pool is not None:
            running = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False)
            for process in running:
                process.terminate()
            self._pool = None
