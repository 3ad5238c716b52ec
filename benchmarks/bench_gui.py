"""The window under load, with training in its own process: the Fig. 1
network (then compare mode with 2 runs, then the 5-run optimizers lesson)
trained flat out with every panel live, offscreen. Prints, from one run:

- training steps/s with the window against the same runs trained by a
  training process alone (same bookkeeping and frames, read by a bare
  loop instead of the window): target >= 0.9;
- frames drawn per second: target >= 30;
- GUI event-loop stalls seen by a 5 ms timer: p99 <= 16 ms, worst <= 30 ms;
- the child's cost of producing and sending frames, as a share of its
  training time: <= 5 %;
- time to the first window and to the first frame (<= 1.5 s, <= 2.5 s);
- with --memory-steps N: memory after N steps of the default run (target
  <= 600 MB for 100,000) of the window, the training process and the fork
  server it came from, resident and proportional (shared pages split).

    python benchmarks/bench_gui.py [--seconds 20] [--memory-steps 100000]
        [--only fig1|compare|lesson|memory]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import sys
import tempfile
import time

import offscreen_setup  # noqa: F401,E402 (first: before Qt and NumPy load)

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bnviz.engine.config import DEFAULT_PRESET, preset  # noqa: E402
from bnviz.engine.lessons import lesson  # noqa: E402
from bnviz.training.process import TrainingProcess, prestart, start_followers  # noqa: E402
from bnviz.training.replica import Replica  # noqa: E402
from bnviz.ui.main_window import MainWindow  # noqa: E402

FIG1 = preset("Ioffe & Szegedy 2015, Fig. 1")


def run_loop(seconds: float, until=None) -> None:
    """A blocking event loop as in app.exec() (sleeps in Qt between events)."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    check = QTimer()
    if until is not None:
        check.timeout.connect(lambda: until() and loop.quit())
        check.start(20)
    loop.exec()


