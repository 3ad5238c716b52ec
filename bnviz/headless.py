"""Headless runs: train without a window, then export everything.

``bnviz --headless --steps N [--config FILE | --preset NAME] [--export DIR]``.
Exit status: 0 done, 2 bad input, 3 training diverged (what was trained
up to then is still exported), 70 a bug (one line, the traceback in a file).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

EXIT_OK, EXIT_BAD_INPUT, EXIT_DIVERGED = 0, 2, 3
EXIT_POINTS_FAILED = 4   # a sweep whose points did not all train (the others still written)
EXIT_BUG = 70   # EX_SOFTWARE: an exception bnviz does not expect, that is a bug
DEFAULT_EXPORT_DIR = "bnviz-export"


def fail(message: str) -> int:
    print(f"bnviz: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


class Progress:
    """Progress on ``stream``: one line redrawn in place on a terminal,
    otherwise (a log file, a pipe) a line every ~10%."""

    def __init__(self, total: int, stream=None):
        self.total, self.stream = total, stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.perf_counter()
        self._next_decile = 1
        self._last_draw = 0.0
        self._done = 0
        self._width = 0

    def update(self, done: int) -> None:
        now = time.perf_counter()
        self._done = done
        if self.tty:
            if now - self._last_draw < 0.1 and done < self.total:
                return
            self._last_draw = now
            filled = int(30 * done / self.total)
            bar = "#" * filled + "-" * (30 - filled)
            line = f"[{bar}] {self._numbers(done, now)}"
            self._width = max(self._width, len(line))   # cover a longer previous line
            self.stream.write("\r" + line.ljust(self._width))
            self.stream.flush()
        elif done * 10 >= self._next_decile * self.total:
            self._next_decile = done * 10 // self.total + 1
            self.stream.write(self._numbers(done, now) + "\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def rate(self) -> float:
        """Steps per second so far."""
        return self._done / max(time.perf_counter() - self.start, 1e-9)

    def _numbers(self, done: int, now: float) -> str:
        rate = done / max(now - self.start, 1e-9)
        left = (self.total - done) / rate if rate > 0 else 0.0
        return (f"step {done}/{self.total}  {rate:,.0f} steps/s  "
                f"{int(left) // 60}:{int(left) % 60:02d} left")


def train(runs, steps: int, progress: Progress | None = None, stops=(), at_stop=None) -> int | None:
    """Train every run of ``runs`` (``training.runs``: one run, or several
    in lockstep, each comparison run in a process of its own) ``steps``
    steps, evaluating every max(1, steps // 100) and at the end; stop at
    the first step at which any run's loss is NaN or Inf (or, by the end
    of that stretch, a BN statistic) and return it (None if all stayed finite).
    ``at_stop(done)`` is called at each of the steps ``stops`` (an
    animation's frames), after that step's evaluation if there is one."""
    every = max(1, steps // 100)
    stops = sorted({int(s) for s in stops if 0 < s <= steps})
    done, k = 0, 0
    while done < steps:
        n = min(every - done % every, steps - done)
        if k < len(stops):
            n = min(n, stops[k] - done)
        at = done + n
        # The last step is always summarised, so the percentiles reach it (and a frame's too).
        done += runs.advance(n, summarize_last=at == steps or (k < len(stops) and at == stops[k]))
        broken = runs.broken()
        if broken is not None:
            return broken[1]   # counted from the start (a session may have begun later)
        if done % every == 0 or done == steps:
            runs.evaluate()
        if k < len(stops) and done == stops[k]:
            k += 1
            if at_stop is not None:
                at_stop(done)
        if progress is not None:
            progress.update(done)
    return None


def parallel_runs(comparison, labels):
    """The runs of ``comparison`` as the window trains them: B, C... each
    in a follower process (LocalRuns if there is one run, or no process
    can be started)."""
    from .engine.compare import run_name
    from .training.process import start_followers
    from .training.runs import LocalRuns, ParallelRuns
    n = len(comparison.runs)
    if n > 1:
        try:
            processes, ends = start_followers(n - 1)
        except OSError:
            return LocalRuns(comparison), []
        names = [run_name(labels, i) for i in range(n)]
        return ParallelRuns(comparison, ends, names), processes
    return LocalRuns(comparison), []


def run(args, config) -> int:
    """Train and export as ``args`` say; returns the exit status. An
    exception nobody expected is one line too (status 70), its traceback
    written to a file to report."""
    try:
        return _run(args, config)
    except KeyboardInterrupt:
        print("bnviz: interrupted", file=sys.stderr)
        return 130
    except (MemoryError, RecursionError) as exc:   # input too large or too deep for this machine
        return fail(f"out of resources ({type(exc).__name__}); the input is too large or "
                    "nested too deeply")
    except Exception as exc:   # noqa: BLE001: a bug, reported rather than a traceback
        where = _write_traceback()
        print(f"bnviz: error: internal error ({type(exc).__name__}: {str(exc)[:200]}); please report "
              f"this, with the traceback written to {where}", file=sys.stderr)
        return EXIT_BUG


def _write_traceback() -> str:
    """The current exception's traceback in a new file; its path."""
    import tempfile
    import traceback
    try:
        fd, path = tempfile.mkstemp(prefix="bnviz-traceback-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"bnviz {sys.argv!r}\n")
            traceback.print_exc(file=fh)
        return path
    except OSError:
        traceback.print_exc()
        return "stderr (above): no file could be written"


def _run(args, config) -> int:
    from .cli import runs_from_args
    from .engine.compare import Comparison
    from .engine.config import ConfigError
    from .engine.data import DatasetError
    from .engine.session import SessionError, check_save_path, load_runs
    from .engine.trainer import PLAYING_SUMMARY_EVERY
    from .export import ExportError, prepare_folder
    from .qt_check import QtUnavailable, require_offscreen

    if args.sweep:
        from .headless_sweep import run_sweep
        return run_sweep(args, config)
    folder = args.export or DEFAULT_EXPORT_DIR
    try:
        require_offscreen()   # what export needs, loaded before training: a missing library fails now
    except QtUnavailable as exc:
        return fail(str(exc))
    try:
        prepare_folder(folder)   # before training: an unwritable folder fails now
        if args.save_session:
            check_save_path(args.save_session)   # and so does a session that could not be saved
        if args.session:   # continue a saved session exactly where it stopped
            loaded, labels = load_runs(args.session)
            runs, labels = Comparison.from_runs(loaded), tuple(labels)
            configs = tuple(t.config for t in loaded)
        else:
            configs, labels = runs_from_args(args, config)
            runs = Comparison.of(configs, summary_every=PLAYING_SUMMARY_EVERY, summary_growth=True)
    except (ExportError, SessionError) as exc:
        return fail(str(exc))
    except ConfigError as exc:
        return fail(str(exc))
    except DatasetError as exc:
        return fail(f"data set: {exc}")

    comparison = runs
    runs, followers = parallel_runs(comparison, labels)
    try:
        return _train_and_export(args, runs, configs, labels, folder)
    finally:
        runs.close()
        for p in followers:
            p.join(2.0)


def _train_and_export(args, runs, configs, labels, folder) -> int:
    import numpy as np

    from .engine.compare import run_name
    from .engine.session import SessionError
    from .export import ExportError, export_all
    from .training.messages import FrameUpdate
    from .training.replica import Replica

    trainer = runs.a
    cfg = trainer.config
    lockstep = f" ({len(configs)} runs in lockstep)" if len(configs) > 1 else ""
    start = f" from step {trainer.step_count}" if trainer.step_count else ""
    conv = f"conv {list(cfg.conv_channels)}, " if cfg.is_cnn() else ""
    print(f"bnviz: training {cfg.dataset}, {conv}hidden {list(cfg.hidden)}, {args.steps} steps{start}"
          f"{lockstep}", file=sys.stderr)
    names = [run_name(labels, i) for i in range(runs.count)]
    starts = runs.starts([names[i] if runs.count > 1 else "" for i in range(runs.count)])
    progress = Progress(args.steps)
    replica = Replica(0, starts)   # the window's copy of every run's history, as it grows
    pixels = args.figure_size or _figure_size()
    recorder, stops, at_stop = None, (), None
    if args.animate:
        recorder, stops, at_stop = _recording(args, runs, replica, starts, progress, pixels)
        why = recorder.panel.absence(at_stop.first_frame)
        if why is not None:   # before training: nothing to animate, said now
            recorder.close()
            return fail(f"--animate {args.animate}: nothing to show for this run: {why}")
    # A diverging run overflows on purpose: say so once below, not with
    # NumPy's warnings from deep inside the engine.
    try:
        with np.errstate(all="ignore"):
            diverged_at = train(runs, args.steps, progress, stops, at_stop)
        progress.finish()
        extra = ()
        if recorder is not None:
            if diverged_at is not None:   # the frame where it stopped (if not taken), and no more
                at_stop(diverged_at, last=True)
            if recorder.frames:
                extra = ((f"{args.animate}.{args.animation_format}",
                          recorder.encode(args.animation_format, args.fps)),)
                asked = round(args.fps * args.seconds)
                fewer = (f" (fewer than {asked}: one a step at most)"
                         if len(recorder.frames) < asked and diverged_at is None else "")
                print(f"bnviz: animated {args.animate}: {len(recorder.frames)} frames at {args.fps} "
                      f"frames/s{fewer}", file=sys.stderr)
            else:
                print(f"bnviz: no animation of {args.animate}: training stopped before its first "
                      "frame", file=sys.stderr)
    finally:
        if recorder is not None:
            recorder.close()
    if diverged_at is not None:
        broken, _, what = runs.broken()
        where = f" of run {names[broken]}" if len(configs) > 1 else ""
        print(f"bnviz: training diverged at step {diverged_at}: {what}{where} became NaN or Inf; "
              "exporting what was trained", file=sys.stderr)

    app = _qt_app()  # noqa: F841 (kept alive)
    from .figures import FIGURE_SCALE, figure_panels, layout_size
    with np.errstate(all="ignore"):
        # The frame the window would show: every run's whole history, from
        # the processes that trained them (A's decision boundary only, as before).
        updates = runs.updates(True, diverged_at)
        updates = (updates[0], *(replace(u, boundary=None) for u in updates[1:]))
        frame = replica.apply(FrameUpdate(run_id=0, steps_per_second=progress.rate(),
                                          runs=updates, starts=starts))
        inspection = None
        if len(trainer.y_test) >= 2 and trainer.step_count > 0:
            inspection = runs.inspect(0, 0)
        panels = figure_panels(frame, inspection)
    try:
        written = export_all(folder, frame, panels, scale=FIGURE_SCALE * args.scale,
                             unit_csv=args.unit_csv, size=layout_size(pixels), extra=extra)
    except ExportError as exc:
        return fail(str(exc))
    finally:
        for panel in panels:
            panel.close()
            panel.deleteLater()
    print(f"bnviz: wrote {len(written)} files to {folder}", file=sys.stderr)
    if args.save_session:
        try:
            runs.save(args.save_session, list(labels))
        except SessionError as exc:
            return fail(str(exc))
        print(f"bnviz: saved the session to {args.save_session}", file=sys.stderr)
    return EXIT_DIVERGED if diverged_at is not None else EXIT_OK


def _qt_app():
    """The QApplication, offscreen: a headless run must never need a display.
    Made only once needed (after training, or before it for an animation)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication
    qInstallMessageHandler(_qt_message)
    return QApplication.instance() or QApplication([sys.argv[0]])


def _figure_size():
    from .figures import DEFAULT_FIGURE, FIGURE_SIZES
    return FIGURE_SIZES[DEFAULT_FIGURE]


def _recording(args, runs, replica, starts, progress, pixels):
    """(recorder, the steps of its frames, what to do at each): the panel
    ``args.animate`` drawing each frame of the runs as they train."""
    from .animation import PanelRecorder, frame_steps
    from .training.messages import FrameUpdate
    app = _qt_app()  # noqa: F841 (kept alive)
    from .ui.panels import ALL_PANELS
    from .ui.theme import LIGHT, using
    cls = next(c for c in ALL_PANELS if c.object_name == f"{args.animate}_panel")
    with using(LIGHT):
        panel = cls()
    recorder = PanelRecorder(panel, (round(pixels[0] * args.scale), round(pixels[1] * args.scale)))
    boundary = args.animate == "decision_boundary"

    def frame_now(diverged_at=None):
        updates = runs.updates(boundary, diverged_at)
        updates = (updates[0], *(replace(u, boundary=None) for u in updates[1:]))
        return replica.apply(FrameUpdate(run_id=0, steps_per_second=progress.rate(), runs=updates,
                                         starts=starts))

    taken = []

    def capture(done: int, last: bool = False) -> None:
        if last and taken and taken[-1] == done:
            return
        taken.append(done)
        recorder.capture(frame_now(done if last else None))
    capture.first_frame = frame_now()   # the runs before training: what the panel can show
    return recorder, frame_steps(args.steps, args.fps, args.seconds), capture


def _qt_message(mode, context, message: str) -> None:
    """Qt's warnings on stderr, less the offscreen platform's notice that it
    cannot resize windows to their size hints (it prints one per panel)."""
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)
