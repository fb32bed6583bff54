"""GUI: Outline pane — the plan as a table of sections the writer can edit.

Columns: number, main point, target words, written words, status, lock. Main points and
targets are edited in place; rows are added, deleted, moved (buttons or drag and drop) and
locked. The model edits the project's section list directly and says so with ``changed``.
"""

from __future__ import annotations

import json
from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QByteArray, QMimeData, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ..core.engine.plan import DEFAULT_SECTION_WORDS, Section, rescale
from ..core.engine.status import SectionStatus, display_state
from ..core.engine.writer import MAX_TARGET, MIN_TARGET
from ..core.projects.project import Project

COL_NUM, COL_POINT, COL_TARGET, COL_WRITTEN, COL_STATUS, COL_LOCK = range(6)
HEADERS = ["#", "Main point", "Target", "Written", "Status", "Lock"]
MIME = "application/x-longhand-section-row"

STATUS_COLORS = {SectionStatus.DONE: "#2e7d32", SectionStatus.WRITING: "#c25e00",
                 SectionStatus.EDITED: "#1565c0", "locked": "#6a1b9a"}
STATUS_LABELS = {"edited": "edited by hand"}     # display_state -> the word shown


def status_of(sec: Section, streaming: bool = False) -> str:
    """The status word shown for a section."""
    state = display_state(sec, streaming)
    return STATUS_LABELS.get(state, state)


