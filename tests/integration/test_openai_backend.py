"""Core: the OpenAI-compatible backend against servers that are down, slow, broken or scripted
(tests/openai_stub.py on 127.0.0.1). The real server is exercised in test_engine_backends."""

from __future__ import annotations

import json
import socket

import pytest

from longhand.core.backends.base import Prompt, Steer
from longhand.core.backends.remote import OpenAIBackend
from longhand.core.engine.plan import DONE, WRITING
from longhand.core.errors import BackendError, CancelToken
from openai_stub import SENTENCE, StubServer


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"        # nothing listens there any more


def test_server_down_gives_a_clear_error():
    with pytest.raises(BackendError, match="Cannot reach the server") as e:
        OpenAIBackend(_closed_port_url(), timeout=5, max_retries=0)
    assert "base URL" in str(e.value)


def test_bad_url_is_refused():
    with pytest.raises(BackendError, match="Not a server URL"):
        OpenAIBackend("localhost:8080")


def test_slow_server_times_out_with_a_clear_error():
    with StubServer("slow", delay=5) as stub:
        backend = OpenAIBackend(stub.url, timeout=1, max_retries=0)
        with pytest.raises(BackendError, match="did not answer within 1 s"):
            backend.generate(Prompt(user=["Once upon a time"]), max_tokens=10)
        backend.close()


def test_garbage_server_is_not_taken_for_an_api():
    with StubServer("garbage") as stub:
        with pytest.raises(BackendError, match="not .*OpenAI"):
            OpenAIBackend(stub.url, max_retries=0)


def test_rejected_api_key():
    with StubServer("auth") as stub:
        with pytest.raises(BackendError, match="rejected the API key.*401"):
            OpenAIBackend(stub.url, api_key="wrong", max_retries=0)


def test_broken_stream_raises_and_keeps_nothing_half_parsed():
    with StubServer("drop", drop_after=5) as stub:
        backend = OpenAIBackend(stub.url, max_retries=0)
        seen = []
        with pytest.raises(BackendError, match="not the OpenAI API|stream"):
            backend.generate(Prompt(user=["Hello"]), max_tokens=50, on_piece=seen.append)
        assert len(seen) == 5                   # the good pieces were delivered before the break


def test_streams_pieces_counts_tokens_and_stops_when_told():
    with StubServer("ok") as stub:
        backend = OpenAIBackend(stub.url)
        assert backend.info.model == "stub-model" and backend.info.device == "remote"
        assert backend.info.prompt_style == "completion"
        assert backend.count_tokens("one two three") == 3        # the server's tokenizer, minus BOS
        pieces = []

        def on_piece(p):
            pieces.append(p)
            return Steer(stop=len(pieces) == 7)

        g = backend.generate(Prompt(user=["Once"], answer=[" upon"]), max_tokens=100, on_piece=on_piece)
        assert g.finish == "stop" and g.generated_tokens == 7 and g.text == "".join(pieces)
        body = stub.completions()[0]
        assert body["prompt"] == "Once upon" and body["stream"] is True
        assert body["top_k"] == backend.default_sampling.top_k     # llama.cpp samplers passed on
        g = backend.generate(Prompt(user=["Once"]), max_tokens=12)
        assert g.finish == "length" and g.generated_tokens == 12
        assert g.prompt_tokens == 1 + 1 and g.prompt_tokens_evaluated == g.prompt_tokens


def test_early_end_is_continued_with_end_of_text_banned():
    # The model ends after 4 pieces; the engine says "too short", so the backend must go on
    # in a second request that appends the text so far and bans <eos> (id 1) with logit_bias.
    with StubServer("early_end", end_after=4) as stub:
        backend = OpenAIBackend(stub.url)
        g = backend.generate(Prompt(user=["Story:"]), max_tokens=20,
                             on_piece=lambda p: Steer(allow_end=False))
        first, second = stub.completions()
        assert "logit_bias" not in first
        assert second["logit_bias"] == {"1": -100}
        assert second["prompt"] == "Story:" + "".join(SENTENCE.replace(" ", "\0 ").split("\0")[1:5])
        assert g.generated_tokens == 20 and g.finish == "length"
        # when the end is allowed, the model's end is final
        g = backend.generate(Prompt(user=["Story:"]), max_tokens=20, on_piece=lambda p: Steer())
        assert g.finish == "end" and g.generated_tokens == 4 and len(stub.completions()) == 3


def test_cancel_between_chunks():
    with StubServer("ok") as stub:
        backend = OpenAIBackend(stub.url)
        cancel = CancelToken()
        pieces = []

        def on_piece(p):
            pieces.append(p)
            if len(pieces) == 3:
                cancel.cancel()

        g = backend.generate(Prompt(user=["Go"]), max_tokens=500, on_piece=on_piece, cancel=cancel)
        assert g.finish == "cancelled" and len(pieces) == 3 and g.text == "".join(pieces)


def test_cli_job_on_a_failing_server_is_resumable(tmp_path, capsys):
    from longhand.cli import main
    from longhand.core.projects.project import Project
    project = tmp_path / "story.longhand"
    # 400 words: a two-section plan (plans are merged so none is under 150 words)
    # the request shares its subject with the stub's plan (a plan about something else is re-asked)
    args = ["write", "Write a 400-word story about Mara, who finds a bottle and sets out to sea.", "--words", "400",
            "--backend", "openai", "--project", str(project), "--json", "--quiet"]
    with StubServer("drop", drop_after=6) as stub:
        code = main(args + ["--base-url", stub.url])
    err = capsys.readouterr().err
    assert code != 0 and "longhand: error:" in err and stub.url in err
    assert "Traceback" not in err
    saved = Project.load(project)
    assert len(saved.sections) == 2                            # the plan survived
    assert saved.sections[0].status == WRITING and saved.sections[0].text.strip()
    partial = saved.sections[0].text.strip()

    with StubServer("ok") as stub:                             # the server is back
        code = main(args + ["--base-url", stub.url])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "resuming" in out.err
    done = Project.load(project)
    assert [s.status for s in done.sections] == [DONE, DONE]
    assert done.sections[0].text.startswith(partial)           # continued, not restarted
    assert json.loads(out.out)["backend"] == "openai"


def test_recoveries_reach_the_server_with_changed_sampling():
    """The stub writes one sentence over and over: the health check stops the loop and each
    recovery asks the server again with another seed, a lower temperature and a stronger DRY
    penalty, in the fields llama.cpp's server reads (DRY's window is dry_penalty_last_n)."""
    from longhand.core.engine.plan import Section
    from longhand.core.engine.writer import AgentWriter, Job
    with StubServer("ok") as stub:
        backend = OpenAIBackend(stub.url, n_ctx=8192)
        w = AgentWriter(backend, seed=11, memory=False)
        job = Job("Write a story about a lighthouse keeper and the sea.", 300,
                  [Section("The keeper walks along the stones by the sea", 300)])
        w.write(job)
        backend.close()
    bodies = [b for b in stub.completions() if "Main Point:" not in b.get("prompt", "")[-40:]]
    seeds = [b["seed"] for b in bodies]
    temps = [b["temperature"] for b in bodies]
    assert len(set(seeds)) == len(bodies) == w.length.max_recoveries + 1, seeds
    assert temps == sorted(temps, reverse=True) and temps[-1] < temps[0]
    assert bodies[0]["dry_penalty_last_n"] == w.sampling.dry_last_n
    assert bodies[-1]["dry_multiplier"] > bodies[0]["dry_multiplier"]
    assert job.sections[0].needs_attention and job.sections[0].status == DONE
