"""The normalization family in the window's panels and configuration form."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine.config import RunConfig
from bnviz.engine.norms import renorm_limits
from bnviz.ui.config_panel import ConfigPanel
from bnviz.ui.panels import (DistributionsPanel, GammaBetaPanel, RunningStatsPanel)
from bnviz.ui.panels import lab
from bnviz.ui.panels.selectors import layer_label

from test_panels import TOY, make_frame, shown, ydata


@pytest.fixture(scope="module")
def layer_norm_frame():
    return make_frame(RunConfig(**TOY, norm="layer"))


@pytest.fixture(scope="module")
def renorm_frame():
    """Renorm's limits open at step 6 and reach theirs at step 16 of 40."""
    return make_frame(RunConfig(**{**TOY, "batch_size": 8}, norm="renorm", renorm_warmup=5,
                                renorm_ramp=10, renorm_rmax=1.5, renorm_dmax=0.4), steps=40)


def test_layer_norm_has_distributions_and_gamma_beta_but_no_running_statistics(qtbot, layer_norm_frame):
    frame = layer_norm_frame
    dist = shown(qtbot, DistributionsPanel)
    dist.set_frame(frame)
    dist.selector.set_selection(0, 0)
    L = frame.record.layers[0]
    assert L.norm == "layer" and L.batch_mean is None and L.running_mean is None
    assert ydata(dist.hist_curves["before"]).sum() == L.bn_in.size
    assert ydata(dist.hist_curves["after"]).sum() == L.bn_out.size
    # LayerNorm: every example's own features have mean 0 and variance 1 before γ, β.
    np.testing.assert_allclose(L.normalized.mean(axis=1), 0, atol=1e-5)
    assert dist.selector.layer_combo.itemText(0) == "Layer 1 (8 units, LN before)"
    gb = shown(qtbot, GammaBetaPanel)
    gb.set_frame(frame)
    assert gb.stack.currentIndex() == 0
    np.testing.assert_allclose(ydata(gb.unit_curves["gamma"]), frame.history.layer(1, "gamma")[:, 0])
    for cls in (RunningStatsPanel, lab.TestTimePanel):
        panel = shown(qtbot, cls)
        assert "LayerNorm" in panel.absence(frame) and "own" in panel.absence(frame)


def test_running_stats_plot_renorms_r_and_d_between_the_schedules_limits(qtbot, renorm_frame):
    frame = renorm_frame
    panel = shown(qtbot, RunningStatsPanel)
    panel.set_frame(frame)
    panel.selector.set_selection(1, 3)
    assert panel.absence(frame) is None and panel.rd_plot.isVisible()
    h = frame.history
    r, d = h.layer(1, "renorm_r")[:, 3], h.layer(1, "renorm_d")[:, 3]
    np.testing.assert_allclose(ydata(panel.rd_curves["r"]), r)
    np.testing.assert_allclose(ydata(panel.rd_curves["d"]), d)
    steps = h.steps["step"]
    r_max, d_max = renorm_limits(steps - 1, 1.5, 0.4, 5, 10)
    assert np.all((r >= 1 / r_max - 1e-6) & (r <= r_max + 1e-6) & (np.abs(d) <= d_max + 1e-6))
    assert np.all(r[:5] == 1) and np.all(d[:5] == 0) and np.any(r[5:] != 1)   # plain BN in the warm-up
    x, upper = panel.limit_curves[0].getData()
    np.testing.assert_allclose(upper, renorm_limits(x - 1, 1.5, 0.4, 5, 10)[0])
    assert list(x) == [1, 6, 16, 40] and upper[-1] == 1.5
    np.testing.assert_allclose(panel.limit_curves[3].getData()[1], -renorm_limits(x - 1, 1.5, 0.4, 5, 10)[1])
    # The paper's running average is of σ_B, the biased one, whatever unbiased_running_var says.
    assert panel.running_curves["var"].name() == "running (biased)" and frame.config.unbiased_running_var
    assert "averages σ_B" in panel.caption.text()
    batch = make_frame(RunConfig(**TOY))
    panel.set_frame(batch)
    assert not panel.rd_plot.isVisible()


def test_layer_labels_name_each_normalization():
    assert layer_label(0, 100, "group", "after") == "Layer 1 (100 units, GN after)"
    assert layer_label(2, 1, True, "before") == "Layer 3 (1 unit, BN before)"
    assert layer_label(1, 4, None, "before") == "Layer 2 (4 units, no BN)"


@pytest.mark.parametrize("norm,rows", [("batch", ()), ("layer", ()), ("group", ("gn_groups",)),
                                       ("noisy", ("noise_scale",)),
                                       ("renorm", ("renorm_rmax", "renorm_dmax", "renorm_warmup",
                                                   "renorm_ramp"))])
def test_the_form_shows_the_chosen_normalizations_settings(qtbot, norm, rows):
    cfg = RunConfig(norm=norm, gn_groups=5, renorm_rmax=2.5, renorm_warmup=7, noise_scale=0.25)
    panel = ConfigPanel(cfg)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.config() == cfg
    every = ("gn_groups", "noise_scale", "renorm_rmax", "renorm_dmax", "renorm_warmup", "renorm_ramp")
    assert {n for n in every if panel._form_norm.isRowVisible(panel.editor(n))} == set(rows)
    assert panel._norm_box.isVisible() == bool(rows)
    running = norm in ("batch", "renorm", "noisy")
    assert panel.editor("bn_momentum").isEnabled() == running
    assert panel.editor("probe_statistics").isEnabled() == running
    assert panel.editor("norm").isEnabled()


def test_a_group_count_that_does_not_divide_is_marked_and_not_applied(qtbot):
    panel = ConfigPanel(RunConfig(hidden=(100, 100), norm="group", gn_groups=4))
    qtbot.addWidget(panel)
    applied = []
    panel.apply_requested.connect(applied.append)
    panel.editor("gn_groups").setValue(3)
    assert "does not divide by 3" in panel.errors()["gn_groups"]
    panel._on_apply_clicked()
    assert applied == []
    panel.editor("gn_groups").setValue(5)
    assert not panel.errors()
    panel._on_apply_clicked()
    assert applied[-1].gn_groups == 5


def test_distribution_legends_name_the_normalization(layer_norm_frame, renorm_frame):
    from bnviz.ui.panels.distributions import _hist_sources
    names = lambda frame: [n for _, _, n in _hist_sources(frame.record.layers[0])]   # noqa: E731
    assert names(layer_norm_frame) == ["z (before LN)", "x_hat (normalised)", "γ·x_hat + β (after LN)"]
    assert names(renorm_frame) == ["z (before Renorm)", "x_hat·r + d (normalised, corrected)",
                                   "γ·x_hat + β (after Renorm)"]
    noisy = make_frame(RunConfig(**TOY, norm="noisy"), steps=4)
    assert names(noisy)[2] == "γ·x_hat + β + noise (after noisy BN)"
