"""Core: the book's data model (chapters over the flat list of scenes) and the structure edits
the GUI's tree outline makes (see :mod:`.book` for how a book is planned and written).

``job.sections`` stays the flat list the writer walks; each scene carries its ``chapter``
(0-based). ``job.chapters`` holds the chapters' metadata; a chapter not planned yet simply has
no scenes. Targets roll up exactly: chapter targets sum to the book's target, scene targets to
their chapter's. An edited plan whose totals do not match is *reported* (:func:`check_totals`),
never rescaled over the user's numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from .codex import Codex
from .plan import Section, short_title
from .writer import Job

# Above this target a job is planned in two levels. Measured on the demo model: one flat
# plan at 15,000+ words needs 33+ lines; its parsed plans were mostly fallbacks or full of
# duplicate points (see /work/notes/issue-12.md and bench/plan_parse.py).
BOOK_THRESHOLD = 15_000
DEFAULT_CHAPTER_WORDS = 2_500
MIN_CHAPTER_WORDS = 600
MAX_CHAPTERS = 80
DEFAULT_SCENE_WORDS = 500
MIN_SCENE_WORDS, MAX_SCENE_WORDS = 200, 1_000

_ASKS_CHAPTERS = re.compile(r"\bchapters?\b|章", re.I)


def wants_chapters(instruction: str, target_words: int) -> bool:
    """Two levels for long texts, or when the request asks for chapters."""
    if target_words >= BOOK_THRESHOLD:
        return True
    return bool(_ASKS_CHAPTERS.search(instruction)) and target_words >= 2 * MIN_CHAPTER_WORDS


def expected_chapters(target_words: int) -> int:
    return max(2, min(MAX_CHAPTERS, round(target_words / DEFAULT_CHAPTER_WORDS)))


def expected_scenes(chapter_words: int, scene_words: int = DEFAULT_SCENE_WORDS) -> int:
    n = round(chapter_words / max(MIN_SCENE_WORDS, scene_words))
    lo = max(1, math.ceil(chapter_words / MAX_SCENE_WORDS))
    hi = max(1, chapter_words // MIN_SCENE_WORDS)
    return max(lo, min(hi, n))




# The data

@dataclass
class Chapter:
    title: str
    synopsis: str
    target_words: int
    locked: bool = False
    summary: str = ""               # the story so far: what happens in this chapter
    summary_edited: bool = False    # the user wrote or edited it: never overwritten
    plan_how: str = ""              # how its scenes were planned: parsed / fallback / user
    codex_names: list[str] = field(default_factory=list)   # notes in the chapter's block
    # the first scene its prompts carry whole (a chat model's conversation starts there, the
    # scenes before it listed): kept, so that a reopened job builds the prompt the saved
    # prompt cache holds (engine.book)
    scenes_from: int = 0
    # the first chapter whose summary its prompts carry (the story so far, its oldest
    # summaries dropped in a long book): kept for the same reason
    summaries_from: int = 0
    # words carried into it from the chapters before it that ended short, set when it is
    # planned (see :func:`carry_into`): it is written to ``goal``, its planned target stays
    carried: int = 0

    @property
    def goal(self) -> int:
        """The words it is written to: its target and what was carried into it."""
        return self.target_words + self.carried

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, warn=None, where: str = "chapter") -> "Chapter":
        def text(key):
            v = data.get(key, "")
            if isinstance(v, str):
                return v
            if warn:
                warn(f"{where}: '{key}' is not text and was not loaded.")
            return ""
        target = data.get("target_words")
        if isinstance(target, bool) or not isinstance(target, int) or target <= 0:
            if warn:
                warn(f"{where}: 'target_words' should be a positive number; using "
                     f"{DEFAULT_CHAPTER_WORDS}.")
            target = DEFAULT_CHAPTER_WORDS
        names = data.get("codex_names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            names = []
        return cls(title=text("title"), synopsis=text("synopsis"), target_words=target,
                   locked=data.get("locked") is True, summary=text("summary"),
                   summary_edited=data.get("summary_edited") is True,
                   plan_how=text("plan_how"), codex_names=names, scenes_from=_count(data.get("scenes_from")),
                   summaries_from=_count(data.get("summaries_from")), carried=_count(data.get("carried")))


def _count(v) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


@dataclass
class BookJob(Job):
    """A job with chapters (two levels) and a codex. ``chapters == []``: one level."""

    chapters: list[Chapter] = field(default_factory=list)
    codex: Codex = field(default_factory=Codex)


# -- structure: what the GUI's tree outline edits ----------------------------------------

def is_book(job) -> bool:
    return bool(getattr(job, "chapters", None))


def chapter_scenes(job, c: int) -> list[int]:
    """Indexes (in ``job.sections``) of chapter ``c``'s scenes, in order."""
    return [i for i, s in enumerate(job.sections) if s.chapter == c]


