"""GUI: file actions — New, Open, Open Recent, Save, Save As, Export — and the File menu.

The project file is the one source of truth: a project that has a file is saved as it
changes (autosave), backed up and unlocked when it is closed (``core.projects.recent``).

The actions see the window only through :class:`FileHost`, the few things they need (the
project, its autosave, the settings, messages, "is a job running"); they import nothing from
``window`` and call none of its private methods. This is the model for the window's other
parts.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Protocol

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from ..core import export as core_export
from ..core.errors import LonghandError
from ..core.projects import recent
from ..core.projects.autosave import Autosave
from ..core.projects.project import SUFFIX, Project

log = logging.getLogger(__name__)

EXPORT_NAMES = {".md": "Markdown", ".txt": "Plain text", ".docx": "Word document", ".pdf": "PDF"}


class FileHost(Protocol):
    """What the file actions need from the window that holds them."""

    project: Project                    # replaced (through set_project) on New and Open
    autosave: Autosave | None
    qsettings: QSettings
    default_target: int
    ask_unsaved: Callable[[], str]      # "save", "discard" or "cancel"

    @property
    def busy(self) -> bool:
        """A job is running (it saves the project itself)."""

    def add_menu_action(self, menu: QMenu, text: str, slot: Callable[[], object],
                        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
                        tip: str | None = None) -> QAction: ...

    def commit_edits(self) -> None:
        """Put what the widgets hold (section edits, the request) into the project."""

    def flush_edits(self) -> None:
        """Autosave pending edits of a project that has a file (not while a job runs)."""

    def set_project(self, project: Project) -> None: ...

    def isWindowModified(self) -> bool: ...  # noqa: N802 - Qt naming

    def mark_saved(self) -> None:
        """The project is on disk as shown: not modified, titled by its file."""

    def show_error(self, message: str) -> None: ...

    def show_info(self, message: str) -> None: ...

    def show_status(self, message: str, msecs: int) -> None: ...


class FileActions(QObject):
    """The window's file commands, on a :class:`FileHost`; ``parent`` owns them and is the
    parent of their dialogs."""

    new_action: QAction
    open_action: QAction
    save_action: QAction
    save_as_action: QAction
    export_action: QAction
    recent_menu: QMenu

    def __init__(self, host: FileHost, parent: QWidget) -> None:
        super().__init__(parent)
        self.w = host
        self.parent_widget = parent
        self._discarded = False

    def add_to_menu(self, m: QMenu) -> None:
        """New, Open, Save, Open Recent, Save As, Export (kept here by name)."""
        add = self.w.add_menu_action
        self.new_action = add(m, "&New", self.new_project, QKeySequence.StandardKey.New)
        self.open_action = add(m, "&Open…", self.open_project, QKeySequence.StandardKey.Open)
        self.save_action = add(m, "&Save", self.save, QKeySequence.StandardKey.Save)
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self.fill_recent_menu)
        self.save_as_action = add(m, "Save &As…", self.save_as, QKeySequence.StandardKey.SaveAs)
        self.export_action = add(
            m, "&Export…", self.export, QKeySequence("Ctrl+E"),
            "Export the manuscript (" + ", ".join(core_export.supported_suffixes()) + ")")

    def _start_dir(self) -> str:
        return str(self.w.qsettings.value("files/last_dir", str(Path.home())))

    # -- leaving the current project -------------------------------------------------------

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saving it if the user says so)."""
        w = self.w
        if w.project.path is not None and w.autosave is not None and w.autosave.error is None:
            w.flush_edits()                 # a project with a file is saved as it changes
            if w.autosave.error is None:
                return True
        if not w.isWindowModified() or (not w.project.sections and not w.project.instruction):
            return True
        answer = w.ask_unsaved()
        if answer == "save":
            return self.save()
        if answer == "discard":
            self._discarded = True
            return True
        return False

    def close_current(self) -> None:
        """Release the current project: save, back up and unlock it (if it has a file)."""
        project = self.w.project
        discarded, self._discarded = self._discarded, False
        try:
            if project.path is not None and not discarded:
                recent.close_project(project, make_backup=True)
            else:
                project.close()
        except LonghandError as e:
            log.warning("closing %s: %s", project.path, e)
            project.close()

    # -- new, open -------------------------------------------------------------------------

    def new_project(self) -> bool:
        w = self.w
        if w.busy or not self.maybe_save():
            return False
        self.close_current()
        w.set_project(Project(instruction="", target_words=w.default_target))
        return True

    def open_project(self, path: str | Path | None = None) -> bool:
        w = self.w
        if w.busy or not self.maybe_save():
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.parent_widget, "Open project", self._start_dir(),
                                                  f"Longhand projects (*{SUFFIX});;All files (*)")
            if not path:
                return False
        if w.project.path is not None and Path(path).resolve() == w.project.path.resolve():
            return True
        try:
            project = recent.open_project(path)      # takes the project's lock
        except LonghandError as e:
            w.show_error(str(e))
            return False
        self.close_current()
        w.qsettings.setValue("files/last_dir", str(Path(path).parent))
        w.set_project(project)
        if project.warnings:
            w.show_info("Opened with repairs: " + " ".join(project.warnings))
        return True

    def fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        items = recent.recent_projects()
        for r in items:
            a = menu.addAction(f"{r.title or r.path.stem} — {r.path}")
            a.setEnabled(r.exists and not self.w.busy)
            a.triggered.connect(lambda checked=False, p=r.path: self.open_project(p))
        if not items:
            menu.addAction("No recent projects").setEnabled(False)

    # -- save ------------------------------------------------------------------------------

    def save(self) -> bool:
        w = self.w
        if w.project.path is None:
            return self.save_as()
        if w.busy:
            # the writer saves the project itself every second and at each section's end
            w.show_status("Saved automatically while writing.", 4000)
            return True
        return self.save_to(w.project.path)

    def save_as(self, path: str | Path | None = None) -> bool:
        w = self.w
        if w.busy:
            w.show_info("Save As is available when the current job ends (press Stop to end it now).")
            return False
        if path is None:
            name = (w.project.title or "Untitled") + SUFFIX
            path, _ = QFileDialog.getSaveFileName(self.parent_widget, "Save project",
                                                  str(Path(self._start_dir()) / name),
                                                  f"Longhand projects (*{SUFFIX})")
            if not path:
                return False
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        return self.save_to(path)

    def save_to(self, path: Path) -> bool:
        w = self.w
        w.commit_edits()
        project = w.project
        try:
            if project.path is None:
                # a new project: take the file's lock before writing it
                project.path = path
                try:
                    project.lock()
                except LonghandError:
                    project.path = None
                    raise
            project.save(path)
        except LonghandError as e:
            w.show_error(str(e))
            return False
        recent.remember(path, project.title)
        w.qsettings.setValue("files/last_dir", str(path.parent))
        if w.autosave is not None:
            w.autosave.dirty = False
        w.mark_saved()
        w.show_status(f"Saved {path}", 5000)
        return True

    # -- export ----------------------------------------------------------------------------

    def export(self, path: str | Path | None = None) -> Path | None:
        w = self.w
        suffixes = core_export.supported_suffixes()
        if path is None:
            filters = [f"{EXPORT_NAMES.get(s, s[1:].upper())} (*{s})" for s in suffixes]
            stem = w.project.path.stem if w.project.path else (w.project.title or "manuscript")
            path, chosen = QFileDialog.getSaveFileName(self.parent_widget, "Export manuscript",
                                                       str(Path(self._start_dir()) / (stem + suffixes[0])),
                                                       ";;".join(filters))
            if not path:
                return None
            if Path(path).suffix.lower() not in suffixes and chosen:
                path = path + suffixes[filters.index(chosen)]
        w.commit_edits()
        try:
            out = core_export.export(w.project, path)
        except LonghandError as e:
            w.show_error(str(e))
            return None
        w.show_status(f"Exported {out}", 5000)
        return out
