"""Core: what the GUI's tree outline (chapters ▸ scenes) shows and does, without Qt.

The structure edits themselves are :mod:`.book`'s (add, delete, move a chapter or a scene,
the user's chapter summary); this module adds what a view of them needs: the roll-up of a
chapter's numbers, which scene is written next, an explicit "fit the targets" (the user
asks for it: an edited plan is never rescaled behind the user's back), and copies of a job
for re-planning off the GUI thread (the worker plans on a copy; the GUI applies the result,
so the outline never changes under a view that is painting it).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from .book_model import BookJob, Chapter, chapter_scenes, chapter_status, is_book
from .plan import rescale
from .status import is_written


@dataclass
class ChapterRow:
    """One chapter as the outline shows it: targets and written words rolled up."""

    index: int
    chapter: Chapter
    scenes: list[int]           # indexes in job.sections
    scene_targets: int          # the sum of its scenes' targets (0 when not planned yet)
    written: int
    status: str                 # unplanned / planned / writing / done

    @property
    def mismatch(self) -> int:
        """Scene targets minus the chapter's goal, its target and the words carried into it
        (0 when they add up or none are planned)."""
        return self.scene_targets - self.chapter.goal if self.scenes else 0


def chapter_rows(job, words=None) -> list[ChapterRow]:
    """Every chapter's roll-up. ``words(i)``: words of section ``i`` (default its text's)."""
    count = words or (lambda i: job.sections[i].words)
    rows = []
    for c, ch in enumerate(job.chapters):
        idx = chapter_scenes(job, c)
        rows.append(ChapterRow(c, ch, idx, sum(job.sections[i].target_words for i in idx),
                               sum(count(i) for i in idx), chapter_status(job, c)))
    return rows


def loose_scenes(job) -> list[int]:
    """Scenes of a book that belong to no chapter (a repaired file); shown, never dropped."""
    if not is_book(job):
        return []
    return [i for i, s in enumerate(job.sections) if s.chapter is None]


def scene_label(job, index: int) -> str:
    """"3.2" for the second scene of chapter 3; the section number in a one-level plan."""
    sec = job.sections[index]
    if sec.chapter is None:
        return str(index + 1)
    return f"{sec.chapter + 1}.{chapter_scenes(job, sec.chapter).index(index) + 1}"


def next_scene(job) -> tuple[int, int | None] | None:
    """(chapter, scene index or None when the chapter is not planned yet) of what "Write next
    scene" writes: the first chapter with a scene left, in order; None when all is written."""
    for c in range(len(job.chapters)):
        idx = chapter_scenes(job, c)
        if not idx:
            return c, None
        for i in idx:
            sec = job.sections[i]
            if not (sec.locked or is_written(sec)):
                return c, i
    return None


def book_written(job) -> bool:
    return is_book(job) and next_scene(job) is None


def move_scene_across(job, index: int, delta: int) -> bool:
    """Move a chapter's first scene up into the previous chapter (as its last scene), or its
    last scene down into the next one (as its first). The flat list keeps chapters' scenes
    in chapter order, so only the scene's chapter changes. False when there is no such chapter."""
    sec = job.sections[index]
    c = sec.chapter
    if c is None:
        return False
    idx = chapter_scenes(job, c)
    to = c + delta
    if not 0 <= to < len(job.chapters) or (delta < 0 and idx[0] != index) or (delta > 0 and idx[-1] != index):
        return False
    sec.chapter = to
    return True


def move_scene_to(job, index: int, c: int, at: int) -> None:
    """Move the scene at ``index`` to position ``at`` of chapter ``c`` (drag and drop)."""
    sec = job.sections.pop(index)
    sec.chapter = c
    idx = chapter_scenes(job, c)
    if at < len(idx):
        pos = idx[max(0, at)]
    elif idx:
        pos = idx[-1] + 1
    else:       # after the scenes of the chapters before it
        pos = max((i + 1 for i, s in enumerate(job.sections) if s.chapter is not None and s.chapter < c),
                  default=0)
    job.sections.insert(pos, sec)


def fit_chapter_targets(job) -> bool:
    """Rescale the unlocked chapters' targets so the chapters add up to the book's target
    (the user pressed "Fit targets"). Returns False when nothing could change."""
    free = [c for c, ch in enumerate(job.chapters) if not ch.locked]
    if not free:
        return False
    fixed = sum(ch.target_words for ch in job.chapters if ch.locked)
    total = max(len(free), job.target_words - fixed)
    for c, t in zip(free, rescale([job.chapters[c].target_words for c in free], total)):
        job.chapters[c].target_words = t
    return True


def fit_scene_targets(job, c: int) -> bool:
    """Rescale chapter ``c``'s unlocked scenes so they add up to the chapter's goal (its target
    and the words carried into it)."""
    idx = [i for i in chapter_scenes(job, c) if not job.sections[i].locked]
    if not idx:
        return False
    fixed = sum(job.sections[i].target_words for i in chapter_scenes(job, c) if job.sections[i].locked)
    total = max(len(idx), job.chapters[c].goal - fixed)
    for i, t in zip(idx, rescale([job.sections[i].target_words for i in idx], total)):
        job.sections[i].target_words = t
    return True


def fit_all_targets(job) -> None:
    """Chapters to the book's target, then every planned chapter's scenes to its target."""
    fit_chapter_targets(job)
    for c in range(len(job.chapters)):
        fit_scene_targets(job, c)


def work_copy(job) -> BookJob:
    """A copy of the job's plan (chapters, scenes, codex) to re-plan on another thread."""
    return BookJob(instruction=job.instruction, target_words=job.target_words,
                   sections=copy.deepcopy(job.sections), bible=job.bible,
                   chapters=copy.deepcopy(job.chapters), codex=copy.deepcopy(job.codex))


def apply_copy(job, done: BookJob) -> None:
    """Take the plan of a re-planned copy into ``job`` (on the GUI thread, no job running).
    The codex is the job's own (re-planning never changes it)."""
    job.chapters[:] = done.chapters
    job.sections[:] = done.sections


def codex_users(job, name: str) -> list[int]:
    """Indexes of the scenes whose prompt carried the codex entry ``name``."""
    key = name.lower()
    return [i for i, s in enumerate(job.sections) if any(n.lower() == key for n in s.codex_used)]

