"""Task views: panels leave a view when the run gives them nothing to show
(and the view says why), the status bar says what training is doing, a
reset empties the axes, and empty plots say how to start."""
from __future__ import annotations

from bnviz.engine.config import RunConfig
from bnviz.ui.panels.base import EMPTY_HINT
from bnviz.ui.plotkit.ranges import EMPTY_RANGE

SMALL = RunConfig(dataset="moons", n_samples=200, hidden=(8, 8), activation="tanh",
                  batchnorm=True, optimizer="sgd", lr=0.1, batch_size=16, seed=0)  # as in conftest


def _frame(win):
    return win.model.frame


def test_panels_leave_their_views_by_the_runs_content(qtbot, window):
    docks = window.panel_docks
    # 2-D moons with BN, one run: only Compare has nothing to show.
    qtbot.waitUntil(lambda: not docks["compare_panel"].isVisibleTo(window.views["compare"]), timeout=3000)
    assert docks["compare_panel"].absence and "Compare with" in docks["compare_panel"].absence
    for name in ("decision_boundary_panel", "gamma_beta_panel", "running_stats_panel", "test_time_panel"):
        assert docks[name].absence is None and not docks[name].isHidden(), name
    assert "Compare runs</b> is hidden" in window.views["compare"].notes.text()
    assert not window.views["compare"].area.isVisibleTo(window.views["compare"])   # only the note
    # Digits without batch norm: the boundary and the BN panels go, each with its reason.
    window.reset_run(RunConfig(dataset="digits", hidden=(16,), batchnorm=False, seed=0))
    qtbot.waitUntil(lambda: _frame(window).config.dataset == "digits", timeout=10000)
    gone = {"decision_boundary_panel": "two features", "gamma_beta_panel": "no batch norm",
            "running_stats_panel": "no batch norm", "test_time_panel": "without batch norm"}
    for name, words in gone.items():
        assert docks[name].isHidden() and words in docks[name].absence, name
        assert not docks[name].toggle_action.isEnabled()   # View › Panels says why, cannot show it
        assert words in docks[name].toggle_action.toolTip()
    layer = window.views["layer"]
    assert "Gamma and beta</b> is hidden" in layer.notes.text() and layer.notes.isVisibleTo(layer)
    assert not docks["distributions_panel"].isHidden()   # still has its room
    # Back to the 2-D run with BN: they come back.
    window.reset_run(SMALL)
    qtbot.waitUntil(lambda: _frame(window).config.dataset == "moons", timeout=10000)
    for name in gone:
        assert not docks[name].isHidden() and docks[name].toggle_action.isEnabled(), name
    assert "is hidden" not in layer.notes.text()


def test_a_closed_panel_stays_closed_until_asked_back(qtbot, window):
    dock = window.panel_docks["running_stats_panel"]
    window.show_view("layer")
    dock.close()
    assert dock.isHidden() and not dock.wanted
    window.reset_run(SMALL)   # a new run does not bring it back...
    qtbot.waitUntil(lambda: _frame(window).step == 0 and window.model.frame.run_id == window.model.run_id,
                    timeout=10000)
    assert dock.isHidden() and "Closed: Running statistics" in window.views["layer"].notes.text()
    dock.toggle_action.trigger()   # ...View › Panels does
    assert not dock.isHidden() and dock.wanted


def test_status_while_steps_train_and_while_paused(qtbot, window):
    state = window.status.labels["state"]
    speed = window.status.labels["speed"]
    assert state.text() == "❚❚ paused" and speed.text() == ""
    seen = []

    def training_now():
        text = state.text()
        if "/ 3,000)" in text and "(0 /" not in text and speed.text().endswith("steps/s"):
            seen.append(text)
        return bool(seen)
    window.step(3000)
    qtbot.waitUntil(training_now, timeout=10000)
    assert seen[0].startswith("▶ training 3,000 steps… (")
    done = int(seen[0].split("(")[1].split(" /")[0].replace(",", ""))
    assert 0 < done < 3000
    qtbot.waitUntil(lambda: _frame(window).step == 3000, timeout=30000)
    qtbot.waitUntil(lambda: state.text() == "❚❚ paused", timeout=2000)
    assert speed.text() == ""   # nothing trains: no stale speed


