"""Can Qt start here? Asked before Qt is, so that a missing system library
or a missing display is one line, ``bnviz: error: ...``, naming it and
what to do, instead of Qt's abort.

Qt aborts (status 134) when no platform plugin loads, and its message
blames ``libxcb-cursor0`` whatever xcb library is really missing, and
even when there is no display at all. So, as ``QT_DEBUG_PLUGINS=1``
does, the plugin is loaded here first; when the dynamic loader refuses,
``ldd`` names every library it could not find, and each is mapped to the
Debian package that ships it.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

HEADLESS = "train and export without a window: bnviz --headless --steps N"
HEADLESS_HINT = f"or {HEADLESS}"

# Libraries whose Debian package is not named by the usual rule (below).
PACKAGES = {
    "libGL.so.1": "libgl1", "libEGL.so.1": "libegl1", "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0", "libGLdispatch.so.0": "libglvnd0",
    "libX11.so.6": "libx11-6", "libX11-xcb.so.1": "libx11-xcb1",
    "libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0", "libdbus-1.so.3": "libdbus-1-3",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libpng16.so.16": "libpng16-16",
    "libSM.so.6": "libsm6", "libICE.so.6": "libice6", "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6", "libxcb.so.1": "libxcb1",
}
# Platform plugins this module knows how to check: name -> file.
PLUGIN_FILES = {"xcb": "libqxcb.so", "offscreen": "libqoffscreen.so", "minimal": "libqminimal.so",
                "wayland": "libqwayland.so", "wayland-egl": "libqwayland.so"}
# What the window, the panels and export load, in PySide6/Qt/lib.
QT_LIBRARIES = ("libQt6Widgets.so.6", "libQt6Svg.so.6")


class QtUnavailable(Exception):
    """Qt cannot start here; the message is one line saying why and what to do."""


def package_for(soname: str) -> str:
    """The Debian package that ships ``soname``: the table above, else
    Debian's rule (libfoo-bar.so.3 -> libfoo-bar3, libfoo2.so.1 -> libfoo2-1)."""
    if soname in PACKAGES:
        return PACKAGES[soname]
    match = re.fullmatch(r"(lib.+?)\.so\.(\d+).*", soname)
    if not match:
        return soname
    name, major = match.groups()
    sep = "-" if name[-1].isdigit() else ""
    return f"{name.lower().replace('_', '-')}{sep}{major}"


def install_hint(libraries) -> str:
    """``sudo apt-get install ...`` for ``libraries`` (no sudo as root), or,
    without apt, a plain request to install them."""
    packages = sorted({package_for(lib) for lib in libraries})
    if shutil.which("apt-get") is None:
        return "install the packages that provide them"
    sudo = "" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo "
    return f"install them with: {sudo}apt-get install {' '.join(packages)}"


# -- finding what the dynamic loader cannot ------------------------------------

def _load(path: Path) -> None:
    """dlopen ``path``, as Qt will; OSError names the first library missing."""
    ctypes.CDLL(str(path))


def _ldd(path: Path) -> str:
    """What ``ldd`` prints for ``path`` ('' when there is no ldd)."""
    if shutil.which("ldd") is None:
        return ""
    try:
        return subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def missing_libraries(path: Path) -> list[str]:
    """The libraries ``path`` needs that cannot be loaded, in the order ldd
    lists them ([] when it loads). Loading stops at the first one missing,
    so ldd names the others; without ldd, only the first is known."""
    try:
        _load(path)
        return []
    except OSError as exc:
        first = str(exc).split(":", 1)[0].strip()
        named = first if first != str(path) and "/" not in first else ""
    listed = re.findall(r"^\s*(\S+) => not found", _ldd(path), flags=re.M)
    names = list(dict.fromkeys(listed)) or ([named] if named else [])
    return names or [f"a library {Path(path).name} needs (QT_DEBUG_PLUGINS=1 bnviz says which)"]


