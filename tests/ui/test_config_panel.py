"""ConfigPanel: round trips, live vs. reset edits, marks at invalid fields."""
from __future__ import annotations

from contextlib import ExitStack, contextmanager

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractButton, QAbstractSpinBox, QCheckBox, QComboBox, QFileDialog,
                               QLabel, QLineEdit, QPushButton)

from bnviz.engine.config import PRESETS, ConfigError, RunConfig
from bnviz.ui.config_fields import NumberSpinBox, format_number, parse_flags, parse_hidden
from bnviz.ui.config_panel import ConfigPanel


@pytest.fixture
def panel(qtbot):
    widget = ConfigPanel()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,label\n0,0,0\n1,1,1\n", encoding="utf-8")
    return str(path)


def editor(panel, field):
    return panel.editor(field)


def apply_button(panel) -> QPushButton:
    return panel.findChild(QPushButton, "apply")


def message(panel) -> QLabel:
    return panel.findChild(QLabel, "config_message")


@contextmanager
def nothing_emitted(qtbot, panel):
    with ExitStack() as stack:
        for signal in (panel.live_changed, panel.apply_requested, panel.preset_chosen):
            stack.enter_context(qtbot.assertNotEmitted(signal, wait=0))
        yield


def choose(panel, field, value):
    editor(panel, field).set_value(value)


# ------------------------------------------------------------- round trips
def round_trip_configs(data_file):
    return [
        RunConfig(),
        *(p.replace(data_path=data_file) if p.dataset == "file" else p for p in PRESETS.values()),
        RunConfig(architecture="cnn", conv_channels=(4, 8, 12), conv_kernel=5, conv_pool="avg",
                  hidden=(10,), batchnorm=(True, False, True, True), norm="group", gn_groups=2),
        RunConfig(bn_momentum=None, hidden=(8, 4, 2), batchnorm=(True, False, True), dtype="float64"),
        RunConfig(dataset="file", data_path=data_file, test_fraction=0.3),
        RunConfig(dataset="moons", n_samples=1234, noise=0.37, hidden=(5,), batchnorm=False,
                  activation="leaky_relu", leaky_slope=0.2, bn_placement="after", keep_bias=True,
                  init="gaussian", init_std=0.0123456789, bn_momentum=0.003, bn_eps=1.5e-11,
                  unbiased_running_var=False, optimizer="rmsprop", lr=0.000123, batch_size=17,
                  sgd_momentum=0.95, rmsprop_rho=0.99999, adam_beta1=0.8, adam_beta2=0.9999,
                  opt_eps=1e-10, seed=2**32 - 1),
        RunConfig(hidden=(100, 100), batchnorm=(True, True), optimizer="gd", batch_size=2),
    ]


def test_set_config_then_config_round_trips_every_field(panel, qtbot, data_file):
    for cfg in round_trip_configs(data_file):
        with nothing_emitted(qtbot, panel):
            panel.set_config(cfg)
        assert panel.config() == cfg
        assert panel.applied_config() == cfg
        assert panel.errors() == {}
        assert not apply_button(panel).isEnabled()
        assert not message(panel).isVisibleTo(panel)


def test_set_config_keeps_a_per_layer_tuple_distinct_from_a_flag(panel):
    panel.set_config(RunConfig(hidden=(3, 3), batchnorm=(True, True)))
    assert panel.config().batchnorm == (True, True)
    panel.set_config(RunConfig(hidden=(3, 3), batchnorm=True))
    assert panel.config().batchnorm is True
    assert editor(panel, "batchnorm").text() == "on, on"


def test_applied_config_is_a_copy(panel):
    panel.applied_config().lr = 99.0
    assert panel.applied_config().lr == RunConfig().lr


# ------------------------------------------------------------ live vs reset
def test_lr_applies_live_and_does_not_enable_apply(panel, qtbot):
    with qtbot.assertNotEmitted(panel.apply_requested, wait=0), \
            qtbot.waitSignal(panel.live_changed, timeout=1000) as blocker:
        editor(panel, "lr").setValue(0.05)
    assert blocker.args[0].lr == 0.05
    assert blocker.args[0] == RunConfig(lr=0.05)
    assert panel.applied_config().lr == 0.05
    assert not apply_button(panel).isEnabled()


