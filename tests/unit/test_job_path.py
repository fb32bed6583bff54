"""One job path: the CLI, the GUI and batch run their jobs through ``core.engine.job.JobRunner``,
and a project's remembered engine settings follow one rule from all three: an explicit choice
> what the project remembers > the default; afterwards the project remembers the engine it
ran with and keeps its other settings.

What the model was asked for is read at the backend (the sampling of each section it
writes), what the project remembers from its file.
"""

from __future__ import annotations

import json
from typing import Callable

import pytest
from PySide6.QtCore import Qt

from fakes import ScriptedBackend
from longhand.cli import main
from longhand.core.engine.events import PlanReady, SectionDone
from longhand.core.engine.job import JobRunner, PlanAdopted
from longhand.core.engine.plan import Section
from longhand.core.engine.session import EngineConfig
from longhand.core.errors import CancelToken
from longhand.core.projects.project import Project
from longhand.ui.settings import SettingsDialog

INSTRUCTION = "Write a 400-word story about a lighthouse keeper."
PLAN = ("Paragraph 1 - Main Point: Mara finds a bottle on the rocks - Word Count: 200 words\n"
        "Paragraph 2 - Main Point: She reads the letter and rows out - Word Count: 200 words\n")
REMEMBERED = {"seed": 5, "temperature": 0.4, "note": "the user's own key"}


class SamplingSpy(ScriptedBackend):
    """A scripted backend that records the (seed, temperature) each section is written with."""

    def __init__(self) -> None:
        super().__init__(plan_text=PLAN)
        self.written_with: list[tuple] = []

    def generate(self, prompt, *, max_tokens, sampling=None, **kw):
        text = prompt.text()
        if not ("Main Point" in text and "written so far" not in text):       # not a plan
            self.written_with.append((sampling.seed, sampling.temperature))
        return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, **kw)


class Factory:
    """The backend factory: a new spy per backend opened."""

    def __init__(self) -> None:
        self.opened: list[SamplingSpy] = []
        self.calls: list[dict] = []          # what each backend was opened with

    def __call__(self, model=None, **kwargs):
        self.calls.append({"model": model, **kwargs})
        self.opened.append(SamplingSpy())
        return self.opened[-1]

    def used(self) -> tuple:
        return self.opened[-1].written_with[0]


@pytest.fixture
def factory():            # the GUI's windows (make_window) and the CLI's and batch's model loads
    return Factory()


@pytest.fixture
def model_loads(monkeypatch, factory):
    monkeypatch.setattr("longhand.core.engine.session.open_backend", factory)     # write
    monkeypatch.setattr("longhand.core.backends.factory.open_backend", factory)   # batch's local model
    return factory


def planned_project(path, remembered: dict) -> None:
    """A project file with its outline planned and nothing written, remembering ``remembered``."""
    p = Project(instruction=INSTRUCTION, target_words=400,
                sections=[Section("Mara finds a bottle on the rocks", 200),
                          Section("She reads the letter and rows out", 200)])
    p.settings = dict(remembered)
    p.save(path)


Run = Callable[[dict, "int | None"], tuple]     # (remembered, explicit seed) -> (used, stored)


def assert_one_rule(run: Run, *, default_used: tuple, default_stored: dict, explicit_seed=lambda s: s) -> None:
    """explicit > remembered > default, and the project remembers what the job ran with."""
    # an explicit seed beats the remembered one; the remembered temperature beats the default
    used, stored = run(REMEMBERED, 9)
    assert used == (explicit_seed(9), 0.4)
    assert (stored["seed"], stored["temperature"]) == (explicit_seed(9), 0.4)
    assert stored["note"] == "the user's own key"           # settings other than the engine's are kept
    # nothing explicit: what the project remembers
    used, stored = run(REMEMBERED, None)
    assert used == (5, 0.4) and (stored["seed"], stored["temperature"]) == (5, 0.4)
    # nothing remembered, nothing explicit: the default
    used, stored = run({}, None)
    assert used == default_used
    assert {k: stored[k] for k in ("seed", "temperature") if k in stored} == default_stored


def test_remembered_settings_rule_from_the_cli(tmp_path, model_loads, capsys):
    runs = iter(range(100))

    def run(remembered, seed):
        path = tmp_path / f"story{next(runs)}.longhand"
        planned_project(path, remembered)
        assert main(["write", "--project", str(path), "-q"] + (["--seed", str(seed)] if seed else [])) == 0
        return model_loads.used(), json.loads(path.read_text())["settings"]

    # the default: no seed, the model family's temperature (the scripted backend's Sampling())
    assert_one_rule(run, default_used=(None, 0.5), default_stored={})


