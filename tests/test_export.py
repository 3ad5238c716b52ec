"""export.py: figures, data and manifest of a real short run, written
atomically; right-click export on the plots."""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from bnviz import __version__, export
from bnviz.engine.config import RunConfig
from bnviz.engine.frame import frame_of
from bnviz.engine.trainer import Trainer
from bnviz.export import ExportError, export_all, export_png
from bnviz.figures import figure_panels
from bnviz.ui import plot_menu
from bnviz.ui.panels import TrainingCurvesPanel

ROOT = Path(__file__).resolve().parents[1]
TOY = dict(dataset="moons", hidden=(8, 6), batch_size=16, n_samples=200)


def short_run(**changes):
    tr = Trainer(RunConfig(**{**TOY, **changes}), summary_every=3)
    for _ in range(4):
        tr.step(10)
        tr.evaluate()
    return tr


@pytest.fixture(scope="module")
def run():
    return short_run()


@pytest.fixture(scope="module")
def exported(qapp, run, tmp_path_factory):
    """export_all of a real run's frame with the window's real panels."""
    frame = frame_of(run)
    panels = figure_panels(frame)
    folder = tmp_path_factory.mktemp("export") / "new" / "folder"   # created if missing
    written = export_all(folder, frame, panels, unit_csv=True)
    yield frame, panels, folder, written
    for p in panels:
        p.close()
        p.deleteLater()


def distinct_colours(img: QImage) -> int:
    return len({img.pixel(x, y) for x in range(0, img.width(), 5) for y in range(0, img.height(), 5)})


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def column(header, rows, name, dtype):
    j = header.index(name)
    return np.array([np.nan if r[j] == "" else float(r[j]) for r in rows]).astype(dtype)


# -------------------------------------------------------------- export_all
def test_every_file_is_written_and_listed(exported):
    frame, panels, folder, written = exported
    names = {p.name for p in written}
    assert {"config.toml", "data.csv", "data.npz", "manifest.json"} <= names
    # Moons with BN, one run: every plot but compare mode's, the example image
    # (none shown yet), Batch Renorm's r and d, the sweep's (no sweep yet) and
    # the two feature-map mosaics (no CNN) and the landscape's four (meters off).
    n_plots = sum(w.isVisibleTo(p) for p in panels for w in p.plot_widgets())
    assert n_plots == sum(len(p.plot_widgets()) for p in panels) - 4 - 1 - 1 - 1 - 2 - 4
    assert len([n for n in names if n.endswith(".png")]) == n_plots
    assert len([n for n in names if n.endswith(".svg")]) == n_plots
    assert sorted(os.listdir(folder)) == sorted(names)   # no temporary files left
    assert RunConfig.load(folder / "config.toml") == frame.config


def test_manifest(exported):
    frame, _, folder, written = exported
    m = json.loads((folder / "manifest.json").read_text())
    assert m["bnviz_version"] == __version__
    assert m["config"] == frame.config.to_dict()
    assert (m["seed"], m["step"], m["dataset"]) == (0, 40, "moons")
    assert datetime.fromisoformat(m["created"]).utcoffset().total_seconds() == 0
    listed = {f["name"]: f["bytes"] for f in m["files"]}
    assert set(listed) == {p.name for p in written} - {"manifest.json"}
    for name, size in listed.items():
        assert (folder / name).stat().st_size == size > 0


def test_pngs_are_real_figures_at_the_size_asked(exported, tmp_path):
    _, panels, folder, _ = exported
    for path in folder.glob("*.png"):
        img = QImage(str(path))
        assert not img.isNull() and distinct_colours(img) > 10, path.name
    plot = panels[0].plot_widgets()[0]
    w, h = plot.width(), plot.height()
    for scale in (1, 2):
        img = QImage(str(export_png(plot, tmp_path / f"s{scale}.png", scale)))
        assert (img.width(), img.height()) == (w * scale, h * scale)


def test_svgs_parse_and_carry_the_plot_title(exported):
    _, panels, folder, _ = exported
    plots = [(export.slug(p.object_name.removesuffix("_panel")), w) for p in panels
             for w in p.plot_widgets()]
    svgs = sorted(folder.glob("*.svg"))
    assert svgs
    for path in svgs:
        root = ET.parse(path).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        title = root.find(f"{ns}title").text
        # Qt may split a line into runs (a Greek letter from another font).
        texts = "".join((t.text or "").replace(" ", "") for t in root.iter(f"{ns}text"))
        assert title and title.replace(" ", "") in texts, path.name
        assert any(path.stem.startswith(panel) and export.plot_title(w) == title
                   for panel, w in plots), path.name


