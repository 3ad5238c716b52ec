"""Figures for slides: every plot of every panel, laid out alone at each
figure size, has its title, axis labels, ticks and whole legend inside the
image; an exported PNG has exactly the size asked for."""
from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtGui import QImage

from bnviz.engine.frame import frame_of
from bnviz.export import export_figure
from bnviz.figures import FIGURE_SIZES, figure_panels, laid_out, layout_size, parse_size

from test_export import short_run as _trained  # noqa: E402 - a real short run, as there


@pytest.fixture(scope="module")
def panels(qapp):
    """Every panel, compare mode included (two runs), drawing a real frame."""
    a, b = _trained(), _trained(batchnorm=False)
    frame = dataclasses.replace(frame_of(a, label="A: with BN"),
                                others=(frame_of(b, label="B: without BN"),))
    made = figure_panels(frame)
    yield made
    for p in made:
        p.close()
        p.deleteLater()


def _figures(panels):
    for panel in panels:
        for plot in panel.plot_widgets():
            if plot.isVisibleTo(panel) and hasattr(plot, "getPlotItem"):
                yield panel, plot


def _inside(rect, figure, what) -> None:
    assert figure.contains(rect), f"{what}: {rect} not inside the figure {figure}"


@pytest.mark.parametrize("preset", list(FIGURE_SIZES))
def test_every_figure_has_its_title_axes_and_legend_inside(panels, preset):
    size = layout_size(FIGURE_SIZES[preset])
    checked = 0
    for panel, plot in _figures(panels):
        item = plot.getPlotItem()
        name = f"{panel.object_name}: {item.titleLabel.text[:40]!r} at {preset}"
        with laid_out(plot, size) as figure:
            title = item.titleLabel
            if title.isVisible() and title.text:
                _inside(title.sceneBoundingRect(), figure, name + " title")
                # The text itself, not only its box: a long title is not cut off.
                text = title.item.mapRectToScene(title.item.boundingRect())
                _inside(text, figure, name + " title text")
            for side in ("left", "bottom"):
                axis = item.getAxis(side)
                if axis.isVisible():
                    _inside(axis.sceneBoundingRect(), figure, f"{name} {side} axis")
                    label = axis.label.mapRectToScene(axis.label.boundingRect())
                    if axis.labelText:
                        _inside(label, figure, f"{name} {side} axis label")
            legend = item.legend
            if legend is not None and legend.isVisible() and legend.items:
                _inside(legend.sceneBoundingRect(), figure, name + " legend")
                for sample, label in legend.items:   # every entry, whole
                    _inside(label.mapRectToScene(label.boundingRect()), figure, name + " legend entry")
                shown = [i for i in item.listDataItems() if i.isVisible() and i.name()]
                assert len(legend.items) >= len(shown), name
            view = item.getViewBox().sceneBoundingRect()
            _inside(view, figure, name + " plot area")
            assert view.height() > 0.25 * figure.height(), f"{name}: data squeezed to {view.height()}"
            checked += 1
    assert checked >= 15   # every panel's plots, compare mode's included


def test_an_exported_figure_has_the_size_asked_for(panels, tmp_path):
    _, plot = next(_figures(panels))
    before = plot.getPlotItem().geometry()
    for text, pixels in (("16:9", (1920, 1080)), ("square", (1200, 1200)), ("1000x700", (1000, 700))):
        assert parse_size(text) == pixels
        png, svg = export_figure(plot, tmp_path / text.replace(":", "-"), layout_size(pixels))
        img = QImage(str(png))
        assert (img.width(), img.height()) == pixels
        assert 'width="' in svg.read_text()[:2000]
    assert plot.getPlotItem().geometry() == before   # laid out again as on screen


@pytest.mark.parametrize("text", ["wide", "10x10", "1920", "1920x99999", "axb"])
def test_bad_figure_sizes_are_refused_in_words(text):
    with pytest.raises(ValueError, match="figure"):
        parse_size(text)
