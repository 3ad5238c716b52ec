"""bnviz --headless: trains with no display, exports everything, and
reports bad input (status 2) and divergence (status 3) in one line."""
from __future__ import annotations

import numpy as np
import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from bnviz import app

ROOT = Path(__file__).resolve().parents[1]
SMALL = """[run]
dataset = "moons"
n_samples = 200
hidden = [8, 8]
batch_size = 16
"""
# Linear layers, no BN, a huge init and learning rate: overflows within a few steps.
DIVERGING = SMALL + """activation = "identity"
batchnorm = false
init_std = 10.0
lr = 100.0
"""


def bnviz(*args, cwd=ROOT):
    """The real command, with no display and no QT_QPA_PLATFORM: headless
    must set up offscreen Qt by itself."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bnviz.app", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def write(tmp_path, name, text) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def status_of(argv, capsys) -> tuple[int, str]:
    """bnviz.app.main in this process: (exit status, stderr)."""
    try:
        status = app.main(argv)
    except SystemExit as exc:
        status = exc.code
    return status, capsys.readouterr().err


def test_headless_run_writes_everything(tmp_path):
    out = tmp_path / "out"
    proc = bnviz("--headless", "--config", write(tmp_path, "run.toml", SMALL),
                 "--steps", "60", "--export", str(out), "--figure-size", "4:3", "--scale", "0.5")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "propagateSizeHints" not in proc.stderr
    # Not a terminal: a progress line every ~10%, no carriage returns.
    progress = [line for line in proc.stderr.splitlines() if line.startswith("step ")]
    assert 8 <= len(progress) <= 11 and "\r" not in proc.stderr
    assert progress[-1].startswith("step 60/60") and "steps/s" in progress[-1]
    m = json.loads((out / "manifest.json").read_text())
    assert (m["step"], m["dataset"], m["diverged_at"]) == (60, "moons", None)
    names = {f["name"] for f in m["files"]}
    assert names | {"manifest.json"} == set(os.listdir(out))
    pngs = [n for n in names if n.endswith(".png")]
    # Every plot of every panel but compare mode's four and the image (moons has none).
    assert len(pngs) == 13 and len([n for n in names if n.endswith(".svg")]) == 13
    assert "test-time-class-probabilities.png" in pngs
    for name in pngs:
        img = QImage(str(out / name))
        assert (img.width(), img.height()) == (800, 600), name   # 4:3's 1600x1200 at --scale 0.5
        colours = {img.pixel(x, y) for x in range(0, img.width(), 7)
                   for y in range(0, img.height(), 7)}
        assert len(colours) > 10, name
    for name in names - set(pngs):
        if name.endswith(".svg"):
            ET.parse(out / name)
    with open(out / "data.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 61
    # Evaluated along the way, so the accuracy curve has points.
    acc = rows[0].index("test_accuracy")
    assert sum(r[acc] != "" for r in rows[1:]) == 60


def test_diverging_run_exits_3_and_still_exports(tmp_path):
    out = tmp_path / "out"
    proc = bnviz("--headless", "--config", write(tmp_path, "run.toml", DIVERGING),
                 "--steps", "200", "--export", str(out))
    assert proc.returncode == 3, proc.stderr
    m = json.loads((out / "manifest.json").read_text())
    step = m["diverged_at"]
    assert step is not None and step == m["step"] < 200
    assert f"diverged at step {step}" in proc.stderr
    assert "Traceback" not in proc.stderr and "RuntimeWarning" not in proc.stderr
    assert {"config.toml", "data.csv", "data.npz"} <= set(os.listdir(out))
    assert any(n.endswith(".png") for n in os.listdir(out))


@pytest.mark.parametrize("toml,needle", [
    ("[run\nlr = 0.1\n", "not valid TOML"),
    ("[run]\nlearning_rate = 0.1\n", "learning_rate"),
    ("[run]\nlr = -1\n", "lr"),
    ('[run]\ndataset = "file"\ndata_path = "missing.csv"\n', "missing.csv"),
])
def test_bad_config_exits_2(tmp_path, capsys, toml, needle):
    cfg = write(tmp_path, "run.toml", toml)
    status, err = status_of(["--headless", "--config", cfg, "--steps", "5",
                             "--export", str(tmp_path / "out")], capsys)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bnviz: error:") and needle in lines[0]


@pytest.mark.parametrize("args,needle", [
    (["--preset", "nope", "--steps", "5"], "unknown preset 'nope'"),
    (["--steps", "0"], "--steps"),
    (["--steps", "x"], "--steps"),
    ([], "--steps"),
    (["--steps", "5", "--scale", "0"], "--scale"),
    (["--steps", "5", "--figure-size", "wide"], "WIDTHxHEIGHT"),
    (["--steps", "5", "--figure-size", "100x100"], "320 to 7680 pixels"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, args, needle):
    status, err = status_of(["--headless", *args, "--export", str(tmp_path)], capsys)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bnviz: error:") and needle in lines[0]


def test_unwritable_export_folder_exits_2_before_training(tmp_path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("")
    proc = bnviz("--headless", "--config", write(tmp_path, "run.toml", SMALL),
                 "--steps", "5", "--export", str(blocker / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bnviz: error:")
    assert str(blocker / "out") in lines[0]


def test_headless_options_need_headless(capsys):
    status, err = status_of(["--steps", "5"], capsys)
    assert status == 2 and "--headless" in err


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as info:
        app.main(["--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    for opt in ("--headless", "--steps", "--export", "--scale", "--preset", "--config",
                "--version"):
        assert opt in out
    assert "bnviz --headless" in out and "Exit status" in out


def test_headless_compare_and_per_unit_csv(tmp_path):
    out = tmp_path / "cmp"
    proc = bnviz("--headless", "--config", write(tmp_path, "run.toml", SMALL), "--compare",
                 "--unit-csv", "--steps", "24", "--export", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "2 runs in lockstep" in proc.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["label"] == "A: with BN" and [o["label"] for o in m["others"]] == ["B: no BN"]
    assert m["others"][0]["config"]["batchnorm"] is False
    names = set(os.listdir(out))
    assert {"data-units.csv", "run-b-data.csv", "run-b-data-units.csv", "run-b-config.toml"} <= names
    # The compare panel's figures: accuracy, loss, and the two runs' bands.
    assert sum(n.startswith("compare-") and n.endswith(".png") for n in names) == 4


def test_headless_lesson(tmp_path):
    out = tmp_path / "bias"
    proc = bnviz("--headless", "--lesson", "bias", "--steps", "30", "--export", str(out))
    assert proc.returncode == 0, proc.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["config"]["keep_bias"] is True and m["others"][0]["config"]["keep_bias"] is False
    with np_load(out / "data.npz") as z:
        ratio = z["steps/L0.grad_norm_b"] / z["steps/L0.grad_norm_W"]
    assert ratio.max() < 1e-9   # the lesson's point, in the exported data


def np_load(path):
    import numpy as np
    return np.load(path, allow_pickle=False)


@pytest.mark.parametrize("argv, message", [
    (["--lesson", "nope"], "invalid choice: 'nope'"),
    (["--lesson", "bias", "--compare"], "cannot be combined"),
    (["--unit-csv"], "--unit-csv only applies with --headless"),
])
def test_lesson_and_compare_arguments(argv, message, capsys):
    status, err = status_of(argv, capsys)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content,needle", [
    ("a,b,label\n1,2,0\nnan,3,1\n" + "1,2,0\n" * 20, "NaN"),
    ("a,b,label\n1,2,0.5\n" + "1,2,1\n" * 20, "label"),
    ("a,b,label\n1,2\n" + "1,2,1\n" * 20, "row"),
], ids=["nan", "fractional-label", "short-row"])
def test_bad_data_file_exits_2(tmp_path, capsys, content, needle):
    data = write(tmp_path, "points.csv", content)
    cfg = write(tmp_path, "run.toml", f'[run]\ndataset = "file"\ndata_path = "{data}"\nbatch_size = 4\n')
    status, err = status_of(["--headless", "--config", cfg, "--steps", "3",
                             "--export", str(tmp_path / "out")], capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and "points.csv" in lines[0], err
    assert needle.lower() in lines[0].lower(), lines[0]


def test_headless_session_continues_bit_identically(tmp_path):
    """20 steps, save; continue 10 from the session: the data equal a 30-step run's."""
    cfg = write(tmp_path, "run.toml", SMALL)
    session = tmp_path / "half.npz"
    first = bnviz("--headless", "--config", cfg, "--compare", "--steps", "20",
                  "--export", str(tmp_path / "a"), "--save-session", str(session))
    assert first.returncode == 0, first.stderr
    assert f"saved the session to {session}" in first.stderr
    second = bnviz("--headless", "--session", str(session), "--steps", "10",
                   "--export", str(tmp_path / "b"))
    assert second.returncode == 0, second.stderr
    assert "from step 20" in second.stderr and "2 runs in lockstep" in second.stderr
    whole = bnviz("--headless", "--config", cfg, "--compare", "--steps", "30",
                  "--export", str(tmp_path / "c"))
    assert whole.returncode == 0, whole.stderr
    import numpy as np
    for name in ("data.npz", "run-b-data.npz"):
        with np.load(tmp_path / "b" / name) as b, np.load(tmp_path / "c" / name) as c:
            # Every per-step series (evaluations and summaries follow each run's schedule).
            keys = [k for k in c.files if k.startswith("steps/")]
            assert len(keys) >= 10 and sorted(keys) == sorted(k for k in b.files if k.startswith("steps/"))
            for key in keys:
                np.testing.assert_array_equal(b[key], c[key], err_msg=f"{name} {key}")
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert m["step"] == 30 and m["others"][0]["label"] == "B: no BN"


