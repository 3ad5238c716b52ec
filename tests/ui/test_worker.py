"""The training worker in its own thread: start, step, play, pause, divergence,
failures that keep the old run, and a cooperative stop."""
from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, QThread, Signal

from bnviz.engine.config import RunConfig
from bnviz.ui.worker import TrainingWorker

SMALL = RunConfig(dataset="moons", n_samples=200, hidden=(8, 8), activation="tanh",
                  batchnorm=True, optimizer="sgd", lr=0.1, batch_size=16, seed=0)


class Driver(QObject):
    """Sends commands the way the window does: queued signals."""

    reset = Signal(object, int)
    reset_runs = Signal(object, object, int)
    play = Signal()
    pause = Signal()
    steps = Signal(int)
    epoch = Signal()
    speed = Signal(float)
    live = Signal(object)
    stop = Signal()


@pytest.fixture
def running(qtbot):
    thread = QThread()
    worker = TrainingWorker()
    worker.moveToThread(thread)
    thread.started.connect(worker.start)
    drv = Driver()
    drv.reset.connect(worker.reset)
    drv.reset_runs.connect(worker.reset_runs)
    drv.play.connect(worker.play)
    drv.pause.connect(worker.pause)
    drv.steps.connect(worker.step_n)
    drv.epoch.connect(worker.step_epoch)
    drv.speed.connect(worker.set_speed)
    drv.live.connect(worker.set_live)
    drv.stop.connect(worker.stop)
    frames = []

    def take():
        f = worker.take_frame()
        if f is not None:
            frames.append(f)
    worker.frame_ready.connect(take)
    thread.start()
    yield worker, drv, frames, thread
    worker.request_stop()
    drv.stop.emit()
    assert thread.wait(2000)


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
    qtbot.waitUntil(lambda: worker._timer is not None and not worker._timer.isActive(), timeout=1000)
    paused_at = worker._trainer.step_count
    qtbot.waitUntil(lambda: _latest(frames).step == paused_at, timeout=2000)
    drv.steps.emit(1)
    qtbot.waitUntil(lambda: _latest(frames).step == paused_at + 1, timeout=2000)
    assert worker._trainer.step_count == paused_at + 1


def test_frames_are_throttled(qtbot, running):
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    qtbot.waitUntil(lambda: bool(frames), timeout=5000)
    drv.play.emit()
    qtbot.waitUntil(lambda: _latest(frames).step > 1500, timeout=20000)
    drv.pause.emit()
    qtbot.waitUntil(lambda: not worker._playing, timeout=1000)
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
    qtbot.waitUntil(lambda: not worker._playing, timeout=1000)
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


def test_stop_ends_the_thread(qtbot, running):
    worker, drv, frames, thread = running
    drv.reset.emit(SMALL, 1)
    drv.play.emit()
    qtbot.waitUntil(lambda: _latest(frames) is not None and _latest(frames).step > 10, timeout=5000)
    worker.request_stop()
    drv.stop.emit()
    qtbot.waitUntil(thread.isFinished, timeout=1000)


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
    milliseconds) come every SUMMARY_EVERY steps, not at every chunk's end;
    the step it pauses at gets one, so the bands reach it."""
    from bnviz.ui.worker import SUMMARY_EVERY
    worker, drv, frames, _ = running
    drv.reset.emit(SMALL, 1)
    qtbot.waitUntil(lambda: bool(frames), timeout=5000)
    drv.play.emit()
    qtbot.waitUntil(lambda: _latest(frames).step > 300, timeout=10000)
    with qtbot.waitSignal(worker.playing_changed, timeout=1000):
        drv.pause.emit()
    paused_at = worker._trainer.step_count
    # (A frame at that step may have gone out before the pause: wait for the next.)
    qtbot.waitUntil(lambda: _latest(frames).history.summaries["step"][-1] == paused_at, timeout=2000)
    steps = list(_latest(frames).history.summaries["step"])
    off_grid = [s for s in steps[:-1] if s % SUMMARY_EVERY]
    assert not off_grid, off_grid
