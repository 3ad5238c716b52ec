"""Animations of a panel over training, for slides: a GIF (Pillow) or an
MP4 (imageio with its ffmpeg, the optional extra ``bnviz[mp4]``).

Each frame is the panel drawing the run's real frame at that step, taken
while it trains (never reconstructed afterwards), rendered offscreen at a
figure size. Qt is imported inside the functions, as in ``figures``.
"""
from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np

FORMATS = ("gif", "mp4")
FPS_RANGE = (1, 60)
GIF_MAX_FPS = 50   # a GIF's delays are hundredths of a second, and players floor them at 2
SECONDS_RANGE = (0.5, 120.0)
MAX_FRAMES = 3600
LAYOUT_WIDTH = 960   # layout pixels across a frame: a panel's plots read as on a laptop's screen
MP4_EXTRA = "pip install 'bnviz[mp4]' (imageio and imageio-ffmpeg, whose wheel carries ffmpeg)"


class AnimationError(Exception):
    """An animation that cannot be made: the message names why."""


def panel_names() -> tuple[str, ...]:
    """What ``--animate`` takes: each panel's name without ``_panel``."""
    from .ui.panels import ALL_PANELS
    return tuple(cls.object_name.removesuffix("_panel") for cls in ALL_PANELS)


def check_format(fmt: str, fps: int | None = None) -> None:
    """Raise AnimationError if ``fmt`` (at ``fps``) cannot be written here."""
    if fps is not None and fmt == "gif" and fps > GIF_MAX_FPS:
        raise AnimationError(f"a GIF plays at most {GIF_MAX_FPS} frames per second (its delays are "
                             f"hundredths of a second), got {fps}: use --fps {GIF_MAX_FPS} or mp4")
    if fmt not in FORMATS:
        raise AnimationError(f"unknown animation format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "mp4":
        try:
            import imageio.v2  # noqa: F401
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise AnimationError(f"writing MP4 needs imageio and imageio-ffmpeg: {MP4_EXTRA}; "
                                 "or write a GIF") from None
    else:
        try:
            import PIL.Image  # noqa: F401
        except ImportError:
            raise AnimationError("writing GIF needs Pillow: pip install pillow") from None


def frame_steps(steps: int, fps: int, seconds: float) -> list[int]:
    """The training steps at which frames are taken: ``fps * seconds`` of
    them spread evenly over ``steps`` (at most one per step), the last at
    the end."""
    n = max(1, min(int(round(fps * seconds)), steps, MAX_FRAMES))
    return sorted({max(1, round(steps * k / n)) for k in range(1, n + 1)})


class PanelRecorder:
    """Frames of one panel's plots (its controls left out):
    ``capture(frame)`` draws the run's frame and keeps the picture;
    ``encode(format, fps)`` makes the file."""

    def __init__(self, panel, pixels: tuple[int, int]):
        """``pixels``: each frame's size; the plots are laid out LAYOUT_WIDTH
        wide and drawn at pixels / layout."""
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication
        self.panel = panel
        self.pixels = (int(pixels[0]), int(pixels[1]))
        self.scale = self.pixels[0] / LAYOUT_WIDTH
        w, h = LAYOUT_WIDTH, int(round(self.pixels[1] / self.scale))
        panel.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        panel.resize(w, h)
        panel.show()   # panels draw only while visible; offscreen, nothing appears
        QApplication.instance().processEvents()
        self._fitted = False
        # Each frame kept compressed (plots are mostly flat colour: a 1920 x 1080
        # frame of 6 MB keeps in about 0.1 MB), decoded one at a time to encode.
        self.frames: list[bytes] = []

    def _plots_area(self):
        from PySide6.QtCore import QPoint, QRect
        area = QRect()
        for plot in self.panel.plot_widgets():
            if plot.isVisibleTo(self.panel):
                area = area.united(QRect(plot.mapTo(self.panel, QPoint(0, 0)), plot.size()))
        return area if not area.isEmpty() else self.panel.rect()

    def capture(self, frame) -> None:
        from PySide6.QtWidgets import QApplication

        from .ui.panels.base import flush_titles
        panel = self.panel
        app = QApplication.instance()
        panel.set_frame(frame)
        panel.redraw()
        app.processEvents()
        if not self._fitted:   # with the first frame its plots are shown
            # The controls above the plots are not part of a slide: the panel
            # is made taller by their height, and only the plots' area is drawn.
            self._fitted = True
            panel.resize(panel.width(), panel.height() + self._plots_area().top())
            app.processEvents()
            panel.redraw()
            app.processEvents()
        flush_titles(panel)   # the step in a title, set now rather than a moment later
        self.frames.append(zlib.compress(self._picture().tobytes(), 1))

    def frame(self, k: int) -> np.ndarray:
        """Frame ``k`` as an (h, w, 3) RGB array."""
        w, h = self.pixels
        return np.frombuffer(zlib.decompress(self.frames[k]), np.uint8).reshape(h, w, 3)

    def _picture(self) -> np.ndarray:
        from PySide6.QtCore import QPoint
        from PySide6.QtGui import QImage
        panel = self.panel
        image = QImage(round(panel.width() * self.scale), round(panel.height() * self.scale),
                       QImage.Format.Format_RGB32)
        image.setDevicePixelRatio(self.scale)   # laid out at layout size, drawn at the pixels
        image.fill(0xFFFFFFFF)
        panel.render(image, QPoint(0, 0))
        raw = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
        bgra = raw[:, :image.width() * 4].reshape(image.height(), image.width(), 4)
        w, h = self.pixels
        top = min(round(self._plots_area().top() * self.scale), max(0, image.height() - h))
        out = np.full((h, w, 3), 255, np.uint8)   # the plots, under the controls
        piece = bgra[top:top + h, :w, [2, 1, 0]]   # RGB
        out[:piece.shape[0], :piece.shape[1]] = piece
        return out

    def encode(self, fmt: str, fps: int) -> bytes:
        """The frames as a GIF or MP4 file's bytes."""
        if not self.frames:
            raise AnimationError("no frames were taken")
        check_format(fmt, fps)
        n = len(self.frames)
        return _gif(self.frame, n, fps) if fmt == "gif" else _mp4(self.frame, n, fps)

    def close(self) -> None:
        self.panel.close()
        self.panel.deleteLater()


def gif_durations(n: int, fps: int) -> list[int]:
    """Each frame's delay in milliseconds, whole hundredths of a second (what
    a GIF stores), spread so that the animation lasts n / fps seconds."""
    ends = [round(100 * (k + 1) / fps) for k in range(n)]
    return [10 * (b - a) for a, b in zip([0, *ends[:-1]], ends)]


def _gif(frame, n: int, fps: int) -> bytes:
    from PIL import Image
    # One palette for the whole animation, from its first, middle and last
    # frames side by side (the panels' few colours), so colours do not flicker.
    sample = np.concatenate([frame(k) for k in sorted({0, n // 2, n - 1})], axis=1)
    palette = Image.fromarray(sample).quantize(colors=255, method=Image.Quantize.MEDIANCUT)

    def quantized(k):
        return Image.fromarray(frame(k)).quantize(palette=palette, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    quantized(0).save(buf, format="GIF", save_all=True, append_images=(quantized(k) for k in range(1, n)),
                      duration=gif_durations(n, fps), loop=0, disposal=1)
    return buf.getvalue()


def _mp4(frame, n: int, fps: int) -> bytes:
    import tempfile

    import imageio.v2 as imageio
    # H.264 wants even sides.
    h, w = (s - s % 2 for s in frame(0).shape[:2])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "animation.mp4"
        with imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264", quality=8,
                                macro_block_size=1, pixelformat="yuv420p") as writer:
            for k in range(n):
                writer.append_data(frame(k)[:h, :w])
        return path.read_bytes()