def chapter_words(job, c: int) -> int:
    return sum(job.sections[i].words for i in chapter_scenes(job, c))


def chapter_text(job, c: int) -> str:
    return "\n\n".join(job.sections[i].text.strip() for i in chapter_scenes(job, c)
                       if job.sections[i].text.strip())


def chapter_status(job, c: int) -> str:
    """"unplanned", "planned", "writing" or "done"."""
    idx = chapter_scenes(job, c)
    if not idx:
        return "unplanned"
    done = [job.sections[i].written and bool(job.sections[i].text.strip())
            or job.sections[i].locked for i in idx]
    if all(done):
        return "done"
    return "writing" if any(job.sections[i].text for i in idx) else "planned"


# A finished chapter below this share of its target is short: the engine gives it another
# scene (engine.book), the outline says so.
CHAPTER_LANDS = 0.92


def chapter_short(job, c: int) -> int:
    """The words a finished chapter lacks of its target when it ended below ``CHAPTER_LANDS``
    of it (the model could not write more of it that was not a retelling, or the user left it
    so); 0 when it landed, or is not finished."""
    if chapter_status(job, c) != "done":
        return 0
    target, words = job.chapters[c].goal, chapter_words(job, c)
    return target - words if words < CHAPTER_LANDS * target else 0


# At most this share of a chapter's target is carried into it (see carry_into)
CARRY_MAX = 0.5


def carry_into(job, c: int) -> int:
    """How many words chapter ``c`` takes over from the chapters before it that ended short,
    so that the book still comes out at its length: what the book lacks at its pace (its
    target, less the words written before ``c`` and the targets of ``c`` and the chapters after
    it), shared among those chapters by their targets; at most ``CARRY_MAX`` of ``c``'s target.
    (The instruct model's 100,000-word novel ended at 82,951 words: each short chapter's lack
    was lost.) Nothing is carried before the chapters before ``c`` are all written, where the
    user's chapter targets do not add up to the book's (:func:`check_totals`: the user's plan
    stands), or into a locked chapter."""
    ch = job.chapters[c]
    if ch.locked or sum(x.target_words for x in job.chapters) != job.target_words \
            or any(chapter_status(job, k) != "done" for k in range(c)):
        return 0
    rest = sum(x.target_words for x in job.chapters[c:])
    lack = job.target_words - sum(chapter_words(job, k) for k in range(c)) - rest
    if lack <= 0 or rest <= 0:
        return 0
    return min(round(lack * ch.target_words / rest), int(CARRY_MAX * ch.target_words))


def check_totals(job) -> list[str]:
    """Where the plan's numbers do not add up (after the user's edits). Never rescales."""
    problems = []
    planned = sum(ch.target_words for ch in job.chapters)
    if job.chapters and planned != job.target_words:
        problems.append(f"The chapters add up to {planned:,} words; the book's target is "
                        f"{job.target_words:,} ({planned - job.target_words:+,}).")
    for c, ch in enumerate(job.chapters):
        idx = chapter_scenes(job, c)
        if idx:
            scenes = sum(job.sections[i].target_words for i in idx)
            if scenes != ch.goal:
                carried = f" and {ch.carried:,} carried into it" if ch.carried else ""
                problems.append(f"Chapter {c + 1} ({ch.title}): its scenes add up to {scenes:,} "
                                f"words, its target is {ch.target_words:,}{carried} "
                                f"({scenes - ch.goal:+,}).")
    return problems


