"""bnviz in the desktop's application menu: ``bnviz --install-desktop-entry``
writes the .desktop file and the icon under the user's XDG data folder
(``$XDG_DATA_HOME``, else ``~/.local/share``), as the freedesktop.org
specifications ask; ``--remove-desktop-entry`` takes them away again."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .resources_path import resource_path


def data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def entry_paths() -> tuple[Path, Path]:
    """Where the .desktop file and the icon go."""
    home = data_home()
    return (home / "applications" / "bnviz.desktop",
            home / "icons" / "hicolor" / "scalable" / "apps" / "bnviz.svg")


def launcher() -> list[str]:
    """The command that started this bnviz, to start it again from the menu:
    the ``bnviz`` script (a venv's, pipx's), else this Python on main.py or
    ``-m bnviz``."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "bnviz" and argv0.is_file():
        return [os.path.abspath(argv0)]
    beside = Path(sys.executable).parent / "bnviz"
    if beside.is_file():
        return [str(beside)]
    main_py = Path(__file__).resolve().parent.parent / "main.py"
    if main_py.is_file():
        return [sys.executable, str(main_py)]
    return [sys.executable, "-m", "bnviz"]


def exec_line(argv: list[str]) -> str:
    """``argv`` quoted for a desktop entry's Exec key (double quotes around
    an argument with a space or a reserved character)."""
    def quote(arg: str) -> str:
        if not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
            return arg
        return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return " ".join(quote(a).replace("%", "%%") for a in argv)


def install_desktop_entry() -> int:
    desktop, icon = entry_paths()
    lines = []
    for line in resource_path("bnviz.desktop").read_text().splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + exec_line(launcher())
        lines.append(line)
    desktop.parent.mkdir(parents=True, exist_ok=True)
    icon.parent.mkdir(parents=True, exist_ok=True)
    desktop.write_text("\n".join(lines) + "\n")
    shutil.copyfile(resource_path("bnviz.svg"), icon)
    _refresh_caches(desktop.parent, icon.parents[2])
    print(f"bnviz: installed {desktop} and {icon}; bnviz is in the applications menu "
          f"(it starts {shlex.join(launcher())})")
    return 0


def remove_desktop_entry() -> int:
    removed = []
    for path in entry_paths():
        if path.exists():
            path.unlink()
            removed.append(str(path))
    desktop, icon = entry_paths()
    _refresh_caches(desktop.parent, icon.parents[2])
    print(f"bnviz: removed {', '.join(removed)}" if removed else "bnviz: no desktop entry was installed")
    return 0


def _refresh_caches(applications: Path, icon_theme: Path) -> None:
    """Tell the desktop's caches, where their tools are installed (they
    notice by themselves too, only later)."""
    for tool, args in (("update-desktop-database", [str(applications)]),
                       ("gtk-update-icon-cache", ["--quiet", "--ignore-theme-index", str(icon_theme)])):
        if shutil.which(tool):
            subprocess.run([tool, *args], capture_output=True, timeout=30, check=False)
