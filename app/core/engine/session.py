"""Core: the engine a job runs on, for the CLI, the GUI and batch.

:class:`EngineConfig` says which engine to run (model, backend, context, threads, GPU layers,
sampling overrides, prompt format) and holds the rule for what a project remembers of it.
:class:`JobSession` opens that backend through a factory (``backends.factory.open_backend``
unless a test passes its own), or works on a backend someone else owns (a batch server's),
builds the :class:`~.writer.AgentWriter` and wires autosave in front of the caller's event
sink. A session keeps its backend open between jobs and reopens it only when a setting that
shapes the loaded model changes (the GUI runs many jobs on one loaded model). The jobs
themselves are run by :class:`~.job.JobRunner`, a session that knows every kind of job.

**The context setting has one meaning.** An explicit context (``--ctx N``, or "Context
length" in Settings) bounds the context for the whole job: longer books carry their earlier
sections as summaries. Without one, the context is sized to the job and grows with it, at
most :data:`~..backends.base.MAX_CONTEXT` tokens.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping, TypeVar, cast

from ..backends.base import MAX_CONTEXT, Backend, BackendInfo
from ..backends.factory import context_for_target, open_backend
from ..errors import CancelToken
from .events import EventSink, JobStats
from .writer import AgentWriter, Job

# open_backend's signature: (model, *, backend, n_ctx, max_ctx, n_gpu_layers, n_threads,
# format_name, base_url, api_key, remote_model) -> Backend
BackendFactory = Callable[..., Backend]

W = TypeVar("W", bound=AgentWriter)
S = TypeVar("S", bound="JobSession")

# What a project remembers of the engine it was written with (never secrets).
PROJECT_KEYS = ("model", "backend", "base_url", "remote_model", "format_name", "n_ctx",
                "temperature", "seed")


@dataclass(frozen=True)
class EngineConfig:
    """Which engine a job runs on. ``None`` means "the default" everywhere."""

    model: str | None = None              # a GGUF path or an installed model's id
    backend: str = "llama"                # "llama" (in-process) or "openai" (a server)
    base_url: str | None = None           # openai: e.g. http://127.0.0.1:8080/v1
    remote_model: str | None = None       # openai: the server's model name
    api_key: str | None = field(default=None, repr=False)
    format_name: str | None = None        # prompt format; None: from the GGUF / the server
    n_ctx: int | None = None              # None: sized to the job; else the bound for the job
    n_threads: int | None = None          # None: all cores
    n_gpu_layers: int | str = "auto"
    temperature: float | None = None      # None: the model family's default
    seed: int | None = None               # None: random

    def context(self, target_words: int) -> tuple[int, int]:
        """(starting context, largest context) for a job of ``target_words`` words."""
        if self.n_ctx:
            return self.n_ctx, self.n_ctx
        return context_for_target(target_words), MAX_CONTEXT

    def backend_key(self) -> tuple:
        """What shapes the loaded backend: a different key means it is reopened."""
        return (self.model, self.backend, self.base_url, self.remote_model, self.api_key,
                self.format_name, self.n_ctx, self.n_threads, self.n_gpu_layers)

    def open_kwargs(self, target_words: int) -> dict[str, Any]:
        """The keyword arguments for the backend factory, for a job of ``target_words``."""
        n_ctx, max_ctx = self.context(target_words)
        return {"model": self.model, "backend": self.backend, "n_ctx": n_ctx, "max_ctx": max_ctx,
                "n_gpu_layers": self.n_gpu_layers, "n_threads": self.n_threads,
                "format_name": self.format_name, "base_url": self.base_url,
                "api_key": self.api_key, "remote_model": self.remote_model}

    def replace(self, **changes: Any) -> "EngineConfig":
        return dataclasses.replace(self, **changes)

    def display_name(self) -> str:
        """What is being loaded, for a status line."""
        if self.backend == "openai":
            return self.base_url or "remote server"
        return self.model or os.environ.get("LONGHAND_MODEL") or "default model"

    # -- what a project remembers ------------------------------------------------------------

    def to_project(self, info: BackendInfo | None = None) -> dict[str, Any]:
        """The settings a project keeps: model id, prompt format, context, sampling, seed.

        ``info`` (the loaded backend) fills in the prompt format the default resolved to.
        The API key is never included.
        """
        out: dict[str, Any] = {"backend": self.backend}
        for key, value in (("model", self.model), ("base_url", self.base_url),
                           ("remote_model", self.remote_model),
                           ("format_name", self.format_name or (info.format_name if info else None)),
                           ("n_ctx", self.n_ctx), ("temperature", self.temperature), ("seed", self.seed)):
            if value not in (None, ""):
                out[key] = value
        return out

    @classmethod
    def from_project(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The fields a project's ``settings`` table sets, checked (bad values are dropped)."""
        kinds: dict[str, Callable[[Any], Any]] = {
            "model": str, "backend": str, "base_url": str, "remote_model": str, "format_name": str,
            "n_ctx": int, "temperature": float, "seed": int}
        out: dict[str, Any] = {}
        for key in PROJECT_KEYS:
            if key not in settings or settings[key] in (None, ""):
                continue
            try:
                out[key] = kinds[key](settings[key])
            except (TypeError, ValueError):
                continue
        if out.get("backend") not in (None, "llama", "openai"):
            out.pop("backend")
        if out.get("n_ctx") is not None and out["n_ctx"] <= 0:
            out.pop("n_ctx")
        return out

    def with_project(self, settings: Mapping[str, Any], overridden: Collection[str] = ()) -> "EngineConfig":
        """The engine for a project: **explicit > remembered > default**, field by field.

        ``self`` holds the explicit choices (the ``overridden`` fields) and the defaults (the
        others); a project's remembered setting replaces a default, never an explicit choice.
        """
        remembered = {k: v for k, v in self.from_project(settings).items() if k not in set(overridden)}
        return self.replace(**remembered) if remembered else self

    def remembered_in(self, settings: Mapping[str, Any], info: BackendInfo | None = None) -> dict[str, Any]:
        """A project's ``settings`` after a job on this engine: its engine keys are this
        config's (:meth:`to_project`; a key this config leaves at its default is dropped), its
        other keys (e.g. a batch job's ``batch``) are kept."""
        kept = {k: v for k, v in settings.items() if k not in PROJECT_KEYS}
        return {**kept, **self.to_project(info)}


