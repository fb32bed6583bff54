"""GUI: the Codex tab — characters, places, objects and lore the novel must keep straight.

Browse the entries (name, kind, from which chapter they hold, aliases), add, edit and delete
them; see which entries a scene's prompt carried (``Section.codex_used``) and which scenes
used an entry; accept, edit or reject the entries the model proposed after a chapter. The
rules (which entry holds where, replacing an entry, accepting a proposal) are the core's
(``core.engine.codex.Codex``); this tab edits the project's codex in place and says so with
``changed``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.engine import outline_model as OM
from ..core.engine.codex import KINDS, CodexEntry, CodexError, entry_from_dict, load_codex

ALWAYS = "always"


def _aliases(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


class CodexPane(QWidget):
    """Entries, the entry editor, the proposals, and what the selected scene used."""

    changed = Signal()
    sceneRequested = Signal(int)         # show this scene (index in project.sections)

    def __init__(self, project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.read_only = False
        self._editing: CodexEntry | None = None       # the entry in the form (None: a new one)
        self._proposal: CodexEntry | None = None      # the proposal the form edits
        self._scene: int | None = None
        self._chapter: int | None = None

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Name", "Kind", "From chapter", "Also called"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        h.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setMinimumHeight(48)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.currentCellChanged.connect(lambda row, *_: self._entry_selected(row))

        # the form
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Name, e.g. Mara Voss")
        self.aliases_edit = QLineEdit()
        self.aliases_edit.setPlaceholderText("Other names, comma-separated, e.g. Mara, the cartographer")
        self.kind_box = QComboBox()
        self.kind_box.addItems(list(KINDS))
        self.from_box = QSpinBox()
        self.from_box.setRange(0, 999)
        self.from_box.setSpecialValueText(ALWAYS)
        self.from_box.setPrefix("ch. ")
        self.from_box.setToolTip("The chapter from which this entry holds (a fact that changes later "
                                 "is a second entry with the same name from that chapter on)")
        self.text_edit = QPlainTextEdit()
        self.text_edit.setPlaceholderText("What the model must know: looks, role, history, rules…")
        self.text_edit.setFixedHeight(64)
        self.used_label = QLabel()
        self.used_label.setWordWrap(True)
        self.used_label.setStyleSheet("color: #5b6770;")
        self.used_label.setTextFormat(Qt.TextFormat.RichText)
        self.used_label.linkActivated.connect(lambda link: self.sceneRequested.emit(int(link)))
        self.form_box = QGroupBox("New entry")
        form = QGridLayout(self.form_box)
        form.setContentsMargins(6, 2, 6, 4)
        form.setVerticalSpacing(3)
        form.addWidget(QLabel("Name"), 0, 0)
        form.addWidget(self.name_edit, 0, 1)
        form.addWidget(QLabel("Kind"), 0, 2)
        form.addWidget(self.kind_box, 0, 3)
        form.addWidget(QLabel("Also called"), 1, 0)
        form.addWidget(self.aliases_edit, 1, 1)
        form.addWidget(QLabel("Holds from"), 1, 2)
        form.addWidget(self.from_box, 1, 3)
        form.addWidget(QLabel("Text"), 2, 0, Qt.AlignmentFlag.AlignTop)
        form.addWidget(self.text_edit, 2, 1, 1, 3)
        form.setColumnStretch(1, 1)

        self.new_btn = QPushButton("New")
        self.new_btn.setToolTip("Clear the form to add a new entry")
        self.save_btn = QPushButton("Save entry")
        self.save_btn.setToolTip("Add the entry, or keep the changes to the selected one")
        self.delete_btn = QPushButton("Delete")
        self.import_btn = QPushButton("Import…")
        self.import_btn.setToolTip("Add the entries of a codex file (JSON: a list of entries, as for "
                                   "longhand write --codex)")
        self.import_btn.clicked.connect(lambda: self.import_file())
        self.new_btn.clicked.connect(self.new_entry)
        self.save_btn.clicked.connect(self.save_entry)
        self.delete_btn.clicked.connect(self.delete_entry)
        self.message = QLabel()
        self.message.setStyleSheet("color: #c62828;")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.new_btn, self.save_btn, self.delete_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.import_btn)
        form.addLayout(buttons, 3, 1, 1, 3)
        form.addWidget(self.used_label, 4, 0, 1, 4)

        # proposals after a chapter: listed after the entries, in italics; selecting one loads
        # it into the form (Save entry accepts the user's version of it)
        self.proposal_label = QLabel()
        self.proposal_label.setStyleSheet("color: #7a5b00;")
        self.accept_btn = QPushButton("Accept")
        self.accept_btn.setToolTip("Add the selected proposal to the codex as it is")
        self.reject_btn = QPushButton("Reject")
        self.reject_btn.setToolTip("Drop the selected proposal")
        self.accept_btn.clicked.connect(self.accept_proposal)
        self.reject_btn.clicked.connect(self.reject_proposal)
        self.proposal_box = QWidget()
        pb = QHBoxLayout(self.proposal_box)
        pb.setContentsMargins(0, 0, 0, 0)
        pb.addWidget(self.proposal_label, 1)
        pb.addWidget(self.accept_btn)
        pb.addWidget(self.reject_btn)

        self.scene_label = QLabel()
        self.scene_label.setWordWrap(True)
        self.scene_label.setStyleSheet("background: #eef3f8; border-radius: 4px; padding: 4px 6px;")

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.scene_label)
        tl.addWidget(self.table, 1)
        tl.addWidget(self.proposal_box)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.form_box)
        bl.addWidget(self.message)
        bl.addStretch(1)
        scroll = QScrollArea()           # the form scrolls in a short window
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(bottom)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(scroll)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        self._split, self._form_page, self._sized = split, bottom, False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)
        self.set_project(project)

    # -- showing ---------------------------------------------------------------------------

    def showEvent(self, e) -> None:  # noqa: N802 - Qt naming
        super().showEvent(e)
        if not self._sized and self._split.height() > 0:
            # the form whole when there is room; the entries list takes the rest
            self._sized = True
            total = self._split.height() - self._split.handleWidth()
            want = min(self._form_page.sizeHint().height() + 4, total * 2 // 3)
            self._split.setSizes([max(1, total - want), want])

    @property
    def codex(self):
        return self.project.codex

    def set_project(self, project) -> None:
        self.project = project
        self._scene = self._chapter = None
        self.refresh()
        self.new_entry()

    def refresh(self) -> None:
        """Show the codex again (after a job proposed entries, or an edit)."""
        entries, proposed = self.codex.entries, self.codex.proposed
        self.table.blockSignals(True)
        self.table.setRowCount(len(entries) + len(proposed))
        italic = QFont()
        italic.setItalic(True)
        for r, e in enumerate([*entries, *proposed]):
            is_proposal = r >= len(entries)
            for col, text in enumerate((e.name, e.kind,
                                        ALWAYS if e.from_chapter is None else str(e.from_chapter),
                                        ", ".join(e.aliases))):
                item = QTableWidgetItem(text)
                item.setToolTip(("Proposed by the model (select it to edit, then Save entry; or "
                                 "Accept / Reject): " if is_proposal else "") + e.text)
                if is_proposal:
                    item.setFont(italic)
                    item.setForeground(QColor("#7a5b00"))
                self.table.setItem(r, col, item)
        current = self._editing if self._editing is not None else self._proposal
        rows = [*entries, *proposed]
        if current is not None and any(x is current for x in rows):
            self.table.setCurrentCell(next(i for i, x in enumerate(rows) if x is current), 0)
        self.table.blockSignals(False)
        self.proposal_box.setVisible(bool(proposed))
        self.proposal_label.setText(f"{len(proposed)} proposed by the model after a chapter (in italics)")
        self._show_scene()
        self._update_buttons()

    def show_scene(self, index: int | None) -> None:
        """The codex entries the prompt of scene ``index`` carried."""
        self._scene, self._chapter = index, None
        self._show_scene()

    def show_chapter(self, c: int | None) -> None:
        """The codex entries chapter ``c``'s prompt block carries (chosen when it is planned)."""
        self._scene, self._chapter = None, c
        self._show_scene()

    def _show_scene(self) -> None:
        p, i, c = self.project, self._scene, self._chapter
        if c is not None and 0 <= c < len(p.chapters):
            names = p.chapters[c].codex_names
            self.scene_label.setText(f"Chapter {c + 1}'s notes: <b>{', '.join(_html(n) for n in names)}</b>"
                                     if names else f"Chapter {c + 1}: its notes are chosen when it is "
                                     "planned into scenes (the entries its synopsis and the story so far "
                                     "mention).")
            return
        if i is None or not 0 <= i < len(p.sections) or p.sections[i].chapter is None:
            n = len(self.codex.entries)
            self.scene_label.setText(f"{n} entr{'y' if n == 1 else 'ies'}. Select a scene in the outline "
                                     "to see which entries its prompt carried.")
            return
        sec = p.sections[i]
        label = OM.scene_label(p, i)
        if sec.codex_used:
            self.scene_label.setText(f"Scene {label} used: <b>{', '.join(_html(n) for n in sec.codex_used)}</b>")
        elif sec.text.strip():
            self.scene_label.setText(f"Scene {label}: its prompt carried no codex entry.")
        else:
            self.scene_label.setText(f"Scene {label}: not written yet; entries are chosen when it is written "
                                     "(those its plan, the chapter synopsis or the recent text mention).")

    # -- the form --------------------------------------------------------------------------

    def _entry_selected(self, row: int) -> None:
        entries, proposed = self.codex.entries, self.codex.proposed
        if 0 <= row < len(entries):
            self.load_form(entries[row])
        elif 0 <= row - len(entries) < len(proposed):
            self.load_form(proposed[row - len(entries)], proposal=True)

    def load_form(self, e: CodexEntry | None, proposal: bool = False) -> None:
        self._editing = None if proposal else e
        self._proposal = e if proposal else None
        self.message.setText("")
        self.name_edit.setText(e.name if e else "")
        self.aliases_edit.setText(", ".join(e.aliases) if e else "")
        self.kind_box.setCurrentText(e.kind if e else KINDS[0])
        self.from_box.setValue(e.from_chapter or 0 if e else 0)
        self.text_edit.setPlainText(e.text if e else "")
        if proposal:
            self.form_box.setTitle(f"Proposed: {e.name} (Save entry accepts your version)" if e
                                   else "Proposed entry")
        else:
            self.form_box.setTitle(f"Entry: {e.name}" if e else "New entry")
        users = OM.codex_users(self.project, e.name) if e and not proposal else []
        if users:
            links = ", ".join(f"<a href='{i}'>{OM.scene_label(self.project, i)}</a>" for i in users[:40])
            more = f" and {len(users) - 40} more" if len(users) > 40 else ""
            self.used_label.setText(f"Used by scenes {links}{more}.")
        else:
            self.used_label.setText("Not used by a written scene yet." if e and not proposal else "")
        self._update_buttons()

    def form_entry(self) -> CodexEntry:
        """The form as an entry; CodexError (one line) when it is not valid."""
        return entry_from_dict({"name": self.name_edit.text(), "kind": self.kind_box.currentText(),
                                "text": self.text_edit.toPlainText(),
                                "aliases": _aliases(self.aliases_edit.text()),
                                "from_chapter": self.from_box.value() or None}, "the entry")

    def new_entry(self) -> None:
        self.table.clearSelection()
        self.load_form(None)

    def save_entry(self) -> CodexEntry | None:
        if self.read_only:
            return None
        try:
            entry = self.form_entry()
        except CodexError as e:
            self.message.setText(str(e))
            return None
        codex = self.codex
        if self._proposal is not None:
            codex.accept(self._proposal.name, entry)
        else:
            if self._editing is not None and self._editing in codex.entries:
                codex.entries.remove(self._editing)
            codex.add(entry)
        self._editing, self._proposal = entry, None
        self.refresh()
        self.load_form(entry)
        self.changed.emit()
        return entry

    def delete_entry(self) -> None:
        e = self._editing
        if self.read_only or e is None:
            return
        self.codex.remove(e.name, e.from_chapter)
        self._editing = None
        self.refresh()
        self.new_entry()
        self.changed.emit()

    def import_file(self, path: str | None = None) -> int:
        """Merge a codex file's entries (``load_codex``: strict, a one-line error naming the
        problem, nothing added then). Returns how many entries were added."""
        if self.read_only:
            return 0
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import codex", "", "Codex (*.json);;All files (*)")
            if not path:
                return 0
        try:
            loaded = load_codex(path)
        except CodexError as e:
            self.message.setText(str(e))
            return 0
        n = self.codex.merge(loaded)
        self.message.setText("")
        self.refresh()
        self.changed.emit()
        return n

    # -- proposals -------------------------------------------------------------------------

    def select_proposal(self, k: int) -> None:
        """Select the ``k``-th proposal in the list (it loads into the form)."""
        self.table.setCurrentCell(len(self.codex.entries) + k, 0)

    def select_entry(self, k: int) -> None:
        self.table.setCurrentCell(k, 0)

    def _selected_proposal(self) -> CodexEntry | None:
        return self._proposal if self._proposal is not None and any(
            x is self._proposal for x in self.codex.proposed) else None

    def accept_proposal(self) -> CodexEntry | None:
        e = self._selected_proposal()
        if self.read_only or e is None:
            return None
        added = self.codex.accept(e.name)
        self._editing = added
        self.refresh()
        if added is not None:
            self.load_form(added)
        self.changed.emit()
        return added

    def reject_proposal(self) -> None:
        e = self._selected_proposal()
        if self.read_only or e is None:
            return
        self.codex.reject(e.name)
        if self._proposal is e:
            self.new_entry()
        self.refresh()
        self.changed.emit()

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only
        self._update_buttons()

    def _update_buttons(self) -> None:
        ro = self.read_only
        self.save_btn.setEnabled(not ro)
        self.import_btn.setEnabled(not ro)
        self.delete_btn.setEnabled(not ro and self._editing is not None)
        for b in (self.accept_btn, self.reject_btn):
            b.setEnabled(not ro and self._selected_proposal() is not None)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
