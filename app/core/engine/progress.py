"""Core: a job's progress from its events — words, words/min, ETA, tokens/s.

The CLI's progress line and the GUI's tracker read the same :class:`Progress` snapshot,
computed here from the engine's event stream (no GUI or terminal code).

Words per minute count the words gained since writing began (planning and model loading
are not writing); a regeneration gains its section's words (its old text became a take).
The ETA divides what is left (the job's target, or the section's goal for one-section
jobs) by that rate; it is shown once writing has run for a second and gained words.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .events import JobDone, JobStats, PlanStarted, PlanToken, SectionDone, SectionStarted, SectionToken


@dataclass(frozen=True)
class Progress:
    """A snapshot of a running (or finished) job."""

    kind: str                          # "write", "plan", "regenerate", "extend", ...
    words: int                         # total words of the text now
    target_words: int
    elapsed: float                     # seconds since the job started
    tokens_per_s: float | None = None
    words_per_min: float | None = None
    eta_seconds: float | None = None
    section: int | None = None         # index of the section being written
    section_words: int | None = None
    section_goal: int | None = None
    plan_lines: int = 0                # lines of outline streamed so far (planning)
    finished: bool = False


def plan_lines(text: str) -> list[str]:
    """The non-empty lines of a streamed outline."""
    return [ln for ln in text.splitlines() if ln.strip()]


class ProgressTracker:
    """Feed it every engine event; :meth:`snapshot` gives the :class:`Progress` now.

    ``count_words`` returns the text's total words when asked (the project's count); token
    events carry the running total while a section streams.
    """

    def __init__(self, kind: str, target_words: int, count_words: Callable[[], int],
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.kind = kind
        self.target_words = target_words
        self._count = count_words
        self._clock = clock
        self.t0 = clock()
        self.words0 = count_words()
        self.total = self.words0
        self.t_write: float | None = None
        self.words_write0 = 0
        self.tokens_per_s: float | None = None
        self.section: int | None = None
        self.section_words: int | None = None
        self.section_goal: int | None = None
        self.plan_text = ""
        self.stats: JobStats | None = None

    def __call__(self, e: object) -> None:
        if isinstance(e, SectionToken):
            self.tokens_per_s = e.tokens_per_s
            self.section_words = e.section_words
            self.total = e.total_words
        elif isinstance(e, SectionStarted):
            self.section, self.section_goal, self.section_words = e.index, e.target_words, None
            if self.t_write is None:
                self.t_write = self._clock()
                self.words_write0 = self._count()
            self.total = self._count()
        elif isinstance(e, SectionDone):
            self.section_words = e.words
            self.total = self._count()
        elif isinstance(e, PlanStarted):
            self.plan_text = ""
        elif isinstance(e, PlanToken):
            self.plan_text += e.text
        elif isinstance(e, JobDone):
            self.stats = e.stats
            self.total = e.stats.words

    def snapshot(self, total_words: int | None = None) -> Progress:
        """Progress now; ``total_words`` overrides the tracked total (e.g. a live count)."""
        total = self.total if total_words is None else total_words
        lines = len(plan_lines(self.plan_text))
        if self.stats is not None:
            st = self.stats
            wpm = 60 * (st.words - self.words0) / st.seconds if st.seconds else None
            return Progress(self.kind, total, self.target_words, st.seconds, st.tokens_per_s,
                            wpm if wpm and wpm > 0 else None, None, self.section, self.section_words,
                            self.section_goal, lines, finished=True)
        now = self._clock()
        wpm = eta = None
        if self.t_write is not None:
            dt = now - self.t_write
            gained = total - self.words_write0
            if self.kind == "regenerate" and self.section_words is not None:
                gained = self.section_words
            if dt > 1 and gained > 0:
                wpm = 60 * gained / dt
                if self.kind == "write":
                    remaining = self.target_words - total
                else:
                    remaining = (self.section_goal or 0) - (self.section_words or 0)
                eta = max(0.0, remaining) / (wpm / 60)
        return Progress(self.kind, total, self.target_words, now - self.t0, self.tokens_per_s, wpm, eta,
                        self.section, self.section_words, self.section_goal, lines)


def format_duration(seconds: float | None) -> str:
    """1:05, 12:30, 2h 05m; "—" when unknown."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 60}:{s % 60:02d}"
