"""A sweep's points trained in parallel processes (``engine.sweep``).

Each point is a run of its own, so the points are spread over worker
processes started as the training process is (a clean interpreter that
never saw Qt); results come back as they finish. With one worker (or one
point) everything runs here, in order.
"""
from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

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
        workers = min(workers or default_workers(), self.total)
        self._pool = None
        self._pending = set()   # futures of the points in the workers
        self._queue = []        # points trained here, one per poll
        if processes or (processes is None and workers > 1):
            self._pool = ProcessPoolExecutor(workers, mp_context=_context())
            self._pending = {self._pool.submit(_run, p, spec.steps, data_limit_mb()) for p in self.points}
        else:
            self._queue = list(self.points)

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
            result = run_point(self._queue.pop(0), self.spec.steps)
            self.results.append(result)
            return [result]
        if not self._pending:
            return []
        finished, self._pending = wait(self._pending, timeout=timeout, return_when=FIRST_COMPLETED)
        new = []
        for future in finished:
            if future.cancelled():
                continue
            exc = future.exception()
            if exc is not None:   # a worker that died: its point failed, the sweep goes on
                new.append(PointResult("?", None, 0, error=f"the worker failed ({exc})"))
            else:
                new.append(future.result())
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
        for future in self._pending:
            future.cancel()
        self._pending = set()
        self._queue = []
        self.close()

    def close(self) -> None:
        """Shut the workers down; a point still training is stopped, not
        waited for (a pool's shutdown alone lets it run to its end)."""
        if self._pool is not None:
            running = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in running:
                process.terminate()
            self._pool = None
