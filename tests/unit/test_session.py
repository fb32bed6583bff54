"""The job session: one engine config, one meaning of the context setting, CLI and GUI alike."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings

from fakes import ScriptedBackend
from longhand.cli import build_parser
from longhand.cli import write as cli_write
from longhand.core.backends.base import MAX_CONTEXT
from longhand.core.engine import session as session_mod
from longhand.core.engine.events import PlanReady, SectionDone
from longhand.core.engine.job import JobRunner
from longhand.core.engine.session import EngineConfig, JobSession
from longhand.core.engine.settings import EngineSettings
from longhand.core.engine.status import SectionStatus
from longhand.core.engine.writer import Job

PLAN = ("Paragraph 1 - Main Point: Mara finds a bottle on the rocks - Word Count: 200 words\n"
        "Paragraph 2 - Main Point: She reads the letter and rows out - Word Count: 200 words\n")


class Recorder:
    """A backend factory that records what it was asked for and returns a scripted backend."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, model=None, **kwargs):
        self.calls.append({"model": model, **kwargs})
        return ScriptedBackend(plan_text=PLAN)


def test_context_setting_has_one_meaning():
    # an explicit context bounds the whole job; without one it is sized to the job, <= 32768
    assert EngineConfig(n_ctx=4096).context(50_000) == (4096, 4096)
    start, limit = EngineConfig().context(2000)
    assert start < MAX_CONTEXT and limit == MAX_CONTEXT
    assert EngineConfig().context(100_000) == (MAX_CONTEXT, MAX_CONTEXT)


def test_cli_ctx_and_gui_context_length_mean_the_same(qtbot, tmp_path, monkeypatch, settings_dir):
    """``--ctx 4096`` and Settings → "Context length: 4096" reach the backend factory alike."""
    from longhand.ui.settings import SettingsDialog
    from longhand.ui.window import MainWindow

    instruction = "Write a 400-word story about a lighthouse keeper."
    for ctx in (4096, 0):       # 0 / no --ctx: sized to the job
        # CLI: parse the real command line, run the real command on a recording factory
        argv = ["write", instruction, "--words", "400", "--seed", "3", "--temperature", "0.4", "-q",
                "--out", str(tmp_path / f"cli{ctx}.md")] + (["--ctx", str(ctx)] if ctx else [])
        args = build_parser().parse_args(argv)
        cli_config = cli_write.engine_config(args)
        cli_factory = Recorder()
        monkeypatch.setattr(session_mod, "open_backend", cli_factory)
        assert cli_write.write_cmd(args) == 0

        # GUI: the Settings dialog's widgets, then a Write in the main window
        dlg = SettingsDialog(EngineSettings())
        qtbot.addWidget(dlg)
        dlg.ctx.setValue(ctx)
        dlg.seed.setValue(3)
        dlg.temperature.setValue(0.4)
        gui_config = dlg.value().to_config()
        assert gui_config == cli_config

        gui_factory = Recorder()
        w = MainWindow(backend_factory=gui_factory)
        qtbot.addWidget(w)
        w.ask_unsaved = lambda: "discard"
        w.apply_settings(dlg.value())
        w.instruction.setPlainText(instruction)
        w.target.setValue(400)
        assert w.write()
        qtbot.waitUntil(lambda: not w.runner.busy, timeout=20_000)
        assert w.last_error is None
        assert len(cli_factory.calls) == len(gui_factory.calls) == 1
        assert cli_factory.calls[0] == gui_factory.calls[0]
        expected = (ctx, ctx) if ctx else (cli_config.context(400)[0], MAX_CONTEXT)
        assert (gui_factory.calls[0]["n_ctx"], gui_factory.calls[0]["max_ctx"]) == expected
        w.runner.close()


def test_session_plans_then_writes_and_resumes():
    factory = Recorder()
    job = Job("Write a 400-word story about a lighthouse keeper.", 400)
    events = []
    saved = []
    with JobRunner(EngineConfig(seed=5, temperature=0.3), backend_factory=factory) as s:
        stats = s.write(job, on_event=events.append, autosave=saved.append)
        assert s.writer().sampling.temperature == 0.3 and s.writer().sampling.seed == 5
    # (a chat model's text that ends short gets a part added at the end: PlanReady "top-up")
    planned = [e for e in events if isinstance(e, PlanReady) and e.how != "top-up"]
    assert len(planned) == 1 and job.sections == planned[0].sections      # planned first
    assert job.sections and all(sec.written for sec in job.sections)        # then written
    assert stats.words == job.words > 0
    assert saved == events                          # autosave sees every event, first
    # an interrupted section is continued, the written ones kept
    last = len(job.sections) - 1
    before = [sec.text for sec in job.sections[:last]]
    job.sections[last].text = " ".join(job.sections[last].text.split()[:20])
    job.sections[last].status = SectionStatus.WRITING
    events.clear()
    with JobRunner(backend_factory=factory) as s:
        s.write(job, on_event=events.append)
    assert [sec.text for sec in job.sections[:last]] == before
    done = [e for e in events if isinstance(e, SectionDone)]
    assert done[0].index == last and job.sections[last].written
    assert all(e.index > last for e in done[1:])                            # only added parts after it
    assert not any(isinstance(e, PlanReady) and e.how != "top-up" for e in events)   # no new plan
    assert len(factory.calls) == 2


