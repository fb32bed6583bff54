"""GUI: job control — Plan, Write, Regenerate, Write more, Stop; engine events; progress.

The controller turns the window's buttons into engine jobs (each a call into the core's
``JobRunner``, run by the ``EngineRunner`` on its worker thread), renders the engine's events in the
window's widgets as they arrive, and shows progress from the core's typed
:class:`~longhand.core.engine.progress.Progress`. Domain rules (re-planning around locked
sections, takes, "everything is written") come from ``core.engine``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from ..core.backends.base import BackendInfo
from ..core.engine import revise
from ..core.engine.events import JobDone, PlanReady, PlanStarted, PlanToken, SectionDone, SectionStarted, SectionToken
from ..core.engine.progress import ProgressTracker, format_duration, plan_lines
from ..core.engine.session import BackendFactory
from ..core.engine.status import SectionStatus, all_written
from ..core.engine.writer import validate_request
from ..core.errors import LonghandError
from .runner import EngineRunner, JobResult, Work
from .tracker import Bar

if TYPE_CHECKING:  # pragma: no cover
    from .window import MainWindow


class JobController(QObject):
    """Runs the window's engine jobs and renders their events."""

    def __init__(self, window: "MainWindow", backend_factory: BackendFactory | None = None) -> None:
        super().__init__(window)
        self.w = window
        self.runner = EngineRunner(window, backend_factory=backend_factory)
        self.runner.event.connect(self._on_event)
        self.runner.loading.connect(self._on_loading)
        self.runner.loaded.connect(self._on_loaded)
        self.runner.finished.connect(self._on_finished)
        self.progress: ProgressTracker | None = None
        self.last_stop_seconds: float | None = None
        self._stop_clicked: float | None = None
        self._job_started: float | None = None      # set_busy: when the running job began
        self._adopt_plan_on_ready = False
        self._plan_dirty = False
        self._tick = QTimer(self)
        self._tick.setInterval(400)
        self._tick.timeout.connect(self.refresh_progress)

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def forget(self) -> None:
        """A new project: no progress of an earlier job to show."""
        self.progress = None

    # -- starting jobs ---------------------------------------------------------------------

    def _start(self, kind: str, work: Work, busy_text: str) -> bool:
        w = self.w
        w.banner.hide()
        w.view.commit_edits()
        try:
            self.runner.start(kind, work, w.engine_settings, w.project, autosave=w.autosave,
                              given=w.engine.given)
        except LonghandError as e:
            w.show_error(str(e))
            return False
        project = w.project
        self.progress = ProgressTracker(kind, project.target_words, lambda: project.words)
        self._stop_clicked = None
        w.view.follow = True
        self.set_busy(kind, busy_text)
        return True

    def run_job(self, kind: str, work: Work, busy_text: str) -> bool:
        """Start ``work`` (for the window's add-ons, e.g. ``novel.NovelActions``)."""
        if self.runner.busy:
            return False
        self._adopt_plan_on_ready = False
        return self._start(kind, work, busy_text)

    def _validated(self) -> bool:
        w = self.w
        w._sync_request()
        try:
            validate_request(w.project.instruction, w.project.target_words)
        except LonghandError as e:
            w.show_error(str(e))
            return False
        return True

    def plan(self) -> bool:
        """Make a new outline (locked sections are kept)."""
        if self.runner.busy or not self._validated():
            return False
        w = self.w
        if w.novel.wants_book():           # a novel in two levels (issue 12): chapters, then scenes
            return w.novel.plan_book()
        project = w.project
        written = revise.words_lost_by_replan(project.sections)
        if written and not w.confirm(f"A new outline replaces the {written:,} words written in "
                                     "unlocked sections (locked sections are kept). Continue?"):
            return False
        try:
            revise.replan_words(project.sections, project.target_words)     # told before any model loads
        except LonghandError as e:
            w.show_error(str(e))
            return False

        def work(jobs: Any, emit: Any, cancel: Any) -> Any:
            return jobs.plan(project, on_event=emit, cancel=cancel)     # the locked sections kept

        self._adopt_plan_on_ready = False
        return self._start("plan", work, "Planning…")

    def write(self) -> bool:
        """Write every section not written yet; plan first when there is no outline."""
        if self.runner.busy or not self._validated():
            return False
        w = self.w
        project = w.project
        if w.novel.wants_book():
            return w.novel.write_rest()
        if all_written(project.sections):
            w.show_info("Every section is written. Use Regenerate or Write more on a section, "
                        "or add sections to the outline.")
            return False

        def work(jobs: Any, emit: Any, cancel: Any) -> Any:
            return jobs.write(project, on_event=emit, cancel=cancel)

        self._adopt_plan_on_ready = not project.sections
        return self._start("write", work, "Planning…" if not project.sections else "Writing…")

    def section_job(self, index: int, mode: str) -> bool:
        """Regenerate a section or write more of it."""
        w = self.w
        if self.runner.busy or not 0 <= index < len(w.project.sections):
            return False
        if w.project.sections[index].locked:
            w.show_error(f"Section {index + 1} is locked; unlock it to rewrite it.")
            return False
        w._sync_request()
        project = w.project

        def work(jobs: Any, emit: Any, cancel: Any) -> Any:    # a novel's scene: the book's prompt
            return jobs.write_section(project, index, mode=mode, on_event=emit, cancel=cancel)

        verb = "Regenerating" if mode == "regenerate" else "Writing more of"
        return self._start(mode, work, f"{verb} section {index + 1}…")

    def stop(self) -> None:
        if not self.runner.busy:
            return
        self._stop_clicked = time.perf_counter()
        self.runner.cancel()
        self.w.job_label.setText("Stopping…")
        self.w.stop_btn.setEnabled(False)

    def preload_model(self) -> bool:
        """Load the model in the background so the first Plan starts at once."""
        if self.runner.busy:
            return False
        return self._start("load", lambda jobs, emit, cancel: None, "Loading model…")

    # -- events from the engine (GUI thread, in order) -------------------------------------

    def _on_loading(self, name: str) -> None:
        w = self.w
        w.job_label.setText(f"Loading model {Path(name).name}…")
        w.job_progress.setRange(0, 0)
        w.status_model.setText(f"{Path(name).name} · loading…")

    def _on_loaded(self, info: BackendInfo) -> None:
        w = self.w
        w._update_model_label(info)
        for note in info.notes:
            w.show_info(note)
        w.job_label.setText("Model loaded.")

    def _on_event(self, e: object) -> None:
        w = self.w
        if self.progress is not None:
            self.progress(e)
        model = w.outline.model
        if isinstance(e, SectionToken):
            w.view.append(e.index, e.text)
            model.live_words[e.index] = e.section_words
        elif isinstance(e, SectionStarted):
            model.streaming = e.index
            model.live_words.pop(e.index, None)
            model.refresh_row(e.index)
            w.view.begin_section(e.index, clear=e.mode in ("write", "regenerate"))
            w.job_label.setText(f"Writing section {e.index + 1} of {len(w.project.sections)} ({e.mode})…")
            w.job_progress.setRange(0, max(1, w.project.target_words))
        elif isinstance(e, SectionDone):
            model.live_words.pop(e.index, None)
            model.streaming = None
            w.view.end_section(e.index, e.text)
            model.refresh_row(e.index)
            w.outline.update_totals()
            w._mark_modified()
        elif isinstance(e, PlanStarted):
            w.job_label.setText(f"Planning {e.target_words:,} words…")
            w.job_progress.setRange(0, 0)
        elif isinstance(e, PlanToken):
            self._plan_dirty = True
        elif isinstance(e, PlanReady):
            if e.how == "fallback":
                w.show_info("The model's outline could not be used, so Longhand made a standard "
                            "outline for this length. Edit it, or press Plan to try again.")
            if self._adopt_plan_on_ready or e.how == "top-up":     # (top-up: a part added at the end)
                w.project.sections = e.sections
                model.set_project(w.project)
                w._rebuild_view()
                w._mark_modified()
        elif isinstance(e, JobDone):
            pass            # the tracker keeps the job's stats

    def _on_finished(self, out: JobResult) -> None:
        w = self.w
        if self._stop_clicked is not None:
            self.last_stop_seconds = time.perf_counter() - self._stop_clicked
        kind = out.kind
        took = time.perf_counter() - self._job_started if self._job_started is not None else None
        w.view.end_job()
        if not w.view.cards:
            w.view.set_placeholder(w.view.EMPTY)
        w.outline.model.streaming = None
        w.outline.model.live_words.clear()
        if out.error and not out.cancelled:
            w.show_error(out.error)
        elif kind == "plan" and out.result is not None and not out.cancelled:
            w.project.sections = out.result
            w.outline.model.set_project(w.project)
            w._rebuild_view()
            w._mark_modified()
        self.set_busy(None)
        if out.remembered:
            w._mark_modified()               # the project keeps the engine it was written with
        if w.project.path is not None and w.autosave is not None:
            w.autosave.dirty = True          # the final state, from the GUI thread now
            if w.autosave.flush():
                w.setWindowModified(False)
        if out.cancelled:
            msg = f"Stopped. Kept {w.project.words:,} words."
            if self.last_stop_seconds is not None and self._stop_clicked is not None:
                msg += f" (stopped in {self.last_stop_seconds:.2f} s)"
            w.job_label.setText(msg)
        elif not out.error:
            done = f"Done: {w.project.words:,} words" + (
                f" in {format_duration(took)} (model load and plan included)." if took is not None else ".")
            w.job_label.setText({"plan": "Outline ready. Edit it, then press Write.",
                                 "load": "Model ready."}.get(kind, done))
        else:
            w.job_label.setText("Failed; see the message above.")
        w.statusBar().showMessage(w.job_label.text(), 8000)
        self.refresh_progress()
        w.jobFinished.emit(out)

    # -- busy state and progress -----------------------------------------------------------

    def set_busy(self, kind: str | None, text: str = "") -> None:
        w = self.w
        busy = kind is not None
        if busy and self._job_started is None:
            self._job_started = time.perf_counter()     # the whole job: load and plan included
        elif not busy:
            self._job_started = None
        for widget in (w.plan_btn, w.write_btn, w.plan_action, w.write_action,
                       w.new_action, w.open_action, w.settings_action, w.models_action):
            widget.setEnabled(not busy)
        w.stop_btn.setEnabled(busy)
        w.stop_action.setEnabled(busy)
        w.instruction.setReadOnly(busy)
        w.target.setEnabled(not busy)
        w.bible.setReadOnly(busy)
        w.outline.set_read_only(busy)
        w.view.set_busy(busy)
        w.novel.set_busy(busy)
        w.job_progress.setVisible(busy)
        if busy:
            w.job_label.setText(text)
            w.job_progress.setRange(0, 0)
            self._tick.start()
        else:
            self._tick.stop()

    def refresh_progress(self) -> None:
        w = self.w
        model = w.outline.model
        secs = model.sections
        total = sum(model.words(i) for i in range(len(secs)))
        w.tracker.set_totals(total, w.project.target_words)
        if not w.novel.update_tracker():          # a novel: a bar per chapter
            bars = [Bar(model.words(i), s.target_words,
                        SectionStatus.WRITING.value if i == model.streaming else str(s.status))
                    for i, s in enumerate(secs)]
            w.tracker.rhythm.set_bars(bars, model.streaming if model.streaming is not None
                                      else w.tracker.rhythm.current)
        tracker = self.progress
        if tracker is None:
            w.tracker.set_speed(None, None, None, None)
            return
        if not self.runner.busy:
            if tracker.stats is not None:
                p = tracker.snapshot(total)
                w.tracker.set_speed(p.tokens_per_s, p.words_per_min, p.elapsed, None)
            return
        if self._plan_dirty:
            self._plan_dirty = False
            lines = plan_lines(tracker.plan_text)
            w.job_label.setText(f"Planning… {len(lines)} line{'s' if len(lines) != 1 else ''} of outline so far")
            if not w.view.cards:
                w.view.set_placeholder("Planning…\n\n" + "\n".join(lines[-12:]))
        p = tracker.snapshot(total)
        w.tracker.set_speed(p.tokens_per_s, p.words_per_min, p.elapsed, p.eta_seconds)
        if model.streaming is not None:
            model.refresh_row(model.streaming)
            w.outline.update_totals()
            if model.streaming < len(w.view.cards):
                w.view.cards[model.streaming].refresh(words=model.words(model.streaming),
                                                      streaming=True, target=p.section_goal)
        if w.job_progress.maximum() > 0:
            w.job_progress.setValue(min(total, w.job_progress.maximum()))
