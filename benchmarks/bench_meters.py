"""The cost of Santurkar's meters (``engine.landscape``): training speed of
the Fig. 1 network on the digits with a measurement (internal covariate
shift of every layer and the landscape along the gradient) every 50 steps,
against the same training without, in one run (this machine is noisy).
Target: at most 30 % slower.

    python benchmarks/bench_meters.py [--steps 3000] [--every 50]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bnviz.engine.config import preset  # noqa: E402
from bnviz.engine.trainer import Trainer  # noqa: E402


def timed(steps: int, every: int) -> float:
    """Seconds for ``steps`` bare steps with the meters every ``every`` steps (0: off)."""
    cfg = preset("Ioffe & Szegedy 2015, Fig. 1").replace(meters=every > 0, meter_every=max(every, 1))
    tr = Trainer(cfg)
    start = time.perf_counter()
    for _ in range(steps):
        tr.train_batch()
    elapsed = time.perf_counter() - start
    assert len(tr.history.meters.snapshot()["step"]) == (steps // every if every else 0)
    return elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    bare, metered = [], []
    for _ in range(args.rounds):   # interleaved, so that a slow moment hurts both
        bare.append(timed(args.steps, 0))
        metered.append(timed(args.steps, args.every))
    b, m = min(bare), min(metered)
    slow = m / b - 1
    print(f"{args.steps} steps: bare {args.steps / b:,.0f} steps/s, with the meters every {args.every} "
          f"steps {args.steps / m:,.0f} steps/s: {100 * slow:.1f}% slower "
          f"(target at most 30%: {'MET' if slow <= 0.30 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
