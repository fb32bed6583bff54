"""GUI: the manuscript's cards are as tall as what they hold (heading, words line, text) and
the chapter heads are not clipped, after every way the view is rebuilt or re-laid out: a
book planned, a chapter written, the next scene written (as docs/screenshots/
make_novel_screenshots.py does, on a scripted backend), the project opened in a new window
(also before the window is shown), a chapter chosen in the chapter bar, the window resized,
a scene added; and already in the first frame painted after opening a book.

Written for a squeezed screenshot of the manuscript (docs/screenshots/tree-outline.png at
6cf39d9: each card a thin strip, its heading over its first line of text). That state is the
first event-loop pass after a rebuild, before the scroll area had sized the page: painted for
one frame, then laid out right (see /work/notes/ui-glitch.md).
"""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication

from guitools import window_maker
from longhand.core.engine import book_model as BM
from longhand.ui.document import SectionCard
from longhand.ui.window import MainWindow
from unit.test_gui_novel import NovelBackend

JOB_MS = 30_000
REQUEST = ("Write a 10000-word fantasy novel in chapters about Mara Voss, a cartographer in the "
           "drowned town of Lowmere who discovers that her maps change the land they depict.")


@pytest.fixture
def make_window(qtbot, settings_dir):
    with window_maker(qtbot, backend_factory=lambda model=None, **kwargs: NovelBackend(),
                      size=(1280, 800)) as make:
        yield make


def settle(qtbot, w: MainWindow) -> None:
    """Let Qt finish laying out the manuscript; fails if it does not within 10 s.

    A rebuild settles over a few passes of the event loop (the text re-wrapped to the width
    the page gets once the scroll bar shows); a fixed wait is not enough on a loaded machine.
    """
    QApplication.processEvents()
    qtbot.waitUntil(lambda: not layout_problems(w), timeout=10_000)


def layout_problems(w: MainWindow) -> list[str]:
    """What does not fit in the manuscript view (empty when every card and head fits)."""
    v = w.view
    out = []
    inner = v.widget()
    if inner.height() < inner.minimumSizeHint().height():
        out.append(f"page {inner.height()} px < its minimum {inner.minimumSizeHint().height()} px")
    for c in v.cards:
        lay = c.layout()
        need = lay.totalHeightForWidth(c.width()) if lay.hasHeightForWidth() else lay.totalMinimumSize().height()
        need = max(need, lay.totalMinimumSize().height())
        if c.height() < need:
            out.append(f"card {c.index}: {c.height()} px < {need} px")
        if c.heading.geometry().bottom() >= c.meta.geometry().top():
            out.append(f"card {c.index}: heading overlaps the words line")
        if c.meta.geometry().bottom() >= c.body.geometry().top():
            out.append(f"card {c.index}: words line overlaps the text")
        if c.body.geometry().bottom() > c.height():
            out.append(f"card {c.index}: text runs past the card")
        doc_h = int(c.body.document().size().height())
        if c.body.height() < doc_h:
            out.append(f"card {c.index}: text {doc_h} px in {c.body.height()} px")
    for k, head in enumerate(v.chapter_heads):
        if head.height() < head.heightForWidth(head.width()):
            out.append(f"chapter head {k + 1}: {head.height()} px < {head.heightForWidth(head.width())} px")
    return out


def written_chars(w: MainWindow) -> int:
    return sum(len(c.body.toPlainText()) for c in w.view.cards)


