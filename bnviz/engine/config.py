"""RunConfig: every knob of a run in one serialisable, validated record.

Momentum convention: ``bn_momentum`` is PyTorch's, the weight of the *new*
batch in ``running = (1 - m) * running + m * batch``. The course's / CS231n's
``beta = 0.9`` equals ``m = 0.1``; Keras's ``momentum = 0.99`` equals
``m = 0.01``. ``None`` means a cumulative average (PyTorch ``momentum=None``).

Optimizer convention: the updates follow PyTorch's ``torch.optim`` formulas
(see ``optim``) unless ``optimizer_formulas = "keras"``. Keras differs: its
Adam adds ``eps`` to the uncorrected ``sqrt(v)`` and corrects the learning
rate instead, so its ``eps`` acts larger early on (by
``1 / sqrt(1 - beta2^t)``); its RMSprop divides by ``sqrt(s + eps)``.
RMSProp's decay ``rmsprop_rho`` is PyTorch's ``alpha`` (default 0.99) and
Keras's ``rho`` (default 0.9, bnviz's default too).
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .settings import BY_NAME, RUNNING_STAT_NORMS, SETTINGS, TOY_DATASETS

CUMULATIVE = "cumulative"  # how bn_momentum=None is spelled in TOML

MAX_TOML_CHARS = 1 << 20   # a config is a few hundred characters


class ConfigError(ValueError):
    """A config value is invalid; ``field`` names it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class RunConfig:
    """Everything that determines a run. Same config and seed -> same run."""

    # data
    dataset: str = "digits"
    data_path: str = ""          # for dataset == "file": a .csv or .npz
    n_samples: int = 600         # toy data sets only
    noise: float = 0.15          # toy data sets only
    test_fraction: float = 0.2
    # network
    architecture: str = "mlp"     # "mlp", or "cnn": convolution blocks before the hidden layers
    conv_channels: tuple[int, ...] = (8, 16)
    conv_kernel: int = 3
    conv_pool: str = "max"
    hidden: tuple[int, ...] = (100, 100, 100)
    activation: str = "sigmoid"
    leaky_slope: float = 0.01
    batchnorm: bool | tuple[bool, ...] = True   # one flag, or one per hidden layer
    norm: str = "batch"           # what the layers with BN on have: BN or another of the family
    bn_placement: str = "before"  # BN before the activation (paper) or after it
    keep_bias: bool = False       # keep b where BN follows the linear map
    init: str = "gaussian"
    init_std: float = 0.1         # standard deviation of the "gaussian" init
    # batch norm
    bn_momentum: float | None = 0.1
    bn_eps: float = 1e-5
    unbiased_running_var: bool = True
    # the other normalizations' settings
    gn_groups: int = 4
    renorm_rmax: float = 3.0
    renorm_dmax: float = 5.0
    renorm_warmup: int = 500
    renorm_ramp: int = 2000
    noise_scale: float = 0.5
    # optimisation
    optimizer: str = "sgd"
    lr: float = 0.1
    batch_size: int = 60
    sampler: str = "shuffle"      # or "two_classes": every mini-batch from two classes only
    sgd_momentum: float = 0.9
    rmsprop_rho: float = 0.9
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    opt_eps: float = 1e-8
    optimizer_formulas: str = "pytorch"
    # Santurkar et al.'s meters (``landscape``)
    meters: bool = False
    meter_every: int = 50
    # reproducibility
    seed: int = 0
    dtype: str = "float32"
    # test-time statistics
    eval_batch_size: int = 0      # k of the test mini-batches; 0 = the training batch size
    population_every: int = 0     # recompute population statistics at most every this many steps; 0 = every evaluation
    probe_statistics: str = "batch"

    def __post_init__(self):
        if isinstance(self.hidden, list):
            self.hidden = tuple(self.hidden)
        if isinstance(self.conv_channels, list):
            self.conv_channels = tuple(self.conv_channels)
        if isinstance(self.batchnorm, list):
            self.batchnorm = tuple(self.batchnorm)

    # ------------------------------------------------------------------ derived
    def is_cnn(self) -> bool:
        return self.architecture == "cnn"

    def layer_widths(self) -> tuple[int, ...]:
        """The width of every layer a normalization may follow, input side
        first: a CNN's convolution blocks (their channels), then the hidden
        layers. Per-layer flags, records and the history follow this order."""
        conv = self.conv_channels if self.is_cnn() else ()
        return tuple(conv) + tuple(self.hidden)

    def conv_count(self) -> int:
        """How many of ``layer_widths`` are convolution blocks."""
        return len(self.conv_channels) if self.is_cnn() else 0

    def bn_layers(self) -> tuple[bool, ...]:
        """One BN flag per layer of ``layer_widths``."""
        if isinstance(self.batchnorm, bool):
            return (self.batchnorm,) * len(self.layer_widths())
        return tuple(bool(b) for b in self.batchnorm)

    def norm_kinds(self) -> tuple[str | None, ...]:
        """Per hidden layer, its normalization (``norm``) or None."""
        return tuple(self.norm if on else None for on in self.bn_layers())

    def has_running_stats(self) -> bool:
        """Whether any layer keeps running statistics for test time (BN and its variants)."""
        return self.norm in RUNNING_STAT_NORMS and any(self.bn_layers())

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)

    # --------------------------------------------------------------- validation
    def validate(self) -> "RunConfig":
        """Raise ConfigError naming the first bad field; return self if valid.
        Each setting's rule is the schema's (settings.py); only the rules
        that tie two settings together are written here."""
        shaped = isinstance(self.hidden, tuple) and isinstance(self.conv_channels, tuple)
        widths = self.layer_widths() if shaped else None   # (a bad one is named in its turn)
        for setting in SETTINGS:
            problem = setting.problem(getattr(self, setting.name), hidden=widths)
            if problem is not None:
                raise ConfigError(setting.name, problem)
            if setting.name == "data_path" and self.dataset == "file":
                if not self.data_path:
                    raise ConfigError("data_path", "data set 'file' needs the path of a .csv or .npz file")
                if Path(self.data_path).suffix.lower() not in (".csv", ".npz"):
                    raise ConfigError("data_path", "must end in .csv or .npz")
        if self.is_cnn() and self.dataset in TOY_DATASETS:
            raise ConfigError("architecture", f"a CNN needs image data (the digits, or a file of "
                                              f"images such as MNIST); {self.dataset} is 2-D points")
        if self.conv_kernel not in (3, 5):
            raise ConfigError("conv_kernel", f"must be 3 or 5 (a 3×3 or 5×5 kernel), got {self.conv_kernel}")
        if self.norm == "group":
            for width, on in zip(self.layer_widths(), self.bn_layers()):
                if on and width % self.gn_groups:
                    raise ConfigError("gn_groups", f"GroupNorm splits a layer's features into "
                                      f"{self.gn_groups} equal groups: a width of {width} does not "
                                      f"divide by {self.gn_groups}")
        return self

    # ---------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain TOML-compatible values (lists, not tuples; no None)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = list(v)
            if f.name == "bn_momentum" and v is None:
                v = CUMULATIVE
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        """Build and validate; unknown keys and wrong types raise ConfigError."""
        if not isinstance(data, dict):
            raise ConfigError("config", "expected a table of settings")
        known = BY_NAME
        kwargs = {}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(str(key)[:60], f"unknown setting (known: {', '.join(known)})")
            if key == "bn_momentum" and value == CUMULATIVE:
                value = None
            kwargs[key] = value
        return cls(**kwargs).validate()

    def to_toml(self) -> str:
        import tomli_w
        return tomli_w.dumps({"run": self.to_dict()})

    @classmethod
    def from_toml(cls, text: str) -> "RunConfig":
        if len(text) > MAX_TOML_CHARS:
            raise ConfigError("toml", f"{len(text):,} characters, more than a config may hold "
                                      f"({MAX_TOML_CHARS:,})")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("toml", f"not valid TOML: {exc}") from None
        except RecursionError:   # tomllib recurses once per level of nested arrays or tables
            raise ConfigError("toml", "not valid TOML for bnviz: arrays or tables nested too deeply") from None
        except ValueError as exc:   # e.g. an integer of more digits than Python converts
            raise ConfigError("toml", f"not valid TOML: {exc}") from None
        if "run" in data:
            extra = set(data) - {"run"}
            if extra:
                raise ConfigError(sorted(extra)[0], "unknown table (settings belong in [run])")
            data = data["run"]
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        """The config of a TOML file; ConfigError names the file and the problem."""
        try:
            if Path(path).stat().st_size > 4 * MAX_TOML_CHARS:
                raise ConfigError("file", f"{path} is too large for a config "
                                          f"({Path(path).stat().st_size:,} bytes)")
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError("file", f"cannot read {path}: {exc}") from None
        try:
            return cls.from_toml(text)
        except ConfigError as exc:
            raise ConfigError(exc.field, f"{exc.message} (in {Path(path).name})") from None

    def save(self, path: str | Path) -> None:
        from .fileio import write_atomic
        write_atomic(path, self.to_toml().encode("utf-8"))


