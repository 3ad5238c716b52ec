"""Sweeps: one setting varied over a list of values, for each of several
normalizations, every run from the same seed and data for the same number of
steps; then final metrics against the setting (Wu & He 2018, Fig. 1: test
error against batch size, one line per normalization).

A sweep point is an ordinary run (``run_point`` is ``Trainer(config)``,
``advance(steps)``, ``evaluate()``), so its numbers are those of the same run
trained alone. The points are independent: ``training.sweeps`` runs them in
parallel processes.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

from .config import ConfigError, RunConfig
from .settings import BY_NAME, NORMS, label

# The normalizations a sweep compares, by their short names (the CLI's --norms).
SWEEP_NORMS = {"none": (False, "batch"), "bn": (True, "batch"), "ln": (True, "layer"),
               "gn": (True, "group"), "renorm": (True, "renorm"), "noisy": (True, "noisy")}
NORM_NAMES = {"none": "no normalization", **{k: NORMS[v[1]] for k, v in SWEEP_NORMS.items() if v[0]}}
# What a point measures at the end of its run (columns of the CSV), and their words.
METRICS = {"test_error": "test error (running statistics)",
           "test_error_population": "test error (population statistics)",
           "test_error_batch": "test error (test batches' own statistics)",
           "train_loss": "training loss (mean of the last 20 steps)"}
LOSS_WINDOW = 20
SWEEPABLE = ("batch_size", "lr", "bn_momentum", "gn_groups", "noise_scale", "renorm_rmax",
             "renorm_dmax", "seed", "sgd_momentum", "init_std", "hidden_width")
MAX_POINTS = 200


@dataclass(frozen=True)
class SweepSpec:
    """``setting`` over ``values`` for each of ``norms`` (SWEEP_NORMS keys),
    ``steps`` mini-batches each, from ``base``. ``hidden_width`` sets every
    hidden layer's width."""

    base: RunConfig
    setting: str
    values: tuple
    norms: tuple[str, ...] = ("bn",)
    steps: int = 1000

    def __post_init__(self):
        if self.setting not in SWEEPABLE:
            raise ConfigError("sweep", f"{self.setting!r} cannot be swept (one of: {', '.join(SWEEPABLE)})")
        if not self.values:
            raise ConfigError("sweep", "give at least one value")
        unknown = [n for n in self.norms if n not in SWEEP_NORMS]
        if unknown or not self.norms:
            raise ConfigError("norms", f"{', '.join(unknown) or 'none given'}: not one of "
                                       f"{', '.join(SWEEP_NORMS)}")
        if len(self.values) * len(self.norms) > MAX_POINTS:
            raise ConfigError("sweep", f"{len(self.values) * len(self.norms)} runs, more than "
                                       f"{MAX_POINTS}")
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ConfigError("steps", f"must be a positive integer, got {self.steps!r}")

    def points(self) -> list["SweepPoint"]:
        """Every (norm, value) run's config, validated (the first bad one raises)."""
        out = []
        # Run A's choice of layers where it normalises some (per-layer flags), else every layer.
        flags = self.base.batchnorm if isinstance(self.base.batchnorm, tuple) and any(
            self.base.batchnorm) else True
        for norm in self.norms:
            on, kind = SWEEP_NORMS[norm]
            for value in self.values:
                cfg = self.base.replace(batchnorm=flags if on else False, norm=kind)
                cfg = with_value(cfg, self.setting, value)
                try:
                    cfg.validate()
                except ConfigError as exc:
                    raise ConfigError(exc.field, f"{exc.message} (sweep point {norm}, "
                                                 f"{self.setting} = {value})") from None
                out.append(SweepPoint(norm, value, cfg))
        return out


@dataclass(frozen=True)
class SweepPoint:
    norm: str
    value: object
    config: RunConfig


@dataclass(frozen=True)
class PointResult:
    norm: str
    value: object
    step: int
    metrics: dict = field(default_factory=dict)   # METRICS keys -> float
    error: str = ""                               # why the run could not be trained


