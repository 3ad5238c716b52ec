"""ConfigPanel: a form for every RunConfig field, validated on every edit.

Live settings (settings.LIVE_FIELDS: lr, the optimizer's knobs, bn_momentum)
are emitted as soon as they are valid; everything else waits for "Apply and
reset". An invalid value is marked at its field (red border, tooltip) and in
a message at the top; invalid configs are never emitted.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFileDialog, QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from bnviz.engine.config import PRESETS, ConfigError, RunConfig, preset
from bnviz.engine.settings import (BY_NAME, CONV_SETTINGS, LIVE_FIELDS, NORM_SETTINGS, RUNNING_STAT_NORMS,
                                   TOY_DATASETS, label)

from .config_fields import (FIELD_ORDER, LIVE_MARK, STYLE, check_values, format_flags,
                            format_hidden, momentum_note, parse_flags, parse_hidden, set_invalid)
from .config_form import ConfigForm


def show_value(widget, value) -> None:
    """Show a setting's value in the editor the schema made for it: a
    choice's ``set_value``, a spin box's ``setValue``, a check box's ``setChecked``."""
    if isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif hasattr(widget, "set_value"):
        widget.set_value(value)
    else:
        widget.setValue(value)


def read_value(widget):
    return widget.isChecked() if isinstance(widget, QCheckBox) else widget.value()


class FormScroll(QScrollArea):
    """Scrolls vertically only, and is never narrower than its widest row
    (asked again whenever a row changes), so nothing is clipped; long notes
    wrap instead."""

    def setWidget(self, widget) -> None:   # noqa: N802 - Qt's name
        super().setWidget(widget)
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:   # noqa: N802
        # A scroll area does not pass its content's new size on: do it, so
        # the column widens when a row does (a longer value, a shown row).
        if watched is self.widget() and event.type() == QEvent.LayoutRequest:
            self.updateGeometry()
        return super().eventFilter(watched, event)

    def minimumSizeHint(self):   # noqa: N802 - Qt's name
        hint = super().minimumSizeHint()
        content = self.widget()
        if content is not None:
            hint.setWidth(content.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
                          + 2 * self.frameWidth())
        return hint


