"""Core: the engine's events, plain dataclasses.

The writer emits them in order (PlanStarted, PlanToken…, PlanReady, then per section
SectionStarted, SectionToken…, SectionDone, and finally JobDone); the CLI, the GUI and
autosave all consume the same stream.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Union

from ..backends.base import Generation
from .plan import Section

if TYPE_CHECKING:                      # (the book's model imports the writer, which imports these)
    from .book_model import Chapter
    from .codex import CodexEntry


@dataclass
class PlanStarted:
    instruction: str
    target_words: int


@dataclass
class PlanToken:
    text: str


@dataclass
class PlanReady:
    sections: list[Section]
    how: str            # "parsed" or "fallback"
    raw: str


@dataclass
class SectionStarted:
    index: int
    target_words: int
    mode: str           # "write", "regenerate", "extend", "continue"


@dataclass
class SectionToken:
    index: int
    text: str           # the new piece
    section_words: int
    total_words: int
    tokens_per_s: float


@dataclass
class SectionDone:
    index: int
    text: str           # final text of the section (may differ from the streamed pieces: trimmed)
    words: int
    target_words: int
    generated_tokens: int
    seconds: float
    recoveries: int = 0             # times the text failed the health check and was cut back
    needs_attention: bool = False   # recovery gave up: the section ends short (see text.health)


@dataclass
class SectionRecovery:
    """A section's new text failed the health check (or stalled): it was cut back and is written on."""

    index: int
    attempt: int        # 1, 2, ... (bounded by LengthControl.max_recoveries)
    kind: str           # "junk", "loop", "language", "drift" or "stall" (continuations add nothing)
    reasons: list[str]
    words_kept: int     # words of the section left after the cut
    words_cut: int
    cut_text: str = ""  # what was cut (benchmarks keep failed samples to calibrate the check)


@dataclass
class JobStats:
    target_words: int = 0
    words: int = 0
    generated_tokens: int = 0
    prompt_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    seconds: float = 0.0
    generation_seconds: float = 0.0
    first_token_seconds: list[float] = field(default_factory=list)
    recoveries: int = 0             # health-check recoveries over the job
    needs_attention: int = 0        # sections that ended short after recovery gave up

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.generation_seconds if self.generation_seconds else 0.0

    def add(self, g: Generation) -> None:
        self.generated_tokens += g.generated_tokens
        self.prompt_tokens += g.prompt_tokens
        self.prompt_tokens_evaluated += g.prompt_tokens_evaluated
        self.generation_seconds += g.seconds


@dataclass
class JobDone:
    stats: JobStats
    cancelled: bool


Event = Union[PlanStarted, PlanToken, PlanReady, SectionStarted, SectionToken, SectionRecovery, SectionDone,
              JobDone]
EventSink = Callable[[Event], None]


# ---------------------------------------------------------------------------------------
# The book's events (two levels: BookWriter)

@dataclass
class BookPlanReady:
    chapters: list[Chapter]
    how: str                # "parsed" or "fallback"
    raw: str


@dataclass
class BookPlanRound:
    """One answer of the book plan: the chapters ``first``-``last`` (1-based) asked for, the
    chapter lines read in it, how many of them were new, how many the plan kept; ``of``: the
    chapters the plan is for (the story may end sooner)."""
    round: int
    first: int
    last: int
    read: int
    distinct: int
    kept: int
    of: int = 0

    @property
    def planned(self) -> int:
        """The chapters the plan holds after this answer."""
        return self.first - 1 + self.kept


@dataclass
class ChapterPlanned:
    chapter: int
    scenes: list[int]       # indexes in job.sections
    how: str
    raw: str


@dataclass
class ChapterDone:
    chapter: int
    words: int
    target_words: int
    summary: str
    proposed: list[CodexEntry]
    # why a chapter ended short of its target, when the engine gave up topping it up ("" if
    # it did not end short, or nothing was tried: a chapter with scenes the user wrote)
    short: str = ""


BookEvent = Union[Event, BookPlanReady, BookPlanRound, ChapterPlanned, ChapterDone]
BookEventSink = Callable[[BookEvent], None]   # a book sink also takes every engine event
