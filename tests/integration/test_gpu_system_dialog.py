"""GUI: Help > System shows the doctor report (gathered off the GUI thread) and copies it as JSON."""

from __future__ import annotations

import json

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication


def test_help_system_shows_the_report_and_copies_json(qtbot, demo_model, monkeypatch):
    from longhand.ui.system_dialog import SystemDialog
    from longhand.ui.window import MainWindow
    monkeypatch.setenv("LONGHAND_MODELS_DIR", str(demo_model.parent))
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.system_action.text() == "&System…"
    assert window.system_action in window.help_menu.actions()
    window.system_action.trigger()
    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, SystemDialog)]
    assert len(dialogs) == 1
    dlg = dialogs[0]
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=120_000)
    text = dlg.text.toPlainText()
    assert text.startswith("Longhand ") and "Backends (" in text and "Devices:" in text
    assert "gemma-3-270m-q4_k_m.gguf" in text and "GPU layers: " in text
    assert dlg.report["gpu"]["summary"] in dlg.summary.text()
    dlg.copy_button.click()
    copied = json.loads(QGuiApplication.clipboard().text())
    assert copied["backends"]["loaded"] == dlg.report["backends"]["loaded"]
    # another job size: the report is gathered again for it
    dlg.words.setValue(60000)
    dlg.report = None
    dlg.refresh_button.click()
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=120_000)
    assert dlg.report["job"]["words"] == 60000
    dlg.close()
