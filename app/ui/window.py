"""GUI: the main window — request bar, outline, manuscript, tracker, menus, status bar.

The window holds no writing logic: it turns clicks into engine jobs (see ``runner``), and
renders the engine's events. The project (a ``core.projects.project.Project``) is the one source of
truth; the outline model and the section cards edit it in place when no job runs.
"""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import APP_NAME, __version__
from ..core import export as core_export
from ..core.backends.base import BackendInfo, LonghandError
from ..core.engine.plan import Section
from ..core.engine.session import BackendFactory
from ..core.engine.status import SectionStatus, all_written
from ..core.engine.writer import (
    MAX_TARGET,
    MIN_TARGET,
    JobDone,
    PlanReady,
    PlanStarted,
    PlanToken,
    SectionDone,
    SectionStarted,
    SectionToken,
    validate_request,
)
from ..core.library.demo import DEMO_LABEL, is_demo
from ..core.projects import recent
from ..core.projects.autosave import Autosave
from ..core.projects.project import SUFFIX, Project
from ..core.text.wordcount import target_from_instruction
from .document import DocumentView
from .outline import OutlinePane
from .runner import EngineRunner, JobResult
from .settings import EngineSettings, SettingsDialog, app_settings, load_engine_settings, save_engine_settings
from .tracker import Bar, Meter, TrackerPane

log = logging.getLogger(__name__)

DEFAULT_TARGET = 2000
EXPORT_NAMES = {".md": "Markdown", ".txt": "Plain text", ".docx": "Word document", ".pdf": "PDF"}


def keep_locked(old: list[Section], new: list[Section]) -> list[Section]:
    """A new outline with the locked sections of the old one put back at their places."""
    merged = list(new)
    for i, sec in enumerate(old):
        if sec.locked:
            merged.insert(min(i, len(merged)), sec)
    return merged


