"""What crosses the pipe between the window and its training process.

Commands go one way as tuples ``(name, *arguments)`` (``COMMANDS``); the
child answers with tuples ``(event, *payload)`` (``EVENTS``), frames among
them. A frame is one immutable ``FrameUpdate``: what is new since the last
one, never a whole history (the window keeps its own copy, see ``replica``).
Both ends are this program, so the pipe pickles; nothing read from a file
ever goes through it unchecked (sessions are loaded by the engine's codec).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..engine.config import RunConfig
from ..engine.frame import BoundaryGrid
from ..engine.records import Evaluation, StepRecord

# The window's commands and the arguments they take.
COMMANDS = {
    "reset_runs": "configs (A first), labels, run id: new runs in lockstep",
    "open_session": "path, run id: continue a saved session's runs",
    "save_session": "path: save every run, atomically",
    "play": "", "pause": "", "toggle": "",
    "step_n": "n: pause, then train exactly n more mini-batches",
    "step_epoch": "",
    "set_speed": "steps per second (0: flat out)",
    "set_live": "config: run A's live settings (and the runs that shared them)",
    "set_data_limit": "MiB, or None for the default: the largest data set or session read from now on",
    "inspect": "test example, run: an ExampleInspection",
    "recompute_population": "",
    "ping": "token: answered with the modules loaded (for tests)",
    "crash": "exit code: end the process at once (for tests of a dying child)",
    "stop": "stop training and end the process",
}

EVENTS = ("frame", "playing", "diverged", "failed", "error", "inspection", "saved", "save_error", "pong")


@dataclass(frozen=True)
class RunStart:
    """How a run begins, for the window's copy: its fixed facts and its
    history's constructor arguments and state (empty for a new run, the
    whole saved history for a session's)."""

    config: RunConfig
    label: str
    n_classes: int
    steps_per_epoch: int
    n_test: int
    history_spec: dict
    history_state: dict


@dataclass(frozen=True)
class RunUpdate:
    """One run's news since the last frame."""

    config: RunConfig                 # live settings may have changed
    record: StepRecord | None         # the latest step's (None before the first)
    evaluation: Evaluation | None     # the latest evaluation
    boundary: BoundaryGrid | None     # a new decision-boundary grid, or None: unchanged
    rows: dict                        # History.rows_since: rows recorded since the last frame
    diverged_at: int | None
    meter_seconds: float = float("nan")   # the last measurement's duration (the meters' cost)


@dataclass(frozen=True)
class FrameUpdate:
    run_id: int                           # frames of an older run id are stale
    steps_per_second: float
    runs: tuple[RunUpdate, ...]           # A first
    starts: tuple[RunStart, ...] = ()     # set on the first frame of new runs
    stepping: tuple[int, int] | None = None   # (done, of) while a step-n request trains
