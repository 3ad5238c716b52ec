"""Compare mode, the Lessons menu and the test-time lab in the window."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QDialog

from bnviz.engine.lessons import LESSONS
from bnviz.ui.compare_dialog import CompareDialog


def _frame(win):
    return win.model.frame


def _pause(qtbot, win):
    win.pause_requested.emit()
    qtbot.waitUntil(lambda: not win.playing, timeout=5000)


def test_compare_with_b_trains_both_in_lockstep(qtbot, window, monkeypatch):
    monkeypatch.setattr(CompareDialog, "exec", lambda self: QDialog.Accepted)
    window.act_compare.trigger()
    qtbot.waitUntil(lambda: len(_frame(window).others) == 1, timeout=5000)
    f = _frame(window)
    assert f.config.batchnorm is True and f.others[0].config.batchnorm is False
    assert (f.label, f.others[0].label) == ("A: with BN", "B: no BN")
    assert window.comparing() and "2 runs" in window.mode_label.text()
    window.act_step10.trigger()
    qtbot.waitUntil(lambda: _frame(window).step == 10, timeout=5000)
    f = _frame(window)
    assert f.others[0].step == 10
    np.testing.assert_array_equal(f.record.labels, f.others[0].record.labels)
    # (Tabbed behind Training curves, it draws once its tab is raised.)
    window.show_panel("compare_panel")
    qtbot.waitUntil(window.panels["compare_panel"].is_comparing, timeout=2000)
    # A live edit reaches B too (it had A's learning rate).
    window.config_panel.live_changed.emit(f.config.replace(lr=0.05))
    window.act_step.trigger()
    qtbot.waitUntil(lambda: _frame(window).step == 11, timeout=5000)
    assert _frame(window).others[0].record.lr == pytest.approx(0.05)
    window.act_single.trigger()
    qtbot.waitUntil(lambda: not _frame(window).others and _frame(window).step == 0, timeout=5000)
    assert not window.comparing() and window.mode_label.text() == ""


def test_compare_dialog_needs_a_difference(qtbot, window):
    dialog = CompareDialog(window.model.config)
    qtbot.addWidget(dialog)
    assert dialog.ok_button.isEnabled() and "BN per layer off (A: on)" in dialog.summary.text()
    dialog.config_panel.set_config(window.model.config)
    dialog.config_panel.edited.emit()
    assert not dialog.ok_button.isEnabled() and "same as A" in dialog.summary.text()


@pytest.mark.parametrize("item", LESSONS, ids=lambda item: item.key)
def test_each_lesson_opens_from_the_menu(qtbot, window, item):
    window.lesson_actions[item.key].trigger()
    qtbot.waitUntil(lambda: _frame(window).step >= 5, timeout=20000)
    _pause(qtbot, window)
    f = _frame(window)
    assert 1 + len(f.others) == len(item.configs)
    assert [f.label, *(o.label for o in f.others)] == list(item.labels)
    assert window.lesson_dock.isVisible() and window.lesson_view.title_label.text() == item.title
    assert item.explanation.split("\n\n")[0][:60] in window.lesson_view.text.toPlainText()
    panel = window.panels[f"{item.panel}_panel"]
    qtbot.waitUntil(panel.isVisible, timeout=2000)   # its dock was brought to the front
    if item.key == "bias":
        # The lesson's point on screen: the bias gradient is ~0 next to W's.
        panel.selector.set_selection(0)

        def ratio():
            text = panel.ratio_label.text()
            return float(text.split("=")[1]) if "=" in text else None
        qtbot.waitUntil(lambda: ratio() is not None, timeout=2000)   # drawn once in front
        assert ratio() < 1e-9
    if item.panel == "compare":   # drawn once its tab is in front
        qtbot.waitUntil(panel.is_comparing, timeout=2000)


def test_test_time_lab_controls_and_inspection(qtbot, window):
    lab = window.panels["test_time_panel"]
    window.show_panel("test_time_panel")
    qtbot.waitUntil(lab.isVisible, timeout=2000)
    window.act_step10.trigger()
    qtbot.waitUntil(lambda: lab.inspection is not None and lab.inspection.step == 10, timeout=5000)
    ins = lab.inspection
    assert ins.probs_running.shape == (2,) and abs(ins.probs_single.sum() - 1) < 1e-6
    assert "True class" in lab.verdict.text() and "every BN output is β" in lab.verdict.text()
    lab.example_spin.setValue(7)
    qtbot.waitUntil(lambda: lab.inspection.index == 7, timeout=5000)
    # k of the test batches, live: the paused run is evaluated again with it.
    lab.k_spin.setValue(8)
    qtbot.waitUntil(lambda: _frame(window).evaluation.eval_batch_size == 8, timeout=5000)
    assert window.config_panel.applied_config().eval_batch_size == 8
    # The cumulative-average preset of the BN momentum, live.
    lab.momentum_combo.setCurrentIndex(2)
    lab.momentum_combo.activated.emit(2)
    qtbot.waitUntil(lambda: _frame(window).config.bn_momentum is None, timeout=5000)
    window.act_step.trigger()
    qtbot.waitUntil(lambda: _frame(window).step == 11, timeout=5000)
    lab.population_spin.setValue(100)
    qtbot.waitUntil(lambda: _frame(window).config.population_every == 100, timeout=5000)
    lab.population_button.click()
    qtbot.waitUntil(lambda: _frame(window).evaluation.population_step == 11, timeout=5000)
    ev = _frame(window).history.evals
    assert "test_accuracy_single" in ev and "L0.ema_gap_mean" in ev


def test_test_time_lab_in_compare_mode_shows_every_runs_lag(qtbot, window):
    lab = window.panels["test_time_panel"]
    window.show_panel("test_time_panel")
    qtbot.waitUntil(lab.isVisible, timeout=2000)
    a = window.model.config
    window.compare.start_runs((a, a.replace(bn_momentum=0.01), a.replace(batch_size=4)),
                      ("A: m 0.1", "B: m 0.01", "C: batch 4"))
    qtbot.waitUntil(lambda: len(_frame(window).others) == 2, timeout=5000)
    window.act_step10.trigger()
    qtbot.waitUntil(lambda: _frame(window).step == 10, timeout=5000)
    qtbot.waitUntil(lambda: lab.gap_series[2]["var"].item.isVisible(), timeout=5000)
    assert lab.run_combo.isVisible() and lab.run_combo.count() == 3
    legend = [label.text for _, label in lab.gap_plot.getPlotItem().legend.items]
    assert legend == ["A: m 0.1", "B: m 0.01", "C: batch 4"]
    f = _frame(window)
    for j, run in enumerate((f, *f.others)):
        ev = run.history.evals
        x, y = lab.gap_series[j]["var"].data()
        np.testing.assert_array_equal(x, ev["step"])
        np.testing.assert_allclose(y, np.log10(np.maximum(ev["L1.ema_gap_var"], 1e-12)), rtol=1e-6)
    # Another run's accuracies and example.
    lab.run_combo.setCurrentIndex(2)
    x, y = lab.accuracy_series["test_accuracy"].data()
    np.testing.assert_allclose(y, f.others[1].history.evals["test_accuracy"])
    qtbot.waitUntil(lambda: lab.verdict.text().startswith("Run C:"), timeout=5000)
    x, y = lab.train_series.data()
    assert len(x) == len(f.others[1].history.steps["step"])


def test_single_run_panels_show_the_chosen_run(qtbot, window):
    a = window.model.config
    assert not window.run_view_actions[1].isVisible()
    window.compare.start_runs((a, a.replace(batchnorm=False)), ("A: with BN", "B: no BN"))
    qtbot.waitUntil(lambda: len(_frame(window).others) == 1, timeout=5000)
    window.act_step10.trigger()
    qtbot.waitUntil(lambda: _frame(window).step == 10, timeout=5000)
    assert window.run_view_actions[1].isVisible() and window.run_view_combo.count() == 2
    window.run_view_combo.setCurrentIndex(1)
    dist = window.panels["distributions_panel"]
    assert dist.frame().label == "B: no BN" and dist.frame().config.batchnorm is False
    assert window.panels["compare_panel"].frame().others   # every run, still
    boundary = window.panels["decision_boundary_panel"].frame().boundary
    assert boundary is not None and boundary.probs.shape[:2] == (80, 80)
    window.show_panel("training_curves_panel")   # a panel draws once on screen
    curves = window.panels["training_curves_panel"]
    qtbot.waitUntil(lambda: len(curves.loss_series.data()[1]) == 10, timeout=2000)
    x, y = curves.loss_series.data()
    np.testing.assert_allclose(y, _frame(window).others[0].history.steps["loss"], rtol=1e-6)
    window.act_step.trigger()
    qtbot.waitUntil(lambda: dist.frame().step == 11, timeout=5000)
    assert dist.frame().label == "B: no BN"
