"""Core: Longhand project files.

A project is one JSON file (``*.longhand``), indented so a person can read and diff it:
the instruction, target, settings, plan (sections with main points, targets, lock state),
every section's text and its earlier takes. Saves are atomic (fileio.atomic_write_text).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .backend import LonghandError
from .engine import Job
from .fileio import atomic_write_text
from .plan import Section

FORMAT_NAME = "longhand-project"
FORMAT_VERSION = 1
SUFFIX = ".longhand"


class ProjectError(LonghandError):
    """A project file cannot be read."""


@dataclass
class Project(Job):
    title: str = ""
    author: str = ""
    settings: dict = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "title": self.title,
            "author": self.author,
            "instruction": self.instruction,
            "target_words": self.target_words,
            "bible": self.bible,
            "settings": self.settings,
            "sections": [s.to_dict() for s in self.sections],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Project":
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ProjectError("This is not a Longhand project file.")
        version = data.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ProjectError(f"This project was saved by a newer Longhand (format version "
                               f"{version}); please update Longhand to open it.")
        sections = [Section.from_dict(s) for s in data.get("sections", []) if isinstance(s, dict)]
        return cls(instruction=str(data.get("instruction", "")),
                   target_words=int(data.get("target_words", 0) or sum(s.target_words for s in sections)),
                   sections=sections, bible=str(data.get("bible", "")),
                   title=str(data.get("title", "")), author=str(data.get("author", "")),
                   settings=dict(data.get("settings") or {}))

    def save(self, path: str | os.PathLike | None = None) -> Path:
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ProjectError("No file name given for the project.")
        atomic_write_text(target, json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n")
        self.path = target
        return target

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Project":
        p = Path(path)
        try:
            raw = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ProjectError(f"Project file not found: {p}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ProjectError(f"Cannot read project {p}: {e}") from e
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ProjectError(f"Project {p.name} is damaged (invalid JSON at line {e.lineno}).") from e
        project = cls.from_dict(data)
        project.path = p
        return project

    def text(self, headings: bool = False) -> str:
        """The manuscript as plain text (sections joined by blank lines)."""
        parts = []
        for s in self.sections:
            if not s.text.strip():
                continue
            parts.append((f"## {s.heading}\n\n" if headings else "") + s.text.strip())
        return "\n\n".join(parts) + ("\n" if parts else "")
