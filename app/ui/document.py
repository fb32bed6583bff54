"""GUI: Generation view — the manuscript, section by section, each under its heading.

Each section is a card: heading, words vs target, actions (regenerate, write more, lock,
edit by hand) and the text. The section being written streams token by token into its
card, which is highlighted. Streamed pieces are buffered and flushed a few times a second,
so the event loop never does more than a small append. The view follows the stream unless
the user scrolls away from it; scrolling back to the stream resumes following.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QTextCursor, QTextOption
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..core.engine.plan import Section
from ..core.text.wordcount import count_words
from .outline_items import status_of

CARD_STYLE = """
QFrame#card { background: palette(base); border: 1px solid palette(midlight); border-radius: 6px; }
QLabel#heading { font-weight: 600; font-size: 13pt; }
QLabel#badge { color: white; background: #d9822b; border-radius: 8px; padding: 1px 8px; font-weight: 600; }
QLabel#meta { color: #5b6770; }
QTextEdit#body { border: none; background: transparent; }
QTextEdit#body[editing="true"] { border: 1px solid #1565c0; background: white; }
"""


class _AutoHeightText(QTextEdit):
    """A text edit as tall as its text (the scroll area scrolls, not each section)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("body")
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.viewport().setAutoFillBackground(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAcceptRichText(False)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.document().setDocumentMargin(2)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def _fit(self, *_args) -> None:
        h = int(self.document().size().height()) + 2 * self.frameWidth() + 4
        if h != self.height():
            self.setFixedHeight(max(h, 28))

    def resizeEvent(self, e) -> None:
        super().resizeEvent(e)
        self._fit()

    def sizeHint(self) -> QSize:
        return QSize(400, self.height())


class SectionCard(QFrame):
    """One section of the manuscript."""

    def __init__(self, view: "DocumentView", index: int, section: Section) -> None:
        super().__init__()
        self.view = view
        self.index = index
        self.section = section
        self.setObjectName("card")
        self.heading = QLabel()
        self.heading.setObjectName("heading")
        self.heading.setWordWrap(True)
        self.badge = QLabel("● writing…")
        self.badge.setObjectName("badge")
        self.badge.hide()
        self.meta = QLabel()
        self.meta.setObjectName("meta")

        def button(text: str, tip: str, checkable: bool = False) -> QToolButton:
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.setCheckable(checkable)
            b.setAutoRaise(True)
            return b

        self.regen_btn = button("Regenerate", "Write this section again (the current text is kept as an earlier take)")
        self.extend_btn = button("Write more", "Continue this section with about half its target")
        self.lock_btn = button("Lock", "A locked section is never rewritten and survives Re-plan", True)
        self.edit_btn = button("Edit", "Edit the text by hand; click again to keep your changes", True)
        self.regen_btn.clicked.connect(lambda: view.regenerateRequested.emit(self.index))
        self.extend_btn.clicked.connect(lambda: view.extendRequested.emit(self.index))
        self.lock_btn.toggled.connect(self._lock_toggled)
        self.edit_btn.toggled.connect(self._edit_toggled)

        self.body = _AutoHeightText()
        self.body.setReadOnly(True)
        self.body.setFont(view.text_font)
        self.body.setPlaceholderText("Not written yet.")
        self.body.setPlainText(section.text)

        self.badge.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(self.heading, 1)
        top.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignVCenter)
        actions = QHBoxLayout()
        actions.setSpacing(2)
        actions.addWidget(self.meta, 1)
        for b in (self.regen_btn, self.extend_btn, self.lock_btn, self.edit_btn):
            actions.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(self.body)
        self.refresh()

    def mousePressEvent(self, e) -> None:
        self.view.sectionClicked.emit(self.index)
        super().mousePressEvent(e)

    # -- state -----------------------------------------------------------------------------

    def refresh(self, words: int | None = None, streaming: bool = False, target: int | None = None) -> None:
        sec = self.section
        self.heading.setText(f"{self.view.label_for(self.index)}. {sec.heading}")
        words = self.view.word_counter(sec) if words is None else words
        self.meta.setText(f"{words:,} / {target or sec.target_words:,} words · "
                          f"{status_of(sec, streaming)}"
                          + (f" · {len(sec.takes)} earlier take{'s' if len(sec.takes) != 1 else ''}"
                             if sec.takes else ""))
        self.lock_btn.blockSignals(True)
        self.lock_btn.setChecked(sec.locked)
        self.lock_btn.blockSignals(False)

    # The frame is painted over the style sheet: re-polishing a card (style sheet properties)
    # costs tens of milliseconds, which the event loop cannot spare while text streams.

    def set_streaming(self, on: bool) -> None:
        if bool(self.property("streaming")) != on:
            self.setProperty("streaming", on)
            self.badge.setVisible(on)
            self.body.viewport().setAutoFillBackground(False)
            self.update()

    def set_current(self, on: bool) -> None:
        if bool(self.property("current")) != on:
            self.setProperty("current", on)
            self.update()

    def paintEvent(self, e) -> None:
        if self.property("streaming"):
            p = QPainter(self)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(QPen(QColor("#d9822b"), 2.5))
            p.setBrush(QColor("#fffaf2"))
            p.drawRoundedRect(QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5), 6, 6)
            return
        super().paintEvent(e)
        if self.property("current"):
            p = QPainter(self)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(QPen(QColor("#7f9cc4"), 1.5))
            p.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 6, 6)

    def set_busy(self, busy: bool) -> None:
        """While a job runs the text cannot change under the engine's feet."""
        locked = self.section.locked
        self.regen_btn.setEnabled(not busy and not locked)
        self.extend_btn.setEnabled(not busy and not locked and bool(self.section.text.strip()))
        self.lock_btn.setEnabled(not busy)
        self.edit_btn.setEnabled(not busy)

    def append(self, text: str) -> None:
        cursor = QTextCursor(self.body.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)

    def _lock_toggled(self, on: bool) -> None:
        self.section.locked = on
        self.view.lockChanged.emit(self.index, on)

    def _edit_toggled(self, on: bool) -> None:
        self.body.setReadOnly(not on)
        self.body.setProperty("editing", on)
        self.body.style().unpolish(self.body)
        self.body.style().polish(self.body)
        if on:
            self.body.setFocus()
        else:
            self.commit_edit()

    def commit_edit(self) -> None:
        if self.edit_btn.isChecked():
            self.edit_btn.setChecked(False)     # comes back here through _edit_toggled
            return
        text = self.body.toPlainText().strip()
        if text != self.section.text.strip():
            self.view.textEdited.emit(self.index, text)


