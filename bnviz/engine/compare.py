"""Comparison: runs trained in lockstep on the same mini-batches.

Run B (and any further run) is run A with some settings changed (by
default: batch norm off). All start from the same initial weights wherever
the layer shapes agree (each layer's weights are drawn from a generator
keyed by the seed and the layer index), and every run trains on exactly the
batches A draws, as long as it uses the same data and batch size; otherwise
it keeps its own order and merely advances together with A. A run that
shares A's batches has A's sampler (same seed, same state) and draws them
itself, so runs in separate processes train on them too.
"""
from __future__ import annotations

import numpy as np

from .config import RunConfig
from .records import StepRecord
from .trainer import Trainer

DATA_FIELDS = ("dataset", "data_path", "n_samples", "noise", "test_fraction", "seed", "dtype")


def same_data(a: RunConfig, b: RunConfig) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in DATA_FIELDS)


def run_letter(i: int) -> str:
    """The name of run i when it has no label of its own: A, B, C..."""
    return chr(ord("A") + i) if i < 26 else f"R{i + 1}"


def run_name(labels, i: int) -> str:
    """Run i's label, or its letter where it has none."""
    return labels[i] if i < len(labels) and labels[i] else run_letter(i)


def _trainers(configs, summary_every: int, summary_growth: bool = False) -> list[Trainer]:
    """A Trainer per config; those on A's data share its (identical) arrays."""
    first = Trainer(configs[0], summary_every=summary_every, summary_growth=summary_growth)
    return [first] + [Trainer(cfg, dataset=first.data if same_data(configs[0], cfg) else None,
                              summary_every=summary_every, summary_growth=summary_growth)
                      for cfg in configs[1:]]


class Comparison:
    """``Comparison(a, b, *more)``; ``step(n)`` returns the latest record of
    every run. A lone config gets B = A without batch norm."""

    def __init__(self, config_a: RunConfig, config_b: RunConfig | None = None, *more: RunConfig,
                 summary_every: int = 1):
        if config_b is None:
            config_b = config_a.replace(batchnorm=False)
        self._adopt(_trainers((config_a, config_b, *more), summary_every))

    @classmethod
    def of(cls, configs, summary_every: int = 1, summary_growth: bool = False) -> "Comparison":
        """Runs for exactly ``configs`` (one or more; one is a lone run)."""
        configs = tuple(configs)
        if not configs:
            raise ValueError("a comparison needs at least one run")
        return cls.from_runs(_trainers(configs, summary_every, summary_growth))

    @classmethod
    def from_runs(cls, runs: list[Trainer]) -> "Comparison":
        """A comparison of existing trainers (e.g. a loaded session's)."""
        cmp = cls.__new__(cls)
        cmp._adopt(runs)
        return cmp

    def _adopt(self, runs) -> None:
        self.runs: list[Trainer] = list(runs)
        # Which runs train on A's batches (the rest draw their own).
        first = self.runs[0]
        self.shares_batches = tuple(
            i == 0 or (same_data(first.config, t.config) and t.batch_size == first.batch_size
                       and t.config.sampler == first.config.sampler)
            for i, t in enumerate(self.runs))
        # A run on A's data and batch size has A's batch generator (same seed);
        # keep its whole sampler in step with A's, so that it draws A's batches
        # by itself (as it does when each run trains in a process of its own).
        for t, shared in zip(self.runs[1:], self.shares_batches[1:]):
            if shared:
                t.take_sampler(first)

    @property
    def a(self) -> Trainer:
        return self.runs[0]

    @property
    def b(self) -> Trainer:
        return self.runs[1]

    @property
    def shared_batches(self) -> bool:
        """Whether every run trains on A's batches."""
        return all(self.shares_batches)

    def step(self, n: int = 1) -> tuple[StepRecord, ...]:
        """Train every run ``n`` mini-batches; the latest record of each."""
        self.advance(n)
        return tuple(t.record() for t in self.runs)

    def advance(self, n: int = 1, stop_on_divergence: bool = False, summarize_last: bool = True) -> int:
        """``step(n)`` without records. With ``stop_on_divergence`` it stops
        after the first step at which any run's loss is NaN or Inf. The last
        step gets a percentile summary unless ``summarize_last`` is False
        (each run still takes one every ``summary_every`` steps).
        Returns the steps done."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"step count must be a positive integer, got {n!r}")
        for k in range(n):
            finite = True
            for t in self.runs:   # runs sharing A's batches draw them by themselves (_adopt)
                t.train_batch()
                finite = finite and bool(np.isfinite(t.last_loss))
            last = k == n - 1 or (stop_on_divergence and not finite)
            for t in self.runs:
                t.write_history(summary=last and summarize_last)
            if last:
                return k + 1
        return n


# ------------------------------------------------------------ run sets
# Short words for the settings a comparison most often varies.
_SHORT = {
    "batchnorm": lambda v: "with BN" if v is True else "no BN" if v is False else
    "BN " + "".join("x" if f else "-" for f in v),
    "keep_bias": lambda v: "bias kept" if v else "no bias",
    "bn_placement": lambda v: f"BN {v} activation",
    "bn_momentum": lambda v: "cumulative average" if v is None else f"BN momentum {v:g}",
    "optimizer": lambda v: {"gd": "GD", "sgd": "SGD", "momentum": "momentum", "rmsprop": "RMSProp",
                            "adam": "Adam"}.get(v, v),
    "batch_size": lambda v: f"batch {v}",
    "lr": lambda v: f"lr {v:g}",
}


def differences(a: RunConfig, b: RunConfig) -> dict:
    """The settings of ``b`` that differ from ``a``: {field: b's value}."""
    da, db = a.to_dict(), b.to_dict()
    return {k: getattr(b, k) for k in db if da.get(k) != db[k]}


def describe(config: RunConfig, fields) -> str:
    """``config``'s values of ``fields`` in a few words ("no BN, lr 0.1")."""
    words = [_SHORT[f](getattr(config, f)) if f in _SHORT else f"{f} {getattr(config, f)}"
             for f in fields]
    return ", ".join(words) if words else "same settings"


class RunSet:
    """What compare mode runs besides A: for each other run the settings that
    differ from A, and every run's label. A change to A (a new preset, an
    edited setting) keeps the other runs' differences."""

    def __init__(self, variants=(), labels=()):
        self.variants = tuple(dict(v) for v in variants)
        self.labels = tuple(labels)

    @classmethod
    def of(cls, configs, labels=None) -> "RunSet":
        """The run set of these configs (A first); labels made up if not given."""
        configs = tuple(configs)
        variants = tuple(differences(configs[0], c) for c in configs[1:])
        if labels is None:
            fields = sorted({f for v in variants for f in v})
            labels = tuple(f"{run_letter(i)}: {describe(c, fields)}" for i, c in enumerate(configs)) \
                if variants else ("",)
        return cls(variants, labels)

    @property
    def comparing(self) -> bool:
        return bool(self.variants)

    def configs(self, a: RunConfig) -> tuple[RunConfig, ...]:
        return (a, *(a.replace(**v) for v in self.variants))
