"""Sweeps: each point is the run trained alone; parallel processes give the
same numbers; the headless command writes its table and figures, and bad
arguments are one line."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from bnviz.engine.config import ConfigError, RunConfig
from bnviz.engine.sweep import SweepSpec, parse_sweep, parse_values, run_point, series
from bnviz.engine.trainer import Trainer
from bnviz.training.sweeps import SweepRunner

from test_headless import status_of

BASE = RunConfig(dataset="moons", n_samples=240, hidden=(8, 8), activation="tanh", lr=0.1,
                 gn_groups=2, seed=5)
SPEC = SweepSpec(BASE, "batch_size", (4, 16), ("bn", "gn", "none"), steps=60)


def test_a_point_is_the_run_trained_alone():
    point = SPEC.points()[1]   # bn, batch 16
    assert (point.norm, point.value) == ("bn", 16)
    assert point.config == BASE.replace(batch_size=16, batchnorm=True, norm="batch")
    alone = Trainer(point.config)
    alone.advance(60)
    losses = alone.history.snapshot().steps["loss"][-20:]
    ev = alone.evaluate()
    result = run_point(point, 60)
    assert result.step == 60 and not result.error
    assert result.metrics == {"test_error": 1 - ev["test_accuracy"],
                              "test_error_population": 1 - ev["test_accuracy_population"],
                              "test_error_batch": 1 - ev["test_accuracy_batch"],
                              # the history keeps the run's float32; the point, each step's loss
                              "train_loss": pytest.approx(float(np.mean(losses)), rel=1e-6)}


def test_parallel_processes_give_the_same_results_in_the_specs_order():
    here = SweepRunner(SPEC, workers=1).run()
    there = SweepRunner(SPEC, workers=2).run()
    assert [(r.norm, r.value) for r in there] == [(p.norm, p.value) for p in SPEC.points()]
    assert here == there
    x, y = series(SPEC, there, "test_error")["gn"]
    assert list(x) == [4, 16] and list(y) == [r.metrics["test_error"] for r in there if r.norm == "gn"]


def test_sweep_arguments_are_checked():
    assert parse_sweep("batch_size=2, 4,8") == ("batch_size", (2, 4, 8))
    assert parse_values("lr", "0.1,1e-2") == (0.1, 0.01)
    for bad, words in (("size=2,4", "SETTING=V1"), ("batch_size=2,x", "'x' is not an integer"),
                       ("batch_size=2,2", "twice"), ("lr=", "give the values")):
        with pytest.raises(ConfigError, match=words):
            parse_sweep(bad)
    with pytest.raises(ConfigError, match="norms: batchnorm: not one of"):
        SweepSpec(BASE, "batch_size", (2,), ("batchnorm",))
    with pytest.raises(ConfigError, match=r"batch_size: .* \(sweep point bn, batch_size = 1\)"):
        SweepSpec(BASE, "batch_size", (1, 4)).points()
    with pytest.raises(ConfigError, match=r"gn_groups: .*does not divide by 3 \(sweep point gn"):
        SweepSpec(BASE, "gn_groups", (2, 3), ("gn",)).points()


def test_headless_sweep_writes_table_figures_and_manifest(tmp_path, capsys):
    config = tmp_path / "run.toml"
    BASE.save(config)
    out = tmp_path / "out"
    status, err = status_of(["--headless", "--config", str(config), "--sweep", "batch_size=4,16",
                             "--norms", "bn,ln", "--steps", "30", "--export", str(out)], capsys)
    assert status == 0, err
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(r["norm"], r["batch_size"]) for r in rows] == [("bn", "4"), ("bn", "16"), ("ln", "4"),
                                                            ("ln", "16")]
    alone = run_point(SweepSpec(BASE, "batch_size", (16,), ("ln",), 30).points()[0], 30)
    assert float(rows[3]["test_error"]) == pytest.approx(alone.metrics["test_error"], abs=1e-6)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "sweep" and manifest["values"] == [4, 16]
    names = {f["name"] for f in manifest["files"]}
    assert {"sweep.csv", "config.toml", "sweep-test-error.png", "sweep-train-loss.svg"} <= names
    assert RunConfig.load(out / "config.toml") == BASE


@pytest.mark.parametrize("argv,words", [
    (["--sweep", "width=2"], "SETTING=V1"),
    (["--sweep", "batch_size=2,4", "--norms", "bn,xx"], "xx: not one of"),
    (["--norms", "bn"], "--norms only applies with --sweep"),
    (["--sweep", "batch_size=2", "--compare"], "cannot be combined"),
])
def test_bad_sweep_arguments_are_one_line_and_status_2(argv, words, capsys, tmp_path):
    status, err = status_of(["--headless", "--steps", "5", "--export", str(tmp_path / "x"), *argv],
                            capsys)
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1, err


def test_a_lessons_sweep_starts_from_its_run_a(tmp_path, capsys):
    from bnviz.engine.lessons import lesson
    out = tmp_path / "out"
    status, err = status_of(["--headless", "--lesson", "norm_batches", "--sweep", "batch_size=2,64",
                             "--norms", "gn", "--steps", "5", "--export", str(out)], capsys)
    assert status == 0, err
    assert RunConfig.load(out / "config.toml") == lesson("norm_batches").configs[0]


def test_a_worker_killed_mid_sweep_costs_no_point():
    """A worker that dies (killed, out of memory) breaks the pool: its points,
    and those waiting with them, get one more try in a new pool, each result
    under its own point."""
    import os
    import signal
    spec = SweepSpec(BASE, "batch_size", (4, 8, 16), ("bn",), steps=400)
    runner = SweepRunner(spec, workers=2, processes=True)
    try:
        # the pool starts its workers as the points are picked up
        deadline = __import__("time").monotonic() + 30
        while not runner._pool._processes and __import__("time").monotonic() < deadline:
            runner.poll(timeout=0.05)
        victim = next(iter(runner._pool._processes.values()))
        os.kill(victim.pid, signal.SIGKILL)
        results = runner.run()
    finally:
        runner.cancel()
    assert [(r.norm, r.value) for r in results] == [("bn", 4), ("bn", 8), ("bn", 16)]
    assert all(not r.error for r in results), [r.error for r in results]
    assert results[2].metrics == run_point(spec.points()[2], 400).metrics


def test_a_failing_point_in_process_fails_alone(monkeypatch):
    import bnviz.training.sweeps as sweeps
    calls = []

    def flaky(point, steps):
        calls.append(point.value)
        if point.value == 8:
            raise RuntimeError("boom")
        return run_point(point, steps)
    monkeypatch.setattr(sweeps, "run_point", flaky)
    spec = SweepSpec(BASE, "batch_size", (4, 8, 16), ("bn",), steps=10)
    results = SweepRunner(spec, workers=1).run()
    assert calls == [4, 8, 16]
    assert [r.error for r in results] == ["", "RuntimeError: boom", ""]


def test_points_keep_run_as_choice_of_normalized_layers():
    base = BASE.replace(batchnorm=(False, True))
    points = SweepSpec(base, "batch_size", (8,), ("bn", "ln", "none")).points()
    assert [p.config.batchnorm for p in points] == [(False, True), (False, True), False]
    assert SweepSpec(BASE.replace(batchnorm=False), "batch_size", (8,), ("gn",)).points()[0].config.batchnorm is True
