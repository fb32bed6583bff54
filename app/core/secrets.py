"""Core: secrets (the remote server's API key, a model hub token) in the system keychain.

Secrets go through ``keyring`` to the system keychain (macOS Keychain, Windows Credential
Locker, Secret Service on Linux), never into the settings file or a project file. Where no
keychain exists (a headless Linux box, a locked-down machine), a secret is kept in memory
for this session only and :attr:`SecretStore.notice` says so in plain words.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

SERVICE = "Longhand"
API_KEY = "remote-api-key"      # the OpenAI-compatible server's API key
HUB_TOKEN = "hub-token"         # a Hugging Face token for gated or private models

NO_KEYCHAIN = ("No system keychain is available, so the secret is kept for this session only "
               "(not written to disk); enter it again after a restart.")


class SecretStore:
    """get/set/delete secrets by name: the keychain when there is one, else this session's memory."""

    def __init__(self, service: str = SERVICE) -> None:
        self.service = service
        self._memory: dict[str, str] = {}
        self.notice: str | None = None      # set when a secret could not reach the keychain

    def _keyring(self) -> Any:
        try:
            import keyring
            return keyring
        except Exception as e:  # noqa: BLE001 - keyring missing or broken: memory only
            log.info("keyring unavailable: %s", e)
            return None

    def get(self, name: str) -> str:
        if name in self._memory:
            return self._memory[name]
        kr = self._keyring()
        if kr is None:
            return ""
        try:
            return kr.get_password(self.service, name) or ""
        except Exception as e:  # noqa: BLE001 - NoKeyringError, a locked keychain, D-Bus errors
            log.info("keychain read failed: %s", e)
            return ""

    def set(self, name: str, value: str) -> bool:
        """Keep ``value``; True when it is in the keychain, False when only in memory."""
        if not value:
            self.delete(name)
            return True
        kr = self._keyring()
        if kr is not None:
            try:
                kr.set_password(self.service, name, value)
                self._memory.pop(name, None)
                return True
            except Exception as e:  # noqa: BLE001
                log.info("keychain write failed: %s", e)
        self._memory[name] = value
        self.notice = NO_KEYCHAIN
        return False

    def delete(self, name: str) -> None:
        self._memory.pop(name, None)
        kr = self._keyring()
        if kr is None:
            return
        try:
            kr.delete_password(self.service, name)
        except Exception:  # noqa: BLE001 - nothing stored, or no keychain
            pass


secrets = SecretStore()