def test_bad_session_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a session")
    status, err = status_of(["--headless", "--session", str(bad), "--steps", "3",
                             "--export", str(tmp_path / "out")], capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and "broken.npz" in lines[0]


def test_a_headless_comparison_trains_each_run_in_a_process_of_its_own():
    """headless.train on parallel runs (B in a follower process) gives the
    same runs as in one process, and the follower ends with close()."""
    from bnviz.engine.compare import Comparison
    from bnviz.engine.config import RunConfig
    from bnviz.headless import parallel_runs, train
    from bnviz.training.runs import LocalRuns, ParallelRuns
    small = RunConfig(dataset="moons", n_samples=200, hidden=(8, 8), activation="tanh",
                      batchnorm=True, optimizer="sgd", lr=0.1, batch_size=16, seed=0)
    configs = (small, small.replace(batchnorm=False))
    runs, processes = parallel_runs(Comparison.of(configs, summary_every=8), ("A", "B"))
    assert isinstance(runs, ParallelRuns) and len(processes) == 1 and processes[0].is_alive()
    local = LocalRuns(Comparison.of(configs, summary_every=8))
    for r in (runs, local):
        r.starts(["A", "B"])
        assert train(r, 300) is None
    theirs, mine = runs.updates(False, None), local.updates(False, None)
    for u, v in zip(theirs, mine):
        assert u.record.step == v.record.step == 300
        np.testing.assert_array_equal(u.record.layers[1].pre, v.record.layers[1].pre)
        assert u.evaluation.test_accuracy == v.evaluation.test_accuracy
    runs.close()
    processes[0].join(5)
    assert processes[0].exitcode == 0
