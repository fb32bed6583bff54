"""GUI: the installed Qt binding does not corrupt Python's reference counts.

PySide6 6.12.0 on Python < 3.12 dropped a reference to None on every void call, which
aborted the app after a few thousand calls; pyproject.toml excludes it. This guards the
pin: any binding that leaks references fails here, not in a user's long writing session.
"""

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar


class _Emitter(QObject):
    ping = Signal(object)


def test_void_calls_and_emits_keep_reference_counts(qapp):
    label, bar, emitter = QLabel(), QProgressBar(), _Emitter()
    got = []
    emitter.ping.connect(got.append)
    counts = (sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False))
    for i in range(2000):
        label.setText("x")
        bar.setValue(i % 100)
        emitter.ping.emit(i)
    after = (sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False))
    assert len(got) == 2000
    # allow small noise from the interpreter itself, not one reference per call
    assert all(abs(a - b) < 100 for a, b in zip(after, counts)), (counts, after)
