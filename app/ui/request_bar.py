"""GUI: the request bar — what to write, how long, Plan / Write / Stop, the model and the job.

Layout only: the window connects the widgets to the project and the job controller.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSpinBox, QWidget

from ..core.engine.writer import MAX_TARGET, MIN_TARGET
from .tracker import Meter


class RequestBar(QWidget):
    """The instruction, the target length, the job buttons, the model line and the job line."""

    def __init__(self, default_target: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.instruction = QPlainTextEdit()
        self.instruction.setPlaceholderText(
            "What should the model write? e.g. “Write a 5000-word story about a lighthouse keeper "
            "who finds a message in a bottle.”")
        self.instruction.setFixedHeight(84)
        self.target = QSpinBox()
        self.target.setRange(MIN_TARGET, MAX_TARGET)
        self.target.setSingleStep(100)
        self.target.setGroupSeparatorShown(True)
        self.target.setSuffix(" words")
        self.target.setValue(default_target)
        self.target.setMinimumWidth(130)
        self.model_label = QLabel()
        self.model_label.setStyleSheet("color: #5b6770;")
        self.plan_btn = QPushButton("Plan")
        self.plan_btn.setToolTip("Make an outline: sections with main points and word targets")
        self.write_btn = QPushButton("Write")
        self.write_btn.setToolTip("Write the sections not written yet (plans first if there is no outline)")
        self.write_btn.setDefault(True)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Stop now and keep what was written (Esc)")
        self.stop_btn.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.stop_btn.setStyleSheet("QPushButton:enabled { color: #b71c1c; font-weight: 600; }")
        self.write_btn.setStyleSheet("QPushButton:enabled { font-weight: 600; }")
        for b in (self.plan_btn, self.write_btn, self.stop_btn):
            b.setMinimumWidth(86)
        self.job_label = QLabel()
        self.job_label.setStyleSheet("color: #37474f;")
        self.job_progress = Meter(height=10, show_text=False)

        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        grid.addWidget(QLabel("Target:"), 0, 0)
        grid.addWidget(self.target, 0, 1)
        grid.addWidget(self.plan_btn, 0, 2)
        grid.addWidget(self.write_btn, 0, 3)
        grid.addWidget(self.stop_btn, 0, 4)
        grid.addWidget(self.model_label, 1, 0, 1, 5)
        grid.addWidget(self.job_progress, 2, 0, 1, 5)
        grid.addWidget(self.job_label, 3, 0, 1, 5)
        grid.setRowStretch(4, 1)
        grid.setContentsMargins(0, 0, 0, 0)
        right = QWidget()
        right.setLayout(grid)
        right.setFixedWidth(480)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.instruction, 1)
        row.addWidget(right)
