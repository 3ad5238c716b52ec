"""The configuration panel's form: one group box per topic, one editor per
RunConfig field (a mixin of ConfigPanel, which validates and emits)."""
from __future__ import annotations

import random

from PySide6.QtWidgets import (QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QToolButton, QVBoxLayout, QWidget)

from bnviz.engine.config import PRESETS
from bnviz.engine.settings import BY_NAME, GENERIC_EDITORS

from .config_fields import (BN_MODES, LIVE, LIVE_MARK, RESET, ChoiceCombo, IntSpinBox, NumberSpinBox,
                            hbox, hint_label, set_tooltip)


class ConfigForm:
    """Builds the editors; registers each with ConfigPanel's validation."""

    def _group(self, title: str) -> tuple[QGroupBox, QFormLayout]:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.DontWrapRows)
        form.setContentsMargins(6, 6, 6, 6)
        self.__dict__.setdefault("_forms", {})[title] = form
        return box, form

    def _build_declared(self) -> None:
        """An editor for each setting the schema lets the form build alone
        (settings.GENERIC_EDITORS), at the end of its group; with those the
        builders placed themselves (``_declare``), read and shown alike."""
        for name in GENERIC_EDITORS:
            widget = self._setting(name)
            self._declared[name] = widget
            self._setting_row(self._forms[BY_NAME[name].group], name, widget)

    def _declare(self, form, name: str):
        """The schema's editor of ``name`` in a row of ``form`` here, read
        and shown with the generic ones."""
        widget = self._setting(name)
        self._setting_row(form, name, widget)
        self.__dict__.setdefault("_declared", {})[name] = widget
        return widget

    def _setting(self, name: str):
        """The editor of setting ``name``: its kind, range, steps and tooltip
        as the schema declares them, registered for validation."""
        s = BY_NAME[name]
        if s.kind == "choice":
            widget = ChoiceCombo(s.choices)
        elif s.kind == "bool":
            widget = QCheckBox(s.label)
        elif s.kind == "float":
            widget = NumberSpinBox(s.lo, s.hi, step=s.step, single_step=s.single_step, floor=s.floor)
        elif s.kind == "int" and s.hi > 2**31 - 1:   # beyond a QSpinBox (the seed)
            widget = NumberSpinBox(s.lo, s.hi, integer=True)
        elif s.kind == "int":
            widget = IntSpinBox(int(s.lo), int(s.hi), max(1, int(s.single_step)))
        else:
            widget = QLineEdit()
        return self._input(widget, name, s.tooltip, live=s.live)

    def _setting_row(self, form, name: str, widget, editor=None) -> None:
        """A form row labelled as the schema names the setting."""
        setting = BY_NAME[name]
        if setting.kind == "bool":   # a check box carries its own label
            form.addRow(widget)
        else:
            self._row(form, setting.label, widget, live=setting.live, editor=editor)

    def _input(self, widget, field: str | None, tip: str, live: bool = False):
        """Register an editor: tooltip, change signal -> re-validate, error target."""
        tip = tip + (LIVE if live else RESET if field else "")
        set_tooltip(widget, tip)
        self._help[widget] = tip
        if field:
            self._editors[field] = widget
            widget.setObjectName(field)
        for name in ("currentIndexChanged", "valueChanged", "textChanged", "toggled"):
            signal = getattr(widget, name, None)
            if signal is not None and not (name == "toggled" and not isinstance(widget, QCheckBox)):
                signal.connect(self._on_field_edited)
                break
        return widget

    def _row(self, form: QFormLayout, label: str, widget: QWidget, live: bool = False,
             editor: QWidget | None = None) -> None:
        text = QLabel(label + (LIVE_MARK if live else ""))
        text.setToolTip(self._help.get(editor or widget, ""))
        text.setBuddy(editor or widget)
        self._labels.append(text)
        form.addRow(text, widget)

    def _build_presets(self) -> QGroupBox:
        box, form = self._group("Presets")
        self._preset = ChoiceCombo([(None, "Choose a preset…")] + [(name, name) for name in PRESETS])
        self._preset.setObjectName("preset")
        self._preset.setToolTip("Load a complete set of settings; starts a new run")
        self._preset.activated.connect(self._on_preset_activated)  # user picks, even the shown one
        form.addRow(self._preset)
        return box

    def _build_data(self) -> QGroupBox:
        box, form = self._group("Data")
        self._dataset = self._setting("dataset")
        self._setting_row(form, "dataset", self._dataset)
        self._path = self._setting("data_path")
        self._path.setPlaceholderText("path of a .csv or .npz")
        self._path.returnPressed.connect(self._on_apply_clicked)
        self._browse = self._input(QToolButton(), None, "Choose a .csv or .npz data file")
        self._browse.setText("Browse…")
        self._browse.setObjectName("browse")
        self._browse.clicked.connect(self._on_browse_clicked)
        self._setting_row(form, "data_path", hbox(self._path, self._browse), editor=self._path)
        for name in ("n_samples", "noise", "test_fraction"):
            widget = self._setting(name)
            setattr(self, "_" + name, widget)
            self._setting_row(form, name, widget)
        return box

    def _build_network(self) -> QGroupBox:
        box, form = self._group("Network")
        self._architecture = self._declare(form, "architecture")
        self._conv_channels = self._setting("conv_channels")
        self._conv_channels.setPlaceholderText("e.g. 8, 16")
        self._conv_channels.returnPressed.connect(self._on_apply_clicked)
        self._setting_row(form, "conv_channels", self._conv_channels)
        self._declare(form, "conv_kernel")
        self._declare(form, "conv_pool")
        self._hidden = self._setting("hidden")
        self._hidden.setPlaceholderText("e.g. 100, 100, 100")
        self._hidden.returnPressed.connect(self._on_apply_clicked)
        self._setting_row(form, "hidden", self._hidden)
        self._activation = self._setting("activation")
        self._setting_row(form, "activation", self._activation)
        self._leaky = self._setting("leaky_slope")
        self._setting_row(form, "leaky_slope", self._leaky)
        self._bn_mode = self._input(ChoiceCombo(BN_MODES), None,
                                    "Which hidden layers get batch normalization (or the "
                                    "normalization chosen below)" + RESET)
        self._bn_mode.setObjectName("batchnorm_mode")
        self._row(form, "Batch norm", self._bn_mode)
        self._bn_flags = self._setting("batchnorm")
        self._bn_flags.setPlaceholderText("e.g. on, on, off")
        self._bn_flags.returnPressed.connect(self._on_apply_clicked)
        self._setting_row(form, "batchnorm", self._bn_flags)
        self._norm = self._declare(form, "norm")
        self._placement = self._setting("bn_placement")
        self._setting_row(form, "bn_placement", self._placement)
        self._keep_bias = self._setting("keep_bias")
        self._setting_row(form, "keep_bias", self._keep_bias)
        form.addRow(hint_label("Redundant (β does its job); for demonstration"))
        self._init = self._setting("init")
        self._setting_row(form, "init", self._init)
        self._init_std = self._setting("init_std")
        self._setting_row(form, "init_std", self._init_std)
        return box

    def _build_batchnorm(self) -> QGroupBox:
        box, form = self._group("Batch norm")
        self._bn_momentum = self._setting("bn_momentum")
        self._cumulative = self._input(QCheckBox("cumulative"), None,
                                       "Average all batches equally (PyTorch momentum=None)" + LIVE)
        self._cumulative.setObjectName("bn_momentum_cumulative")
        self._setting_row(form, "bn_momentum", hbox(self._bn_momentum, self._cumulative),
                          editor=self._bn_momentum)
        self._momentum_note = hint_label("")
        form.addRow(self._momentum_note)
        self._bn_eps = self._setting("bn_eps")
        self._setting_row(form, "bn_eps", self._bn_eps)
        self._unbiased = self._setting("unbiased_running_var")
        self._setting_row(form, "unbiased_running_var", self._unbiased)
        form.addRow(hint_label("On: PyTorch (× n/(n−1)); off: Keras / Flax"))
        return box

    def _build_normalization(self) -> QGroupBox:
        """The settings of the other normalizations (the schema's, built by
        _build_declared); only the chosen one's rows are shown."""
        box, self._form_norm = self._group("Normalization")
        self._norm_box = box
        return box

    def _build_optimisation(self) -> QGroupBox:
        box, form = self._group("Optimisation")
        self._form_opt = form
        names = {"optimizer": "_optimizer", "lr": "_lr", "batch_size": "_batch_size",
                 "sgd_momentum": "_sgd_momentum", "rmsprop_rho": "_rho", "adam_beta1": "_beta1",
                 "adam_beta2": "_beta2", "opt_eps": "_opt_eps"}
        for name, attribute in names.items():
            widget = self._setting(name)
            setattr(self, attribute, widget)
            self._setting_row(form, name, widget)
        return box

    def _build_meters(self) -> QGroupBox:
        """Santurkar et al.'s meters: their editors come from the schema (``_build_declared``)."""
        box, _form = self._group("Meters")
        return box

    def _build_reproducibility(self) -> QGroupBox:
        box, form = self._group("Reproducibility")
        self._seed = self._setting("seed")
        self._random_seed = self._input(QToolButton(), None, "Pick a random seed" + RESET)
        self._random_seed.setText("Random")
        self._random_seed.setObjectName("random_seed")
        self._random_seed.clicked.connect(lambda: self._seed.setValue(random.randrange(2**32)))
        self._setting_row(form, "seed", hbox(self._seed, self._random_seed), editor=self._seed)
        self._dtype = self._setting("dtype")
        self._setting_row(form, "dtype", self._dtype)
        return box

    def _build_buttons(self) -> QWidget:
        bar = QWidget()
        column = QVBoxLayout(bar)
        column.setContentsMargins(6, 4, 6, 6)
        self._note = hint_label("")
        self._note.setObjectName("config_note")
        column.addWidget(self._note)
        line = QHBoxLayout()
        self._revert = QPushButton("Revert")
        self._revert.setObjectName("revert")
        self._revert.setToolTip("Show the settings of the current run again, dropping your edits")
        self._revert.clicked.connect(self._on_revert_clicked)
        self._apply = QPushButton("Apply and reset")
        self._apply.setObjectName("apply")
        self._apply.setToolTip("Start a new run with these settings (the current run is reset)")
        self._apply.clicked.connect(self._on_apply_clicked)
        line.addWidget(self._revert)
        line.addStretch(1)
        line.addWidget(self._apply)
        column.addLayout(line)
        return bar
