"""Core: manuscripts — the layout (:mod:`.manuscript`), Markdown/text, DOCX and PDF writers.

:func:`export` picks the writer from the file suffix and writes atomically.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..fileio import atomic_write_text
from ..projects.project import Project
from .manuscript import TEXT_FORMATS, ExportError
from .to_text import to_markdown, to_plain_text

__all__ = ["supported_suffixes", "check_writable", "export"]


def supported_suffixes() -> tuple[str, ...]:
    return TEXT_FORMATS + tuple(s for s, _ in _rich_exporters().items())


def _rich_exporters() -> dict:
    found = {}
    try:
        from .to_docx import export_docx
        found[".docx"] = export_docx
    except ImportError:
        pass
    try:
        from .to_pdf import export_pdf
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
    if p.is_dir():
        raise ExportError(f"Cannot write {p}: it is a folder.")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ExportError(f"Cannot write {p}: permission denied.")
    return p


def export(project: Project, path: str | os.PathLike, **options) -> Path:
    """Write ``project`` to ``path`` in the format its suffix names.

    DOCX/PDF take :class:`ManuscriptOptions` fields as keyword arguments (style, font,
    sections, page_size, title, author, contact). The file is written atomically.
    """
    p = check_writable(path)
    suffix = p.suffix.lower()
    if suffix == ".md":
        atomic_write_text(p, to_markdown(project))
    elif suffix == ".txt":
        atomic_write_text(p, to_plain_text(project))
    else:
        _rich_exporters()[suffix](project, p, **options)
    return p