# ------------------------------------------------------------------ presets
PRESETS: dict[str, RunConfig] = {
    "Ioffe & Szegedy 2015, Fig. 1": RunConfig(
        dataset="digits", hidden=(100, 100, 100), activation="sigmoid",
        batchnorm=True, init="gaussian", init_std=0.1, optimizer="sgd",
        lr=0.1, batch_size=60),
    "the course": RunConfig(
        dataset="digits", hidden=(64, 64), activation="relu", batchnorm=True,
        bn_placement="before", keep_bias=False, init="he", optimizer="adam",
        lr=1e-3, batch_size=64, bn_momentum=0.1,  # course beta 0.9 == 0.1 here
        unbiased_running_var=False),
    # torch.nn.BatchNorm1d and torch.optim's defaults (RMSprop alpha 0.99,
    # Adam and RMSprop eps 1e-8).
    "PyTorch defaults": RunConfig(
        dataset="digits", hidden=(100, 100), activation="relu", batchnorm=True,
        init="he", optimizer="sgd", lr=0.05, batch_size=64, bn_momentum=0.1,
        bn_eps=1e-5, unbiased_running_var=True, rmsprop_rho=0.99, opt_eps=1e-8),
    # keras.layers.BatchNormalization, keras.optimizers.Adam / RMSprop and
    # Model.fit's defaults (Glorot's variance; Keras draws it uniformly), and
    # Keras's update formulas.
    "Keras defaults": RunConfig(
        dataset="digits", hidden=(100, 100), activation="relu", batchnorm=True,
        init="glorot", optimizer="adam", lr=1e-3, batch_size=32,
        adam_beta1=0.9, adam_beta2=0.999, opt_eps=1e-7, rmsprop_rho=0.9,
        optimizer_formulas="keras",
        bn_momentum=0.01,  # Keras momentum 0.99 in PyTorch's convention
        bn_eps=1e-3, unbiased_running_var=False),
    "Two moons, no BN": RunConfig(
        dataset="moons", hidden=(16, 16), activation="tanh", batchnorm=False,
        init="glorot", optimizer="sgd", lr=0.1, batch_size=32),
    "Spiral with BN": RunConfig(
        dataset="spiral", hidden=(32, 32, 32), activation="relu", batchnorm=True,
        init="he", optimizer="adam", lr=0.01, batch_size=32, noise=0.1),
    # Two convolution blocks (8 then 16 channels, 3x3, BN per channel, 2x2 max
    # pooling: 8x8 -> 4x4 -> 2x2), one dense layer of 64.
    "Small CNN on digits": RunConfig(
        dataset="digits", architecture="cnn", conv_channels=(8, 16), conv_kernel=3, conv_pool="max",
        hidden=(64,), activation="relu", batchnorm=True, init="he", optimizer="momentum", lr=0.02,
        batch_size=64),
    # The same on a user's MNIST file (28x28, from .npz or .csv): 5x5 kernels,
    # 28x28 -> 14x14 -> 7x7.
    "CNN on MNIST (your file)": RunConfig(
        dataset="file", architecture="cnn", conv_channels=(8, 16), conv_kernel=5, conv_pool="max",
        hidden=(64,), activation="relu", batchnorm=True, init="he", optimizer="momentum", lr=0.02,
        batch_size=64),
}
DEFAULT_PRESET = "Ioffe & Szegedy 2015, Fig. 1"


def preset(name: str) -> RunConfig:
    """A fresh copy of a named preset; unknown names raise ConfigError."""
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return dataclasses.replace(PRESETS[name])