def test_typed_lr_applies_on_enter(panel, qtbot):
    spin = editor(panel, "lr")
    spin.lineEdit().selectAll()
    with qtbot.waitSignal(panel.live_changed, timeout=1000) as blocker:
        qtbot.keyClicks(spin.lineEdit(), "2e-3")
        qtbot.keyClick(spin.lineEdit(), Qt.Key_Return)
    assert blocker.args[0].lr == 0.002


def test_every_live_field_emits(panel, qtbot):
    panel.set_config(RunConfig(optimizer="adam"))
    for field, value in [("adam_beta1", 0.8), ("adam_beta2", 0.99), ("opt_eps", 1e-6),
                         ("sgd_momentum", 0.5), ("rmsprop_rho", 0.95), ("bn_momentum", 0.01)]:
        with qtbot.waitSignal(panel.live_changed, timeout=1000) as blocker:
            editor(panel, field).setValue(value)
        assert getattr(blocker.args[0], field) == value
    assert not apply_button(panel).isEnabled()


def test_cumulative_momentum_is_live_and_explained(panel, qtbot):
    note = panel.findChild(QCheckBox, "bn_momentum_cumulative")
    with qtbot.waitSignal(panel.live_changed, timeout=1000) as blocker:
        note.setChecked(True)
    assert blocker.args[0].bn_momentum is None
    assert not editor(panel, "bn_momentum").isEnabled()
    labels = " ".join(label.text() for label in panel.findChildren(QLabel))
    assert "Cumulative" in labels
    with qtbot.waitSignal(panel.live_changed, timeout=1000):
        note.setChecked(False)
    editor(panel, "bn_momentum").setValue(0.01)
    labels = " ".join(label.text() for label in panel.findChildren(QLabel))
    assert "PyTorch 0.01 = course β 0.99 = Keras momentum 0.99" in labels


def test_structural_edit_enables_apply_and_apply_emits(panel, qtbot):
    with qtbot.assertNotEmitted(panel.live_changed, wait=0):
        editor(panel, "hidden").setText("64, 32")
    assert apply_button(panel).isEnabled()
    assert "Not applied yet: Hidden layers." in panel.findChild(QLabel, "config_note").text()
    with qtbot.waitSignal(panel.apply_requested, timeout=1000) as blocker:
        qtbot.mouseClick(apply_button(panel), Qt.LeftButton)
    assert blocker.args[0].hidden == (64, 32)
    assert blocker.args[0] == RunConfig(hidden=(64, 32))
    assert panel.applied_config().hidden == (64, 32)
    assert not apply_button(panel).isEnabled()


def test_enter_in_hidden_applies(panel, qtbot):
    field = editor(panel, "hidden")
    field.clear()
    qtbot.keyClicks(field, "10 10")
    with qtbot.waitSignal(panel.apply_requested, timeout=1000) as blocker:
        qtbot.keyClick(field, Qt.Key_Return)
    assert blocker.args[0].hidden == (10, 10)


def test_live_edit_applies_while_a_structural_edit_is_pending(panel, qtbot):
    editor(panel, "hidden").setText("64")
    with qtbot.waitSignal(panel.live_changed, timeout=1000) as blocker:
        editor(panel, "lr").setValue(0.02)
    # The emitted config changes only live settings: the trainer can take it.
    assert blocker.args[0] == RunConfig(lr=0.02)
    assert apply_button(panel).isEnabled()
    with qtbot.waitSignal(panel.apply_requested, timeout=1000) as blocker:
        apply_button(panel).click()
    assert blocker.args[0] == RunConfig(lr=0.02, hidden=(64,))


def test_revert_restores_the_applied_config(panel, qtbot):
    editor(panel, "hidden").setText("7, abc")
    choose(panel, "activation", "tanh")
    with nothing_emitted(qtbot, panel):
        panel.findChild(QPushButton, "revert").click()
    assert panel.config() == RunConfig()
    assert panel.errors() == {}
    assert editor(panel, "hidden").property("invalid") is False
    assert not panel.findChild(QPushButton, "revert").isEnabled()


# ---------------------------------------------------------------- invalid
def _file_without_path(panel):
    choose(panel, "dataset", "file")
    editor(panel, "data_path").setText("")


