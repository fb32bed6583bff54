"""Core: rules for revising a text — re-planning around locked sections, takes.

The GUI applies them when the writer edits; the engine applies the take rule when it
rewrites a section. Keeping them here means a rule has one definition.
"""

from __future__ import annotations

from ..errors import LonghandError
from .plan import Section
from .status import SectionStatus


def keep_as_take(sec: Section) -> None:
    """The old text becomes a take (kept with the section, never lost) before it is replaced."""
    if sec.text.strip():
        sec.takes.append(sec.text)


def start_new_take(sec: Section) -> None:
    """Before (re)writing a section from scratch: keep its text as a take and empty it."""
    keep_as_take(sec)
    sec.text = ""
    sec.parts, sec.asked = [], []


def replace_text(sec: Section, text: str, status: SectionStatus = SectionStatus.EDITED) -> None:
    """A new text for a section (edited by hand, by default); the old one becomes a take."""
    keep_as_take(sec)
    sec.text = text
    sec.parts, sec.asked = [], []       # (edited text: its answers' boundaries are gone)
    sec.status = status


def keep_locked(old: list[Section], new: list[Section]) -> list[Section]:
    """A new outline with the locked sections of the old one put back at their places."""
    merged = list(new)
    for i, sec in enumerate(old):
        if sec.locked:
            merged.insert(min(i, len(merged)), sec)
    return merged


def words_lost_by_replan(sections: list[Section]) -> int:
    """Words a new outline would replace: those written in unlocked sections."""
    return sum(s.words for s in sections if not s.locked)


def replan_words(sections: list[Section], target_words: int) -> int:
    """How many words the new outline must plan: the target less the locked sections' targets.

    Raises LonghandError when the locked sections already use the whole target.
    """
    from .writer import MIN_TARGET
    locked = [s for s in sections if s.locked]
    if not locked:
        return target_words
    words = target_words - sum(s.target_words for s in locked)
    if words < MIN_TARGET:
        raise LonghandError("The locked sections already use the whole target length. Unlock a "
                            "section or raise the target to re-plan.")
    return words
