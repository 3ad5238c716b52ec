"""One settings schema (bnviz.engine.settings): validation, the live
fields, TOML and the configuration form all follow from it, and every
message names a setting as a user reads it."""
from __future__ import annotations

from dataclasses import fields

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QPushButton

from bnviz.engine import settings, trainer
from bnviz.engine.config import ConfigError, RunConfig
from bnviz.engine.settings import BY_NAME, SETTINGS
from bnviz.ui.config_fields import ChoiceCombo, IntSpinBox, NumberSpinBox
from bnviz.ui.config_panel import ConfigPanel

# One setting of each kind, with a value its rule refuses.
BY_KIND = {"int": ("batch_size", 1), "float": ("lr", -1.0), "choice": ("activation", "softsign"),
           "bool": ("keep_bias", "yes"), "path": ("data_path", 3), "layers": ("hidden", (0,)),
           "flags": ("batchnorm", (True,))}


@pytest.fixture
def panel(qtbot):
    p = ConfigPanel(RunConfig(dataset="moons", hidden=(8, 8)))
    qtbot.addWidget(p)
    p.show()
    return p


def test_every_field_is_declared_once_in_the_schema():
    assert [s.name for s in SETTINGS] == [f.name for f in fields(RunConfig)]
    assert trainer.LIVE_FIELDS == settings.LIVE_FIELDS == {s.name for s in SETTINGS if s.live}
    assert {s.kind for s in SETTINGS} == set(BY_KIND)
    for s in SETTINGS:
        assert s.label and s.group and len(s.tooltip) > 10, s.name
        if s.kind in ("int", "float"):
            assert s.lo < s.hi, s.name
        if s.kind == "choice":
            assert s.choices and all(len(c) == 2 for c in s.choices), s.name


@pytest.mark.parametrize("kind", list(BY_KIND))
def test_validation_follows_the_schema(kind):
    name, bad = BY_KIND[kind]
    setting = BY_NAME[name]
    with pytest.raises(ConfigError) as err:
        RunConfig(**{name: bad}).validate()
    assert err.value.field == name and err.value.message == setting.problem(bad, hidden=(100, 100, 100))
    if kind in ("int", "float"):
        assert setting.range_text() in err.value.message
        for edge, inside in ((setting.lo, not setting.low_open), (setting.hi, not setting.high_open)):
            value = int(edge) if kind == "int" else float(edge)
            assert (setting.problem(value) is None) is inside, (name, edge)
    if kind == "choice":
        for value in setting.values:
            assert RunConfig(**{name: value}).validate()
    # TOML knows exactly the schema's keys, and round-trips each kind.
    good = RunConfig()
    assert RunConfig.from_toml(good.to_toml()) == good
    with pytest.raises(ConfigError, match="unknown setting"):
        RunConfig.from_dict({"learning_rate": 0.1})


def test_the_data_sets_ranges_are_the_schemas():
    from bnviz.engine.data import DatasetError, load_dataset
    with pytest.raises(DatasetError, match=BY_NAME["n_samples"].range_text()):
        load_dataset("moons", n_samples=15)    # in range for the old check (>= 10), not the form's
    with pytest.raises(DatasetError, match="Noise"):
        load_dataset("moons", noise=6.0)


@pytest.mark.parametrize("kind", list(BY_KIND))
def test_the_form_builds_each_kind_from_the_schema(panel, kind):
    name, _ = BY_KIND[kind]
    setting = BY_NAME[name]
    editor = panel.editor(name)
    expected = {"int": (IntSpinBox, NumberSpinBox), "float": NumberSpinBox, "choice": ChoiceCombo,
                "bool": QCheckBox, "path": QLineEdit, "layers": QLineEdit, "flags": QLineEdit}[kind]
    assert isinstance(editor, expected)
    assert editor.toolTip().startswith(setting.tooltip)
    if kind in ("int", "float"):
        assert (editor.lo, editor.hi) == (setting.lo, setting.hi)   # the arrows' range
    if kind == "choice":
        assert [editor.itemData(i) for i in range(editor.count())] == list(setting.values)
    if kind == "bool":
        assert editor.text() == setting.label
    else:
        label = next(w for w in panel.findChildren(QLabel) if w.buddy() is editor)
        assert label.text().startswith(setting.label)


def test_typed_values_are_kept_and_refused_in_words(panel, qtbot):
    lr = panel.editor("lr")
    lr.lineEdit().selectAll()
    QTest.keyClicks(lr.lineEdit(), "-1")
    QTest.keyClick(lr.lineEdit(), Qt.Key_Return)
    assert lr.value() == -1.0   # not clamped to 0 behind the user's back
    message = panel.findChild(QLabel, "config_message").text()
    assert message == "⚠ Learning rate: must be a number in (0.0, 100.0], got -1.0"
    assert not panel.findChild(QPushButton, "apply").isEnabled()
    lr.stepBy(1)   # the arrows go back into the range
    assert 0 < lr.value() <= 100


def test_no_internal_name_reaches_a_message(panel):
    """Each simple setting made invalid in the form: the message and the
    field's tooltip name it by its label, never by its field name."""
    for s in SETTINGS:
        editor = panel._editors.get(s.name)
        if editor is None or s.kind not in ("int", "float") or s.name == "seed":
            continue
        editor.setValue(s.hi * 2 + 10 if s.hi else 10)
        message = panel.findChild(QLabel, "config_message").text()
        assert f"{s.label}:" in message and f"{s.name}:" not in message, (s.name, message)
        assert f"{s.name}:" not in editor.toolTip()
        panel.set_config(RunConfig(dataset="moons", hidden=(8, 8)))


def test_the_pending_note_names_settings_as_the_form_does(panel):
    panel.editor("hidden").setText("16, 16")
    panel.editor("batch_size").setValue(32)
    note = panel.findChild(QLabel, "config_note").text()
    assert note.startswith("Not applied yet: Hidden layers, Batch size.")


def test_the_compare_dialog_names_the_differences_in_words(qtbot):
    from bnviz.ui.compare_dialog import CompareDialog
    a = RunConfig(dataset="moons", hidden=(8, 8), activation="tanh")
    dialog = CompareDialog(a, a.replace(batchnorm=False, activation="relu"))
    qtbot.addWidget(dialog)
    text = dialog.summary.text()
    assert text == "Differs from A: Activation ReLU (A: tanh); BN per layer off (A: on)"
