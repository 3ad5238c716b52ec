"""Figures and data out: one module for the window's menus, the plots'
right-click menus and headless runs.

The data half (``export_data``, ``export_all`` without panels) needs no
display: Qt is imported only inside the functions that draw.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from . import __version__
from .engine.compare import run_letter
from .engine.fileio import remove_stale, write_atomic
from .figures import DEFAULT_FIGURE, FIGURE_SCALE, FIGURE_SIZES, laid_out, layout_size

FORMATS = ("png", "svg")
STORES = ("steps", "summaries", "evals", "meters")
# Written only with rows: the landscape meters, off by default (else columns of nothing).
IF_MEASURED = ("meters",)


def stores_of(history) -> tuple[str, ...]:
    """The stores an export writes of ``history``."""
    return tuple(s for s in STORES if s not in IF_MEASURED or len(getattr(history, s)["step"]))
# Which steps a row stands for (rows of a long run merge several steps):
# ``step`` is its last, ``step_first`` its first, ``step_count`` how many.
COVER = ("step_first", "step_count")
STORE_PREFIX = {"summaries": "summary_", "evals": "eval_", "meters": "meter_"}
PERCENTILES = ("p15", "p50", "p85")   # the rows of a summary's (3, ...) series
MANIFEST = "manifest.json"
STAGING_PREFIX = ".bnviz-export-"   # an export being written (tempfile adds 8 characters)
STAGING_NAME = re.compile(r"^\.bnviz-export-[A-Za-z0-9_]{8}$")
MAX_MANIFEST_BYTES = 1 << 20
EXPORTED_SUFFIXES = (".toml", ".csv", ".npz", ".png", ".svg")   # what an export writes


class ExportError(OSError):
    """An export could not be written; the message names the file or folder
    and the reason."""


# ------------------------------------------------------------------ files
def prepare_folder(folder) -> Path:
    """Create ``folder`` if missing and prove it writable by creating and
    removing a file in it, so an export fails before writing anything."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".bnviz-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ExportError(f"cannot write to export folder {folder}: {reason}") from None
    return folder


def _write(path: Path, data: bytes) -> Path:
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


GREEK = str.maketrans({"γ": " gamma ", "β": " beta ", "μ": " mu ", "σ": " sigma ", "ε": " eps "})


def slug(text: str, limit: int = 48) -> str:
    """A filesystem-safe lower-case name: ASCII words joined by '-', cut
    at a word boundary to at most ``limit`` characters."""
    words = re.findall(r"[a-z0-9]+", text.lower().translate(GREEK))
    out = ""
    for word in words:
        if out and len(out) + 1 + len(word) > limit:
            break
        out = f"{out}-{word}" if out else word[:limit]
    return out or "figure"


def figure_name(title: str) -> str:
    """A stable name from a plot title: the step it shows and remarks in
    parentheses change during a run, so they are left out."""
    title = re.sub(r"<[^>]*>", " ", title)              # rich-text tags
    title = re.sub(r"\([^)]*\)", " ", title)
    title = re.sub(r"\b(at )?step \d+\b", " ", title, flags=re.IGNORECASE)
    return slug(title)


# ---------------------------------------------------------------- figures
def _paint(widget, painter, width: float, height: float, laid_out: bool = False) -> None:
    """Paint ``widget`` into a (width x height) logical area of ``painter``;
    ``laid_out``: a plot laid out at that size in its scene (figures.laid_out)."""
    from PySide6.QtCore import QPoint, QRectF, Qt
    from PySide6.QtWidgets import QGraphicsView
    if isinstance(widget, QGraphicsView) and widget.scene() is not None:
        # Through the scene, not the view: items are then painted with no
        # widget, so cached on-screen pixmaps (the plots' Backdrop) are
        # drawn as vectors and stay sharp at any scale.
        target = QRectF(0, 0, width, height)
        painter.fillRect(target, widget.backgroundBrush())
        source = target if laid_out else widget.mapToScene(widget.viewport().rect()).boundingRect()
        widget.scene().render(painter, target, source, Qt.AspectRatioMode.IgnoreAspectRatio)
    else:   # a widget with its children (a whole view)
        widget.render(painter, QPoint(0, 0))


def plot_title(widget) -> str:
    """The plot's title as plain text (else the widget's window title or name)."""
    item = getattr(widget, "getPlotItem", None)
    if item is not None:
        text = item().titleLabel.text
        if text:
            return re.sub(r"<[^>]*>", "", text)
    return widget.windowTitle() or widget.objectName() or "bnviz figure"


