"""Core: the same engine tests on both backends (in-process llama.cpp, and an OpenAI-compatible
server: llama-cpp-python's own server on 127.0.0.1 with the demo model)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers import write_then_cancel
from longhand.core.engine.events import SectionDone, SectionToken
from longhand.core.engine.plan import DONE, WRITING, Section
from longhand.core.engine.writer import AgentWriter, Job
from longhand.core.text.wordcount import count_words, ends_sentence

SERVER_CTX = 4096


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(demo_model, tmp_path_factory):
    """``python -m llama_cpp.server`` serving the demo model; yields its base URL."""
    pytest.importorskip("uvicorn", reason="pip install 'llama-cpp-python[server]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(demo_model),
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(SERVER_CTX),
             "--n_threads", str(os.cpu_count() or 1), "--logits_all", "False", "--verbose", "False"],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("llama_cpp.server did not start:\n" + log.read_text(errors="replace")[-3000:])
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(params=["llama", "openai"])
def backend(request):
    if request.param == "llama":
        yield request.getfixturevalue("demo_backend")
        return
    from longhand.core.backends.remote import OpenAIBackend
    b = OpenAIBackend(request.getfixturevalue("llama_server"), n_ctx=SERVER_CTX)
    yield b
    b.close()


def test_backend_info(backend, demo_backend):
    info = backend.info
    assert info.prompt_style == "completion"         # the demo is a base model
    assert info.n_ctx >= SERVER_CTX
    # the same tokenizer on both sides: the server's tokenize endpoint is used, not an estimate
    text = "The lighthouse keeper climbed the ninety stairs, 灯塔."
    assert backend.count_tokens(text) == demo_backend.count_tokens(text) > 8


def test_plan_and_write_land_in_range(backend):
    instruction = "Write a 300-word story about a lighthouse keeper who finds a message in a bottle."
    writer = AgentWriter(backend, seed=7)
    sections = writer.plan(instruction, 300)
    assert sections and sum(s.target_words for s in sections) == 300
    job = Job(instruction, 300, sections)
    events = []
    stats = writer.write(job, on_event=events.append)
    # The engine's contract per section: it lands between LengthControl.short (80 %) and the
    # hard cap (112 %) of its target, at a full sentence, or the health check stopped a
    # failure and flagged it. When no sentence ends between allow_end (92 %) and the cap, a
    # shorter finished section beats one cut mid-sentence (seed 7 on the demo model: 88 of
    # 100 words on one machine, 90+ on another). Over llama-cpp-python's server (no DRY
    # sampler) the demo model loops and stalls at seed 7 (issue 14) and the engine recovers.
    low, cap = writer.length.short, writer.length.hard_cap
    for s in job.sections:
        assert s.status == DONE
        assert s.needs_attention or low * s.target_words <= s.words <= cap * s.target_words, \
            (s.words, s.target_words)
    healthy = [s for s in job.sections if not s.needs_attention]
    assert all(ends_sentence(s.text) for s in healthy)
    flagged = [e for e in events if isinstance(e, SectionDone) and e.needs_attention]
    # a flag is never silent: the health check cut something or the section ended short
    assert all(e.recoveries or e.words < low * e.target_words for e in flagged)
    if backend.info.name != "openai":
        # in process, with DRY, the demo model writes at least one section cleanly (over the
        # server, without DRY, it looped in both sections at seed 7 on one machine: both flagged)
        assert healthy
    if not any(s.needs_attention for s in job.sections):
        # what the user sees: the whole text on its target (in process, with DRY, within 10 %)
        assert (0.9 if backend.info.name != "openai" else low) * 300 <= job.words <= cap * 300
    # streamed pieces arrive as events, and the stats are filled from the backend
    assert sum(isinstance(e, SectionToken) for e in events) > 100
    assert [e.index for e in events if isinstance(e, SectionDone)] == list(range(len(sections)))
    assert stats.generated_tokens > 250 and stats.prompt_tokens > 0
    assert 0 < stats.prompt_tokens_evaluated <= stats.prompt_tokens


def test_cancel_keeps_text_and_stops(backend):
    writer = AgentWriter(backend, seed=5)
    job = Job("Write a long story about a river.", 1500, [Section("The river in spring", 1500)])
    streamed, _ = write_then_cancel(writer, job, pieces=20, wait_s=120, join_s=30)
    sec = job.sections[0]
    assert sec.status == WRITING                     # interrupted, so resumable
    assert count_words(sec.text) >= 10
    assert count_words(sec.text) < 1000
    assert "".join(streamed).strip()[:50] in sec.text


def test_interrupted_section_is_continued_not_restarted(backend):
    first = ("Mara had kept the light on Gull Rock for eleven years. Every evening she climbed the "
             "ninety steps, trimmed the wick and watched the beam sweep the grey water. Nothing ever "
             "came ashore but kelp and broken crates, until the morning of the storm.")
    partial = ("The bottle was green and heavy, wedged between two rocks below the landing. Inside, "
               "rolled tight and tied with red thread, was a letter.")
    job = Job("Write a story about a lighthouse keeper who finds a message in a bottle.", 190,
              [Section("Mara and her lonely lighthouse", 40, text=first, status=DONE),
               Section("She finds a bottle with a letter after the storm", 150, text=partial,
                       status=WRITING)])
    writer = AgentWriter(backend, seed=9)
    modes = []
    writer.write(job, on_event=lambda e: modes.append(getattr(e, "mode", None)))
    assert "continue" in modes
    sec = job.sections[1]
    assert sec.status == DONE
    assert sec.text.startswith(partial)             # continued, not restarted
    assert 0.92 * 150 <= sec.words <= 1.12 * 150, sec.words
    assert job.sections[0].text == first            # finished sections are kept
