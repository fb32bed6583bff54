"""Secrets go to the system keychain through keyring, never to the settings file or a project."""

from __future__ import annotations

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from PySide6.QtCore import QSettings

from longhand.core import secrets as secrets_mod
from longhand.core.secrets import API_KEY, HUB_TOKEN, NO_KEYCHAIN, SecretStore


class MemoryKeyring(KeyringBackend):
    """A keychain that lives in memory (keyring has no such backend built in)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    before = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(before)


@pytest.fixture
def no_keyring():
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


def test_secrets_go_to_the_keychain(memory_keyring):
    store = SecretStore()
    assert store.set(API_KEY, "sk-123") is True and store.notice is None
    assert memory_keyring.items[("Longhand", API_KEY)] == "sk-123"
    assert SecretStore().get(API_KEY) == "sk-123"          # another session reads it back
    store.set(API_KEY, "")                                 # cleared: deleted from the keychain
    assert ("Longhand", API_KEY) not in memory_keyring.items


def test_without_a_keychain_secrets_live_for_the_session_only(no_keyring):
    store = SecretStore()
    assert store.set(HUB_TOKEN, "hf_abc") is False
    assert store.notice == NO_KEYCHAIN and "this session only" in store.notice
    assert store.get(HUB_TOKEN) == "hf_abc"
    assert SecretStore().get(HUB_TOKEN) == ""               # a restart forgets it


def test_gui_keeps_the_api_key_out_of_the_settings_file(memory_keyring, tmp_path, monkeypatch):
    from longhand.core.engine.settings import EngineSettings
    from longhand.ui.settings import load_engine_settings, save_engine_settings
    monkeypatch.setattr(secrets_mod, "secrets", SecretStore())
    import longhand.ui.settings as ui_settings
    monkeypatch.setattr(ui_settings, "secrets", secrets_mod.secrets)
    ini = tmp_path / "s.ini"
    qs = QSettings(str(ini), QSettings.Format.IniFormat)
    assert save_engine_settings(EngineSettings(backend="openai", base_url="http://h/v1", api_key="sk-xyz"), qs) is None
    assert "sk-xyz" not in ini.read_text() and "api_key" not in ini.read_text()
    assert load_engine_settings(QSettings(str(ini), QSettings.Format.IniFormat)).api_key == "sk-xyz"
    # an older version's plain-text key moves to the keychain and leaves the file
    memory_keyring.items.clear()
    qs.setValue("engine/api_key", "sk-old")
    qs.sync()
    assert "sk-old" in ini.read_text()
    assert load_engine_settings(QSettings(str(ini), QSettings.Format.IniFormat)).api_key == "sk-old"
    assert "sk-old" not in ini.read_text()
    assert memory_keyring.items[("Longhand", API_KEY)] == "sk-old"


def test_gui_says_so_when_there_is_no_keychain(no_keyring, tmp_path, monkeypatch):
    import longhand.ui.settings as ui_settings
    from longhand.core.engine.settings import EngineSettings
    from longhand.ui.settings import save_engine_settings
    monkeypatch.setattr(ui_settings, "secrets", SecretStore())
    ini = tmp_path / "s.ini"
    notice = save_engine_settings(EngineSettings(api_key="sk-xyz"), QSettings(str(ini), QSettings.Format.IniFormat))
    assert notice == NO_KEYCHAIN
    assert "sk-xyz" not in ini.read_text()