def export_png(widget, path, scale: float = 1.0, size=None) -> Path:
    """Write ``widget`` as it looks on screen to a PNG ``scale`` times its
    size in pixels (text and lines drawn at that resolution, not enlarged);
    ``size``: a plot's figure size, once laid out at it (figures.laid_out)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    w, h = _extent(widget, size)
    image = QImage(max(1, round(w * scale)), max(1, round(h * scale)),
                   QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(scale)   # the painter works in logical pixels
    image.fill(0xFFFFFFFF)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        _paint(widget, painter, w, h, laid_out=size is not None)
    finally:
        painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buf, "PNG"):
        raise ExportError(f"cannot encode {path} as PNG")
    buf.close()
    return _write(Path(path), bytes(data))


def _extent(widget, size) -> tuple[float, float]:
    if size is not None:
        return max(1.0, float(size[0])), max(1.0, float(size[1]))
    return max(1, widget.width()), max(1, widget.height())


def export_svg(widget, path, size=None) -> Path:
    """Write ``widget`` to an SVG file as vectors, titled with its plot title.
    QSvgGenerator at the widget's DPI, not pyqtgraph's exporter (which
    fails on PySide6 6.11+)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator
    w, h = _extent(widget, size)
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buf)
    gen.setSize(QSize(round(w), round(h)))
    gen.setViewBox(QRect(0, 0, round(w), round(h)))
    gen.setResolution(widget.logicalDpiX())   # else text comes out at the wrong size
    gen.setTitle(plot_title(widget))
    gen.setDescription(f"Exported by bnviz {__version__}")
    painter = QPainter(gen)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        _paint(widget, painter, w, h, laid_out=size is not None)
    finally:
        painter.end()
    buf.close()
    return _write(Path(path), bytes(data))


def export_panel(panel, folder, stem: str = "", scale: float = FIGURE_SCALE,
                 formats=FORMATS, size=None) -> list[Path]:
    """Export every plot of ``panel`` as its own figure, named
    ``{stem}{panel}-{plot title}.{format}``, each laid out alone at ``size``
    (layout pixels; by default a 16:9 slide's), its PNG ``scale`` times that.

    One file per plot rather than the whole panel: a plot alone fits a
    slide, its text stays large relative to the figure, and the panel's
    controls (check boxes, selectors) do not belong in a figure."""
    folder = Path(folder)
    panel_name = slug(panel.object_name.removesuffix("_panel"))
    base = (stem + "-" if stem else "") + panel_name
    written, used = [], set()
    for i, plot in enumerate(panel.plot_widgets()):
        if not plot.isVisibleTo(panel):
            continue   # e.g. the decision boundary's plot, replaced by a message for digits
        fig = figure_name(plot_title(plot))
        if fig.startswith(panel_name):   # "decision-boundary", not twice
            fig = fig[len(panel_name):].strip("-")
        name = f"{base}-{fig}" if fig else base
        if name in used:
            name = f"{name}-{i + 1}"
        used.add(name)
        written += export_figure(plot, folder / name, size, scale, formats)
    return written


def export_figure(plot, base: Path, size=None, scale: float = FIGURE_SCALE,
                  formats=FORMATS) -> list[Path]:
    """``plot`` laid out alone at ``size`` (layout pixels), written as
    ``base.png`` (``scale`` times that) and/or ``base.svg``."""
    size = size or layout_size(FIGURE_SIZES[DEFAULT_FIGURE])
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown figure format {unknown[0]!r} (known: {', '.join(FORMATS)})")
    written = []
    with laid_out(plot, size):
        for fmt in formats:
            path = base.with_name(f"{base.name}.{fmt}")
            if fmt == "png":
                written.append(export_png(plot, path, scale, size=size))
            else:
                written.append(export_svg(plot, path, size=size))
    return written


# ------------------------------------------------------------------- data
def _text(a: np.ndarray) -> np.ndarray:
    """Shortest text that reads back as the same value of the array's dtype."""
    return np.asarray(a).astype(str)