def test_csv_matches_the_history(exported):
    frame, _, folder, _ = exported
    h = frame.history
    header, rows = read_csv(folder / "data.csv")
    assert len(rows) == len(h) == 40 and len(set(header)) == len(header)
    assert header[:4] == ["step", "epoch", "loss", "batch_accuracy"]
    assert all(len(r) == len(header) for r in rows)
    assert not any("[" in name for name in header)   # per-unit series: data-units.csv
    np.testing.assert_array_equal(column(header, rows, "step", np.int64), h.steps["step"])
    np.testing.assert_array_equal(column(header, rows, "loss", np.float32), h.steps["loss"])
    np.testing.assert_array_equal(column(header, rows, "L0.grad_norm_gamma", np.float32),
                                  h.steps["L0.grad_norm_gamma"])
    # Summaries every 3rd step and evaluations every 10th: merged on the step.
    at = np.searchsorted(h.steps["step"], h.summaries["step"])
    pct = column(header, rows, "L0.pre_pct.p15", np.float32)
    np.testing.assert_array_equal(pct[at], h.summaries["L0.pre_pct"][:, 0])
    assert np.isnan(np.delete(pct, at)).all()
    at = np.searchsorted(h.steps["step"], h.evals["step"])
    acc = column(header, rows, "test_accuracy", np.float64)
    np.testing.assert_array_equal(acc[at], h.evals["test_accuracy"])   # float64 repr-exact
    assert sum(r[header.index("test_accuracy")] == "" for r in rows) == 40 - 4

    header, rows = read_csv(folder / "data-units.csv")
    assert len(rows) == 40 and header[0] == "step" and all("[" in name for name in header[1:])
    np.testing.assert_array_equal(column(header, rows, "L0.gamma[3]", np.float32),
                                  h.steps["L0.gamma"][:, 3])
    at = np.searchsorted(h.steps["step"], h.summaries["step"])
    unit = column(header, rows, "L1.act_in_unit_pct.p85[2]", np.float32)
    np.testing.assert_array_equal(unit[at], h.summaries["L1.act_in_unit_pct"][:, 2, 2])
    at = np.searchsorted(h.steps["step"], h.evals["step"])
    np.testing.assert_array_equal(column(header, rows, "L1.population_var[5]", np.float32)[at],
                                  h.evals["L1.population_var"][:, 5])


def test_npz_matches_the_history(exported):
    frame, _, folder, _ = exported
    h = frame.history
    with np.load(folder / "data.npz", allow_pickle=False) as z:
        expected = {f"{s}/{k}": v for s in ("steps", "summaries", "evals")
                    for k, v in getattr(h, s).items()}
        assert set(z.files) == set(expected)
        assert {"steps/loss", "summaries/L0.pre_pct", "evals/test_accuracy"} <= set(z.files)
        for k, v in expected.items():
            assert z[k].dtype == v.dtype and z[k].dtype != object
            np.testing.assert_array_equal(z[k], v)


def test_compare_mode_exports_every_run(run, tmp_path):
    other = frame_of(short_run(batchnorm=False), label="B: without BN")
    frame = dataclasses.replace(frame_of(run, label="A: with BN"), others=(other,))
    names = {p.name for p in export_all(tmp_path, frame)}
    assert {"run-b-config.toml", "run-b-data.csv", "run-b-data.npz"} <= names
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["others"][0]["label"] == "B: without BN"
    assert m["others"][0]["config"]["batchnorm"] is False
    assert {"run-b-data.csv", "run-b-config.toml"} <= {f["name"] for f in m["files"]}


def test_an_export_replaces_the_one_before_it_and_nothing_else(run, tmp_path):
    """A compare-mode export, then a single run's into the same folder: the
    first one's files are gone (its manifest listed them), the user's own
    files stay, and what is there is exactly what the new manifest lists."""
    other = frame_of(short_run(batchnorm=False), label="B: without BN")
    export_all(tmp_path, dataclasses.replace(frame_of(run, label="A: with BN"), others=(other,)))
    (tmp_path / "notes.txt").write_text("mine")
    written = export_all(tmp_path, frame_of(run))
    m = json.loads((tmp_path / "manifest.json").read_text())
    listed = {f["name"] for f in m["files"]} | {"manifest.json"}
    assert set(os.listdir(tmp_path)) == listed | {"notes.txt"}
    assert {p.name for p in written} == listed and not any(n.startswith("run-b-") for n in listed)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_old_manifest_never_reaches_outside_the_folder(run, tmp_path):
    """Names in an old manifest that are paths, hidden or not files are not
    removed: only plain files of the folder itself."""
    folder = tmp_path / "out"
    folder.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    (folder / ".hidden").write_text("keep")
    (folder / "sub").mkdir()
    (folder / "manifest.json").write_text(json.dumps({"bnviz_version": "0", "files": [
        {"name": "../precious.txt"}, {"name": str(outside)}, {"name": ".hidden"}, {"name": "sub"},
        {"name": 7}, "data.csv"]}))
    export_all(folder, frame_of(run))
    assert outside.read_text() == "keep" and (folder / ".hidden").read_text() == "keep"
    assert (folder / "sub").is_dir()