class OutlineModel(QAbstractTableModel):
    changed = Signal()            # sections added, removed, moved, retargeted or relocked

    def __init__(self, project: Project, parent=None) -> None:
        super().__init__(parent)
        self.project = project
        self.read_only = False
        self.streaming: int | None = None
        self.live_words: dict[int, int] = {}
        self._counted: dict[int, tuple[str, int]] = {}   # id(section) -> (its text, words)

    # -- reading ---------------------------------------------------------------------------

    @property
    def sections(self) -> list[Section]:
        return self.project.sections

    def set_project(self, project: Project) -> None:
        self.beginResetModel()
        self.project = project
        self.streaming = None
        self.live_words.clear()
        self._counted.clear()
        self.endResetModel()

    def reset(self) -> None:
        self.beginResetModel()
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.sections)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return {COL_LOCK: "Locked sections are never rewritten and survive Re-plan",
                    COL_TARGET: "Target length of the section in words",
                    COL_WRITTEN: "Words written so far"}.get(section)
        return None

    def words(self, row: int) -> int:
        if row in self.live_words:
            return self.live_words[row]
        return self.section_words(self.sections[row])

    def section_words(self, sec: Section) -> int:
        """``sec.words``, counted again only when its text changed (the tracker asks often)."""
        hit = self._counted.get(id(sec))
        if hit is not None and hit[0] is sec.text:
            return hit[1]
        n = sec.words
        self._counted[id(sec)] = (sec.text, n)
        return n

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.sections):
            return None
        row, col = index.row(), index.column()
        sec = self.sections[row]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._text(row, col, sec, display=role == Qt.ItemDataRole.DisplayRole)
        elif role == Qt.ItemDataRole.CheckStateRole and col == COL_LOCK:
            return Qt.CheckState.Checked if sec.locked else Qt.CheckState.Unchecked
        elif role == Qt.ItemDataRole.ToolTipRole and col == COL_POINT:
            return sec.main_point
        elif role == Qt.ItemDataRole.ToolTipRole and col == COL_STATUS and getattr(sec, "needs_attention", False):
            return ("The model's text went bad here (junk, loops or the wrong language) and recovery gave "
                    "up: the section ends short. Regenerate it or write it yourself.")
        elif role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_NUM, COL_TARGET, COL_WRITTEN):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == Qt.ItemDataRole.ForegroundRole and col == COL_STATUS:
            return self._status_color(row, sec)
        elif role == Qt.ItemDataRole.FontRole and row == self.streaming:
            f = QFont()
            f.setBold(True)
            return f
        return None

    def _text(self, row: int, col: int, sec: Section, display: bool):
        """A cell's display text (``display``) or edit value."""
        if col == COL_NUM:
            return row + 1
        if col == COL_POINT:
            return sec.main_point
        if col == COL_TARGET:
            return sec.target_words
        if col == COL_WRITTEN and display:
            return self.words(row)
        if col == COL_STATUS and display:
            state = status_of(sec, row == self.streaming)
            # the health check gave up on this section: it ends short (issue 14)
            return f"⚠ {state}, needs attention" if getattr(sec, "needs_attention", False) else state
        return None

    def _status_color(self, row: int, sec: Section):
        color = STATUS_COLORS.get(sec.status if row != self.streaming else SectionStatus.WRITING)
        if sec.locked and row != self.streaming:
            color = STATUS_COLORS["locked"]
        if getattr(sec, "needs_attention", False) and row != self.streaming:
            color = "#c62828"
        return QColor(color) if color else None

    def flags(self, index: QModelIndex | QPersistentModelIndex):
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled if not self.read_only else Qt.ItemFlag.NoItemFlags
        if self.read_only:
            return base
        base |= Qt.ItemFlag.ItemIsDragEnabled
        if index.column() in (COL_POINT, COL_TARGET):
            base |= Qt.ItemFlag.ItemIsEditable
        if index.column() == COL_LOCK:
            base |= Qt.ItemFlag.ItemIsUserCheckable
        return base

    # -- editing ---------------------------------------------------------------------------

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or self.read_only:
            return False
        sec = self.sections[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.CheckStateRole and col == COL_LOCK:
            sec.locked = Qt.CheckState(value) == Qt.CheckState.Checked
        elif role == Qt.ItemDataRole.EditRole and col == COL_POINT:
            text = " ".join(str(value).split())
            if not text or text == sec.main_point:
                return False
            sec.main_point = text
            sec.title = ""            # the heading follows the main point
        elif role == Qt.ItemDataRole.EditRole and col == COL_TARGET:
            try:
                n = int(value)
            except (TypeError, ValueError):
                return False
            n = max(MIN_TARGET, min(MAX_TARGET, n))
            if n == sec.target_words:
                return False
            sec.target_words = n
        else:
            return False
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(), len(HEADERS) - 1))
        self.changed.emit()
        return True

    def refresh_row(self, row: int) -> None:
        if 0 <= row < len(self.sections):
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))

    def insert_section(self, row: int, section: Section | None = None) -> int:
        row = max(0, min(row, len(self.sections)))
        section = section or Section(main_point="New section: say what happens here",
                                     target_words=DEFAULT_SECTION_WORDS)
        self.beginInsertRows(QModelIndex(), row, row)
        self.sections.insert(row, section)
        self.endInsertRows()
        self.changed.emit()
        return row

    def remove_section(self, row: int) -> None:
        if not 0 <= row < len(self.sections):
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.sections[row]
        self.endRemoveRows()
        self.changed.emit()

    def move_section(self, src: int, dst: int) -> int:
        """Move the section at ``src`` so that it ends up at index ``dst``; returns ``dst``."""
        n = len(self.sections)
        if not (0 <= src < n) or not (0 <= dst < n) or src == dst:
            return src
        # Qt's moveRows takes the destination *before* which rows are inserted
        qt_dst = dst + 1 if dst > src else dst
        self.beginMoveRows(QModelIndex(), src, src, QModelIndex(), qt_dst)
        sec = self.sections.pop(src)
        self.sections.insert(dst, sec)
        self.endMoveRows()
        self.changed.emit()
        return dst

    def fit_targets(self) -> None:
        """Rescale unlocked targets so the plan sums to the job's target."""
        free = [i for i, s in enumerate(self.sections) if not s.locked]
        if not free:
            return
        locked = sum(s.target_words for s in self.sections if s.locked)
        total = max(MIN_TARGET * len(free), self.project.target_words - locked)
        for i, t in zip(free, rescale([self.sections[i].target_words for i in free], total)):
            self.sections[i].target_words = t
        self.dataChanged.emit(self.index(0, 0), self.index(len(self.sections) - 1, len(HEADERS) - 1))
        self.changed.emit()

    # -- drag and drop (reorder) -----------------------------------------------------------

    def supportedDropActions(self):
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [MIME]

    def mimeData(self, indexes) -> QMimeData:
        rows = sorted({i.row() for i in indexes})
        data = QMimeData()
        data.setData(MIME, QByteArray(json.dumps(rows).encode()))
        return data

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return not self.read_only and data.hasFormat(MIME)

    def dropMimeData(self, data: QMimeData, action, row: int, column: int,
                     parent: QModelIndex | QPersistentModelIndex) -> bool:
        if self.read_only or not data.hasFormat(MIME):
            return False
        rows = json.loads(bytes(data.data(MIME).data()).decode())
        if len(rows) != 1:
            return False
        src = rows[0]
        if row < 0:   # dropped on an item: insert before it (or at the end)
            row = parent.row() if parent.isValid() else len(self.sections)
        dst = row - 1 if row > src else row
        self.move_section(src, max(0, min(dst, len(self.sections) - 1)))
        # handled here: tell the view not to remove the source row itself
        return False


