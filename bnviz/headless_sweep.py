"""Headless sweeps: ``bnviz --headless --sweep batch_size=2,4,8 --norms bn,gn
--steps N --export DIR`` trains every point (in parallel processes) and
writes ``sweep.csv``, a figure per metric, the base settings and a manifest.
"""
from __future__ import annotations

import math
import os
import sys

from .headless import EXIT_OK, EXIT_POINTS_FAILED, Progress, fail


class _PointProgress(Progress):
    def _numbers(self, done: int, now: float) -> str:
        per = (now - self.start) / max(done, 1)
        left = per * (self.total - done)
        return f"run {done}/{self.total}  {int(left) // 60}:{int(left) % 60:02d} left"


def run_sweep(args, config) -> int:
    from .cli import default_config
    from .engine.config import ConfigError
    from .engine.sweep import NORM_NAMES, SweepSpec, parse_sweep
    from .export import ExportError, prepare_folder
    from .qt_check import QtUnavailable, require_offscreen
    from .training.sweeps import SweepRunner

    folder = args.export or "bnviz-sweep"
    try:
        require_offscreen()
        prepare_folder(folder)   # before training: an unwritable folder fails now
        setting, values = parse_sweep(args.sweep)
        norms = tuple(n.strip() for n in (args.norms or "bn").split(",") if n.strip())
        if args.lesson:   # from the lesson's run A
            from .engine.lessons import lesson
            config = lesson(args.lesson).configs[0]
        spec = SweepSpec(config or default_config(), setting, values, norms, args.steps)
        runner = SweepRunner(spec)
    except (QtUnavailable, ExportError, ConfigError) as exc:
        return fail(str(exc))
    print(f"bnviz: sweeping {setting} over {', '.join(f'{v:g}' for v in values)} for "
          f"{', '.join(NORM_NAMES[n] for n in norms)}: {runner.total} runs of {args.steps} steps",
          file=sys.stderr)
    progress = _PointProgress(runner.total)
    try:
        results = runner.run(lambda done, _total: progress.update(done))
    finally:
        runner.cancel()
    progress.finish()
    for r in results:
        if r.error:
            print(f"bnviz: {NORM_NAMES.get(r.norm, r.norm)}, {setting} = {r.value}: {r.error}",
                  file=sys.stderr)
    try:
        written = export_sweep(folder, spec, results, args)
    except ExportError as exc:
        return fail(str(exc))
    print(f"bnviz: wrote {len(written)} files to {folder}", file=sys.stderr)
    failed = sum(1 for r in results if r.error)
    if failed:
        print(f"bnviz: {failed} of {len(results)} sweep runs failed (named above); the table and "
              "figures hold the others", file=sys.stderr)
        return EXIT_POINTS_FAILED
    return EXIT_OK


def export_sweep(folder, spec, results, args=None) -> list:
    """The results (``sweep.csv``), a figure of each metric, the base
    settings and the manifest, into ``folder`` as one export."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([sys.argv[0]])  # noqa: F841 (kept alive)
    from .engine.sweep import METRICS, results_csv
    from .export import _write, export_figure, export_staged, write_manifest
    from .figures import DEFAULT_FIGURE, FIGURE_SCALE, FIGURE_SIZES, layout_size
    from .ui.panels.sweep import SweepPanel
    pixels = (args.figure_size if args is not None and args.figure_size else FIGURE_SIZES[DEFAULT_FIGURE])
    scale = FIGURE_SCALE * (args.scale if args is not None else 1.0)
    panel = SweepPanel()
    panel.set_sweep(spec, results)

    def write_into(staging):
        written = [_write(staging / "sweep.csv", results_csv(spec, results).encode("utf-8")),
                   _write(staging / "config.toml", spec.base.to_toml().encode("utf-8"))]
        for metric in METRICS:
            panel.set_metric(metric)
            written += export_figure(panel.plot, staging / f"sweep-{metric.replace('_', '-')}",
                                     layout_size(pixels), scale)
        facts = {"kind": "sweep", "setting": spec.setting, "values": list(spec.values),
                 "norms": list(spec.norms), "steps": spec.steps, "seed": spec.base.seed,
                 "dataset": spec.base.dataset,
                 "results": [{"norm": r.norm, "value": r.value, "steps": r.step,
                              **{m: v if math.isfinite(v) else None for m, v in r.metrics.items()},
                              "error": r.error} for r in results]}
        return write_manifest(staging, written, facts)

    try:
        return export_staged(folder, write_into)
    finally:
        panel.close()
        panel.deleteLater()
