"""The lessons are well formed, and the fig1 lesson's claims hold on its runs
(the other lessons' claims: test_lesson_claims.py)."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine.compare import Comparison
from bnviz.engine.config import preset
from bnviz.engine.lessons import LESSONS, PANELS, Lesson, lesson


def train(les: Lesson, steps: int | None = None, summary_every: int = 50, evals=()):
    """Train a lesson's runs; evaluate every run at each step in ``evals``."""
    cmp = Comparison(*les.configs, summary_every=summary_every)
    done, out = 0, {}
    for e in sorted(evals):
        cmp.advance(e - done)
        done = e
        for t in cmp.runs:
            t.evaluate()
        out[e] = [t.last_evaluation for t in cmp.runs]
    steps = les.steps if steps is None else steps
    if steps > done:
        cmp.advance(steps - done)
    return cmp, out


def test_lessons_are_well_formed():
    assert [les.key for les in LESSONS] == ["fig1", "bias", "gamma_beta", "optimizers",
                                            "small_batches", "momentum", "norm_batches", "renorm",
                                            "noisy_bn", "cnn", "why_bn"]
    for les in LESSONS:
        assert lesson(les.key) is les
        assert 1 <= len(les.configs) == len(les.labels) <= 5 and les.panel in PANELS
        assert les.steps > 0 and les.title and les.explanation.count(". ") >= 3
        assert all(cfg.dataset == "digits" for cfg in les.configs)
        assert len({cfg.seed for cfg in les.configs}) == 1
    assert lesson("fig1").configs[0] == preset("Ioffe & Szegedy 2015, Fig. 1")
    with pytest.raises(KeyError, match="noisy_bn"):
        lesson("nope")
    with pytest.raises(ValueError):
        Lesson("x", "x", "x", (), (), "compare", 1)


def test_fig1_bn_faster_and_steadier():
    les = lesson("fig1")
    cmp, _ = train(les, summary_every=500)
    acc = [t.evaluate()["test_accuracy"] for t in cmp.runs]
    assert acc[0] > acc[1] + 0.01, acc  # measured: 0.978 vs 0.944
    drift50, width_drift = [], []
    for t in cmp.runs:
        s = t.history.snapshot().summaries
        pct = s["L2.act_in_unit_pct"]             # (rows, 3, units)
        p1, p3 = (pct[int(np.flatnonzero(s["step"] == n)[0])] for n in (1000, 3000))
        drift50.append(np.abs(p3[1] - p1[1]).mean())
        width_drift.append(np.abs((p3[2] - p3[0]) - (p1[2] - p1[0])).mean())
    # measured: 50th-percentile drift 0.17 vs 0.38, band-width drift 0.28 vs 1.10
    assert drift50[0] < 0.6 * drift50[1], drift50
    assert width_drift[0] < 0.5 * width_drift[1], width_drift
