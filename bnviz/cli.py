"""Command-line arguments of the bnviz command."""
from __future__ import annotations

import argparse

from . import __version__
from .engine.config import PRESETS, ConfigError, RunConfig, preset


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="bnviz", description="A desktop laboratory for batch normalization.",
        epilog="Presets: " + "; ".join(PRESETS))
    ap.add_argument("--version", action="version", version=f"bnviz {__version__}")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--preset", metavar="NAME", help="start from a named preset (see below)")
    src.add_argument("--config", metavar="FILE", help="start from run settings in a TOML file")
    return ap


def config_from_args(args) -> RunConfig | None:
    """The RunConfig the arguments ask for (None: the default run).
    Raises ConfigError naming the problem."""
    if args.preset:
        return preset(args.preset)
    if args.config:
        return RunConfig.load(args.config)
    return None


def parse(argv) -> tuple[argparse.Namespace, RunConfig | None]:
    """Parse ``argv``; bad input exits with status 2 and one line on stderr."""
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return args, config_from_args(args)
    except ConfigError as exc:
        ap.exit(2, f"bnviz: error: {exc}\n")