class Banner(QFrame):
    """A message inside the window (errors in plain words, notices), with a close button."""

    STYLES = {"error": "background:#fdecea; border:1px solid #e57373; color:#7f1d1d;",
              "info": "background:#e8f1fb; border:1px solid #90b4de; color:#0d3559;"}

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind
        self.setStyleSheet(f"Banner {{ {self.STYLES[kind]} border-radius:4px; }} QLabel {{ border:none; }}")
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    jobFinished = Signal(object)      # JobResult, after the window has handled it
    autosaveFailed = Signal(str)      # from the worker thread; shown in the window

    def __init__(self, settings: QSettings | None = None, *,
                 backend_factory: BackendFactory | None = None) -> None:
        super().__init__()
        self.qsettings = settings or app_settings()
        self.engine_settings = load_engine_settings(self.qsettings)
        self.project = Project(instruction="", target_words=DEFAULT_TARGET)
        # backend_factory: how backends are opened (tests pass one giving a scripted backend)
        self.runner = EngineRunner(self, backend_factory=backend_factory)
        self.runner.event.connect(self._on_event)
        self.runner.loading.connect(self._on_loading)
        self.runner.loaded.connect(self._on_loaded)
        self.runner.finished.connect(self._on_finished)
        # hooks for questions (tests answer them without a modal dialog)
        self.ask_unsaved: Callable[[], str] = self._ask_unsaved
        self.confirm: Callable[[str], bool] = self._confirm
        self.last_error: str | None = None
        self.last_stop_seconds: float | None = None
        self._stop_clicked: float | None = None
        self._adopt_plan_on_ready = False
        self._target_touched = False
        self._programmatic = False
        self._syncing = False
        self._run: dict = {}
        self.autosave: Autosave | None = None
        self._discarded = False
        self.autosaveFailed.connect(self._on_autosave_failed, Qt.ConnectionType.QueuedConnection)
        self._build()
        self._build_menus()
        self._restore_state()
        self._load_project_into_widgets()
        self._tick = QTimer(self)
        self._tick.setInterval(400)
        self._tick.timeout.connect(self._refresh_progress)
        self._flush_timer = QTimer(self)      # saves hand edits of a project that has a file
        self._flush_timer.setInterval(1500)
        self._flush_timer.timeout.connect(self._flush_edits)
        self._flush_timer.start()
        self._set_busy(None)
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

        # request bar
        self.instruction = QPlainTextEdit()
        self.instruction.setPlaceholderText(
            "What should the model write? e.g. “Write a 5000-word story about a lighthouse keeper "
            "who finds a message in a bottle.”")
        self.instruction.setFixedHeight(84)
        self.instruction.textChanged.connect(self._instruction_changed)
        self.target = QSpinBox()
        self.target.setRange(MIN_TARGET, MAX_TARGET)
        self.target.setSingleStep(100)
        self.target.setGroupSeparatorShown(True)
        self.target.setSuffix(" words")
        self.target.setValue(DEFAULT_TARGET)
        self.target.setMinimumWidth(130)
        self.target.valueChanged.connect(self._target_changed)
        self.model_label = QLabel()
        self.model_label.setStyleSheet("color: #5b6770;")
        self.plan_btn = QPushButton("Plan")
        self.plan_btn.setToolTip("Make an outline: sections with main points and word targets")
        self.write_btn = QPushButton("Write")
        self.write_btn.setToolTip("Write the sections not written yet (plans first if there is no outline)")
        self.write_btn.setDefault(True)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Stop now and keep what was written (Esc)")
        self.stop_btn.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.stop_btn.setStyleSheet("QPushButton:enabled { color: #b71c1c; font-weight: 600; }")
        self.write_btn.setStyleSheet("QPushButton:enabled { font-weight: 600; }")
        for b in (self.plan_btn, self.write_btn, self.stop_btn):
            b.setMinimumWidth(86)
        self.plan_btn.clicked.connect(lambda: self.plan())
        self.write_btn.clicked.connect(lambda: self.write())
        self.stop_btn.clicked.connect(self.stop)

        tl = QLabel("Target:")
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        grid.addWidget(tl, 0, 0)
        grid.addWidget(self.target, 0, 1)
        grid.addWidget(self.plan_btn, 0, 2)
        grid.addWidget(self.write_btn, 0, 3)
        grid.addWidget(self.stop_btn, 0, 4)
        self.job_label = QLabel()
        self.job_label.setStyleSheet("color: #37474f;")
        self.job_progress = Meter(height=10, show_text=False)
        grid.addWidget(self.model_label, 1, 0, 1, 5)
        grid.addWidget(self.job_progress, 2, 0, 1, 5)
        grid.addWidget(self.job_label, 3, 0, 1, 5)
        grid.setRowStretch(4, 1)
        right = QWidget()
        right.setLayout(grid)
        right.setFixedWidth(480)
        grid.setContentsMargins(0, 0, 0, 0)
        request = QHBoxLayout()
        request.addWidget(self.instruction, 1)
        request.addWidget(right)
        root.addLayout(request)

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

    def _build_menus(self) -> None:
        def action(menu, text, slot, shortcut=None, tip=None) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(shortcut)
            if tip:
                a.setStatusTip(tip)
            a.triggered.connect(lambda checked=False: slot())
            menu.addAction(a)
            return a

        m = self.menuBar().addMenu("&File")
        self.new_action = action(m, "&New", self.new_project, QKeySequence.StandardKey.New)
        self.open_action = action(m, "&Open…", self.open_project, QKeySequence.StandardKey.Open)
        self.save_action = action(m, "&Save", self.save, QKeySequence.StandardKey.Save)
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.save_as_action = action(m, "Save &As…", self.save_as, QKeySequence.StandardKey.SaveAs)
        self.export_action = action(m, "&Export…", self.export, QKeySequence("Ctrl+E"),
                                    "Export the manuscript (" + ", ".join(core_export.supported_suffixes()) + ")")
        m.addSeparator()
        self.models_action = action(m, "&Models…", self.open_models, None,
                                    "Download, import or pick a LongWriter model")
        self.settings_action = action(m, "Se&ttings…", self.open_settings, QKeySequence("Ctrl+,"))
        m.addSeparator()
        self.quit_action = action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        w = self.menuBar().addMenu("&Write")
        self.plan_action = action(w, "&Plan", self.plan, QKeySequence("Ctrl+P"))
        self.write_action = action(w, "&Write", self.write, QKeySequence("Ctrl+Return"))
        self.stop_action = action(w, "&Stop", self.stop)
        h = self.menuBar().addMenu("&Help")
        self.about_action = action(h, "&About Longhand", self.about)

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
        dlg = SettingsDialog(self.engine_settings, self)
        if dlg.exec():
            self.apply_settings(dlg.value())

    def open_models(self) -> None:
        from .model_manager import ModelManagerDialog
        dlg = ModelManagerDialog(self)
        dlg.modelChosen.connect(self.use_model)
        dlg.exec()

    def use_model(self, path: str) -> None:
        """Make ``path`` the model (loaded at the next Plan or Write)."""
        s = self.engine_settings
        self.apply_settings(s.replace(model_path=str(path)))
        self.statusBar().showMessage(f"Model set to {Path(path).name}; it loads at the next Plan or Write.", 6000)

    def apply_settings(self, settings: EngineSettings) -> None:
        self.engine_settings = settings
        notice = save_engine_settings(settings, self.qsettings)
        if notice:
            self.show_info(notice)
        self._update_model_label()

    def _update_model_label(self, info: BackendInfo | None = None) -> None:
        info = info or self.runner.info
        s = self.engine_settings
        if info is not None and self.runner.matches(s):
            name = info.model + (" (demo)" if info.demo else "")
            self.model_label.setText(f"Model: {name}")
            self.status_model.setText(f"{info.model} · context {info.n_ctx:,}")
            self.status_device.setText(f"{info.name} on {info.device}")
            self.status_demo.setVisible(info.demo)
            return
        chosen = s.model_path or _env_model()
        # without a choice, core.backends.factory picks an installed LongWriter model, else the demo
        name = Path(chosen).name if chosen else "default"
        self.model_label.setText(f"Model: {name} · not loaded yet")
        self.model_label.setToolTip(chosen or "An installed LongWriter model, else the demo model. "
                                    "Choose a file in File → Settings.")
        self.status_model.setText(f"{Path(chosen).name if chosen else 'default model'} · not loaded")
        self.status_device.setText("")
        self.status_demo.setVisible(bool(chosen) and is_demo(chosen))

    # ------------------------------------------------------------------------------------
    # Project <-> widgets

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
        self.setWindowModified(False)
        self._update_title()

    def _update_title(self) -> None:
        name = self.project.path.name if self.project.path else "Untitled"
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")

    def _mark_modified(self) -> None:
        self.setWindowModified(True)
        if self.project.path is not None and self.autosave is not None and not self.runner.busy:
            self._sync_request()
            if self.autosave.edited():
                self.setWindowModified(False)

    def _flush_edits(self) -> None:
        if self.runner.busy or self.autosave is None or self.project.path is None:
            return
        if self.autosave.dirty and self.autosave.flush():
            self.setWindowModified(False)

    def _on_autosave_failed(self, message: str) -> None:
        self.show_error(f"Autosave failed: {message} Writing goes on; Longhand keeps trying.")

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
        if self._programmatic:
            self.project.target_words = value
            self.outline.update_totals()
            self._refresh_progress()
            return
        self._target_touched = True
        self.project.target_words = value
        self.outline.update_totals()
        self._refresh_progress()
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

    def _lock_changed(self, index: int, locked: bool) -> None:
        self.outline.model.refresh_row(index)
        self.view.refresh(index)
        self.view.cards[index].set_busy(self.runner.busy)
        self._mark_modified()

    def _text_edited(self, index: int, text: str) -> None:
        sec = self.project.sections[index]
        if sec.text.strip():
            sec.takes.append(sec.text)
        sec.text = text
        sec.status = SectionStatus.EDITED
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
    # Jobs

    def _start(self, kind: str, work, busy_text: str) -> bool:
        self.banner.hide()
        self.view.commit_edits()
        try:
            self.runner.start(kind, work, self.engine_settings, self.project, autosave=self.autosave)
        except LonghandError as e:
            self.show_error(str(e))
            return False
        now = time.perf_counter()
        self._run = {"kind": kind, "t0": now, "t_write": None, "words0": self.project.words,
                     "tps": None, "goal": None, "section": None}
        self._stop_clicked = None
        self.view.follow = True
        self._set_busy(kind, busy_text)
        return True

    def plan(self) -> bool:
        """Make a new outline (locked sections are kept)."""
        if self.runner.busy:
            return False
        self._sync_request()
        instruction, target = self.project.instruction, self.project.target_words
        try:
            validate_request(instruction, target)
        except LonghandError as e:
            self.show_error(str(e))
            return False
        old = list(self.project.sections)
        locked = [s for s in old if s.locked]
        written = sum(s.words for s in old if not s.locked)
        if written and not self.confirm(f"A new outline replaces the {written:,} words written in "
                                        "unlocked sections (locked sections are kept). Continue?"):
            return False
        plan_words = target - sum(s.target_words for s in locked)
        if locked and plan_words < MIN_TARGET:
            self.show_error("The locked sections already use the whole target length. Unlock a "
                            "section or raise the target to re-plan.")
            return False

        def work(writer, emit, cancel):
            new = writer.plan(instruction, plan_words if locked else target, on_event=emit, cancel=cancel)
            return keep_locked(old, new)

        self._adopt_plan_on_ready = False
        return self._start("plan", work, "Planning…")

    def replan(self) -> bool:
        return self.plan()

    def write(self) -> bool:
        """Write every section not written yet; plan first when there is no outline."""
        if self.runner.busy:
            return False
        self._sync_request()
        project = self.project
        try:
            validate_request(project.instruction, project.target_words)
        except LonghandError as e:
            self.show_error(str(e))
            return False
        if all_written(project.sections):
            self.show_info("Every section is written. Use Regenerate or Write more on a section, "
                           "or add sections to the outline.")
            return False
        instruction, target = project.instruction, project.target_words

        def work(writer, emit, cancel):
            if not project.sections:
                project.sections = writer.plan(instruction, target, on_event=emit, cancel=cancel)
            return writer.write(project, on_event=emit, cancel=cancel)

        self._adopt_plan_on_ready = not project.sections
        return self._start("write", work, "Planning…" if not project.sections else "Writing…")

    def regenerate(self, index: int) -> bool:
        return self._section_job(index, "regenerate")

    def extend(self, index: int) -> bool:
        return self._section_job(index, "extend")

    def _section_job(self, index: int, mode: str) -> bool:
        if self.runner.busy or not 0 <= index < len(self.project.sections):
            return False
        sec = self.project.sections[index]
        if sec.locked:
            self.show_error(f"Section {index + 1} is locked; unlock it to rewrite it.")
            return False
        self._sync_request()
        project = self.project

        def work(writer, emit, cancel):
            return writer.write_section(project, index, mode=mode, on_event=emit, cancel=cancel)

        verb = "Regenerating" if mode == "regenerate" else "Writing more of"
        return self._start(mode, work, f"{verb} section {index + 1}…")

    def stop(self) -> None:
        if not self.runner.busy:
            return
        self._stop_clicked = time.perf_counter()
        self.runner.cancel()
        self.job_label.setText("Stopping…")
        self.stop_btn.setEnabled(False)

    def preload_model(self) -> bool:
        """Load the model in the background so the first Plan starts at once."""
        if self.runner.busy:
            return False
        return self._start("load", lambda writer, emit, cancel: None, "Loading model…")

    # -- events from the engine (GUI thread, in order) -------------------------------------

    def _on_loading(self, name: str) -> None:
        self.job_label.setText(f"Loading model {Path(name).name}…")
        self.job_progress.setRange(0, 0)
        self.status_model.setText(f"{Path(name).name} · loading…")

    def _on_loaded(self, info: BackendInfo) -> None:
        self._update_model_label(info)
        for note in info.notes:
            self.show_info(note)
        self.job_label.setText("Model loaded.")

    def _on_event(self, e) -> None:
        run = self._run
        if isinstance(e, SectionToken):
            self.view.append(e.index, e.text)
            self.outline.model.live_words[e.index] = e.section_words
            run["tps"] = e.tokens_per_s
            run["section_words"] = e.section_words
        elif isinstance(e, SectionStarted):
            run["section"] = e.index
            run["goal"] = e.target_words
            run["section_words"] = None
            if run.get("t_write") is None:
                run["t_write"] = time.perf_counter()
                run["words_write0"] = self.project.words
            self.outline.model.streaming = e.index
            self.outline.model.live_words.pop(e.index, None)
            self.outline.model.refresh_row(e.index)
            self.view.begin_section(e.index, clear=e.mode in ("write", "regenerate"))
            self.job_label.setText(f"Writing section {e.index + 1} of {len(self.project.sections)} "
                                   f"({e.mode})…")
            self.job_progress.setRange(0, max(1, self.project.target_words))
        elif isinstance(e, SectionDone):
            self.outline.model.live_words.pop(e.index, None)
            self.outline.model.streaming = None
            self.view.end_section(e.index, e.text)
            self.outline.model.refresh_row(e.index)
            self.outline.update_totals()
            self._mark_modified()
        elif isinstance(e, PlanStarted):
            self.job_label.setText(f"Planning {e.target_words:,} words…")
            self.job_progress.setRange(0, 0)
            run["plan_text"] = ""
        elif isinstance(e, PlanToken):
            run["plan_text"] = run.get("plan_text", "") + e.text
            run["plan_dirty"] = True
        elif isinstance(e, PlanReady):
            if e.how == "fallback":
                self.show_info("The model's outline could not be used, so Longhand made a standard "
                               "outline for this length. Edit it, or press Plan to try again.")
            if self._adopt_plan_on_ready:
                self.project.sections = e.sections
                self.outline.model.set_project(self.project)
                self._rebuild_view()
                self._mark_modified()
        elif isinstance(e, JobDone):
            run["stats"] = e.stats

    def _on_finished(self, out: JobResult) -> None:
        if self._stop_clicked is not None:
            self.last_stop_seconds = time.perf_counter() - self._stop_clicked
        kind = out.kind
        self.view.end_job()
        if not self.view.cards:
            self.view.set_placeholder(self.view.EMPTY)
        self.outline.model.streaming = None
        self.outline.model.live_words.clear()
        if out.error and not out.cancelled:
            self.show_error(out.error)
        elif kind == "plan" and out.result is not None and not out.cancelled:
            self.project.sections = out.result
            self.outline.model.set_project(self.project)
            self._rebuild_view()
            self._mark_modified()
        self._set_busy(None)
        if self.project.path is not None and self.autosave is not None:
            self.autosave.dirty = True          # the final state, from the GUI thread now
            if self.autosave.flush():
                self.setWindowModified(False)
        if out.cancelled:
            msg = f"Stopped. Kept {self.project.words:,} words."
            if self.last_stop_seconds is not None and self._stop_clicked is not None:
                msg += f" (stopped in {self.last_stop_seconds:.2f} s)"
            self.job_label.setText(msg)
        elif not out.error:
            self.job_label.setText({"plan": "Outline ready. Edit it, then press Write.",
                                    "load": "Model ready."}.get(kind, f"Done: {self.project.words:,} words."))
        else:
            self.job_label.setText("Failed; see the message above.")
        self.statusBar().showMessage(self.job_label.text(), 8000)
        self._refresh_progress()
        self.jobFinished.emit(out)

    # -- busy state and progress -----------------------------------------------------------

    def _set_busy(self, kind: str | None, text: str = "") -> None:
        busy = kind is not None
        for w in (self.plan_btn, self.write_btn, self.plan_action, self.write_action,
                  self.new_action, self.open_action, self.settings_action, self.models_action):
            w.setEnabled(not busy)
        self.stop_btn.setEnabled(busy)
        self.stop_action.setEnabled(busy)
        self.instruction.setReadOnly(busy)
        self.target.setEnabled(not busy)
        self.bible.setReadOnly(busy)
        self.outline.set_read_only(busy)
        self.view.set_busy(busy)
        self.job_progress.setVisible(busy)
        if busy:
            self.job_label.setText(text)
            self.job_progress.setRange(0, 0)
            self._tick.start()
        else:
            self._tick.stop()

    def _refresh_progress(self) -> None:
        model = self.outline.model
        secs = model.sections
        total = sum(model.words(i) for i in range(len(secs)))
        target = self.project.target_words
        self.tracker.set_totals(total, target)
        bars = []
        for i, s in enumerate(secs):
            state = SectionStatus.WRITING.value if i == model.streaming else str(s.status)
            bars.append(Bar(model.words(i), s.target_words, state))
        self.tracker.rhythm.set_bars(bars, model.streaming if model.streaming is not None
                                     else self.tracker.rhythm.current)
        run = self._run
        if not self.runner.busy or not run:
            if run.get("stats") is not None:
                st = run["stats"]
                wpm = 60 * (st.words - run["words0"]) / st.seconds if st.seconds else None
                self.tracker.set_speed(st.tokens_per_s, wpm if wpm and wpm > 0 else None, st.seconds, None)
            elif not run:
                self.tracker.set_speed(None, None, None, None)
            return
        if run.get("plan_dirty"):
            run["plan_dirty"] = False
            lines = [ln for ln in run["plan_text"].splitlines() if ln.strip()]
            self.job_label.setText(f"Planning… {len(lines)} line{'s' if len(lines) != 1 else ''} of outline so far")
            if not self.view.cards:
                self.view.set_placeholder("Planning…\n\n" + "\n".join(lines[-12:]))
        now = time.perf_counter()
        elapsed = now - run["t0"]
        wpm = eta = None
        if run.get("t_write") is not None:
            dt = now - run["t_write"]
            gained = total - run["words_write0"]
            if run["kind"] in ("regenerate",) and run.get("section_words") is not None:
                gained = run["section_words"]
            if dt > 1 and gained > 0:
                wpm = 60 * gained / dt
                if run["kind"] == "write":
                    remaining = target - total
                else:
                    remaining = (run.get("goal") or 0) - (run.get("section_words") or 0)
                eta = max(0.0, remaining) / (wpm / 60)
        self.tracker.set_speed(run.get("tps"), wpm, elapsed, eta)
        if model.streaming is not None:
            model.refresh_row(model.streaming)
            self.outline.update_totals()
            if model.streaming < len(self.view.cards):
                self.view.cards[model.streaming].refresh(words=model.words(model.streaming),
                                                         streaming=True, target=run.get("goal"))
        if self.job_progress.maximum() > 0:
            self.job_progress.setValue(min(total, self.job_progress.maximum()))

    # -- messages --------------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        self.last_error = message
        self.banner.show_message(message, "error")
        self.statusBar().showMessage(message, 10000)

    def show_info(self, message: str) -> None:
        self.banner.show_message(message, "info")

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
    # Files

    def _maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saving it if the user says so)."""
        if self.project.path is not None and self.autosave is not None and self.autosave.error is None:
            self._flush_edits()             # a project with a file is saved as it changes
            if self.autosave.error is None:
                return True
        if not self.isWindowModified() or (not self.project.sections and not self.project.instruction):
            return True
        answer = self.ask_unsaved()
        if answer == "save":
            return self.save()
        if answer == "discard":
            self._discarded = True
            return True
        return False

    def _close_current(self) -> None:
        """Release the current project: save, back up and unlock it (if it has a file)."""
        project = self.project
        discarded, self._discarded = self._discarded, False
        try:
            if project.path is not None and not discarded:
                recent.close_project(project, make_backup=True)
            else:
                project.close()
        except LonghandError as e:
            log.warning("closing %s: %s", project.path, e)
            project.close()

    def new_project(self) -> bool:
        if self.runner.busy or not self._maybe_save():
            return False
        self._close_current()
        self.project = Project(instruction="", target_words=DEFAULT_TARGET)
        self._target_touched = False
        self._run = {}
        self.banner.hide()
        self._load_project_into_widgets()
        return True

    def open_project(self, path: str | Path | None = None) -> bool:
        if self.runner.busy or not self._maybe_save():
            return False
        if path is None:
            start = str(self.qsettings.value("files/last_dir", str(Path.home())))
            path, _ = QFileDialog.getOpenFileName(self, "Open project", start,
                                                  f"Longhand projects (*{SUFFIX});;All files (*)")
            if not path:
                return False
        if self.project.path is not None and Path(path).resolve() == self.project.path.resolve():
            return True
        try:
            project = recent.open_project(path)      # takes the project's lock
        except LonghandError as e:
            self.show_error(str(e))
            return False
        self._close_current()
        self.project = project
        self._run = {}
        self.banner.hide()
        self.qsettings.setValue("files/last_dir", str(Path(path).parent))
        self._load_project_into_widgets()
        if project.warnings:
            self.show_info("Opened with repairs: " + " ".join(project.warnings))
        return True

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        items = recent.recent_projects()
        for r in items:
            a = self.recent_menu.addAction(f"{r.title or r.path.stem} — {r.path}")
            a.setEnabled(r.exists and not self.runner.busy)
            a.triggered.connect(lambda checked=False, p=r.path: self.open_project(p))
        if not items:
            self.recent_menu.addAction("No recent projects").setEnabled(False)

    def save(self) -> bool:
        if self.project.path is None:
            return self.save_as()
        if self.runner.busy:
            # the writer saves the project itself every second and at each section's end
            self.statusBar().showMessage("Saved automatically while writing.", 4000)
            return True
        return self._save_to(self.project.path)

    def save_as(self, path: str | Path | None = None) -> bool:
        if self.runner.busy:
            self.show_info("Save As is available when the current job ends (press Stop to end it now).")
            return False
        if path is None:
            start = str(self.qsettings.value("files/last_dir", str(Path.home())))
            name = (self.project.title or "Untitled") + SUFFIX
            path, _ = QFileDialog.getSaveFileName(self, "Save project", str(Path(start) / name),
                                                  f"Longhand projects (*{SUFFIX})")
            if not path:
                return False
        path = Path(path)
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        return self._save_to(path)

    def _save_to(self, path: Path) -> bool:
        self.view.commit_edits()
        self._sync_request()
        project = self.project
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
            self.show_error(str(e))
            return False
        recent.remember(path, project.title)
        self.qsettings.setValue("files/last_dir", str(path.parent))
        if self.autosave is not None:
            self.autosave.dirty = False
        self.setWindowModified(False)
        self._update_title()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def export(self, path: str | Path | None = None) -> Path | None:
        suffixes = core_export.supported_suffixes()
        if path is None:
            filters = [f"{EXPORT_NAMES.get(s, s[1:].upper())} (*{s})" for s in suffixes]
            start = str(self.qsettings.value("files/last_dir", str(Path.home())))
            stem = self.project.path.stem if self.project.path else (self.project.title or "manuscript")
            path, chosen = QFileDialog.getSaveFileName(self, "Export manuscript",
                                                       str(Path(start) / (stem + suffixes[0])),
                                                       ";;".join(filters))
            if not path:
                return None
            if Path(path).suffix.lower() not in suffixes and chosen:
                path = path + suffixes[filters.index(chosen)]
        self.view.commit_edits()
        if not self.runner.busy:
            self._sync_request()
        try:
            out = core_export.export(self.project, path)
        except LonghandError as e:
            self.show_error(str(e))
            return None
        self.statusBar().showMessage(f"Exported {out}", 5000)
        return out

    # ------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.runner.busy:
            self.runner.cancel()
            self.runner.wait(10_000)
        if not self._maybe_save():
            event.ignore()
            return
        self.save_window_state()
        self.runner.close()
        self._close_current()
        event.accept()


def _env_model() -> str:
    import os
    return os.environ.get("LONGHAND_MODEL", "")
