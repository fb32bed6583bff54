"""Tests: the model manager dialog (real widgets, offscreen) against the stand-in hub."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from guitools import cell, make_dialog, row_of
from longhand.core.backends.gpu import GiB, GpuDevice, Machine

GLM_REPO = "QuantFactory/LongWriter-glm4-9b-GGUF"


def test_catalog_table_marks_the_recommendation(qtbot: QtBot, models):
    gpu8 = Machine(32 * 10**9, 64 * 10**9, True, [GpuDevice("CUDA0", "RTX", 8 * GiB, 8 * GiB)])
    dlg = make_dialog(qtbot, gpu8)
    n_quants = sum(len(m.quants) for m in dlg.catalog.models)
    assert dlg.table.rowCount() == n_quants
    i = row_of(dlg, "longwriter-glm4-9b", "Q4_K_M")
    assert cell(dlg, i, 1) == "★ Q4_K_M" and cell(dlg, i, 4) == "full GPU offload"
    assert "entirely in GPU memory" in dlg.table.item(i, 1).toolTip()
    j = row_of(dlg, "longwriter-glm4-9b", "Q8_0")
    assert cell(dlg, j, 1) == "Q8_0" and cell(dlg, j, 4).startswith("partial GPU offload")
    dlg.select("longwriter-glm4-9b", "Q4_K_M")
    assert "longwriter-glm4" in dlg.details.text()
    assert dlg.download_button.isEnabled() and not dlg.use_button.isEnabled()
