"""The command line: help, bad input exits 2 with one line, and the
resources a non-editable install needs are declared."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bnviz.cli import build_parser, config_from_args
from bnviz.engine.config import ConfigError, preset
from bnviz.resources_path import resource_path

ROOT = Path(__file__).resolve().parents[1]


def run_main(*args):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_help_documents_every_option():
    proc = run_main("--help")
    assert proc.returncode == 0
    for opt in ("--preset", "--config", "--version"):
        assert opt in proc.stdout
    assert "Ioffe & Szegedy 2015, Fig. 1" in proc.stdout


@pytest.mark.parametrize("args,needle", [
    (("--preset", "nope"), "unknown preset 'nope'"),
    (("--config", "does-not-exist.toml"), "does-not-exist.toml"),
])
def test_bad_input_exits_2_with_one_line(args, needle):
    proc = run_main(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_bad_config_file_is_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[run]\nlr = -1\n")
    proc = run_main("--config", str(bad))
    assert proc.returncode == 2 and "lr" in proc.stderr and "Traceback" not in proc.stderr


def test_config_from_args():
    ap = build_parser()
    assert config_from_args(ap.parse_args([])) is None
    assert config_from_args(ap.parse_args(["--preset", "Keras defaults"])) == preset("Keras defaults")
    with pytest.raises(ConfigError):
        config_from_args(ap.parse_args(["--preset", "x"]))


def test_resources_ship_with_the_package():
    assert resource_path("bnviz.svg").is_file()
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    st = meta["tool"]["setuptools"]
    assert st["package-dir"]["bnviz.resources"] == "resources"
    assert "*.svg" in st["package-data"]["bnviz.resources"]
    assert meta["project"]["gui-scripts"]["bnviz"] == "bnviz.app:main"


def test_runs_from_args_lesson_compare_and_single():
    from bnviz.cli import parse, runs_from_args
    from bnviz.engine.config import preset
    from bnviz.engine.lessons import lesson
    args, cfg = parse(["--lesson", "fig1"])
    configs, labels = runs_from_args(args, cfg)
    assert configs == lesson("fig1").configs and labels == lesson("fig1").labels
    args, cfg = parse(["--preset", "Spiral with BN", "--compare"])
    configs, labels = runs_from_args(args, cfg)
    assert configs == (preset("Spiral with BN"), preset("Spiral with BN").replace(batchnorm=False))
    assert labels == ("A: with BN", "B: no BN")
    args, cfg = parse([])
    assert runs_from_args(args, cfg)[0] == (preset("Ioffe & Szegedy 2015, Fig. 1"),)


def test_compare_needs_batch_norm_in_a(tmp_path, capsys):
    from bnviz import app
    path = tmp_path / "plain.toml"
    path.write_text('[run]\ndataset = "moons"\nbatchnorm = false\n')
    try:
        status = app.main(["--config", str(path), "--compare"])
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2 and "batchnorm" in err and len(err.strip().splitlines()) == 1


def test_max_data_mb_sets_the_data_limit_of_the_run(tmp_path):
    """--max-data-mb is the data limit of this run (the training processes
    inherit it): a data set above it is refused before training with its
    size and the limit; a value that is not a positive number is one line."""
    data = tmp_path / "data.csv"
    data.write_text("x1,x2,label\n" + "0.5,0.25,1\n0.125,0.75,0\n" * 200)
    config = tmp_path / "run.toml"
    config.write_text(f'dataset = "file"\ndata_path = "{data}"\nhidden = [4]\nbatch_size = 8\n')
    proc = run_main("--headless", "--steps", "5", "--config", str(config), "--max-data-mb", "0.01",
                    "--export", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "data.csv" in line and "too large" in line and "--max-data-mb" in line, line
    assert "10.2 KiB" in line, line   # the limit, 0.01 MiB
    ok = run_main("--headless", "--steps", "5", "--config", str(config), "--max-data-mb", "1",
                  "--export", str(tmp_path / "out"))
    assert ok.returncode == 0, ok.stderr
    for bad in ("0", "-3", "lots"):
        proc = run_main("--max-data-mb", bad)
        assert proc.returncode == 2 and "--max-data-mb" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