def with_value(cfg: RunConfig, setting: str, value) -> RunConfig:
    if setting == "hidden_width":
        return cfg.replace(hidden=(int(value),) * len(cfg.hidden))
    return cfg.replace(**{setting: value})


def parse_values(setting: str, text: str) -> tuple:
    """"2,4,8" -> (2, 4, 8) for an integer setting, floats for a float one."""
    kind = "int" if setting == "hidden_width" else BY_NAME[setting].kind
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(int(part) if kind == "int" else float(part))
        except ValueError:
            raise ConfigError(setting, f"{part!r} is not {'an integer' if kind == 'int' else 'a number'}"
                              ) from None
    if not out:
        raise ConfigError(setting, "give the values to sweep, e.g. 2,4,8")
    if len(set(out)) != len(out):
        raise ConfigError(setting, "a value is given twice")
    return tuple(out)


def parse_sweep(text: str) -> tuple[str, tuple]:
    """"batch_size=2,4,8" -> ("batch_size", (2, 4, 8))."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or name not in SWEEPABLE:
        raise ConfigError("sweep", f"expected SETTING=V1,V2,... with SETTING one of {', '.join(SWEEPABLE)}")
    return name, parse_values(name, values)


def run_point(point: SweepPoint, steps: int) -> PointResult:
    """Train the point's run alone for ``steps`` steps and measure it. A run
    that cannot start or that diverges gives its reason, not an exception."""
    from .data import DatasetError
    from .trainer import Trainer
    try:
        t = Trainer(point.config)
        recent = []
        with np.errstate(all="ignore"):
            done = t.advance(steps - LOSS_WINDOW, stop_on_divergence=True) if steps > LOSS_WINDOW else 0
            # (before the first step last_loss is NaN: a run shorter than the window starts anyway)
            while done < steps and (done == 0 or math.isfinite(t.last_loss)):
                done += t.advance(1)
                recent.append(t.last_loss)
            ev = t.evaluate()
    except (ConfigError, DatasetError, ValueError) as exc:
        return PointResult(point.norm, point.value, 0, error=str(exc))
    metrics = {"test_error": 1.0 - ev["test_accuracy"],
               "test_error_population": 1.0 - ev["test_accuracy_population"],
               "test_error_batch": 1.0 - ev["test_accuracy_batch"],
               "train_loss": float(np.mean(recent)) if recent else float("nan")}
    error = "" if math.isfinite(t.last_loss) else f"diverged by step {t.step_count}"
    return PointResult(point.norm, point.value, t.step_count, metrics, error)


def results_csv(spec: SweepSpec, results: list[PointResult]) -> str:
    """One row per point: the normalization, the setting's value, the step
    and each metric (empty where the run failed), and why it failed."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["norm", spec.setting, "steps", *METRICS, "error"])
    for r in results:
        writer.writerow([r.norm, r.value, r.step, *(f"{r.metrics[m]:.6g}" if m in r.metrics else ""
                                                    for m in METRICS), r.error])
    return buf.getvalue()


def series(spec: SweepSpec, results: list[PointResult], metric: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per normalization, (values, metric) over the points measured so far,
    in the order of the values; failed points are NaN."""
    out = {}
    for norm in spec.norms:
        rows = {r.value: r for r in results if r.norm == norm}
        xs = [v for v in spec.values if v in rows]
        ys = [rows[v].metrics.get(metric, float("nan")) for v in xs]
        out[norm] = (np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
    return out


def axis_label(spec: SweepSpec) -> str:
    return "width of every hidden layer" if spec.setting == "hidden_width" else label(spec.setting)


def log_axis(spec: SweepSpec) -> bool:
    """Batch sizes, learning rates and widths read best on a log axis (when all are positive)."""
    return spec.setting in ("batch_size", "lr", "hidden_width", "init_std") and min(spec.values) > 0
