"""History store: the time of one append and of one snapshot over a long run.

Feeds the stores of the Ioffe & Szegedy Fig. 1 network (3 x 100 sigmoid
units with BN, float32, the default memory budget) with 200,000 step rows
taken from a real step, a percentile summary every 8th step (as the GUI's
worker does) and an evaluation every 500, and takes a snapshot every 33
steps (a frame at 30 frames/s while training at ~1,000 steps/s). Prints the
median, p99 and maximum of each; the target is a maximum of 1 ms.

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
from bench_engine import FIG1  # noqa: E402


def percentiles(ns: list[int]) -> str:
    a = np.array(ns) / 1e3
    return (f"median {np.median(a):7.1f} us   p99 {np.percentile(a, 99):7.1f} us   "
            f"max {a.max():7.1f} us   ({len(a):,} calls)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200_000)
    args = ap.parse_args()
    tr = Trainer(FIG1)
    tr.step(2)
    tr.evaluate()
    rec = tr._recorder
    step_row = rec.step_row(1, 1, 0.5, 0.5, 0.1, rec.grad_norms(), 1.0)
    summary_row = rec.summary_row(1)
    ev = tr.last_evaluation
    h = type(tr.history)(FIG1.hidden, FIG1.bn_layers(), [False] * 3, dtype=np.float32)
    times = {"append step row": [], "append summary row": [], "append evaluation": [],
             "snapshot": []}
    rng = np.random.default_rng(0)
    noise = rng.normal(size=64).astype(np.float32)
    gc.disable()   # the collector's pauses are not the store's
    clock = time.perf_counter_ns
    t_start = time.perf_counter()
    for s in range(1, args.steps + 1):
        step_row["step"], step_row["loss"] = s, float(noise[s % 64])
        t0 = clock()
        h.append_step(step_row)
        times["append step row"].append(clock() - t0)
        if s % 8 == 0:
            summary_row["step"] = s
            t0 = clock()
            h.append_summary(summary_row)
            times["append summary row"].append(clock() - t0)
        if s % 500 == 0:
            object.__setattr__(ev, "step", s)
            t0 = clock()
            h.append_eval(ev)
            times["append evaluation"].append(clock() - t0)
        if s % 33 == 0:
            t0 = clock()
            h.snapshot()
            times["snapshot"].append(clock() - t0)
    gc.enable()
    wall = time.perf_counter() - t_start
    st = h.steps
    print(f"{args.steps:,} steps in {wall:.1f} s; step store: {len(st):,} rows, stride {st.stride}, "
          f"older capacity {st.capacity:,}, recent window {st.window:,}, chunks of {st.chunk_rows}")
    for name, ns in times.items():
        print(f"{name:20s} {percentiles(ns)}")
    worst = max(max(ns) for ns in times.values()) / 1e6
    print(f"worst of all: {worst:.2f} ms (target <= 1 ms): {'met' if worst <= 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
