"""Tests: the model manager dialog (real widgets, offscreen) against the stand-in hub."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from guitools import cell, make_dialog, row_of
from longhand.core.library.installed import is_verified

GLM_REPO = "QuantFactory/LongWriter-glm4-9b-GGUF"


def slow_download_started(qtbot: QtBot, hub, quant: str):
    """A dialog downloading a 4 MB file served at 100 kB/s, once its progress shows."""
    hub.add(GLM_REPO, f"LongWriter-glm4-9b.{quant}.gguf", os.urandom(4_000_000), rate=100_000)
    dlg = make_dialog(qtbot)
    dlg.select("longwriter-glm4-9b", quant)
    dlg.start_download()
    qtbot.waitUntil(lambda: dlg.progress.value() > 0, timeout=30000)
    return dlg


def test_download_progress_then_use(qtbot: QtBot, models, hub):
    data = os.urandom(3_000_000)
    hub.add(GLM_REPO, "LongWriter-glm4-9b.Q2_K.gguf", data, rate=2_000_000)
    dlg = make_dialog(qtbot)
    dlg.select("longwriter-glm4-9b", "Q2_K")
    texts = []
    qtbot.mouseClick(dlg.download_button, Qt.LeftButton)
    assert dlg.cancel_button.isVisibleTo(dlg) and not dlg.download_button.isEnabled()

    def moving():
        texts.append(dlg.progress_text.text())
        return dlg.progress.value() > 0 and "MB/s" in dlg.progress_text.text()

    qtbot.waitUntil(moving, timeout=20000)
    qtbot.waitUntil(lambda: dlg.job is None, timeout=30000)
    path = models / "LongWriter-glm4-9b.Q2_K.gguf"
    assert path.read_bytes() == data and is_verified(path)
    assert "Downloaded and verified" in dlg.message.text()
    i = row_of(dlg, "longwriter-glm4-9b", "Q2_K")
    assert cell(dlg, i, 5) == "installed, verified"
    assert any("ETA" in t for t in texts)
    dlg.select("longwriter-glm4-9b", "Q2_K")
    assert dlg.use_button.isEnabled()
    with qtbot.waitSignal(dlg.modelChosen, timeout=2000) as sig:
        qtbot.mouseClick(dlg.use_button, Qt.LeftButton)
    assert sig.args == [str(path)]


def test_cancel_keeps_a_resumable_part(qtbot: QtBot, models, hub):
    dlg = slow_download_started(qtbot, hub, "Q4_0")
    qtbot.mouseClick(dlg.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: dlg.job is None, timeout=10000)
    assert "cancelled" in dlg.message.text()
    part = models / "LongWriter-glm4-9b.Q4_0.gguf.part"
    assert part.exists()
    i = row_of(dlg, "longwriter-glm4-9b", "Q4_0")
    assert cell(dlg, i, 5).startswith("partial (") and "resumable" in cell(dlg, i, 5)
    # remove cleans the partial download too
    dlg._confirm = lambda text: True
    dlg.select("longwriter-glm4-9b", "Q4_0")
    dlg.remove_selected()
    assert not part.exists()


def test_failed_download_is_shown(qtbot: QtBot, models, hub):
    hub.add(GLM_REPO, "LongWriter-glm4-9b.Q2_K.gguf", os.urandom(100_000), sha256="00" * 32)
    dlg = make_dialog(qtbot)
    dlg.select("longwriter-glm4-9b", "Q2_K")
    dlg.start_download()
    qtbot.waitUntil(lambda: dlg.job is None, timeout=20000)
    assert "SHA-256" in dlg.message.text() and "deleted" in dlg.message.text()
    assert not (models / "LongWriter-glm4-9b.Q2_K.gguf").exists()


def test_import_valid_and_invalid_files(qtbot: QtBot, models, demo_model, tmp_path):
    dlg = make_dialog(qtbot)
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00")
    assert not dlg.import_file(str(bad))
    assert "Not imported" in dlg.message.text() and "truncated" in dlg.message.text()
    rows = dlg.table.rowCount()
    assert dlg.import_file(str(demo_model))
    assert dlg.table.rowCount() == rows + 1
    msg = dlg.message.text()
    assert "gemma3" in msg and "18 layers" in msg and "32,768" in msg
    r = dlg.selected_row()
    assert r.source == "import" and r.path == demo_model
    with qtbot.waitSignal(dlg.modelChosen, timeout=2000) as sig:
        dlg._use()
    assert sig.args == [str(demo_model)]
    # forget it: the file stays
    dlg2 = make_dialog(qtbot)
    dlg2.select("gemma-3-270m-q4_k_m")
    dlg2._confirm = lambda text: True
    dlg2.remove_selected()
    assert demo_model.exists()
    assert all(r.source != "import" for r in dlg2.rows)


def test_closing_the_dialog_cancels_a_running_download(qtbot: QtBot, models, hub):
    dlg = slow_download_started(qtbot, hub, "Q6_K")
    token = dlg.cancel_token
    dlg.reject()
    assert token.cancelled
    assert dlg.pool.activeThreadCount() == 0
    assert (models / "LongWriter-glm4-9b.Q6_K.gguf.part").exists()
    assert not (models / "LongWriter-glm4-9b.Q6_K.gguf").exists()