def _wrong_flag_count(panel):
    panel.findChild(QComboBox, "batchnorm_mode").setCurrentIndex(2)   # per layer
    editor(panel, "batchnorm").setText("on, off")                       # hidden has 3 layers


INVALID = {
    "hidden not a number": (lambda p: editor(p, "hidden").setText("100, abc"), "hidden", "100, 100",
                            ["integer from 1 to 4096", "'abc'"]),
    "hidden empty": (lambda p: editor(p, "hidden").setText(""), "hidden", "100",
                     ["1 to 16 layer widths"]),
    "hidden too wide": (lambda p: editor(p, "hidden").setText("5000"), "hidden", "4096",
                        ["integer from 1 to 4096"]),
    "hidden too deep": (lambda p: editor(p, "hidden").setText(", ".join(["4"] * 17)), "hidden", "4, 4",
                        ["1 to 16 layer widths"]),
    "batch size 1": (lambda p: editor(p, "batch_size").setValue(1), "batch_size", 2,
                     ["from 2", "at least 2 examples"]),
    "flags wrong length": (_wrong_flag_count, "batchnorm", "on, off, on",
                           ["one on/off per hidden layer", "3 for this network", "got 2"]),
    "flags not on/off": (lambda p: (_wrong_flag_count(p), editor(p, "batchnorm").setText("on, maybe, on")),
                         "batchnorm", "on, off, off", ["'maybe' is not on or off"]),
    "file without path": (_file_without_path, "data_path", None, [".csv or .npz"]),
    "file wrong type": (lambda p: (choose(p, "dataset", "file"), editor(p, "data_path").setText("a.txt")),
                        "data_path", None, ["must end in .csv or .npz"]),
    "file missing": (lambda p: (choose(p, "dataset", "file"), editor(p, "data_path").setText("/nope/a.csv")),
                     "data_path", None, ["no file at /nope/a.csv"]),
    "lr zero": (lambda p: editor(p, "lr").setValue(0.0), "lr", 0.5, ["(0.0, 100.0]"]),
    "bn momentum zero": (lambda p: editor(p, "bn_momentum").setValue(0.0), "bn_momentum", 0.1,
                         ["(0.0, 1.0]", "PyTorch convention"]),
}


def _fix(panel, field, value, data_file):
    widget = editor(panel, field)
    if field == "data_path":
        widget.setText(data_file)
    elif isinstance(widget, QLineEdit):
        widget.setText(value)
    else:
        widget.setValue(value)


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_value_is_marked_at_its_field(panel, qtbot, case, data_file):
    make_invalid, field, fixed, allowed = INVALID[case]
    with nothing_emitted(qtbot, panel):
        make_invalid(panel)
        apply_button(panel).click()
    widget = editor(panel, field)
    assert widget.property("invalid") is True
    assert field in panel.errors()
    assert list(panel.errors()) == [field]
    for text in (widget.toolTip(), message(panel).text()):
        # Named as its row names it, never by the internal field name.
        assert panel.field_label(field) in text and f"{field}:" not in text
        for words in allowed:
            assert words in text
    assert message(panel).isVisibleTo(panel)
    assert not apply_button(panel).isEnabled()
    if case != "file missing":          # whether the file exists is the panel's own check
        with pytest.raises(ConfigError) as info:
            panel.config().validate()
        assert info.value.field == field

    _fix(panel, field, fixed, data_file)
    assert widget.property("invalid") is False
    assert panel.errors() == {}
    assert "⚠" not in widget.toolTip() and widget.toolTip()
    assert not message(panel).isVisibleTo(panel)


def test_several_invalid_fields_are_all_marked(panel, qtbot):
    with nothing_emitted(qtbot, panel):
        editor(panel, "hidden").setText("x")
        editor(panel, "batch_size").setValue(1)
        editor(panel, "lr").setValue(0.0)
    assert list(panel.errors()) == ["hidden", "lr", "batch_size"]
    for field in ("hidden", "lr", "batch_size"):
        assert editor(panel, field).property("invalid") is True
    assert message(panel).text().count("⚠") == 3
    assert editor(panel, "activation").property("invalid") is False


def test_valid_live_edit_applies_even_when_another_field_is_invalid(panel, qtbot):
    editor(panel, "hidden").setText("x")
    with qtbot.waitSignal(panel.live_changed, timeout=1000) as blocker:
        editor(panel, "lr").setValue(0.3)
    assert blocker.args[0] == RunConfig(lr=0.3)
    assert blocker.args[0].validate()


