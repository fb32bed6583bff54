"""Core: Markdown and plain-text manuscripts."""
from __future__ import annotations

from ..projects.project import Project
from .manuscript import title_for


def to_markdown(project: Project, headings: bool = True) -> str:
    body = project.text(headings=headings)
    return f"# {title_for(project)}\n\n{body}"


def to_plain_text(project: Project) -> str:
    return project.text(headings=False)
