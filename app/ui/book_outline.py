"""GUI: the outline of a novel as a tree — chapters ▸ scenes (issue 12).

Each chapter row shows its title, its target, the words written in its scenes and its state
(not planned, planned, writing, done); each scene row its main point, target, words, status
and lock. Totals roll up: a chapter's written words are its scenes', the header sums the
chapters. Titles, main points and targets are edited in place; chapters and scenes are
added, deleted, moved and locked with the buttons; "Re-plan chapter" keeps the chapter's
locked scenes, "Re-plan book" keeps locked chapters (and chapters that hold text). An
edited plan whose numbers do not add up is shown in the header, never rescaled unless the
user presses "Fit targets".

The structure edits are the core's (``core.engine.book_model``); this model only shows them. It is
a view over the flat :class:`~.outline.OutlineModel` the window already keeps in step with
the engine (streaming row, live word counts): the flat model's changes reach the tree.
"""

from __future__ import annotations

import json
from typing import Callable

from PySide6.QtCore import QAbstractItemModel, QByteArray, QMimeData, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ..core.engine import book_model as BM
from ..core.engine import outline_model as OM
from ..core.engine.plan import Section
from .outline_items import STATUS_COLORS, WARN, Columns, OutlineItems, TargetDelegate, bold

COL_NAME, COL_TARGET, COL_WRITTEN, COL_STATUS, COL_LOCK = range(5)
TREE_MIME = "application/x-longhand-outline-item"
HEADERS = ["Chapter / scene", "Target", "Written", "Status", "Lock"]
CHAPTER_STATES = {"unplanned": "not planned", "planned": "planned", "writing": "writing", "done": "done"}
CHAPTER_COLORS = {"done": "#2e7d32", "writing": "#c25e00", "planned": "#37474f", "unplanned": "#78909c"}


