"""The training client against a real training process: start, step, play,
pause within 100 ms, divergence, failures that keep the old run, live
settings, compare mode, stale frames dropped, and a child that dies."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal

from bnviz.engine.compare import Comparison
from bnviz.engine.config import RunConfig
from bnviz.engine.trainer import PLAYING_SUMMARY_EVERY
from bnviz.ui.training_client import TrainingClient

SMALL = RunConfig(dataset="moons", n_samples=200, hidden=(8, 8), activation="tanh",
                  batchnorm=True, optimizer="sgd", lr=0.1, batch_size=16, seed=0)


class Command:
    """A client command called as ``.emit(...)``, like the window's signals."""

    def __init__(self, fn):
        self.emit = fn


class Driver:
    def __init__(self, client):
        self.reset = Command(lambda config, run_id: client.reset(config, run_id))
        self.reset_runs = Command(client.reset_runs)
        self.play, self.pause = Command(client.play), Command(client.pause)
        self.steps, self.epoch = Command(client.step_n), Command(client.step_epoch)
        self.speed, self.live = Command(client.set_speed), Command(client.set_live)


@pytest.fixture
def running(qtbot):
    client = TrainingClient()
    frames = []

    def take():
        f = client.take_frame()
        if f is not None:
            frames.append(f)
    client.frame_ready.connect(take)
    yield client, Driver(client), frames, None
    client.shutdown()


def _latest(frames):
    return frames[-1] if frames else None


def test_reset_publishes_an_empty_frame_then_steps_exactly(qtbot, running):
    worker, drv, frames, _ = running
    with qtbot.waitSignal(worker.frame_ready, timeout=5000):
        drv.reset.emit(SMALL, 1)
    qtbot.waitUntil(lambda: frames and frames[-1].run_id == 1, timeout=5000)
    assert frames[-1].record is None and frames[-1].step == 0
    drv.steps.emit(7)
    qtbot.waitUntil(lambda: _latest(frames).step == 7, timeout=5000)
    f = _latest(frames)
    assert f.record.step == 7 and len(f.history) == 7
    assert f.evaluation is not None and f.evaluation.step == 7   # exact when stopped
    assert f.boundary is not None and f.boundary.probs.shape[:2] == (80, 80)
    drv.epoch.emit()
    qtbot.waitUntil(lambda: _latest(frames).step == 7 + f.steps_per_epoch, timeout=5000)


def test_play_then_pause_responds_quickly_and_stops(qtbot, running):
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    qtbot.waitUntil(lambda: bool(frames), timeout=5000)
    with qtbot.waitSignal(worker.playing_changed, timeout=2000) as sig:
        drv.play.emit()
    assert sig.args == [True]
    qtbot.waitUntil(lambda: _latest(frames).step > 200, timeout=10000)
    # Pause is served between ~20 ms chunks: well under 100 ms.
    with qtbot.waitSignal(worker.playing_changed, timeout=100) as sig:
        drv.pause.emit()
    assert sig.args == [False]
    # The frame after the pause is the step it stopped at; one more step is exact.
    qtbot.waitUntil(lambda: _latest(frames).steps_per_second == 0, timeout=2000)
    paused_at = _latest(frames).step
    drv.steps.emit(1)
    qtbot.waitUntil(lambda: _latest(frames).step == paused_at + 1, timeout=2000)
    n = len(frames)
    qtbot.wait(200)   # (nothing more may come: checking an absence)
    assert _latest(frames).step == paused_at + 1 and all(f.step == paused_at + 1 for f in frames[n:])


def test_frames_are_throttled(qtbot, running):
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    qtbot.waitUntil(lambda: bool(frames), timeout=5000)
    drv.play.emit()
    qtbot.waitUntil(lambda: _latest(frames).step > 1500, timeout=20000)
    with qtbot.waitSignal(worker.playing_changed, timeout=1000):
        drv.pause.emit()
    # Far fewer frames than steps: the window is not flooded.
    assert len(frames) < _latest(frames).step / 5


def test_limited_speed(qtbot, running):
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    qtbot.waitUntil(lambda: bool(frames), timeout=5000)
    drv.speed.emit(20.0)
    drv.play.emit()
    qtbot.waitUntil(lambda: _latest(frames).step >= 10, timeout=5000)
    rate = _latest(frames).steps_per_second
    drv.pause.emit()
    assert 5 <= rate <= 40


