"""GUI: the remote (OpenAI-compatible) backend in the Settings dialog and the engine runner."""

from __future__ import annotations

from longhand.core.engine.settings import EngineSettings
from longhand.ui.settings import SettingsDialog


def test_settings_dialog_edits_and_remembers_the_remote_backend(qtbot, settings_dir):
    from longhand.ui.settings import app_settings, load_engine_settings, save_engine_settings
    s = EngineSettings(backend="openai", base_url="http://127.0.0.1:8080/v1", remote_model="longwriter",
                       api_key="secret")
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    assert dlg.base_url.isEnabled() and not dlg.model_edit.isEnabled()
    assert dlg.value() == s
    dlg.backend.setCurrentIndex(0)                   # back to a local file
    assert not dlg.base_url.isEnabled() and dlg.model_edit.isEnabled()
    assert dlg.value().backend == "llama"
    dlg.backend.setCurrentIndex(1)
    dlg.remote_model.setText("other")
    v = dlg.value()
    save_engine_settings(v, app_settings())
    loaded = load_engine_settings(app_settings())
    assert loaded == v and loaded.remote_model == "other" and loaded.backend == "openai"
    assert loaded.api_key == "secret"                # from the keychain (or this session's memory)
    ini = (settings_dir / "Longhand" / "Longhand.ini").read_text()
    assert "secret" not in ini and "api_key" not in ini
    cfg = loaded.to_config()
    assert cfg.backend == "openai" and cfg.base_url == "http://127.0.0.1:8080/v1"
