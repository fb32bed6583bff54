"""Core: the project lock — ``<project>.longhand.lock`` says who has a project open.

One Longhand process at a time may write a project. The lock file holds the owner's PID,
host and process start time; a lock whose process is gone (or whose PID was reused by
another program) is stale and taken over. On a shared folder a lock from another host is
respected, since its owner cannot be checked from here.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from ..errors import LonghandError

LOCK_SUFFIX = ".lock"


class ProjectError(LonghandError):
    """A project file cannot be opened (not a project, newer format, unreadable)."""


class ProjectLockedError(ProjectError):
    """The project is open in another Longhand process."""


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), to tell a reused PID from the lock's owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a killed child not yet reaped by its parent is a zombie: it holds nothing
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


_HELD_LOCKS: set[str] = set()


class ProjectLock:
    """``<project>.lock``: who has the project open. Stale locks (dead process) are taken over."""

    def __init__(self, project_path: str | os.PathLike) -> None:
        self.path = Path(str(project_path) + LOCK_SUFFIX)
        self.held = False

    def owner(self) -> dict | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def is_stale(self, info: dict | None) -> bool:
        if info is None:
            return True
        pid = info.get("pid")
        if not isinstance(pid, int):
            return True          # unreadable lock: nobody can own it
        if info.get("host") not in (None, socket.gethostname()):
            return False         # another machine (shared folder): we cannot tell, respect it
        if pid == os.getpid():
            return str(self.path.resolve()) not in _HELD_LOCKS
        if not _alive(pid):
            return True
        started = info.get("started")
        return started is not None and _process_start(pid) not in (None, started)

    def acquire(self) -> None:
        if self.held:
            return
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": _process_start(os.getpid()),
              "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                info = self.owner()
                if self.is_stale(info):
                    try:
                        self.path.unlink()
                    except FileNotFoundError:
                        pass
                    continue
                info = info or {}
                raise ProjectLockedError(
                    f"{self.path.name[:-len(LOCK_SUFFIX)]} is already open in another Longhand "
                    f"(process {info.get('pid')}, since {info.get('since', '?')}). Close it there "
                    f"first.") from None
            except FileNotFoundError:
                raise ProjectError(f"Cannot open a project in {self.path.parent}: the folder does "
                                   f"not exist.") from None
            except OSError as e:
                raise ProjectError(f"Cannot lock {self.path.name[:-len(LOCK_SUFFIX)]}: "
                                   f"{e.strerror or e}.") from e
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(me, f)
            self.held = True
            _HELD_LOCKS.add(str(self.path.resolve()))
            return
        raise ProjectLockedError(f"Could not take the lock {self.path}.")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        _HELD_LOCKS.discard(str(self.path.resolve()))
        info = self.owner()
        if info and info.get("pid") == os.getpid():
            try:
                self.path.unlink()
            except OSError:
                pass
