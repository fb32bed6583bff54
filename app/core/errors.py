"""Core: the errors Longhand shows to users, and the cancel flag every long job checks."""
from __future__ import annotations

import threading


class LonghandError(Exception):
    """An error with a message meant for the user (shown as-is in the CLI and the GUI)."""


class ModelError(LonghandError):
    """The model file is missing, unreadable, corrupt or cannot be loaded."""


class BackendError(LonghandError):
    """Generation failed (server down, out of memory, context overflow...)."""


class Cancelled(LonghandError):
    """The user cancelled the job."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


class CancelToken:
    """Thread-safe cancel flag, checked by backends between tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()
