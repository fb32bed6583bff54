"""Core: the llama.cpp backend's prompt cache on disk, on the real demo model: a new backend
that loads it evaluates only what it lacks and continues exactly as without it; a cache from
another context or model file, or one llama.cpp cannot read, is refused."""

from __future__ import annotations

import json
import logging
import os

import pytest

from longhand.core.backends import kvfile
from longhand.core.backends.base import Prompt, Sampling
from longhand.core.backends.llama import LlamaCppBackend
from longhand.core.engine.events import SectionDone
from longhand.core.engine.job import JobRunner
from longhand.core.engine.plan import Section
from longhand.core.engine.prompt_cache import cache_path
from longhand.core.engine.session import EngineConfig
from longhand.core.errors import CancelToken
from longhand.core.projects.project import Project

GREEDY = Sampling(temperature=0.0)
PROMPT = Prompt(user=["# The Lighthouse Keeper\n\n",
                      "Mara kept the light on Gull Rock for thirty years. Every evening she climbed the "
                      "hundred and twelve steps, trimmed the wick and wrote the weather in her log. " * 6,
                      "\n\n## The Bottle\n\n"])


def backend(model, n_ctx: int = 2048, max_ctx: int = 2048) -> LlamaCppBackend:
    return LlamaCppBackend(model, n_ctx=n_ctx, max_ctx=max_ctx, n_gpu_layers=0)


@pytest.fixture(scope="module")
def made(demo_model, tmp_path_factory):
    """A cache saved after evaluating PROMPT and generating 16 tokens greedily on a fresh
    backend (2048-token context): (path, prompt tokens, the continuation from scratch, the
    continuation that backend gives when asked again, from its own cache)."""
    path = tmp_path_factory.mktemp("cache") / "demo.kv"
    b = backend(demo_model)
    try:
        g = b.generate(PROMPT, max_tokens=16, sampling=GREEDY)
        assert g.prompt_tokens_evaluated == g.prompt_tokens        # from scratch
        assert len(b._cached) == g.prompt_tokens + g.generated_tokens
        assert b.save_cache(path)
        again = b.generate(PROMPT, max_tokens=16, sampling=GREEDY)
        assert again.prompt_tokens_evaluated <= 2
        # forgotten, the prompt is read whole again, and continues as from scratch
        b.forget_cache()
        fresh = b.generate(PROMPT, max_tokens=16, sampling=GREEDY)
        assert fresh.prompt_tokens_evaluated == g.prompt_tokens and fresh.text == g.text
    finally:
        b.close()
    return path, g.prompt_tokens, g.text, again.text


def test_a_new_backend_that_loads_the_cache_evaluates_almost_nothing_and_continues_the_same(demo_model, made):
    # "the same": as the backend that saved the cache continues from its own cache. (A prompt
    # evaluated from scratch, in batches, can differ from one taken from a cache in the last
    # bits of its floats, and a base model's greedy choice with them; prefix reuse within one
    # backend has always had that, the file adds nothing to it.)
    path, n_prompt, text, again = made
    meta = json.loads(kvfile.sidecar(path).read_text())
    assert meta["tokens"] > n_prompt                                # the prompt and what was generated
    assert path.stat().st_size == meta["bytes"] > 1000 * meta["tokens"]   # KV entries, about 18 KB a token
    b = backend(demo_model)
    try:
        assert b.load_cache(path) == meta["tokens"]
        g = b.generate(PROMPT, max_tokens=16, sampling=GREEDY)
        assert g.prompt_tokens_evaluated <= 2
        assert g.text == again                                      # as from the saving backend's cache
        # the continuation as the engine passes it back (the generated ids were saved with the
        # cache): still read from the cache
        more = b.generate(Prompt(user=PROMPT.user, answer=[text]), max_tokens=8, sampling=GREEDY)
        assert more.prompt_tokens_evaluated <= 2
    finally:
        b.close()


