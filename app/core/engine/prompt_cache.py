"""Core: a project's prompt cache, so that a reopened job does not read its prompt again.

The first prompt of a reopened job (a book's head, the story so far, the chapter so far) is
several thousand tokens; a new llama.cpp backend evaluates them from scratch, about 40 s on
a 2-core CPU with the demo model. :class:`PromptCache` keeps the backend's KV cache in a file
per project (:meth:`.Backend.save_cache`, :mod:`..backends.kvfile`) and loads it into a new
backend, which then evaluates only what the file lacks.

* **Where**: ``prompt-cache/<hash of the project's path>.kv`` (and ``.kv.json``) in the user's
  cache dir (:func:`..paths.prompt_cache_dir`), never in the project: it is as large as the
  KV cache (about 18 KB a token on the demo model, 128 KB on an 8B Llama).
* **When**: loaded when a job on the project starts on a backend that does not hold it yet;
  saved when a job stops (done, cancelled or failed) and after a finished section at most
  every :data:`SAVE_INTERVAL` seconds (and never more often than 20 times the last save's
  own duration), so a crash loses little. Each save replaces the file. Only the
  :data:`KEEP` most recently used caches are kept; a project with nothing left to write
  deletes its own.
* **Failures**: a full disk or a refused file is logged and ignored: the project is never
  touched, and the worst case is the full evaluation the cache was meant to spare.

``LONGHAND_PROMPT_CACHE=0`` turns it off. The remote (OpenAI-compatible) backend keeps no
cache: its calls are no-ops.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from ..backends import kvfile
from ..backends.base import Backend
from ..paths import prompt_cache_dir
from .events import SectionDone

log = logging.getLogger(__name__)

# After a finished section, save at most this often (s): a crash loses at most this much of
# the cache, and a save (about 0.1 s per 100 MB) stays a small share of writing time.
SAVE_INTERVAL = 120.0
# ... and never more often than this many times the last save's duration (large caches).
SAVE_COST_FACTOR = 20.0
# Caches kept (the most recently saved or loaded); older ones are deleted.
KEEP = 3


def enabled() -> bool:
    return os.environ.get("LONGHAND_PROMPT_CACHE", "1").strip() not in ("0", "false", "no", "off")


def cache_path(project_path: str | os.PathLike) -> Path:
    """The cache file of the project saved at ``project_path``."""
    key = str(Path(project_path).expanduser().resolve())
    return prompt_cache_dir() / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]}.kv"


class PromptCache:
    """The prompt cache of the project at ``project_path``, on ``backend``.

    Call :meth:`load` when a job starts, pass every engine event to it (it saves after a
    finished section when one is due), and call :meth:`save` (or :meth:`discard`) when the
    job stops. Never raises.
    """

    def __init__(self, backend: Backend, project_path: str | os.PathLike, *,
                 interval: float = SAVE_INTERVAL, keep: int = KEEP) -> None:
        self.backend = backend
        self.project_path = Path(project_path).expanduser().resolve()
        self.path = cache_path(project_path)
        self.interval = interval
        self.keep = keep
        self.loaded_tokens = 0
        self.load_seconds = 0.0
        self.saves = 0
        self.save_seconds = 0.0          # the last save's duration
        self._last = time.monotonic()    # the first save after a section: an interval from now

    def load(self) -> int:
        """Restore the cache into the backend; the tokens restored (0: none or refused)."""
        if not enabled():
            return 0
        t0 = time.perf_counter()
        self.loaded_tokens = self.backend.load_cache(self.path)
        self.load_seconds = time.perf_counter() - t0
        return self.loaded_tokens

    def __call__(self, e: Any) -> None:
        if isinstance(e, SectionDone) and self.due():
            self.save()

    def due(self) -> bool:
        wait = max(self.interval, SAVE_COST_FACTOR * self.save_seconds)
        return time.monotonic() - self._last >= wait

    def save(self) -> bool:
        """Write the backend's cache now (replacing the file); False when nothing was written."""
        if not enabled():
            return False
        t0 = time.perf_counter()
        ok = self.backend.save_cache(self.path)
        self._last = time.monotonic()
        if ok:
            self.saves += 1
            self.save_seconds = time.perf_counter() - t0
            log.info("prompt cache of %s saved (%.1f MB, %.2f s)", self.project_path.name,
                     self.size() / 1e6, self.save_seconds)
            kvfile.prune(self.path.parent, self.keep)
        return ok

    def discard(self) -> None:
        """Delete this project's cache (its job has nothing left to write)."""
        kvfile.remove(self.path)

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def watch(self, sink: Any) -> Any:
        """``sink`` followed by this cache: the event goes to ``sink`` first."""
        def emit(e: Any) -> None:
            sink(e)
            self(e)
        return emit
