"""The window over a long run: the Fig. 1 network trained flat out with every
panel live, offscreen, for many minutes. Prints per minute the frames drawn
per second, the worst and p99 event-loop stall (a 5 ms timer in the GUI
thread), the step reached and both processes' memory; then minute N
against minute 1 (target: frames/s within 10 %).

    python benchmarks/bench_soak.py [--minutes 30] [--every-panel]

``--every-panel`` floats the tabbed panels so that all of them draw.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import offscreen_setup  # noqa: F401,E402 (first: before Qt and NumPy load)

import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench_gui import FIG1, StallProbe, rss_mb, run_loop  # noqa: E402
from bnviz.training.process import prestart  # noqa: E402
from bnviz.ui.main_window import MainWindow  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--every-panel", action="store_true")
    args = ap.parse_args(argv)
    app = QApplication.instance() or QApplication([])   # noqa: F841
    prestart()
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "soak.ini"), QSettings.IniFormat)
    win = MainWindow(FIG1, settings=settings)
    win.resize(1600, 1000)
    win.show()
    if args.every_panel:
        for dock in win.panel_docks.values():
            dock.setFloating(True)
            dock.resize(700, 450)
    run_loop(60.0, until=lambda: win.model.frame is not None)
    win.toggle_play()
    probe = StallProbe()
    gaps = probe.gaps
    probe.start()
    rows = []
    print("minute  frames/s  p99 ms  worst ms      step  window MB  training MB", flush=True)
    for minute in range(1, int(np.ceil(args.minutes)) + 1):
        gaps.clear()
        frames0, t0 = win.frames_drawn, time.perf_counter()
        run_loop(60.0 if minute <= args.minutes else (args.minutes % 1) * 60)
        fps = (win.frames_drawn - frames0) / (time.perf_counter() - t0)
        row = (minute, fps, float(np.percentile(gaps, 99)) * 1000, max(gaps) * 1000, win.model.frame.step,
               rss_mb(os.getpid()), rss_mb(win.training.pid))
        rows.append(row)
        print("%6d  %8.1f  %6.1f  %8.1f  %8d  %9.0f  %11.0f" % row, flush=True)
    probe.stop()
    first, final = rows[0], rows[-1]
    change = final[1] / first[1] - 1 if first[1] else float("nan")
    print(f"minute {final[0]} against minute 1: frames/s {change:+.0%} (within 10 %: "
          f"{'MET' if abs(change) <= 0.10 else 'MISSED'}), worst stall {first[3]:.0f} -> {final[3]:.0f} ms, "
          f"memory {first[5] + first[6]:.0f} -> {final[5] + final[6]:.0f} MB")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
