"""Core: the prompt-cache file's checks (backends.kvfile) and how the job path keeps a project's
cache (engine.prompt_cache, JobRunner), on a scripted backend. The real llama.cpp cache is
tested in tests/integration/test_prompt_cache_demo.py."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from fakes import ScriptedBackend
from longhand.core.backends import kvfile
from longhand.core.backends.base import Backend
from longhand.core.backends.remote import OpenAIBackend
from longhand.core.engine.events import SectionDone
from longhand.core.engine.job import JobRunner
from longhand.core.engine.plan import Section
from longhand.core.engine.prompt_cache import PromptCache, cache_path
from longhand.core.engine.session import EngineConfig
from longhand.core.errors import BackendError, CancelToken
from longhand.core.paths import prompt_cache_dir
from longhand.core.projects.project import Project

IDENTITY = {"model": {"path": "/models/demo.gguf", "bytes": 253_000_000, "mtime_ns": 17},
            "n_ctx": 4096, "kv": {"type_k": 1, "type_v": 1, "flash_attn": 0, "swa_full": True},
            "format": {"name": "completion", "sha": "ab12"}, "llama_cpp": "0.3.36"}
TOKENS = list(range(300))
STATE = bytes(range(256)) * 40


def write_state(data: bytes = STATE):
    def write(tmp: Path) -> bool:
        tmp.write_bytes(data)
        return True
    return write


class Reader:
    """``read_state``: what llama.cpp would restore (the tokens), counting its calls."""

    def __init__(self, tokens: list[int] | None = TOKENS) -> None:
        self.tokens = tokens
        self.calls = 0

    def __call__(self, path: Path) -> list[int] | None:
        self.calls += 1
        return None if self.tokens is None else list(self.tokens)


@pytest.fixture
def saved(tmp_path) -> Path:
    path = tmp_path / "cache" / "p.kv"
    assert kvfile.save(path, IDENTITY, write_state(), tokens=len(TOKENS), extra={"generated": []})
    return path


def refused(path: Path, caplog, identity=IDENTITY, reader: Reader | None = None) -> str:
    """Load must give None and say why in one log line; returns that line."""
    reader = reader or Reader()
    with caplog.at_level(logging.INFO, logger="longhand.core.backends.kvfile"):
        assert kvfile.load(path, identity, reader) is None
    lines = [r.getMessage() for r in caplog.records if r.name == "longhand.core.backends.kvfile"]
    assert len(lines) == 1, lines
    return lines[0]


# -- the file's checks -------------------------------------------------------------------------

def test_a_saved_cache_loads_with_the_same_identity(saved):
    reader = Reader()
    tokens, meta = kvfile.load(saved, IDENTITY, reader)
    assert tokens == TOKENS and reader.calls == 1
    assert meta["tokens"] == len(TOKENS) and meta["bytes"] == len(STATE) and meta["generated"] == []
    assert not list(saved.parent.glob(".*.tmp"))             # the temp file was renamed


@pytest.mark.parametrize("change", [
    {"n_ctx": 8192},
    {"model": {**IDENTITY["model"], "path": "/models/other.gguf"}},
    {"model": {**IDENTITY["model"], "mtime_ns": 18}},        # the file was replaced (a new download)
    {"kv": {**IDENTITY["kv"], "type_k": 8}},                  # another KV cache type (q8_0)
    {"format": {"name": "chatml", "sha": "cd34"}},
    {"llama_cpp": "0.4.0"},
])
def test_a_cache_made_by_another_model_context_or_format_is_refused_before_llama_cpp_reads_it(
        saved, caplog, change):
    reader = Reader()
    line = refused(saved, caplog, {**IDENTITY, **change}, reader)
    assert "refused" in line and next(iter(change)) in line
    assert reader.calls == 0                                  # nothing was fed to the model


def test_a_missing_cache_is_none_with_a_log_line(tmp_path, caplog):
    assert "no prompt cache" in refused(tmp_path / "nothing.kv", caplog)


def test_a_truncated_state_is_refused(saved, caplog):
    saved.write_bytes(STATE[: len(STATE) // 2])
    reader = Reader()
    assert "truncated" in refused(saved, caplog, reader=reader)
    assert reader.calls == 0


def test_a_damaged_state_of_the_right_size_is_refused(saved, caplog):
    data = bytearray(STATE)
    data[1234] ^= 0xFF
    saved.write_bytes(bytes(data))
    assert "damaged" in refused(saved, caplog)


def test_a_state_that_does_not_go_with_its_json_is_refused(saved, caplog):
    # a crash between the two renames: the new state beside the old JSON
    saved.write_bytes(STATE[::-1])
    assert "damaged" in refused(saved, caplog)


@pytest.mark.parametrize("json_text", ["", "{not json", "[]", json.dumps({"version": 99, "identity": IDENTITY})])
def test_an_unreadable_or_foreign_json_is_refused(saved, caplog, json_text):
    kvfile.sidecar(saved).write_text(json_text)
    assert "JSON" in refused(saved, caplog)


def test_a_state_without_its_json_is_refused(saved, caplog):
    kvfile.sidecar(saved).unlink()
    assert "JSON" in refused(saved, caplog)


def test_a_state_llama_cpp_refuses_or_that_holds_other_tokens_is_refused(saved, caplog):
    assert "llama.cpp" in refused(saved, caplog, reader=Reader(None))
    caplog.clear()
    assert "tokens" in refused(saved, caplog, reader=Reader(TOKENS[:-1]))


def test_a_failed_save_returns_false_logs_and_keeps_the_previous_cache(saved, caplog):
    with caplog.at_level(logging.WARNING, logger="longhand.core.backends.kvfile"):
        assert not kvfile.save(saved, IDENTITY, lambda tmp: False, tokens=1)

        def disk_full(tmp: Path) -> bool:
            tmp.write_bytes(b"half")
            raise OSError(28, "No space left on device")
        assert not kvfile.save(saved, IDENTITY, disk_full, tokens=1)
        blocked = saved.parent / "a-file"
        blocked.write_text("")
        assert not kvfile.save(blocked / "p.kv", IDENTITY, write_state(), tokens=1)   # no such folder
    assert len(caplog.records) == 3 and all("not saved" in r.getMessage() for r in caplog.records)
    assert kvfile.load(saved, IDENTITY, Reader())[0] == TOKENS      # the previous cache still loads
    assert not list(saved.parent.glob(".*.tmp"))


def test_prune_keeps_the_most_recently_used_caches(tmp_path):
    import os
    for i in range(5):
        kvfile.save(tmp_path / f"{i}.kv", IDENTITY, write_state(), tokens=len(TOKENS))
        os.utime(tmp_path / f"{i}.kv", (1000 + i, 1000 + i))
        os.utime(kvfile.sidecar(tmp_path / f"{i}.kv"), (1000 + i, 1000 + i))
    kvfile.load(tmp_path / "0.kv", IDENTITY, Reader())             # loading counts as a use
    gone = kvfile.prune(tmp_path, keep=3)
    assert sorted(p.name for p in gone) == ["1.kv", "2.kv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.kv", "0.kv.json", "3.kv", "3.kv.json",
                                                          "4.kv", "4.kv.json"]


# -- backends without a cache ------------------------------------------------------------------

def test_backends_without_a_cache_answer_no_op(tmp_path):
    assert OpenAIBackend.save_cache is Backend.save_cache and OpenAIBackend.load_cache is Backend.load_cache
    backend = ScriptedBackend()
    assert backend.save_cache(tmp_path / "x.kv") is False and backend.load_cache(tmp_path / "x.kv") == 0
    assert not (tmp_path / "x.kv").exists()


# -- the job path --------------------------------------------------------------------------------

class CacheSpy(ScriptedBackend):
    """A scripted backend with a cache file: its "KV cache" is a count of the tokens it has
    seen, saved and loaded through kvfile like the llama.cpp backend's."""

    IDENTITY = {"model": "scripted"}

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.tokens = 0
        self.saves: list[Path] = []
        self.loads: list[Path] = []
        self.fail_after: int | None = None

    def generate(self, prompt, **kw):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise BackendError("llama.cpp failed to evaluate the prompt")
        g = super().generate(prompt, **kw)
        self.tokens += g.generated_tokens
        return g

    def save_cache(self, path) -> bool:
        self.saves.append(Path(path))
        return kvfile.save(path, self.IDENTITY, write_state(b"1 " * self.tokens), tokens=self.tokens)

    def load_cache(self, path) -> int:
        self.loads.append(Path(path))
        got = kvfile.load(path, self.IDENTITY, lambda p: [1] * (len(p.read_bytes()) // 2))
        self.tokens = len(got[0]) if got else 0
        return self.tokens


class Backends:
    def __init__(self) -> None:
        self.opened: list[CacheSpy] = []

    def __call__(self, **kw) -> CacheSpy:
        self.opened.append(CacheSpy())
        return self.opened[-1]


def project(tmp_path, sections: int = 3) -> Project:
    p = Project(instruction="Write a story about a lighthouse keeper.", target_words=60 * sections,
                sections=[Section(f"Step {i}", 60) for i in range(sections)])
    p.save(tmp_path / "story.longhand")
    return p


def stop_after_sections(n: int, cancel: CancelToken):
    done = []

    def on_event(e):
        if isinstance(e, SectionDone):
            done.append(e.index)
            if len(done) >= n:
                cancel.cancel()
    return on_event


def test_the_cache_lives_in_the_cache_dir_keyed_by_the_project_path(tmp_path, monkeypatch):
    monkeypatch.setenv("LONGHAND_CACHE_DIR", str(tmp_path / "c"))
    a = cache_path(tmp_path / "a.longhand")
    assert a.parent == prompt_cache_dir() == tmp_path / "c" / "prompt-cache"
    assert a == cache_path(tmp_path / "x" / ".." / "a.longhand") != cache_path(tmp_path / "b.longhand")


def test_a_stopped_job_saves_the_cache_and_a_reopened_job_loads_it_once(tmp_path):
    p = project(tmp_path)
    backends = Backends()
    cancel = CancelToken()
    with JobRunner(backend_factory=backends) as jobs:
        jobs.start(p, EngineConfig())
        jobs.write(p, on_event=stop_after_sections(1, cancel), cancel=cancel)
    first = backends.opened[0]
    path = cache_path(p.path)
    assert first.loads == [path]                       # nothing there yet: loaded 0
    assert first.saves == [path] and path.exists()     # saved when the job stopped
    saved_tokens = first.tokens
    assert saved_tokens > 0
    # reopened: a new backend loads it, once, though start() and write() both ask
    with JobRunner(backend_factory=backends) as jobs:
        jobs.start(p, EngineConfig())
        assert backends.opened[1].tokens == saved_tokens
        jobs.write(p, on_event=stop_after_sections(1, cancel := CancelToken()), cancel=cancel)
        jobs.write_section(p, 1, mode="extend")
    second = backends.opened[1]
    assert second.loads == [path]
    assert second.saves == [path, path]                # each write stopped once


def test_a_job_that_fails_still_saves_the_cache(tmp_path):
    p = project(tmp_path)
    backends = Backends()
    with JobRunner(backend_factory=backends) as jobs:
        jobs.start(p, EngineConfig())
        backends.opened[0].fail_after = 1
        with pytest.raises(BackendError):
            jobs.write(p)
    assert backends.opened[0].saves == [cache_path(p.path)] and cache_path(p.path).exists()


def test_a_finished_job_deletes_its_cache(tmp_path):
    p = project(tmp_path, sections=2)
    backends = Backends()
    cancel = CancelToken()
    with JobRunner(backend_factory=backends) as jobs:
        jobs.write(p, on_event=stop_after_sections(1, cancel), cancel=cancel)
        assert cache_path(p.path).exists()
        jobs.write(p)                                  # writes the rest: nothing left to write
    assert all(s.written for s in p.sections)
    assert not cache_path(p.path).exists() and not kvfile.sidecar(cache_path(p.path)).exists()


def test_a_job_without_a_project_file_keeps_no_cache(tmp_path):
    p = Project(instruction="Write a story about a fox.", target_words=120,
                sections=[Section("One", 60), Section("Two", 60)])
    backends = Backends()
    with JobRunner(backend_factory=backends) as jobs:
        jobs.write(p, on_event=stop_after_sections(1, cancel := CancelToken()), cancel=cancel)
    assert backends.opened[0].loads == [] and backends.opened[0].saves == []
    assert not prompt_cache_dir().exists()


def test_another_project_on_the_same_backend_loads_its_own_cache(tmp_path):
    a = project(tmp_path)
    b = Project(instruction="Write a story about a fox.", target_words=120,
                sections=[Section("One", 60), Section("Two", 60)])
    b.save(tmp_path / "fox.longhand")
    backends = Backends()
    with JobRunner(backend_factory=backends) as jobs:
        for p in (a, b, a):
            jobs.start(p, EngineConfig(format_name="chat"))     # the engine each remembers: one backend
            jobs.write(p, on_event=stop_after_sections(1, cancel := CancelToken()), cancel=cancel)
    assert len(backends.opened) == 1
    assert backends.opened[0].loads == [cache_path(a.path), cache_path(b.path), cache_path(a.path)]


def test_sections_save_the_cache_at_most_every_interval(tmp_path):
    spy = CacheSpy()
    spy.tokens = 10
    cache = PromptCache(spy, tmp_path / "p.longhand", interval=120)
    done = SectionDone(0, "text", 1, 1, 5, 0.5)
    cache(done)
    assert spy.saves == []                             # the job has just started
    cache._last -= 121                                 # two minutes later
    cache(done)
    cache(done)
    assert len(spy.saves) == 1                         # once, then not before another interval
    cache._last -= 121
    cache(object())                                    # only a finished section saves
    assert len(spy.saves) == 1
    cache(done)
    assert len(spy.saves) == 2


def test_a_slow_save_spaces_the_next_ones_out(tmp_path):
    spy = CacheSpy()
    spy.tokens = 10
    cache = PromptCache(spy, tmp_path / "p.longhand", interval=0)
    cache.save()
    cache.save_seconds = 10.0                          # a 10 s save (a very large cache)
    assert not cache.due()                             # not again within 20 x 10 s


def test_a_cache_that_cannot_be_written_never_stops_the_job(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("LONGHAND_CACHE_DIR", str(blocked))     # the cache dir cannot be created
    p = project(tmp_path)
    backends = Backends()
    with JobRunner(backend_factory=backends) as jobs:
        jobs.write(p, on_event=stop_after_sections(1, cancel := CancelToken()), cancel=cancel)
    assert backends.opened[0].saves and p.sections[0].written


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("LONGHAND_PROMPT_CACHE", "0")
    p = project(tmp_path)
    backends = Backends()
    with JobRunner(backend_factory=backends) as jobs:
        jobs.start(p, EngineConfig())
        jobs.write(p, on_event=stop_after_sections(1, cancel := CancelToken()), cancel=cancel)
    assert backends.opened[0].loads == [] and backends.opened[0].saves == []