def test_stale_frames_carry_their_run_id(qtbot, running):
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    drv.steps.emit(3)
    drv.reset.emit(SMALL.replace(seed=1), 2)
    qtbot.waitUntil(lambda: _latest(frames) is not None and _latest(frames).run_id == 2, timeout=5000)
    assert _latest(frames).config.seed == 1


def test_divergence_pauses_by_itself(qtbot, running):
    worker, drv, frames, _ = running
    bad = RunConfig(dataset="moons", n_samples=200, hidden=(16, 16), activation="identity",
                    batchnorm=False, init="gaussian", init_std=3.0, optimizer="sgd", lr=80.0,
                    batch_size=16)
    drv.reset.emit(bad, 1)
    qtbot.waitUntil(lambda: bool(frames), timeout=5000)
    with qtbot.waitSignal(worker.diverged, timeout=10000) as sig:
        drv.play.emit()
    step, what = sig.args
    assert step >= 1 and "loss" in what
    qtbot.waitUntil(lambda: _latest(frames).diverged_at == step, timeout=2000)
    # Play is refused until a reset; the frame still draws.
    drv.play.emit()
    drv.steps.emit(5)
    drv.reset.emit(SMALL, 2)
    qtbot.waitUntil(lambda: _latest(frames).run_id == 2, timeout=5000)
    assert _latest(frames).diverged_at is None


def test_failed_reset_keeps_the_current_run(qtbot, running, tmp_path):
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    drv.steps.emit(4)
    qtbot.waitUntil(lambda: _latest(frames) is not None and _latest(frames).step == 4, timeout=5000)
    missing = RunConfig(dataset="file", data_path=str(tmp_path / "nope.csv"))
    with qtbot.waitSignal(worker.failed, timeout=5000) as sig:
        drv.reset.emit(missing, 2)
    assert "nope.csv" in sig.args[0]
    drv.steps.emit(1)
    qtbot.waitUntil(lambda: _latest(frames).step == 5, timeout=5000)
    assert _latest(frames).run_id == 1


def test_live_learning_rate(qtbot, running):
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    drv.live.emit(SMALL.replace(lr=0.025))
    drv.steps.emit(2)
    qtbot.waitUntil(lambda: _latest(frames) is not None and _latest(frames).step == 2, timeout=5000)
    assert _latest(frames).record.lr == pytest.approx(0.025)
    assert _latest(frames).history.steps["lr"][-1] == pytest.approx(0.025)


def test_stop_ends_the_process(qtbot, running):
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    drv.play.emit()
    qtbot.waitUntil(lambda: _latest(frames) is not None and _latest(frames).step > 10, timeout=5000)
    process = worker._process
    assert worker.shutdown() == 0   # stopped by itself, not terminated
    assert not process.alive()


def test_signal_emission_keeps_reference_counts(qtbot):
    """PySide6 6.12.0 drops a reference to True/None at each emit on
    CPython 3.11 and the app later aborts; the pinned release must not."""
    class Emitter(QObject):
        flag = Signal(bool)
        ping = Signal()
    em = Emitter()
    got = []
    em.flag.connect(lambda v: None)
    em.ping.connect(lambda: None)
    em.flag.emit(True)
    em.ping.emit()
    before_true, before_none = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(20000):
        em.flag.emit(True)
        em.ping.emit()
    assert abs(sys.getrefcount(True) - before_true) < 50
    assert abs(sys.getrefcount(None) - before_none) < 50
    assert got == []


def test_compare_mode_frames_carry_every_run_at_the_same_step(qtbot, running):
    worker, drv, frames, _ = running
    b = SMALL.replace(batchnorm=False)
    c = SMALL.replace(lr=0.05)
    drv.reset_runs.emit((SMALL, b, c), ("A: BN", "B: no BN"), 3)
    qtbot.waitUntil(lambda: bool(frames) and frames[-1].run_id == 3, timeout=5000)
    drv.steps.emit(9)
    qtbot.waitUntil(lambda: _latest(frames).step == 9, timeout=5000)
    f = _latest(frames)
    assert f.label == "A: BN" and [o.label for o in f.others] == ["B: no BN", "C"]
    assert all(o.step == 9 and o.evaluation.step == 9 for o in f.others)
    assert f.others[0].config.batchnorm is False and f.others[0].record.layers[0].bn_in is None
    # Shared batches: the same labels in every run.
    for o in f.others:
        assert (o.record.labels == f.record.labels).all()