def test_cards_fit_their_text_through_a_live_book_run_and_a_reopen(make_window, qtbot, tmp_path):
    w = make_window()
    w.instruction.setPlainText(REQUEST)
    assert w.save_as(tmp_path / "novel.longhand")
    w.plan()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=JOB_MS)
    assert w.last_error is None and len(w.project.chapters) >= 3
    settle(qtbot, w)
    assert len(w.view.chapter_heads) == len(w.project.chapters)
    assert layout_problems(w) == []
    w.novel.write_chapter(0)                      # chapter 1 planned into scenes and written
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=JOB_MS)
    assert w.last_error is None and BM.chapter_status(w.project, 0) == "done"
    settle(qtbot, w)
    assert layout_problems(w) == []
    w.novel.write_next_scene()                    # chapter 2 planned, its first scene written
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=JOB_MS)
    assert w.last_error is None
    book = w.outline.book
    book.expand_chapter(0)
    book.expand_chapter(1)
    book.select_chapter(0)
    w.jobs.refresh_progress()
    settle(qtbot, w)
    p = w.project
    assert len(w.view.cards) == len(p.sections) >= 4 and written_chars(w) > 1000
    assert any(not s.text for s in p.sections)    # "Not written yet" cards too
    assert layout_problems(w) == []
    # the text is taller than the view: it scrolls instead of being squeezed into it
    assert w.view.verticalScrollBar().maximum() > 0
    assert w.view.widget().height() > w.view.viewport().height()
    assert w.save()

    # the same project in a new window, and in one opened before it is shown (copies: the
    # first window holds the project's lock)
    for show_first in (True, False):
        copy = tmp_path / f"copy-{show_first}.longhand"
        shutil.copy(tmp_path / "novel.longhand", copy)
        w2 = make_window(show=show_first)
        assert w2.open_project(copy), w2.last_error
        if not show_first:
            w2.show()
        settle(qtbot, w2)
        assert len(w2.view.cards) == len(p.sections)
        assert layout_problems(w2) == []
        assert w2.view.verticalScrollBar().maximum() > 0


def test_cards_fit_after_a_chapter_switch_a_resize_and_a_new_scene(make_window, qtbot, tmp_path):
    w = make_window()
    w.instruction.setPlainText(REQUEST)
    w.novel.write_rest()                          # plans the book, then writes every scene
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=JOB_MS)
    assert w.last_error is None
    settle(qtbot, w)
    assert layout_problems(w) == []
    combo = w.novel.bar.chapters
    combo.setCurrentIndex(combo.count() - 1)      # the last chapter, from the chapter bar
    settle(qtbot, w)
    assert w.view.verticalScrollBar().value() > 0
    assert layout_problems(w) == []
    w.resize(900, 600)                            # narrower: the text wraps into taller cards
    settle(qtbot, w)
    assert layout_problems(w) == []
    w.resize(1280, 800)
    settle(qtbot, w)
    assert layout_problems(w) == []
    ob = w.outline.book
    ob.select_chapter(0)
    qtbot.mouseClick(ob.add_scene_btn, Qt.MouseButton.LeftButton)   # a structure change rebuilds the view
    settle(qtbot, w)
    assert any(s.main_point.startswith("New scene") for s in w.project.sections)
    assert len(w.view.cards) == len(w.project.sections)
    assert layout_problems(w) == []



class PaintLog(QObject):
    """The heights the cards had when they were painted (what the user saw)."""

    def __init__(self) -> None:
        super().__init__()
        self.painted: list[tuple[SectionCard, int]] = []

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint and isinstance(obj, SectionCard):
            self.painted.append((obj, obj.height()))
        return False


def test_the_first_frame_after_opening_a_book_shows_cards_not_strips(make_window, qtbot, tmp_path):
    """Opening a project rebuilds the manuscript; the scroll area used to size the page a few
    event-loop passes later, so the first frame painted every card as a ~30 px strip with its
    heading over its text (the state docs/screenshots/tree-outline.png of 6cf39d9 caught)."""
    w = make_window()
    w.instruction.setPlainText(REQUEST)
    assert w.save_as(tmp_path / "novel.longhand")
    w.plan()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=JOB_MS)
    w.novel.write_chapter(0)
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=JOB_MS)
    assert w.last_error is None and w.save()
    copy = tmp_path / "copy.longhand"
    shutil.copy(tmp_path / "novel.longhand", copy)
    w2 = make_window()
    settle(qtbot, w2)
    log = PaintLog()
    app = QApplication.instance()
    app.installEventFilter(log)
    try:
        assert w2.open_project(copy)
        app.processEvents()                       # one pass of the event loop: the first frame
    finally:
        app.removeEventFilter(log)
    v = w2.view
    written = [c for c in v.cards if c.section.text]
    assert len(written) >= 3
    page = v.widget()
    assert page.height() >= page.minimumSizeHint().height() > v.viewport().height()
    for c in v.cards:
        assert c.heading.geometry().bottom() < c.meta.geometry().top() < c.body.geometry().top(), c.index
        assert c.height() >= c.body.height() + c.heading.height(), c.index
    strips = [(c.index, h) for c, h in log.painted if h < c.body.height()]
    assert log.painted and strips == []
    settle(qtbot, w2)                             # and then it settles to the exact heights
