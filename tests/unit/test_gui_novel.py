"""GUI: novels in two levels (issue 12) — the tree outline, the codex tab, chapter summaries,
the per-chapter tracker and the book actions, driven through the real widgets on a scripted
backend (no model). The end-to-end test on the demo model is in
tests/integration/test_gui_novel_demo.py."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QTextCursor

from fakes import ScriptedBackend
from longhand.core.backends.base import Generation
from longhand.core.engine import book_model as BM
from longhand.core.engine.codex import CodexEntry
from longhand.core.engine.plan import DONE, Section
from longhand.core.projects.project import Project
from longhand.ui.book_outline import COL_LOCK, COL_NAME, COL_STATUS, COL_TARGET, COL_WRITTEN
from longhand.ui.window import MainWindow

JOB_MS = 30_000


_VERBS = ["walks", "rebuilds", "crosses", "sketches", "surveys", "measures", "follows", "charts", "searches",
          "guards", "floods", "climbs", "burns", "mends", "sells", "steals", "buries", "opens", "locks",
          "paints", "rows", "counts", "hides", "finds"]
_NOUNS = ["shore", "harbour", "bridge", "canal", "tower", "archive", "market", "chapel", "quarry", "orchard",
          "lighthouse", "granary", "ferry", "mill", "barracks", "vault", "garden", "well", "forge", "dock",
          "gallery", "cellar", "school", "stable", "causeway"]


class NovelBackend(ScriptedBackend):
    """Completion-style scripted model: chapter lines, scene lines, summaries, prose."""

    def __init__(self, delay: float = 0.0, scenes: int = 3) -> None:
        super().__init__(style="completion", delay=delay)
        self.scenes = scenes
        self.scene_plans = 0
        self.book_plans_fail = False        # True: a book plan's answer holds no chapter line

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        t = prompt.text()
        m = re.search(r"Chapter (\d+) - Title:$", t)
        if m and self.book_plans_fail:
            return self._say(" \n\n", on_piece)
        if m:
            k = int(m.group(1))
            lines = [f"Chapter {i} - Title: Map {i} - Synopsis: Mara Voss redraws the coast at place {i} "
                     f"and the land follows - Word Count: 2500 words" for i in range(k, k + 12)]
            return self._say("\n".join(lines)[len(f"Chapter {k} - Title:"):] + "\n\n", on_piece)
        m = re.search(r"Scene (\d+) - Main Point:$", t)
        if m:
            self.scene_plans += 1
            # (each scene tells something of its own: the engine refuses one that retells another)
            k0 = (self.scene_plans - 1) * self.scenes
            lines = [f"Scene {i} - Main Point: Mara Voss {_VERBS[(k0 + i) % len(_VERBS)]} the "
                     f"{_NOUNS[(k0 + i) % len(_NOUNS)]} of Lowmere - Word Count: 300 words"
                     for i in range(1, self.scenes + 1)]
            return self._say("\n".join(lines)[len("Scene 1 - Main Point:"):] + "\n\n", on_piece)
        if "(In short, what happens in chapter" in t[-80:]:
            return self._say(" Mara Voss maps the drowned coast and finds that the land moves "
                             "when she draws it.)", on_piece)
        return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                cancel=cancel, allow_end=allow_end)

    def _say(self, text, on_piece):
        if on_piece:
            on_piece(text)
        return Generation(text, "end", 100, 10, len(text.split()), 0.01)


class Factory:
    def __init__(self) -> None:
        self.delay = 0.0
        self.book_plans_fail = False
        self.backends: list[NovelBackend] = []

    def __call__(self, model=None, **kwargs):
        b = NovelBackend(delay=self.delay)
        b.book_plans_fail = self.book_plans_fail
        self.backends.append(b)
        return b


@pytest.fixture
def factory():            # make_window (tests/unit/conftest.py) opens windows on it
    return Factory()


def wait_job(qtbot, w: MainWindow) -> None:
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=JOB_MS)


SENTENCE = "Mara Voss watched the grey sea from the chart room at dusk."     # 12 words


def book_project(written_scenes: int = 2) -> Project:
    """Three chapters: chapter 1 planned (2 scenes, ``written_scenes`` of them written),
    chapter 2 planned (2 scenes), chapter 3 not planned yet. Targets add up."""
    p = Project(instruction="Write a 3000-word novel in three chapters about a cartographer.",
                target_words=3000)
    p.chapters = [BM.Chapter("Flood Maps", "Mara Voss maps the flooded coast of Lowmere.", 1000),
                  BM.Chapter("The Moving Shore", "The shore moves where Mara draws it.", 1000),
                  BM.Chapter("Ink and Tide", "Mara must choose which map to burn.", 1000)]
    for c in (0, 1):
        for k in range(2):
            sec = Section(main_point=f"Chapter {c + 1} scene {k + 1}: Mara Voss at the shore",
                          target_words=500, chapter=c)
            if c == 0 and k < written_scenes:
                sec.text = " ".join([SENTENCE] * 10)
                sec.status = DONE
                sec.codex_used = ["Mara Voss"]
            p.sections.append(sec)
    p.codex.add(CodexEntry("Mara Voss", "character", "A cartographer, 34.", aliases=["Mara"]))
    return p


def load(w: MainWindow, project: Project) -> None:
    w.project = project
    w._load_project_into_widgets()


def tree(w):
    return w.outline.book.model


def chapter_cell(w, c, col, role=Qt.ItemDataRole.DisplayRole):
    m = tree(w)
    return m.data(m.index(c, col), role)


def scene_cell(w, c, k, col, role=Qt.ItemDataRole.DisplayRole):
    m = tree(w)
    return m.data(m.index(k, col, m.index(c, 0)), role)


# ---------------------------------------------------------------------------------------

def test_one_level_project_keeps_the_flat_table(make_window):
    w = make_window()
    p = Project(instruction="Write a 900-word story about a lighthouse.", target_words=900,
                sections=[Section("The keeper climbs the stairs", 450), Section("The lamp goes out", 450)])
    load(w, p)
    assert w.outline.stack.currentWidget() is w.outline.flat_page
    assert not w.novel.bar.isVisible()
    assert not w.tabs.isTabVisible(w.novel.codex_tab)
    assert not w.novel.next_scene_action.isVisible() and not w.novel.replan_book_action.isVisible()
    assert w.outline.model.rowCount() == 2
    assert [c.heading.text() for c in w.view.cards] == ["1. The keeper climbs the stairs", "2. The lamp goes out"]
    assert w.view.chapter_heads == []


def test_tree_rolls_up_and_shows_a_plan_that_does_not_add_up(make_window, qtbot):
    w = make_window()
    p = book_project()
    load(w, p)
    assert w.outline.stack.currentWidget() is w.outline.book
    assert w.novel.next_scene_action.isVisible() and w.novel.next_scene_action.isEnabled()
    m = tree(w)
    assert m.rowCount() == 3
    assert [m.rowCount(m.index(c, 0)) for c in range(3)] == [2, 2, 0]
    assert chapter_cell(w, 0, COL_NAME) == "Chapter 1: Flood Maps"
    assert chapter_cell(w, 0, COL_WRITTEN) == "240"            # 2 scenes x 120 words, rolled up
    assert scene_cell(w, 0, 0, COL_WRITTEN) == "120"
    assert chapter_cell(w, 0, COL_STATUS).startswith("done")
    assert chapter_cell(w, 1, COL_STATUS).startswith("planned")
    assert chapter_cell(w, 2, COL_STATUS) == "not planned"
    header = w.outline.book.header.text()
    assert "adds up at every level" in header and "240" in header
    # the user edits a scene's target: the mismatch is shown, nothing is rescaled
    assert m.setData(m.index(1, COL_TARGET, m.index(1, 0)), 800)
    assert p.sections[3].target_words == 800 and p.chapters[1].target_words == 1000
    header = w.outline.book.header.text()
    assert "does not add up" in header and "+300" in header
    assert "⚠" in chapter_cell(w, 1, COL_TARGET)
    # ... until the user asks for it
    qtbot.mouseClick(w.outline.book.fit_btn, Qt.MouseButton.LeftButton)
    assert sum(s.target_words for s in p.sections if s.chapter == 1) == 1000
    assert BM.check_totals(p) == []
    assert "adds up at every level" in w.outline.book.header.text()
    # a new book target: the chapters no longer add up (shown, not rescaled)
    w.target.setValue(4000)
    assert "the book's target is 4,000 (-1,000)" in w.outline.book.header.text()
    assert [ch.target_words for ch in p.chapters] == [1000, 1000, 1000]
    qtbot.mouseClick(w.outline.book.fit_btn, Qt.MouseButton.LeftButton)
    assert sum(ch.target_words for ch in p.chapters) == 4000 and BM.check_totals(p) == []
    # the manuscript: a heading per chapter (the unplanned one too) and "chapter.scene" numbers
    assert len(w.view.chapter_heads) == 3
    assert "Ink and Tide" in w.view.chapter_heads[2].text()
    assert w.view.cards[2].heading.text().startswith("2.1. ")
    # the tracker: a bar per chapter
    w.jobs.refresh_progress()
    assert len(w.tracker.rhythm.bars) == 3 and not w.tracker.rhythm.per_section
    assert [b.words for b in w.tracker.rhythm.bars] == [240, 0, 0]


def test_add_reorder_lock_and_delete_chapters_and_scenes(make_window, qtbot):
    w = make_window()
    p = book_project()
    load(w, p)
    ob = w.outline.book
    click = lambda b: qtbot.mouseClick(b, Qt.MouseButton.LeftButton)  # noqa: E731
    ob.select_chapter(1)
    click(ob.add_chapter_btn)                       # after chapter 2
    assert [ch.title for ch in p.chapters] == ["Flood Maps", "The Moving Shore", "New chapter", "Ink and Tide"]
    assert ob.current_chapter() == 2
    assert tree(w).rowCount() == 4 and len(w.view.chapter_heads) == 4
    assert "does not add up" in ob.header.text()    # a new chapter's words are not taken from others
    click(ob.up_btn)
    click(ob.up_btn)                                 # now the first chapter
    assert p.chapters[0].title == "New chapter" and ob.current_chapter() == 0
    assert [s.chapter for s in p.sections] == [1, 1, 2, 2]      # scenes moved with their chapters
    assert chapter_cell(w, 1, COL_NAME) == "Chapter 2: Flood Maps"
    assert w.view.cards[0].heading.text().startswith("2.1. ")
    click(ob.lock_btn)
    assert p.chapters[0].locked
    assert chapter_cell(w, 0, COL_LOCK, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    # a scene: add one to the new chapter, rename it in place, move it, delete it
    click(ob.add_scene_btn)
    assert [s.chapter for s in p.sections] == [0, 1, 1, 2, 2]
    i = ob.current_scene()
    assert i == 0 and p.sections[0].main_point.startswith("New scene")
    m = tree(w)
    assert m.setData(m.index(0, COL_NAME, m.index(0, 0)), "Mara finds the first moving map")
    assert p.sections[0].main_point == "Mara finds the first moving map"
    assert len(w.view.cards) == 5 and w.view.cards[0].heading.text() == "1.1. " + p.sections[0].heading
    ob.select_scene(2)                               # chapter 2's second scene
    click(ob.up_btn)
    assert p.sections[1].main_point == "Chapter 1 scene 2: Mara Voss at the shore"
    ob.select_scene(1)                               # chapter 2's first scene: Up moves it into chapter 1
    click(ob.up_btn)
    assert [s.chapter for s in p.sections] == [0, 0, 1, 2, 2] and ob.current_scene() == 1
    assert tree(w).rowCount(tree(w).index(0, 0)) == 2 and scene_cell(w, 0, 1, COL_STATUS) == "done"
    click(ob.down_btn)                               # and back
    assert [s.chapter for s in p.sections] == [0, 1, 1, 2, 2]
    ob.select_scene(0)
    click(ob.delete_btn)
    assert len(p.sections) == 4 and tree(w).rowCount(tree(w).index(0, 0)) == 0
    ob.select_chapter(3)
    click(ob.delete_btn)
    assert [ch.title for ch in p.chapters] == ["New chapter", "Flood Maps", "The Moving Shore"]
    assert len(w.view.chapter_heads) == 3


def test_chapter_summary_is_shown_edited_and_kept(make_window, qtbot, tmp_path):
    w = make_window()
    p = book_project()
    p.chapters[0].summary = "Model: Mara maps Lowmere."
    load(w, p)
    ob = w.outline.book
    ob.select_chapter(0)
    assert ob.details.isVisible()
    assert ob.summary_edit.toPlainText() == "Model: Mara maps Lowmere."
    assert ob.summary_state.text() == "summary: written by the model"
    ob.summary_edit.selectAll()
    qtbot.keyClicks(ob.summary_edit, "Mara learns her maps move the land.")
    assert p.chapters[0].summary == "Mara learns her maps move the land."
    assert p.chapters[0].summary_edited
    assert ob.summary_state.text() == "summary: yours, never overwritten"
    ob.synopsis_edit.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(ob.synopsis_edit, " She hides it.")
    assert p.chapters[0].synopsis.endswith("She hides it.")
    ob.title_edit.selectAll()
    qtbot.keyClicks(ob.title_edit, "Drowned Maps")
    assert p.chapters[0].title == "Drowned Maps"
    assert "Drowned Maps" in w.view.chapter_heads[0].text() and "She hides it." in w.view.chapter_heads[0].text()
    assert w.novel.bar.chapters.itemText(0) == "1. Drowned Maps"
    assert chapter_cell(w, 0, COL_NAME) == "Chapter 1: Drowned Maps"
    assert w.isWindowModified()
    # kept in the file
    assert w.save_as(tmp_path / "book.longhand")
    again = Project.load(tmp_path / "book.longhand")
    assert again.chapters[0].summary == "Mara learns her maps move the land." and again.chapters[0].summary_edited


def test_codex_tab_adds_edits_deletes_and_accepts_proposals(make_window, qtbot):
    w = make_window()
    p = book_project()
    p.codex.proposed = [CodexEntry("Tobin", "character", "Tobin rows the ferry.", from_chapter=1),
                        CodexEntry("Saltgate", "place", "Saltgate is a harbour.", from_chapter=1)]
    load(w, p)
    assert w.tabs.isTabVisible(w.novel.codex_tab)
    cx = w.novel.codex
    assert cx.table.rowCount() == 3                 # 1 entry, then the 2 proposals (in italics)
    assert cx.table.item(1, 0).text() == "Tobin" and cx.table.item(1, 0).font().italic()
    assert cx.proposal_label.text().startswith("2 proposed")
    click = lambda b: qtbot.mouseClick(b, Qt.MouseButton.LeftButton)  # noqa: E731
    # add
    click(cx.new_btn)
    qtbot.keyClicks(cx.name_edit, "Lowmere")
    qtbot.keyClicks(cx.aliases_edit, "the drowned town, Low")
    cx.kind_box.setCurrentText("place")
    cx.from_box.setValue(2)
    qtbot.keyClicks(cx.text_edit, "A town of canals.")
    click(cx.save_btn)
    e = next(e for e in p.codex.entries if e.name == "Lowmere")
    assert (e.kind, e.aliases, e.from_chapter, e.text) == ("place", ["the drowned town", "Low"], 2, "A town of canals.")
    assert cx.table.rowCount() == 4
    # edit it (no duplicate)
    cx.text_edit.setPlainText("A town of canals, half drowned.")
    click(cx.save_btn)
    assert [x.text for x in p.codex.entries if x.name == "Lowmere"] == ["A town of canals, half drowned."]
    # a bad entry: one clear line, nothing added
    click(cx.new_btn)
    qtbot.keyClicks(cx.text_edit, "No name")
    click(cx.save_btn)
    assert "'name' must be non-empty" in cx.message.text() and len(p.codex.entries) == 2
    # which scenes used an entry, and what the selected scene used
    cx.table.setCurrentCell(0, 0)
    assert cx.used_label.text().startswith("Used by scenes") and ">1.1<" in cx.used_label.text()
    w.outline.book.select_scene(0)
    assert "Scene 1.1 used: <b>Mara Voss</b>" in cx.scene_label.text()
    p.chapters[1].codex_names = ["Mara Voss"]
    w.outline.book.select_chapter(1)
    assert cx.scene_label.text() == "Chapter 2's notes: <b>Mara Voss</b>"
    w.outline.book.select_chapter(2)
    assert cx.scene_label.text().startswith("Chapter 3: its notes are chosen when it is planned")
    # proposals: edit one and accept it, reject the other
    assert not cx.accept_btn.isEnabled()             # an entry is selected, not a proposal
    cx.select_proposal(0)
    assert cx.name_edit.text() == "Tobin" and cx.accept_btn.isEnabled()
    cx.text_edit.setPlainText("Tobin rows the Lowmere ferry; he is Mara's brother.")
    click(cx.save_btn)
    tobin = next(x for x in p.codex.entries if x.name == "Tobin")
    assert tobin.text.endswith("Mara's brother.") and tobin.from_chapter == 1
    assert [x.name for x in p.codex.proposed] == ["Saltgate"]
    cx.select_proposal(0)
    click(cx.reject_btn)
    assert p.codex.proposed == [] and not cx.proposal_box.isVisibleTo(cx)
    assert "Saltgate" not in [x.name for x in p.codex.entries]
    p.codex.proposed.append(CodexEntry("Kestrel", "place", "Kestrel is a cliff village.", from_chapter=2))
    cx.refresh()
    cx.select_proposal(0)
    click(cx.accept_btn)                              # as it is
    assert ("Kestrel", "place", 2) in [(x.name, x.kind, x.from_chapter) for x in p.codex.entries]
    assert p.codex.proposed == []
    # delete
    cx.select_entry([x.name for x in p.codex.entries].index("Lowmere"))
    click(cx.delete_btn)
    assert "Lowmere" not in [x.name for x in p.codex.entries]


def test_write_next_scene_then_the_chapter_updates_the_tree(make_window, qtbot, factory):
    w = make_window()
    p = book_project(written_scenes=2)
    # chapter 2 is not planned yet: the engine plans it just before writing it
    p.sections[:] = [s for s in p.sections if s.chapter == 0]
    p.chapters[1].summary = ""
    p.chapters[0].summary = "Mine: Mara maps Lowmere."
    p.chapters[0].summary_edited = True
    load(w, p)
    assert tree(w).rowCount(tree(w).index(1, 0)) == 0
    qtbot.mouseClick(w.novel.bar.next_scene_btn, Qt.MouseButton.LeftButton)
    assert w.runner.busy and not w.novel.bar.next_scene_btn.isEnabled()
    wait_job(qtbot, w)
    assert w.last_error is None
    m = tree(w)
    n = m.rowCount(m.index(1, 0))
    assert n == 3                                   # chapter 2 planned into scenes
    # chapter 1 ended short: chapter 2 took half of what it lacked (its 1,000 of the 2,000
    # words planned after it), and its scenes add up to that goal
    ch = p.chapters[1]
    assert ch.target_words == 1000 and ch.carried == round((1000 - BM.chapter_words(p, 0)) / 2) > 0
    assert sum(p.sections[i].target_words for i in BM.chapter_scenes(p, 1)) == ch.goal
    assert chapter_cell(w, 1, COL_TARGET) == f"1,000 +{ch.carried:,}"
    assert "carried into it" in m.data(m.index(1, COL_TARGET), Qt.ItemDataRole.ToolTipRole)
    written = [s for s in p.sections if s.chapter == 1 and s.text]
    assert len(written) == 1                        # exactly one scene
    assert int(chapter_cell(w, 1, COL_WRITTEN).replace(",", "")) == written[0].words > 0
    assert chapter_cell(w, 1, COL_STATUS).startswith("writing")
    assert scene_cell(w, 1, 0, COL_STATUS) == "done" and scene_cell(w, 1, 1, COL_STATUS) == "planned"
    assert "Mara Voss" in written[0].codex_used
    assert len(w.view.cards) == len(p.sections) and w.view.cards[2].section is written[0]
    # (the tracker counts the chapter against its goal, the words carried into it with its target)
    assert f"Chapter 2 of 3: {written[0].words:,} / {ch.goal:,} words" in w.tracker.chapter_label.text()
    # write the rest of chapter 2 (the selected chapter)
    w.outline.book.select_chapter(1)
    qtbot.mouseClick(w.novel.bar.write_chapter_btn, Qt.MouseButton.LeftButton)
    wait_job(qtbot, w)
    assert BM.chapter_status(p, 1) == "done" and chapter_cell(w, 1, COL_STATUS).startswith("done")
    assert BM.chapter_status(p, 2) == "unplanned"     # only that chapter
    assert p.chapters[1].summary.startswith("Mara Voss maps the drowned coast")   # the model's
    assert p.chapters[0].summary == "Mine: Mara maps Lowmere."                     # the user's, kept
    w.outline.book.select_chapter(1)
    assert w.outline.book.summary_edit.toPlainText() == p.chapters[1].summary


def test_plan_button_plans_a_long_request_as_a_book(make_window, qtbot):
    w = make_window()
    assert not w.tabs.isTabVisible(w.novel.codex_tab)
    w.instruction.setPlainText("Write a 20000-word fantasy novel about a cartographer whose maps "
                               "change the land.")
    assert w.target.value() == 20000
    assert w.tabs.isTabVisible(w.novel.codex_tab)      # a request that will be a book
    said: list[str] = []
    set_text = w.job_label.setText
    w.job_label.setText = lambda text: (said.append(text), set_text(text))[1]
    qtbot.mouseClick(w.plan_btn, Qt.MouseButton.LeftButton)
    wait_job(qtbot, w)
    # while it plans, how far it is, after each answer of the model (this one's answers
    # retell one another but for their first chapter)
    progress = [t for t in said if t.startswith("Planning the book: ")]
    assert progress[0] == "Planning the book: 1 of 8 chapters so far…"
    assert all(re.fullmatch(r"Planning the book: \d of 8 chapters so far…", t) for t in progress)
    p = w.project
    assert w.last_error is None
    assert len(p.chapters) == BM.expected_chapters(20000) == 8
    assert sum(ch.target_words for ch in p.chapters) == 20000
    assert p.sections == []                          # scenes are planned chapter by chapter
    assert w.outline.stack.currentWidget() is w.outline.book and tree(w).rowCount() == 8
    assert w.novel.bar.isVisible() and w.novel.bar.chapters.count() == 8
    assert w.tabs.isTabVisible(w.novel.codex_tab)
    assert "Book plan ready: 8 chapters" in w.job_label.text()


def test_replan_chapter_keeps_locked_scenes_and_replan_book_keeps_locked_chapters(make_window, qtbot, factory):
    w = make_window()
    p = book_project(written_scenes=0)
    p.sections[1].locked = True
    p.sections[1].main_point = "My locked scene"
    load(w, p)
    ob = w.outline.book
    ob.select_chapter(0)
    qtbot.mouseClick(ob.replan_chapter_btn, Qt.MouseButton.LeftButton)
    assert w.runner.busy and not ob.add_chapter_btn.isEnabled()     # the outline is read-only meanwhile
    wait_job(qtbot, w)
    scenes = [p.sections[i] for i in BM.chapter_scenes(p, 0)]
    # 500 words left beside the locked scene: the model's scenes share them, the locked one stays 2nd
    assert len(scenes) == 3 and scenes[1].main_point == "My locked scene" and scenes[1].locked
    assert scenes[1].target_words == 500 and factory.backends[-1].scene_plans == 1
    assert sum(s.target_words for s in scenes) == 1000
    assert tree(w).rowCount(tree(w).index(0, 0)) == 3
    # the book: chapter 3 locked (and retitled by the user) survives
    p.chapters[2].locked = True
    p.chapters[2].title = "My ending"
    qtbot.mouseClick(ob.replan_book_btn, Qt.MouseButton.LeftButton)
    wait_job(qtbot, w)
    assert any(ch.title == "My ending" and ch.locked for ch in p.chapters)
    assert sum(ch.target_words for ch in p.chapters) == 3000
    assert tree(w).rowCount() == len(p.chapters)


def test_a_book_replanned_into_a_standard_arc_keeps_the_plan_it_had(make_window, qtbot, factory):
    w = make_window()
    p = book_project(written_scenes=1)
    load(w, p)
    before = [(ch.title, ch.synopsis, ch.target_words) for ch in p.chapters]
    scenes = list(p.sections)
    factory.book_plans_fail = True
    for b in factory.backends:
        b.book_plans_fail = True
    qtbot.mouseClick(w.outline.book.replan_book_btn, Qt.MouseButton.LeftButton)
    wait_job(qtbot, w)
    assert w.last_error is None
    assert [(ch.title, ch.synopsis, ch.target_words) for ch in p.chapters] == before
    assert p.sections == scenes and tree(w).rowCount() == 3
    assert "keeps the plan it had" in w.banner.label.text() and "keeps its plan" in w.job_label.text()


def test_write_the_rest_can_be_stopped_and_keeps_the_text(make_window, qtbot, factory):
    factory.delay = 0.01
    w = make_window()
    p = book_project(written_scenes=0)
    load(w, p)
    qtbot.mouseClick(w.novel.bar.rest_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.outline.model.streaming == 0 and w.outline.model.live_words.get(0, 0) > 5,
                    timeout=JOB_MS)
    assert "Writing chapter 1 of 3, scene 1 of 2" in w.job_label.text()
    w.stop()
    wait_job(qtbot, w)
    assert w.job_label.text().startswith("Stopped.")
    assert p.words > 0 and w.view.cards[0].body.toPlainText().strip() != ""
    assert chapter_cell(w, 0, COL_STATUS).startswith("writing")


def test_regenerate_a_scene_uses_the_book_prompt(make_window, qtbot, factory):
    w = make_window()
    p = book_project(written_scenes=2)
    load(w, p)
    old = p.sections[1].text
    qtbot.mouseClick(w.view.cards[1].regen_btn, Qt.MouseButton.LeftButton)
    wait_job(qtbot, w)
    assert w.last_error is None
    prompt = factory.backends[-1].prompts[-1].text()
    assert "## Chapter 1: Flood Maps" in prompt and "Chapters:" in prompt     # the book's prompt
    assert p.sections[1].text != old and old in p.sections[1].takes
    assert p.sections[1].chapter == 0 and scene_cell(w, 0, 1, COL_STATUS) == "done"


def test_write_button_on_a_long_request_plans_the_book_then_writes_it(make_window, qtbot, factory):
    factory.delay = 0.005
    w = make_window()
    w.instruction.setPlainText("Write a 20000-word fantasy novel about a cartographer whose maps "
                               "change the land.")
    qtbot.mouseClick(w.write_btn, Qt.MouseButton.LeftButton)
    p = w.project
    # the book's chapters reach the tree while the job runs, then chapter 1's scenes stream
    qtbot.waitUntil(lambda: w.outline.model.streaming is not None and len(w.view.cards) > 0, timeout=JOB_MS)
    assert len(p.chapters) == 8 and w.outline.stack.currentWidget() is w.outline.book
    assert tree(w).rowCount() == 8 and tree(w).rowCount(tree(w).index(0, 0)) == len(BM.chapter_scenes(p, 0))
    assert len(w.view.chapter_heads) == 8 and w.novel.bar.isVisible()
    assert not w.outline.book.add_chapter_btn.isEnabled()     # read-only while writing
    w.stop()
    wait_job(qtbot, w)
    assert p.sections[0].text.strip() and p.sections[0].chapter == 0
    assert w.outline.book.add_chapter_btn.isEnabled()


def test_drag_and_drop_chapters_and_scenes_in_the_tree(make_window):
    w = make_window()
    p = book_project()
    load(w, p)
    m = tree(w)
    move = Qt.DropAction.MoveAction
    ch3 = p.chapters[2]
    # chapter 3 dropped before chapter 1 (between top-level rows)
    assert m.canDropMimeData(m.mimeData([m.index(2, 0)]), move, 0, 0, QModelIndex())
    m.dropMimeData(m.mimeData([m.index(2, 0)]), move, 0, 0, QModelIndex())
    assert p.chapters[0] is ch3 and [s.chapter for s in p.sections] == [1, 1, 2, 2]
    assert chapter_cell(w, 0, COL_NAME) == "Chapter 1: Ink and Tide"
    # a written scene of "Flood Maps" (now chapter 2) dropped into the unplanned chapter 1
    first = p.sections[0]
    m.dropMimeData(m.mimeData([m.index(0, 0, m.index(1, 0))]), move, 0, 0, m.index(0, 0))
    assert first.chapter == 0 and p.sections[0] is first
    assert m.rowCount(m.index(0, 0)) == 1 and scene_cell(w, 0, 0, COL_WRITTEN) == "120"
    assert w.outline.book.current_scene() == 0
    # a scene dropped on another scene goes before it
    last = p.sections[3]
    m.dropMimeData(m.mimeData([m.index(1, 0, m.index(2, 0))]), move, -1, 0, m.index(0, 0, m.index(2, 0)))
    assert BM.chapter_scenes(p, 2) == [2, 3] and p.sections[2] is last
    assert len(w.view.cards) == 4 and w.view.cards[2].section is last
    # nothing is dropped while a job runs, and a scene never lands at the top level
    w.outline.set_read_only(True)
    assert not m.canDropMimeData(m.mimeData([m.index(0, 0)]), move, 1, 0, QModelIndex())
    w.outline.set_read_only(False)
    assert not m.canDropMimeData(m.mimeData([m.index(0, 0, m.index(0, 0))]), move, 0, 0, QModelIndex())


def test_codex_import_and_used_by_links(make_window, qtbot, tmp_path):
    w = make_window()
    p = book_project()
    load(w, p)
    cx = w.novel.codex
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "Lowmere", "kind": "town"}]', encoding="utf-8")
    assert cx.import_file(str(bad)) == 0
    assert cx.message.text() == "bad.json: entry 1 ('Lowmere'): 'kind' must be one of character, place, " \
                                "object, lore (got 'town')."
    assert [e.name for e in p.codex.entries] == ["Mara Voss"]
    good = tmp_path / "codex.json"
    good.write_text('[{"name": "Lowmere", "kind": "place", "text": "A town of canals."}, '
                    '{"name": "Mara Voss", "kind": "character", "text": "A cartographer, 35.", '
                    '"from_chapter": 2}]', encoding="utf-8")
    assert cx.import_file(str(good)) == 2
    assert cx.message.text() == "" and cx.table.rowCount() == 3
    assert [(e.name, e.from_chapter) for e in p.codex.entries] == [("Mara Voss", None), ("Lowmere", None),
                                                                   ("Mara Voss", 2)]
    # "Used by scenes 1.2": the link shows that scene in the outline
    cx.select_entry(0)
    w.tabs.setCurrentWidget(cx)
    cx.used_label.linkActivated.emit("1")
    assert w.tabs.currentWidget() is w.outline and w.outline.current_row() == 1


def test_scenes_without_a_chapter_are_shown_not_dropped(make_window, qtbot):
    w = make_window()
    p = book_project()
    p.sections.append(Section(main_point="A scene a repaired file left without a chapter", target_words=300))
    load(w, p)
    m = tree(w)
    assert m.rowCount() == 4
    assert m.data(m.index(3, COL_NAME)) == "Scenes without a chapter"
    assert not (m.flags(m.index(3, COL_NAME)) & Qt.ItemFlag.ItemIsEditable)
    assert scene_cell(w, 3, 0, COL_NAME) == "1. A scene a repaired file left without a chapter"
    ob = w.outline.book
    ob.select_scene(4)
    assert ob.current_scene() == 4 and ob.current_chapter() is None
    assert not ob.add_scene_btn.isEnabled() and not ob.replan_chapter_btn.isEnabled()
    qtbot.mouseClick(ob.up_btn, Qt.MouseButton.LeftButton)       # nowhere to go: nothing changes
    assert p.sections[4].chapter is None and len(p.sections) == 5
    assert w.view.cards[4].heading.text().startswith("5. ")


def test_open_chapters_stay_open_when_the_structure_changes(make_window):
    w = make_window()
    p = book_project()
    load(w, p)
    ob, m = w.outline.book, tree(w)
    ob.tree.collapseAll()
    ob.expand_chapter(1)                               # "The Moving Shore" open
    ob.select_chapter(0)
    ob.move_selected(+1)                               # "Flood Maps" moves below it
    assert [ch.title for ch in p.chapters][:2] == ["The Moving Shore", "Flood Maps"]
    assert ob.tree.isExpanded(m.index(0, 0)) and not ob.tree.isExpanded(m.index(1, 0))
    assert ob.current_chapter() == 1


def test_a_chapter_that_ended_short_says_why_in_the_banner(make_window):
    from longhand.core.engine import events as EV
    w = make_window()
    p = book_project(written_scenes=2)
    load(w, p)
    w.novel._job = "write"           # as while the job that wrote it runs
    why = "the model could not plan another scene for it that does not retell one already written"
    w.novel._on_event(EV.ChapterDone(0, 1966, 2500, "", [CodexEntry("Saltmarsh", "place", "A town.")], short=why))
    text = w.banner.label.text()
    assert w.banner.isVisible()
    assert text.startswith(f"Chapter 1 ended 534 words short of its 2,500: {why}. Add a scene")
    assert "proposes 1 codex entry (Saltmarsh)" in text
    w.novel._on_event(EV.ChapterDone(1, 2400, 2500, "", [], short=""))
    assert w.banner.label.text() == text         # a chapter that landed adds nothing
    w.novel._job = None


def test_a_chapter_that_finished_short_says_so_in_the_outline(make_window):
    # the instruct model's novel: chapters 4-9 finished 13-38 % short, each shown "done" in
    # green once the project was reopened (the reason was only said while it was written)
    w = make_window()
    p = book_project()
    load(w, p)
    assert BM.chapter_words(p, 0) == 240 and BM.chapter_short(p, 0) == 760
    assert chapter_cell(w, 0, COL_STATUS) == "done, short"
    tip = chapter_cell(w, 0, COL_STATUS, Qt.ItemDataRole.ToolTipRole)
    assert "760 words short of its target of 1,000" in tip
    assert chapter_cell(w, 0, COL_STATUS, Qt.ItemDataRole.ForegroundRole).name() != \
        chapter_cell(w, 1, COL_STATUS, Qt.ItemDataRole.ForegroundRole).name()
    # written on by hand to 92 % of its target: it has landed
    for i in BM.chapter_scenes(p, 0):
        p.sections[i].text = " ".join(["Mara Voss drew the shore again."] * 77)
    assert BM.chapter_words(p, 0) >= 920 and BM.chapter_short(p, 0) == 0
    assert chapter_cell(w, 0, COL_STATUS) == "done"
    assert "short" not in chapter_cell(w, 0, COL_STATUS, Qt.ItemDataRole.ToolTipRole)
