"""GUI: File > Export Training Data… writes the open project's DPO pairs / SFT records."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings

from fakes import ScriptedBackend
from longhand.core.engine.plan import DONE, EDITED, Section
from longhand.core.engine.settings import EngineSettings
from longhand.core.projects.project import Project
from longhand.ui.settings import app_settings
from longhand.ui.training_export import CHOICES, export_training_data
from longhand.ui.window import MainWindow

DPO, SFT, STEPS = list(CHOICES)


@pytest.fixture
def window(qtbot, tmp_path):
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    EngineSettings(threads=1, seed=7).save(app_settings())
    w = MainWindow(backend_factory=lambda *a, **k: ScriptedBackend())
    w.ask_unsaved = lambda: "discard"
    qtbot.addWidget(w)
    yield w
    w.runner.cancel()
    assert w.runner.wait(60_000)


def load(w, p: Project) -> None:
    w.project = p
    w._load_project_into_widgets()


def test_the_file_menu_offers_it(window):
    texts = [a.text() for a in window.file_menu.actions()]
    assert "Export &Training Data…" in texts
    assert texts.index("Export &Training Data…") == texts.index("&Export…") + 1


def test_exports_pairs_and_records_from_the_open_project(window, tmp_path):
    p = Project(instruction="Write a story about a kite.", target_words=300, sections=[
        Section("The kite flies", 150, text="It flew over the dunes.", status=DONE, takes=["An older take."]),
        Section("The string snaps", 150, text="Then the string snapped, she wrote.", status=EDITED,
                takes=["Then the string snapped."]),
    ])
    load(window, p)
    out = export_training_data(window, DPO, tmp_path / "pairs.jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["chosen"], r["rejected"]) for r in rows] == [
        ("It flew over the dunes.", "An older take."),
        ("Then the string snapped, she wrote.", "Then the string snapped.")]
    assert "Exported 2 DPO pairs" in window.statusBar().currentMessage()
    out = export_training_data(window, STEPS, tmp_path / "sft")          # the suffix is checked
    assert out is None and "JSON Lines" in window.last_error
    out = export_training_data(window, STEPS, tmp_path / "sft.jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r.get("step") for r in rows] == [None, "plan", "write", "write"]
    assert rows[0]["messages"][1]["content"] == "It flew over the dunes.\n\nThen the string snapped, she wrote."


def test_nothing_to_export_says_so(window, tmp_path):
    load(window, Project(instruction="Write about a kite.", target_words=300, sections=[
        Section("The kite flies", 150, text="It flew.", status=DONE)]))
    assert export_training_data(window, DPO, tmp_path / "p.jsonl") is None
    assert "no finished section has an earlier take" in window.last_error
    assert not (tmp_path / "p.jsonl").exists()
