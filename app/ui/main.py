"""GUI: entry point (placeholder until the desktop GUI lands)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv[:1] + list(argv or []))
    label = QLabel("Longhand")
    label.resize(400, 200)
    label.show()
    return app.exec()
