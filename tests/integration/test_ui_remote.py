"""GUI: the remote (OpenAI-compatible) backend in the Settings dialog and the engine runner."""

from __future__ import annotations

from longhand.core.engine.settings import EngineSettings
from longhand.core.projects.project import Project
from longhand.ui.runner import EngineRunner
from openai_stub import StubServer


def test_runner_plans_on_a_remote_server(qtbot, settings_dir):
    runner = EngineRunner()
    with StubServer("ok") as stub:
        settings = EngineSettings(backend="openai", base_url=stub.url, n_ctx=4096)
        # the stub answers a plan that misses the subject: the engine re-asks, then falls back
        project = Project(instruction="Write a 400-word story about a lighthouse keeper.", target_words=400)

        def work(jobs, emit, cancel):
            return jobs.plan(project, on_event=emit, cancel=cancel)

        with qtbot.waitSignal(runner.finished, timeout=30_000) as done:
            runner.start("plan", work, settings, project)
        out = done.args[0]
        assert out.error is None, out.error
        assert out.result and sum(s.target_words for s in out.result) == 400   # a plan for the job
        assert runner.info.name == "openai" and runner.info.model == "stub-model"
        assert runner.matches(settings)
        runner.close()


def test_runner_reports_a_down_server_in_plain_words(qtbot, settings_dir):
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    runner = EngineRunner()
    project = Project(instruction="Write a story.", target_words=120)
    with qtbot.waitSignal(runner.finished, timeout=60_000) as done:
        runner.start("plan", lambda jobs, e, c: jobs.plan(project), EngineSettings(
            backend="openai", base_url=url), project)
    assert "Cannot reach the server" in done.args[0].error
    runner.close()