class StallProbe:
    """A 5 ms timer in the GUI thread; ``gaps`` holds how late each tick was
    (seconds): the event loop's stalls."""

    def __init__(self, interval_ms: int = 5):
        self.gaps: list[float] = []
        self._last = None
        self._interval = interval_ms / 1000
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        self._last = None
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _on_timer_timeout(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append(max(0.0, now - self._last - self._interval))
        self._last = now


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pss_mb(pid: int) -> float:
    """Proportional set size: pages shared between processes (the training
    process and the fork server it came from share their libraries and
    preloaded modules) are counted once in all, split between them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def fork_server_pid() -> int | None:
    from multiprocessing import forkserver
    return getattr(forkserver._forkserver, "_forkserver_pid", None)


def alone_rate(configs, labels, seconds: float, parallel: bool = True) -> float:
    """Steps/s of a training process alone: the same commands and frames,
    read and applied to a copy by a bare loop instead of the window; with
    ``parallel`` each run after A in a follower process, as the window does,
    else all in one process (the lockstep of one process)."""
    proc = TrainingProcess()
    followers, ends = start_followers(len(configs) - 1) if parallel else ([], [])
    proc.send(("reset_runs", tuple(configs), tuple(labels), 1, tuple(ends)))
    for end in ends:
        end.close()
    replica, frame = None, None

    def pump(until):
        nonlocal replica, frame
        while not until():
            event = proc.conn.recv()
            if event[0] == "frame":
                if event[1].starts:
                    replica = Replica(1, event[1].starts)
                frame = replica.apply(event[1])
    pump(lambda: frame is not None)
    proc.send(("play",))
    t_end = time.perf_counter() + 1.0
    pump(lambda: time.perf_counter() > t_end)
    s0, t0 = frame.step, time.perf_counter()
    pump(lambda: time.perf_counter() - t0 > seconds)
    rate = (frame.step - s0) / (time.perf_counter() - t0)
    proc.stop()
    for p in followers:
        p.join(2.0)
    return rate


def child_stats(win) -> dict:
    got = {}

    def on_pong(token, mods, stats):
        got.update(stats)
    win.training.pong.connect(on_pong)
    win.training.ping("stats")
    run_loop(5.0, until=lambda: bool(got))
    win.training.pong.disconnect(on_pong)
    return got


def window_run(start, seconds: float, settings, profile: str | None = None) -> dict:
    """Open a window, start() its runs, train flat out for ``seconds``
    (``profile``: write a cProfile of the window's timed seconds there)."""
    t_start = time.perf_counter()
    prestart()   # as bnviz.app.main does
    win = MainWindow(FIG1, settings=settings)
    win.resize(1600, 1000)
    win.show()
    QApplication.processEvents()
    t_window = time.perf_counter() - t_start
    run_loop(60.0, until=lambda: win.model.frame is not None)
    t_frame = time.perf_counter() - t_start
    start(win)
    n_runs = [0]
    run_loop(60.0, until=lambda: win.model.frame is not None and win.model.frame.run_id == win.model.run_id
             and win.model.frame.step > 0)
    n_runs[0] = 1 + len(win.model.frame.others)
    win.toggle_play() if not win.playing else None
    run_loop(1.5)
    before = child_stats(win)
    probe = StallProbe()
    gaps = probe.gaps
    step0, frames0, t0 = win.model.frame.step, win.frames_drawn, time.perf_counter()
    probe.start()
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    run_loop(seconds)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    probe.stop()
    elapsed = time.perf_counter() - t0
    out = {"runs": n_runs[0], "steps_per_second": (win.model.frame.step - step0) / elapsed,
           "frames_per_second": (win.frames_drawn - frames0) / elapsed,
           "p99_stall_ms": float(np.percentile(gaps, 99)) * 1000 if gaps else float("nan"),
           "worst_stall_ms": max(gaps, default=float("nan")) * 1000,
           "first_window_s": t_window, "first_frame_s": t_frame,
           "status_steps_per_second": win.model.frame.steps_per_second}
    after = child_stats(win)
    busy = after["busy_seconds"] - before["busy_seconds"]
    cost = (after["frame_seconds"] - before["frame_seconds"]) + (after["send_seconds"] - before["send_seconds"])
    out["frame_share"] = cost / busy if busy > 0 else float("nan")
    out["eval_share"] = (after["eval_seconds"] - before["eval_seconds"]) / busy if busy > 0 else float("nan")
    win.close()
    return out


def memory_run(steps: int, settings) -> dict:
    win = MainWindow(preset(DEFAULT_PRESET), settings=settings)
    win.show()
    run_loop(60.0, until=lambda: win.model.frame is not None)
    win.toggle_play()
    run_loop(3600.0, until=lambda: win.model.frame.step >= steps)
    win.toggle_play()
    run_loop(1.0)
    pids = {"window": os.getpid(), "training process": win.training.pid, "fork server": fork_server_pid()}
    out = {"steps": win.model.frame.step,
           "rss": {k: rss_mb(p) for k, p in pids.items() if p},
           "pss": {k: pss_mb(p) for k, p in pids.items() if p}}
    win.close()
    return out


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def report(name: str, gui: dict, alone: float) -> None:
    ratio = gui["steps_per_second"] / alone
    print(f"{name} ({gui['runs']} run{'s' if gui['runs'] > 1 else ''})")
    print(f"  training process alone                 {alone:8.0f} steps/s")
    print(f"  with the window                         {gui['steps_per_second']:8.0f} steps/s"
          f"  ratio {ratio:.2f}  (>= 0.9: {verdict(ratio >= 0.9)})")
    print(f"  status bar read-out at the end          {gui['status_steps_per_second']:8.0f} steps/s")
    fps = gui["frames_per_second"]
    print(f"  frames drawn                            {fps:8.1f} /s  (>= 30: {verdict(fps >= 30)})")
    p99, worst = gui["p99_stall_ms"], gui["worst_stall_ms"]
    print(f"  GUI event-loop stall p99 / worst        {p99:5.1f} / {worst:5.1f} ms"
          f"  (<= 16 / 30: {verdict(p99 <= 16)} / {verdict(worst <= 30)})")
    share = gui["frame_share"] * 100
    print(f"  child's frame cost (build + send)       {share:8.1f} %  (<= 5: {verdict(share <= 5)})")
    print(f"  child's test-set evaluations for frames {gui['eval_share'] * 100:8.1f} %  (capped at 10 % by design)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--memory-steps", type=int, default=0)
    ap.add_argument("--only", choices=("fig1", "compare", "lesson", "memory"), default=None,
                    help="one case; memory: only the --memory-steps run")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the window's timed seconds (with --only)")
    args = ap.parse_args(argv)
    app = QApplication.instance() or QApplication([])   # noqa: F841
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "bench.ini"), QSettings.IniFormat)
    fig1_b = FIG1.replace(batchnorm=False)
    opt = lesson("optimizers")
    cases = [("fig1", "Fig. 1 network, every panel live", lambda w: None, (FIG1,), ("",)),
             ("compare", "Compare mode, Fig. 1 with and without BN",
              lambda w: w.start_runs((FIG1, fig1_b), ("A: BN", "B: no BN")), (FIG1, fig1_b), ("A", "B"))]
    cases.append(("lesson", f"Lesson: {opt.title}", lambda w: w.open_lesson("optimizers"),
                  opt.configs, opt.labels))
    for key, name, start, configs, labels in cases:
        if args.only and key != args.only:
            continue
        profile = f"{args.profile}.{key}" if args.profile and not args.only else args.profile
        gui = window_run(start, args.seconds, settings, profile)
        alone = alone_rate(configs, labels, min(args.seconds, 10.0))
        report(name, gui, alone)
        if len(configs) > 1:
            one = alone_rate(configs, labels, min(args.seconds, 10.0), parallel=False)
            speedup = alone / one
            print(f"  lockstep in {len(configs)} processes / in one  {alone:6.0f} / {one:6.0f} steps/s"
                  f"  = {speedup:.2f}x" + (f"  (>= 1.6: {verdict(speedup >= 1.6)})" if len(configs) == 2 else ""))
        if key == "fig1":
            print(f"  first window {gui['first_window_s']:.2f} s (<= 1.5: "
                  f"{verdict(gui['first_window_s'] <= 1.5)}), first frame {gui['first_frame_s']:.2f} s"
                  f" (<= 2.5: {verdict(gui['first_frame_s'] <= 2.5)})")
    if args.memory_steps:
        mem = memory_run(args.memory_steps, settings)
        print(f"Memory after {mem['steps']} steps of the default run"
              + (":" if args.only == "memory" else " (after the cases above; --only memory for a "
                                                   "process that ran nothing else):"))
        for kind, label in (("rss", "resident (shared pages counted in each)"),
                            ("pss", "proportional (shared pages split)")):
            parts = mem[kind]
            both = parts["window"] + parts["training process"]
            print(f"  {label}: " + ", ".join(f"{k} {v:.0f}" for k, v in parts.items()) + " MB")
            print(f"    window + training process {both:.0f} MB (<= 600: {verdict(both <= 600)}),"
                  f" all three {sum(parts.values()):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
