"""The window under load: the Fig. 1 network trained flat out with every
panel live, offscreen, for a fixed time. Prints, from one run:

- training steps per second with the window against the bare Trainer doing
  the worker's own work (history and summaries) in the same process
  (target >= 0.8);
- frames drawn per second (target >= 25);
- the worst stall of the GUI event loop (target <= 50 ms).

    python benchmarks/bench_gui.py [--seconds 10]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import offscreen_setup  # noqa: F401,E402 (first: before Qt and NumPy load)

from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bnviz.engine.config import preset  # noqa: E402
from bnviz.engine.trainer import Trainer  # noqa: E402
from bnviz.ui.main_window import MainWindow  # noqa: E402
from bnviz.ui.worker import SUMMARY_EVERY  # noqa: E402

FIG1 = preset("Ioffe & Szegedy 2015, Fig. 1")


def bare_rate(seconds: float) -> float:
    """Steps per second of the Trainer alone, doing what the worker does."""
    tr = Trainer(FIG1, summary_every=SUMMARY_EVERY)
    tr.advance(50)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        steps += tr.advance(20)
    return steps / (time.perf_counter() - start)


def gui_run(app, seconds: float) -> dict:
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "bench.ini"), QSettings.IniFormat)
    win = MainWindow(FIG1, settings=settings)
    win.resize(1600, 1000)
    win.show()
    stats = {"worst_gap": 0.0, "last": None}
    probe = QTimer()
    probe.setInterval(10)

    def on_probe():
        now = time.perf_counter()
        if stats["last"] is not None:
            stats["worst_gap"] = max(stats["worst_gap"], now - stats["last"] - 0.010)
        stats["last"] = now
    probe.timeout.connect(on_probe)

    def run_loop(seconds_: float, until=None) -> None:
        """A blocking event loop as in app.exec(): it sleeps in Qt, without
        the interpreter lock, between events (a processEvents() busy loop
        would take the lock thousands of times a second from training)."""
        loop = QEventLoop()
        QTimer.singleShot(int(seconds_ * 1000), loop.quit)
        if until is not None:
            check = QTimer()
            check.timeout.connect(lambda: until() and loop.quit())
            check.start(50)
        loop.exec()

    # Let the run load and the window settle, then measure.
    run_loop(60.0, until=lambda: win._frame is not None)
    run_loop(1.0)
    win.toggle_play()
    run_loop(1.0)
    step0, frames0 = win.worker._trainer.step_count, win.frames_drawn
    t0 = time.perf_counter()
    probe.start()
    run_loop(seconds)
    elapsed = time.perf_counter() - t0
    probe.stop()
    out = {"steps_per_second": (win.worker._trainer.step_count - step0) / elapsed,
           "frames_per_second": (win.frames_drawn - frames0) / elapsed,
           "worst_stall_ms": stats["worst_gap"] * 1000}
    win.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--panels-off", action="store_true",
                    help="control run: frames reach the window but panels draw nothing, "
                         "to separate the cost of the plumbing from the cost of drawing")
    args = ap.parse_args(argv)
    if args.panels_off:
        from bnviz.ui.panels.base import Panel
        Panel.set_frame = lambda self, frame: None
    app = QApplication.instance() or QApplication([])
    gui = gui_run(app, args.seconds)
    bare = bare_rate(min(args.seconds, 5.0))
    ratio = gui["steps_per_second"] / bare
    what = "panels OFF (control run)" if args.panels_off else "every panel live"
    print(f"Fig. 1 network, {what}, offscreen, {args.seconds:.0f} s flat out")
    print(f"  bare Trainer (worker's work, no window) {bare:8.0f} steps/s")
    print(f"  with the window                         {gui['steps_per_second']:8.0f} steps/s"
          f"  ratio {ratio:.2f}  (target >= 0.8: {'MET' if ratio >= 0.8 else 'MISSED'})")
    fps = gui["frames_per_second"]
    print(f"  frames drawn                            {fps:8.1f} /s"
          f"  (target >= 25: {'MET' if fps >= 25 else 'MISSED'})")
    stall = gui["worst_stall_ms"]
    print(f"  worst GUI event-loop stall              {stall:8.1f} ms"
          f"  (target <= 50: {'MET' if stall <= 50 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
