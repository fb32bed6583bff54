"""GUI: a message inside the window (errors in plain words, notices), with a close button."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget


class Banner(QFrame):
    """A message inside the window (errors in plain words, notices), with a close button."""

    STYLES = {"error": "background:#fdecea; border:1px solid #e57373; color:#7f1d1d;",
              "info": "background:#e8f1fb; border:1px solid #90b4de; color:#0d3559;"}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind
        self.setStyleSheet(f"Banner {{ {self.STYLES[kind]} border-radius:4px; }} QLabel {{ border:none; }}")
        self.label.setText(text)
        self.show()