def test_the_speed_reads_right_when_slow(qtbot, window):
    window.speed_requested.emit(2.0)
    window.toggle_play()
    speed = window.status.labels["speed"]
    qtbot.waitUntil(lambda: _frame(window).step >= 5, timeout=10000)
    value = float(speed.text().split()[0])
    assert 1.0 <= value <= 3.0, speed.text()   # 2 steps/s, not 0
    window.toggle_play()
    qtbot.waitUntil(lambda: speed.text() == "", timeout=3000)


def test_reset_clears_the_plots_axes_and_shows_the_hint(qtbot, window):
    curves = window.panels["training_curves_panel"]
    window.show_panel("training_curves_panel")
    window.step(60)
    qtbot.waitUntil(lambda: _frame(window).step == 60, timeout=10000)
    vb = curves.loss_plot.getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: vb.viewRange()[0][1] >= 60, timeout=3000)
    assert not curves.hint.isVisible()
    window.reset_run(window.model.config)
    qtbot.waitUntil(lambda: _frame(window).step == 0 and window.model.frame.run_id == window.model.run_id,
                    timeout=10000)
    (x0, x1), (y0, y1) = vb.viewRange()
    assert (x0, x1) == EMPTY_RANGE and (y0, y1) == EMPTY_RANGE   # not the old run's axes
    assert curves.hint.isVisible() and curves.hint.text() == EMPTY_HINT
    window.step(1)
    qtbot.waitUntil(lambda: not curves.hint.isVisible(), timeout=5000)


def test_the_first_launch_shows_the_default_view_and_the_hint(qtbot, window):
    assert window.current_view() is window.views["layer"]
    dist = window.panels["distributions_panel"]
    assert dist.hint.isVisible() and "Press Space to train" in dist.hint.text()
    assert dist.hint.geometry().intersects(dist.rect())


def test_the_shown_run_is_named_and_its_settings_are_read_only(qtbot, window):
    a = window.model.config
    window.compare.start_runs((a, a.replace(batchnorm=False)), ("A: with BN", "B: no BN"))
    qtbot.waitUntil(lambda: len(_frame(window).others) == 1, timeout=10000)
    run = window.status.labels["run"]
    owner = window.config_panel.findChild(type(window.status.labels["run"]), "config_owner")
    assert run.text() == "showing A: with BN"
    assert "A: with BN" in owner.text() and window.config_panel._content.isEnabled()
    window.run_view_combo.setCurrentIndex(1)
    assert run.text() == "showing B: no BN"
    assert "B: no BN" in owner.text() and "to read" in owner.text()
    assert not window.config_panel._content.isEnabled()
    assert window.config_panel.config().batchnorm is False   # B's settings shown
    window.run_view_combo.setCurrentIndex(0)
    assert window.config_panel._content.isEnabled() and window.config_panel.config().batchnorm is True


def test_a_lesson_opened_at_launch_keeps_its_text_in_front(qtbot, settings):
    """As bnviz --lesson KEY does: the lesson opens before the window is
    shown, on a first launch (the default layout is fitted then)."""
    from bnviz.ui.main_window import MainWindow
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.compare.open_lesson("bias")
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win.model.frame is not None and len(win.model.frame.others) == 1,
                    timeout=10000)
    qtbot.waitUntil(lambda: not win.lesson_view.visibleRegion().isEmpty(), timeout=3000)
    assert win.config_panel.visibleRegion().isEmpty()   # its tab is behind
    assert win.current_view() is win.views["training"]  # the bias lesson's view
    win.close()
