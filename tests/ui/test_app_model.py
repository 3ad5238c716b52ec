"""AppModel, the window's Qt-free model: one reset path, stale frames,
refused runs, the session behind the runs."""
from __future__ import annotations

import dataclasses
import sys

from bnviz.engine.compare import RunSet
from bnviz.engine.config import RunConfig
from bnviz.engine.frame import frame_of
from bnviz.engine.trainer import Trainer
from bnviz.ui.app_model import AppModel

A = RunConfig(dataset="moons", n_samples=100, hidden=(4,), batch_size=10)


def _frame(config, run_id, others=()):
    return dataclasses.replace(frame_of(Trainer(config), run_id=run_id), others=tuple(others))


def test_the_model_imports_no_qt():
    assert AppModel.__module__ == "bnviz.ui.app_model"
    source = sys.modules["bnviz.ui.app_model"].__file__
    assert "PySide6" not in open(source, encoding="utf-8").read()


def test_one_reset_path_frames_and_refusals():
    model = AppModel(A)
    started, refused = [], []
    model.on("run_started", started.append)
    model.on("run_refused", refused.append)
    first = model.begin(recent="/data/points.csv")
    f1 = _frame(A, first)
    assert model.fresh(f1) and model.arrive(f1) == (True, "/data/points.csv")
    model.shown(f1)
    assert model.arrive(f1) == (False, None) and started == [f1]   # once per run
    b = A.replace(batchnorm=False)
    second = model.begin(RunSet.of((A, b), ("A", "B")))
    assert model.comparing() and not model.fresh(f1)   # the old run's frames are stale now
    model.refused("no such file")
    assert model.run_id == first and not model.comparing() and refused == ["no such file"]
    assert model.fresh(f1)   # the run on screen goes on
    third = model.begin(session="/s/run.npz")
    f3 = _frame(A, third, others=(_frame(b, third),))
    assert model.arrive(f3) == (True, "/s/run.npz")
    assert model.last_session == "/s/run.npz" and model.comparing()
    assert model.configs(A.replace(lr=0.5))[1].lr == 0.5   # B keeps only its own differences
    assert second < third