def plan_then_write(writer: AgentWriter, job: Job, *, on_event: EventSink | None = None,
                    cancel: CancelToken | None = None) -> JobStats:
    """Plan when the job has no outline, then write what is not written yet.

    An interrupted section (status "writing" with text) is continued: running the same job
    again resumes it. ``stats.seconds`` covers planning and writing.
    """
    t0 = time.perf_counter()
    if not job.sections:
        job.sections = writer.plan(job.instruction, job.target_words, on_event=on_event, cancel=cancel)
    stats = writer.write(job, on_event=on_event, cancel=cancel)
    stats.seconds = time.perf_counter() - t0
    return stats


class JobSession:
    """Opens the backend a config asks for and builds writers on it.

    ``backend``: work on that backend, which its owner opened and closes (a batch server's);
    the session never reopens or closes it. Not thread-safe: one job at a time (the GUI runs
    it on its one worker thread).
    """

    def __init__(self, config: EngineConfig | None = None, *,
                 backend_factory: BackendFactory | None = None, backend: Backend | None = None) -> None:
        self.config = config or EngineConfig()
        self.backend_factory: BackendFactory = backend_factory or open_backend
        self._backend: Backend | None = backend
        self._key: tuple | None = None
        self._owned = backend is None

    # -- the backend ------------------------------------------------------------------------

    @property
    def backend(self) -> Backend | None:
        return self._backend

    @property
    def info(self) -> BackendInfo | None:
        return self._backend.info if self._backend is not None else None

    def matches(self, config: EngineConfig) -> bool:
        """True when the open backend is the one ``config`` asks for."""
        return self._backend is not None and self._key == config.backend_key()

    def open(self, target_words: int, *, on_loading: Callable[[str], None] | None = None,
             on_loaded: Callable[[BackendInfo], None] | None = None) -> Backend:
        """The backend for this config (opened now unless the open one already matches)."""
        key = self.config.backend_key()
        if self._backend is not None and (key == self._key or not self._owned):
            return self._backend
        self.close()
        if on_loading is not None:
            on_loading(self.config.display_name())
        backend = self.backend_factory(**self.config.open_kwargs(target_words))
        self._backend, self._key = backend, key
        if on_loaded is not None:
            on_loaded(backend.info)
        return backend

    def close(self) -> None:
        if self._backend is not None:
            backend, self._backend, self._key = self._backend, None, None
            if self._owned:
                backend.close()

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- jobs -------------------------------------------------------------------------------

    def writer(self, cls: type[W] | None = None) -> W:
        """A writer (``AgentWriter`` or a subclass) on the open backend, with the config's seed
        and temperature."""
        if self._backend is None:
            raise RuntimeError("open() the session first")
        writer_cls: type[AgentWriter] = cls or AgentWriter
        writer = writer_cls(self._backend, seed=self.config.seed)
        if self.config.temperature is not None:
            writer.sampling.temperature = self.config.temperature
        return cast(W, writer)

    @staticmethod
    def sink(on_event: EventSink | None = None, autosave: EventSink | None = None) -> Callable[[Any], None]:
        """One event sink: the autosaver sees each event first, then the caller."""
        def emit(e: Any) -> None:
            if autosave is not None:
                autosave(e)          # a failed save is reported by the autosaver, never raised
            if on_event is not None:
                on_event(e)
        return emit