class BookTreeModel(OutlineItems, QAbstractItemModel):
    """Chapters (top level) and their scenes (children) of the flat model's project.

    Internal ids: 0 for a top-level row; ``chapter row + 1`` for a scene row. The tree keeps a
    snapshot of which scene sits where (rebuilt on every structural change), so a worker
    adding a chapter's scenes mid-job never confuses a view that is painting.
    """

    changed = Signal()          # a value edited in place (title, main point, target, lock)
    # drag and drop: ("chapter", chapter, to) or ("scene", flat index, (chapter, position))
    moveRequested = Signal(str, int, object)
    columns = Columns(name=COL_NAME, target=COL_TARGET, written=COL_WRITTEN, status=COL_STATUS,
                      lock=COL_LOCK, headers=tuple(HEADERS))
    tips = {COL_LOCK: "Locked chapters survive Re-plan book; locked scenes are never "
                      "rewritten and survive Re-plan chapter",
            COL_TARGET: "Target length in words",
            COL_WRITTEN: "Words written so far (a chapter: its scenes')"}
    drop_on_items = True        # a scene can be dropped into a chapter

    def __init__(self, flat, parent=None) -> None:
        super().__init__(parent)
        self.flat = flat
        self._nodes: list[list[Section]] = []     # per top-level row: its scenes
        self.chapter_objects: list[BM.Chapter] = []
        self._loose = False                        # last top-level row: scenes without a chapter
        self._where: dict[int, tuple[int, int]] = {}   # id(section) -> (top row, child row)
        self._flat_index: dict[int, int] = {}          # id(section) -> index in project.sections
        flat.modelReset.connect(self.rebuild)
        flat.rowsInserted.connect(self.rebuild)
        flat.rowsRemoved.connect(self.rebuild)
        flat.rowsMoved.connect(self.rebuild)
        flat.dataChanged.connect(self._flat_changed)
        self.rebuild()

    # -- the snapshot ----------------------------------------------------------------------

    @property
    def project(self):
        return self.flat.project

    @property
    def read_only(self) -> bool:
        """The flat model's: the window sets it there while a job runs."""
        return self.flat.read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        self.flat.read_only = value

    def rebuild(self, *_args) -> None:
        self.beginResetModel()
        p = self.project
        self._nodes, self._where, self._flat_index = [], {}, {}
        self.chapter_objects = list(p.chapters)       # which chapter each row shows
        if BM.is_book(p):
            self._nodes = [[] for _ in p.chapters]
            loose: list[Section] = []
            for i, s in enumerate(p.sections):
                self._flat_index[id(s)] = i
                c = s.chapter
                if c is not None and 0 <= c < len(p.chapters):
                    self._nodes[c].append(s)
                else:
                    loose.append(s)
            self._loose = bool(loose)
            if loose:
                self._nodes.append(loose)
            for r, scenes in enumerate(self._nodes):
                for k, s in enumerate(scenes):
                    self._where[id(s)] = (r, k)
        else:
            self._loose = False
        self.endResetModel()

    def _flat_changed(self, top: QModelIndex, bottom: QModelIndex, *_roles) -> None:
        sections = self.project.sections
        rows = set()
        for i in range(top.row(), bottom.row() + 1):
            if 0 <= i < len(sections) and id(sections[i]) in self._where:
                r, k = self._where[id(sections[i])]
                self.dataChanged.emit(self.index(k, 0, self.index(r, 0)),
                                      self.index(k, len(HEADERS) - 1, self.index(r, 0)))
                rows.add(r)
        for r in rows:
            self.dataChanged.emit(self.index(r, 0), self.index(r, len(HEADERS) - 1))

    def is_chapter_row(self, r: int) -> bool:
        return 0 <= r < len(self._nodes) and not (self._loose and r == len(self._nodes) - 1)

    def chapter_of(self, index: QModelIndex | QPersistentModelIndex) -> int | None:
        """The chapter a row is (or is in); None for scenes without a chapter."""
        if not index.isValid():
            return None
        r = index.row() if index.internalId() == 0 else index.internalId() - 1
        return r if self.is_chapter_row(r) else None

    def section_at(self, index: QModelIndex | QPersistentModelIndex) -> Section | None:
        if not index.isValid() or index.internalId() == 0:
            return None
        r = index.internalId() - 1
        if 0 <= r < len(self._nodes) and 0 <= index.row() < len(self._nodes[r]):
            return self._nodes[r][index.row()]
        return None

    def flat_index(self, sec: Section) -> int:
        return self._flat_index.get(id(sec), -1)

    def scene_index(self, flat_row: int) -> QModelIndex:
        """The tree index of the section at ``flat_row`` of the project (invalid if none)."""
        sections = self.project.sections
        if not 0 <= flat_row < len(sections) or id(sections[flat_row]) not in self._where:
            return QModelIndex()
        r, k = self._where[id(sections[flat_row])]
        return self.index(k, 0, self.index(r, 0))

    def chapter_index(self, c: int) -> QModelIndex:
        return self.index(c, 0) if self.is_chapter_row(c) else QModelIndex()

    # -- Qt's model interface --------------------------------------------------------------

    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:
        if column < 0 or column >= len(HEADERS) or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self._nodes) else QModelIndex()
        if parent.internalId() != 0 or not 0 <= parent.row() < len(self._nodes):
            return QModelIndex()
        if row >= len(self._nodes[parent.row()]):
            return QModelIndex()
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        if not parent.isValid():
            return len(self._nodes)
        if parent.internalId() == 0 and parent.column() == 0 and 0 <= parent.row() < len(self._nodes):
            return len(self._nodes[parent.row()])
        return 0

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return len(HEADERS)

    def _scene_words(self, sec: Section) -> int:
        i = self.flat_index(sec)
        if i in self.flat.live_words:
            return self.flat.live_words[i]
        return self.flat.section_words(sec)

    def chapter_written(self, r: int) -> int:
        return sum(self._scene_words(s) for s in self._nodes[r]) if 0 <= r < len(self._nodes) else 0

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        sec = self.section_at(index)
        if sec is not None:
            return self._scene_data(index, sec, role)
        r = index.row()
        if not 0 <= r < len(self._nodes):
            return None
        if not self.is_chapter_row(r):
            if role == Qt.ItemDataRole.DisplayRole and index.column() == COL_NAME:
                return "Scenes without a chapter"
            return None
        return self._chapter_data(index, r, role)

    def _chapter_data(self, index, c: int, role):
        p = self.project
        if c >= len(p.chapters):
            return None
        ch = p.chapters[c]
        col = index.column()
        scenes = self._nodes[c]
        planned = sum(s.target_words for s in scenes)
        off = planned - ch.goal if scenes else 0
        streaming = self.flat.streaming is not None and any(
            self.flat_index(s) == self.flat.streaming for s in scenes)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._chapter_display(c, col, off, streaming)
        elif role == Qt.ItemDataRole.EditRole:
            if col == COL_NAME:
                return ch.title
            if col == COL_TARGET:
                return ch.target_words
        elif role == Qt.ItemDataRole.CheckStateRole and col == COL_LOCK:
            return Qt.CheckState.Checked if ch.locked else Qt.CheckState.Unchecked
        elif role == Qt.ItemDataRole.ToolTipRole:
            return _chapter_tip(ch, col, len(scenes), planned, off, BM.chapter_short(self.project, c))
        elif role == Qt.ItemDataRole.ForegroundRole:
            return self._chapter_color(c, col, off, streaming)
        elif role == Qt.ItemDataRole.FontRole and col == COL_NAME:
            return bold()
        elif role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_TARGET, COL_WRITTEN):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _chapter_display(self, c: int, col: int, off: int, streaming: bool):
        ch = self.project.chapters[c]
        if col == COL_NAME:
            return f"Chapter {c + 1}: {ch.title or 'untitled'}"
        if col == COL_TARGET:
            return f"{ch.target_words:,}" + (f" +{ch.carried:,}" if ch.carried else "") + (" ⚠" if off else "")
        if col == COL_WRITTEN:
            return f"{self.chapter_written(c):,}"
        if col == COL_STATUS:
            state = "writing" if streaming else BM.chapter_status(self.project, c)
            if state == "done" and BM.chapter_short(self.project, c):
                return "done, short"
            return CHAPTER_STATES.get(state, state)
        return None

    def _chapter_color(self, c: int, col: int, off: int, streaming: bool):
        if col == COL_TARGET and off:
            return QColor(WARN)
        if col == COL_STATUS:
            state = "writing" if streaming else BM.chapter_status(self.project, c)
            if state == "done" and not self.project.chapters[c].locked and BM.chapter_short(self.project, c):
                return QColor(WARN)
            color = STATUS_COLORS["locked"] if self.project.chapters[c].locked else CHAPTER_COLORS.get(state)
            return QColor(color) if color else None
        return None

    def _scene_data(self, index, sec: Section, role):
        col = index.column()
        i = self.flat_index(sec)
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                return f"{index.row() + 1}. {sec.main_point}"
            if col == COL_TARGET:
                return f"{sec.target_words:,}"
            if col == COL_WRITTEN:
                return f"{self._scene_words(sec):,}"
        elif role == Qt.ItemDataRole.EditRole:
            if col == COL_NAME:
                return sec.main_point
            if col == COL_TARGET:
                return sec.target_words
        elif role == Qt.ItemDataRole.ToolTipRole and col == COL_NAME:
            tip = sec.main_point
            if sec.codex_used:
                tip += "\n\nCodex entries in its prompt: " + ", ".join(sec.codex_used)
            return tip
        return self.section_look(sec, col, role, i >= 0 and i == self.flat.streaming)

    def movable(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        """Scenes and chapters; not the "Scenes without a chapter" label row."""
        return self.section_at(index) is not None or self.is_chapter_row(index.row())

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or self.read_only:
            return False
        col = index.column()
        sec = self.section_at(index)
        item: Section | BM.Chapter
        if sec is not None:
            item = sec
        elif self.is_chapter_row(index.row()) and index.internalId() == 0:
            item = self.project.chapters[index.row()]
        else:
            return False
        if not self.edit_item(item, col, value, role):
            return False
        parent = self.parent(index)
        self.dataChanged.emit(self.index(index.row(), 0, parent),
                              self.index(index.row(), len(HEADERS) - 1, parent))
        if parent.isValid():          # the chapter's roll-up
            self.dataChanged.emit(parent, self.index(parent.row(), len(HEADERS) - 1))
        if sec is not None and self.flat_index(sec) >= 0:
            self.flat.refresh_row(self.flat_index(sec))
        self.changed.emit()
        return True


    # -- drag and drop (chapters among chapters; scenes into any chapter) -------------------

    def mimeTypes(self) -> list[str]:
        return [TREE_MIME]

    def mimeData(self, indexes) -> QMimeData:
        data = QMimeData()
        if indexes:
            idx = indexes[0]
            sec = self.section_at(idx)
            item = ({"scene": self.flat_index(sec)} if sec is not None
                    else {"chapter": idx.row()} if self.is_chapter_row(idx.row()) else {})
            data.setData(TREE_MIME, QByteArray(json.dumps(item).encode()))
        return data

    def _drop_target(self, data: QMimeData, row: int, parent) -> tuple[str, int, object] | None:
        if self.read_only or not data.hasFormat(TREE_MIME):
            return None
        item = json.loads(bytes(data.data(TREE_MIME).data()).decode() or "{}")
        n = len(self.project.chapters)
        if "chapter" in item:
            c = item["chapter"]
            if parent.isValid():                  # dropped on a chapter (or one of its scenes)
                to = self.chapter_of(parent)
                if to is None:
                    return None
            else:
                to = n if row < 0 else row        # between chapters: before ``row``
                if to > c:
                    to -= 1
            to = max(0, min(to, n - 1))
            return ("chapter", c, to) if 0 <= c < n and to != c else None
        if "scene" in item:
            i = item["scene"]
            if not 0 <= i < len(self.project.sections) or not parent.isValid():
                return None
            sec = self.section_at(parent)
            if sec is not None:                   # dropped on a scene: before it
                c, at = self.chapter_of(parent), parent.row()
            else:
                c, at = self.chapter_of(parent), (row if row >= 0 else 10**9)
            if c is None:
                return None
            moving = self.project.sections[i]
            if moving.chapter == c and at > BM.chapter_scenes(self.project, c).index(i):
                at -= 1                           # its own place is freed first
            return "scene", i, (c, at)
        return None

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return self._drop_target(data, row, parent) is not None

    def dropMimeData(self, data, action, row, column, parent) -> bool:
        target = self._drop_target(data, row, parent)
        if target is not None:
            self.moveRequested.emit(*target)
        return False          # handled here: the view must not remove the source rows itself


class BookOutline(QWidget):
    """The tree outline of a two-level project: header, tree, buttons, chapter details."""

    sectionSelected = Signal(int)        # a scene (its index in project.sections)
    chapterSelected = Signal(int)
    structureChanged = Signal()          # chapters or scenes added, removed or moved
    replanChapterRequested = Signal(int)
    replanBookRequested = Signal()

    def __init__(self, flat, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flat = flat
        self.model = BookTreeModel(flat, self)
        self.confirm: Callable[[str], bool] = lambda question: True
        # a chapter's title, synopsis or summary was edited (the window saves, heads follow)
        self.on_edit: Callable[[int], None] = lambda c: self.flat.changed.emit()
        self._loading = False
        self._restoring = False

        self.header = QLabel()
        self.header.setObjectName("bookTotals")
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setItemDelegate(TargetDelegate(self.tree, COL_TARGET, step=100, separators=True))
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.tree.setDragEnabled(True)
        self.tree.setAcceptDrops(True)
        self.tree.setDropIndicatorShown(True)
        self.tree.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.SelectedClicked)
        h = self.tree.header()
        h.setStretchLastSection(False)
        h.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        fm = self.tree.fontMetrics()
        for col, sample in ((COL_TARGET, "10,000 +1,000 ⚠"), (COL_WRITTEN, "Written"),
                            (COL_STATUS, "not planned"), (COL_LOCK, "Lock")):
            h.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            h.resizeSection(col, fm.horizontalAdvance(sample) + 14)
        self.tree.selectionModel().currentRowChanged.connect(self._current_changed)
        self.model.changed.connect(self._value_edited)
        self.model.moveRequested.connect(self._dropped)
        self.model.modelAboutToBeReset.connect(self._before_reset)
        self.model.modelReset.connect(self._after_reset)
        self._expanded: list[object] = []       # chapters (objects) open before a reset
        self._selected: object | None = None     # the chapter or scene selected before it

        def button(text: str, tip: str) -> QPushButton:
            b = QPushButton(text)
            b.setToolTip(tip)
            return b

        self.add_chapter_btn = button("Add chapter", "Add a chapter after the selected one")
        self.add_scene_btn = button("Add scene", "Add a scene to the selected chapter (after the selected scene)")
        self.delete_btn = button("Delete", "Delete the selected chapter (with its scenes) or scene")
        self.up_btn = button("Up", "Move the selected chapter or scene up")
        self.down_btn = button("Down", "Move the selected chapter or scene down")
        self.lock_btn = button("Lock", "Lock or unlock the selected chapter or scene")
        self.fit_btn = button("Fit targets", "Rescale unlocked targets so chapters add up to the book's "
                                             "target and scenes to their chapter's")
        self.replan_chapter_btn = button("Re-plan chapter", "Plan the selected chapter's scenes again "
                                                            "(locked scenes are kept)")
        self.replan_book_btn = button("Re-plan book", "Plan the chapters again (locked chapters and "
                                                      "chapters with text are kept; the new plan "
                                                      "goes on from the book's first such chapters)")
        self.add_chapter_btn.clicked.connect(self.add_chapter)
        self.add_scene_btn.clicked.connect(self.add_scene)
        self.delete_btn.clicked.connect(self.delete_selected)
        self.up_btn.clicked.connect(lambda: self.move_selected(-1))
        self.down_btn.clicked.connect(lambda: self.move_selected(+1))
        self.lock_btn.clicked.connect(self.toggle_lock)
        self.fit_btn.clicked.connect(self.fit_targets)
        self.replan_chapter_btn.clicked.connect(self._replan_chapter)
        self.replan_book_btn.clicked.connect(self.replanBookRequested)
        self.buttons = [self.add_chapter_btn, self.add_scene_btn, self.delete_btn, self.up_btn,
                        self.down_btn, self.lock_btn, self.fit_btn, self.replan_chapter_btn,
                        self.replan_book_btn]
        row1, row2 = QHBoxLayout(), QHBoxLayout()
        for row in (row1, row2):
            row.setSpacing(4)
        for b in self.buttons[:6]:
            row1.addWidget(b)
        for b in self.buttons[6:]:
            row2.addWidget(b)
        row1.addStretch(1)
        row2.addStretch(1)

        # the selected chapter: title, synopsis, and its summary ("the story so far")
        self.details = QGroupBox("Chapter")
        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("Title")
        self.synopsis_edit = QPlainTextEdit()
        self.synopsis_edit.setPlaceholderText("Synopsis: what happens in this chapter")
        self.synopsis_edit.setMinimumHeight(40)
        self.summary_edit = QPlainTextEdit()
        self.summary_edit.setPlaceholderText("Summary: written by the model when the chapter is "
                                             "finished; write or edit it yourself and it is kept")
        self.summary_edit.setMinimumHeight(48)
        self.summary_state = QLabel()
        self.summary_state.setStyleSheet("color: #5b6770;")
        self.summary_edit.setToolTip("The story so far: what later chapters' prompts carry of this one")
        box = QFormLayout(self.details)
        box.setContentsMargins(6, 2, 6, 4)
        box.setVerticalSpacing(3)
        title_row = QHBoxLayout()
        title_row.addWidget(self.title_edit, 1)
        title_row.addWidget(self.summary_state)
        box.addRow("Title", title_row)
        box.addRow("Synopsis", self.synopsis_edit)
        box.addRow("Summary", self.summary_edit)
        self.title_edit.textEdited.connect(self._title_edited)
        self.synopsis_edit.textChanged.connect(self._synopsis_edited)
        self.summary_edit.textChanged.connect(self._summary_edited)
        self._detail_chapter: int | None = None

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.tree, 1)
        tl.addLayout(row1)
        tl.addLayout(row2)
        self.split = QSplitter(Qt.Orientation.Vertical)     # the tree above the chapter's details
        self.split.addWidget(top)
        self.split.addWidget(self.details)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self.split.setChildrenCollapsible(False)
        self.split.setSizes([1000, 1])          # the tree first; the details at their minimum
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.split, 1)
        self._show_details(None)
        self.update_header()

    # -- selection -------------------------------------------------------------------------

    @property
    def project(self):
        return self.model.project

    def current_chapter(self) -> int | None:
        return self.model.chapter_of(self.tree.currentIndex())

    def current_scene(self) -> int:
        """The selected scene's index in project.sections, or -1."""
        sec = self.model.section_at(self.tree.currentIndex())
        return self.model.flat_index(sec) if sec is not None else -1

    def select_scene(self, flat_row: int) -> None:
        idx = self.model.scene_index(flat_row)
        if idx.isValid():
            self.tree.expand(idx.parent())
            self.tree.setCurrentIndex(idx)
            self.tree.scrollTo(idx)

    def select_chapter(self, c: int) -> None:
        idx = self.model.chapter_index(c)
        if idx.isValid():
            self.tree.setCurrentIndex(idx)
            self.tree.scrollTo(idx)

    def _current_changed(self, cur: QModelIndex, _prev: QModelIndex) -> None:
        c = self.model.chapter_of(cur)
        self._show_details(c)
        self._update_buttons()
        sec = self.model.section_at(cur)
        if self._restoring:
            return
        if sec is not None:
            i = self.model.flat_index(sec)
            if i >= 0:
                self.sectionSelected.emit(i)
        elif c is not None:
            self.chapterSelected.emit(c)
        self._update_buttons()

    def _before_reset(self) -> None:
        shown = self.model.chapter_objects       # the rows as the tree shows them (before the change)
        self._expanded = [shown[r] for r in range(min(len(shown), self.model.rowCount()))
                          if self.tree.isExpanded(self.model.index(r, 0))]
        cur = self.tree.currentIndex()
        sec = self.model.section_at(cur)
        c = self.model.chapter_of(cur)
        self._selected = sec if sec is not None else (shown[c] if c is not None and c < len(shown) else None)

    def expand_chapter(self, c: int) -> None:
        idx = self.model.chapter_index(c)
        if idx.isValid():
            self.tree.expand(idx)

    def _after_reset(self) -> None:
        p = self.project
        keep = {id(ch) for ch in self._expanded}
        for c, ch in enumerate(p.chapters):
            if id(ch) in keep:
                self.expand_chapter(c)
        sel = self._selected
        self._restoring = True          # the selection comes back quietly (no scroll, no signal)
        try:
            if isinstance(sel, Section) and any(s is sel for s in p.sections):
                self.select_scene(next(i for i, s in enumerate(p.sections) if s is sel))
            elif sel is not None and any(ch is sel for ch in p.chapters):
                self.select_chapter(next(c for c, ch in enumerate(p.chapters) if ch is sel))
        finally:
            self._restoring = False
        self._show_details(self.current_chapter())
        self.update_header()
        self._update_buttons()

    # -- chapter details -------------------------------------------------------------------

    def _show_details(self, c: int | None) -> None:
        self._detail_chapter = c
        self.details.setVisible(c is not None)
        if c is None or c >= len(self.project.chapters):
            return
        ch = self.project.chapters[c]
        self._loading = True
        try:
            self.details.setTitle(f"Chapter {c + 1}")
            if self.title_edit.text() != ch.title:
                self.title_edit.setText(ch.title)
            if self.synopsis_edit.toPlainText() != ch.synopsis:
                self.synopsis_edit.setPlainText(ch.synopsis)
            if self.summary_edit.toPlainText() != ch.summary:
                self.summary_edit.setPlainText(ch.summary)
        finally:
            self._loading = False
        self._summary_label(ch)

    def _summary_label(self, ch: BM.Chapter) -> None:
        if ch.summary_edited:
            self.summary_state.setText("summary: yours, never overwritten")
        elif ch.summary:
            self.summary_state.setText("summary: written by the model")
        else:
            self.summary_state.setText("summary: when the chapter is done")

    def refresh_details(self) -> None:
        """Show the selected chapter's fields again (a job wrote its summary)."""
        self._show_details(self._detail_chapter)

    def _title_edited(self, text: str) -> None:
        c = self._detail_chapter
        if self._loading or c is None or not text.strip():
            return
        self.project.chapters[c].title = " ".join(text.split())
        self._chapter_row_changed(c)

    def _synopsis_edited(self) -> None:
        c = self._detail_chapter
        if self._loading or c is None:
            return
        self.project.chapters[c].synopsis = self.synopsis_edit.toPlainText().strip()
        self._chapter_row_changed(c)

    def _summary_edited(self) -> None:
        c = self._detail_chapter
        if self._loading or c is None:
            return
        BM.set_chapter_summary(self.project, c, self.summary_edit.toPlainText())
        self._summary_label(self.project.chapters[c])
        self._chapter_row_changed(c)

    def _chapter_row_changed(self, c: int) -> None:
        idx = self.model.chapter_index(c)
        if idx.isValid():
            self.model.dataChanged.emit(idx, idx.siblingAtColumn(len(HEADERS) - 1))
        self.on_edit(c)

    # -- structure -------------------------------------------------------------------------

    def _structure_changed(self, select: Callable[[], None] | None = None) -> None:
        self.flat.reset()            # the tree follows (modelReset)
        self.flat.changed.emit()
        self.structureChanged.emit()
        self.update_header()
        if select is not None:
            select()

    def add_chapter(self) -> int:
        c = self.current_chapter()
        at = c + 1 if c is not None else len(self.project.chapters)
        BM.add_chapter(self.project, at, "New chapter", "Say what happens in this chapter.")
        self._structure_changed(lambda: self.select_chapter(at))
        return at

    def add_scene(self) -> int:
        c = self.current_chapter()
        if c is None:
            return -1
        scene = self.current_scene()
        idx = BM.chapter_scenes(self.project, c)
        at = idx.index(scene) + 1 if scene in idx else len(idx)
        sec = BM.add_scene(self.project, c, at, "New scene: say what happens here")
        self._structure_changed(lambda: self.select_scene(self.project.sections.index(sec)))
        return self.project.sections.index(sec)

    def delete_selected(self) -> None:
        scene = self.current_scene()
        p = self.project
        if scene >= 0:
            sec = p.sections[scene]
            if sec.text.strip() and not self.confirm(
                    f"Delete scene {OM.scene_label(p, scene)} and its {sec.words:,} written words?"):
                return
            c = sec.chapter
            BM.delete_scene(p, scene)
            self._structure_changed(lambda: self.select_chapter(c) if c is not None else None)
            return
        c = self.current_chapter()
        if c is None:
            return
        words = BM.chapter_words(p, c)
        if words and not self.confirm(f"Delete chapter {c + 1} ({p.chapters[c].title}) and its "
                                      f"{words:,} written words?"):
            return
        BM.delete_chapter(p, c)
        self._structure_changed(lambda: self.select_chapter(min(c, len(p.chapters) - 1)))

    def move_selected(self, delta: int) -> None:
        p = self.project
        scene = self.current_scene()
        if scene >= 0:
            sec = p.sections[scene]
            if sec.chapter is None:
                return
            idx = BM.chapter_scenes(p, sec.chapter)
            k = idx.index(scene)
            if not 0 <= k + delta < len(idx):
                # past the chapter's first or last scene: into the neighbouring chapter
                if OM.move_scene_across(p, scene, delta):
                    self._structure_changed(lambda: self.select_scene(p.sections.index(sec)))
                return
            BM.move_scene(p, scene, k + delta)
            self._structure_changed(lambda: self.select_scene(p.sections.index(sec)))
            return
        c = self.current_chapter()
        if c is None or not 0 <= c + delta < len(p.chapters):
            return
        BM.move_chapter(p, c, c + delta)
        self._structure_changed(lambda: self.select_chapter(c + delta))

    def _dropped(self, kind: str, src: int, target: object) -> None:
        """A chapter or a scene was dragged to a new place (see BookTreeModel._drop_target)."""
        p = self.project
        if kind == "chapter" and isinstance(target, int):
            BM.move_chapter(p, src, target)
            self._structure_changed(lambda: self.select_chapter(target))
            return
        if not isinstance(target, tuple):
            return
        c, at = int(target[0]), int(target[1])
        sec = p.sections[src]
        OM.move_scene_to(p, src, c, at)
        self._structure_changed(lambda: self.select_scene(p.sections.index(sec)))

    def toggle_lock(self) -> None:
        idx = self.tree.currentIndex()
        if not idx.isValid():
            return
        lock = idx.siblingAtColumn(COL_LOCK)
        on = self.model.data(lock, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
        self.model.setData(lock, Qt.CheckState.Unchecked if on else Qt.CheckState.Checked,
                           Qt.ItemDataRole.CheckStateRole)

    def fit_targets(self) -> None:
        """The user asked: rescale unlocked targets so the numbers add up at both levels."""
        OM.fit_all_targets(self.project)
        self.model.rebuild()
        self.flat.reset()
        self.flat.changed.emit()
        self.update_header()

    def _replan_chapter(self) -> None:
        c = self.current_chapter()
        if c is not None:
            self.replanChapterRequested.emit(c)

    # -- state -----------------------------------------------------------------------------

    def _value_edited(self) -> None:
        self.update_header()
        self.flat.changed.emit()

    def set_read_only(self, read_only: bool) -> None:
        self._update_buttons()
        for w in (self.title_edit, self.synopsis_edit, self.summary_edit):
            w.setReadOnly(read_only)

    def _update_buttons(self) -> None:
        ro = self.model.read_only
        has_chapter = self.current_chapter() is not None
        selected = self.tree.currentIndex().isValid()
        self.add_chapter_btn.setEnabled(not ro)
        self.add_scene_btn.setEnabled(not ro and has_chapter)
        for b in (self.delete_btn, self.up_btn, self.down_btn, self.lock_btn):
            b.setEnabled(not ro and selected)
        self.fit_btn.setEnabled(not ro)
        self.replan_chapter_btn.setEnabled(not ro and has_chapter)
        self.replan_book_btn.setEnabled(not ro)

    def update_header(self) -> None:
        p = self.project
        if not BM.is_book(p):
            self.header.setText("")
            return
        rows = OM.chapter_rows(p, words=lambda i: self.flat.words(i))
        planned = sum(r.chapter.target_words for r in rows)
        written = sum(r.written for r in rows)
        done = sum(1 for r in rows if r.status == "done")
        scenes = sum(len(r.scenes) for r in rows)
        text = (f"{len(rows)} chapters ({done} done) · {scenes} scenes · targets <b>{planned:,}</b> · "
                f"written <b>{written:,}</b> of {p.target_words:,}")
        problems = BM.check_totals(p)
        if problems:
            shown = problems[:3] + ([f"… and {len(problems) - 3} more."] if len(problems) > 3 else [])
            listed = "<br>".join(_escape(s) for s in shown)
            text += (f"<br><span style='color:{WARN}'>⚠ The plan does not add up (not rescaled; "
                     f"Fit targets rescales the unlocked ones): {listed}</span>")
        else:
            text += " · <span style='color:#2e7d32'>adds up at every level</span>"
        self.header.setText(text)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _chapter_tip(ch: BM.Chapter, col: int, n_scenes: int, planned: int, off: int, short: int = 0):
    carried = (f"{ch.carried:,} words carried into it from the chapters before it, which ended short "
               f"of the book's pace: it is written to {ch.goal:,}." if ch.carried else "")
    if col == COL_TARGET and off:
        return (f"Its scenes add up to {planned:,} words, {abs(off):,} "
                f"{'over' if off > 0 else 'under'} the chapter's {'goal' if ch.carried else 'target'} "
                f"of {ch.goal:,}." + (f"\n\n{carried}" if carried else ""))
    if col == COL_TARGET and carried:
        return carried
    if col == COL_STATUS and short:
        return (f"Finished {short:,} words short of its target of {ch.goal:,}"
                f"{' (with the words carried into it)' if ch.carried else ''}. Longhand gives a "
                "short chapter more scenes while the model can plan one that does not retell the book; "
                "add one yourself, sharpen its synopsis and re-plan it, or write on by hand.")
    if col in (COL_NAME, COL_STATUS):
        tip = (ch.synopsis or "No synopsis yet.") + (f"\n\n{n_scenes} scenes" if n_scenes else "")
        if ch.summary:
            tip += f"\n\nSummary{' (yours)' if ch.summary_edited else ''}: {ch.summary}"
        return tip
    return None
