"""GUI: entry point — ``longhand`` without arguments, or ``longhand-gui``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    if "PySide6.QtWidgets" not in sys.modules:
        # before Qt's first import: a missing X11 library gets the package names, not Qt's abort
        from ..core.qtlibs import preflight
        code = preflight()
        if code:
            return code
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .. import APP_NAME, __version__
    from .settings import APP, ORG
    from .window import MainWindow

    argv = list(sys.argv[1:] if argv is None else argv)
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1] + argv)
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    # app icon (windows, About box, task bar) and the .desktop file the window belongs to
    from PySide6.QtGui import QIcon

    from ..core.paths import icon_path, icon_sizes
    icon = QIcon()
    for size in icon_sizes():
        icon.addFile(str(icon_path(size)))
    app.setWindowIcon(icon)
    app.setDesktopFileName("longhand")
    window = MainWindow()
    window.show()
    project = next((a for a in argv if a.endswith(".longhand")), None)
    if project:
        window.open_project(project)
    if no_model_available(window):
        # first start of a fresh install: explain, and open the model manager
        QTimer.singleShot(300, lambda: first_start_without_model(window))
    else:
        # load the model in the background, so the first Plan starts at once
        QTimer.singleShot(300, window.preload_model)
    return app.exec()


def no_model_available(window) -> bool:
    """True when no model is chosen and none is installed (not even the demo)."""
    import importlib.util
    import os

    from ..core.library.demo import DEMO_PACKAGE, demo_model_path
    from ..core.library.installed import installed_models
    if window.engine_settings.model_path or os.environ.get("LONGHAND_MODEL"):
        return False
    if any(m.path.is_file() for m in installed_models()):
        return False
    return demo_model_path(assemble=False) is None and importlib.util.find_spec(DEMO_PACKAGE) is None


def first_start_without_model(window) -> None:
    """Say why nothing can be written yet, then open the model manager."""
    import logging

    from PySide6.QtWidgets import QMessageBox

    from .. import APP_NAME
    logging.getLogger(__name__).info("no model installed: opening the model manager")
    QMessageBox.information(
        window, APP_NAME,
        "<p><b>Longhand needs a language model to write, and none is installed yet.</b></p>"
        "<p>The model manager opens now. Download a LongWriter model (about 5 GB, once; "
        "Longhand then works offline) or import a .gguf file you already have.</p>"
        "<p>You can open it again at any time from File → Models…</p>")
    window.open_models()


if __name__ == "__main__":
    raise SystemExit(main())