def test_session_reopens_only_when_the_backend_key_changes():
    factory = Recorder()
    s = JobSession(EngineConfig(n_ctx=4096), backend_factory=factory)
    b1 = s.open(1000)
    assert s.open(5000) is b1                                   # target size does not reopen
    s.config = s.config.replace(temperature=0.9)                 # sampling: writer-level only
    assert s.open(1000) is b1 and s.matches(s.config)
    s.config = s.config.replace(n_ctx=8192)
    assert s.open(1000) is not b1 and len(factory.calls) == 2
    s.close()
    assert s.backend is None


def test_project_settings_round_trip_without_secrets():
    cfg = EngineConfig(model="longwriter-glm4-9b", format_name="longwriter-glm4", n_ctx=8192,
                       temperature=0.6, seed=11, api_key="sk-secret", n_threads=2)
    stored = cfg.to_project()
    assert "api_key" not in stored and "sk-secret" not in json.dumps(stored)
    assert stored == {"backend": "llama", "model": "longwriter-glm4-9b", "format_name": "longwriter-glm4",
                      "n_ctx": 8192, "temperature": 0.6, "seed": 11}
    again = EngineConfig(n_threads=2).with_project(stored)
    assert again.replace(api_key="sk-secret") == cfg
    # explicit choices win over what the project remembers; bad values are dropped
    assert EngineConfig(seed=1).with_project(stored, overridden={"seed"}).seed == 1
    assert EngineConfig().with_project({"n_ctx": "lots", "seed": "x", "backend": "gpu"}) == EngineConfig()
    gui = EngineSettings(threads=2).with_project(stored)
    assert gui.model_path == "longwriter-glm4-9b" and gui.n_ctx == 8192 and gui.seed == 11


@pytest.mark.parametrize("settings", [EngineSettings(), EngineSettings(n_ctx=4096, gpu_layers="12", threads=3,
                                                                      temperature=0.5, seed=9, format_name="completion")])
def test_gui_settings_store_round_trip(settings, tmp_path):
    qs = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.save(qs)
    assert EngineSettings.load(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)) == settings


def test_cli_project_remembers_engine_settings_and_resume_uses_them(tmp_path, monkeypatch):
    factory = Recorder()
    monkeypatch.setattr(session_mod, "open_backend", factory)
    path = tmp_path / "story.longhand"
    args = build_parser().parse_args(["write", "Write a 400-word story about a lighthouse keeper.", "--words", "400",
                                      "--project", str(path), "--ctx", "4096", "--seed", "5", "--temperature", "0.4",
                                      "--format", "completion", "--api-key", "sk-never-stored", "-q"])
    assert cli_write.write_cmd(args) == 0
    text = path.read_text()
    assert "sk-never-stored" not in text
    assert json.loads(text)["settings"] == {"backend": "llama", "format_name": "completion", "n_ctx": 4096,
                                            "temperature": 0.4, "seed": 5}
    # interrupt the last section, then resume with no options: the project's settings are used
    data = json.loads(text)
    data["sections"][-1].update(status="writing", text="The keeper climbed")
    path.write_text(json.dumps(data))
    resume = build_parser().parse_args(["write", "--project", str(path), "-q"])
    monkeypatch.setattr(JobSession, "writer", _spy_writer(seen := []))
    assert cli_write.write_cmd(resume) == 0
    assert (factory.calls[-1]["n_ctx"], factory.calls[-1]["max_ctx"], factory.calls[-1]["format_name"]) == \
        (4096, 4096, "completion")
    assert seen[-1] == (5, 0.4)
    # an option on the command line wins over what the project remembers
    data = json.loads(path.read_text())
    data["sections"][-1].update(status="writing", text="The keeper climbed")
    path.write_text(json.dumps(data))
    assert cli_write.write_cmd(build_parser().parse_args(["write", "--project", str(path), "--ctx", "8192",
                                                          "--seed", "9", "-q"])) == 0
    assert factory.calls[-1]["n_ctx"] == 8192 and seen[-1][0] == 9
    assert json.loads(path.read_text())["settings"]["n_ctx"] == 8192


def _spy_writer(seen: list):
    original = JobSession.writer

    def writer(self, cls=None):
        w = original(self, cls)
        seen.append((w.sampling.seed, w.sampling.temperature))
        return w
    return writer