def test_invalid_hidden_optimizer_knob_stays_visible(panel, qtbot):
    choose(panel, "optimizer", "momentum")
    editor(panel, "sgd_momentum").setValue(1.0)
    choose(panel, "optimizer", "adam")
    assert "sgd_momentum" in panel.errors()
    assert editor(panel, "sgd_momentum").isVisibleTo(panel)
    editor(panel, "sgd_momentum").setValue(0.9)
    assert not editor(panel, "sgd_momentum").isVisibleTo(panel)


# ---------------------------------------------------------------- presets
def pick_preset(qtbot, combo, name):
    """Choose ``name`` from the combo's popup as a user does."""
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=1000)
    rect = view.visualRect(view.model().index(combo.findText(name), 0))
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=rect.center())


@pytest.mark.parametrize("name", list(PRESETS))
def test_choosing_a_preset_emits_it(panel, qtbot, name, monkeypatch):
    combo = panel.findChild(QComboBox, "preset")
    asked = []
    # A preset for the user's own file asks for it (here: the dialog answered).
    monkeypatch.setattr(panel, "_ask_data_file", lambda title: asked.append(title) or "/data/mnist.npz")
    with qtbot.waitSignal(panel.preset_chosen, timeout=1000) as blocker, \
            qtbot.assertNotEmitted(panel.live_changed, wait=0):
        pick_preset(qtbot, combo, name)
    expected = PRESETS[name]
    if expected.dataset == "file":
        assert asked == [f"Open a data file for “{name}”"]
        expected = expected.replace(data_path="/data/mnist.npz")
    else:
        assert not asked
    assert blocker.args[0] == expected
    assert blocker.args[0] is not PRESETS[name]


def test_a_file_preset_whose_file_dialog_is_cancelled_changes_nothing(panel, qtbot, monkeypatch):
    combo = panel.findChild(QComboBox, "preset")
    monkeypatch.setattr(panel, "_ask_data_file", lambda title: "")
    with qtbot.assertNotEmitted(panel.preset_chosen, wait=100):
        pick_preset(qtbot, combo, "CNN on MNIST (your file)")
    assert combo.currentText() == "Ioffe & Szegedy 2015, Fig. 1"


def test_preset_combo_shows_what_the_form_holds(panel, qtbot):
    combo = panel.findChild(QComboBox, "preset")
    name = "Two moons, no BN"
    assert combo.currentText() == "Ioffe & Szegedy 2015, Fig. 1"     # == the defaults
    editor(panel, "hidden").setText("64")
    assert combo.currentIndex() == 0                                   # "Choose a preset…"
    pick_preset(qtbot, combo, name)                                    # the window declined
    assert combo.currentIndex() == 0
    panel.preset_chosen.connect(panel.set_config)                      # the window accepts
    pick_preset(qtbot, combo, name)
    assert combo.currentText() == name and panel.config() == PRESETS[name]
    with qtbot.waitSignal(panel.preset_chosen, timeout=1000):          # picking it again reloads it
        pick_preset(qtbot, combo, name)


# ----------------------------------------------------- what applies when
def test_controls_that_do_not_apply_are_disabled(panel):
    enabled = lambda field: editor(panel, field).isEnabled()   # noqa: E731
    choose(panel, "dataset", "digits")
    assert not enabled("noise") and not enabled("n_samples") and not enabled("data_path")
    choose(panel, "dataset", "moons")
    assert enabled("noise") and enabled("n_samples") and not enabled("data_path")
    choose(panel, "dataset", "file")
    assert enabled("data_path") and panel.findChild(QAbstractButton, "browse").isEnabled()
    assert not enabled("noise")

    choose(panel, "optimizer", "gd")
    assert not enabled("batch_size")
    choose(panel, "optimizer", "sgd")
    assert enabled("batch_size")
    for optimizer, used in [("sgd", set()), ("momentum", {"sgd_momentum"}),
                            ("rmsprop", {"rmsprop_rho", "opt_eps"}),
                            ("adam", {"adam_beta1", "adam_beta2", "opt_eps"})]:
        choose(panel, "optimizer", optimizer)
        for field in ("sgd_momentum", "rmsprop_rho", "adam_beta1", "adam_beta2", "opt_eps"):
            assert enabled(field) == (field in used)
            assert editor(panel, field).isVisibleTo(panel) == (field in used)

    assert not enabled("leaky_slope")
    choose(panel, "activation", "leaky_relu")
    assert enabled("leaky_slope")
    choose(panel, "init", "he")
    assert not enabled("init_std")
    choose(panel, "init", "gaussian")
    assert enabled("init_std")

    mode = panel.findChild(QComboBox, "batchnorm_mode")
    assert not enabled("batchnorm")
    mode.setCurrentIndex(2)
    assert enabled("batchnorm") and enabled("bn_eps")
    editor(panel, "batchnorm").setText("off, off, off")
    assert not enabled("bn_eps") and not enabled("bn_placement") and not enabled("bn_momentum")
    mode.setCurrentIndex(1)   # no layer
    assert not enabled("batchnorm") and not enabled("unbiased_running_var") and not enabled("keep_bias")