class DocumentView(QScrollArea):
    """The manuscript view."""

    regenerateRequested = Signal(int)
    extendRequested = Signal(int)
    lockChanged = Signal(int, bool)
    textEdited = Signal(int, str)
    sectionClicked = Signal(int)
    topSectionChanged = Signal(int)      # the user scrolled; this section is at the top

    FLUSH_MS = 60
    EMPTY = "Your manuscript appears here, section by section."

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.text_font = QFont("Georgia")
        self.text_font.setStyleHint(QFont.StyleHint.Serif)
        self.text_font.setPointSizeF(12)
        self.cards: list[SectionCard] = []
        self.word_counter: Callable[[Section], int] = lambda sec: sec.words
        # novels (issue 12): the chapters to head their scenes with, and "3.2" scene numbers
        self.chapters_source: Callable[[], list] = lambda: []
        self.label_for: Callable[[int], str] = lambda index: str(index + 1)
        self.chapter_heads: list[QLabel] = []
        self.streaming: int | None = None
        self.follow = True
        self._pending: list[str] = []
        self._programmatic = 0
        self._busy = False
        self._follow_pending = False

        self._inner = QWidget()
        self._inner.setObjectName("page")
        self._inner.setStyleSheet(CARD_STYLE)
        self._column = QVBoxLayout()
        self._column.setSpacing(10)
        self._column.addStretch(1)
        outer = QHBoxLayout(self._inner)
        outer.setContentsMargins(16, 12, 16, 12)
        page = QWidget()
        page.setLayout(self._column)
        page.setMaximumWidth(900)          # a readable line length on wide screens
        outer.addStretch(1)
        outer.addWidget(page, 100)
        outer.addStretch(1)
        self.setWidget(self._inner)

        self.placeholder = QLabel()
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: #5b6770; font-size: 13pt; padding: 40px;")
        self._column.insertWidget(0, self.placeholder)
        self.placeholder.setTextFormat(Qt.TextFormat.PlainText)
        self.set_placeholder(self.EMPTY)

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(self.FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)
        sb = self.verticalScrollBar()
        sb.actionTriggered.connect(self._user_scrolled)
        sb.sliderPressed.connect(lambda: self._user_scrolled(0))
        sb.valueChanged.connect(self._value_changed)
        # the text grew and the layout caught up: keep the stream's end in view
        sb.rangeChanged.connect(lambda *_: self.follow and self.streaming is not None
                                and self._follow_stream())

    # -- building --------------------------------------------------------------------------

    def set_placeholder(self, text: str) -> None:
        self.placeholder.setText(text)
        self.placeholder.setVisible(not self.cards)

    def set_sections(self, sections: list[Section]) -> None:
        """Show these sections, in this order (after a plan, a reorder, opening a project).

        Cards of sections already shown are kept and moved (building a card costs a few
        milliseconds, and a novel has hundreds of sections); new sections get new cards.
        """
        self.flush()
        old = {id(c.section): c for c in self.cards}
        keep = {id(s) for s in sections}
        for c in self.cards:
            self._column.removeWidget(c)
            if id(c.section) not in keep:
                c.deleteLater()
        spare = self.chapter_heads          # reused: a new rich-text label costs a layout pass
        for head in spare:
            self._column.removeWidget(head)
        self.chapter_heads = []
        chapters = self.chapters_source()
        self.cards = []
        for i, sec in enumerate(sections):
            while sec.chapter is not None and len(self.chapter_heads) <= min(sec.chapter, len(chapters) - 1):
                self._add_chapter_head(chapters, len(self.chapter_heads), planned=True, spare=spare)
            card = old.get(id(sec))
            if card is None or card.section is not sec:
                card = SectionCard(self, i, sec)
            card.index = i
            card.set_busy(self._busy)
            self._column.insertWidget(self._column.count() - 1, card)
            card.refresh()
            self.cards.append(card)
        while len(self.chapter_heads) < len(chapters):       # chapters not planned yet
            self._add_chapter_head(chapters, len(self.chapter_heads), planned=False, spare=spare)
        for head in spare[len(self.chapter_heads):]:
            head.deleteLater()
        self.placeholder.setVisible(not self.cards and not self.chapter_heads)
        if self.streaming is not None and self.streaming < len(self.cards):
            self.cards[self.streaming].set_streaming(True)
        # Lay the page out now: left to the event loop, the scroll area sizes the page a few
        # passes later, and the first frame paints every card as a thin strip, its heading
        # over its text, in a page no taller than the view.
        self._column.activate()

    @staticmethod
    def _head_html(ch, c: int, planned: bool) -> str:
        note = "" if planned else ("<p style='color:#78909c; font-size:10pt'><i>Not planned yet: its "
                                   "scenes are planned just before it is written.</i></p>")
        return (f"<p style='color:#78909c; font-size:10pt; letter-spacing:2px'>CHAPTER {c + 1}</p>"
                f"<p style='font-size:18pt; font-weight:600'>{_html(ch.title or 'Untitled')}</p>"
                f"<p style='color:#5b6770'>{_html(ch.synopsis)}</p>{note}")

    def refresh_chapter_heads(self) -> None:
        """Show the chapters' titles and synopses again (edited in the outline)."""
        chapters = self.chapters_source()
        for c, head in enumerate(self.chapter_heads[:len(chapters)]):
            html = self._head_html(chapters[c], c, bool(head.property("planned")))
            if head.text() != html:
                head.setText(html)

    def _add_chapter_head(self, chapters: list, c: int, planned: bool, spare: list | None = None) -> None:
        html = self._head_html(chapters[c], c, planned)
        if spare and c < len(spare):
            head = spare[c]
            if head.text() != html:
                head.setText(html)
        else:
            head = QLabel(html)
            head.setObjectName("chapterHead")
            head.setWordWrap(True)
            head.setTextFormat(Qt.TextFormat.RichText)
            head.setContentsMargins(4, 14, 4, 2)
        head.setProperty("planned", planned)
        self._column.insertWidget(self._column.count() - 1, head)
        self.chapter_heads.append(head)

    def scroll_to_chapter(self, c: int) -> None:
        """Bring chapter ``c``'s heading to the top of the view."""
        if not 0 <= c < len(self.chapter_heads):
            return
        head = self.chapter_heads[c]
        self._programmatic += 1
        try:
            self.verticalScrollBar().setValue(max(0, head.mapTo(self._inner, head.rect().topLeft()).y() - 8))
        finally:
            self._programmatic -= 1

    def refresh(self, index: int | None = None) -> None:
        targets = self.cards if index is None else self.cards[index:index + 1]
        for c in targets:
            c.refresh(streaming=c.index == self.streaming)
            c.set_busy(self._busy)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        for c in self.cards:
            c.set_busy(busy)

    def commit_edits(self) -> None:
        for c in self.cards:
            if c.edit_btn.isChecked():
                c.commit_edit()

    # -- streaming -------------------------------------------------------------------------

    def begin_section(self, index: int, clear: bool) -> None:
        self.flush()
        if self.streaming is not None and self.streaming < len(self.cards):
            self.cards[self.streaming].set_streaming(False)
        self.streaming = index
        if index >= len(self.cards):
            return
        card = self.cards[index]
        card.set_streaming(True)
        if clear:
            card.body.clear()
        else:
            card.body.setPlainText(card.section.text)
        self._pending = []
        self._flush_timer.start()
        if self.follow:
            self._follow_stream()

    def append(self, index: int, text: str) -> None:
        if index == self.streaming:
            self._pending.append(text)

    def flush(self) -> None:
        if not self._pending or self.streaming is None or self.streaming >= len(self.cards):
            self._pending = []
            return
        text = "".join(self._pending)
        self._pending = []
        card = self.cards[self.streaming]
        if not card.body.toPlainText():
            text = text.lstrip()
        card.append(text)
        if self.follow and not self._follow_pending:
            # after the layout has caught up with the taller text (posted events run first)
            self._follow_pending = True
            QTimer.singleShot(0, self._follow_stream)

    def end_section(self, index: int, final_text: str) -> None:
        self._pending = []
        self._flush_timer.stop()
        if index < len(self.cards):
            card = self.cards[index]
            card.body.setPlainText(final_text)
            card.set_streaming(False)
            card.refresh()
        if self.streaming == index:
            self.streaming = None

    def end_job(self) -> None:
        self.flush()
        self._flush_timer.stop()
        if self.streaming is not None and self.streaming < len(self.cards):
            self.cards[self.streaming].set_streaming(False)
        self.streaming = None
        self.refresh()

    def streamed_text(self, index: int) -> str:
        return self.cards[index].body.toPlainText() if index < len(self.cards) else ""

    def streamed_words(self, index: int) -> int:
        return count_words(self.streamed_text(index))

    # -- scrolling -------------------------------------------------------------------------

    def _stream_end_y(self) -> int | None:
        if self.streaming is None or self.streaming >= len(self.cards):
            return None
        body = self.cards[self.streaming].body
        # the text edit is as tall as its text: the stream ends at its bottom
        return body.mapTo(self._inner, body.rect().bottomLeft()).y()

    def _follow_stream(self) -> None:
        self._follow_pending = False
        if not self.follow:
            return
        y = self._stream_end_y()
        if y is None:
            return
        sb = self.verticalScrollBar()
        view_h = self.viewport().height()
        if y > sb.value() + view_h - 30 or y < sb.value():
            self._programmatic += 1
            try:
                sb.setValue(min(sb.maximum(), max(0, y - view_h + 60)))
            finally:
                self._programmatic -= 1

    def _user_scrolled(self, _action: int) -> None:
        # The user has taken over: stop following now, and follow again if the move brings
        # the end of the stream into view (decided once the scroll bar has moved).
        if self.streaming is not None:
            self.follow = False
        QTimer.singleShot(0, self._update_follow)

    def _update_follow(self) -> None:
        y = self._stream_end_y()
        if y is None:
            return
        sb = self.verticalScrollBar()
        self.follow = sb.value() - 40 <= y <= sb.value() + self.viewport().height() + 40

    def _value_changed(self, value: int) -> None:
        if self._programmatic or not self.cards:
            return
        top = self.section_at(value + 20)
        if top is not None:
            self.topSectionChanged.emit(top)

    def section_at(self, y: int) -> int | None:
        for c in self.cards:
            parent = c.parentWidget()
            if c.y() + (parent.y() if parent is not None else 0) + c.height() >= y:
                return c.index
        return self.cards[-1].index if self.cards else None

    def scroll_to(self, index: int) -> None:
        """Bring a section's heading to the top of the view."""
        if not 0 <= index < len(self.cards):
            return
        card = self.cards[index]
        self._programmatic += 1
        try:
            y = card.mapTo(self._inner, card.rect().topLeft()).y()
            self.verticalScrollBar().setValue(max(0, y - 8))
        finally:
            self._programmatic -= 1
        for c in self.cards:
            c.set_current(c.index == index)
        if self.streaming is not None:
            self._update_follow()


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
