"""Core: the installed-model library — what is on this machine and how it got there.

``library.json`` in the models dir records the downloads whose SHA-256 was verified (so they
are never fetched again, and the app works offline) and the imported GGUFs (which stay where
the user keeps them). :func:`installed_models` lists catalog files present in the models dir
plus the imports still on disk; :func:`remove_model` deletes a download or forgets an import.
Downloading itself is ``library.downloads``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import ModelError
from ..fileio import atomic_write_text
from ..paths import models_dir

log = logging.getLogger(__name__)

LIBRARY_FILE = "library.json"
PART_SUFFIX = ".part"             # a download in progress: <file>.part (+ .part.json)


def library_path(directory: Path | None = None) -> Path:
    return (directory or models_dir()) / LIBRARY_FILE


def load_library(directory: Path | None = None) -> dict:
    p = library_path(directory)
    try:
        data = json.loads(p.read_text("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable %s: %s", p, e)
        data = {}
    data.setdefault("verified", {})
    data.setdefault("imported", {})
    return data


def save_library(data: dict, directory: Path | None = None) -> None:
    atomic_write_text(library_path(directory), json.dumps(data, indent=2, ensure_ascii=False))


_library_lock = threading.Lock()


def update_library(fn: Callable[[dict], object], directory: Path | None = None) -> None:
    with _library_lock:
        data = load_library(directory)
        fn(data)
        save_library(data, directory)


def is_verified(path: Path) -> bool:
    """True when ``path`` is a download whose SHA-256 was checked and which has not changed since."""
    entry = load_library(path.parent)["verified"].get(path.name)
    try:
        return bool(entry) and path.stat().st_size == entry["size"]
    except OSError:
        return False


@dataclass
class LocalModel:
    id: str                     # catalog id, or the import's id
    name: str
    path: Path
    quant: str = ""
    source: str = "download"    # download, import, demo
    size: int = 0
    verified: bool = False
    format: str = ""
    summary: dict = field(default_factory=dict)


def import_model(path: str | os.PathLike, directory: Path | None = None) -> LocalModel:
    """Accept a local .gguf after reading its header and metadata; it stays where it is."""
    from ..backends.formats import detect_format
    from .catalog import load_catalog
    from .gguf import validate_model_file
    p = Path(path).expanduser().resolve()
    info = validate_model_file(p)
    directory = directory or models_dir()
    known = load_catalog().find_file(p.name)
    if known and p.parent == directory.resolve():
        raise ModelError(f"{p.name} is already installed as {known[0].id} ({known[1].quant}).")
    summary = info.summary()
    meta = {k: v for k, v in info.metadata.items() if isinstance(v, str)}
    fmt = detect_format(meta)
    model_id = re.sub(r"[^a-z0-9._-]+", "-", p.stem.lower()).strip("-") or "model"

    def upd(data: dict) -> None:
        data["imported"][model_id] = {"path": str(p), "name": info.name, "quant": info.quantization,
                                      "format": fmt, "summary": summary}
    update_library(upd, directory)
    return LocalModel(model_id, info.name, p, info.quantization, "import", info.file_size, False,
                      fmt, summary)


def installed_models(directory: Path | None = None) -> list[LocalModel]:
    """Catalog files present in the models dir, plus imported models (still on disk)."""
    from .catalog import load_catalog
    directory = directory or models_dir()
    lib = load_library(directory)
    out: list[LocalModel] = []
    for m in load_catalog().models:
        for q in m.quants:
            p = directory / q.filename
            if p.is_file():
                out.append(LocalModel(m.id, m.name, p, q.quant,
                                      "demo" if m.source == "package" else "download",
                                      p.stat().st_size, is_verified(p), m.format))
    for mid, e in lib["imported"].items():
        p = Path(e["path"])
        if p.is_file():
            out.append(LocalModel(mid, e.get("name", mid), p, e.get("quant", ""), "import",
                                  p.stat().st_size, False, e.get("format", ""), e.get("summary", {})))
    return out


def find_installed(name: str, quant: str | None = None, directory: Path | None = None) -> Path:
    """The file of an installed model given its id (and quantization, if several are present)."""
    found = [m for m in installed_models(directory) if m.id.lower() == name.lower()
             and (not quant or m.quant.upper() == quant.upper())]
    if not found:
        raise ModelError(f"No installed model {name!r}" + (f" ({quant})" if quant else "") +
                         ". See 'longhand models list'.")
    return found[0].path


def remove_model(model_id: str, quant: str | None = None, directory: Path | None = None) -> list[Path]:
    """Delete a downloaded model's files (one quantization or all, partial downloads too), or
    forget an imported model (its file, which the user owns, is left alone)."""
    from .catalog import CatalogError, load_catalog
    directory = directory or models_dir()
    removed: list[Path] = []
    lib = load_library(directory)
    if model_id in lib["imported"]:
        path = Path(lib["imported"][model_id]["path"])
        update_library(lambda d: d["imported"].pop(model_id, None), directory)
        return [path]
    try:
        entry = load_catalog().get(model_id)
    except CatalogError:
        raise ModelError(f"No installed model {model_id!r}. See 'longhand models list'.") from None
    quants = [entry.quant(quant)] if quant else entry.quants
    for q in quants:
        for p in (directory / q.filename, directory / (q.filename + PART_SUFFIX),
                  directory / (q.filename + PART_SUFFIX + ".json")):
            if p.exists():
                p.unlink()
                if not p.name.endswith(".json"):
                    removed.append(p)
        update_library(functools.partial(_forget_verified, filename=q.filename), directory)
    if not removed:
        raise ModelError(f"{entry.name}" + (f" {quant}" if quant else "") + " is not downloaded.")
    return removed


def _forget_verified(data: dict, filename: str) -> None:
    data["verified"].pop(filename, None)
