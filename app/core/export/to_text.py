"""Core: Markdown and plain-text manuscripts.

A two-level book reads as its DOCX and PDF do (:func:`.manuscript.manuscript`'s blocks): each
chapter under "Chapter N: Title", its scenes separated by a scene break ("* * *" in Markdown, a
centred "#" in plain text), no scene titles. Other projects: one section after another, under
their headings in Markdown.
"""
from __future__ import annotations

from ..projects.project import Project
from .manuscript import manuscript, title_for


def _book_text(project: Project, heading: str, scene_break: str) -> str:
    out: list[str] = []
    for b in manuscript(project).blocks:
        if b.kind == "heading":
            out.append(heading + b.text + (f": {b.title}" if b.title else ""))
        elif b.kind == "break":
            out.append(scene_break)
        elif b.kind == "para":
            out.append(b.text)
    return "\n\n".join(out) + ("\n" if out else "")


def to_markdown(project: Project, headings: bool = True) -> str:
    if project.chapters:
        body = _book_text(project, "## ", "* * *")
    else:
        body = project.text(headings=headings)
    return f"# {title_for(project)}\n\n{body}"


def to_plain_text(project: Project) -> str:
    if project.chapters:
        return _book_text(project, "", "#")
    return project.text(headings=False)
