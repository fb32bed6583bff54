"""Core: the prompt-cache file, a backend's KV cache on disk and what ties it to its maker.

A reopened job's first prompt (a book's head, the story so far, the chapter so far: several
thousand tokens) costs a full evaluation on a new backend, about 40 s on a 2-core CPU with
the demo model. The llama.cpp backend writes its KV cache to a file instead
(:meth:`~.llama.LlamaCppBackend.save_cache`) and a new backend reads it back, so only what
the file lacks is evaluated.

A cache is two files: the state ``NAME`` (written by llama.cpp, as raw as the KV cache: about
18 KB a token for the demo model, 28 KB for Qwen2.5 1.5B, 128 KB for an 8B Llama) and
``NAME.json``, which says what made it (the *identity*: the model file's path, size and
modification time, the context size, the KV cache's types, the prompt format, the llama.cpp
version), how many tokens it holds, and the state's size and CRC-32. A file is used only when
its identity equals the backend's and its size and CRC match: a cache from another model or
context, a truncated or damaged file, or a state file that does not go with its JSON (a crash
between the two renames) is refused with a log line, never fed to the model. Nothing here
raises: the cache is an optimisation, a failure costs one full evaluation.

The state is written to a temp file and renamed; the JSON is written last, atomically. The
state is not fsynced: a state lost in a crash fails its CRC and is refused.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from pathlib import Path
from typing import Any, Callable

from ..fileio import atomic_write_text

log = logging.getLogger(__name__)

VERSION = 1                 # this file layout; another version is refused


def sidecar(path: str | os.PathLike) -> Path:
    """The JSON that goes with the state file ``path``."""
    p = Path(path)
    return p.with_name(p.name + ".json")


def _digest(path: Path) -> tuple[int, int]:
    """(size, CRC-32) of a file, read in 8 MiB blocks."""
    crc, size = 0, 0
    with path.open("rb") as f:
        while True:
            block = f.read(8 << 20)
            if not block:
                return size, crc
            size += len(block)
            crc = zlib.crc32(block, crc)


def save(path: str | os.PathLike, identity: dict[str, Any], write_state: Callable[[Path], bool], *,
         tokens: int, extra: dict[str, Any] | None = None) -> bool:
    """Write a cache: ``write_state(tmp)`` writes the state to ``tmp`` (True when it did), then
    it is renamed to ``path`` and the JSON written. False, with a log line, on any failure
    (a full disk, a read-only folder); the previous cache is then left as it was or refused."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not write_state(tmp):
            log.warning("prompt cache not saved to %s: llama.cpp could not write it", target)
            return False
        size, crc = _digest(tmp)
        os.replace(tmp, target)
        meta = {"version": VERSION, "identity": identity, "tokens": tokens, "bytes": size, "crc32": crc,
                **(extra or {})}
        atomic_write_text(sidecar(target), json.dumps(meta, ensure_ascii=False))
        return True
    except Exception as e:  # noqa: BLE001 - OSError, SaveError, ctypes: never stops a job
        log.warning("prompt cache not saved to %s: %s", target, e)
        return False
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def peek(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON of the cache at ``path`` if it can be read and is of this version, else None."""
    try:
        meta = json.loads(sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("version") != VERSION or not isinstance(meta.get("identity"), dict):
        return None
    return meta


def differences(saved: dict[str, Any], identity: dict[str, Any]) -> list[str]:
    """The identity keys in which a cache differs from a backend (empty: it is this backend's)."""
    return sorted(k for k in set(saved) | set(identity) if saved.get(k) != identity.get(k))


def load(path: str | os.PathLike, identity: dict[str, Any],
         read_state: Callable[[Path], list[int] | None]) -> tuple[list[int], dict[str, Any]] | None:
    """The tokens of the cache at ``path`` and its JSON, after ``read_state(path)`` restored it
    (returning the tokens stored in the state, or None when llama.cpp refused it); None, with
    a log line saying why, when there is no cache or it is refused. When the result is None
    and ``read_state`` was called, the caller must clear what it may have half restored."""
    target = Path(path)
    if not target.exists() and not sidecar(target).exists():
        log.info("no prompt cache at %s", target)
        return None
    meta = peek(target)
    if meta is None:
        log.warning("prompt cache %s refused: its JSON is missing, unreadable or of another version",
                    target)
        return None
    diff = differences(meta["identity"], identity)
    if diff:
        log.info("prompt cache %s refused: made with another %s", target, ", ".join(diff))
        return None
    try:
        size, crc = _digest(target)
    except OSError as e:
        log.warning("prompt cache %s refused: %s", target, e)
        return None
    if size != meta.get("bytes"):
        log.warning("prompt cache %s refused: %d bytes, %s expected (truncated or replaced)",
                    target, size, meta.get("bytes"))
        return None
    if crc != meta.get("crc32"):
        log.warning("prompt cache %s refused: its checksum does not match (damaged)", target)
        return None
    tokens = read_state(target)
    if tokens is None:
        log.warning("prompt cache %s refused by llama.cpp", target)
        return None
    if len(tokens) != meta.get("tokens"):
        log.warning("prompt cache %s refused: %d tokens, %s expected", target, len(tokens), meta.get("tokens"))
        return None
    try:
        os.utime(sidecar(target))        # recently used: kept the longest (see prune)
    except OSError:
        pass
    return tokens, meta


def remove(path: str | os.PathLike) -> None:
    """Delete a cache (both files); missing files are fine."""
    for p in (Path(path), sidecar(path)):
        try:
            p.unlink(missing_ok=True)
        except OSError as e:
            log.warning("could not delete %s: %s", p, e)


def _last_used(state: Path) -> float:
    times = []
    for p in (state, sidecar(state)):
        try:
            times.append(p.stat().st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


def prune(folder: str | os.PathLike, keep: int, pattern: str = "*.kv") -> list[Path]:
    """Delete all but the ``keep`` most recently saved or loaded caches (state files matching
    ``pattern``) in ``folder``, and temp files left by a crash an hour ago or more; returns
    the caches deleted."""
    d = Path(folder)
    try:
        states = sorted(d.glob(pattern), key=_last_used, reverse=True)
        temps = list(d.glob(".*.tmp"))
    except OSError:
        return []
    for state in states[keep:]:
        remove(state)
    for t in temps:
        try:
            if t.stat().st_mtime < time.time() - 3600:
                t.unlink()
        except OSError:
            pass
    return states[keep:]
