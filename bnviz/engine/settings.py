"""The settings schema: every RunConfig field declared once.

Each ``Setting`` says its kind, its range or choices (with the words the
form shows for them), whether it applies live, its group, its label and
its tooltip. RunConfig's validation, the trainer's live fields, TOML's
known keys, the configuration form's editors and every message naming a
setting derive from this table; nothing here imports Qt.
"""
from __future__ import annotations

import reprlib
from dataclasses import dataclass

MAX_LAYERS = 16
MAX_WIDTH = 4096
MAX_CHANNELS = 256
TOY_DATASETS = ("moons", "circles", "spiral", "xor", "blobs")


@dataclass(frozen=True)
class Setting:
    name: str
    label: str            # what a user reads: the form's row, every message
    group: str            # the form's group box
    tooltip: str
    kind: str             # "int", "float", "choice", "bool", "path", "layers", "flags"
    lo: float | None = None
    hi: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()   # (value, the words shown for it)
    live: bool = False    # applied to the running trainer, no reset
    hint: str = ""        # said after the range when a value is refused
    special: tuple = ()   # (value, what it means): allowed beside the range (0 = ..., None = ...)
    step: str = "linear"  # the editor's arrows: "linear", "log" (1-2-5), "log1m" (on 1 - x)
    single_step: float = 0.1
    floor: float = 1e-6   # the smallest positive value "log" steps reach down to

    @property
    def values(self) -> tuple:
        return tuple(v for v, _ in self.choices)

    def range_text(self) -> str:
        """"from 2 to 1000000", "in (0, 100]"."""
        if self.kind == "int":
            return f"an integer from {self.lo} to {self.hi}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"a number in {left}{self.lo}, {self.hi}{right}"

    def problem(self, value, hidden=None) -> str | None:
        """Why ``value`` is not allowed (in words naming the setting's rule,
        the value shown as typed), or None. ``hidden``: the layer widths, for
        the per-layer flags."""
        if any(value == v and type(value) is type(v) for v, _ in self.special):
            return None
        kind = self.kind
        if kind == "choice":
            if isinstance(value, str) and value in self.values:
                return None
            return f"{show(value)} is not one of {', '.join(self.values)}"
        if kind == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if kind == "int":
            if is_int(value) and self.lo <= value <= self.hi:
                return None
            return f"must be {self.range_text()}{self.hint}, got {show(value)}"
        if kind == "float":
            ok = is_number(value) and value == value   # value == value rejects NaN
            if ok:
                ok = ((value > self.lo if self.low_open else value >= self.lo)
                      and (value < self.hi if self.high_open else value <= self.hi))
            return None if ok else f"must be {self.range_text()}{self.hint}, got {show(value)}"
        if kind == "path":
            return None if isinstance(value, str) else (
                f"must be text (the path of a .csv or .npz file), got {show(value)}")
        if kind == "layers":
            top = int(self.hi) if self.hi is not None else MAX_WIDTH
            if (isinstance(value, tuple) and 1 <= len(value) <= MAX_LAYERS
                    and all(is_int(h) and 1 <= h <= top for h in value)):
                return None
            return f"1 to {MAX_LAYERS} layer widths, each an integer from 1 to {top}"
        if kind == "flags":
            if isinstance(value, bool):
                return None
            n = len(hidden) if isinstance(hidden, tuple) else None
            if isinstance(value, tuple) and len(value) == n and all(isinstance(b, bool) for b in value):
                return None
            if isinstance(value, tuple):
                return (f"true/false, or a list of {n} true/false values (one per layer: "
                        f"convolution blocks, then hidden layers)")
            return "true/false, or one true/false per hidden layer"
        raise ValueError(f"setting {self.name!r}: unknown kind {kind!r}")


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def show(v) -> str:
    """A value as a message shows it: its repr, cut short (a value from a
    file may be nested deeply or be very long)."""
    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother, short.maxlong = 3, 60, 60, 60
    try:
        return short.repr(v)
    except (RecursionError, ValueError):
        return f"a {type(v).__name__}"


