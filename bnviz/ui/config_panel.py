"""ConfigPanel: a form for every RunConfig field, validated on every edit.

Live settings (trainer.LIVE_FIELDS: lr, the optimizer's knobs, bn_momentum)
are emitted as soon as they are valid; everything else waits for "Apply and
reset". An invalid value is marked at its field (red border, tooltip) and in
a message at the top; invalid configs are never emitted.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QFrame, QGroupBox, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QScrollArea, QToolButton, QVBoxLayout,
                               QWidget)

from bnviz.engine.config import PRESETS, TOY_DATASETS, ConfigError, RunConfig, preset
from bnviz.engine.trainer import LIVE_FIELDS

from .config_fields import (ACTIVATION_CHOICES, BN_MODES, DATASET_CHOICES, DTYPE_CHOICES, FIELD_ORDER,
                            INIT_CHOICES, LIVE, LIVE_MARK, OPTIMIZER_CHOICES, PLACEMENT_CHOICES, RESET,
                            STYLE, ChoiceCombo, IntSpinBox, NumberSpinBox, check_values, format_flags,
                            format_hidden, hbox, hint_label, momentum_note, parse_flags, parse_hidden,
                            set_invalid, set_tooltip)


class ConfigPanel(QWidget):
    """Edit a RunConfig. Signals carry fresh, valid RunConfig objects."""

    live_changed = Signal(object)      # live-only differences; already applied here
    apply_requested = Signal(object)   # "Apply and reset" pressed with a valid config
    preset_chosen = Signal(object)     # preset(name) picked in the combo
    edited = Signal()                  # any field edited (the config may be invalid)

    def __init__(self, config: RunConfig | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._applied = (config or RunConfig()).replace()
        self._editors: dict[str, QWidget] = {}   # field -> the widget marked when it is invalid
        self._help: dict[QWidget, str] = {}      # widget -> its plain tooltip
        self._errors: dict[str, str] = {}
        self._labels: list[QLabel] = []
        self.setStyleSheet(STYLE)
        self._build()
        self.set_config(self._applied)

    # ================================================================ public
    def set_config(self, cfg: RunConfig) -> None:
        """Show ``cfg`` (a valid config) and make it the applied one; emits nothing."""
        cfg = cfg.replace()
        self._applied = cfg
        with self._signals_blocked():
            self._dataset.set_value(cfg.dataset)
            self._path.setText(cfg.data_path)
            self._n_samples.setValue(cfg.n_samples)
            self._noise.setValue(cfg.noise)
            self._test_fraction.setValue(cfg.test_fraction)
            self._hidden.setText(format_hidden(cfg.hidden))
            self._activation.set_value(cfg.activation)
            self._leaky.setValue(cfg.leaky_slope)
            if isinstance(cfg.batchnorm, bool):
                self._bn_mode.set_value("all" if cfg.batchnorm else "none")
            else:
                self._bn_mode.set_value("per_layer")
            self._bn_flags.setText(format_flags(cfg.bn_layers()))
            self._placement.set_value(cfg.bn_placement)
            self._keep_bias.setChecked(cfg.keep_bias)
            self._init.set_value(cfg.init)
            self._init_std.setValue(cfg.init_std)
            self._cumulative.setChecked(cfg.bn_momentum is None)
            if cfg.bn_momentum is not None:
                self._bn_momentum.setValue(cfg.bn_momentum)
            self._bn_eps.setValue(cfg.bn_eps)
            self._unbiased.setChecked(cfg.unbiased_running_var)
            self._optimizer.set_value(cfg.optimizer)
            self._lr.setValue(cfg.lr)
            self._batch_size.setValue(cfg.batch_size)
            self._sgd_momentum.setValue(cfg.sgd_momentum)
            self._rho.setValue(cfg.rmsprop_rho)
            self._beta1.setValue(cfg.adam_beta1)
            self._beta2.setValue(cfg.adam_beta2)
            self._opt_eps.setValue(cfg.opt_eps)
            self._seed.setValue(cfg.seed)
            self._dtype.set_value(cfg.dtype)
        self._refresh(emit=False)

    def config(self) -> RunConfig:
        """The config the widgets show; may be invalid (text that does not
        parse is passed on as text, so validate() names its field)."""
        return RunConfig(**self._read()[0])

    def applied_config(self) -> RunConfig:
        """The config the run uses: the last one set, applied or changed live."""
        return self._applied.replace()

    def editor(self, field: str) -> QWidget:
        """The widget that edits (and is marked for) a RunConfig field."""
        return self._editors[field]

    def errors(self) -> dict[str, str]:
        """{field: message} for every field now marked invalid."""
        return dict(self._errors)

    # ================================================================ build
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self._message = QLabel()
        self._message.setObjectName("config_message")
        self._message.setWordWrap(True)
        self._message.setContentsMargins(6, 4, 6, 4)
        self._message.hide()
        outer.addWidget(self._message)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(4, 4, 4, 4)
        for build in (self._build_presets, self._build_data, self._build_network, self._build_batchnorm,
                      self._build_optimisation, self._build_reproducibility):
            column.addWidget(build())
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        outer.addWidget(scroll, 1)
        outer.addWidget(self._build_buttons())
        # One label column across all groups reads better than six ragged ones.
        width = max(label.sizeHint().width() for label in self._labels)
        for label in self._labels:
            label.setMinimumWidth(width)

    def _group(self, title: str) -> tuple[QGroupBox, QFormLayout]:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.DontWrapRows)
        form.setContentsMargins(6, 6, 6, 6)
        return box, form

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
        self._dataset = self._input(ChoiceCombo(DATASET_CHOICES), "dataset",
                                    "Data set: 2-D toys, sklearn's 8×8 digits, or your own file")
        self._row(form, "Data set", self._dataset)
        self._path = self._input(QLineEdit(), "data_path",
                                 "A .csv (one label column) or .npz file; used for data set 'File'")
        self._path.setPlaceholderText("path of a .csv or .npz")
        self._path.returnPressed.connect(self._on_apply_clicked)
        self._browse = self._input(QToolButton(), None, "Choose a .csv or .npz data file")
        self._browse.setText("Browse…")
        self._browse.setObjectName("browse")
        self._browse.clicked.connect(self._on_browse_clicked)
        self._row(form, "File", hbox(self._path, self._browse), editor=self._path)
        self._n_samples = self._input(IntSpinBox(20, 1_000_000, 100), "n_samples",
                                      "Number of points in a toy data set (train + test)")
        self._row(form, "Samples", self._n_samples)
        self._noise = self._input(NumberSpinBox(0.0, 5.0, single_step=0.05), "noise",
                                  "Noise added to a toy data set, 0 to 5")
        self._row(form, "Noise", self._noise)
        self._test_fraction = self._input(NumberSpinBox(0.05, 0.9, single_step=0.05), "test_fraction",
                                          "Share of the examples held out for testing, 0.05 to 0.9 "
                                          "(a file with its own x_test keeps its split)")
        self._row(form, "Test share", self._test_fraction)
        return box

    def _build_network(self) -> QGroupBox:
        box, form = self._group("Network")
        self._hidden = self._input(QLineEdit(), "hidden",
                                   "Widths of the hidden layers, comma-separated, e.g. 100, 100, 100")
        self._hidden.setPlaceholderText("e.g. 100, 100, 100")
        self._hidden.returnPressed.connect(self._on_apply_clicked)
        self._row(form, "Hidden", self._hidden)
        self._activation = self._input(ChoiceCombo(ACTIVATION_CHOICES), "activation",
                                       "Nonlinearity after every hidden layer")
        self._row(form, "Activation", self._activation)
        self._leaky = self._input(NumberSpinBox(0.0, 1.0, step="log", floor=1e-4), "leaky_slope",
                                  "Slope of leaky ReLU for negative inputs, 0 to 1")
        self._row(form, "Leak slope", self._leaky)
        self._bn_mode = self._input(ChoiceCombo(BN_MODES), None,
                                    "Which hidden layers get batch normalization" + RESET)
        self._bn_mode.setObjectName("batchnorm_mode")
        self._row(form, "Batch norm", self._bn_mode)
        self._bn_flags = self._input(QLineEdit(), "batchnorm",
                                     "One on/off per hidden layer, e.g. on, on, off")
        self._bn_flags.setPlaceholderText("e.g. on, on, off")
        self._bn_flags.returnPressed.connect(self._on_apply_clicked)
        self._row(form, "BN per layer", self._bn_flags)
        self._placement = self._input(ChoiceCombo(PLACEMENT_CHOICES), "bn_placement",
                                      "Normalize the pre-activation (paper) or the activation's output")
        self._row(form, "BN placement", self._placement)
        self._keep_bias = self._input(QCheckBox("Keep bias under BN"), "keep_bias",
                                      "Keep the bias b of a layer followed by BN; redundant, since "
                                      "BN subtracts the mean and β shifts instead")
        form.addRow(self._keep_bias)
        form.addRow(hint_label("Redundant (β does its job); for demonstration"))
        self._init = self._input(ChoiceCombo(INIT_CHOICES), "init", "Initialisation of the weights")
        self._row(form, "Init", self._init)
        self._init_std = self._input(NumberSpinBox(0.0, 10.0, step="log"), "init_std",
                                     "Standard deviation of the Gaussian initial weights, 1e-6 to 10")
        self._row(form, "Init std", self._init_std)
        return box

    def _build_batchnorm(self) -> QGroupBox:
        box, form = self._group("Batch norm")
        self._bn_momentum = self._input(NumberSpinBox(0.0, 1.0, step="log", floor=1e-4), "bn_momentum",
                                        "Running statistics: weight of the new batch (PyTorch "
                                        "convention), in (0, 1]", live=True)
        self._cumulative = self._input(QCheckBox("cumulative"), None,
                                       "Average all batches equally (PyTorch momentum=None)" + LIVE)
        self._cumulative.setObjectName("bn_momentum_cumulative")
        self._row(form, "Momentum", hbox(self._bn_momentum, self._cumulative), live=True,
                  editor=self._bn_momentum)
        self._momentum_note = hint_label("")
        form.addRow(self._momentum_note)
        self._bn_eps = self._input(NumberSpinBox(0.0, 1.0, step="log", floor=1e-12), "bn_eps",
                                   "ε added to the batch variance before the square root, 1e-12 to 1")
        self._row(form, "ε", self._bn_eps)
        self._unbiased = self._input(QCheckBox("Unbiased running variance"), "unbiased_running_var",
                                     "Store unbiased running variance (PyTorch); off = Keras/Flax")
        form.addRow(self._unbiased)
        form.addRow(hint_label("On: PyTorch (× n/(n−1)); off: Keras / Flax"))
        return box

    def _build_optimisation(self) -> QGroupBox:
        box, form = self._group("Optimisation")
        self._form_opt = form
        self._optimizer = self._input(ChoiceCombo(OPTIMIZER_CHOICES), "optimizer", "Update rule")
        self._row(form, "Optimizer", self._optimizer)
        self._lr = self._input(NumberSpinBox(0.0, 100.0, step="log", single_step=0.01), "lr",
                               "Learning rate: step size of every update, in (0, 100]", live=True)
        self._row(form, "Learning rate", self._lr, live=True)
        self._batch_size = self._input(IntSpinBox(1, 1_000_000), "batch_size",
                                       "Examples per mini-batch, at least 2 (full-batch GD uses all)")
        self._row(form, "Batch size", self._batch_size)
        self._sgd_momentum = self._input(NumberSpinBox(0.0, 1.0, step="log1m"), "sgd_momentum",
                                         "Momentum μ: v = μ·v + g, in [0, 1)", live=True)
        self._row(form, "Momentum μ", self._sgd_momentum, live=True)
        self._rho = self._input(NumberSpinBox(0.0, 1.0, step="log1m"), "rmsprop_rho",
                                "RMSProp decay ρ of the squared-gradient average, in [0, 1)", live=True)
        self._row(form, "Decay ρ", self._rho, live=True)
        self._beta1 = self._input(NumberSpinBox(0.0, 1.0, step="log1m"), "adam_beta1",
                                  "Adam β₁: decay of the gradient average, in [0, 1)", live=True)
        self._row(form, "β₁", self._beta1, live=True)
        self._beta2 = self._input(NumberSpinBox(0.0, 1.0, step="log1m"), "adam_beta2",
                                  "Adam β₂: decay of the squared-gradient average, in [0, 1)", live=True)
        self._row(form, "β₂", self._beta2, live=True)
        self._opt_eps = self._input(NumberSpinBox(0.0, 1.0, step="log", floor=1e-12), "opt_eps",
                                    "ε in the optimizer's denominator, in (0, 1]", live=True)
        self._row(form, "Optimizer ε", self._opt_eps, live=True)
        return box

    def _build_reproducibility(self) -> QGroupBox:
        box, form = self._group("Reproducibility")
        self._seed = self._input(NumberSpinBox(0, 2**32 - 1, integer=True), "seed",
                                 "Random seed for data, weights and batch order, 0 to 4294967295")
        self._random_seed = self._input(QToolButton(), None, "Pick a random seed" + RESET)
        self._random_seed.setText("Random")
        self._random_seed.setObjectName("random_seed")
        self._random_seed.clicked.connect(lambda: self._seed.setValue(random.randrange(2**32)))
        self._row(form, "Seed", hbox(self._seed, self._random_seed), editor=self._seed)
        self._dtype = self._input(ChoiceCombo(DTYPE_CHOICES), "dtype",
                                  "Floating-point precision of the network: float32 is faster")
        self._row(form, "Precision", self._dtype)
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

    # ============================================================= reading
    def _read(self) -> tuple[dict, dict[str, str]]:
        """(values for RunConfig, {field: message} for text that did not parse)."""
        errors: dict[str, str] = {}

        def parsed(field, parse, text):
            try:
                return parse(text)
            except ConfigError as exc:
                errors[field] = exc.message
                return text

        mode = self._bn_mode.value()
        batchnorm = {"all": True, "none": False}.get(mode)
        if batchnorm is None:
            batchnorm = parsed("batchnorm", parse_flags, self._bn_flags.text())
        values = dict(
            dataset=self._dataset.value(), data_path=self._path.text(),
            n_samples=self._n_samples.value(), noise=self._noise.value(),
            test_fraction=self._test_fraction.value(),
            hidden=parsed("hidden", parse_hidden, self._hidden.text()),
            activation=self._activation.value(), leaky_slope=self._leaky.value(), batchnorm=batchnorm,
            bn_placement=self._placement.value(), keep_bias=self._keep_bias.isChecked(),
            init=self._init.value(), init_std=self._init_std.value(),
            bn_momentum=None if self._cumulative.isChecked() else self._bn_momentum.value(),
            bn_eps=self._bn_eps.value(), unbiased_running_var=self._unbiased.isChecked(),
            optimizer=self._optimizer.value(), lr=self._lr.value(), batch_size=self._batch_size.value(),
            sgd_momentum=self._sgd_momentum.value(), rmsprop_rho=self._rho.value(),
            adam_beta1=self._beta1.value(), adam_beta2=self._beta2.value(), opt_eps=self._opt_eps.value(),
            seed=int(self._seed.value()), dtype=self._dtype.value())
        # Settings without an editor here (the test-time lab's) keep their applied value.
        values.update({f: getattr(self._applied, f) for f in FIELD_ORDER if f not in values})
        return values, errors

    def _check(self) -> tuple[dict, dict[str, str]]:
        values, errors = self._read()
        return values, check_values(values, errors)

    # ============================================================ refresh
    def _on_field_edited(self, *_args) -> None:
        self._refresh(emit=True)
        self.edited.emit()

    def _refresh(self, emit: bool) -> None:
        values, errors = self._check()
        if emit:
            self._apply_live(values, errors)
        self._show_errors(errors)
        self._update_enabled(values, errors)
        self._momentum_note.setText(momentum_note(values["bn_momentum"]))
        current = RunConfig(**values)
        pending = [f for f in FIELD_ORDER if f not in LIVE_FIELDS
                   and getattr(current, f) != getattr(self._applied, f)]
        self._apply.setEnabled(bool(pending) and not errors)
        self._revert.setEnabled(bool(errors) or current != self._applied)
        if errors:
            note = "Fix the marked fields to apply."
        elif pending:
            note = f"Pending: {', '.join(pending)}."
        else:
            note = ""
        self._note.setText((note + "\n" if note else "") + "Changes to the network or data reset the run; "
                           + LIVE_MARK.strip() + " applies live.")
        self._sync_preset(None if errors else current)

    def _apply_live(self, values: dict, errors: dict[str, str]) -> None:
        """Apply valid live edits now, even while other edits are pending."""
        changes = {f: values[f] for f in LIVE_FIELDS if f not in errors}
        candidate = self._applied.replace(**changes)
        if candidate == self._applied:
            return
        try:
            candidate.validate()
        except ConfigError:
            return
        self._applied = candidate
        self.live_changed.emit(candidate.replace())

    def _show_errors(self, errors: dict[str, str]) -> None:
        self._errors = errors
        for field, widget in self._editors.items():
            message = errors.get(field)
            set_invalid(widget, f"{field}: {message}" if message else None, self._help[widget])
        self._message.setText("\n".join(f"⚠ {f}: {m}" for f, m in errors.items()))
        self._message.setVisible(bool(errors))

    def _update_enabled(self, values: dict, errors: dict[str, str]) -> None:
        dataset = values["dataset"]
        for widget in (self._path, self._browse):
            widget.setEnabled(dataset == "file")
        for widget in (self._n_samples, self._noise):
            widget.setEnabled(dataset in TOY_DATASETS)
        self._leaky.setEnabled(values["activation"] == "leaky_relu")
        self._bn_flags.setEnabled(self._bn_mode.value() == "per_layer")
        bn = values["batchnorm"]
        any_bn = bn if isinstance(bn, bool) else (not isinstance(bn, tuple) or any(bn))
        for widget in (self._placement, self._keep_bias, self._cumulative, self._bn_eps, self._unbiased):
            widget.setEnabled(any_bn)
        self._bn_momentum.setEnabled(any_bn and not self._cumulative.isChecked())
        self._init_std.setEnabled(values["init"] == "gaussian")
        optimizer = values["optimizer"]
        self._batch_size.setEnabled(optimizer != "gd")
        used = {"sgd_momentum": optimizer == "momentum", "rmsprop_rho": optimizer == "rmsprop",
                "adam_beta1": optimizer == "adam", "adam_beta2": optimizer == "adam",
                "opt_eps": optimizer in ("rmsprop", "adam")}
        for field, relevant in used.items():
            widget = self._editors[field]
            widget.setEnabled(relevant)
            # A bad value stays visible so its mark can be seen and fixed.
            self._form_opt.setRowVisible(widget, relevant or field in errors)

    def _sync_preset(self, current: RunConfig | None) -> None:
        name = next((n for n, p in PRESETS.items() if p == current), None)
        self._preset.blockSignals(True)
        self._preset.setCurrentIndex(self._preset.findData(name) if name else 0)
        self._preset.blockSignals(False)

    @contextmanager
    def _signals_blocked(self):
        widgets = list(self._help)
        previous = [w.blockSignals(True) for w in widgets]
        try:
            yield
        finally:
            for widget, was in zip(widgets, previous):
                widget.blockSignals(was)

    # ============================================================ handlers
    def _on_preset_activated(self, index: int) -> None:
        name = self._preset.itemData(index)
        if name:
            self.preset_chosen.emit(preset(name))
            # Show what the form holds: the preset if the window loaded it.
            self._sync_preset(None if self._errors else self.config())

    def _on_apply_clicked(self) -> None:
        if not self._apply.isEnabled():
            return
        values, errors = self._check()
        if errors:
            return
        cfg = RunConfig(**values).validate()
        self._applied = cfg.replace()
        self._refresh(emit=False)
        self.apply_requested.emit(cfg)

    def _on_revert_clicked(self) -> None:
        self.set_config(self._applied)

    def _on_browse_clicked(self) -> None:
        start = str(Path(self._path.text()).parent) if self._path.text() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open a data file", start,
                                              "Data files (*.csv *.npz);;All files (*)")
        if path:
            self._path.setText(path)
