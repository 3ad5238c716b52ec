"""Animations: the headless --animate writes a file that decodes, with the
asked frames and size, whose frames change over training; bad values are
one line and status 2."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from bnviz.animation import AnimationError, check_format, frame_steps
from bnviz.engine.config import RunConfig

from test_headless import status_of

SMALL = RunConfig(dataset="moons", n_samples=200, hidden=(8, 8), activation="tanh", batch_size=20, seed=1)


def test_frames_spread_evenly_over_the_steps():
    assert frame_steps(100, 10, 1.0) == list(range(10, 101, 10))
    assert frame_steps(7, 30, 2.0) == [1, 2, 3, 4, 5, 6, 7]   # at most one a step
    assert frame_steps(1000, 4, 0.5) == [500, 1000]


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_headless_animation_decodes_with_the_asked_frames_and_size(tmp_path, capsys, fmt):
    if fmt == "mp4":
        pytest.importorskip("imageio_ffmpeg")
    config = tmp_path / "run.toml"
    SMALL.save(config)
    out = tmp_path / "out"
    status, err = status_of(["--headless", "--config", str(config), "--steps", "60", "--animate",
                             "training_curves", "--fps", "6", "--seconds", "2", "--figure-size",
                             "640x360", "--animation-format", fmt, "--export", str(out)], capsys)
    assert status == 0, err
    assert "animated training_curves: 12 frames at 6 frames/s" in err
    path = out / f"training_curves.{fmt}"
    if fmt == "gif":
        from PIL import Image
        im = Image.open(path)
        assert im.size == (640, 360) and im.n_frames == 12
        assert im.info["duration"] in (160, 170)   # 1/6 s, in the hundredths a GIF stores
        frames = []
        for k in (0, 11):
            im.seek(k)
            frames.append(np.asarray(im.convert("RGB"), dtype=np.int16))
    else:
        import imageio.v2 as imageio
        reader = imageio.get_reader(path)
        frames = [np.asarray(f, dtype=np.int16) for f in reader]
        assert len(frames) == 12 and frames[0].shape == (360, 640, 3)
        assert reader.get_meta_data()["fps"] == 6
        frames = [frames[0], frames[-1]]
    # the curves grow: the first and last frames differ in many pixels
    assert (np.abs(frames[0] - frames[1]).sum(axis=2) > 60).mean() > 0.01
    manifest = json.loads((out / "manifest.json").read_text())
    assert path.name in {f["name"] for f in manifest["files"]}


@pytest.mark.parametrize("argv,words", [
    (["--animate", "nosuch"], "invalid choice: 'nosuch'"),
    (["--animate", "compare", "--fps", "0"], "--fps: must be from 1 to 60, got 0"),
    (["--animate", "compare", "--seconds", "soon"], "--seconds: expected a number from 0.5 to 120"),
    (["--fps", "10"], "--fps only applies with --animate"),
    (["--animate", "compare", "--sweep", "batch_size=4,8"], "--animate and --sweep cannot be combined"),
    (["--animate", "compare", "--animation-format", "avi"], "invalid choice: 'avi'"),
])
def test_bad_animation_arguments_are_one_line_and_status_2(argv, words, capsys):
    status, err = status_of(["--headless", "--steps", "10", *argv], capsys)
    assert status == 2 and words in err, err
    assert len(err.strip().splitlines()) == 1 or err.startswith("usage")


def test_a_missing_mp4_writer_says_how_to_get_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)   # import fails as if not installed
    with pytest.raises(AnimationError, match=r"bnviz\[mp4\]"):
        check_format("mp4")
    status, err = status_of(["--headless", "--steps", "10", "--animate", "compare",
                             "--animation-format", "mp4"], capsys)
    assert status == 2 and "bnviz[mp4]" in err and "or write a GIF" in err


def test_gif_delays_add_up_to_the_length():
    from bnviz.animation import gif_durations
    for n, fps in ((30, 30), (200, 20), (7, 3), (50, 50)):
        d = gif_durations(n, fps)
        assert len(d) == n and all(x % 10 == 0 and x >= 10 for x in d)
        assert abs(sum(d) - 1000 * n / fps) <= 5


def test_a_panel_with_nothing_to_show_is_refused_before_training(capsys, tmp_path):
    status, err = status_of(["--headless", "--preset", "Two moons, no BN", "--steps", "10", "--animate",
                             "landscape", "--export", str(tmp_path / "out")], capsys)
    assert status == 2 and "--animate landscape: nothing to show for this run: the landscape meters are off" in err
    assert not (tmp_path / "out" / "manifest.json").exists()
    status, err = status_of(["--headless", "--steps", "10", "--animate", "compare", "--fps", "60"], capsys)
    assert status == 2 and "a GIF plays at most 50 frames per second" in err


def test_a_run_that_diverges_still_gets_its_animation(capsys, tmp_path):
    from PIL import Image
    config = tmp_path / "wild.toml"
    SMALL.replace(activation="identity", batchnorm=False, lr=100.0, init="gaussian", init_std=3.0).save(config)
    out = tmp_path / "out"
    status, err = status_of(["--headless", "--config", str(config), "--steps", "400", "--animate",
                             "training_curves", "--fps", "5", "--seconds", "4", "--figure-size", "640x360",
                             "--export", str(out)], capsys)
    assert status == 3 and "diverged" in err, err
    frames = Image.open(out / "training_curves.gif").n_frames
    assert 1 <= frames < 20