def test_text_written_before_the_reload_still_matches_the_cache_token_for_token(demo_model, tmp_path):
    # A model may write a text in other tokens than tokenizing it gives; the engine passes the
    # text back, and the backend reuses the ids it generated (_generated_memo). Those ids are
    # saved with the cache, or a reloaded backend would read the text again from where the
    # tokenizations part.
    text = " The keeper climbed the stairs and lit the lamp."
    a = backend(demo_model)
    try:
        odd = [t for ch in text for t in a.llm.tokenize(ch.encode(), add_bos=False, special=False)]
        assert len(odd) > len(a.llm.tokenize(text.encode(), add_bos=False, special=False)) + 5
        a._generated_memo[text] = odd                 # as if the model had written it so
        prompt = Prompt(user=PROMPT.user, answer=[text])
        a.generate(prompt, max_tokens=1, sampling=GREEDY)
        assert a._cached[-len(odd) - 1: -1] == odd
        assert a.save_cache(tmp_path / "odd.kv")
    finally:
        a.close()
    b = backend(demo_model)
    try:
        assert b.load_cache(tmp_path / "odd.kv") > 0
        assert b.generate(prompt, max_tokens=1, sampling=GREEDY).prompt_tokens_evaluated <= 2
    finally:
        b.close()


def test_the_cache_keeps_what_slid_out_of_the_window_so_a_prompt_may_part_from_it_early(demo_model, tmp_path):
    # Gemma 3 attends over a 512-token sliding window in most layers. A sequence's state
    # (llama_state_seq_*) leaves out the entries that slid out of it; a prompt that parts from
    # the cache before the last 512 tokens (an earlier scene edited) would then be evaluated
    # without them. The whole context's state keeps them.
    import llama_cpp
    story = " ".join(f"On day {i} the keeper logged {i % 7 + 2} ships, {i % 5} storms and a gull named "
                     f"{['Ash', 'Bell', 'Cole', 'Dune', 'Elm'][i % 5]}." for i in range(60))
    long_prompt = Prompt(user=["# The Log\n\n", story])
    edited = Prompt(user=["# The Log\n\n", story[:400] + " Then the lamp went out for good."])
    a = backend(demo_model)
    try:
        assert a.generate(long_prompt, max_tokens=1, sampling=GREEDY).prompt_tokens > 700
        assert a.save_cache(tmp_path / "long.kv")
        own = a.generate(edited, max_tokens=8, sampling=GREEDY)    # parts from the cache at ~100
    finally:
        a.close()
    b = backend(demo_model)
    try:
        assert b.load_cache(tmp_path / "long.kv") > 700
        assert llama_cpp.llama_memory_seq_pos_min(b.llm._ctx.memory, 0) == 0    # nothing slid out
        g = b.generate(edited, max_tokens=8, sampling=GREEDY)
        assert g.prompt_tokens_evaluated == own.prompt_tokens_evaluated < 50
        assert g.text == own.text
    finally:
        b.close()


def test_without_the_cache_the_same_prompt_is_evaluated_in_full(demo_model, made, tmp_path):
    # the control: the test above would pass trivially if a backend read nothing anyway
    path, n_prompt, _, _ = made
    b = backend(demo_model)
    try:
        assert b.load_cache(tmp_path / "none.kv") == 0
        assert b.generate(PROMPT, max_tokens=1, sampling=GREEDY).prompt_tokens_evaluated == n_prompt
    finally:
        b.close()


def test_a_cache_from_another_context_or_model_file_is_refused(demo_model, made, tmp_path, caplog):
    path, n_prompt, text, _ = made
    other_model = tmp_path / "other.gguf"
    os.link(demo_model, other_model)          # the same bytes at another path: another model file
    for b in (backend(demo_model, n_ctx=4096, max_ctx=4096), backend(other_model)):
        try:
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="longhand.core.backends.kvfile"):
                assert b.load_cache(path) == 0
            assert any("refused" in r.getMessage() for r in caplog.records)
            g = b.generate(PROMPT, max_tokens=16, sampling=GREEDY)
            assert g.prompt_tokens_evaluated == n_prompt and g.text == text     # works as new
        finally:
            b.close()