def test_an_export_that_fails_half_way_leaves_the_one_before(run, tmp_path, monkeypatch):
    """Disk full on the npz: the earlier export is as it was, with its own
    manifest, and no staging folder is left."""
    export_all(tmp_path, frame_of(run))
    before = {n: (tmp_path / n).read_bytes() for n in os.listdir(tmp_path)}
    import bnviz.export as ex
    real = ex._write

    def full(path, data):
        if path.suffix == ".npz":
            raise ExportError(f"cannot write {path}: No space left on device")
        return real(path, data)
    monkeypatch.setattr(ex, "_write", full)
    with pytest.raises(ExportError, match="No space"):
        export_all(tmp_path, frame_of(run))
    assert {n: (tmp_path / n).read_bytes() for n in os.listdir(tmp_path)} == before


def test_a_move_that_fails_while_swapping_puts_the_earlier_export_back(run, tmp_path, monkeypatch):
    """A file that cannot be replaced half-way through moving the new export
    in (locked, on some systems): every file is as it was before."""
    export_all(tmp_path, frame_of(run))
    before = {n: (tmp_path / n).read_bytes() for n in os.listdir(tmp_path)}
    real, moves = os.replace, {"n": 0}

    def flaky(src, dst):
        # Count only the moves of staged files into the folder (not writes
        # inside the staging folder, nor moves to and from its backup).
        if Path(dst).parent == tmp_path and Path(src).parent.name.startswith(".bnviz-export-"):
            moves["n"] += 1
            if moves["n"] == 2:
                raise PermissionError(13, "The file is in use", str(dst))
        return real(src, dst)
    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(ExportError, match="in use"):
        export_all(tmp_path, frame_of(short_run(batchnorm=False)))
    monkeypatch.setattr(os, "replace", real)
    assert moves["n"] == 2
    assert {n: (tmp_path / n).read_bytes() for n in os.listdir(tmp_path)} == before


def test_a_file_changed_since_the_earlier_export_is_kept(run, tmp_path):
    """The old manifest recorded each file's size: a file of that name the
    user has since rewritten is theirs now and stays."""
    other = frame_of(short_run(batchnorm=False), label="B: without BN")
    export_all(tmp_path, dataclasses.replace(frame_of(run, label="A: with BN"), others=(other,)))
    (tmp_path / "run-b-config.toml").write_text("# my notes on run B\n")
    export_all(tmp_path, frame_of(run))
    assert (tmp_path / "run-b-config.toml").read_text() == "# my notes on run B\n"
    assert not (tmp_path / "run-b-data.csv").exists()


def test_staging_left_by_a_killed_export_is_removed_by_the_next(run, tmp_path):
    from bnviz.engine.fileio import STALE_SECONDS
    from bnviz.export import STAGING_PREFIX
    stale, young = tmp_path / f"{STAGING_PREFIX}abcd1234", tmp_path / f"{STAGING_PREFIX}efgh5678"
    mine = tmp_path / f"{STAGING_PREFIX}backup"   # a user's folder of a similar name
    mine.mkdir()
    os.utime(mine, (0, STALE_SECONDS))
    for d in (stale, young):
        d.mkdir()
        (d / "data.csv").write_text("half")
    os.utime(stale, (0, STALE_SECONDS))
    export_all(tmp_path, frame_of(run))
    assert not stale.exists() and young.exists() and mine.exists()


# ------------------------------------------------------------- failures
def test_folder_under_a_file_raises_before_writing(run, tmp_path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("keep me")
    with pytest.raises(ExportError) as info:
        export_all(blocker / "sub", frame_of(run))
    assert str(blocker / "sub") in str(info.value) and "cannot write" in str(info.value)
    assert isinstance(info.value, OSError)
    assert blocker.read_text() == "keep me" and os.listdir(tmp_path) == ["plain-file"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can write into a read-only folder")
def test_read_only_folder_raises_and_stays_empty(run, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="Permission denied"):
            export_all(folder, frame_of(run))
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o700)


def test_data_export_needs_no_qt(tmp_path):
    code = ("import sys; from bnviz.engine import RunConfig, Trainer; from bnviz import export\n"
            "tr = Trainer(RunConfig(dataset='moons', hidden=(4,), n_samples=100, batch_size=10))\n"
            f"tr.step(3); export.export_data(tr.history.snapshot(), {str(tmp_path)!r})\n"
            "assert not [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]")
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["data.csv", "data.npz"]


# ------------------------------------------------------ right-click export
@pytest.fixture
def curves(qtbot, run, tmp_path, monkeypatch):
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    monkeypatch.setattr(plot_menu, "settings", lambda: store)
    panel = TrainingCurvesPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 450)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_frame(frame_of(run))
    return panel, store


