"""Per-panel drawing cost: each live panel, shown offscreen at a realistic
size, fed a sequence of real frames, timed from ``set_frame`` to the end of
the repaint that follows it.

Frames come from real runs, trained between frames as the worker does:
the Fig. 1 network (digits, 100-100-100, batch 60) with thousands of steps
of history for every panel, and a 2-D run (moons) for the decision boundary.
All frames are built before any timing, so training never enters the
figures. Prints the mean and 90th percentile milliseconds per frame of each
panel and their total (target for the whole window: <= ~8 ms per frame),
plus how often pyqtgraph's axes were repainted and regenerated per frame.

Repaint modes:

- ``events`` (default): what the window does. After ``set_frame`` the event
  loop runs until it is idle, so QGraphicsScene collects its dirty items and
  the views repaint only the regions that changed.
- ``full``: additionally force a synchronous repaint of the whole panel and
  of every plot viewport each frame (the worst case: a resize, a dock move).

"paints/f" counts paint events of the plot viewports, so it shows that the
views really repaint; "axis paint/f" and "axis regen/f" count calls of
AxisItem.paint and AxisItem.generateDrawSpecs (wrapped before any panel is
made), which should happen only when a view's range moves.

    python benchmarks/bench_panels.py [--frames 100] [--history 3000]
        [--mode events|full] [--size 700x450] [--only NAME] [--save DIR]
        [--profile out.prof] [--stock grid,autorange,settling,curves]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import sys
import time

import offscreen_setup  # noqa: F401,E402 (first: before Qt and NumPy load)

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bnviz.engine import RunConfig, Trainer  # noqa: E402
from bnviz.engine.config import preset  # noqa: E402
from bnviz.engine.frame import Frame, boundary_grid, frame_of  # noqa: E402
from bnviz.engine.trainer import PLAYING_SUMMARY_EVERY  # noqa: E402
from bnviz.ui.panels import ALL_PANELS, DecisionBoundaryPanel  # noqa: E402

FIG1 = preset("Ioffe & Szegedy 2015, Fig. 1")
MOONS = RunConfig(dataset="moons", hidden=(16, 16), batch_size=32)
EVAL_EVERY = 8        # frames between evaluations (the worker: every 0.25 s at 30 frames/s)
BOUNDARY_EVERY = 5    # frames between boundary grids (the worker: every 0.15 s)


def build_frames(cfg: RunConfig, history: int, n: int, per_frame: int) -> list[Frame]:
    """``n`` frames of one run, ``per_frame`` steps apart, after ``history``
    steps; evaluations and boundary grids only every few frames, the same
    objects repeated in between, as the worker publishes them."""
    tr = Trainer(cfg, summary_every=PLAYING_SUMMARY_EVERY, summary_growth=True)
    with np.errstate(all="ignore"):
        done = 0
        while done < history:
            done += tr.advance(min(500, history - done))
            tr.evaluate()
        frames, boundary = [], None
        for k in range(n):
            tr.advance(per_frame)
            if k % EVAL_EVERY == 0:
                tr.evaluate()
            if tr.data.is_2d and (boundary is None or k % BOUNDARY_EVERY == 0):
                boundary = boundary_grid(tr)
            frames.append(frame_of(tr, 1, boundary=boundary))
    return frames


class PaintCounter(QObject):
    """Counts Paint events on the widgets it filters."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.n += 1
        return False


COUNTS = {"axis_paint": 0, "axis_specs": 0}


def _count(name: str, method):
    def wrapper(*args, **kwargs):
        COUNTS[name] += 1
        return method(*args, **kwargs)
    return wrapper


pg.AxisItem.paint = _count("axis_paint", pg.AxisItem.paint)
pg.AxisItem.generateDrawSpecs = _count("axis_specs", pg.AxisItem.generateDrawSpecs)


def flush(app: QApplication) -> None:
    """Run the event loop until nothing is pending: the scenes process their
    dirty items, the views post their updates, the window repaints."""
    for _ in range(3):   # dirty items -> viewport update -> UpdateRequest -> paint
        app.processEvents()
        app.sendPostedEvents()