def test_remembered_settings_rule_from_the_gui(make_window, qtbot, tmp_path, factory):
    runs = iter(range(100))

    def run(remembered, seed):
        path = tmp_path / f"story{next(runs)}.longhand"
        planned_project(path, remembered)
        w = make_window(seed=7, temperature=0.7)        # the app's settings: the defaults
        assert w.open_project(path)
        if seed is not None:                            # chosen in Settings after opening the project
            dlg = SettingsDialog(w.engine_settings)
            qtbot.addWidget(dlg)
            dlg.seed.setValue(seed)
            w.apply_settings(dlg.value())
        qtbot.mouseClick(w.write_btn, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not w.runner.busy, timeout=30_000)
        assert w.last_error is None, w.last_error
        assert all(s.written for s in w.project.sections)
        return factory.used(), json.loads(path.read_text())["settings"]

    assert_one_rule(run, default_used=(7, 0.7), default_stored={"seed": 7, "temperature": 0.7})


def test_remembered_settings_rule_from_batch(tmp_path, model_loads):
    runs = iter(range(100))

    def run(remembered, seed):
        out = tmp_path / f"run{next(runs)}" / "data.jsonl"
        out.parent.mkdir()
        ins = out.parent / "ins.jsonl"
        ins.write_text(json.dumps({"instruction": INSTRUCTION, "target_words": 400, "id": "keeper"}) + "\n")
        jobs = out.with_name(out.name + ".jobs")
        jobs.mkdir()
        planned_project(jobs / "keeper.longhand", remembered)      # an interrupted batch job
        assert main(["batch", str(ins), "--out", str(out), "-q"] + (["--seed", str(seed)] if seed else [])) in (0, 1)
        settings = json.loads((jobs / "keeper.longhand").read_text())["settings"]
        assert settings["batch"]["id"] == "keeper"
        return model_loads.used(), settings

    # --seed S gives the job on line L the seed S + L
    assert_one_rule(run, default_used=(None, 0.5), default_stored={}, explicit_seed=lambda s: s + 1)


# ---------------------------------------------------------------------------------------
# The job runner itself

def test_a_book_is_planned_adopted_and_written_and_a_cancelled_plan_is_not_adopted():
    factory = lambda **kw: ScriptedBackend()         # noqa: E731 - plans fall back to standard ones
    job = Project(instruction="Write a novel in chapters about a lighthouse keeper.", target_words=2400)
    events: list = []
    with JobRunner(EngineConfig(seed=3), backend_factory=factory) as jobs:
        cancel = CancelToken()
        cancel.cancel()
        jobs.write(job, book=True, on_event=events.append, cancel=cancel)
        assert job.chapters == [] and job.sections == []              # a cancelled plan is not kept
        jobs.write(job, book=True, on_event=events.append)
    assert job.chapters and job.sections and all(s.written for s in job.sections)
    assert sum(isinstance(e, PlanAdopted) for e in events) == 1
    assert any(isinstance(e, SectionDone) for e in events)


def test_replanning_a_flat_outline_keeps_the_locked_sections():
    job = Project(instruction=INSTRUCTION, target_words=400,
                  sections=[Section("A locked opening", 100, locked=True), Section("Old middle", 300)])
    events: list = []
    with JobRunner(backend_factory=lambda **kw: ScriptedBackend(plan_text=PLAN)) as jobs:
        new = jobs.plan(job, on_event=events.append)
    assert new[0] is job.sections[0] and len(new) >= 2                # the locked section kept first
    assert sum(s.target_words for s in new[1:]) == 300                # the new plan fills the rest
    assert [s.main_point for s in job.sections] == ["A locked opening", "Old middle"]   # unchanged
    assert any(isinstance(e, PlanReady) for e in events)


def test_write_and_batch_open_the_local_model_alike_for_the_same_options(tmp_path, model_loads):
    options = ["--model", "/models/m.gguf", "--ctx", "4096", "--gpu-layers", "3", "--threads", "2",
               "--format", "completion", "--api-key", "k", "-q"]
    ins = tmp_path / "ins.jsonl"
    ins.write_text(json.dumps({"instruction": INSTRUCTION, "target_words": 400}) + "\n")
    assert main(["write", INSTRUCTION, "--words", "400", "--out", str(tmp_path / "a.md")] + options) == 0
    assert main(["batch", str(ins), "--out", str(tmp_path / "data.jsonl")] + options) in (0, 1)
    opened = model_loads.calls
    assert len(opened) == 2 and opened[0] == opened[1]
    assert (opened[0]["model"], opened[0]["n_ctx"], opened[0]["n_gpu_layers"]) == ("/models/m.gguf", 4096, 3)
