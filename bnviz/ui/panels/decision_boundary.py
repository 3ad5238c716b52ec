"""DecisionBoundaryPanel: the classifier's output over the plane, for 2-D
data, drawn as TensorFlow Playground does: colour = class, paleness = doubt."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout

from ...engine.settings import NORMS
from ..theme import current as current_theme
from .base import CLASS_COLORS, Panel, StickyRange, make_plot, message_label, set_title

NO_BOUNDARY = ("The decision boundary is drawn for 2-D data sets "
               "(moons, circles, spiral, XOR, blobs)")
STRENGTH = 0.6    # the most confident pixel is this far from white: points stay visible
NAN_GREY = 200    # pixels whose probabilities are NaN (a diverged run)


def _rgb(hex_color: str) -> np.ndarray:
    c = pg.mkColor(hex_color)
    return np.array([c.red(), c.green(), c.blue()], dtype=np.float64)


PALETTE = np.stack([_rgb(c) for c in CLASS_COLORS])  # (10, 3)


def boundary_rgb(probs: np.ndarray) -> np.ndarray:
    """(H, W, K) probabilities -> (H, W, 3) uint8 image. Each pixel is the
    colour of its most likely class, blended toward white as confidence
    falls to chance (1/K). For K = 2 this is a diverging map of p(class 1)."""
    h, w, k = probs.shape
    finite = np.all(np.isfinite(probs), axis=2)
    p = np.where(finite[..., None], probs, 0.0)
    best = p.argmax(axis=2)
    conf = p.max(axis=2)
    t = np.clip((conf - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0) * STRENGTH if k > 1 else \
        np.full((h, w), STRENGTH)
    color = PALETTE[best % len(PALETTE)]
    img = 255.0 * (1.0 - t[..., None]) + color * t[..., None]
    img[~finite] = NAN_GREY
    return img.astype(np.uint8)


class DecisionBoundaryPanel(Panel):
    """Heat map of the predicted class over the plane, training points on top."""

    title = "Decision boundary"
    object_name = "decision_boundary_panel"
    help_text = (
        "For data with two features: the class the network predicts at every point of the "
        "plane, argmax<sub>k</sub> softmax(f(x))<sub>k</sub>, in inference mode (BN uses its "
        "running statistics), with the training points on top in their true class colours.")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = make_plot("Decision boundary (inference mode, running statistics)",
                              "feature 1 (standardised)", "feature 2 (standardised)",
                              legend=False, grid_on_top=True)
        # Not aspect-locked: the (standardised) plane fills the plot, wide or
        # tall, instead of a square of it in wide empty axes.
        self.range = StickyRange(self.plot)
        self.image = pg.ImageItem(axisOrder="row-major")  # image[row = y, col = x]
        self.plot.addItem(self.image)
        self.scatter = pg.ScatterPlotItem(size=6, pen=pg.mkPen(current_theme().outline, width=0.8))
        self.plot.addItem(self.scatter)
        self._brushes = [pg.mkBrush(c) for c in CLASS_COLORS]
        self._points = None   # the points array last given to the scatter
        self._boundary = None   # the grid last drawn
        self.message = message_label(NO_BOUNDARY)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot)
        self.stack.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.control_row())
        layout.addWidget(self.stack)

    def absence(self, frame) -> str | None:
        if frame.boundary is not None:
            return None
        data = ("the 8×8 digits have 64" if frame.config.dataset == "digits"
                else "this data file has more")
        return (f"a decision boundary is drawn for data with two features; {data}. "
                "The 2-D data sets (moons, circles, spiral, XOR, blobs) show it.")

    def plot_widgets(self) -> list:
        return [self.plot]

    def _draw(self, frame) -> None:
        b = frame.boundary
        if b is None:
            self.stack.setCurrentWidget(self.message)
            return
        self.stack.setCurrentWidget(self.plot)
        # The worker sends the same grid until it computes a new one (a few
        # times a second): draw, and retitle with the step, only new ones.
        if b is self._boundary:
            return
        self._boundary = b
        self.image.setImage(boundary_rgb(b.probs), autoLevels=False, levels=(0, 255))
        x0, x1, y0, y1 = float(b.xs[0]), float(b.xs[-1]), float(b.ys[0]), float(b.ys[-1])
        # Pixel centres sit on the grid points, so the image reaches half a cell beyond.
        dx = (x1 - x0) / max(len(b.xs) - 1, 1)
        dy = (y1 - y0) / max(len(b.ys) - 1, 1)
        self.image.setRect(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy)
        self.range.update(x=(x0 - dx / 2, x1 + dx / 2), y=(y0 - dy / 2, y1 + dy / 2))
        if b.points is not self._points:  # the training points only change with the run
            labels = np.asarray(b.labels)
            brushes = [self._brushes[int(c) % len(self._brushes)] for c in labels]
            ok = np.all(np.isfinite(b.points), axis=1)
            self.scatter.setData(pos=np.asarray(b.points)[ok],
                                 brush=[br for br, keep in zip(brushes, ok) if keep])
            self._points = b.points
        cfg = frame.config
        mode = ("running statistics" if cfg.has_running_stats()
                else NORMS[cfg.norm] if any(cfg.bn_layers()) else "no batch norm")
        set_title(self.plot, f"Decision boundary at step {frame.step} (inference mode, {mode})",
                  live=True)

    def _clear(self) -> None:
        self.image.clear()
        self.scatter.clear()
        self._points = self._boundary = None
        self.range.reset()
        self.stack.setCurrentWidget(self.plot)
        set_title(self.plot, "Decision boundary (inference mode, running statistics)")
