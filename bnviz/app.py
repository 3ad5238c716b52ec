"""bnviz's entry point: ``python main.py`` and the ``bnviz`` command."""
from __future__ import annotations

import os
import sys


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Small matrices train faster on one BLAS thread, and a second one would
    # fight the GUI thread for the other core. Set before NumPy loads.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        from .cli import parse
    except ImportError as exc:   # run from a checkout without its dependencies installed
        print(f"bnviz: error: {exc.name or exc} is not installed: run ./install.sh in the checkout "
              "(then .venv/bin/bnviz), or pip install bnviz's dependencies", file=sys.stderr)
        return 2
    args, config = parse(argv)
    if args.max_data_mb is not None:
        # Before any process starts: the training processes inherit it.
        from .engine.npzfile import set_data_limit_mb
        set_data_limit_mb(args.max_data_mb)
    if args.install_desktop_entry or args.remove_desktop_entry:
        from . import desktop
        return desktop.install_desktop_entry() if args.install_desktop_entry else desktop.remove_desktop_entry()
    if args.headless:
        from . import headless  # forces offscreen Qt before it imports Qt: no display needed
        return headless.run(args, config)
    if not _qt_started():
        # A missing system library or display: one line naming it, not Qt's abort.
        from .qt_check import QtUnavailable, check_window
        try:
            check_window()
        except QtUnavailable as exc:
            print(f"bnviz: error: {exc}", file=sys.stderr)
            return 2
    from .training.process import prestart
    prestart()   # the training process's server starts while the window is built
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from .qt_check import qt_startup_guard
    from .resources_path import resource_path
    from .ui.main_window import MainWindow

    app = QApplication.instance()
    if app is None:
        with qt_startup_guard():   # should Qt still fail to start: one line and status 2
            app = QApplication([sys.argv[0]])
    app.setApplicationName("bnviz")
    app.setDesktopFileName("bnviz")   # Wayland finds the menu entry's icon by this name
    app.setOrganizationName("bnviz")
    app.setApplicationDisplayName("bnviz")
    app.setWindowIcon(QIcon(str(resource_path("bnviz.svg"))))
    from .cli import runs_from_args
    from .engine.config import ConfigError
    try:
        configs, labels = runs_from_args(args, config)
    except ConfigError as exc:
        print(f"bnviz: error: {exc}", file=sys.stderr)
        return 2
    window = MainWindow(configs[0])
    if args.session:
        window.files.open_session(args.session)   # a bad file: a message, and the default run goes on
    elif args.lesson:
        window.compare.open_lesson(args.lesson)
    elif len(configs) > 1:
        window.compare.start_runs(configs, labels)
    window.show()
    return app.exec()


def _qt_started() -> bool:
    """Is there a QApplication already (bnviz.app.main called from a
    program or a test that made one)?"""
    widgets = sys.modules.get("PySide6.QtWidgets")
    return widgets is not None and widgets.QApplication.instance() is not None


if __name__ == "__main__":
    sys.exit(main())
