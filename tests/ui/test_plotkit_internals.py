"""The pyqtgraph internals bnviz.ui.plotkit relies on (its docstring lists
them, numbered as here). Each test names what changed when a pyqtgraph
release breaks it."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QGraphicsGridLayout

from bnviz.ui.panels.base import add_curve, make_plot
from bnviz.ui.plotkit import LiveCurve


@pytest.fixture
def plot(qtbot):
    w = make_plot("internals", "step", "value")
    w.resize(400, 300)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_1_tick_values_are_levels_of_spacing_and_values_coarse_first(qtbot):
    levels = pg.AxisItem("left").tickValues(0.0, 10.0, 500)
    assert isinstance(levels, list) and len(levels) >= 2, f"AxisItem.tickValues returned {levels!r}"
    spacings = [s for s, _ in levels]
    assert spacings == sorted(spacings, reverse=True), \
        f"AxisItem.tickValues no longer lists coarse levels first: spacings {spacings}"
    assert all(0.0 <= v <= 10.0 for _, values in levels for v in values)


def test_2_array_to_line_segments_and_drawargs():
    from pyqtgraph.graphicsItems.PlotCurveItem import arrayToLineSegments
    segments = arrayToLineSegments(np.arange(4.0), np.array([0.0, 1.0, np.nan, 3.0]),
                                   connect="finite", finiteCheck=True)
    args = segments.drawargs()
    assert len(args) == 2 and args[1] == 1, \
        f"arrayToLineSegments(...).drawargs() changed: {args!r} (expected (lines, 1): one finite segment)"


def test_3_qpolygonf_shares_memory_with_its_array():
    poly = pg.functions.create_qpolygonf(3)
    xy = pg.functions.ndarray_from_qpolygonf(poly)
    assert xy.shape == (3, 2), f"ndarray_from_qpolygonf gives shape {xy.shape}, not (3, 2)"
    xy[:, 0], xy[:, 1] = (1.0, 2.0, 3.0), (4.0, 5.0, 6.0)
    assert (poly[2].x(), poly[2].y()) == (3.0, 6.0), \
        "the array of ndarray_from_qpolygonf no longer writes into the polygon"


def test_4_viewbox_auto_range_state_and_child_transform(plot):
    vb = plot.getPlotItem().getViewBox()
    vb.enableAutoRange()
    auto = vb.state["autoRange"]
    assert len(auto) == 2 and all(a is not False for a in auto), \
        f"ViewBox.state['autoRange'] after enableAutoRange() is {auto!r}"
    vb.disableAutoRange()
    assert vb.state["autoRange"] == [False, False], vb.state["autoRange"]
    vb.setRange(xRange=(0, 100), yRange=(0, 1), padding=0)
    t = vb.childTransform()
    assert isinstance(t, QTransform), f"ViewBox.childTransform() returned {type(t)}"
    p = t.map(pg.Point(100, 1))
    assert p.x() == pytest.approx(vb.width(), abs=1) and p.y() == pytest.approx(0, abs=1), \
        "ViewBox.childTransform() no longer maps data to the ViewBox's pixels"


def test_5_plot_item_auto_button_attributes(plot):
    item = plot.getPlotItem()
    for name in ("autoBtn", "_exportOpts", "mouseHovering", "buttonsHidden", "updateButtons"):
        assert hasattr(item, name), f"PlotItem.{name} is gone (StickyRange uses it)"
    assert item._exportOpts is False, f"PlotItem._exportOpts at rest is {item._exportOpts!r}, not False"


def test_6_a_live_curve_is_a_data_item_to_plot_viewbox_and_legend(plot, qtbot):
    curve = add_curve(plot, "a curve", "#3182bd")
    assert isinstance(curve, LiveCurve)
    item = plot.getPlotItem()
    assert curve in item.listDataItems(), "PlotItem no longer lists a LiveCurve among its data items"
    assert curve.parentItem() is item.getViewBox().childGroup, \
        "a curve's parent is no longer the ViewBox's child group (LiveCurve._pixel_size)"
    curve.setData(np.arange(10.0), np.arange(10.0) ** 2)
    vb = item.getViewBox()
    vb.enableAutoRange()
    vb.updateAutoRange()
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x0 <= 0 and x1 >= 9 and y0 <= 0 and y1 >= 81, \
        f"ViewBox autorange no longer reads LiveCurve.dataBounds: view {vb.viewRange()}"
    legend = item.legend
    assert any(label.text == "a curve" for _, label in legend.items), \
        "LegendItem no longer takes a LiveCurve (name(), opts)"
    plot.grab()   # the legend's ItemSample paints from curve.opts


def test_7_plot_item_layout_legend_and_title(plot):
    item = plot.getPlotItem()
    assert isinstance(item.layout, QGraphicsGridLayout), f"PlotItem.layout is {type(item.layout)}"
    assert item.layout.itemAt(4, 0) is item.legend, "the legend is no longer in row 4 of PlotItem.layout"
    assert hasattr(item, "titleLabel"), "PlotItem.titleLabel is gone"
