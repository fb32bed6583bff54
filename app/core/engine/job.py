"""Core: the one job path. Every writing job of the CLI, the GUI and batch runs here.

:class:`JobRunner` is a :class:`~.session.JobSession` (it opens and keeps the backend) that
runs each kind of job, flat or book:

* :meth:`~JobRunner.start` — before a job on a project: the engine by the one rule for a
  project's remembered settings (**explicit > remembered > default**, field by field:
  :meth:`.EngineConfig.with_project`), the backend opened, and the project made to remember
  the engine it now runs on (:meth:`.EngineConfig.remembered_in`: its engine keys replaced,
  its other keys kept). The CLI's explicit fields are the options given on the command line,
  the GUI's the settings changed since the project was opened, a batch's its servers and
  ``--seed``/``--temperature`` when given;
* :meth:`~JobRunner.write` — plan when there is no outline, then write what is not written
  yet: an interrupted section is continued, so running it again resumes (and writes the
  rest). A book plans its chapters first, and each chapter into scenes just before it is
  written; ``chapters``/``max_scenes`` write part of it;
* :meth:`~JobRunner.plan` — a flat outline, around the locked sections;
  :meth:`~JobRunner.plan_book`, :meth:`~JobRunner.replan_book`, :meth:`~JobRunner.plan_chapter`
  — a book's chapters, again around locked chapters and chapters with text, a chapter's scenes
  around its locked scenes;
* :meth:`~JobRunner.write_section` — regenerate a section or write more of it.

The front ends only decide what to run and turn the events into output: the CLI's progress
lines, the GUI's widgets (it runs the runner on its worker thread), a batch's journal.

A job on a saved project keeps the backend's **prompt cache** in step with it
(:class:`~.prompt_cache.PromptCache`): loaded when the job starts on a backend that does not
hold that project's yet, saved after finished sections (at most every two minutes) and when
``write`` or ``write_section`` stops, however it stops. A reopened job then evaluates only
what the cache lacks instead of its whole first prompt.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Collection, cast

from ..backends.base import Backend, BackendInfo
from ..errors import CancelToken
from . import book as B
from . import book_model as BM
from . import revise
from .events import JobDone, JobStats
from .plan import Section
from .prompt_cache import PromptCache, cache_path
from .session import EngineConfig, JobSession, plan_then_write
from .status import SectionStatus
from .writer import AgentWriter, Job

# Events go to one sink per job: the writer's events, and for books BookPlanReady,
# ChapterPlanned, ChapterDone and PlanAdopted
EventSink = Callable[[Any], None]


class PlanAdopted:
    """Event: a write job gave a new book its chapters (the front end shows the new outline)."""


class JobRunner(JobSession):
    """Runs every kind of writing job on one backend. One job at a time."""

    _prompt_cache: PromptCache | None = None

    # -- the engine for a project ---------------------------------------------------------

    def start(self, project: Job, config: EngineConfig, *, given: Collection[str] = (),
              on_loading: Any = None, on_loaded: Any = None) -> Backend:
        """Before a job on ``project``: its engine (``config``'s ``given`` fields, else what
        the project remembers, else ``config``'s), the backend opened, the project told, and
        the project's prompt cache loaded into it unless it holds it already."""
        self.config = config.with_project(getattr(project, "settings", None) or {}, overridden=given)
        backend = self.open(project.target_words, on_loading=on_loading, on_loaded=on_loaded)
        self.remember(project)
        self.prompt_cache(project)
        return backend

    def prompt_cache(self, job: Job) -> PromptCache | None:
        """The prompt cache of ``job`` (a saved project) on the open backend, loaded into it
        the first time this backend runs a job on that project; None without a saved project."""
        path = getattr(job, "path", None)
        backend = self._backend
        if path is None or backend is None:
            return None
        cache = self._prompt_cache
        if cache is None or cache.backend is not backend or cache.path != cache_path(path):
            cache = self._prompt_cache = PromptCache(backend, path)
            cache.load()
        return cache

    def _cache_done(self, job: Job, cache: PromptCache | None) -> None:
        """A write stopped (done, cancelled or failed): save the cache, or delete it when the
        job has nothing left to write (a finished project is not resumed)."""
        if cache is None:
            return
        if _nothing_left(job):
            cache.discard()
        else:
            cache.save()

    def remember(self, project: Job, info: BackendInfo | None = None) -> bool:
        """The project keeps the engine it is written with (never the API key); True when
        that changed its settings. A project with nothing in it yet keeps nothing."""
        if not hasattr(project, "settings") or not (project.instruction or project.sections):
            return False
        settings = self.config.remembered_in(project.settings, info or self.info)
        changed = settings != project.settings
        project.settings = settings
        return changed

    # -- jobs --------------------------------------------------------------------------------

    def write(self, job: Job, *, book: bool | None = None, chapters: list[int] | None = None,
              max_scenes: int | None = None, on_event: EventSink | None = None,
              cancel: CancelToken | None = None, autosave: EventSink | None = None) -> JobStats:
        """Plan when there is no outline, then write what is not written yet; resumes.

        ``book`` (default: the job is a book already): two levels. A book without chapters
        plans them first (a one-level outline with nothing written gives way to them; a
        cancelled plan is not adopted) and announces them with :class:`PlanAdopted`.
        ``stats.seconds`` covers planning and writing.
        """
        self.open(job.target_words)
        cache = self.prompt_cache(job)
        emit = self.sink(on_event, autosave)
        try:
            return self._write(job, book, chapters, max_scenes, cache.watch(emit) if cache else emit, cancel)
        finally:
            self._cache_done(job, cache)

    def _write(self, job: Job, book: bool | None, chapters: list[int] | None, max_scenes: int | None,
               emit: EventSink, cancel: CancelToken | None) -> JobStats:
        if not (BM.is_book(job) if book is None else book):
            return plan_then_write(self.writer(AgentWriter), job, on_event=emit, cancel=cancel)
        t0 = time.perf_counter()
        bj = cast(BM.BookJob, job)
        writer = self.writer(B.BookWriter)
        if not bj.chapters:
            planned = writer.plan_book(bj.instruction, bj.target_words, bible=bj.bible,
                                       on_event=emit, cancel=cancel)
            if cancel is not None and cancel.cancelled:
                stats = JobStats(target_words=bj.target_words, words=bj.words,
                                 seconds=time.perf_counter() - t0)
                emit(JobDone(stats, True))
                return stats
            bj.sections[:] = []
            bj.chapters[:] = planned
            emit(PlanAdopted())
        stats = writer.write_book(bj, on_event=emit, cancel=cancel, chapters=chapters, max_scenes=max_scenes)
        stats.seconds = time.perf_counter() - t0
        return stats

    def write_section(self, job: Job, index: int, *, mode: str = "write", on_event: EventSink | None = None,
                      cancel: CancelToken | None = None, autosave: EventSink | None = None) -> Section:
        """Write one section (``mode``: write, regenerate, extend, continue); a book's scene
        with the book's prompt."""
        self.open(job.target_words)
        cache = self.prompt_cache(job)
        writer = self.writer(B.BookWriter) if BM.is_book(job) else self.writer(AgentWriter)
        emit = self.sink(on_event, autosave)
        try:
            return writer.write_section(job, index, mode=mode, on_event=cache.watch(emit) if cache else emit,
                                        cancel=cancel)
        finally:
            self._cache_done(job, cache)

    def plan(self, job: Job, *, on_event: EventSink | None = None,
             cancel: CancelToken | None = None) -> list[Section]:
        """A new flat outline for ``job`` with its locked sections kept at their places (the
        new sections share the words they leave). The job itself is not changed."""
        words = revise.replan_words(job.sections, job.target_words)
        self.open(job.target_words)
        new = self.writer(AgentWriter).plan(job.instruction, words, on_event=on_event, cancel=cancel)
        return revise.keep_locked(job.sections, new)

    def plan_book(self, job: Job, *, on_event: EventSink | None = None,
                  cancel: CancelToken | None = None) -> list[BM.Chapter]:
        """A new book's chapters (the job itself is not changed)."""
        self.open(job.target_words)
        return self.writer(B.BookWriter).plan_book(job.instruction, job.target_words, bible=job.bible,
                                                   on_event=on_event, cancel=cancel)

    def replan_book(self, job: Job, *, on_event: EventSink | None = None,
                    cancel: CancelToken | None = None) -> list[BM.Chapter]:
        """Plan ``job``'s chapters again, keeping locked chapters and chapters with text
        (``job`` is changed: the GUI passes a work copy)."""
        self.open(job.target_words)
        return self.writer(B.BookWriter).replan_book(job, on_event=on_event, cancel=cancel)

    def plan_chapter(self, job: Job, c: int, *, on_event: EventSink | None = None,
                     cancel: CancelToken | None = None) -> list[int]:
        """Plan chapter ``c`` into scenes, keeping its locked scenes (``job`` is changed)."""
        self.open(job.target_words)
        return self.writer(B.BookWriter).plan_chapter(job, c, on_event=on_event, cancel=cancel)


def _nothing_left(job: Job) -> bool:
    """Every section finished (or locked), and for a book every chapter written."""
    if not job.sections or not all(s.locked or SectionStatus(s.status).finished for s in job.sections):
        return False
    if not BM.is_book(job):
        return True
    bj = cast(BM.BookJob, job)
    return all(BM.chapter_status(bj, c) == "done" for c in range(len(bj.chapters)))
