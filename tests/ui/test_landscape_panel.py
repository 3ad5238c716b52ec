"""The Landscape view: Santurkar's measures from the history, one line per run."""
from __future__ import annotations

import dataclasses

import numpy as np

from bnviz.engine.config import RunConfig
from bnviz.ui.panels import LandscapePanel

from test_panels import make_frame, shown

METERED = RunConfig(dataset="moons", n_samples=120, hidden=(6, 5), activation="tanh", batch_size=20,
                    meters=True, meter_every=2, seed=3)


def ydata(series):
    return series.item.getData()[1]


def test_plots_are_the_histories_measures_and_each_runs_own_head(qtbot):
    a = make_frame(METERED, steps=12, chunks=2)
    b = make_frame(METERED.replace(hidden=(6, 5, 4), batchnorm=False), steps=12, chunks=2)
    frame = dataclasses.replace(a, label="A", others=(dataclasses.replace(b, label="B"),))
    panel = shown(qtbot, LandscapePanel)
    panel.resize(900, 600)
    panel.set_frame(frame)
    assert panel.absence(frame) is None and panel.stack.currentIndex() == 0
    combo = panel.layer_combo
    assert [combo.itemText(k) for k in range(combo.count())] == ["layer 2", "head"]
    assert combo.currentText() == "head"
    ma, mb = a.history.meters, b.history.meters
    assert list(ma["step"]) == [2, 4, 6, 8, 10, 12]
    # the head: A's L2, B's own L3
    np.testing.assert_allclose(10 ** ydata(panel.series["ics"][0]), ma["L2.ics_distance"], rtol=1e-6)
    np.testing.assert_allclose(10 ** ydata(panel.series["ics"][1]), mb["L3.ics_distance"], rtol=1e-6)
    np.testing.assert_allclose(ydata(panel.series["cos"][1]), mb["L3.ics_cosine"], rtol=1e-6)
    np.testing.assert_allclose(10 ** ydata(panel.series["smooth"][0]), ma["landscape_smoothness"], rtol=1e-6)
    combo.setCurrentIndex(0)   # layer 2: the same index in both
    np.testing.assert_allclose(10 ** ydata(panel.series["ics"][1]), mb["L1.ics_distance"], rtol=1e-6)
    assert "Meters: A: every 2 steps" in panel.cost_label.text()


def test_without_meters_there_is_a_message_and_no_figure(qtbot):
    panel = shown(qtbot, LandscapePanel)
    frame = make_frame(METERED.replace(meters=False), steps=4, chunks=1)
    panel.set_frame(frame)
    assert "meters are off" in panel.absence(frame)
    assert panel.stack.currentWidget() is panel.message
    assert not any(p.isVisibleTo(panel) for p in panel.plot_widgets())
