"""Frame: the one immutable bundle that crosses from the training thread to
the window. It carries the latest StepRecord, read-only views of the
history, the latest evaluation, and for 2-D data a decision-boundary grid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import RunConfig
from .history import HistorySnapshot
from .records import Evaluation, StepRecord, read_only


@dataclass(frozen=True)
class BoundaryGrid:
    """Class probabilities of a 2-D classifier on a regular grid, in the
    standardised feature space the network sees."""

    xs: np.ndarray            # (W,) grid x coordinates
    ys: np.ndarray            # (H,) grid y coordinates
    probs: np.ndarray         # (H, W, K) softmax probabilities (inference mode)
    points: np.ndarray        # (N, 2) training points
    labels: np.ndarray        # (N,) their labels


@dataclass(frozen=True)
class Frame:
    """What the window shows at one moment of one run."""

    run_id: int                        # increases at every reset; stale frames are dropped
    config: RunConfig
    record: StepRecord | None          # None before the first step
    history: HistorySnapshot
    evaluation: Evaluation | None
    boundary: BoundaryGrid | None      # 2-D data sets only
    steps_per_second: float
    n_classes: int
    steps_per_epoch: int
    diverged_at: int | None = None     # step at which loss/statistics became NaN or Inf
    label: str = ""                    # the run's name in compare mode ("A: with BN")
    others: tuple["Frame", ...] = ()   # compare mode: runs B, C, ... at the same step
    n_test: int = 0                    # test examples
    stepping: tuple[int, int] | None = None   # (done, of) while n requested steps train
    meter_seconds: float = float("nan")       # the last landscape measurement's duration

    @property
    def step(self) -> int:
        return 0 if self.record is None else self.record.step


def frame_of(trainer, run_id: int = 0, *, boundary: "BoundaryGrid | None | bool" = True,
             steps_per_second: float = 0.0, diverged_at: int | None = None, label: str = "",
             others: tuple["Frame", ...] = ()) -> Frame:
    """A Frame of ``trainer``'s current state (it must not train meanwhile).
    ``boundary``: True computes the grid for 2-D data, or pass one (or None)."""
    if boundary is True:
        boundary = boundary_grid(trainer)
    return Frame(run_id=run_id, config=trainer.config,
                 record=trainer.record() if trainer.step_count > 0 else None,
                 history=trainer.history.snapshot(), evaluation=trainer.last_evaluation,
                 boundary=boundary or None, steps_per_second=steps_per_second,
                 n_classes=trainer.data.n_classes, steps_per_epoch=trainer.steps_per_epoch,
                 diverged_at=diverged_at, label=label, others=tuple(others),
                 n_test=len(trainer.y_test), meter_seconds=trainer.meter_seconds)


def boundary_grid(trainer, resolution: int = 80, margin: float = 0.5) -> BoundaryGrid | None:
    """The trainer's decision function on a ``resolution``^2 grid covering its
    training points; None unless the data has exactly two features."""
    x = trainer.x_train
    if x.shape[1] != 2:
        return None
    lo = x.min(axis=0) - margin
    hi = x.max(axis=0) + margin
    xs = np.linspace(lo[0], hi[0], resolution, dtype=x.dtype)
    ys = np.linspace(lo[1], hi[1], resolution, dtype=x.dtype)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    logits = trainer.model.forward(grid, training=False)
    logits = logits - logits.max(axis=1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(logits)
        probs = (e / e.sum(axis=1, keepdims=True)).reshape(resolution, resolution, -1)
    return BoundaryGrid(xs=read_only(xs), ys=read_only(ys), probs=read_only(probs),
                        points=trainer.x_train, labels=trainer.y_train)