def qt_home() -> Path | None:
    """PySide6's Qt folder (lib/, plugins/), found without loading Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "Qt"


def plugin_file(platform: str) -> Path | None:
    """Where Qt will find the platform plugin ``platform``, searching as it
    does: QT_QPA_PLATFORM_PLUGIN_PATH, QT_PLUGIN_PATH, then PySide6's."""
    name = PLUGIN_FILES.get(platform)
    if name is None:
        return None
    folders = [os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")]
    folders += [str(Path(p) / "platforms") for p in os.environ.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    home = qt_home()
    if home is not None:
        folders.append(str(home / "plugins" / "platforms"))
    for folder in filter(None, folders):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def requested_platforms() -> list[str]:
    """The platform plugins Qt will try, in order, as QGuiApplication
    chooses them: QT_QPA_PLATFORM, else Wayland in a Wayland session (not
    GNOME's, where Qt keeps xcb) with xcb after it, else xcb."""
    env = os.environ.get("QT_QPA_PLATFORM", "").strip()
    if env:
        return [p.split(":", 1)[0] for p in env.split(";") if p]
    desktops = (os.environ.get("XDG_CURRENT_DESKTOP", "") + os.environ.get("XDG_SESSION_DESKTOP", "")).lower()
    if os.environ.get("XDG_SESSION_TYPE") == "wayland" and "gnome" not in desktops:
        return ["wayland", "xcb"]
    return ["xcb"]


# -- the checks ----------------------------------------------------------------

def check_qt_libraries() -> None:
    """Raise QtUnavailable when Qt's own libraries (QtGui's OpenGL, glib,
    fontconfig, ...) cannot load."""
    home = qt_home()
    if home is None:
        raise QtUnavailable("PySide6 is not installed: run ./install.sh in the checkout, "
                            "or pip install bnviz's dependencies")
    missing: list[str] = []
    for name in QT_LIBRARIES:
        if (home / "lib" / name).is_file():
            missing += [m for m in missing_libraries(home / "lib" / name) if m not in missing]
    if missing:
        raise QtUnavailable(f"Qt cannot load: {', '.join(missing)} not found: {install_hint(missing)}")


def platform_problem(platform: str) -> str | None:
    """Why the platform plugin ``platform`` will not start (None: it should).
    Unknown plugins are left to Qt (and to qt_startup_guard)."""
    if platform == "xcb":
        if not os.environ.get("DISPLAY"):
            return ("no display to open a window on (DISPLAY is not set): start bnviz in a desktop "
                    f"session, {HEADLESS_HINT}")
    elif platform.startswith("wayland"):
        socket = os.environ.get("WAYLAND_DISPLAY", "") or "wayland-0"
        path = Path(socket) if socket.startswith("/") else Path(os.environ.get("XDG_RUNTIME_DIR", "/nonexistent")) / socket
        if not path.exists():
            return (f"no Wayland display ({path} does not exist): start bnviz in a desktop "
                    f"session, {HEADLESS_HINT}")
    elif platform not in PLUGIN_FILES:
        return None
    plugin = plugin_file(platform)
    if plugin is None:
        where = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH") or str((qt_home() or Path("?")) / "plugins/platforms")
        return (f"Qt's {platform} platform plugin ({PLUGIN_FILES[platform]}) is not in {where}: "
                f"reinstall PySide6-Essentials, {HEADLESS_HINT}")
    missing = missing_libraries(plugin)
    if missing:
        what = "open a window" if platform not in ("offscreen", "minimal") else "start"
        return (f"Qt cannot {what}: its {platform} platform plugin needs {', '.join(missing)}, "
                f"not found: {install_hint(missing)}" + ("" if what == "start" else f", {HEADLESS_HINT}"))
    if platform == "xcb":
        return _x_display_problem(os.environ.get("DISPLAY", ""))
    return None


def _x_display_problem(display: str) -> str | None:
    """Connect to the X server as Qt's xcb plugin will (xcb_connect)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None   # reported with the plugin's libraries
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(None, None)
    try:
        failed = xcb.xcb_connection_has_error(conn)
    finally:
        xcb.xcb_disconnect(conn)
    if failed:
        return (f"cannot connect to the X display {display!r} (is its X server running, and may this "
                f"user open windows on it?): {HEADLESS}")
    return None


def check_window() -> None:
    """Raise QtUnavailable unless Qt can open a window with one of the
    platforms it will try."""
    check_qt_libraries()
    problems = [platform_problem(p) for p in requested_platforms()]
    if problems and all(problems):   # Qt starts the first one that works
        raise QtUnavailable(problems[0])


def require_offscreen() -> None:
    """Load what export needs: offscreen Qt, its SVG module and pyqtgraph,
    and a QApplication. Raise QtUnavailable when something will not load.
    A headless run calls it before training, so it fails in the first second."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    check_qt_libraries()
    problem = platform_problem("offscreen")
    if problem:
        raise QtUnavailable(problem)
    try:
        import pyqtgraph  # noqa: F401
        from PySide6 import QtSvg  # noqa: F401
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        raise QtUnavailable(f"cannot load what export needs: {exc}") from None
    if QApplication.instance() is None:
        with qt_startup_guard():
            QApplication([sys.argv[0] if sys.argv and sys.argv[0] else "bnviz"])


@contextmanager
def qt_startup_guard():
    """While the QApplication is made: Qt's warnings are held back, and a
    fatal one (no platform plugin could start) becomes one line and exit
    status 2 instead of an abort. The warnings are printed after a start
    that worked."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler
    held: list[str] = []

    def handler(mode, context, message):
        if mode != QtMsgType.QtFatalMsg:
            held.append(message)
            return
        said = [m for m in held if "platform plugin" in m and "xcb-cursor0" not in m]
        cause = (said[-1] if said else message.splitlines()[0]).rstrip(".")
        platforms = ";".join(requested_platforms())
        sys.stderr.write(f"bnviz: error: Qt could not start its platform plugin "
                         f"(QT_QPA_PLATFORM={platforms}): {cause}, {HEADLESS_HINT}\n")
        sys.stderr.flush()
        os._exit(2)

    qInstallMessageHandler(handler)
    try:
        yield
    finally:
        qInstallMessageHandler(None)
        for message in held:
            print(message, file=sys.stderr)
