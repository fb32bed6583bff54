"""Core: where Longhand keeps the user's files, from source or frozen (PyInstaller).

Everything Longhand writes — settings, projects, logs, models — goes under the user's dirs
(platformdirs), never next to the code: a frozen app's bundle may be read-only
(``/opt``, ``Program Files``, a signed macOS ``.app``) and is replaced on every update.

Each dir can be moved with an environment variable (``LONGHAND_CONFIG_DIR``: settings and
the recent list; ``LONGHAND_DATA_DIR``: models and backups; ``LONGHAND_CACHE_DIR``: files that
may be deleted at any time, such as the prompt caches; ``LONGHAND_LOG_DIR``,
``LONGHAND_PROJECTS_DIR``; models alone: ``LONGHAND_MODELS_DIR``). Every module asks here;
none calls platformdirs itself.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from platformdirs import user_cache_path, user_config_path, user_data_path, user_documents_path, user_log_path

APP_DIR_NAME = "longhand"
LOG_FILE_NAME = "longhand.log"


def is_frozen() -> bool:
    """True inside a PyInstaller build."""
    return bool(getattr(sys, "frozen", False))


def bundle_dir() -> Path | None:
    """The frozen app's read-only folder (``_internal`` of a one-folder build), else None."""
    if not is_frozen():
        return None
    return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)).resolve()


def _dir(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser() if value else default


def config_dir() -> Path:
    """Settings (``~/.config/longhand`` on Linux)."""
    return _dir("LONGHAND_CONFIG_DIR", user_config_path(APP_DIR_NAME, appauthor=False))


def data_dir() -> Path:
    """App data: models (see ``models_dir``), caches of the app's own making."""
    return _dir("LONGHAND_DATA_DIR", user_data_path(APP_DIR_NAME, appauthor=False))


def models_dir() -> Path:
    """Model files: ``LONGHAND_MODELS_DIR``, else ``models`` in the data dir."""
    return _dir("LONGHAND_MODELS_DIR", data_dir() / "models")


def cache_dir() -> Path:
    """Files that may be deleted at any time (``~/.cache/longhand`` on Linux)."""
    return _dir("LONGHAND_CACHE_DIR", user_cache_path(APP_DIR_NAME, appauthor=False))


def prompt_cache_dir() -> Path:
    """The projects' prompt caches (the model's KV cache on disk), in the cache dir."""
    return cache_dir() / "prompt-cache"


def recent_file() -> Path:
    """The recent projects list, in the config dir."""
    return config_dir() / "recent.json"


def backups_dir() -> Path:
    """Timestamped project backups, in the data dir."""
    return data_dir() / "backups"


def log_dir() -> Path:
    """Log files (``~/.local/state/longhand/log`` on Linux)."""
    return _dir("LONGHAND_LOG_DIR", user_log_path(APP_DIR_NAME, appauthor=False))


def projects_dir() -> Path:
    """Where Save suggests to put projects: ``~/Documents/Longhand``."""
    return _dir("LONGHAND_PROJECTS_DIR", user_documents_path() / "Longhand")


def resources_dir() -> Path:
    """The app's read-only resources (icons, desktop file), in the source tree or the bundle."""
    # the longhand.resources package (repo folder resources/, mapped in pyproject.toml)
    from .. import resources  # type: ignore[attr-defined]
    return Path(resources.__file__).resolve().parent


def icon_path(size: int | None = None) -> Path:
    """The app icon: the SVG when no size is given, else the PNG of that size (16..512)."""
    if size is None:
        return resources_dir() / "longhand.svg"
    return resources_dir() / "icons" / f"longhand-{size}.png"


def icon_sizes() -> list[int]:
    """Sizes of the PNG icons that exist, smallest first."""
    sizes = []
    for p in (resources_dir() / "icons").glob("longhand-*.png"):
        try:
            sizes.append(int(p.stem.rsplit("-", 1)[1]))
        except ValueError:
            continue
    return sorted(sizes)


def writable_dir(path: Path) -> Path:
    """Create ``path`` if needed and return it; refuse a dir inside the frozen bundle."""
    bundle = bundle_dir()
    resolved = path.expanduser().resolve()
    if bundle is not None and (resolved == bundle or bundle in resolved.parents):
        raise ValueError(f"refusing to write inside the app bundle: {resolved}")
    resolved.mkdir(parents=True, exist_ok=True)
    return resolved


def setup_file_logging(level: int = logging.INFO) -> Path:
    """Send log records to a rotating file under ``log_dir()`` (a windowed app has no stderr).

    Returns the log file's path. Safe to call twice (one handler per file).
    """
    path = writable_dir(log_dir()) / LOG_FILE_NAME
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path:
            return path
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if root.level > level:
        root.setLevel(level)
    return path
