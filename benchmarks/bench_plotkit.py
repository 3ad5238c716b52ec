"""What each part of bnviz.ui.plotkit still earns against stock pyqtgraph.

Runs benchmarks/bench_panels.py (every panel, real frames of the Fig. 1
network, offscreen) once as shipped and once with each part swapped for
its stock counterpart (see stock_plotting.py), each in a process of its
own, in alternating order, and prints every panel's mean milliseconds per
frame and their total, with the total's ratio to plotkit's.

    python benchmarks/bench_plotkit.py [--history 3000] [--frames 40] [--rounds 1]
        [--parts grid,autorange,settling,curves]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from stock_plotting import PARTS

HERE = os.path.dirname(os.path.abspath(__file__))


def run_panels(stock: str, args) -> dict[str, tuple[float, float]]:
    """{panel: (mean ms, p90 ms)} and "total" from one bench_panels run."""
    cmd = [sys.executable, os.path.join(HERE, "bench_panels.py"), "--frames", str(args.frames),
           "--history", str(args.history), "--size", args.size]
    if stock:
        cmd += ["--stock", stock]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    rows, table = {}, False
    for line in out.splitlines():
        if line.startswith("panel "):
            table = True
            continue
        parts = line.split()
        if table and len(parts) >= 3:
            try:
                rows[parts[0]] = (float(parts[1]), float(parts[2]))
            except ValueError:
                continue
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", type=int, default=3000, help="steps of history before the frames")
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--size", default="700x450")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each variant (medians)")
    ap.add_argument("--parts", default=",".join(PARTS),
                    help="comma-separated parts to swap one at a time (and all together)")
    args = ap.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    variants = {"plotkit": "", **{f"stock {p}": p for p in parts}}
    if len(parts) > 1:
        variants["all stock"] = ",".join(parts)
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for name, stock in variants.items():
            results[name].append(run_panels(stock, args))
    panels = [k for k in results["plotkit"][0] if k != "total"]
    med = {v: {p: statistics.median(r[p][0] for r in runs) for p in [*panels, "total"]}
           for v, runs in results.items()}
    print(f"mean ms per frame, {args.frames} frames after {args.history} steps, {args.size}, "
          f"{args.rounds} round(s)")
    short = {p: p.replace("Panel", "")[:10] for p in panels}
    print(f"{'variant':18s}" + "".join(f"{short[p]:>11s}" for p in panels) + f"{'total':>9s}{'ratio':>7s}")
    base = med["plotkit"]["total"]
    for v, row in med.items():
        print(f"{v:18s}" + "".join(f"{row[p]:11.2f}" for p in panels)
              + f"{row['total']:9.2f}{row['total'] / base:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
