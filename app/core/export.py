"""Core: exporting a project as a manuscript (Markdown, plain text; DOCX and PDF in
``export_docx`` / ``export_pdf``). ``export`` picks the format from the file suffix."""

from __future__ import annotations

import os
from pathlib import Path

from .backend import LonghandError
from .fileio import atomic_write_text
from .project import Project

TEXT_FORMATS = (".md", ".txt")


class ExportError(LonghandError):
    """An export could not be produced."""


def to_markdown(project: Project, headings: bool = True) -> str:
    title = project.title or project.instruction.strip().splitlines()[0][:80] if project.instruction.strip() else "Untitled"
    body = project.text(headings=headings)
    return f"# {title}\n\n{body}"


def to_plain_text(project: Project) -> str:
    return project.text(headings=False)


def supported_suffixes() -> tuple[str, ...]:
    return TEXT_FORMATS + tuple(s for s, _ in _rich_exporters().items())


def _rich_exporters() -> dict:
    found = {}
    try:
        from .export_docx import export_docx
        found[".docx"] = export_docx
    except ImportError:
        pass
    try:
        from .export_pdf import export_pdf
        found[".pdf"] = export_pdf
    except ImportError:
        pass
    return found


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early, with a clear message, when ``path`` cannot be written."""
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix not in supported_suffixes():
        raise ExportError(f"Unsupported output format {suffix or '(none)'}; use one of "
                          f"{', '.join(supported_suffixes())}.")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"Cannot write {p}: folder {parent} does not exist.")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ExportError(f"Cannot write {p}: permission denied.")
    return p


def export(project: Project, path: str | os.PathLike, **options) -> Path:
    p = check_writable(path)
    suffix = p.suffix.lower()
    if suffix == ".md":
        atomic_write_text(p, to_markdown(project))
    elif suffix == ".txt":
        atomic_write_text(p, to_plain_text(project))
    else:
        _rich_exporters()[suffix](project, p, **options)
    return p
