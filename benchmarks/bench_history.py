"""History store: the time of one append and of one snapshot over a long run.

Feeds the stores of the Ioffe & Szegedy Fig. 1 network (3 x 100 sigmoid
units with BN, float32, the default memory budget) with 200,000 step rows
taken from a real step, a percentile summary every PLAYING_SUMMARY_EVERY steps (as the GUI's
worker does) and an evaluation every 500, and takes a snapshot every 33
steps (a frame at 30 frames/s while training at ~1,000 steps/s). Prints the
median, p99 and maximum of each, by the wall clock and by this thread's
CPU time; the target is a maximum of 1 ms.

    python benchmarks/bench_history.py [--steps 200000]
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

from bnviz.engine import Trainer  # noqa: E402
from bnviz.engine.trainer import PLAYING_SUMMARY_EVERY  # noqa: E402
from bench_engine import FIG1  # noqa: E402


def percentiles(ns: list[int]) -> str:
    a = np.array(ns) / 1e3
    return f"median {np.median(a):7.1f}   p99 {np.percentile(a, 99):7.1f}   max {a.max():8.1f} us"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200_000)
    ap.add_argument("--passes", type=int, default=2,
                    help="runs in this process: on a virtual machine the first touch of memory the "
                         "guest never used costs tens of microseconds a page, so the first pass "
                         "measures that too, later ones the store")
    args = ap.parse_args()
    for n in range(1, args.passes + 1):
        print(f"--- pass {n} of {args.passes}")
        run(args.steps)


def run(steps: int) -> None:
    tr = Trainer(FIG1)
    tr.step(2)
    tr.evaluate()
    rec = tr._recorder
    step_row = rec.step_row(1, 1, 0.5, 0.5, 0.1, rec.grad_norms(), 1.0)
    summary_row = rec.summary_row(1)
    summary_row.update(rec.probe_row(tr.probe_x, tr.probe_stats()))   # as Trainer.write_history
    ev = tr.last_evaluation
    h = type(tr.history)(FIG1.hidden, FIG1.bn_layers(), [False] * 3, dtype=np.float32)
    names = ("append step row", "append summary row", "append evaluation", "snapshot",
             "control: 300 us of copying")
    # Wall time, and this thread's CPU time: on a busy machine the wall
    # clock's maximum is another process's time slice, not the store's.
    times = {n: [] for n in names}
    cpu = {n: [] for n in names}
    rng = np.random.default_rng(0)
    noise = rng.normal(size=64).astype(np.float32)
    gc.disable()   # the collector's pauses are not the store's
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns

    def timed(name, fn, *a):
        t0, c0 = clock(), cpu_clock()
        fn(*a)
        times[name].append(clock() - t0)
        cpu[name].append(cpu_clock() - c0)

    # The control does a fixed amount of work (about a merge's) every 32 steps:
    # its maximum is what this machine adds to anything (preemption, steal).
    src = np.ones((64, 2**14), np.float32)
    dst = np.empty_like(src)
    t_start = time.perf_counter()
    for s in range(1, steps + 1):
        if s % 32 == 0:
            timed("control: 300 us of copying", np.copyto, dst, src)
        step_row["step"], step_row["loss"] = s, float(noise[s % 64])
        timed("append step row", h.append_step, step_row)
        if s % PLAYING_SUMMARY_EVERY == 0:
            summary_row["step"] = s
            timed("append summary row", h.append_summary, summary_row)
        if s % 500 == 0:
            object.__setattr__(ev, "step", s)
            timed("append evaluation", h.append_eval, ev)
        if s % 33 == 0:
            timed("snapshot", h.snapshot)
    gc.enable()
    wall = time.perf_counter() - t_start
    st = h.steps
    print(f"{steps:,} steps in {wall:.1f} s; step store: {len(st):,} rows, stride {st.stride}, "
          f"older capacity {st.capacity:,}, recent window {st.window:,}, chunks of {st.chunk_rows}")
    print(f"{'':20s} {'wall clock':^44s}   {'CPU time of this thread':^44s}")
    for name in names:
        print(f"{name:20s} {percentiles(times[name])}   {percentiles(cpu[name])}   "
              f"({len(times[name]):,} calls)")
    for label, d in (("wall clock", times), ("CPU time", cpu)):
        worst = max(max(ns) for name, ns in d.items() if not name.startswith("control")) / 1e6
        print(f"worst {label}: {worst:.2f} ms (target <= 1 ms): {'met' if worst <= 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