class ConfigPanel(ConfigForm, QWidget):
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
            self._conv_channels.setText(format_hidden(cfg.conv_channels))
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
            for name, widget in self._declared.items():
                show_value(widget, getattr(cfg, name))
        self._refresh(emit=False)

    def set_owner(self, label: str, editable: bool = True) -> None:
        """Say whose settings these are (compare mode: "A: with BN"); another
        run's are shown to read, not to edit."""
        if not label:
            self._owner.hide()
        elif editable:
            self._owner.setText(f"Settings of run <b>{label}</b>; edits here apply to run A, and "
                                "the other runs keep their differences from it.")
        else:
            self._owner.setText(f"Settings of run <b>{label}</b>, to read: this run follows run A's "
                                "settings and its own differences (Run › Compare with… changes "
                                "them). Show run A to edit.")
        self._owner.setVisible(bool(label))
        self._content.setEnabled(editable)
        self._buttons.setEnabled(editable)

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

    def field_label(self, field: str) -> str:
        """The name a user reads for RunConfig field ``field`` (its row's label)."""
        return label(field)

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
        self._owner = QLabel()
        self._owner.setObjectName("config_owner")
        self._owner.setWordWrap(True)
        self._owner.setContentsMargins(6, 4, 6, 4)
        self._owner.setStyleSheet("background: #eef3fa; border-bottom: 1px solid #c6d4e8;")
        self._owner.hide()
        outer.addWidget(self._owner)
        outer.addWidget(self._message)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(4, 4, 4, 4)
        for build in (self._build_presets, self._build_data, self._build_network, self._build_batchnorm,
                      self._build_normalization, self._build_optimisation, self._build_meters,
                      self._build_reproducibility):
            column.addWidget(build())
        self._build_declared()
        column.addStretch(1)
        scroll = FormScroll()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        outer.addWidget(scroll, 1)
        self._buttons = self._build_buttons()
        outer.addWidget(self._buttons)
        self._content = content
        # One label column across all groups reads better than six ragged ones.
        width = max(row.sizeHint().width() for row in self._labels)
        for row in self._labels:
            row.setMinimumWidth(width)


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
            conv_channels=parsed("conv_channels", lambda t: parse_hidden(t, "conv_channels"),
                                 self._conv_channels.text()),
            activation=self._activation.value(), leaky_slope=self._leaky.value(), batchnorm=batchnorm,
            bn_placement=self._placement.value(), keep_bias=self._keep_bias.isChecked(),
            init=self._init.value(), init_std=self._init_std.value(),
            bn_momentum=None if self._cumulative.isChecked() else self._bn_momentum.value(),
            bn_eps=self._bn_eps.value(), unbiased_running_var=self._unbiased.isChecked(),
            optimizer=self._optimizer.value(), lr=self._lr.value(), batch_size=self._batch_size.value(),
            sgd_momentum=self._sgd_momentum.value(), rmsprop_rho=self._rho.value(),
            adam_beta1=self._beta1.value(), adam_beta2=self._beta2.value(), opt_eps=self._opt_eps.value(),
            seed=int(self._seed.value()), dtype=self._dtype.value(),
            **{name: read_value(widget) for name, widget in self._declared.items()})
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
            note = f"Not applied yet: {', '.join(self.field_label(f) for f in pending)}."
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
            set_invalid(widget, f"{self.field_label(field)}: {message}" if message else None,
                        self._help[widget])
        self._message.setText("\n".join(f"⚠ {self.field_label(f)}: {m}" for f, m in errors.items()))
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
        norm = values["norm"]
        running = any_bn and norm in RUNNING_STAT_NORMS
        in_bn_group = [w for name, w in self._declared.items() if BY_NAME[name].group == "Batch norm"]
        for widget in (self._placement, self._norm, self._bn_eps):
            widget.setEnabled(any_bn)
        # Running statistics and the probe's statistics: BN and its variants only.
        for widget in (self._cumulative, self._unbiased, *in_bn_group):
            widget.setEnabled(running)
        self._keep_bias.setEnabled(running)   # LayerNorm and GroupNorm keep the bias anyway
        self._unbiased.setEnabled(running and norm != "renorm")   # Renorm averages σ, as the paper
        self._bn_momentum.setEnabled(running and not self._cumulative.isChecked())
        shown = NORM_SETTINGS.get(norm, ()) if any_bn else ()
        # A bad value stays visible so its mark can be seen and fixed.
        visible = [n for n in self._form_norm_names() if n in shown or n in errors]
        for name in self._form_norm_names():
            self._form_norm.setRowVisible(self._declared[name], name in visible)
        self._norm_box.setVisible(bool(visible))
        self._init_std.setEnabled(values["init"] == "gaussian")
        self._declared["meter_every"].setEnabled(bool(values["meters"]))
        cnn = values["architecture"] == "cnn"
        for name in CONV_SETTINGS:   # a bad value stays visible so its mark can be seen and fixed
            self._forms["Network"].setRowVisible(self._editors[name], cnn or name in errors)
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

    def _form_norm_names(self) -> tuple[str, ...]:
        return tuple(n for names in NORM_SETTINGS.values() for n in names)

    def _sync_preset(self, current: RunConfig | None) -> None:
        # A preset for the user's own file matches with any file chosen.
        name = next((n for n, p in PRESETS.items() if current is not None and p == (
            current.replace(data_path="") if p.dataset == "file" == current.dataset else current)), None)
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
            cfg = preset(name)
            if cfg.dataset == "file" and not cfg.data_path:
                # A preset for the user's own file (MNIST): the file in the form, else ask for one.
                path = self._path.text() if self._dataset.value() == "file" else ""
                path = path or self._ask_data_file(f"Open a data file for “{name}”")
                if not path:
                    self._sync_preset(None if self._errors else self.config())
                    return
                cfg = cfg.replace(data_path=path)
            self.preset_chosen.emit(cfg)
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
        path = self._ask_data_file("Open a data file")
        if path:
            self._path.setText(path)

    def _ask_data_file(self, title: str) -> str:
        start = str(Path(self._path.text()).parent) if self._path.text() else ""
        path, _ = QFileDialog.getOpenFileName(self, title, start, "Data files (*.csv *.npz);;All files (*)")
        return path
