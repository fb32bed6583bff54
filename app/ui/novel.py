"""GUI: novels in two levels (issue 12) — the window's book actions, codex tab and chapter bar.

``NovelActions`` (the window's ``novel``) adds to the main window:

* the Codex tab (``codex.CodexPane``) beside the outline;
* a chapter bar above the manuscript: go to a chapter, "Write chapter", "Write next scene",
  "Write the rest" (also in the Write menu, with "Re-plan chapter" and "Re-plan book");
* the book's jobs, run like every job by the job controller on the runner's worker thread
  (cancellable with Stop, with progress), each a call into the core's ``JobRunner``: plan
  the book (chapters), re-plan it (locked chapters and chapters with text are kept), re-plan
  a chapter (locked scenes are kept), and write (each chapter planned into scenes just
  before it is written, then its summary and codex proposals);
* a bar per chapter in the tracker.

Re-planning runs on a copy of the plan (``outline_model.work_copy``) that the GUI applies when
the job ends, so the outline never changes under a view that paints it. Writing works on the
project itself, as one-level writing does; when the engine plans a chapter mid-job the
outline and the manuscript are rebuilt from its ``ChapterPlanned`` event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..core.engine import book_model as BM
from ..core.engine import events as EV
from ..core.engine import outline_model as OM
from ..core.engine.events import SectionStarted
from ..core.engine.job import PlanAdopted
from .codex import CodexPane
from .runner import JobResult
from .tracker import Bar

if TYPE_CHECKING:  # pragma: no cover
    from .window import MainWindow


class NovelBar(QWidget):
    """Above the manuscript: go to a chapter; write a chapter, the next scene, the rest."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chapters = QComboBox()
        self.chapters.setToolTip("Go to a chapter")
        self.chapters.setMinimumContentsLength(24)
        self.chapters.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.write_chapter_btn = QPushButton("Write chapter")
        self.write_chapter_btn.setToolTip("Write the selected chapter's scenes not written yet "
                                          "(planning it first if needed; Ctrl+Alt+Return)")
        self.next_scene_btn = QPushButton("Write next scene")
        self.next_scene_btn.setToolTip("Write one scene: the first one not written yet (Ctrl+Shift+Return)")
        self.rest_btn = QPushButton("Write the rest")
        self.rest_btn.setToolTip("Write every scene not written yet, chapter by chapter")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 4, 16, 0)
        layout.addWidget(QLabel("Chapter:"))
        layout.addWidget(self.chapters, 1)
        for b in (self.write_chapter_btn, self.next_scene_btn, self.rest_btn):
            layout.addWidget(b)


