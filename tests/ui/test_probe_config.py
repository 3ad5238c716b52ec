"""The probe-statistics setting: declared once in RunConfig's metadata, and
the config form, TOML and validation follow from that declaration."""
from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel, QPushButton

from bnviz.engine.config import PROBE_STATISTICS, ConfigError, RunConfig
from bnviz.ui.config_panel import ConfigPanel


def test_declared_fields_carry_label_tooltip_group_and_choices():
    declared = {f.name: f.metadata for f in RunConfig.declared_fields()}
    meta = declared["probe_statistics"]
    assert meta["label"] and len(meta["tooltip"]) > 80 and meta["group"] == "Batch norm"
    assert [v for v, _ in meta["choices"]] == ["batch", "running", "population"] == \
        [v for v, _ in PROBE_STATISTICS]
    assert RunConfig().probe_statistics == "batch"   # the paper's: training mode
    for value, _ in PROBE_STATISTICS:
        cfg = RunConfig(probe_statistics=value)
        assert RunConfig.from_toml(cfg.to_toml()) == cfg
    with pytest.raises(ConfigError) as err:
        RunConfig(probe_statistics="ema").validate()
    assert err.value.field == "probe_statistics" and "batch, running, population" in err.value.message


def test_the_form_edits_the_declared_setting(qtbot):
    panel = ConfigPanel(RunConfig())
    qtbot.addWidget(panel)
    combo = panel.editor("probe_statistics")
    meta = next(f.metadata for f in RunConfig.declared_fields() if f.name == "probe_statistics")
    assert combo.toolTip().startswith(meta["tooltip"]) and combo.count() == 3
    label = next(w for w in panel.findChildren(QLabel) if w.buddy() is combo)
    assert label.text().startswith(meta["label"])
    panel.set_config(RunConfig(probe_statistics="population"))
    assert combo.value() == "population" and panel.config().probe_statistics == "population"
    combo.set_value("running")   # not live: it waits for Apply (a new run)
    assert panel.findChild(QPushButton, "apply").isEnabled()
    with qtbot.waitSignal(panel.apply_requested) as blocker:
        panel.findChild(QPushButton, "apply").click()
    assert blocker.args[0].probe_statistics == "running"
    panel.set_config(RunConfig(batchnorm=False))   # no BN: nothing to normalise the probe with
    assert not combo.isEnabled()
