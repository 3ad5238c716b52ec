"""Sweeps in the window: the dialog, the worker processes, the Sweep view."""
from __future__ import annotations

import numpy as np

from bnviz.engine.config import RunConfig
from bnviz.engine.sweep import SweepSpec, run_point
from bnviz.ui.sweep_dialog import SweepDialog

BASE = RunConfig(dataset="moons", n_samples=200, hidden=(8,), batch_size=16, gn_groups=2)


def test_the_dialog_builds_the_sweep_and_names_what_is_wrong(qtbot):
    dialog = SweepDialog(BASE)
    qtbot.addWidget(dialog)
    assert dialog.values_edit.text() == "2, 4, 8, 16, 32, 64"
    dialog.setting_combo.set_value("lr")
    assert dialog.values_edit.text() == "0.001, 0.01, 0.1, 1"
    dialog.norm_checks["renorm"].setChecked(True)
    dialog.steps_spin.setValue(200)
    spec = dialog.chosen()
    assert (spec.setting, spec.values, spec.norms, spec.steps) == ("lr", (0.001, 0.01, 0.1, 1),
                                                                  ("bn", "ln", "gn", "renorm"), 200)
    assert spec.base == BASE
    dialog.setting_combo.set_value("gn_groups")
    dialog.values_edit.setText("2, 3")
    dialog._on_accepted()
    assert dialog.spec is None and "does not divide by 3" in dialog.message.text()
    for check in dialog.norm_checks.values():
        check.setChecked(False)
    dialog._on_accepted()
    assert "norms" in dialog.message.text()


def test_a_sweep_fills_the_sweep_view_while_the_run_goes_on(qtbot, window):
    spec = SweepSpec(BASE, "batch_size", (4, 16), ("bn", "ln"), steps=25)
    sweep_view = window.views["sweep"]
    assert sweep_view.docks["sweep_panel"].absence   # "no sweep yet"
    window.sweeps.start(spec)
    assert window.current_view().spec.key == "sweep" and window.act_stop_sweep.isEnabled()
    assert sweep_view.docks["sweep_panel"].absence is None
    step = window.model.frame.step
    window.step(3)
    qtbot.waitUntil(lambda: window.sweeps.runner.done, timeout=60000)
    qtbot.waitUntil(lambda: window.model.frame.step == step + 3, timeout=5000)
    panel = window.panels["sweep_panel"]
    assert panel.progress.value() == 4 and not window.act_stop_sweep.isEnabled()
    x, y = panel.lines["ln"].getData()
    want = [run_point(p, 25).metrics["test_error"] for p in spec.points() if p.norm == "ln"]
    np.testing.assert_allclose(x, np.log10([4, 16]))
    np.testing.assert_allclose(y, want)


def test_stopping_a_sweep_keeps_what_was_measured(qtbot, window):
    spec = SweepSpec(BASE, "seed", tuple(range(12)), ("bn",), steps=400)
    window.sweeps.start(spec)
    window.act_stop_sweep.trigger()
    runner = window.sweeps.runner
    assert runner.done and not window.act_stop_sweep.isEnabled()
    assert len(runner.results) < 12
