"""Core: the state of a section, and the states derived from it, in one place.

A section is stored with one of four statuses (the strings are the project file's values and
never change). Two more states are derived, never stored:

* **interrupted** — "writing" with some text while no job runs: a crashed or stopped job left
  it half-written; the next Write continues it instead of starting over.
* **written** — "done" or "edited", with text: Write skips it (Regenerate and Write more
  still work on it).
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from .plan import Section


class SectionStatus(str, Enum):
    """The stored status of a section (a ``str``: ``SectionStatus.DONE == "done"``)."""

    PLANNED = "planned"
    WRITING = "writing"
    DONE = "done"
    EDITED = "edited"

    def __str__(self) -> str:
        return self.value

    @property
    def finished(self) -> bool:
        """Done by the model or edited by hand."""
        return self in (SectionStatus.DONE, SectionStatus.EDITED)

    @classmethod
    def parse(cls, value: object) -> "SectionStatus | None":
        """The status for a stored value, or None when the value is not a status."""
        try:
            return cls(value)
        except ValueError:
            return None

    @classmethod
    def default(cls, has_text: bool) -> "SectionStatus":
        """What an unknown or missing status becomes: done if there is text, else planned."""
        return cls.DONE if has_text else cls.PLANNED


def is_written(sec: "Section") -> bool:
    """Finished (done or edited) and has text: Write leaves it alone."""
    return SectionStatus(sec.status).finished and bool(sec.text)


def is_interrupted(sec: "Section") -> bool:
    """Left half-written by a stopped or crashed job (meaningful while no job runs)."""
    return sec.status == SectionStatus.WRITING and bool(sec.text)


def needs_writing(sec: "Section") -> bool:
    """What a Write job would work on: not locked and not written."""
    return not sec.locked and not is_written(sec)


def all_written(sections: Iterable["Section"]) -> bool:
    """There is an outline and Write has nothing left to do in it."""
    sections = list(sections)
    return bool(sections) and not any(needs_writing(s) for s in sections)


def display_state(sec: "Section", streaming: bool = False) -> str:
    """The one-word state the GUI shows (outline status column, tracker bar colour)."""
    if streaming:
        return SectionStatus.WRITING.value
    if sec.locked:
        return "locked"
    if sec.status == SectionStatus.EDITED:
        return "edited"
    if is_interrupted(sec):
        return "interrupted"
    return SectionStatus(sec.status).value
