"""GUI end to end for novels (issue 12): the real window on the real demo model plans a short
book in chapters, writes its next scene (the chapter is planned into scenes first) and the
tree outline, the manuscript and the tracker follow; the project reopens as a tree.

The widget-level tests on the scripted backend are in tests/unit/test_gui_novel.py.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from longhand.core.engine import book_model as BM
from longhand.core.engine import outline_model as OM
from longhand.core.projects.project import Project
from longhand.ui.book_outline import COL_STATUS, COL_WRITTEN

BOOK = "Write a 3000-word mystery novel in chapters about a village baker who finds a stranger's diary."
JOB_MS = 900_000      # generous: a model job on a loaded 2-core machine


def test_plan_a_book_write_the_next_scene_and_reopen(make_window, qtbot, tmp_path):
    w = make_window()
    w.instruction.setPlainText(BOOK)
    assert w.target.value() == 3000
    assert w.save_as(tmp_path / "baker.longhand")
    qtbot.mouseClick(w.plan_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=JOB_MS)
    assert w.last_error is None
    p = w.project
    assert len(p.chapters) == BM.expected_chapters(3000)
    assert sum(ch.target_words for ch in p.chapters) == 3000
    assert all(ch.title.strip() and ch.synopsis.strip() for ch in p.chapters)
    assert w.outline.stack.currentWidget() is w.outline.book
    m = w.outline.book.model
    assert m.rowCount() == len(p.chapters) and m.rowCount(m.index(0, 0)) == 0

    qtbot.mouseClick(w.novel.bar.next_scene_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=JOB_MS)
    assert w.last_error is None
    scenes = BM.chapter_scenes(p, 0)
    assert len(scenes) >= 1 and sum(p.sections[i].target_words for i in scenes) == p.chapters[0].target_words
    written = [i for i in scenes if p.sections[i].text.strip()]
    assert written == scenes[:1]                         # one scene, the first
    assert m.rowCount(m.index(0, 0)) == len(scenes)
    words = p.sections[scenes[0]].words
    assert words > 50
    assert m.data(m.index(0, COL_WRITTEN)) == f"{words:,}"
    assert m.data(m.index(0, COL_STATUS)).startswith("done" if len(scenes) == 1 else "writing")
    assert len(w.view.cards) == len(scenes) and w.view.cards[0].body.toPlainText().strip()
    assert len(w.view.chapter_heads) == len(p.chapters)
    # the tracker shows the chapter selected in the outline, else the chapter written next
    nxt = OM.next_scene(p)
    shown = w.novel.selected_chapter()
    shown = shown if shown is not None else (nxt[0] if nxt else len(p.chapters) - 1)
    assert w.tracker.chapter_label.text().startswith(f"Chapter {shown + 1} of")

    # autosaved; it reopens as a tree, chapters and scenes as they were
    w.close()
    again = Project.load(tmp_path / "baker.longhand")
    assert [ch.title for ch in again.chapters] == [ch.title for ch in p.chapters]
    assert again.sections[scenes[0]].text.strip() == p.sections[scenes[0]].text.strip()
    w2 = make_window()
    assert w2.open_project(tmp_path / "baker.longhand")
    assert w2.outline.stack.currentWidget() is w2.outline.book
    m2 = w2.outline.book.model
    assert m2.rowCount() == len(p.chapters) and m2.rowCount(m2.index(0, 0)) == len(scenes)