def test_every_control_has_a_tooltip(panel):
    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit)
    controls = [w for kind in kinds for w in panel.findChildren(kind)]
    assert len(controls) > 30
    missing = [w.objectName() or type(w).__name__ for w in controls if not w.toolTip().strip()]
    assert missing == []
    live = [editor(panel, f).toolTip() for f in ("lr", "bn_momentum", "adam_beta1")]
    assert all("live" in tip for tip in live)
    assert "resets the run" in editor(panel, "hidden").toolTip()
    # The mouse is over a spin box's own line edit: it shows the error too.
    editor(panel, "batch_size").setValue(1)
    assert "Batch size:" in editor(panel, "batch_size").lineEdit().toolTip()


def test_browse_fills_the_path(panel, qtbot, monkeypatch, data_file):
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (data_file, "")))
    choose(panel, "dataset", "file")
    panel.findChild(QAbstractButton, "browse").click()
    assert editor(panel, "data_path").text() == data_file
    assert panel.errors() == {}
    with qtbot.waitSignal(panel.apply_requested, timeout=1000) as blocker:
        apply_button(panel).click()
    assert blocker.args[0].dataset == "file" and blocker.args[0].data_path == data_file


def test_random_seed_button_changes_the_seed(panel):
    before = panel.config().seed
    for _ in range(3):
        panel.findChild(QAbstractButton, "random_seed").click()
        if panel.config().seed != before:
            break
    assert panel.config().seed != before
    assert apply_button(panel).isEnabled()


def test_renders_in_a_narrow_dock(panel, qtbot, tmp_path):
    editor(panel, "hidden").setText("100, abc")
    panel.resize(340, 900)
    panel.show()
    qtbot.waitExposed(panel)
    image = panel.grab()
    assert not image.isNull() and image.width() == 340
    assert image.save(str(tmp_path / "config_panel.png"))


# ----------------------------------------------------------------- helpers
def test_parsers_and_number_format():
    assert parse_hidden(" 64,32 ") == (64, 32) and parse_hidden("8 8 8") == (8, 8, 8)
    assert parse_flags("on, off, yes, 0") == (True, False, True, False)
    with pytest.raises(ConfigError) as info:
        parse_hidden("4, 4.5")
    assert info.value.field == "hidden"
    numbers = (0.1, 1e-5, 100.0, 0.999, 1e-8)
    assert [format_number(v) for v in numbers] == ["0.1", "1e-5", "100", "0.999", "1e-8"]


def test_number_spin_box_steps_and_is_exact(qtbot):
    lr = NumberSpinBox(0.0, 100.0, step="log")
    qtbot.addWidget(lr)
    lr.setValue(0.01)
    lr.stepBy(1)
    assert lr.value() == 0.02
    lr.stepBy(2)
    assert lr.value() == 0.1
    lr.stepBy(-3)
    assert lr.value() == 0.01
    beta = NumberSpinBox(0.0, 1.0, step="log1m")
    qtbot.addWidget(beta)
    beta.setValue(0.99)
    beta.stepBy(1)
    assert beta.value() == 0.995
    beta.setValue(0.123456789012345)
    assert beta.value() == 0.123456789012345
    assert lr.validate("abc", 0)[0] != lr.validate("1e-3", 0)[0]