def test_live_change_reaches_runs_that_shared_the_old_value(qtbot, running):
    worker, drv, frames, _ = running
    b = SMALL.replace(batchnorm=False)
    c = SMALL.replace(lr=0.05)
    drv.reset_runs.emit((SMALL, b, c), (), 4)
    qtbot.waitUntil(lambda: bool(frames) and frames[-1].run_id == 4, timeout=5000)
    drv.live.emit(SMALL.replace(lr=0.3))
    drv.steps.emit(1)
    qtbot.waitUntil(lambda: _latest(frames).step == 1, timeout=5000)
    f = _latest(frames)
    # A and B shared lr 0.1, so both follow; C chose its own and keeps it.
    assert (f.record.lr, f.others[0].record.lr, f.others[1].record.lr) == (0.3, 0.3, 0.05)


def test_compare_mode_pauses_when_one_run_diverges(qtbot, running):
    worker, drv, frames, _ = running
    wild = SMALL.replace(batchnorm=False, activation="identity", init_std=10.0, lr=100.0)
    with qtbot.waitSignal(worker.diverged, timeout=10000) as blocker:
        drv.reset_runs.emit((SMALL, wild), ("A", "B: wild"), 5)
        drv.play.emit()
    step, what = blocker.args
    assert "run B: wild" in what and step > 0
    qtbot.waitUntil(lambda: _latest(frames).diverged_at == step, timeout=5000)


def test_playing_summarises_every_summary_step_and_where_it_stops(qtbot, running):
    """While playing, percentile summaries (and their probe pass, which takes
    milliseconds) come every PLAYING_SUMMARY_EVERY steps, not at every chunk's end;
    the step it pauses at gets one, so the bands reach it."""
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    qtbot.waitUntil(lambda: bool(frames), timeout=5000)
    drv.play.emit()
    qtbot.waitUntil(lambda: _latest(frames).step > 300, timeout=10000)
    with qtbot.waitSignal(worker.playing_changed, timeout=1000):
        drv.pause.emit()
    qtbot.waitUntil(lambda: _latest(frames).steps_per_second == 0, timeout=2000)
    paused_at = _latest(frames).step
    assert _latest(frames).history.summaries["step"][-1] == paused_at
    steps = list(_latest(frames).history.summaries["step"])
    off_grid = [s for s in steps[:-1] if s % PLAYING_SUMMARY_EVERY]
    assert not off_grid, off_grid


def test_the_child_loads_no_qt_and_answers(qtbot, running):
    worker, *_ = running
    with qtbot.waitSignal(worker.pong, timeout=10000) as sig:
        worker.ping("hello")
    token, qt_modules, stats = sig.args
    assert (token, qt_modules) == ("hello", [])
    assert stats["busy_seconds"] == 0.0


def test_frames_rebuild_the_same_history_as_the_engine_in_process(qtbot, running):
    """The window's copy, fed only the rows each frame brings, equals the
    history of the same runs trained in this process by Comparison."""
    worker, drv, frames, _ = running
    configs = (SMALL, SMALL.replace(batchnorm=False))
    drv.reset_runs.emit(configs, (), 1)
    drv.steps.emit(1200)
    qtbot.waitUntil(lambda: bool(frames) and _latest(frames).step == 1200, timeout=20000)
    f = _latest(frames)
    local = Comparison.of(configs, summary_every=PLAYING_SUMMARY_EVERY, summary_growth=True)
    local.advance(1200)
    for run, tr in zip((f, *f.others), local.runs):
        mine = tr.history.snapshot().steps
        for key in ("step", "loss", "L0.gamma", "L1.batch_var", "L0.grad_norm_W"):
            if key in mine:
                np.testing.assert_array_equal(run.history.steps[key], mine[key], err_msg=key)
        assert run.record.loss == tr.last_loss
    assert (f.record.labels == f.others[0].record.labels).all()


def test_a_killed_child_is_reported_and_a_new_one_trains(qtbot, running):
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    drv.play.emit()
    qtbot.waitUntil(lambda: bool(frames) and _latest(frames).step > 10, timeout=10000)
    with qtbot.waitSignal(worker.died, timeout=1000) as sig:
        worker._process.process.kill()
    assert "killed" in sig.args[0]
    last = _latest(frames)
    assert worker.take_frame() is last, "the last frame stays"
    worker.restart()
    drv.reset.emit(SMALL, 2)
    drv.steps.emit(3)
    qtbot.waitUntil(lambda: _latest(frames).run_id == 2 and _latest(frames).step == 3, timeout=10000)


