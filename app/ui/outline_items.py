"""GUI: what the flat outline table (``outline.OutlineModel``) and the book tree
(``book_outline.BookTreeModel``) share — one base for both item models.

Both show sections (the tree also chapters) in columns of a name, a target, the words
written, a status and a lock, and both are edited the same way: the name and the target in
place, the lock by its check box, nothing while a job runs. :class:`OutlineItems` holds those
rules — the item flags, the edit of a name, target or lock (:meth:`OutlineItems.edit_item`),
the looks of a section's cells (:meth:`OutlineItems.section_look`: status word and colour,
lock, bold while it streams, numbers right-aligned), the column tips — and the models keep
only what differs: their rows (a table, a tree) and how they show a name and a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QSpinBox, QStyledItemDelegate

from ..core.engine.book_model import Chapter
from ..core.engine.plan import Section
from ..core.engine.status import SectionStatus, display_state
from ..core.engine.writer import MAX_TARGET, MIN_TARGET

STATUS_COLORS = {SectionStatus.DONE: "#2e7d32", SectionStatus.WRITING: "#c25e00",
                 SectionStatus.EDITED: "#1565c0", "locked": "#6a1b9a"}
STATUS_LABELS = {"edited": "edited by hand"}     # display_state -> the word shown
WARN = "#c62828"                                 # needs attention, targets that do not add up

Role = Qt.ItemDataRole


def status_of(sec: Section, streaming: bool = False) -> str:
    """The status word shown for a section."""
    state = display_state(sec, streaming)
    return STATUS_LABELS.get(state, state)


@dataclass(frozen=True)
class Columns:
    """Where an outline model shows each value, and its header."""

    name: int
    target: int
    written: int
    status: int
    lock: int
    headers: tuple[str, ...]
    numbers: tuple[int, ...] = ()       # right-aligned columns besides target and written


def bold() -> QFont:
    f = QFont()
    f.setBold(True)
    return f


class OutlineItems:
    """The base of the outline item models (mixed into a ``QAbstractItemModel`` subclass)."""

    columns: ClassVar[Columns]
    tips: ClassVar[dict[int, str]] = {}        # header tool tips by column
    drop_on_items: ClassVar[bool] = False      # may an item take a drop (the tree: into a chapter)
    read_only: bool

    def movable(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        """Whether the row can be dragged and edited (not a label row such as the tree's
        "Scenes without a chapter")."""
        return True

    # -- Qt's item model API, the same in both ----------------------------------------------

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled if not self.read_only else Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self.read_only or not self.movable(index):
            return base
        base |= Qt.ItemFlag.ItemIsDragEnabled
        if self.drop_on_items:
            base |= Qt.ItemFlag.ItemIsDropEnabled
        if index.column() in (self.columns.name, self.columns.target):
            base |= Qt.ItemFlag.ItemIsEditable
        if index.column() == self.columns.lock:
            base |= Qt.ItemFlag.ItemIsUserCheckable
        return base

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Role.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Role.DisplayRole:
            return self.columns.headers[section]
        if orientation == Qt.Orientation.Horizontal and role == Role.ToolTipRole:
            return self.tips.get(section)
        return None

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.MoveAction

    # -- editing ---------------------------------------------------------------------------

    def edit_item(self, item: Section | Chapter, column: int, value: Any, role: int) -> bool:
        """Set a section's (or chapter's) lock, name or target from an edit; True when it
        changed (see :func:`rename`, :func:`retarget`)."""
        c = self.columns
        if role == Role.CheckStateRole and column == c.lock:
            item.locked = Qt.CheckState(value) == Qt.CheckState.Checked
            return True
        if role == Role.EditRole and column == c.name:
            return rename(item, value)
        if role == Role.EditRole and column == c.target:
            return retarget(item, value)
        return False

    # -- a section's looks -----------------------------------------------------------------

    def section_look(self, sec: Section, column: int, role: int, streaming: bool) -> Any:
        """The cells a section shows the same way in both outlines: its status (word and
        colour; ⚠ when the health check gave up on it and it ends short), its lock, bold while
        it streams, numbers right-aligned. None for anything else."""
        c = self.columns
        attention = getattr(sec, "needs_attention", False)
        if role == Role.DisplayRole and column == c.status:
            state = status_of(sec, streaming)
            return f"⚠ {state}, needs attention" if attention else state
        if role == Role.CheckStateRole and column == c.lock:
            return Qt.CheckState.Checked if sec.locked else Qt.CheckState.Unchecked
        if role == Role.ForegroundRole and column == c.status:
            color = STATUS_COLORS.get(SectionStatus.WRITING if streaming else sec.status)
            if sec.locked and not streaming:
                color = STATUS_COLORS["locked"]
            if attention and not streaming:
                color = WARN
            return QColor(color) if color else None
        if role == Role.FontRole and streaming:
            return bold()
        if role == Role.TextAlignmentRole and column in (c.target, c.written, *c.numbers):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def rename(item: Section | Chapter, value: Any) -> bool:
    """A section's main point (its heading follows it) or a chapter's title, edited; False:
    empty, or no change."""
    text = " ".join(str(value).split())
    if not text:
        return False
    if isinstance(item, Section):
        if text == item.main_point:
            return False
        item.main_point, item.title = text, ""     # the heading follows the main point
        return True
    if text == item.title:
        return False
    item.title = text
    return True


def retarget(item: Section | Chapter, value: Any) -> bool:
    """A target, clamped to MIN_TARGET..MAX_TARGET ("1,200" reads as 1200); False: not a
    number, or no change."""
    try:
        n = int(value.replace(",", "") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return False
    n = max(MIN_TARGET, min(MAX_TARGET, n))
    if n == item.target_words:
        return False
    item.target_words = n
    return True


class TargetDelegate(QStyledItemDelegate):
    """Targets are edited in a spin box of words (MIN_TARGET..MAX_TARGET)."""

    def __init__(self, parent, column: int, step: int, separators: bool = False) -> None:
        super().__init__(parent)
        self.column, self.step, self.separators = column, step, separators

    def createEditor(self, parent, option, index):  # noqa: N802 - Qt naming
        if index.column() == self.column:
            box = QSpinBox(parent)
            box.setRange(MIN_TARGET, MAX_TARGET)
            box.setSingleStep(self.step)
            box.setGroupSeparatorShown(self.separators)
            box.setSuffix(" words")
            return box
        return super().createEditor(parent, option, index)