PROBE_STATISTICS = (
    ("batch", "probe's own batch statistics (training mode, the paper)"),
    ("running", "running statistics (inference mode)"),
    ("population", "population statistics (precise BN)"))
NORM_CHOICES = (("batch", "BatchNorm"), ("layer", "LayerNorm"), ("group", "GroupNorm"),
                ("renorm", "Batch Renorm"), ("noisy", "noisy BN (Santurkar et al.)"))
NORMS = {"batch": "BatchNorm", "layer": "LayerNorm", "group": "GroupNorm", "renorm": "Batch Renorm",
         "noisy": "noisy BN"}   # the short names plots and messages use
# The normalizations that keep running statistics for test time.
RUNNING_STAT_NORMS = ("batch", "renorm", "noisy")
OPTIMIZER_FORMULAS = (("pytorch", "PyTorch (torch.optim)"), ("keras", "Keras (keras.optimizers)"))
_UNIT = " in [0, 1)"

SETTINGS = (
    # data
    Setting("dataset", "Data set", "Data", "Data set: 2-D toys, sklearn's 8×8 digits, or your own file",
            "choice", choices=(("moons", "Two moons"), ("circles", "Circles"), ("spiral", "Spiral"),
                               ("xor", "XOR"), ("blobs", "Blobs"), ("digits", "Digits (8×8)"),
                               ("file", "File (.csv / .npz)"))),
    Setting("data_path", "File", "Data", "A .csv (one label column) or .npz file; used for data set "
            "'File'", "path"),
    Setting("n_samples", "Samples", "Data", "Number of points in a toy data set (train + test)", "int",
            lo=20, hi=1_000_000, single_step=100),
    Setting("noise", "Noise", "Data", "Noise added to a toy data set, 0 to 5", "float", lo=0.0, hi=5.0,
            single_step=0.05),
    Setting("test_fraction", "Test share", "Data", "Share of the examples held out for testing, 0.05 "
            "to 0.9 (a file with its own x_test keeps its split)", "float", lo=0.05, hi=0.9,
            single_step=0.05),
    # network
    Setting("architecture", "Network", "Network", "A dense network (MLP: the hidden layers), or a "
            "convolutional one (CNN: convolution blocks on the images, each convolution, "
            "normalization, activation and 2×2 pooling, then the hidden layers); a CNN needs image "
            "data (the digits, or a file of images such as MNIST)", "choice",
            choices=(("mlp", "dense (MLP)"), ("cnn", "convolutional (CNN)"))),
    Setting("conv_channels", "Conv channels", "Network", "CNN: the channels of each convolution "
            "block, comma-separated, e.g. 8, 16 (each block halves the image's height and width "
            "by pooling while they are even)", "layers", hi=MAX_CHANNELS),
    Setting("conv_kernel", "Kernel", "Network", "CNN: the convolutions' kernel, 3×3 or 5×5 (stride 1, "
            "\"same\" padding)", "int", lo=3, hi=5, hint=" (3 or 5: a 3×3 or 5×5 kernel)", single_step=2),
    Setting("conv_pool", "Pooling", "Network", "CNN: the 2×2 pooling after each block's activation",
            "choice", choices=(("max", "2×2 max"), ("avg", "2×2 average"), ("none", "none"))),
    Setting("hidden", "Hidden layers", "Network", "Widths of the hidden layers, comma-separated, e.g. "
            "100, 100, 100", "layers"),
    Setting("activation", "Activation", "Network", "Nonlinearity after every hidden layer", "choice",
            choices=(("sigmoid", "sigmoid"), ("tanh", "tanh"), ("relu", "ReLU"),
                     ("leaky_relu", "leaky ReLU"), ("identity", "identity (linear)"))),
    Setting("leaky_slope", "Leak slope", "Network", "Slope of leaky ReLU for negative inputs, 0 to 1",
            "float", lo=0.0, hi=1.0, step="log", floor=1e-4),
    Setting("batchnorm", "BN per layer", "Network", "One on/off per hidden layer, e.g. on, on, off "
            "(in a CNN: one per convolution block, then one per hidden layer)",
            "flags"),
    Setting("norm", "Normalization", "Network", "What each layer with BN on does: BatchNorm (Ioffe & "
            "Szegedy 2015), LayerNorm (each example over its features), GroupNorm (each example over "
            "groups of features), Batch Renorm (BN corrected towards the running statistics, for "
            "small or non-i.i.d. batches) or noisy BN (BN plus noise that changes every step)",
            "choice", choices=NORM_CHOICES),
    Setting("bn_placement", "BN placement", "Network", "Normalize the pre-activation (paper) or the "
            "activation's output", "choice",
            choices=(("before", "before activation (paper)"), ("after", "after activation"))),
    Setting("keep_bias", "Keep bias under BN", "Network", "Keep the bias b of a layer followed by BN; "
            "redundant, since BN subtracts the mean and β shifts instead", "bool"),
    Setting("init", "Init", "Network", "Initialisation of the weights", "choice",
            choices=(("gaussian", "Gaussian (std below)"), ("glorot", "Glorot / Xavier"),
                     ("he", "He / Kaiming"))),
    Setting("init_std", "Init std", "Network", "Standard deviation of the Gaussian initial weights, "
            "1e-6 to 10", "float", lo=1e-6, hi=10.0, step="log"),
    # batch norm
    Setting("bn_momentum", "BN momentum", "Batch norm", "Running statistics: weight of the new batch "
            "(PyTorch convention), in (0, 1]", "float", lo=0.0, hi=1.0, low_open=True, live=True,
            hint=" (PyTorch convention: weight of the new batch; course 0.9 = 0.1, Keras 0.99 = "
                 "0.01), or cumulative", special=((None, "cumulative"),), step="log", floor=1e-4),
    Setting("bn_eps", "BN ε", "Batch norm", "ε added to the batch variance before the square root, "
            "1e-12 to 1", "float", lo=1e-12, hi=1.0, step="log", floor=1e-12),
    Setting("unbiased_running_var", "Unbiased running variance", "Batch norm",
            "Store unbiased running variance (PyTorch); off = Keras/Flax", "bool"),
    # the other normalizations
    Setting("gn_groups", "Groups G", "Normalization", "GroupNorm: the features (channels) of a layer "
            "split into G equal groups; every normalized layer's width must divide by G (G = 1 is "
            "LayerNorm)", "int", lo=1, hi=MAX_WIDTH,
            hint=" (the groups of GroupNorm; each normalized width must divide by it)"),
    Setting("renorm_rmax", "r max", "Normalization", "Batch Renorm: r = σ_B/σ is clipped to "
            "[1/r max, r max] once warmed up, 1 to 100 (the paper: 3)", "float", lo=1.0, hi=100.0,
            single_step=0.5),
    Setting("renorm_dmax", "d max", "Normalization", "Batch Renorm: d = (μ_B − μ)/σ is clipped to "
            "[−d max, d max] once warmed up, 0 to 100 (the paper: 5)", "float", lo=0.0, hi=100.0,
            single_step=0.5),
    Setting("renorm_warmup", "Warm-up steps", "Normalization", "Batch Renorm: steps of plain BN "
            "(r max = 1, d max = 0) before the limits are relaxed", "int", lo=0, hi=10**9,
            single_step=100),
    Setting("renorm_ramp", "Relaxing steps", "Normalization", "Batch Renorm: steps over which r max "
            "and d max grow linearly to their values after the warm-up (0: at once)", "int", lo=0,
            hi=10**9, single_step=100),
    Setting("noise_scale", "Noise scale s", "Normalization", "Noisy BN: at every step each unit's "
            "noise gets a mean drawn from U(−s, s) and a standard deviation from U(0, s), 0 to 10",
            "float", lo=0.0, hi=10.0, single_step=0.1),
    # optimisation
    Setting("optimizer", "Optimizer", "Optimisation", "Update rule, in the form of PyTorch's "
            "torch.optim unless Formulas says Keras; Keras's Adam and RMSprop place ε differently "
            "(see Optimizer ε)", "choice",
            choices=(("gd", "Full-batch gradient descent"), ("sgd", "Mini-batch SGD"),
                     ("momentum", "SGD with momentum"), ("rmsprop", "RMSProp"), ("adam", "Adam"))),
    Setting("lr", "Learning rate", "Optimisation", "Learning rate: step size of every update, in "
            "(0, 100]", "float", lo=0.0, hi=100.0, low_open=True, live=True, step="log",
            single_step=0.01),
    Setting("batch_size", "Batch size", "Optimisation", "Examples per mini-batch, at least 2 "
            "(full-batch GD uses all)", "int", lo=2, hi=1_000_000,
            hint=" (batch norm needs at least 2 examples per batch)"),
    Setting("sampler", "Batches", "Optimisation", "How mini-batches are drawn: shuffled anew every "
            "epoch (i.i.d., the usual), or each from two classes only (non-i.i.d., as in the Batch "
            "Renorm paper: half the batch from one class, half from another; an epoch then uses "
            "the examples that fill whole batches)", "choice",
            choices=(("shuffle", "shuffled (i.i.d.)"), ("two_classes", "two classes per batch"))),
    Setting("sgd_momentum", "Momentum μ", "Optimisation", "Momentum μ: v = μ·v + g, w −= lr·v "
            "(PyTorch's form; Keras's v = μ·v − lr·g, w += v is the same at a constant rate),"
            + _UNIT, "float", lo=0.0, hi=1.0, high_open=True, live=True, step="log1m"),
    Setting("rmsprop_rho", "Decay ρ", "Optimisation", "RMSProp decay ρ of the squared-gradient "
            "average s = ρ·s + (1 − ρ)·g²," + _UNIT + ": PyTorch's alpha (default 0.99), Keras's "
            "rho (default 0.9)", "float", lo=0.0, hi=1.0, high_open=True, live=True, step="log1m"),
    Setting("adam_beta1", "β₁", "Optimisation", "Adam β₁: decay of the gradient average," + _UNIT,
            "float", lo=0.0, hi=1.0, high_open=True, live=True, step="log1m"),
    Setting("adam_beta2", "β₂", "Optimisation", "Adam β₂: decay of the squared-gradient average,"
            + _UNIT, "float", lo=0.0, hi=1.0, high_open=True, live=True, step="log1m"),
    Setting("opt_eps", "Optimizer ε", "Optimisation", "ε in the optimizer's denominator, in (0, 1]. "
            "PyTorch's formulas: Adam lr·m̂/(√v̂ + ε), RMSProp lr·g/(√s + ε) (default 1e-8). "
            "Keras's Adam adds ε to the uncorrected √v and corrects lr instead, so its ε acts "
            "1/√(1 − β₂ᵗ) times larger early on; Keras's RMSprop divides by √(s + ε) (Keras's "
            "default 1e-7)", "float", lo=0.0, hi=1.0, low_open=True, live=True, step="log",
            floor=1e-12),
    Setting("optimizer_formulas", "Formulas", "Optimisation", "Whose update formulas momentum, "
            "RMSProp and Adam use. PyTorch: Adam lr·m̂/(√v̂ + ε), RMSProp lr·g/(√s + ε), momentum "
            "v = μ·v + g, w −= lr·v. Keras: Adam adds ε to the uncorrected √v with the rate "
            "lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ), so its ε acts larger early on; RMSprop divides by √(s + ε); "
            "momentum v = μ·v − lr·g, w += v (the same unless lr changes)", "choice",
            choices=OPTIMIZER_FORMULAS),
    # Santurkar et al.'s meters
    Setting("meters", "Landscape meters", "Meters", "Measure why BN helps while training (Santurkar "
            "et al. 2018): every few steps, each layer's internal covariate shift (how much its "
            "gradient changes when the layers below take their step) and the loss and gradient "
            "along the gradient direction (the landscape's smoothness); about 12 steps' work each "
            "time", "bool", live=True),
    Setting("meter_every", "Measure every", "Meters", "Steps between two measurements of the "
            "landscape meters (each costs about a dozen steps' work: every 50 steps slows the Fig. 1 "
            "network's training by about a fifth)", "int", lo=1, hi=10**6, live=True, single_step=10,
            hint=" (steps between two measurements)"),
    # reproducibility
    Setting("seed", "Seed", "Reproducibility", "Random seed for data, weights and batch order, 0 to "
            "4294967295", "int", lo=0, hi=2**32 - 1),
    Setting("dtype", "Precision", "Reproducibility", "Floating-point precision of the network: "
            "float32 is faster", "choice",
            choices=(("float32", "float32 (fast)"), ("float64", "float64 (precise)"))),
    # test-time statistics (edited in the Test-time lab)
    Setting("eval_batch_size", "Test batch size k", "Test time", "Size of the test mini-batches "
            "normalised by their own statistics; 0 = the training batch size", "int", lo=2,
            hi=100_000, live=True, special=((0, "the training batch size"),),
            hint=" (size of the test mini-batches), or 0 for the training batch size"),
    Setting("population_every", "Population every", "Test time", "Recompute population statistics "
            "at most every this many steps; 0 = at every evaluation", "int", lo=0, hi=10**9,
            live=True, hint=" (steps between population-statistics updates; 0 = at every evaluation)"),
    Setting("probe_statistics", "Probe statistics", "Batch norm", "How a BN network is run on the "
            "fixed probe of held-out examples whose percentiles Distributions and Compare runs plot "
            "over training: as one batch normalised by its own statistics (training mode, as in the "
            "BN paper's Fig. 1), with the running statistics (inference mode), or with population "
            "statistics of the training set (recomputed as Population every says)", "choice",
            choices=PROBE_STATISTICS),
)
BY_NAME = {s.name: s for s in SETTINGS}
LIVE_FIELDS = frozenset(s.name for s in SETTINGS if s.live)
# Settings whose editor the form makes from this table alone, at the end of their group.
# Which normalization uses which of its group's settings (the form shows only those).
# The settings of a CNN's convolution blocks (the form shows them for a CNN only).
CONV_SETTINGS = ("conv_channels", "conv_kernel", "conv_pool")
NORM_SETTINGS = {"group": ("gn_groups",), "noisy": ("noise_scale",),
                 "renorm": ("renorm_rmax", "renorm_dmax", "renorm_warmup", "renorm_ramp")}
GENERIC_EDITORS = ("meters", "meter_every", "optimizer_formulas", "probe_statistics", "gn_groups", "renorm_rmax",
                   "renorm_dmax", "renorm_warmup", "renorm_ramp", "noise_scale")


def label(name: str) -> str:
    """The words a user reads for setting ``name``."""
    setting = BY_NAME.get(name)
    return setting.label if setting is not None else name.replace("_", " ")


def value_text(name: str, value) -> str:
    """A setting's value in the form's words: a choice's label, on/off,
    "cumulative", widths joined by commas."""
    setting = BY_NAME.get(name)
    if setting is not None:
        for special, meaning in setting.special:
            if value is special or (value == special and type(value) is type(special)):
                return meaning
        if setting.kind == "choice":
            return dict(setting.choices).get(value, str(value))
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ", ".join(value_text("", v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def choice_values(name: str) -> tuple:
    return BY_NAME[name].values