def test_a_session_saved_by_the_child_equals_one_saved_in_process(qtbot, running, tmp_path):
    from bnviz.engine.session import load_runs, save_runs
    from bnviz.engine.trainer import Trainer
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    drv.steps.emit(50)
    qtbot.waitUntil(lambda: bool(frames) and _latest(frames).step == 50, timeout=10000)
    with qtbot.waitSignal(worker.session_saved, timeout=10000):
        worker.save_session(str(tmp_path / "child.npz"))
    tr = Trainer(SMALL, summary_every=PLAYING_SUMMARY_EVERY, summary_growth=True)
    for _ in range(50):   # as step_n: a summary at every chunk's end, here every step
        tr.advance(1)
    (theirs,), _ = load_runs(tmp_path / "child.npz")
    np.testing.assert_array_equal(theirs.model.layers[0].linear.W, tr.model.layers[0].linear.W)
    a, b = theirs.history.snapshot().steps, tr.history.snapshot().steps
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert theirs.state_dict()["meta"]["rng"] == tr.state_dict()["meta"]["rng"]


def test_compare_runs_train_in_processes_of_their_own_on_the_same_batches(qtbot, running):
    """Runs B and C in follower processes, in lockstep: every frame has all
    runs at one step, and the histories equal the in-process Comparison's."""
    worker, drv, frames, _ = running
    configs = (SMALL, SMALL.replace(batchnorm=False), SMALL.replace(lr=0.05))
    drv.reset_runs.emit(configs, (), 1)
    drv.play.emit()
    qtbot.waitUntil(lambda: bool(frames) and _latest(frames).step > 300, timeout=20000)
    assert sum(p.is_alive() for p in worker._followers) == 2
    drv.pause.emit()
    qtbot.waitUntil(lambda: _latest(frames).steps_per_second == 0, timeout=5000)
    assert all(o.step == f.step for f in frames if f.run_id == 1 for o in f.others)
    f = _latest(frames)
    local = Comparison.of(configs, summary_every=PLAYING_SUMMARY_EVERY, summary_growth=True)
    local.advance(f.step)
    for run, tr in zip((f, *f.others), local.runs):
        np.testing.assert_array_equal(run.history.steps["loss"], tr.history.snapshot().steps["loss"])
        np.testing.assert_array_equal(run.history.steps["L1.grad_norm_W"],
                                      tr.history.snapshot().steps["L1.grad_norm_W"])
    # Back to a lone run: the followers end.
    drv.reset.emit(SMALL, 2)
    qtbot.waitUntil(lambda: not any(p.is_alive() for p in worker._followers), timeout=5000)


def test_a_follower_that_dies_pauses_the_comparison_and_says_which(qtbot, running):
    worker, drv, frames, _ = running
    drv.reset_runs.emit((SMALL, SMALL.replace(batchnorm=False)), ("A: BN", "B: no BN"), 1)
    drv.play.emit()
    qtbot.waitUntil(lambda: bool(frames) and _latest(frames).step > 20, timeout=20000)
    with qtbot.waitSignal(worker.error, timeout=3000) as sig:
        worker._followers[-1].kill()
    assert "run B: no BN" in sig.args[0] and "ended" in sig.args[0]
    with qtbot.waitSignal(worker.frame_ready, timeout=3000):
        drv.reset.emit(SMALL, 2)   # and a new run trains
    drv.steps.emit(2)
    qtbot.waitUntil(lambda: _latest(frames).run_id == 2 and _latest(frames).step == 2, timeout=5000)


def test_inspect_and_recompute_population_answer(qtbot, running):
    worker, drv, frames, _ = running
    configs = (SMALL, SMALL.replace(batchnorm=False))
    drv.reset_runs.emit(configs, (), 1)
    drv.steps.emit(30)
    qtbot.waitUntil(lambda: bool(frames) and _latest(frames).step == 30, timeout=10000)
    for run in (0, 1):   # run B answers from its own process
        with qtbot.waitSignal(worker.inspection_ready, timeout=5000) as sig:
            worker.inspect(3, run)
        assert sig.args[0].index == 3 and sig.args[0].probs("running").shape == (2,)
    n = len(frames)
    worker.recompute_population()
    qtbot.waitUntil(lambda: len(frames) > n, timeout=5000)
    ev = _latest(frames).evaluation
    assert ev.step == 30 and ev.population_step == 30
