"""The training process's loop body (training/host.py) in this process: a
failure while training reaches the window once, as words, and the run
neither loops on it nor is lost."""
from __future__ import annotations

from bnviz.engine.config import RunConfig
from bnviz.training.host import RunHost

SMALL = RunConfig(dataset="moons", n_samples=100, hidden=(4,), batch_size=10, seed=0)


def test_an_exception_while_training_pauses_once_says_what_and_the_run_goes_on(monkeypatch):
    events = []
    host = RunHost(events.append)
    host.handle(("reset_runs", (SMALL,), ("",), 1))
    host.handle(("play",))
    runs = host._runs
    real = type(runs).advance
    calls = {"n": 0}

    def broken(self, n, **kwargs):
        calls["n"] += 1
        raise RuntimeError("a disk on fire")
    monkeypatch.setattr(type(runs), "advance", broken)
    for _ in range(50):   # the loop keeps ticking, as process.serve does
        host.tick()
    errors = [e for e in events if e[0] == "error"]
    assert calls["n"] == 1, "a failure that repeats must stop training, not loop"
    assert len(errors) == 1 and "unexpected RuntimeError: a disk on fire" in errors[0][1]
    assert "training paused at step" in errors[0][1]
    assert ("playing", False) in events and not host.busy
    monkeypatch.setattr(type(runs), "advance", real)
    step = host._trainer.step_count
    host.handle(("step_n", 3))
    while host.busy:
        host.tick()
    assert host._trainer.step_count == step + 3 and host._runs is runs