def csv_columns(history, per_unit: bool = False) -> list[tuple[str, str, np.ndarray]]:
    """(column name, store, (n,) array) of the CSV columns but ``step``:
    the scalar series (loss, accuracies, gradient norms, whole-layer
    percentiles ``name.p15``), or with ``per_unit`` the series of every
    unit instead: (D,) series become ``name[j]``, per-unit percentile
    summaries ``name.p15[j]``."""
    out = []
    for store_name in stores_of(history):
        store = getattr(history, store_name)
        for key, arr in store.items():
            if key == "step":
                continue
            arr = np.asarray(arr)
            if key in COVER and store_name != "steps":
                key = f"{STORE_PREFIX[store_name]}{key}"   # every store's rows say what they cover
            if (arr.ndim == 1 or (store_name == "summaries" and arr.ndim == 2)) == per_unit:
                continue   # the other file's column
            if arr.ndim == 1:
                out.append((key, store_name, arr))
            elif store_name == "summaries":
                for p, pname in enumerate(PERCENTILES):
                    sub = arr[:, p]
                    if sub.ndim == 1:
                        out.append((f"{key}.{pname}", store_name, sub))
                    else:
                        out.extend((f"{key}.{pname}[{j}]", store_name, sub[:, j])
                                   for j in range(sub.shape[1]))
            else:
                flat = arr.reshape(len(arr), int(np.prod(arr.shape[1:])))
                out.extend((f"{key}[{j}]", store_name, flat[:, j]) for j in range(flat.shape[1]))
    return out


def csv_bytes(history, per_unit: bool = False) -> bytes:
    """The history as CSV: one row per step any store has (every kept step,
    plus an evaluation's step should thinning have dropped it from the
    steps store), empty cells where a store has no row for a step."""
    stores = {s: np.asarray(getattr(history, s)["step"]) for s in stores_of(history)}
    steps = np.unique(np.concatenate(list(stores.values())))
    rows = {s: np.searchsorted(steps, st) for s, st in stores.items()}
    columns, header = [_text(steps)], ["step"]
    for name, store_name, arr in csv_columns(history, per_unit):
        col = np.full(len(steps), "", dtype=object)
        col[rows[store_name]] = _text(arr)
        columns.append(col)
        header.append(name)
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns))
    return text.getvalue().encode("utf-8")


def npz_bytes(history) -> bytes:
    """Every array of the stores, keyed ``store/name``."""
    arrays = {f"{s}/{k}": np.ascontiguousarray(v) for s in stores_of(history)
              for k, v in getattr(history, s).items()}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def export_data(history, folder, stem: str = "data", unit_csv: bool = False) -> list[Path]:
    """Write ``{stem}.csv`` (the scalar series) and ``{stem}.npz`` (every
    array) of a HistorySnapshot; with ``unit_csv`` also ``{stem}-units.csv``,
    the series of every unit (one column each: large for wide layers, about
    25 MB per 1,000 steps of a 3 x 100 network, hence optional)."""
    folder = prepare_folder(folder)
    written = [_write(folder / f"{stem}.csv", csv_bytes(history)),
               _write(folder / f"{stem}.npz", npz_bytes(history))]
    if unit_csv:
        written.append(_write(folder / f"{stem}-units.csv", csv_bytes(history, per_unit=True)))
    return written


# -------------------------------------------------------------- everything
def run_prefix(frame, index: int) -> str:
    """``run-B-`` for compare mode's second run: the label's letter
    ("B: without BN"), else the run's position."""
    head = frame.label.split(":", 1)[0].strip()
    return f"run-{slug(head, 16) if head else run_letter(index)}-"


def _run_entry(frame, files: list[Path]) -> dict:
    return {"label": frame.label, "step": frame.step, "seed": frame.config.seed,
            "dataset": frame.config.dataset, "diverged_at": frame.diverged_at,
            "config": frame.config.to_dict(), "files": [p.name for p in files]}


def export_all(folder, frame, panels=None, scale: float = FIGURE_SCALE,
               formats=FORMATS, unit_csv: bool = False, size=None, extra=()) -> list[Path]:
    """Write a run's config (``config.toml``), its data (``data.csv``,
    ``data.npz``), the figures of ``panels`` and ``manifest.json``; in
    compare mode each other run's config and data with a ``run-B-`` prefix.
    Returns the paths written, the manifest last. Raises ExportError, before
    writing anything, if ``folder`` cannot be created or written.

    Everything is first written into a private staging folder inside
    ``folder`` and moved in only once complete; the files of an earlier
    export there (those its manifest lists, unchanged since) are removed
    then, so the folder never holds two runs, and an export that fails at
    any point leaves the earlier one as it was (``_swap_in``). ``extra``:
    (name, bytes) of more files to write with them (an animation)."""
    return export_staged(folder, lambda staging: _export_into(staging, frame, panels, scale, formats,
                                                              unit_csv, size, extra))


