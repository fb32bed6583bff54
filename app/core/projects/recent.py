"""Core: the recent projects list and timestamped backups.

* ``recent.json`` in the config dir (``core.paths``; LONGHAND_CONFIG_DIR moves it) lists the projects opened last,
  newest first (path, title, when); files that no longer exist are shown as missing, not
  dropped, so a project on an unplugged drive comes back when the drive does.
* :func:`backup` zips the project file into the data dir (LONGHAND_DATA_DIR moves it)
  (``backups/<name>-YYYYmmdd-HHMMSS.zip``) and keeps the newest ``keep`` per project.
  :func:`close_project` saves, backs up (when asked) and releases the lock: what the GUI
  does when a project is closed.
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..fileio import atomic_write_bytes, atomic_write_text
from ..paths import backups_dir, recent_file
from .project import Project

MAX_RECENT = 12
KEEP_BACKUPS = 10


@dataclass
class RecentProject:
    path: Path
    title: str
    opened: str          # "YYYY-mm-dd HH:MM:SS", local time

    @property
    def exists(self) -> bool:
        return self.path.is_file()


def recent_projects() -> list[RecentProject]:
    """The recent list, newest first. A damaged list reads as empty (it is only a convenience)."""
    try:
        data = json.loads(recent_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and isinstance(item.get("path"), str):
            out.append(RecentProject(Path(item["path"]), str(item.get("title", "")),
                                     str(item.get("opened", ""))))
    return out


def _write(items: list[RecentProject]) -> None:
    atomic_write_text(recent_file(), json.dumps(
        [{"path": str(r.path), "title": r.title, "opened": r.opened} for r in items[:MAX_RECENT]],
        ensure_ascii=False, indent=2) + "\n")


def remember(path: str | os.PathLike, title: str = "") -> None:
    """Put a project at the top of the recent list."""
    p = Path(path).expanduser().resolve()
    items = [r for r in recent_projects() if r.path != p]
    items.insert(0, RecentProject(p, title, time.strftime("%Y-%m-%d %H:%M:%S")))
    _write(items)


def forget(path: str | os.PathLike) -> None:
    p = Path(path).expanduser().resolve()
    _write([r for r in recent_projects() if r.path != p])


def backup(path: str | os.PathLike, keep: int = KEEP_BACKUPS, folder: Path | None = None) -> Path:
    """Zip the project file into the backups folder; keep the newest ``keep`` backups of it."""
    src = Path(path)
    folder = folder or backups_dir()
    stem = re.sub(r"[^\w.-]+", "_", src.stem) or "project"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder / f"{stem}-{stamp}.zip"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{stamp}-{n}.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(src.name, src.read_bytes())
    atomic_write_bytes(target, buf.getvalue())
    pattern = re.compile(rf"^{re.escape(stem)}-\d{{8}}-\d{{6}}(?:-\d+)?\.zip$")
    mine = sorted((f for f in folder.iterdir() if pattern.match(f.name)),
                  key=lambda f: (f.stat().st_mtime_ns, f.name))
    for old in mine[:-keep] if keep > 0 else []:
        try:
            old.unlink()
        except OSError:
            pass
    return target


def list_backups(path: str | os.PathLike, folder: Path | None = None) -> list[Path]:
    """Backups of a project, newest first."""
    folder = folder or backups_dir()
    stem = re.sub(r"[^\w.-]+", "_", Path(path).stem) or "project"
    pattern = re.compile(rf"^{re.escape(stem)}-\d{{8}}-\d{{6}}(?:-\d+)?\.zip$")
    if not folder.is_dir():
        return []
    return sorted((f for f in folder.iterdir() if pattern.match(f.name)),
                  key=lambda f: (f.stat().st_mtime_ns, f.name), reverse=True)


def open_project(path: str | os.PathLike) -> Project:
    """Open (and lock) a project and put it on the recent list."""
    project = Project.open(path)
    remember(path, project.title)
    return project


def close_project(project: Project, make_backup: bool = True, keep: int = KEEP_BACKUPS) -> Path | None:
    """Save, back up (optional) and unlock. Returns the backup's path, if one was made."""
    made = None
    try:
        if project.path is not None:
            project.save()
            if make_backup:
                made = backup(project.path, keep=keep)
    finally:
        project.close()
    return made
