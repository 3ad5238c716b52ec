"""The configuration panel's form: one group box per topic, one editor per
RunConfig field (a mixin of ConfigPanel, which validates and emits)."""
from __future__ import annotations

import random

from PySide6.QtWidgets import (QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QToolButton, QVBoxLayout, QWidget)

from bnviz.engine.config import PRESETS, RunConfig
from bnviz.engine.trainer import LIVE_FIELDS

from .config_fields import (ACTIVATION_CHOICES, BN_MODES, DATASET_CHOICES, DTYPE_CHOICES,
                            INIT_CHOICES, LIVE, LIVE_MARK, OPTIMIZER_CHOICES, PLACEMENT_CHOICES,
                            RESET, ChoiceCombo, IntSpinBox, NumberSpinBox, hbox, hint_label,
                            set_tooltip)


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
        """An editor for each field that declares itself in RunConfig's
        metadata (label, tooltip, group, choices), at the end of its group."""
        self._declared = {}
        for f in RunConfig.declared_fields():
            meta = f.metadata
            live = f.name in LIVE_FIELDS
            widget = self._input(ChoiceCombo(meta["choices"]), f.name, meta["tooltip"], live=live)
            self._declared[f.name] = widget
            self._row(self._forms[meta["group"]], meta["label"], widget, live=live)

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
        field = (editor or widget).objectName()
        if field:   # a message names the setting as its row does
            self.__dict__.setdefault("_field_labels", {})[field] = label
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
        self._optimizer = self._input(ChoiceCombo(OPTIMIZER_CHOICES), "optimizer",
                                      "Update rule, in the form of PyTorch's torch.optim unless Formulas "
                                      "says Keras; Keras's Adam and RMSprop place ε differently "
                                      "(see Optimizer ε)")
        self._row(form, "Optimizer", self._optimizer)
        self._lr = self._input(NumberSpinBox(0.0, 100.0, step="log", single_step=0.01), "lr",
                               "Learning rate: step size of every update, in (0, 100]", live=True)
        self._row(form, "Learning rate", self._lr, live=True)
        self._batch_size = self._input(IntSpinBox(1, 1_000_000), "batch_size",
                                       "Examples per mini-batch, at least 2 (full-batch GD uses all)")
        self._row(form, "Batch size", self._batch_size)
        self._sgd_momentum = self._input(NumberSpinBox(0.0, 1.0, step="log1m"), "sgd_momentum",
                                         "Momentum μ: v = μ·v + g, w −= lr·v (PyTorch's form; Keras's "
                                         "v = μ·v − lr·g, w += v is the same at a constant rate), "
                                         "in [0, 1)",
                                         live=True)
        self._row(form, "Momentum μ", self._sgd_momentum, live=True)
        self._rho = self._input(NumberSpinBox(0.0, 1.0, step="log1m"), "rmsprop_rho",
                                "RMSProp decay ρ of the squared-gradient average s = ρ·s + (1 − ρ)·g², "
                                "in [0, 1): PyTorch's alpha (default 0.99), Keras's rho "
                                "(default 0.9)", live=True)
        self._row(form, "Decay ρ", self._rho, live=True)
        self._beta1 = self._input(NumberSpinBox(0.0, 1.0, step="log1m"), "adam_beta1",
                                  "Adam β₁: decay of the gradient average, in [0, 1)", live=True)
        self._row(form, "β₁", self._beta1, live=True)
        self._beta2 = self._input(NumberSpinBox(0.0, 1.0, step="log1m"), "adam_beta2",
                                  "Adam β₂: decay of the squared-gradient average, in [0, 1)", live=True)
        self._row(form, "β₂", self._beta2, live=True)
        self._opt_eps = self._input(NumberSpinBox(0.0, 1.0, step="log", floor=1e-12), "opt_eps",
                                    "ε in the optimizer's denominator, in (0, 1]. PyTorch's formulas: "
                                    "Adam lr·m̂/(√v̂ + ε), RMSProp lr·g/(√s + ε) (default 1e-8). Keras's "
                                    "Adam adds ε to the uncorrected √v and corrects lr instead, so "
                                    "its ε acts 1/√(1 − β₂ᵗ) times larger early on; Keras's RMSprop "
                                    "divides by √(s + ε) (Keras's default 1e-7)", live=True)
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
