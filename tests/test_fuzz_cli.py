"""``bnviz --headless`` never shows a traceback: bad files (the property
tests' mutated configs, data sets and sessions) end in one ``bnviz: error:``
line with status 2, a bug in status 70 with the traceback in a file, and
a session that could not be saved is found out before training."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_headless import status_of
from bnviz.headless import EXIT_BUG
from fuzzing import COMMAND_EXAMPLES, config_texts, good_session, npz_files, session_files


ROOT = Path(__file__).resolve().parents[1]
RUN = '[run]\ndataset = "moons"\nn_samples = 60\nhidden = [4]\nbatch_size = 8\n'




def test_unexpected_exception_is_one_line_status_70_and_a_traceback_file(tmp_path, capsys, monkeypatch):
    from bnviz.engine import compare

    def broken(*args, **kwargs):
        raise RuntimeError("something bnviz did not expect")

    monkeypatch.setattr(compare.Comparison, "of", broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    config = tmp_path / "run.toml"
    config.write_text(RUN)
    status, err = status_of(["--headless", "--config", str(config), "--steps", "2",
                             "--export", str(tmp_path / "out")], capsys)
    lines = err.strip().splitlines()
    assert status == EXIT_BUG == 70
    assert len(lines) == 1 and lines[0].startswith("bnviz: error: internal error (RuntimeError")
    assert "please report this" in lines[0]
    written = Path(lines[0].rsplit(" ", 1)[1])
    assert written.parent == tmp_path and "Traceback" in written.read_text()
    assert "something bnviz did not expect" in written.read_text()


@pytest.mark.parametrize("target", ["missing-folder/run.npz", "a-folder", "file/run.npz"])
def test_unwritable_save_session_exits_2_before_training(tmp_path, capsys, target):
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "file").write_text("")
    config = tmp_path / "run.toml"
    config.write_text(RUN)
    start = time.perf_counter()
    status, err = status_of(["--headless", "--config", str(config), "--steps", "100000",
                             "--export", str(tmp_path / "out"), "--save-session",
                             str(tmp_path / target)], capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1, err
    assert lines[0].startswith("bnviz: error:") and "cannot save the session there" in lines[0]
    assert time.perf_counter() - start < 10   # refused before 100,000 steps of training
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ------------------------------------------------ the command, in a subprocess
def bnviz(*args, cwd):
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bnviz.app", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A saved session of two short runs and its arrays."""
    return good_session(tmp_path_factory.mktemp("good") / "good.npz")


def assert_one_line_or_success(proc):
    assert proc.returncode in (0, 2, 3), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode == 2:
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("bnviz: error:")]
        assert len(errors) == 1 and "out of resources" not in errors[0], proc.stderr


@settings(max_examples=COMMAND_EXAMPLES)   # each example starts Python, NumPy and Qt
@given(st.data())
def test_fuzz_headless_command(tmp_path_factory, session, data):
    tmp = tmp_path_factory.mktemp("cli")
    kind = data.draw(st.sampled_from(["config", "data", "session"]))
    if kind == "config":
        (tmp / "run.toml").write_text(data.draw(config_texts()), errors="replace")
        args = ["--config", "run.toml"]
    elif kind == "data":
        (tmp / "d.npz").write_bytes(data.draw(npz_files()))
        (tmp / "run.toml").write_text(RUN.replace('"moons"', '"file"') + 'data_path = "d.npz"\n')
        args = ["--config", "run.toml"]
    else:
        (tmp / "s.npz").write_bytes(data.draw(session_files(session)))
        args = ["--session", "s.npz"]
    proc = bnviz("--headless", *args, "--steps", "1", "--export", "out", cwd=tmp)
    assert_one_line_or_success(proc)
