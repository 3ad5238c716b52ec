"""Task views: a few pages of the window, each laid out for its figures.

Instead of every panel docked at once (each then a sliver), the window
shows one view at a time (tabs, Ctrl+1..n). A view is a small main window
of its own whose panels are docks: they can be detached, rearranged and
closed, and the view remembers that. A panel with nothing to show for the
run (the decision boundary of 64-feature digits, gamma and beta without
batch norm) leaves its view, and a line at the top of the view says why.
The view scrolls rather than squash its plots below a readable size.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtWidgets import (QAbstractButton, QDockWidget, QFrame, QLabel, QMainWindow, QScrollArea, QVBoxLayout,
                               QWidget)


@dataclass(frozen=True)
class ViewSpec:
    key: str
    title: str
    tip: str
    # Panels (object names), the first the widest; the others beside it,
    # one above the other (``beside``), or below it (``below``).
    main: str
    beside: tuple[str, ...] = ()
    below: tuple[str, ...] = ()
    main_share: float = 0.6   # of the width (beside) or height (below) the main panel takes

    @property
    def panels(self) -> tuple[str, ...]:
        return (self.main, *self.beside, *self.below)


VIEWS = (
    ViewSpec("layer", "Inside a layer",
             "One layer's values before and after batch norm, its learnt γ and β, and its "
             "batch statistics against the running averages",
             "distributions_panel", beside=("gamma_beta_panel", "running_stats_panel")),
    ViewSpec("training", "Training",
             "Loss and accuracy curves, gradient norms per layer, and the decision boundary "
             "of 2-D data", "training_curves_panel",
             beside=("gradients_panel", "decision_boundary_panel"), main_share=0.55),
    ViewSpec("test_time", "Test time",
             "The test-time lab: the same network in inference mode with batch, running and "
             "population statistics", "test_time_panel"),
    ViewSpec("compare", "Compare",
             "Runs trained in lockstep side by side: Ioffe & Szegedy's Fig. 1 (a), (b) and (c)",
             "compare_panel"),
    ViewSpec("sweep", "Sweep",
             "One run per value of a setting, for each normalization: their final test error "
             "against the setting (Run › Sweep…); Wu & He's Fig. 1", "sweep_panel"),
    ViewSpec("maps", "Feature maps",
             "A CNN's convolution blocks: one test example's maps, every channel before and after "
             "its normalization", "feature_maps_panel"),
    ViewSpec("landscape", "Landscape",
             "Why BN helps, measured as Santurkar et al. 2018 do: each layer's internal covariate "
             "shift and the loss landscape's smoothness along the gradient, for every run",
             "landscape_panel"),
)
VIEW_OF_PANEL = {name: spec.key for spec in VIEWS for name in spec.panels}
DEFAULT_VIEW = "layer"   # the one about the default run: what BN does inside a layer


class PanelDock(QDockWidget):
    """A panel's dock in a view. Shown when the user wants it (closing it
    unticks it in View › Panels) and the run gives it something to show."""

    wanted_changed = Signal()

    def __init__(self, panel, parent):
        super().__init__(panel.title, parent)
        self.panel = panel
        self.setObjectName("dock_" + panel.object_name)
        self.setWidget(panel)
        self.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                         | QDockWidget.DockWidgetClosable)
        self.wanted = True
        self.absence: str | None = None   # why the panel has nothing to show, or None
        self.toggle_action = self.toggleViewAction()
        self.toggle_action.setText(panel.title)
        self.toggle_action.setToolTip(f"Show or hide the {panel.title} panel")
        # The action shows and hides the dock; record what the user chose.
        self.toggle_action.triggered.connect(self._on_toggled)
        for button in self.findChildren(QAbstractButton):
            tip = {"qt_dockwidget_floatbutton": "Detach this panel into a window of its own, or "
                                                "put it back (double-click its title too)",
                   "qt_dockwidget_closebutton": "Close this panel (View › Panels brings it back)"}
            if button.objectName() in tip:
                button.setToolTip(tip[button.objectName()])
        # A tab raised or a dock shown: draw its latest frame once it is on screen.
        self.visibilityChanged.connect(lambda shown: shown and panel.show_latest())

    def _on_toggled(self, checked: bool) -> None:
        self.wanted = checked
        self.sync()
        self.wanted_changed.emit()

    def closeEvent(self, event) -> None:
        super().closeEvent(event)
        self.wanted = False
        self.wanted_changed.emit()

    def set_absence(self, reason: str | None) -> bool:
        """Returns whether it changed."""
        if reason == self.absence:
            return False
        self.absence = reason
        self.sync()
        return True

    def sync(self) -> None:
        show = self.wanted and self.absence is None
        if show == self.isHidden():
            self.setVisible(show)
        self.toggle_action.setEnabled(self.absence is None)
        self.toggle_action.setToolTip(self.absence or f"Show or hide the {self.panel.title} panel")


class View(QWidget):
    """One task view: the notes on absent panels above its panel docks, all
    in a scroll area so that a small screen scrolls instead of squashing."""

    MIN_WIDTH, MIN_HEIGHT = 620, 420   # below this the view scrolls

    def __init__(self, spec: ViewSpec, panels: dict, parent=None):
        super().__init__(parent)
        self.spec = spec
        self.setObjectName("view_" + spec.key)
        self.area = QMainWindow()
        self.area.setObjectName("view_area_" + spec.key)
        self.area.setDockNestingEnabled(True)
        self.area.setDockOptions(QMainWindow.AllowNestedDocks | QMainWindow.AllowTabbedDocks
                                 | QMainWindow.AnimatedDocks)
        self.docks = {name: PanelDock(panels[name], self.area) for name in spec.panels}
        for dock in self.docks.values():
            dock.wanted_changed.connect(self._update_notes)
        self.notes = QLabel()
        self.notes.setObjectName("view_notes")
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: #555; padding: 4px 8px;")
        self.notes.hide()
        self._arrange()
        self.default_state = self.area.saveState()

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.notes)
        column.addWidget(self.area, 1)
        inner.setMinimumSize(self.MIN_WIDTH, self.MIN_HEIGHT)
        scroll.setWidget(inner)
        self.scroll = scroll
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    def _arrange(self) -> None:
        spec, area = self.spec, self.area
        main = self.docks[spec.main]
        # No central widget: the docks share all of the view between them.
        area.setCentralWidget(None)
        area.addDockWidget(Qt.LeftDockWidgetArea, main)
        previous = main
        for name in spec.beside:
            area.addDockWidget(Qt.RightDockWidgetArea, self.docks[name])
            if previous is not main:
                area.splitDockWidget(previous, self.docks[name], Qt.Vertical)
            previous = self.docks[name]
        for name in spec.below:
            area.splitDockWidget(main, self.docks[name], Qt.Vertical)

    def fit_default(self, width: int, height: int) -> None:
        """Share ``width`` x ``height`` between the docks as the spec says."""
        spec, area = self.spec, self.area
        main = self.docks[spec.main]
        # (isHidden: the docks of a view in a tab behind are not visible, yet shown.)
        beside = [self.docks[n] for n in spec.beside if not self.docks[n].isHidden()]
        below = [self.docks[n] for n in spec.below if not self.docks[n].isHidden()]
        if beside:
            share = int(width * spec.main_share)
            area.resizeDocks([main, beside[0]], [share, width - share], Qt.Horizontal)
            if len(beside) > 1:
                each = height // len(beside)
                area.resizeDocks(beside, [each] * len(beside), Qt.Vertical)
        if below:
            share = int(height * spec.main_share)
            area.resizeDocks([main, below[0]], [share, height - share], Qt.Vertical)

    def panels(self) -> list:
        return [dock.panel for dock in self.docks.values()]

    def set_absences(self, reasons: dict) -> None:
        """``reasons``: {panel name: why it has nothing to show, or None}.
        Called with every frame: the notes are rewritten only on a change."""
        changed = [dock.set_absence(reasons.get(name)) for name, dock in self.docks.items()]
        if any(changed):
            self._update_notes()

    def _update_notes(self) -> None:
        lines = [f"<b>{dock.panel.title}</b> is hidden: {dock.absence}"
                 for dock in self.docks.values() if dock.absence]
        closed = [dock.panel.title for dock in self.docks.values() if not dock.wanted and not dock.absence]
        if closed:
            lines.append("Closed: " + ", ".join(closed) + " (View › Panels brings "
                         + ("it" if len(closed) == 1 else "them") + " back)")
        self.notes.setText("<br>".join(lines))
        self.notes.setVisible(bool(lines))
        # With every panel gone, the notes are the view: centre them.
        # (isHidden, not isVisible: a view in a tab behind is not visible, its docks not hidden.)
        empty = all(d.isHidden() for d in self.docks.values())
        self.notes.setAlignment(Qt.AlignCenter if empty else Qt.AlignLeft | Qt.AlignVCenter)
        self.area.setVisible(not empty)

    def save_state(self) -> QByteArray:
        return self.area.saveState()

    def closed(self) -> list[str]:
        """The panels the user closed (not those the run had no use for)."""
        return [name for name, dock in self.docks.items() if not dock.wanted]

    def restore_state(self, state, closed=()) -> None:
        """The docks' places as saved; which are shown is what the user
        chose (``closed``), not what the saved run happened to show."""
        self.area.restoreState(state)
        for name, dock in self.docks.items():
            dock.wanted = name not in closed
            dock.sync()
        self._update_notes()

    def reset(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.wanted = True
        self.area.restoreState(self.default_state)
        for dock in self.docks.values():
            dock.sync()
        self._update_notes()
