"""Installing and starting: the README's Quick start, install.sh and
.ci/run agree; when Qt cannot start, one line naming what is missing and
status 2; a headless run fails before it trains; the desktop entry; the
wheel carries resources/ and runs from a fresh virtual environment."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

import bnviz
from bnviz import app, qt_check

ROOT = Path(__file__).resolve().parents[1]
NO_DISPLAY = ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")


def quick_start() -> list[str]:
    """The commands of the first code block under the README's "Quick start"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```(?:bash|sh)\n(.*?)```", section, flags=re.S).group(1)
    lines = [re.sub(r"\s+#.*$", "", ln).strip() for ln in block.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def test_quick_start_is_two_commands_in_a_venv():
    launch, test = quick_start()   # exactly two
    for command in (launch, test):
        assert command.startswith("./install.sh") and ".venv/bin/" in command
    assert launch.endswith(".venv/bin/bnviz")
    assert "--test" in test and test.endswith("-m pytest")
    assert os.access(ROOT / "install.sh", os.X_OK)
    # .ci/run runs the README's test command, word for word.
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()


def install_sh_packages() -> set[str]:
    text = (ROOT / "install.sh").read_text()
    found = re.findall(r'^(?:OFFSCREEN|WINDOW)_PACKAGES="([^"]*)"', text, flags=re.M)
    assert len(found) == 2
    return set(" ".join(found).split())


def test_readme_names_the_packages_install_sh_installs():
    section = (ROOT / "README.md").read_text().split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    table = [ln for ln in section.splitlines() if ln.startswith("| `")]
    named = set(" ".join(re.findall(r"`([^`]*)`", " ".join(ln.split("|")[1] for ln in table))).split())
    assert named == install_sh_packages()


def test_install_sh_help_and_bad_option():
    assert subprocess.run(["bash", "-n", str(ROOT / "install.sh")]).returncode == 0
    proc = subprocess.run([str(ROOT / "install.sh"), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--test" in proc.stdout and ".venv" in proc.stdout
    proc = subprocess.run([str(ROOT / "install.sh"), "--nope"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--nope" in proc.stderr


@pytest.mark.parametrize("soname,package", [
    ("libGL.so.1", "libgl1"), ("libEGL.so.1", "libegl1"), ("libglib-2.0.so.0", "libglib2.0-0"),
    ("libgthread-2.0.so.0", "libglib2.0-0"), ("libdbus-1.so.3", "libdbus-1-3"),
    ("libxkbcommon.so.0", "libxkbcommon0"), ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libxcb-cursor.so.0", "libxcb-cursor0"), ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"), ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libfontconfig.so.1", "libfontconfig1"), ("libwayland-cursor.so.0", "libwayland-cursor0"),
])
def test_package_for_names_the_debian_package(soname, package):
    assert qt_check.package_for(soname) == package


def test_install_sh_installs_every_package_qt_check_can_name():
    # The libraries that a bare Debian 12 lacks for Qt (found there with ldd).
    bare = ["libEGL.so.1", "libGL.so.1", "libdbus-1.so.3", "libglib-2.0.so.0", "libgthread-2.0.so.0",
            "libxkbcommon.so.0", "libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-image.so.0",
            "libxcb-keysyms.so.1", "libxcb-render-util.so.0", "libxcb-shape.so.0", "libxcb-xkb.so.1",
            "libxkbcommon-x11.so.0", "libxcb-xfixes.so.0", "libxcb-randr.so.0", "libX11-xcb.so.1"]
    assert {qt_check.package_for(lib) for lib in bare} <= install_sh_packages()


# -- when Qt cannot start ------------------------------------------------------

def bnviz_cmd(*args, env_extra=None, drop=NO_DISPLAY, prelude=""):
    """``bnviz ARGS`` in a new process (after ``prelude``, Python run first:
    a monkeypatch), with the display variables in ``drop`` removed."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra or {})
    env["PYTHONPATH"] = str(ROOT)
    script = f"import sys\nfrom bnviz import qt_check\n{prelude}\nfrom bnviz.app import main\nsys.exit(main({list(args)!r}))\n"
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def one_error_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("bnviz: error: ") and "Traceback" not in proc.stderr
    return lines[0]


def test_no_display_is_one_line_exit_2():
    line = one_error_line(bnviz_cmd())
    assert "DISPLAY is not set" in line and "--headless" in line
    assert "xcb-cursor0" not in line   # not Qt's misleading guess


MISSING_XCB_LIBS = textwrap.dedent("""
    def _load(path):
        if path.name == "libqxcb.so":
            raise OSError("libxcb-icccm.so.4: cannot open shared object file: No such file or directory")
    qt_check._load = _load
    qt_check._ldd = lambda path: ("\\tlibxcb-icccm.so.4 => not found\\n\\tlibxcb-keysyms.so.1 => not found\\n"
                                  if path.name == "libqxcb.so" else "")
""")


def test_missing_xcb_library_is_named_with_its_package():
    proc = bnviz_cmd(env_extra={"DISPLAY": ":97", "QT_QPA_PLATFORM": "xcb"}, prelude=MISSING_XCB_LIBS)
    line = one_error_line(proc)
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in line
    assert "apt-get install libxcb-icccm4 libxcb-keysyms1" in line and "--headless" in line


def test_a_failing_qt_start_is_one_line_not_an_abort():
    # A plugin the check does not know is left to Qt, which aborts when it
    # cannot start it: the guard turns that into one line and status 2.
    line = one_error_line(bnviz_cmd(env_extra={"QT_QPA_PLATFORM": "nosuch"}))
    assert 'platform plugin "nosuch"' in line and "--headless" in line


def test_unreachable_x_display_is_named(monkeypatch):
    try:
        import ctypes
        ctypes.CDLL("libxcb.so.1")
    except OSError:
        pytest.skip("no libxcb.so.1 here")
    monkeypatch.setenv("DISPLAY", ":59999")
    monkeypatch.setattr(qt_check, "missing_libraries", lambda path: [])
    problem = qt_check.platform_problem("xcb")
    assert "cannot connect to the X display ':59999'" in problem and "--headless" in problem


def test_missing_libraries_loads_then_asks_ldd(monkeypatch, tmp_path):
    plugin = qt_check.plugin_file("offscreen")
    assert plugin is not None and qt_check.missing_libraries(plugin) == []

    def refuse(path):
        raise OSError("libEGL.so.1: cannot open shared object file: No such file or directory")
    monkeypatch.setattr(qt_check, "_load", refuse)
    monkeypatch.setattr(qt_check, "_ldd", lambda path: "")   # no ldd: the loader's first name
    assert qt_check.missing_libraries(plugin) == ["libEGL.so.1"]
    monkeypatch.setattr(qt_check, "_ldd", lambda path: "\tlibEGL.so.1 => not found\n"
                        "\tlibc.so.6 => /lib/libc.so.6\n\tlibGL.so.1 => not found\n")
    assert qt_check.missing_libraries(plugin) == ["libEGL.so.1", "libGL.so.1"]
    with pytest.raises(qt_check.QtUnavailable, match=r"Qt cannot load: libEGL.so.1, libGL.so.1 not found: "
                                                     r"install them with: (sudo )?apt-get install libegl1 libgl1"):
        qt_check.check_qt_libraries()


def test_requested_platforms_follow_qt(monkeypatch):
    for name in NO_DISPLAY + ("XDG_CURRENT_DESKTOP", "XDG_SESSION_DESKTOP"):
        monkeypatch.delenv(name, raising=False)
    assert qt_check.requested_platforms() == ["xcb"]
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    assert qt_check.requested_platforms() == ["wayland", "xcb"]
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "ubuntu:GNOME")   # Qt keeps xcb on GNOME
    assert qt_check.requested_platforms() == ["xcb"]
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert qt_check.requested_platforms() == ["offscreen"]


def test_headless_fails_before_training_when_export_cannot_load(monkeypatch, tmp_path, capsys):
    from bnviz import headless

    def refuse(path):
        if path.name == "libqoffscreen.so":
            raise OSError("libEGL.so.1: cannot open shared object file: No such file or directory")
    trained = []
    monkeypatch.setattr(qt_check, "_load", refuse)
    monkeypatch.setattr(qt_check, "_ldd", lambda path: "")
    monkeypatch.setattr(headless, "train", lambda *a, **k: trained.append(1))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    start = time.perf_counter()
    status = app.main(["--headless", "--steps", "100000", "--export", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and not trained and time.perf_counter() - start < 5
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "libEGL.so.1" in lines[0] and "apt-get install libegl1" in lines[0]
    assert not (tmp_path / "out").exists()


# -- packaging -----------------------------------------------------------------

def test_version_from_one_place():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "bnviz.__version__"}
    proc = subprocess.run([sys.executable, "main.py", "--version"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"bnviz {bnviz.__version__}"


def test_install_desktop_entry(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "argv", [str(ROOT / "main.py")])
    assert app.main(["--install-desktop-entry"]) == 0
    desktop = tmp_path / "applications" / "bnviz.desktop"
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "bnviz.svg"
    text = desktop.read_text()
    assert "Icon=bnviz" in text and "Type=Application" in text
    exec_line = next(ln for ln in text.splitlines() if ln.startswith("Exec="))
    assert Path(exec_line.split()[0].removeprefix("Exec=")).is_absolute()
    assert icon.read_bytes() == (ROOT / "resources" / "bnviz.svg").read_bytes()
    assert str(desktop) in capsys.readouterr().out
    if shutil.which("desktop-file-validate"):
        assert subprocess.run(["desktop-file-validate", str(desktop)]).returncode == 0
    assert app.main(["--remove-desktop-entry"]) == 0
    assert not desktop.exists() and not icon.exists()


def test_exec_line_quotes_what_the_spec_reserves():
    from bnviz.desktop import exec_line
    assert exec_line(["/opt/bnviz/bin/bnviz"]) == "/opt/bnviz/bin/bnviz"
    assert exec_line(["/home/a b/.venv/bin/bnviz"]) == '"/home/a b/.venv/bin/bnviz"'


def source_copy(dest: Path) -> Path:
    """What a source archive starts from: the project's files, no build output."""
    for name in ("pyproject.toml", "README.md", "main.py"):
        shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "bnviz", dest / "bnviz", ignore=ignore)
    shutil.copytree(ROOT / "resources", dest / "resources", ignore=ignore)
    return dest


def test_wheel_carries_resources_and_runs_from_a_fresh_venv(tmp_path):
    """As ``python -m build`` does it (a source archive, then the wheel
    from it), offline; then the wheel alone in a new venv opens the app."""
    try:
        import setuptools
        from setuptools import build_meta
    except ImportError:
        pytest.skip("setuptools (in the test extra) builds the wheel")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} cannot build this wheel offline (the test extra asks for 77 or newer)")
    src = source_copy((tmp_path / "src").mkdir() or tmp_path / "src")
    dist = tmp_path / "dist"
    dist.mkdir()
    here = os.getcwd()
    try:
        os.chdir(src)
        sdist = dist / build_meta.build_sdist(str(dist))
    finally:
        os.chdir(here)
    resources = sorted(p.name for p in (ROOT / "resources").iterdir() if p.is_file())
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        assert all(any(n.endswith(f"/resources/{r}") for n in names) for r in resources), names
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}   # 3.11.4 and newer
        tar.extractall(tmp_path / "unpacked", **safe)
    unpacked = next((tmp_path / "unpacked").iterdir())
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(dist), str(unpacked)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    wheel = next(dist.glob("bnviz-*.whl"))
    assert wheel.name.startswith(f"bnviz-{bnviz.__version__}-")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert {f"bnviz/resources/{r}" for r in resources} <= names
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "bnviz").rglob("*.py") if "__pycache__" not in p.parts}
    assert modules <= names, modules - names   # every package is listed in pyproject.toml

    # A new venv with only the wheel in it; its dependencies come from this
    # environment (a path, read after the venv's own site-packages).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    vpython = venv / "bin" / "python"
    site = subprocess.run([str(vpython), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    import numpy, PIL, pyqtgraph, PySide6, sklearn, tomli_w  # noqa: E401
    deps = {str(Path(m.__file__).resolve().parents[1])
            for m in (numpy, PIL, pyqtgraph, PySide6, sklearn, tomli_w)}
    Path(site, "bnviz-test-deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(vpython), "install", "--no-deps",
                           "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([str(venv / "bin" / "bnviz"), "--version"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == f"bnviz {bnviz.__version__}", proc.stderr
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import bnviz
        from bnviz.resources_path import resource_path
        assert Path(bnviz.__file__).is_relative_to({site!r}), bnviz.__file__
        icon = resource_path("bnviz.svg")
        assert icon.is_file() and icon.is_relative_to({site!r}), icon
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        app = QApplication(["bnviz"])
        shown = []
        def close_after_first_frame():   # the window, drawing what its training sends
            windows = [w for w in app.topLevelWidgets() if w.isVisible()]
            if not any(getattr(getattr(w, "model", None), "frame", None) is not None for w in windows):
                return QTimer.singleShot(50, close_after_first_frame)
            shown.extend(windows)
            for w in windows:
                w.close()
        QTimer.singleShot(50, close_after_first_frame)
        from bnviz.app import main
        status = main([])
        names = sorted(type(w).__name__ for w in shown)
        assert status == 0 and not app.windowIcon().isNull(), (status, names)
        print("opened", *names)
    """)
    proc = subprocess.run([str(vpython), "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "MainWindow" in proc.stdout.split(), proc.stderr