class NovelActions(QObject):
    """The window's book features; ``window.novel``."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.w = w = window
        self._box: dict[str, Any] = {}          # what the running book job hands back
        self._job: str | None = None            # "plan-book", "replan-book", "replan-chapter", "write"
        self._filling = False
        self._labels: dict[int, str] = {}        # id(scene) -> "3.2", until the structure changes
        self._labels_for: object = None

        # the Codex tab
        self.codex = CodexPane(w.project)
        self.codex_tab = w.tabs.addTab(self.codex, "Codex")
        self.codex.changed.connect(w._mark_modified)
        self.codex.sceneRequested.connect(self._show_scene)
        w.outline.sectionSelected.connect(self.codex.show_scene)

        # the outline's tree
        book = w.outline.book
        w.outline.structureChanged.connect(self._structure_changed)
        w.outline.structureChanged.connect(w._rebuild_view)
        w.outline.model.modelReset.connect(self._structure_changed)
        book.replanChapterRequested.connect(self.replan_chapter)
        book.replanBookRequested.connect(self.replan_book)
        book.chapterSelected.connect(self._chapter_selected)
        book.on_edit = self._chapter_edited

        # the manuscript: chapter heads, "3.2" scene numbers, the chapter bar above it
        w.view.chapters_source = lambda: w.project.chapters
        w.view.label_for = self._label_for
        self.bar = NovelBar()
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        at = w.splitter.indexOf(w.view)
        w.splitter.replaceWidget(at, page)
        lay.addWidget(self.bar)
        lay.addWidget(w.view, 1)
        w.view.show()
        self.manuscript_page = page
        self.bar.chapters.currentIndexChanged.connect(self._go_to_chapter)
        self.bar.write_chapter_btn.clicked.connect(lambda: self.write_chapter())
        self.bar.next_scene_btn.clicked.connect(lambda: self.write_next_scene())
        self.bar.rest_btn.clicked.connect(lambda: self.write_rest())

        # the Write menu
        m = w.write_menu
        self.menu_separator = m.addSeparator()
        self.write_chapter_action = w.add_menu_action(m, "Write &chapter", self.write_chapter,
                                                      QKeySequence("Ctrl+Alt+Return"))
        self.next_scene_action = w.add_menu_action(m, "Write &next scene", self.write_next_scene,
                                                   QKeySequence("Ctrl+Shift+Return"))
        self.rest_action = w.add_menu_action(m, "Write the &rest", self.write_rest)
        self.replan_chapter_action = w.add_menu_action(m, "Re-plan c&hapter", self.replan_chapter)
        self.replan_book_action = w.add_menu_action(m, "Re-plan &book", self.replan_book)

        # the tracker: a bar per chapter
        w.tracker.rhythm.barClicked.connect(self._bar_clicked)

        # engine events and job ends (after the job controller has handled them)
        w.runner.event.connect(self._on_event)
        w.jobFinished.connect(self._on_finished)
        w.outline.model.modelReset.connect(self._project_shown)
        w.instruction.textChanged.connect(self._update_codex_tab)
        w.target.valueChanged.connect(self._update_codex_tab)
        self._project_shown()

    # -- state -----------------------------------------------------------------------------

    @property
    def project(self):
        return self.w.project

    @property
    def is_book(self) -> bool:
        return BM.is_book(self.project)

    def wants_book(self) -> bool:
        """Two levels: a book already, or nothing written yet and a long text or a request for
        chapters (``book.wants_chapters``)."""
        p = self.project
        if BM.is_book(p):
            return True
        if any(s.text.strip() or s.locked for s in p.sections):
            return False
        return BM.wants_chapters(p.instruction, p.target_words)

    def _label_for(self, index: int) -> str:
        """"3.2" for a novel's scene (cached per structure: the manuscript asks for every card)."""
        p = self.project
        if not (0 <= index < len(p.sections)) or p.sections[index].chapter is None or not self.is_book:
            return str(index + 1)
        sec = p.sections[index]
        label = self._labels.get(id(sec))
        if label is None or self._labels_for is not p:
            self._labels_for = p
            self._labels = {id(s): OM.scene_label(p, i) for i, s in enumerate(p.sections)
                            if s.chapter is not None}
            label = self._labels.get(id(sec), str(index + 1))
        return label

    def _structure_changed(self) -> None:
        self._labels = {}

    def _project_shown(self) -> None:
        """A project was loaded or its structure changed: codex tab, chapter bar, actions."""
        w, p = self.w, self.project
        if self.codex.project is not p:
            self.codex.set_project(p)
        else:
            self.codex.refresh()
        book = self.is_book
        self._update_codex_tab()
        self.bar.setVisible(book)
        self._fill_chapters()
        self.set_busy(w.runner.busy)

    def _update_codex_tab(self) -> None:
        """The Codex tab shows for a book, a codex, or a request that will be planned as a book."""
        w, p = self.w, self.project
        asks = (not any(s.text.strip() or s.locked for s in p.sections)
                and BM.wants_chapters(w.instruction.toPlainText(), w.target.value()))
        w.tabs.setTabVisible(self.codex_tab, self.is_book or bool(p.codex.entries) or asks)

    def _chapter_edited(self, c: int) -> None:
        """The chapter's title, synopsis or summary was edited in the tree's details."""
        self.w._mark_modified()
        self.w.view.refresh_chapter_heads()
        if 0 <= c < self.bar.chapters.count():
            self.bar.chapters.setItemText(c, f"{c + 1}. {self.project.chapters[c].title or 'Untitled'}")

    def _fill_chapters(self) -> None:
        combo = self.bar.chapters
        self._filling = True
        try:
            keep = combo.currentIndex()
            combo.clear()
            for c, ch in enumerate(self.project.chapters):
                combo.addItem(f"{c + 1}. {ch.title or 'Untitled'}")
            if 0 <= keep < combo.count():
                combo.setCurrentIndex(keep)
        finally:
            self._filling = False

    def set_busy(self, busy: bool) -> None:
        book = self.is_book
        actions = (self.write_chapter_action, self.next_scene_action, self.rest_action,
                   self.replan_chapter_action, self.replan_book_action)
        for widget in (self.bar.write_chapter_btn, self.bar.next_scene_btn, self.bar.rest_btn, *actions):
            widget.setEnabled(not busy and book)
        for action in (self.menu_separator, *actions):     # a one-level project: menu as before
            action.setVisible(book)
        self.codex.set_read_only(busy)

    def selected_chapter(self) -> int | None:
        """The chapter selected in the outline (or the chapter of the selected scene)."""
        return self.w.outline.book.current_chapter()

    # -- navigation ------------------------------------------------------------------------

    def _go_to_chapter(self, c: int) -> None:
        if self._filling or c < 0:
            return
        self.w.view.scroll_to_chapter(c)
        book = self.w.outline.book
        if book.current_chapter() != c:
            book.select_chapter(c)

    def _chapter_selected(self, c: int) -> None:
        if self.bar.chapters.currentIndex() != c:
            self._filling = True
            self.bar.chapters.setCurrentIndex(c)
            self._filling = False
        self.w.view.scroll_to_chapter(c)
        self.codex.show_chapter(c)

    def _bar_clicked(self, c: int) -> None:
        if self.is_book and 0 <= c < len(self.project.chapters):
            self.w.outline.book.select_chapter(c)

    def _show_scene(self, index: int) -> None:
        self.w.tabs.setCurrentWidget(self.w.outline)
        self.w.outline.select_row(index)

    # -- jobs ------------------------------------------------------------------------------

    def _ready(self) -> bool:
        w = self.w
        if w.runner.busy:
            return False
        w._sync_request()
        return True

    def plan_book(self) -> bool:
        """Plan the chapters (a new book), or re-plan the book when it has chapters."""
        if self.is_book:
            return self.replan_book()
        if not self._ready():
            return False
        p = self.project
        box = self._box = {}

        def work(jobs: Any, emit: Any, cancel: Any) -> None:
            box["chapters"] = jobs.plan_book(p, on_event=emit, cancel=cancel)

        self._job = "plan-book"
        return self.w.jobs.run_job("plan", work, "Planning the book…")

    def replan_book(self) -> bool:
        """Plan the chapters again; locked chapters and chapters with text are kept."""
        if not self.is_book or not self._ready():
            return False
        copy = OM.work_copy(self.project)
        box = self._box = {}

        def work(jobs: Any, emit: Any, cancel: Any) -> None:
            jobs.replan_book(copy, on_event=emit, cancel=cancel)
            box["copy"] = copy

        self._job = "replan-book"
        return self.w.jobs.run_job("plan", work, "Planning the book again…")

    def replan_chapter(self, c: int | None = None) -> bool:
        """Plan chapter ``c``'s scenes again; locked scenes are kept, replaced text becomes
        earlier takes of the new scenes."""
        c = self.selected_chapter() if c is None else c
        if c is None or not self.is_book or not self._ready():
            return False
        p = self.project
        written = sum(p.sections[i].words for i in BM.chapter_scenes(p, c) if not p.sections[i].locked)
        if written and not self.w.confirm(
                f"Re-planning chapter {c + 1} replaces its unlocked scenes; their {written:,} written "
                "words are kept as earlier takes of the new scenes. Continue?"):
            return False
        copy = OM.work_copy(p)
        box = self._box = {}

        def work(jobs: Any, emit: Any, cancel: Any) -> None:
            jobs.plan_chapter(copy, c, on_event=emit, cancel=cancel)
            box["copy"] = copy

        self._job = "replan-chapter"
        return self.w.jobs.run_job("plan", work, f"Planning chapter {c + 1}…")

    def _write(self, busy_text: str, **kw: Any) -> bool:
        if not self._ready():
            return False
        w, p = self.w, self.project
        if BM.is_book(p) and OM.next_scene(p) is None and kw.get("chapters") is None:
            w.show_info("Every scene is written. Use Regenerate or Write more on a scene, or add "
                        "chapters or scenes to the outline.")
            return False
        self._box = {}

        def work(jobs: Any, emit: Any, cancel: Any) -> Any:
            # a new book plans its chapters first (nothing was written: see wants_book)
            return jobs.write(p, book=True, on_event=emit, cancel=cancel, **kw)

        self._job = "write"
        return w.jobs.run_job("write", work, busy_text)

    def write_rest(self) -> bool:
        """Write every scene not written yet (planning the book first if it has no chapters)."""
        return self._write("Writing the book…" if self.is_book else "Planning the book…")

    def write_chapter(self, c: int | None = None) -> bool:
        """Write chapter ``c`` (default: the selected one, else the next one to write)."""
        if not self.is_book:
            return False
        p = self.project
        if c is None:
            c = self.selected_chapter()
        if c is None:
            nxt = OM.next_scene(p)
            c = nxt[0] if nxt else None
        if c is None or not 0 <= c < len(p.chapters):
            return False
        idx = BM.chapter_scenes(p, c)
        if idx and all(p.sections[i].locked or p.sections[i].written for i in idx):
            self.w.show_info(f"Chapter {c + 1} is written. Use Regenerate on a scene, or Re-plan chapter.")
            return False
        return self._write(f"Writing chapter {c + 1}…", chapters=[c])

    def write_next_scene(self) -> bool:
        """Write one scene: the first one not written yet (its chapter is planned first if needed)."""
        if not self.is_book:
            return False
        return self._write("Writing the next scene…", max_scenes=1)

    # -- events (GUI thread, in order, after the job controller's handler) -----------------

    def _structure_from_engine(self) -> None:
        w = self.w
        w.outline.model.reset()          # the tree follows; streaming state is kept
        w.outline.update_totals()
        w._rebuild_view()
        self._project_shown()

    def _on_event(self, e: object) -> None:
        w, p = self.w, self.project
        if self._job is None:
            return
        if isinstance(e, EV.BookPlanReady) and e.how == "fallback" and self._job == "replan-book":
            # a plan the book has is not given up for a standard arc (the instruct model's
            # 100,000-word book, re-planned after four chapters, would have lost its plan)
            self._box["fallback"] = True
            w.show_info("The model's new book plan could not be used, so the book keeps the plan it had. "
                        "Press Re-plan book to try again, or edit the chapters.")
        elif isinstance(e, EV.BookPlanReady) and e.how == "fallback":
            w.show_info("The model's book plan could not be used, so Longhand made a standard story "
                        "arc for this length. Edit the chapters, or press Re-plan book to try again.")
        elif self._job in ("plan-book", "replan-book") and isinstance(e, EV.BookPlanRound):
            # (a book plan takes minutes on a small model: how far it is)
            again = " again" if self._job == "replan-book" else ""
            w.job_label.setText(f"Planning the book{again}: {e.planned} of {e.of} chapters so far…")
        elif self._job == "write" and isinstance(e, (PlanAdopted, EV.ChapterPlanned)):
            self._structure_from_engine()
            if isinstance(e, EV.ChapterPlanned):
                w.outline.book.expand_chapter(e.chapter)
        elif self._job == "write" and isinstance(e, EV.ChapterDone):
            self._chapter_done(e)
        elif self._job == "write" and isinstance(e, SectionStarted) and 0 <= e.index < len(p.sections):
            c = p.sections[e.index].chapter
            if c is not None:
                idx = BM.chapter_scenes(p, c)
                k = idx.index(e.index) + 1 if e.index in idx else 0
                w.job_label.setText(f"Writing chapter {c + 1} of {len(p.chapters)}, scene {k} of "
                                    f"{len(idx)} ({e.mode})…")

    def _chapter_done(self, e: EV.ChapterDone) -> None:
        """A chapter written: the outline and the codex refreshed; a chapter that ended short
        and the codex entries the model proposes said in the banner."""
        w = self.w
        w.outline.book.refresh_details()
        self.codex.refresh()
        w.outline.model.reset()
        w.outline.update_totals()
        said = []
        if e.short:
            said.append(f"Chapter {e.chapter + 1} ended {e.target_words - e.words:,} words short of its "
                        f"{e.target_words:,}: {e.short}. Add a scene to it in the outline, or write on "
                        f"by hand.")
        if e.proposed:
            said.append(f"{'Chapter ' + str(e.chapter + 1) + ' is written. ' if not e.short else ''}The "
                        f"model proposes {len(e.proposed)} codex entr{'y' if len(e.proposed) == 1 else 'ies'} "
                        f"({', '.join(x.name for x in e.proposed[:4])}): see the Codex tab.")
        if said:
            w.show_info(" ".join(said))

    def _on_finished(self, out: JobResult) -> None:
        w, p = self.w, self.project
        job, box = self._job, self._box
        self._job, self._box = None, {}
        if job is None:
            return
        ok = not out.error and not out.cancelled
        if job == "plan-book" and ok and box.get("chapters"):
            p.sections[:] = []        # an unwritten one-level outline gives way to the chapters
            p.chapters[:] = box["chapters"]
            w.job_label.setText(f"Book plan ready: {len(p.chapters)} chapters. Edit it, then press Write; "
                                "each chapter is planned into scenes just before it is written.")
        elif job == "replan-book" and ok and box.get("fallback"):
            w.job_label.setText("The book keeps its plan: the model's new one could not be used.")
            return
        elif job in ("replan-book", "replan-chapter") and ok and box.get("copy") is not None:
            OM.apply_copy(p, box["copy"])
            w.job_label.setText("Chapter planned." if job == "replan-chapter" else "Book planned again.")
        elif job != "write":
            return
        w.outline.model.set_project(p)
        w._rebuild_view()
        self._project_shown()
        w.outline.book.refresh_details()
        if job != "write":
            w._mark_modified()

    # -- the tracker -----------------------------------------------------------------------

    def update_tracker(self) -> bool:
        """A bar per chapter and the current chapter's progress; False for one-level projects."""
        w, p = self.w, self.project
        rhythm, label = w.tracker.rhythm, w.tracker.chapter_label
        if not BM.is_book(p):
            rhythm.per_section = True
            rhythm.setToolTip("A bar per section: filled to the words written, outlined at the target")
            label.hide()
            return False
        model = w.outline.model
        rows = OM.chapter_rows(p, words=model.words)
        streaming = model.streaming
        cur = None
        if streaming is not None and 0 <= streaming < len(p.sections):
            cur = p.sections[streaming].chapter
        if cur is None:
            cur = self.selected_chapter()
        if cur is None:
            nxt = OM.next_scene(p)
            cur = nxt[0] if nxt else len(rows) - 1
        bars = [Bar(r.written, r.chapter.goal,
                    "writing" if r.index == cur and streaming is not None
                    else {"done": "done", "writing": "done"}.get(r.status, "planned"))
                for r in rows]
        rhythm.per_section = False
        rhythm.setToolTip("A bar per chapter: filled to the words written, outlined at the target")
        rhythm.set_bars(bars, cur)
        if cur is not None and 0 <= cur < len(rows):
            r = rows[cur]
            done_scenes = sum(1 for i in r.scenes if p.sections[i].written)
            scenes = f" · {done_scenes} of {len(r.scenes)} scenes written" if r.scenes else " · not planned yet"
            # (written against its goal: its target and the words carried into it)
            pct = 100 * r.written / r.chapter.goal if r.chapter.goal else 0
            label.setText(f"Chapter {cur + 1} of {len(rows)}: {r.written:,} / {r.chapter.goal:,} "
                          f"words ({pct:.0f}%){scenes}")
            label.show()
        return True
