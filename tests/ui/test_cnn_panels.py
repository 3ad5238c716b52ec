"""A CNN in the window: channel selectors, the feature maps panel, the form."""
from __future__ import annotations

import numpy as np
import pytest

from bnviz.engine.config import RunConfig, preset
from bnviz.engine.testtime import inspect_example
from bnviz.engine.trainer import Trainer
from bnviz.ui.config_panel import ConfigPanel
from bnviz.ui.panels import DistributionsPanel, FeatureMapsPanel, RunningStatsPanel
from bnviz.ui.panels.feature_maps import mosaic_columns, tile_maps
from bnviz.ui.panels.selectors import layer_label

from test_panels import make_frame, shown, ydata

CNN = RunConfig(dataset="digits", architecture="cnn", conv_channels=(4, 6), hidden=(16,), activation="relu",
                init="he", lr=0.05, batch_size=32)


@pytest.fixture(scope="module")
def cnn_frame():
    return make_frame(CNN, steps=8, chunks=2)


def test_layer_lists_name_blocks_and_channels(qtbot, cnn_frame):
    assert layer_label(0, 8, "batch", "before", conv=2) == "Conv 1 (8 channels, BN before)"
    assert layer_label(2, 64, None, "before", conv=2) == "Dense 1 (64 units, no BN)"
    dist = shown(qtbot, DistributionsPanel)
    dist.set_frame(cnn_frame)
    combo = dist.selector.layer_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "Conv 1 (4 channels, BN before)", "Conv 2 (6 channels, BN before)", "Dense 1 (16 units, BN before)"]
    dist.selector.set_selection(0, 3)
    assert dist.selector._unit_label.text() == "Channel" and dist.selector.unit_spin.maximum() == 3
    L = cnn_frame.record.layers[0]
    # the histograms count every pixel of every example of the batch
    assert ydata(dist.hist_curves["before"]).sum() == L.bn_in.size == 32 * 64 * 4
    dist.selector.set_selection(2, 0)
    assert dist.selector._unit_label.text() == "Unit"
    stats = shown(qtbot, RunningStatsPanel)
    stats.set_frame(cnn_frame)
    stats.selector.set_selection(1, 5)
    np.testing.assert_allclose(ydata(stats.running_curves["mean"]),
                               cnn_frame.history.layer(1, "running_mean")[:, 5])
    assert "conv 2, channel 5" in stats.mean_plot.getPlotItem().titleLabel.text


def test_tiles_place_every_channel_with_gaps():
    maps = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    image = tile_maps(maps, 3)
    assert image.shape == (2 * 3 - 1, 3 * 4 - 1)
    np.testing.assert_array_equal(image[3:5, 4:7], maps[4])   # channel 4: row 1, column 1
    assert np.isnan(image[2]).all() and np.isnan(image[:, 3]).all()
    assert [mosaic_columns(c) for c in (1, 6, 8, 9, 16, 32)] == [1, 6, 8, 5, 8, 8]


def test_feature_maps_panel_shows_the_inspection(qtbot):
    tr = Trainer(CNN)
    tr.advance(10)
    tr.evaluate()
    frame = make_frame(CNN, steps=10, chunks=1)
    panel = shown(qtbot, FeatureMapsPanel)
    panel.resize(900, 600)
    assert panel.absence(frame) is None
    assert "convolutional" in panel.absence(make_frame(RunConfig(dataset="moons", hidden=(4,)), steps=4))
    with qtbot.waitSignal(panel.inspect_requested, timeout=3000) as asked:
        panel.set_frame(frame)
    assert asked.args == [0, 0]
    ins = inspect_example(tr, 7)
    panel.set_inspection(ins)
    assert panel.example_spin.value() == 7
    z, normed = ins.feature_maps[0]
    np.testing.assert_array_equal(panel.before.image.image, tile_maps(z, mosaic_columns(4)))
    np.testing.assert_array_equal(panel.after.image.image, tile_maps(normed, mosaic_columns(4)))
    assert panel.before.bar.levels() == pytest.approx((-np.abs(z).max(), np.abs(z).max()))
    assert "After BatchNorm, conv 1 (running statistics" in panel.after.plot.getPlotItem().titleLabel.text
    assert f"Test example 7" in panel.caption.text() and "4 channels of 8×8" in panel.caption.text()
    panel.block_combo.setCurrentIndex(1)
    z2 = ins.feature_maps[1][0]
    np.testing.assert_array_equal(panel.before.image.image, tile_maps(z2, mosaic_columns(6)))
    # choosing another example asks for it
    with qtbot.waitSignal(panel.inspect_requested, timeout=1000) as asked:
        panel.example_spin.setValue(3)
    assert asked.args == [3, 0]
    # a block without normalization has only its convolution's maps
    bare = Trainer(CNN.replace(batchnorm=(False, True, True)))
    bare.advance(2)
    panel.set_frame(make_frame(CNN.replace(batchnorm=(False, True, True)), steps=2, chunks=1))
    panel.block_combo.setCurrentIndex(0)
    panel.set_inspection(inspect_example(bare, 1))
    assert not panel.after.plot.isVisibleTo(panel)
    assert "no normalization" in panel.after.plot.getPlotItem().titleLabel.text


def test_form_shows_the_conv_settings_for_a_cnn_only(qtbot):
    form = ConfigPanel()
    qtbot.addWidget(form)
    form.show()
    form.set_config(preset("Small CNN on digits"))
    channels = form.editor("conv_channels")
    assert channels.isVisibleTo(form) and channels.text() == "8, 16"
    assert form.config() == preset("Small CNN on digits")
    channels.setText("8, x")
    assert "'x' is not an integer" in form.errors()["conv_channels"]
    channels.setText("8, 16, 4")
    assert "batchnorm" not in form.errors()     # one flag for every layer
    form.set_config(RunConfig())
    assert not form.editor("conv_channels").isVisibleTo(form)
    assert not form.editor("conv_kernel").isVisibleTo(form)


def test_an_mlp_has_no_feature_maps_to_draw_or_export(qtbot):
    panel = shown(qtbot, FeatureMapsPanel)
    panel.set_frame(make_frame(RunConfig(dataset="digits", hidden=(8,)), steps=4, chunks=1))
    assert panel.stack.currentWidget() is panel.message and "convolutional" in panel.message.text()
    assert not any(p.isVisibleTo(panel) for p in panel.plot_widgets())

