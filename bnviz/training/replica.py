"""The window's copy of its runs: histories fed with the rows each frame
brings, so a frame crossing the pipe carries what is new, not a whole
history. A store fed the same rows ends in the same state (``store``), so
the copy equals the training process's history at every frame.
"""
from __future__ import annotations

from dataclasses import replace

from ..engine.frame import Frame
from ..engine.history import History
from .messages import FrameUpdate, RunStart


def _history(start: RunStart) -> History:
    spec = start.history_spec
    history = History(spec["widths"], spec["norms"], spec["has_bias"],
                      budget_bytes=spec["budget_bytes"], dtype=spec["dtype"])
    history.load_state_dict(start.history_state)
    return history


class Replica:
    """The runs of one run id, as the window sees them."""

    def __init__(self, run_id: int, starts: tuple[RunStart, ...]):
        self.run_id = run_id
        self.starts = starts
        self.histories = [_history(s) for s in starts]
        self.boundaries = [None] * len(starts)

    def apply(self, update: FrameUpdate) -> Frame:
        """Add the update's rows (every update must be applied, in order)
        and return the Frame of all runs at its step."""
        if update.run_id != self.run_id or len(update.runs) != len(self.starts):
            raise ValueError("a frame of other runs")
        frames = []
        for i, (start, run, history) in enumerate(zip(self.starts, update.runs, self.histories)):
            history.extend(run.rows)
            if run.boundary is not None:
                self.boundaries[i] = run.boundary
            frames.append(Frame(run_id=self.run_id, config=run.config, record=run.record,
                                history=history.snapshot(), evaluation=run.evaluation,
                                boundary=self.boundaries[i], steps_per_second=update.steps_per_second,
                                n_classes=start.n_classes, steps_per_epoch=start.steps_per_epoch,
                                diverged_at=run.diverged_at, label=start.label, n_test=start.n_test,
                                stepping=update.stepping, meter_seconds=run.meter_seconds))
        first = frames[0]
        if len(frames) == 1:
            return first
        return replace(first, others=tuple(frames[1:]))
