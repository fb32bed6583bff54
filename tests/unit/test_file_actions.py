"""GUI: the file actions run on any FileHost, not only on the MainWindow (the narrow
interface the window's parts are moving to): New, Save As, Open, Export, the unsaved question."""

from __future__ import annotations

from typing import Callable

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from longhand.core.projects.autosave import Autosave
from longhand.core.projects.project import Project
from longhand.ui.file_actions import FileActions


class Host:
    """A FileHost with no window behind it: it records what the actions asked of it."""

    default_target = 1500

    def __init__(self, settings: QSettings) -> None:
        self.project = Project(instruction="Write about tides.", target_words=900)
        self.autosave: Autosave | None = None
        self.qsettings = settings
        self.ask_unsaved: Callable[[], str] = lambda: "discard"
        self.busy = False
        self.modified = False
        self.calls: list[str] = []

    def add_menu_action(self, menu, text, slot, shortcut=None, tip=None) -> QAction:
        action = QAction(text, menu)
        action.triggered.connect(lambda checked=False: slot())
        menu.addAction(action)
        return action

    def commit_edits(self) -> None:
        self.calls.append("commit")

    def flush_edits(self) -> None:
        self.calls.append("flush")

    def set_project(self, project: Project) -> None:
        self.project = project
        self.calls.append("set_project")

    def isWindowModified(self) -> bool:  # noqa: N802 - Qt naming
        return self.modified

    def mark_saved(self) -> None:
        self.modified = False
        self.calls.append("saved")

    def show_error(self, message: str) -> None:
        self.calls.append("error: " + message)

    def show_info(self, message: str) -> None:
        self.calls.append("info: " + message)

    def show_status(self, message: str, msecs: int) -> None:
        self.calls.append("status: " + message)


@pytest.fixture
def actions(qtbot, settings_dir, tmp_path):
    parent = QWidget()
    qtbot.addWidget(parent)
    host = Host(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    files = FileActions(host, parent)
    files.add_to_menu(QMenu(parent))
    yield host, files
    host.project.close()


def test_save_as_new_and_open_on_a_plain_host(actions, tmp_path):
    host, files = actions
    assert [a.text() for a in (files.new_action, files.open_action, files.save_action,
                               files.save_as_action, files.export_action)] == \
        ["&New", "&Open…", "&Save", "Save &As…", "&Export…"]
    host.modified = True
    assert files.save_as(tmp_path / "tides")
    saved = tmp_path / "tides.longhand"
    assert saved.exists() and host.project.path == saved
    assert host.calls[:2] == ["commit", "saved"] and host.calls[-1] == f"status: Saved {saved}"
    assert host.modified is False

    assert files.new_project()
    assert host.project.path is None and host.project.target_words == host.default_target
    assert files.open_project(saved)
    assert host.project.path == saved and host.project.instruction == "Write about tides."


def test_busy_host_saves_nothing_itself_and_refuses_new(actions, tmp_path):
    host, files = actions
    host.busy = True
    assert files.new_project() is False
    assert files.save_as(tmp_path / "x") is False
    assert host.calls[-1].startswith("info: Save As is available when the current job ends")
    assert not (tmp_path / "x.longhand").exists()


def test_export_commits_edits_then_writes(actions, tmp_path):
    host, files = actions
    out = files.export(tmp_path / "tides.md")
    assert out == tmp_path / "tides.md" and out.exists()
    assert host.calls[0] == "commit" and host.calls[-1] == f"status: Exported {out}"


def test_unsaved_changes_are_asked_about(actions):
    host, files = actions
    host.modified = True
    host.ask_unsaved = lambda: "cancel"
    assert files.maybe_save() is False
    host.ask_unsaved = lambda: "discard"
    assert files.maybe_save() is True
