"""GUI: entry point — ``longhand`` without arguments, or ``longhand-gui``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .. import APP_NAME, __version__
    from .settings import APP, ORG
    from .window import MainWindow

    argv = list(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1] + argv)
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
    # load the model in the background, so the first Plan starts at once
    QTimer.singleShot(300, window.preload_model)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