class _TargetDelegate(QStyledItemDelegate):
    def createEditor(self, parent, option, index):
        if index.column() == COL_TARGET:
            box = QSpinBox(parent)
            box.setRange(MIN_TARGET, MAX_TARGET)
            box.setSingleStep(50)
            box.setSuffix(" words")
            return box
        return super().createEditor(parent, option, index)


class OutlinePane(QWidget):
    """The outline: a table of sections with buttons and the target totals; for a novel in
    two levels, the tree of chapters and scenes (``book_outline.BookOutline``, ``self.book``)."""

    replanRequested = Signal()
    sectionSelected = Signal(int)
    structureChanged = Signal()       # the tree added, removed or moved chapters or scenes

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = OutlineModel(project, self)
        self.confirm: Callable[[str], bool] = self._ask
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegate(_TargetDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.table.setDragEnabled(True)
        self.table.setAcceptDrops(True)
        self.table.setDropIndicatorShown(True)
        self.table.setDragDropOverwriteMode(False)
        self.table.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.SelectedClicked)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(COL_POINT, QHeaderView.ResizeMode.Stretch)
        # fixed widths, not ResizeToContents: that would ask every cell for its size at each
        # refresh while a section streams (hundreds of rows in a novel)
        fm = self.table.fontMetrics()
        for col, sample in ((COL_NUM, "000"), (COL_TARGET, "Target0"), (COL_WRITTEN, "Written0"),
                            (COL_STATUS, "edited by hand"), (COL_LOCK, "Lock0")):
            h.resizeSection(col, fm.horizontalAdvance(sample) + 16)
        self.table.selectionModel().currentRowChanged.connect(
            lambda cur, _prev: self.sectionSelected.emit(cur.row()) if cur.isValid() else None)

        self.add_btn = QPushButton("Add")
        self.add_btn.setToolTip("Add a section after the selected one")
        self.delete_btn = QPushButton("Delete")
        self.up_btn = QPushButton("Up")
        self.down_btn = QPushButton("Down")
        self.lock_btn = QPushButton("Lock")
        self.lock_btn.setToolTip("Lock or unlock the selected section")
        self.fit_btn = QPushButton("Fit targets")
        self.fit_btn.setToolTip("Rescale unlocked targets so they add up to the job's target")
        self.replan_btn = QPushButton("Re-plan")
        self.replan_btn.setToolTip("Make a new outline; locked sections are kept")
        self.add_btn.clicked.connect(self.add_section)
        self.delete_btn.clicked.connect(self.delete_section)
        self.up_btn.clicked.connect(lambda: self.move_selected(-1))
        self.down_btn.clicked.connect(lambda: self.move_selected(+1))
        self.lock_btn.clicked.connect(self.toggle_lock)
        self.fit_btn.clicked.connect(self.model.fit_targets)
        self.replan_btn.clicked.connect(self.replanRequested)
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        for b in (self.add_btn, self.delete_btn, self.up_btn, self.down_btn, self.lock_btn,
                  self.fit_btn, self.replan_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.totals = QLabel()
        self.totals.setWordWrap(True)
        self.empty_hint = QLabel("No outline yet. Describe what to write above, then press "
                                 "<b>Plan</b> (or <b>Write</b> to plan and write in one go).")
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setStyleSheet("color: #5b6770; padding: 6px;")

        self.flat_page = QWidget()
        layout = QVBoxLayout(self.flat_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty_hint)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.totals)
        # two-level projects (issue 12): the tree of chapters and scenes instead of the table
        from .book_outline import BookOutline
        self.book = BookOutline(self.model)
        self.book.confirm = lambda question: self.confirm(question)
        self.book.sectionSelected.connect(self.sectionSelected)
        self.book.structureChanged.connect(self.structureChanged)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.flat_page)
        self.stack.addWidget(self.book)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(self.stack)
        self.model.changed.connect(self.update_totals)
        self.model.modelReset.connect(self.update_totals)
        self.model.rowsInserted.connect(self.update_totals)
        self.model.rowsRemoved.connect(self.update_totals)
        self.update_totals()

    # -- actions ---------------------------------------------------------------------------

    @property
    def is_book(self) -> bool:
        return bool(self.model.project.chapters)

    def current_row(self) -> int:
        if self.is_book:
            return self.book.current_scene()
        idx = self.table.currentIndex()
        return idx.row() if idx.isValid() else -1

    def select_row(self, row: int) -> None:
        if self.is_book:
            self.book.select_scene(row)
            return
        if 0 <= row < self.model.rowCount():
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))

    def add_section(self) -> int:
        row = self.current_row()
        new = self.model.insert_section(row + 1 if row >= 0 else self.model.rowCount())
        self.select_row(new)
        return new

    def delete_section(self) -> None:
        row = self.current_row()
        if row < 0:
            return
        sec = self.model.sections[row]
        if sec.text.strip() and not self.confirm(
                f"Delete section {row + 1} and its {sec.words} written words?"):
            return
        self.model.remove_section(row)
        self.select_row(min(row, self.model.rowCount() - 1))

    def move_selected(self, delta: int) -> None:
        row = self.current_row()
        if row < 0:
            return
        new = self.model.move_section(row, row + delta)
        self.select_row(new)

    def toggle_lock(self) -> None:
        row = self.current_row()
        if row >= 0:
            sec = self.model.sections[row]
            self.model.setData(self.model.index(row, COL_LOCK),
                               Qt.CheckState.Unchecked if sec.locked else Qt.CheckState.Checked,
                               Qt.ItemDataRole.CheckStateRole)

    def set_read_only(self, read_only: bool) -> None:
        self.model.read_only = read_only
        for b in (self.add_btn, self.delete_btn, self.up_btn, self.down_btn, self.lock_btn,
                  self.fit_btn, self.replan_btn):
            b.setEnabled(not read_only)
        self.book.set_read_only(read_only)

    def update_totals(self) -> None:
        self.stack.setCurrentWidget(self.book if self.is_book else self.flat_page)
        if self.is_book:
            self.book.update_header()
        secs = self.model.sections
        self.empty_hint.setVisible(not secs)
        self.replan_btn.setVisible(bool(secs))
        if not secs:
            self.totals.setText("")
            return
        planned = sum(s.target_words for s in secs)
        job = self.model.project.target_words
        written = sum(self.model.words(i) for i in range(len(secs)))
        diff = planned - job
        if diff == 0:
            fit = "<span style='color:#2e7d32'>matches the job target</span>"
        else:
            fit = (f"<span style='color:#c62828'>{abs(diff):,} words {'over' if diff > 0 else 'under'} "
                   f"the job target of {job:,}</span>")
        self.totals.setText(f"{len(secs)} sections · targets sum to <b>{planned:,}</b> words, {fit} "
                            f"· written <b>{written:,}</b>")

    def _ask(self, question: str) -> bool:
        return QMessageBox.question(self, "Longhand", question) == QMessageBox.StandardButton.Yes