def test_a_cache_from_a_larger_context_is_loaded_after_growing_to_it_when_allowed(demo_model, made, tmp_path):
    path, n_prompt, _, _ = made
    b = backend(demo_model, n_ctx=2048, max_ctx=4096)
    try:
        b.generate(PROMPT, max_tokens=4, sampling=GREEDY)
        b.ensure_context(3000)                                      # grows to 4096, keeping its cache
        assert b.info.n_ctx == 4096
        assert b.generate(PROMPT, max_tokens=1, sampling=GREEDY).prompt_tokens_evaluated <= 2
        assert b.save_cache(tmp_path / "big.kv")
    finally:
        b.close()
    fixed = backend(demo_model, n_ctx=2048, max_ctx=2048)           # may not grow: refused
    try:
        assert fixed.load_cache(tmp_path / "big.kv") == 0 and fixed.info.n_ctx == 2048
    finally:
        fixed.close()
    growing = backend(demo_model, n_ctx=2048, max_ctx=8192)
    try:
        assert growing.load_cache(tmp_path / "big.kv") > n_prompt and growing.info.n_ctx == 4096
        assert growing.generate(PROMPT, max_tokens=1, sampling=GREEDY).prompt_tokens_evaluated <= 2
    finally:
        growing.close()


def test_a_state_llama_cpp_cannot_read_leaves_an_empty_cache_and_a_working_backend(demo_model, made, tmp_path):
    # past the file checks (its JSON rewritten to match), llama.cpp's own read fails: nothing
    # half restored may stay in the context
    path, n_prompt, text, _ = made
    bad = tmp_path / "bad.kv"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    meta = json.loads(kvfile.sidecar(path).read_text())
    size, crc = kvfile._digest(bad)
    kvfile.sidecar(bad).write_text(json.dumps({**meta, "bytes": size, "crc32": crc}))
    b = backend(demo_model)
    try:
        b.generate(Prompt(user=["Something else entirely."]), max_tokens=2, sampling=GREEDY)
        assert b.load_cache(bad) == 0
        assert b._cached == [] and b.llm.n_tokens == 0
        g = b.generate(PROMPT, max_tokens=16, sampling=GREEDY)
        assert g.prompt_tokens_evaluated == n_prompt and g.text == text
    finally:
        b.close()


def test_a_reopened_job_resumes_from_the_cache(demo_model, tmp_path):
    """The job path end to end: a job stopped after its first section saved the cache; the same
    project reopened on a new backend evaluates only the new part of its next prompt."""
    p = Project(instruction="Write a story about a lighthouse keeper who finds a bottle.", target_words=120,
                sections=[Section("Mara finds a bottle on the rocks", 60), Section("She reads the letter", 60)])
    p.save(tmp_path / "story.longhand")
    config = EngineConfig(model=str(demo_model), n_ctx=2048, n_gpu_layers=0, seed=1)
    cancel = CancelToken()

    def stop_after_first(e):
        if isinstance(e, SectionDone):
            cancel.cancel()

    with JobRunner() as jobs:
        jobs.start(p, config)
        jobs.write(p, on_event=stop_after_first, cancel=cancel)
    assert p.sections[0].written and not p.sections[1].written and cache_path(p.path).exists()
    with JobRunner() as jobs:
        jobs.start(p, config)
        restored = len(jobs.backend._cached)
        assert restored > 100
        calls: list = []
        jobs.backend.generate = _spy(jobs.backend.generate, calls)
        jobs.write(p, cancel=(stop := CancelToken()), on_event=lambda e: stop.cancel()
                   if isinstance(e, SectionDone) else None)
    # the second section's first prompt holds the first section's text: read from the cache
    # (without it, all of the prompt's 100+ tokens; see the test above)
    assert calls and calls[0].prompt_tokens > 100
    assert calls[0].prompt_tokens_evaluated <= 20


def _spy(generate, calls):
    def wrapped(*a, **kw):
        g = generate(*a, **kw)
        calls.append(g)
        return g
    return wrapped


def test_a_cache_does_not_depend_on_the_formats_sampling_defaults(demo_model):
    # a new Sampling field changed the format's repr, and every saved cache was refused as
    # "made with another format"; what lays the prompt out in tokens is what counts, not the
    # format's sampling defaults
    import dataclasses
    b = backend(demo_model)
    try:
        ident = b._cache_identity()
        b.format = dataclasses.replace(b.format, sampling=Sampling(temperature=0.9, dry_last_n=512))
        assert b._cache_identity() == ident
        b.format = dataclasses.replace(b.format, suffix=b.format.suffix + "\n")
        assert b._cache_identity()["format"] != ident["format"]
    finally:
        b.close()
