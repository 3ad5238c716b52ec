"""Comparison: two runs trained in lockstep on the same mini-batches.

Run B is run A with some settings changed (by default: batch norm off).
Both start from the same initial weights wherever the layer shapes agree
(each layer's weights are drawn from a generator keyed by the seed and the
layer index), and B trains on exactly the batches A draws, as long as both
use the same data and batch size; otherwise each run keeps its own order
and they merely advance together.
"""
from __future__ import annotations

from .config import RunConfig
from .records import StepRecord
from .trainer import Trainer

DATA_FIELDS = ("dataset", "data_path", "n_samples", "noise", "test_fraction", "seed", "dtype")


class Comparison:
    """``Comparison(a, b)``; ``step(n)`` returns the two latest records."""

    def __init__(self, config_a: RunConfig, config_b: RunConfig | None = None, summary_every: int = 1):
        if config_b is None:
            config_b = config_a.replace(batchnorm=False)
        self.a = Trainer(config_a, summary_every=summary_every)
        same_data = all(getattr(config_a, f) == getattr(config_b, f) for f in DATA_FIELDS)
        # One data set for both: identical arrays, and loaded once.
        self.b = Trainer(config_b, dataset=self.a.data if same_data else None,
                         summary_every=summary_every)
        self.shared_batches = same_data and self.a.batch_size == self.b.batch_size

    def step(self, n: int = 1) -> tuple[StepRecord, StepRecord]:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"step count must be a positive integer, got {n!r}")
        a, b = self.a, self.b
        for k in range(n):
            last = k == n - 1
            idx = a.next_indices()
            a.train_batch(idx)
            a.write_history(summary=last)
            if self.shared_batches:
                b.epoch = a.epoch
                b.train_batch(idx)
            else:
                b.train_batch()
            b.write_history(summary=last)
        return a.record(), b.record()