def time_panel(app, cls, frames, warmup: int, size, mode: str, profiler=None) -> dict:
    panel = cls()
    panel.resize(*size)
    panel.show()
    flush(app)
    counter = PaintCounter()
    for w in panel.plot_widgets():
        w.viewport().installEventFilter(counter)
    times = []
    counts0 = None
    for k, frame in enumerate(frames):
        if k == warmup:
            counter.n, counts0 = 0, dict(COUNTS)
            if profiler is not None:
                profiler.enable()
        t0 = time.perf_counter()
        panel.set_frame(frame)
        flush(app)
        if mode == "full":
            panel.repaint()
            for w in panel.plot_widgets():
                w.viewport().repaint()
        t1 = time.perf_counter()
        if k >= warmup:
            times.append(t1 - t0)
    if profiler is not None:
        profiler.disable()
    n = len(times)
    ms = np.array(times) * 1000
    out = {"mean": float(ms.mean()), "p90": float(np.percentile(ms, 90)),
           "max": float(ms.max()),
           "paints": counter.n / n,
           "axis_paint": (COUNTS["axis_paint"] - counts0["axis_paint"]) / n,
           "axis_specs": (COUNTS["axis_specs"] - counts0["axis_specs"]) / n,
           "panel": panel}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100, help="timed frames per panel")
    ap.add_argument("--warmup", type=int, default=15, help="untimed frames first")
    ap.add_argument("--history", type=int, default=3000, help="steps trained before the frames")
    ap.add_argument("--per-frame", type=int, default=30, help="steps trained between frames")
    ap.add_argument("--mode", choices=("events", "full"), default="events")
    ap.add_argument("--size", default="700x450", help="panel size, WxH")
    ap.add_argument("--profile", metavar="FILE", help="write a cProfile of the timed frames")
    ap.add_argument("--only", metavar="NAME", help="only panels whose class name contains NAME")
    ap.add_argument("--save", metavar="DIR", help="save a PNG of each panel after the last frame")
    ap.add_argument("--stock", metavar="PARTS", default="",
                    help="comma-separated parts of bnviz.ui.plotkit to swap for stock pyqtgraph "
                         "(see stock_plotting.py)")
    args = ap.parse_args(argv)
    if args.stock:
        from stock_plotting import use_stock
        use_stock([p for p in args.stock.split(",") if p])
    size = tuple(int(v) for v in args.size.lower().split("x"))
    app = QApplication.instance() or QApplication([])

    n = args.warmup + args.frames
    t0 = time.perf_counter()
    fig1 = build_frames(FIG1, args.history, n, args.per_frame)
    moons = build_frames(MOONS, args.history, n, args.per_frame)
    print(f"built {2 * n} frames in {time.perf_counter() - t0:.1f} s "
          f"(history {len(fig1[0].history)} -> {len(fig1[-1].history)} rows)")
    profiler = cProfile.Profile() if args.profile else None

    print(f"\n{args.frames} frames after {args.warmup} warm-up, {size[0]}x{size[1]}, "
          f"repaint mode {args.mode!r}")
    print(f"{'panel':24s} {'mean ms':>8s} {'p90 ms':>8s} {'max ms':>8s} {'paints/f':>9s} "
          f"{'axis paint/f':>13s} {'axis regen/f':>13s}")
    total_mean = total_p90 = 0.0
    for cls in ALL_PANELS:
        if args.only and args.only.lower() not in cls.__name__.lower():
            continue
        frames = moons if cls is DecisionBoundaryPanel else fig1
        r = time_panel(app, cls, frames, args.warmup, size, args.mode, profiler)
        total_mean += r["mean"]
        total_p90 += r["p90"]
        print(f"{cls.__name__:24s} {r['mean']:8.2f} {r['p90']:8.2f} {r['max']:8.2f} "
              f"{r['paints']:9.2f} {r['axis_paint']:13.2f} {r['axis_specs']:13.2f}")
        if args.save:
            deadline = time.perf_counter() + 0.4   # let throttled titles catch up
            while time.perf_counter() < deadline:
                flush(app)
            os.makedirs(args.save, exist_ok=True)
            r["panel"].grab().save(os.path.join(args.save, f"{cls.object_name}.png"))
        r["panel"].close()
        r["panel"].deleteLater()
        flush(app)
    print(f"{'total':24s} {total_mean:8.2f} {total_p90:8.2f}   (target for all panels: <= ~8 ms)")
    if profiler is not None:
        profiler.dump_stats(args.profile)
        print(f"profile written to {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
