"""GUI: Help > System — what ``longhand doctor`` says, in a window.

Versions, the compute backends of this llama.cpp build and which loaded, devices with their
free/total memory, CPU features, and per installed model the quantization and GPU layers
Longhand would use. The report is gathered off the GUI thread (loading backends may start a
short child process); "Copy as JSON" puts the machine-readable report on the clipboard for a
bug report.
"""

from __future__ import annotations

import json
import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)


class _Relay(QObject):
    done = Signal(object, str)      # (report dict or None, error text)


class SystemDialog(QDialog):
    """The doctor report; ``refresh()`` gathers it again (for another job size)."""

    def __init__(self, parent=None, words: int | None = None) -> None:
        super().__init__(parent)
        from ..core.doctor import DEFAULT_JOB_WORDS
        self.setWindowTitle("System")
        self.resize(820, 560)
        self.report: dict | None = None
        self._relay = _Relay(self)
        self._relay.done.connect(self._show)
        self.summary = QLabel("Gathering…")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.words = QSpinBox()
        self.words.setRange(100, 200000)
        self.words.setSingleStep(1000)
        self.words.setValue(words or DEFAULT_JOB_WORDS)
        self.words.setSuffix(" words")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        row = QHBoxLayout()
        row.addWidget(QLabel("Size the models for a job of"))
        row.addWidget(self.words)
        row.addWidget(self.refresh_button)
        row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy as JSON", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_json)
        self.copy_button.setEnabled(False)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        self.summary.setText("Gathering…")
        words = self.words.value()
        relay = self._relay

        def work():
            try:
                from ..core.doctor import collect
                relay.done.emit(collect(words=words), "")
            except Exception as e:  # a broken install must still show something
                relay.done.emit(None, f"{type(e).__name__}: {e}")

        threading.Thread(target=work, name="longhand-doctor", daemon=True).start()

    def _show(self, report: dict | None, error: str) -> None:
        from ..core.doctor import render
        self.refresh_button.setEnabled(True)
        if report is None:
            self.summary.setText(f"Could not gather the report: {error}")
            return
        self.report = report
        self.summary.setText(f"<b>{report['gpu']['summary']}</b>")
        self.text.setPlainText(render(report))
        self.copy_button.setEnabled(True)

    def copy_json(self) -> None:
        if self.report is not None:
            QGuiApplication.clipboard().setText(json.dumps(self.report, indent=2, ensure_ascii=False))


def open_system_dialog(parent) -> SystemDialog:
    dlg = SystemDialog(parent)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dlg.show()
    return dlg
