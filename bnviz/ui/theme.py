"""Light and dark plot colours, following the desktop's colour scheme.

The window follows the desktop (Qt's ``colorScheme`` and its change
signal, or the palette when the platform does not say); figures written
to files stay on white unless the export asks for the dark colours
(``using``). Data colours keep their meaning in both: only the colours
that would vanish on a dark background (the black running averages, the
grey background series, the text) have a dark counterpart.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Theme:
    name: str
    background: str   # the plot area and the figure
    axis: str         # axis lines and ticks (the grid is drawn from it)
    text: str         # titles, tick and axis labels, legend
    running: str      # running (EMA) statistics: black on white
    light: str        # background series (all units)
    outline: str      # outlines of scatter points

    def counterpart(self, other: "Theme") -> dict[str, str]:
        """{this theme's colour: ``other``'s} for every role (lower case)."""
        return {getattr(self, f.name).lower(): getattr(other, f.name).lower()
                for f in fields(self) if f.name != "name"}


LIGHT = Theme("light", background="#ffffff", axis="#444444", text="#222222", running="#252525",
              light="#b8b8b8", outline="#222222")
DARK = Theme("dark", background="#1d1f23", axis="#a8a8a8", text="#e2e2e2", running="#f0f0f0",
             light="#5b5e66", outline="#e2e2e2")
THEMES = {t.name: t for t in (LIGHT, DARK)}

_current = [LIGHT]


def current() -> Theme:
    """The theme new plots are made in."""
    return _current[0]


def set_current(theme: Theme) -> None:
    _current[0] = theme


@contextmanager
def using(theme: Theme):
    """New plots in ``theme`` for the block (an export's offscreen copies)."""
    before = _current[0]
    _current[0] = theme
    try:
        yield theme
    finally:
        _current[0] = before


def desktop_theme(app) -> Theme:
    """DARK if the desktop asks for a dark scheme (or, when the platform does
    not say, if the application's window colour is dark), else LIGHT."""
    from PySide6.QtCore import Qt
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return DARK
    if scheme == Qt.ColorScheme.Light:
        return LIGHT
    return DARK if app.palette().window().color().lightness() < 128 else LIGHT


def restyle_plot(plot, theme: Theme) -> bool:
    """Give ``plot`` (made by make_plot) ``theme``'s colours: background,
    axes, texts, legend, the role colours of its data items. Returns False
    if it already had them."""
    old = getattr(plot, "bnviz_theme", LIGHT)
    if old is theme:
        return False
    colour_frame(plot, theme)
    item = plot.getPlotItem()
    for data in item.listDataItems():
        _remap_pen(data, old.counterpart(theme))
    backdrop = getattr(item, "bnviz_backdrop", None)
    if backdrop is not None:
        backdrop.set_background(theme.background)
    return True


def colour_frame(plot, theme: Theme) -> None:
    """``theme``'s colours on everything of ``plot`` but its data: the
    background, axes, axis labels, title and legend (new plots, and a
    colour scheme changed)."""
    import pyqtgraph as pg
    plot.bnviz_theme = theme
    plot.setBackground(theme.background)
    item = plot.getPlotItem()
    for side in ("left", "bottom"):
        axis = item.getAxis(side)
        axis.setPen(pg.mkPen(theme.axis))
        axis.setTextPen(pg.mkPen(theme.text))
        if axis.labelText:
            axis.labelStyle["color"] = theme.text
            axis.setLabel(axis.labelText, axis.labelUnits, **axis.labelStyle)
    title = item.titleLabel
    if title.text:
        title.setText(title.text, color=theme.text)
    legend = item.legend
    if legend is not None:
        legend.opts["labelTextColor"] = pg.mkColor(theme.text)
        for _, label in legend.items:
            label.setText(label.text, color=theme.text)


def _remap_pen(item, remap: dict[str, str]) -> None:
    import pyqtgraph as pg
    opts = getattr(item, "opts", None)
    for key in ("pen", "symbolPen"):
        pen = opts.get(key) if isinstance(opts, dict) else None
        if pen is None or isinstance(pen, (str, tuple)):
            continue
        pen = pg.mkPen(pen)
        name = pen.color().name().lower()
        if name in remap:
            pen.setColor(pg.mkColor(remap[name]))
            opts[key] = pen
            if key == "pen" and hasattr(item, "setPen"):
                item.setPen(pen)
            elif hasattr(item, "setSymbolPen"):
                item.setSymbolPen(pen)