def export_staged(folder, write_into) -> list[Path]:
    """``write_into(staging)`` writes an export's files into a private
    staging folder inside ``folder`` and returns them, its manifest last;
    they then replace the earlier export there as one (see export_all)."""
    folder = prepare_folder(folder)
    remove_stale(folder, STAGING_NAME, folders=True)   # of exports killed half-way
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
        staged = write_into(staging)
        return _swap_in(folder, staged, staging / ".replaced")
    except OSError as exc:
        if isinstance(exc, ExportError):
            raise
        raise ExportError(f"cannot write the export in {folder}: {exc.strerror or exc}") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _swap_in(folder: Path, staged: list[Path], backup: Path) -> list[Path]:
    """Move the staged files into ``folder``, the manifest last, after moving
    aside every file they replace and every file of the earlier export
    (``previous_export``), its manifest first; if a move fails, everything
    is put back as it was and the error raised."""
    backup.mkdir()
    new_names = {p.name for p in staged}
    aside = [n for n in previous_export(folder) if n not in new_names]
    aside = [MANIFEST, *[n for n in aside if n != MANIFEST],
             *[p.name for p in staged if p.name != MANIFEST]]
    moved_aside, moved_in = [], []
    try:
        for name in aside:
            if (folder / name).is_file():
                os.replace(folder / name, backup / name)
                moved_aside.append(name)
        for p in staged:
            os.replace(p, folder / p.name)
            moved_in.append(folder / p.name)
        return moved_in
    except OSError:
        for target in reversed(moved_in):
            try:
                target.unlink()
            except OSError:
                pass
        for name in reversed(moved_aside):
            try:
                os.replace(backup / name, folder / name)
            except OSError:
                pass
        raise


def _export_into(folder: Path, frame, panels, scale, formats, unit_csv, size, extra=()) -> list[Path]:
    written = [_write(folder / "config.toml", frame.config.to_toml().encode("utf-8"))]
    written += export_data(frame.history, folder, "data", unit_csv)
    runs = []
    for i, other in enumerate(frame.others, start=1):
        prefix = run_prefix(other, i)
        files = [_write(folder / f"{prefix}config.toml", other.config.to_toml().encode("utf-8"))]
        files += export_data(other.history, folder, f"{prefix}data", unit_csv)
        runs.append(_run_entry(other, files))
        written += files
    for panel in panels or ():
        written += export_panel(panel, folder, "", scale, formats, size)
    written += [_write(folder / name, data) for name, data in extra]
    main = _run_entry(frame, [])
    del main["files"]   # the manifest lists every file below, with sizes
    return write_manifest(folder, written, {**main, "others": runs})


def write_manifest(folder: Path, written: list[Path], facts: dict) -> list[Path]:
    """``written`` and, last, ``manifest.json``: bnviz's version, the time,
    ``facts`` and every file with its size (what the next export replaces)."""
    manifest = {
        "bnviz_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **facts,
        "files": [{"name": p.name, "bytes": p.stat().st_size} for p in written],
    }
    return [*written, _write(folder / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))]



def previous_export(folder: Path) -> list[str]:
    """The files of the bnviz export already in ``folder``: those its
    manifest lists that are plain files of this folder with a name an
    export writes and the size the manifest recorded, and the manifest;
    [] when there is none, or it is not bnviz's or cannot be read (then
    nothing is removed). Names are never paths: nothing outside the folder,
    and no file changed since that export, is ever touched."""
    path = folder / MANIFEST
    try:
        if not path.is_file() or path.stat().st_size > MAX_MANIFEST_BYTES:
            return []
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(manifest, dict) or "bnviz_version" not in manifest:
        return []
    entries = manifest.get("files")
    names = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        name, size = entry.get("name"), entry.get("bytes")
        if not (isinstance(name, str) and name == Path(name).name and not name.startswith(".")
                and name.endswith(EXPORTED_SUFFIXES) and isinstance(size, int)):
            continue
        try:
            st = os.lstat(folder / name)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_size == size:
            names.append(name)
    return [*names, MANIFEST]
