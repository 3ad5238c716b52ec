"""Command-line arguments of the bnviz command."""
from __future__ import annotations

import argparse

from . import __version__
from .engine.config import PRESETS, ConfigError, RunConfig, preset
from .engine.lessons import LESSONS
from .engine.npzfile import LIMIT_MB_RANGE

HEADLESS_ONLY = ("steps", "export", "scale", "figure_size", "unit_csv", "save_session", "sweep", "norms",
                 "animate", "fps", "seconds", "animation_format")
EPILOG = """\
Headless example (trains 2000 steps of the "Spiral with BN" preset, then
writes config, data, figures and a manifest into ./spiral-run):

  bnviz --headless --preset "Spiral with BN" --steps 2000 --export spiral-run

A sweep (each batch size with BatchNorm, GroupNorm and LayerNorm, 1500 steps
each, in parallel processes; writes sweep.csv and a figure per metric):

  bnviz --headless --preset "PyTorch defaults" --sweep batch_size=2,4,8,16,32,64 \
        --norms bn,gn,ln --steps 1500 --export small-batches

Exit status with --headless: 0 done; 2 bad input (config, preset, session, steps,
data file, export folder, session path); 3 training diverged (files still written);
4 some runs of a sweep failed (the others still written);
70 a bug in bnviz (please report it: the message names the traceback's file).

Presets: """


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, ``bnviz: error: ...``,
    with status 2 (argparse's default adds the usage above it)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def bounded(kind, lo, hi):
    """An argparse type: a number of ``kind`` from lo to hi, else one line naming the range."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number from {lo:g} to {hi:g}, got {text!r}") from None
        if not (lo <= value <= hi) or value != value:
            raise argparse.ArgumentTypeError(f"must be from {lo:g} to {hi:g}, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def figure_size(text: str) -> tuple[int, int]:
    from .figures import parse_size
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def scale_factor(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.25 <= value <= 8:
        raise argparse.ArgumentTypeError(f"must be from 0.25 to 8, got {text}")
    return value


def megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of megabytes, got {text!r}") from None
    lo, hi = LIMIT_MB_RANGE
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"must be from {lo:g} to {hi:.0f} megabytes, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    ap = Parser(
        prog="bnviz", description="A desktop laboratory for batch normalization.",
        epilog=EPILOG + "; ".join(PRESETS), formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"bnviz {__version__}")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--preset", metavar="NAME", help="start from a named preset (see below)")
    src.add_argument("--config", metavar="FILE", help="start from run settings in a TOML file")
    src.add_argument("--lesson", metavar="KEY", choices=[item.key for item in LESSONS],
                     help="open a guided lesson: " + ", ".join(item.key for item in LESSONS)
                     + " (fig1 reproduces Ioffe & Szegedy 2015, Fig. 1)")
    src.add_argument("--session", metavar="FILE",
                     help="open a saved session (.npz) in the window, or continue it with --headless")
    ap.add_argument("--data", metavar="FILE",
                    help="train on your own data file (.csv or .npz, e.g. MNIST): data set 'File' "
                         "with this path, with --preset or --config (e.g. --preset \"CNN on MNIST "
                         "(your file)\" --data mnist.npz)")
    ap.add_argument("--max-data-mb", metavar="MB", type=megabytes,
                    help="the most array data a data set or session file may hold, in MiB "
                         "(default 1024; a CSV may be an eighth of it); the same as setting "
                         "BNVIZ_MAX_DATA_MB")
    ap.add_argument("--compare", action="store_true",
                    help="train a second run B beside the chosen one, in lockstep: the same "
                         "network without batch norm")
    run = ap.add_argument_group("headless runs (no window)")
    run.add_argument("--headless", action="store_true",
                     help="train without a window, then export config, data and figures")
    run.add_argument("--steps", metavar="N", type=positive_int,
                     help="mini-batches to train (required with --headless)")
    run.add_argument("--export", metavar="DIR",
                     help="folder to write into, created if missing (default: ./bnviz-export)")
    run.add_argument("--figure-size", metavar="SIZE", type=figure_size, default=None,
                     help="each figure's size in pixels, WIDTHxHEIGHT or 16:9 (1920x1080, the "
                          "default), 4:3 (1600x1200) or square (1200x1200)")
    run.add_argument("--scale", metavar="S", type=scale_factor, default=1.0,
                     help="PNG resolution as a multiple of the figure size, the same layout "
                          "(default 1)")
    run.add_argument("--save-session", metavar="FILE",
                     help="save the runs as a session (.npz) at the end; open it in the window "
                          "with --session FILE")
    run.add_argument("--unit-csv", action="store_true",
                     help="also write data-units.csv, every unit's series in its own column "
                          "(large for wide layers; data.npz always holds them)")
    run.add_argument("--sweep", metavar="SETTING=V1,V2,...",
                     help="train one run per value of a setting (batch_size, lr, bn_momentum, "
                          "gn_groups, noise_scale, renorm_rmax, renorm_dmax, seed, sgd_momentum, "
                          "init_std, hidden_width), --steps each, and plot their final test error "
                          "and loss against it; with --lesson, from the lesson's run A")
    run.add_argument("--norms", metavar="LIST",
                     help="with --sweep: the normalizations to compare, comma-separated, of bn, "
                          "ln, gn, renorm, noisy, none (default: bn)")
    from .animation import FORMATS, FPS_RANGE, SECONDS_RANGE, panel_names
    run.add_argument("--animate", metavar="PANEL", choices=panel_names(),
                     help="also record one panel over training as an animation, PANEL.gif (or "
                          ".mp4) in the export: " + ", ".join(panel_names()))
    run.add_argument("--fps", metavar="N", type=bounded(int, *FPS_RANGE), default=None,
                     help=f"with --animate: frames per second, {FPS_RANGE[0]} to {FPS_RANGE[1]} "
                          "(default 20)")
    run.add_argument("--seconds", metavar="S", type=bounded(float, *SECONDS_RANGE), default=None,
                     help=f"with --animate: the animation's length, {SECONDS_RANGE[0]:g} to "
                          f"{SECONDS_RANGE[1]:g} seconds (default 10); its frames are spread "
                          "evenly over the steps")
    run.add_argument("--animation-format", metavar="FORMAT", choices=FORMATS, default=None,
                     help="with --animate: gif (the default) or mp4 (needs bnviz[mp4]); the size "
                          "is --figure-size's")
    desk = ap.add_argument_group("the desktop")
    desk.add_argument("--install-desktop-entry", action="store_true",
                      help="put bnviz in the desktop's applications menu: its .desktop file and "
                           "icon under ~/.local/share (XDG_DATA_HOME), starting this bnviz")
    desk.add_argument("--remove-desktop-entry", action="store_true",
                      help="take bnviz out of the applications menu again")
    return ap


def config_from_args(args) -> RunConfig | None:
    """The RunConfig the arguments ask for (None: the default run).
    Raises ConfigError naming the problem."""
    config = preset(args.preset) if args.preset else RunConfig.load(args.config) if args.config else None
    if args.data is not None:
        config = (config or default_config()).replace(dataset="file", data_path=args.data).validate()
    elif config is not None and config.dataset == "file" and not config.data_path:
        raise ConfigError("data_path", f"{args.preset or 'this config'} trains on your own file: "
                                       "give it with --data FILE (.csv or .npz)")
    return config


def default_config() -> RunConfig:
    """The run bnviz starts with when none is asked for."""
    from .engine.config import DEFAULT_PRESET
    return preset(DEFAULT_PRESET)


def runs_from_args(args, config: RunConfig | None) -> tuple[tuple[RunConfig, ...], tuple[str, ...]]:
    """The runs to train, A first, and their labels: a lesson's, A and A
    without batch norm (--compare), or the one run."""
    from .engine.compare import RunSet
    from .engine.lessons import lesson
    if args.lesson:
        chosen = lesson(args.lesson)
        return chosen.configs, chosen.labels
    a = config or default_config()
    if args.compare:
        if a.batchnorm is False:
            raise ConfigError("batchnorm", "--compare trains B without batch norm, so A needs it")
        configs = (a, a.replace(batchnorm=False))
        return configs, RunSet.of(configs).labels
    return (a,), ("",)


def parse(argv) -> tuple[argparse.Namespace, RunConfig | None]:
    """Parse ``argv``; bad input exits with status 2 and one line on stderr."""
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.headless and args.steps is None:
        ap.error("--headless needs --steps N (the number of mini-batches to train)")
    if args.compare and args.lesson:
        ap.error("--compare and --lesson cannot be combined (a lesson chooses its own runs)")
    if args.data is not None and (args.lesson or args.session):
        ap.error(f"--data and --{'lesson' if args.lesson else 'session'} cannot be combined (it "
                 "brings its own data)")
    if args.compare and args.session:
        ap.error("--compare and --session cannot be combined (a session holds its own runs)")
    if args.sweep:
        for other in ("session", "compare", "save_session"):
            if getattr(args, other):
                ap.error(f"--sweep and --{other.replace('_', '-')} cannot be combined (a sweep "
                         "trains runs of its own)")
    elif args.norms:
        ap.error("--norms only applies with --sweep")
    if args.animate and args.sweep:
        ap.error("--animate and --sweep cannot be combined (a sweep trains runs of its own)")
    if not args.animate:
        for name in ("fps", "seconds", "animation_format"):
            if getattr(args, name) is not None:
                ap.error(f"--{name.replace('_', '-')} only applies with --animate")
    else:
        args.fps = args.fps or 20
        args.seconds = args.seconds or 10.0
        args.animation_format = args.animation_format or "gif"
        from .animation import AnimationError, check_format
        try:
            check_format(args.animation_format, args.fps)
        except AnimationError as exc:
            ap.exit(2, f"bnviz: error: {exc}\n")
    if not args.headless:
        for name in HEADLESS_ONLY:
            if name == "scale" and args.scale == 1.0:
                continue
            if getattr(args, name) not in (None, False):
                ap.error(f"--{name.replace('_', '-')} only applies with --headless")
    try:
        return args, config_from_args(args)
    except ConfigError as exc:
        ap.exit(2, f"bnviz: error: {exc}\n")
