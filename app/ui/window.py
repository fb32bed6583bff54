"""GUI: the main window — request bar, outline, manuscript, tracker, menus, status bar.

The window lays out the widgets and keeps them in step with the project; it holds no
writing logic. It is composed of small parts:

* ``job_controller.JobController`` (``self.jobs``): Plan, Write, Regenerate, Write more,
  Stop; renders the engine's events and the progress;
* ``file_actions.FileActions`` (``self.files``): New, Open, Recent, Save, Save As, Export;
  it sees the window only through ``file_actions.FileHost`` (public members: ``busy``,
  ``commit_edits``, ``flush_edits``, ``mark_saved``, ``show_status``...), the model for the
  other parts, which still take the whole window;
* ``settings.SettingsDialog`` and ``model_manager.ModelManagerDialog`` for the engine.

The project (a ``core.projects.project.Project``) is the one source of truth; the outline
model and the section cards edit it in place when no job runs. Menus are plain QMenus kept
as ``file_menu``, ``write_menu``, ``help_menu``; a feature adds an entry with
:meth:`MainWindow.add_menu_action`.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import APP_NAME, __version__
from ..core.backends.base import BackendInfo
from ..core.engine.revise import replace_text
from ..core.engine.session import BackendFactory
from ..core.engine.settings import EngineSettings
from ..core.engine.writer import MAX_TARGET, MIN_TARGET
from ..core.library.demo import DEMO_LABEL
from ..core.projects.autosave import Autosave
from ..core.projects.project import Project
from ..core.text.wordcount import target_from_instruction
from .banner import Banner
from .document import DocumentView
from .engine_controls import EngineControls
from .file_actions import FileActions
from .job_controller import JobController
from .outline import OutlinePane
from .request_bar import RequestBar
from .runner import EngineRunner
from .settings import app_settings, load_engine_settings
from .tracker import TrackerPane

log = logging.getLogger(__name__)

DEFAULT_TARGET = 2000


class MainWindow(QMainWindow):
    jobFinished = Signal(object)      # JobResult, after the window has handled it
    autosaveFailed = Signal(str)      # from the worker thread; shown in the window

    default_target = DEFAULT_TARGET
    # menu entries, created by the parts that own them (self.files, features' add-ons)
    new_action: QAction
    open_action: QAction
    save_action: QAction
    save_as_action: QAction
    export_action: QAction
    training_export_action: QAction

    def __init__(self, settings: QSettings | None = None, *,
                 backend_factory: BackendFactory | None = None) -> None:
        super().__init__()
        self.qsettings = settings or app_settings()
        self.engine_settings = load_engine_settings(self.qsettings)
        self.project = Project(instruction="", target_words=DEFAULT_TARGET)
        # backend_factory: how backends are opened (tests pass one giving a scripted backend)
        self.jobs = JobController(self, backend_factory)
        self.runner: EngineRunner = self.jobs.runner
        self.files = FileActions(self, self)
        self.engine = EngineControls(self)
        # hooks for questions (tests answer them without a modal dialog)
        self.ask_unsaved: Callable[[], str] = self._ask_unsaved
        self.confirm: Callable[[str], bool] = self._confirm
        self.last_error: str | None = None
        self._target_touched = False
        self._programmatic = False
        self._syncing = False
        self.autosave: Autosave | None = None
        self.autosaveFailed.connect(self._on_autosave_failed, Qt.ConnectionType.QueuedConnection)
        self._build()
        self._build_menus()
        self._restore_state()
        self._load_project_into_widgets()
        self._flush_timer = QTimer(self)      # saves hand edits of a project that has a file
        self._flush_timer.setInterval(1500)
        self._flush_timer.timeout.connect(self.flush_edits)
        self._flush_timer.start()
        self.jobs.set_busy(None)
        self._update_model_label()
        # Move everything alive after start-up out of the garbage collector's sight: a full
        # collection of it stalls the event loop for ~80 ms mid-stream otherwise.
        gc.collect()
        gc.freeze()

    # ------------------------------------------------------------------------------------
    # Layout

    def _build(self) -> None:
        self.setWindowTitle(APP_NAME)
        central = QWidget()
        root = QVBoxLayout(central)
        root.setContentsMargins(8, 8, 8, 4)
        root.setSpacing(6)

        # request bar: instruction, target, Plan / Write / Stop, the model and the job
        self.request = RequestBar(DEFAULT_TARGET)
        r = self.request
        self.instruction, self.target, self.model_label = r.instruction, r.target, r.model_label
        self.plan_btn, self.write_btn, self.stop_btn = r.plan_btn, r.write_btn, r.stop_btn
        self.job_label, self.job_progress = r.job_label, r.job_progress
        self.instruction.textChanged.connect(self._instruction_changed)
        self.target.valueChanged.connect(self._target_changed)
        self.plan_btn.clicked.connect(lambda: self.plan())
        self.write_btn.clicked.connect(lambda: self.write())
        self.stop_btn.clicked.connect(self.stop)
        root.addWidget(self.request)

        self.banner = Banner()
        root.addWidget(self.banner)

        # left: outline / story bible tabs over the tracker; right: the manuscript
        self.outline = OutlinePane(self.project)
        self.outline.replanRequested.connect(self.replan)
        self.outline.sectionSelected.connect(self._outline_selected)
        self.outline.model.changed.connect(self._outline_changed)
        self.outline.model.rowsMoved.connect(lambda *a: self._rebuild_view())
        self.outline.model.rowsInserted.connect(lambda *a: self._rebuild_view())
        self.outline.model.rowsRemoved.connect(lambda *a: self._rebuild_view())
        self.bible = QPlainTextEdit()
        self.bible.setPlaceholderText(
            "Story bible: characters, places, facts and style the whole book must respect. "
            "It is given to the model with every section.")
        self.bible.textChanged.connect(self._bible_changed)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.outline, "Outline")
        self.tabs.addTab(self.bible, "Story bible")
        self.tracker = TrackerPane()
        self.tracker.rhythm.sectionClicked.connect(self.select_section)
        self.left = QSplitter(Qt.Orientation.Vertical)
        self.left.addWidget(self.tabs)
        self.left.addWidget(self.tracker)
        self.left.setStretchFactor(0, 3)
        self.left.setStretchFactor(1, 1)

        self.view = DocumentView()
        self.view.word_counter = self.outline.model.section_words
        self.view.regenerateRequested.connect(self.regenerate)
        self.view.extendRequested.connect(self.extend)
        self.view.lockChanged.connect(self._lock_changed)
        self.view.textEdited.connect(self._text_edited)
        self.view.sectionClicked.connect(self._view_section_clicked)
        self.view.topSectionChanged.connect(self._view_scrolled)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(self.view)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        root.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        # status bar: model, device, demo
        sb = self.statusBar()
        self.status_model = QLabel()
        self.status_device = QLabel()
        self.status_demo = QLabel("DEMO")
        self.status_demo.setToolTip(f"{DEMO_LABEL}: a small base model that shows the engine "
                                    "working, not what a LongWriter model writes.")
        self.status_demo.setStyleSheet("background:#fff3cd; color:#7a5b00; border:1px solid #e0c36a; "
                                       "border-radius:3px; padding:0 6px; font-weight:600;")
        self.status_demo.hide()
        sb.addPermanentWidget(self.status_model)
        sb.addPermanentWidget(self.status_device)
        sb.addPermanentWidget(self.status_demo)

    def add_menu_action(self, menu: QMenu, text: str, slot: Callable[[], object],
                        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
                        tip: str | None = None) -> QAction:
        """Add an entry to ``menu`` that calls ``slot``; returns the action."""
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(shortcut)
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(lambda checked=False: slot())
        menu.addAction(a)
        return a

    def _build_menus(self) -> None:
        action = self.add_menu_action
        m = self.file_menu = self.menuBar().addMenu("&File")
        f = self.files
        f.add_to_menu(m)
        self.new_action, self.open_action, self.save_action = f.new_action, f.open_action, f.save_action
        self.save_as_action, self.export_action = f.save_as_action, f.export_action
        from .training_export import add_training_export
        self.training_export_action = add_training_export(self, m, self)
        m.addSeparator()
        self.models_action = action(m, "&Models…", self.open_models, None,
                                    "Download, import or pick a LongWriter model")
        self.settings_action = action(m, "Se&ttings…", self.open_settings, QKeySequence("Ctrl+,"))
        m.addSeparator()
        self.quit_action = action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        w = self.write_menu = self.menuBar().addMenu("&Write")
        self.plan_action = action(w, "&Plan", self.plan, QKeySequence("Ctrl+P"))
        self.write_action = action(w, "&Write", self.write, QKeySequence("Ctrl+Return"))
        self.stop_action = action(w, "&Stop", self.stop)
        h = self.help_menu = self.menuBar().addMenu("&Help")
        self.about_action = action(h, "&About Longhand", self.about)
        from .system_dialog import open_system_dialog
        self.system_action = action(h, "&System…", lambda: open_system_dialog(self), None,
                                    "Versions, GPU and backends, and what each model would use")
        from .novel import NovelActions
        self.novel = NovelActions(self)      # novels in two levels: tree, codex, chapter actions

    # ------------------------------------------------------------------------------------
    # Settings and window state

    def _restore_state(self) -> None:
        geo = self.qsettings.value("window/geometry")
        if isinstance(geo, (QByteArray, bytes)) and not self.restoreGeometry(QByteArray(geo)):
            geo = None
        if not geo:
            self.resize(1280, 800)
        state = self.qsettings.value("window/state")
        if isinstance(state, (QByteArray, bytes)):
            self.restoreState(QByteArray(state))
        for name, splitter in (("window/splitter", self.splitter), ("window/left", self.left)):
            s = self.qsettings.value(name)
            if isinstance(s, (QByteArray, bytes)):
                splitter.restoreState(QByteArray(s))
        if self.qsettings.value("window/splitter") is None:
            self.splitter.setSizes([470, 810])
            self.left.setSizes([520, 230])

    def save_window_state(self) -> None:
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/state", self.saveState())
        self.qsettings.setValue("window/splitter", self.splitter.saveState())
        self.qsettings.setValue("window/left", self.left.saveState())
        self.qsettings.sync()

    def open_settings(self) -> None:
        self.engine.open_settings()

    def open_models(self) -> None:
        self.engine.open_models()

    def use_model(self, path: str) -> None:
        """Make ``path`` the model (loaded at the next Plan or Write)."""
        self.engine.use_model(path)

    def apply_settings(self, settings: EngineSettings) -> None:
        self.engine.apply(settings)

    def _update_model_label(self, info: BackendInfo | None = None) -> None:
        self.engine.update_model_label(info)

    # ------------------------------------------------------------------------------------
    # Project <-> widgets

    def set_project(self, project: Project) -> None:
        """Show ``project`` (after New or Open); the old one was released by the caller."""
        self.project = project
        self._target_touched = False
        self.jobs.forget()
        self.banner.hide()
        self._load_project_into_widgets()
        self.engine.apply_project_settings()

    def _load_project_into_widgets(self) -> None:
        p = self.project
        self.outline.model.set_project(p)
        self._programmatic = True
        try:
            self.instruction.setPlainText(p.instruction)
            self.target.setValue(max(MIN_TARGET, min(MAX_TARGET, p.target_words or DEFAULT_TARGET)))
            self.bible.setPlainText(p.bible)
        finally:
            self._programmatic = False
        self._target_touched = bool(p.instruction)
        self.autosave = Autosave(p, on_error=lambda err: self.autosaveFailed.emit(str(err)))
        self.outline.model.set_project(p)
        self._rebuild_view()
        self.mark_saved()

    def mark_saved(self) -> None:
        """The project is on disk as shown (or new and untouched): not modified, titled by its file."""
        self.setWindowModified(False)
        name = self.project.path.name if self.project.path else "Untitled"
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")

    def _mark_modified(self) -> None:
        self.setWindowModified(True)
        if self.project.path is not None and self.autosave is not None and not self.runner.busy:
            self._sync_request()
            if self.autosave.edited():
                self.setWindowModified(False)

    def flush_edits(self) -> None:
        """Autosave pending edits of a project that has a file (not while a job runs)."""
        if self.runner.busy or self.autosave is None or self.project.path is None:
            return
        if self.autosave.dirty and self.autosave.flush():
            self.setWindowModified(False)

    def _on_autosave_failed(self, message: str) -> None:
        self.show_error(f"Autosave failed: {message} Writing goes on; Longhand keeps trying.")

    def commit_edits(self) -> None:
        """Put what the widgets hold into the project: section edits, and the request unless a
        job is running (the job owns it then)."""
        self.view.commit_edits()
        if not self.busy:
            self._sync_request()

    def _sync_request(self) -> None:
        self.project.instruction = self.instruction.toPlainText().strip()
        self.project.target_words = self.target.value()

    def _instruction_changed(self) -> None:
        if self._programmatic:
            return
        self._mark_modified()
        if not self._target_touched:
            stated = target_from_instruction(self.instruction.toPlainText())
            if stated and MIN_TARGET <= stated <= MAX_TARGET:
                self._programmatic = True
                try:
                    self.target.setValue(stated)
                finally:
                    self._programmatic = False

    def _target_changed(self, value: int) -> None:
        self.project.target_words = value
        self.outline.update_totals()
        self._refresh_progress()
        if not self._programmatic:
            self._target_touched = True
            self._mark_modified()

    def _bible_changed(self) -> None:
        if self._programmatic:
            return
        self.project.bible = self.bible.toPlainText()
        self._mark_modified()

    def _outline_changed(self) -> None:
        self._mark_modified()
        self.view.refresh()
        self._refresh_progress()

    def _rebuild_view(self) -> None:
        self.view.set_sections(self.project.sections)
        self.view.set_busy(self.runner.busy)
        self.outline.update_totals()
        self._refresh_progress()

    def _refresh_progress(self) -> None:
        self.jobs.refresh_progress()

    def _lock_changed(self, index: int, locked: bool) -> None:
        self.outline.model.refresh_row(index)
        self.view.refresh(index)
        self.view.cards[index].set_busy(self.runner.busy)
        self._mark_modified()

    def _text_edited(self, index: int, text: str) -> None:
        replace_text(self.project.sections[index], text)     # the old text becomes a take
        self.outline.model.refresh_row(index)
        self.outline.update_totals()
        self.view.refresh(index)
        self._refresh_progress()
        self._mark_modified()

    # selection <-> scroll sync
    def select_section(self, index: int) -> None:
        self.outline.select_row(index)

    def _outline_selected(self, index: int) -> None:
        if self._syncing:
            return
        self.view.scroll_to(index)
        self.tracker.rhythm.current = index
        self.tracker.rhythm.update()

    def _view_section_clicked(self, index: int) -> None:
        self._syncing = True
        try:
            self.outline.select_row(index)
        finally:
            self._syncing = False
        for c in self.view.cards:
            c.set_current(c.index == index)

    def _view_scrolled(self, index: int) -> None:
        self._syncing = True
        try:
            self.outline.select_row(index)
            self.tracker.rhythm.current = index
            self.tracker.rhythm.update()
        finally:
            self._syncing = False

    # ------------------------------------------------------------------------------------
    # Commands (the work is done by self.jobs and self.files)

    def plan(self) -> bool:
        """Make a new outline (locked sections are kept)."""
        return self.jobs.plan()

    def replan(self) -> bool:
        return self.jobs.plan()

    def write(self) -> bool:
        """Write every section not written yet; plan first when there is no outline."""
        return self.jobs.write()

    def regenerate(self, index: int) -> bool:
        return self.jobs.section_job(index, "regenerate")

    def extend(self, index: int) -> bool:
        return self.jobs.section_job(index, "extend")

    def stop(self) -> None:
        self.jobs.stop()

    def preload_model(self) -> bool:
        """Load the model in the background so the first Plan starts at once."""
        return self.jobs.preload_model()

    @property
    def busy(self) -> bool:
        """A job is running."""
        return self.jobs.busy

    @property
    def last_stop_seconds(self) -> float | None:
        return self.jobs.last_stop_seconds

    def new_project(self) -> bool:
        return self.files.new_project()

    def open_project(self, path: str | Path | None = None) -> bool:
        return self.files.open_project(path)

    def save(self) -> bool:
        return self.files.save()

    def save_as(self, path: str | Path | None = None) -> bool:
        return self.files.save_as(path)

    def export(self, path: str | Path | None = None) -> Path | None:
        return self.files.export(path)

    # -- messages --------------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        self.last_error = message
        self.banner.show_message(message, "error")
        self.statusBar().showMessage(message, 10000)

    def show_info(self, message: str) -> None:
        self.banner.show_message(message, "info")

    def show_status(self, message: str, msecs: int) -> None:
        self.statusBar().showMessage(message, msecs)

    def _confirm(self, question: str) -> bool:
        return QMessageBox.question(self, APP_NAME, question) == QMessageBox.StandardButton.Yes

    def _ask_unsaved(self) -> str:
        r = QMessageBox.question(
            self, APP_NAME, "The project has unsaved changes. Save them?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(r, "cancel")

    def about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", self.about_text())

    @staticmethod
    def about_text() -> str:
        return (f"<h3>{APP_NAME} {__version__}</h3>"
                "<p>Write very long texts — novels, long reports — with a local language model, "
                "offline. Longhand plans the text as sections with word targets, then writes it "
                "section by section (AgentWrite, from LongWriter, THUDM 2024).</p>"
                f"<p>Demo model: {DEMO_LABEL}. For real books use a LongWriter GGUF "
                "(Settings → Model file).</p>")

    # ------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt naming
        if self.runner.busy:
            self.runner.cancel()
            self.runner.wait(10_000)
        if not self.files.maybe_save():
            event.ignore()
            return
        self.save_window_state()
        self.runner.close()
        self.files.close_current()
        event.accept()