def insert_at(job, c: int) -> int:
    """Where chapter ``c``'s scenes go in the flat list (after earlier chapters' scenes)."""
    pos = 0
    for i, s in enumerate(job.sections):
        if s.chapter is not None and s.chapter < c:
            pos = i + 1
    return pos


def _renumbered(job) -> None:
    """Chapters were added, removed or moved: where each chapter's story so far starts (a
    chapter number) is worked out again."""
    for ch in job.chapters:
        ch.summaries_from = 0


def add_chapter(job, at: int, title: str, synopsis: str = "", target_words: int = DEFAULT_CHAPTER_WORDS) -> Chapter:
    """Insert a chapter at position ``at`` (later chapters' scenes are renumbered)."""
    at = max(0, min(at, len(job.chapters)))
    for s in job.sections:
        if s.chapter is not None and s.chapter >= at:
            s.chapter += 1
    ch = Chapter(title=title, synopsis=synopsis, target_words=target_words)
    job.chapters.insert(at, ch)
    _renumbered(job)
    return ch


def delete_chapter(job, c: int) -> Chapter:
    """Remove chapter ``c`` and its scenes."""
    ch = job.chapters.pop(c)
    job.sections[:] = [s for s in job.sections if s.chapter != c]
    for s in job.sections:
        if s.chapter is not None and s.chapter > c:
            s.chapter -= 1
    _renumbered(job)
    return ch


def move_chapter(job, c: int, to: int) -> None:
    """Move chapter ``c`` (with its scenes) to position ``to``."""
    to = max(0, min(to, len(job.chapters) - 1))
    if to == c:
        return
    order = list(range(len(job.chapters)))
    order.insert(to, order.pop(c))
    new_index = {old: new for new, old in enumerate(order)}
    job.chapters[:] = [job.chapters[i] for i in order]
    scenes = {i: [s for s in job.sections if s.chapter == i] for i in range(len(order))}
    loose = [s for s in job.sections if s.chapter is None]
    job.sections[:] = loose + [s for old in order for s in scenes[old]]
    for s in job.sections:
        if s.chapter is not None:
            s.chapter = new_index[s.chapter]
    _renumbered(job)


def add_scene(job, c: int, at: int, main_point: str, target_words: int = DEFAULT_SCENE_WORDS) -> Section:
    """Insert a scene at position ``at`` within chapter ``c``."""
    idx = chapter_scenes(job, c)
    pos = idx[at] if at < len(idx) else (idx[-1] + 1 if idx else insert_at(job, c))
    sec = Section(main_point=main_point, target_words=target_words, title=short_title(main_point),
                  chapter=c)
    job.sections.insert(pos, sec)
    return sec


def absorb_added_scene(job, index: int) -> int:
    """Keep chapter targets adding up when a scene is added to a chapter that ended short (a
    top-up): the scenes that ended short of their targets give up the added scene's target,
    the latest first, each down to the words it holds (it ended where the model ended it; the
    words it lacked are the added scene's now). Locked and unwritten scenes keep theirs.
    Returns the words that could not be absorbed (0 when the plan adds up again)."""
    sec = job.sections[index]
    excess = sec.target_words
    for i in reversed(chapter_scenes(job, sec.chapter)):
        s = job.sections[i]
        if excess <= 0:
            break
        if i == index or s.locked or not s.written or s.words >= s.target_words:
            continue
        cut = min(excess, s.target_words - s.words)
        s.target_words -= cut
        excess -= cut
    return excess


def delete_scene(job, index: int) -> Section:
    return job.sections.pop(index)


def move_scene(job, index: int, to: int) -> None:
    """Move a scene to position ``to`` within its chapter."""
    sec = job.sections[index]
    idx = chapter_scenes(job, sec.chapter)
    to = max(0, min(to, len(idx) - 1))
    job.sections.pop(index)
    idx = chapter_scenes(job, sec.chapter)
    pos = idx[to] if to < len(idx) else (idx[-1] + 1 if idx else insert_at(job, sec.chapter))
    job.sections.insert(pos, sec)


def set_chapter_summary(job, c: int, text: str) -> None:
    """The user's summary: kept, never replaced by a model-written one."""
    job.chapters[c].summary = text.strip()
    job.chapters[c].summary_edited = True