def menu_actions(plot) -> dict:
    menu = plot.getPlotItem().getViewBox().menu
    return {a.text(): a for a in menu.actions()}


def test_every_plot_has_export_actions(curves):
    panel, _ = curves
    for plot in panel.plot_widgets():
        assert {"Export PNG…", "Export SVG…"} <= set(menu_actions(plot))


def test_export_actions_write_valid_files(curves, tmp_path, monkeypatch):
    panel, store = curves
    plot = panel.loss_plot
    asked = []

    def dialog(parent, caption, start, filters):
        asked.append(start)
        return str(tmp_path / "out" / Path(start).stem), filters   # no extension typed

    (tmp_path / "out").mkdir()
    monkeypatch.setattr(plot_menu.QFileDialog, "getSaveFileName", staticmethod(dialog))
    menu_actions(plot)["Export PNG…"].trigger()
    png = tmp_path / "out" / "mini-batch-loss.png"
    img = QImage(str(png))
    # A 16:9 slide's figure by default, whatever the plot's size on screen...
    assert (img.width(), img.height()) == (1920, 1080) and distinct_colours(img) > 10
    assert store.value(plot_menu.LAST_DIR_KEY) == str(tmp_path / "out")
    store.setValue("export/figure_size", "square")   # ...or the size of the last Export all
    menu_actions(plot)["Export PNG…"].trigger()
    assert QImage(str(png)).size().toTuple() == (1200, 1200)
    menu_actions(plot)["Export SVG…"].trigger()
    assert Path(asked[2]).parent == tmp_path / "out"   # starts in the last export folder
    root = ET.parse(tmp_path / "out" / "mini-batch-loss.svg").getroot()
    assert "Mini-batch loss" in root.find("{http://www.w3.org/2000/svg}title").text


def test_export_failure_is_shown(curves, tmp_path, monkeypatch):
    panel, _ = curves
    blocker = tmp_path / "plain-file"
    blocker.write_text("")
    monkeypatch.setattr(plot_menu.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a: (str(blocker / "x.png"), "")))
    shown = []
    monkeypatch.setattr(plot_menu.QMessageBox, "warning",
                        staticmethod(lambda parent, title, text: shown.append(text)))
    menu_actions(panel.accuracy_plot)["Export PNG…"].trigger()
    assert len(shown) == 1 and str(blocker / "x.png") in shown[0]


def test_exports_say_which_steps_each_row_covers():
    """A long run's merged rows carry their cover and envelope into CSV and NPZ."""
    import io as _io

    from bnviz.engine import RunConfig, Trainer
    tr = Trainer(RunConfig(dataset="moons", n_samples=200, hidden=(4,), batch_size=16, seed=1),
                 history_budget=1, summary_every=10)
    tr.advance(3000)
    tr.evaluate()
    h = tr.history.snapshot()
    assert h.steps["step_count"].max() > 1   # merged rows
    text = export.csv_bytes(h).decode()
    header = text.splitlines()[0].split(",")
    for name in ("step_first", "step_count", "loss.min", "loss.max", "summary_step_count",
                 "eval_step_count"):
        assert name in header, name
    assert len(set(header)) == len(header)
    with np.load(_io.BytesIO(export.npz_bytes(h))) as z:
        assert int(z["steps/step_count"].sum()) == 3000
        np.testing.assert_array_equal(z["steps/step_first"][1:], z["steps/step"][:-1] + 1)
        assert np.all(z["steps/loss.min"] <= z["steps/loss"]) and np.all(z["steps/loss"] <= z["steps/loss.max"])


def test_the_landscape_meters_are_exported_when_measured(tmp_path):
    from bnviz.engine.trainer import Trainer
    from bnviz.export import csv_bytes, npz_bytes
    tr = Trainer(RunConfig(dataset="moons", n_samples=120, hidden=(6, 5), meters=True, meter_every=3))
    tr.advance(9)
    h = tr.history.snapshot()
    text = csv_bytes(h).decode()
    header = text.splitlines()[0].split(",")
    assert {"L1.ics_distance", "landscape_smoothness", "meter_step_count"} <= set(header)
    col = header.index("landscape_loss_range")
    values = [line.split(",")[col] for line in text.splitlines()[1:]]
    assert [float(v) for v in values if v] == pytest.approx(list(h.meters["landscape_loss_range"]))
    import io
    with np.load(io.BytesIO(npz_bytes(h))) as z:
        np.testing.assert_array_equal(z["meters/L2.ics_cosine"], h.meters["L2.ics_cosine"])
    plain = Trainer(RunConfig(dataset="moons", n_samples=120, hidden=(6, 5)))
    plain.advance(3)
    assert "landscape" not in csv_bytes(plain.history.snapshot()).decode().splitlines()[0]
