"""GUI: runs engine jobs (load the model, plan, write) off the GUI thread.

One job at a time runs in a one-thread pool. A job's only work is a call into the engine;
the engine's events travel back to the GUI as Qt signals carrying the event objects, in
order. The loaded model is kept between jobs and reopened only when the settings that
shape it change. Every job can be cancelled through its :class:`CancelToken`; loading a
model cannot be interrupted inside llama.cpp, so a cancelled load is kept for next time
and the job ends as soon as it returns.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

from ..core.backends.base import Backend, BackendInfo, CancelToken, LonghandError
from ..core.backends.factory import context_for_target, open_backend
from ..core.engine.writer import AgentWriter
from ..core.projects.autosave import Autosave
from ..core.projects.project import Project
from .settings import EngineSettings

log = logging.getLogger(__name__)

# work(writer, emit, cancel) -> result; runs on the worker thread
Work = Callable[[AgentWriter, Callable[[Any], None], CancelToken], Any]


@dataclass
class JobResult:
    kind: str
    result: Any = None
    error: str | None = None
    cancelled: bool = False
    seconds: float = 0.0


def plain_error(e: BaseException) -> str:
    """What to tell the user about an exception, in plain words."""
    if isinstance(e, LonghandError):
        return str(e)
    text = str(e)
    if isinstance(e, MemoryError) or "out of memory" in text.lower() or "failed to allocate" in text.lower():
        return ("Out of memory. Try a smaller model, a shorter context length or fewer GPU "
                "layers (Settings).")
    return f"Something went wrong ({type(e).__name__}: {text}). Your text is kept."


class _Signals(QObject):
    event = Signal(object)        # engine events, in order
    loading = Signal(str)         # model being loaded (file name)
    loaded = Signal(object)       # BackendInfo
    finished = Signal(object)     # JobResult


class _Job(QRunnable):
    def __init__(self, runner: "EngineRunner", kind: str, work: Work, settings: EngineSettings,
                 project: Project, cancel: CancelToken, autosave: Autosave | None) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.runner = runner
        self.kind = kind
        self.work = work
        self.settings = settings
        self.project = project
        self.cancel = cancel
        self.autosave = autosave
        self.signals = runner._signals

    def run(self) -> None:  # worker thread
        t0 = time.perf_counter()
        out = JobResult(self.kind)
        try:
            backend = self.runner._ensure_backend(self.settings, self.project.target_words, self.signals)
            if self.cancel.cancelled:
                out.cancelled = True
            else:
                writer = AgentWriter(backend, seed=self.settings.seed if self.settings.seed >= 0 else None)
                if self.settings.temperature >= 0:
                    writer.sampling.temperature = self.settings.temperature

                def emit(e) -> None:
                    if self.autosave is not None:
                        self.autosave(e)      # a failed save is reported, never raised
                    self.signals.event.emit(e)

                out.result = self.work(writer, emit, self.cancel)
                out.cancelled = self.cancel.cancelled
        except BaseException as e:  # noqa: BLE001 - everything is reported in the window
            if not isinstance(e, LonghandError):
                log.exception("job %s failed", self.kind)
            out.error = plain_error(e)
            out.cancelled = self.cancel.cancelled
        out.seconds = time.perf_counter() - t0
        self.signals.finished.emit(out)


class EngineRunner(QObject):
    """Owns the loaded backend and the worker thread; the window talks to the engine here."""

    event = Signal(object)
    loading = Signal(str)
    loaded = Signal(object)
    finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals()
        # queued: emitted on the worker thread, delivered on the GUI thread in order
        queued = Qt.ConnectionType.QueuedConnection
        self._signals.event.connect(self.event, queued)
        self._signals.loading.connect(self.loading, queued)
        self._signals.loaded.connect(self.loaded, queued)
        self._signals.finished.connect(self._on_finished, queued)
        self._backend: Backend | None = None
        self._backend_key: dict | None = None
        self._cancel: CancelToken | None = None
        self.kind: str | None = None

    # -- state -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.kind is not None

    @property
    def info(self) -> BackendInfo | None:
        return self._backend.info if self._backend is not None else None

    @staticmethod
    def _key(settings: EngineSettings) -> dict:
        return {**settings.open_kwargs(), "n_ctx": settings.n_ctx}

    def matches(self, settings: EngineSettings) -> bool:
        """True when the loaded model is the one these settings ask for."""
        return self._backend is not None and self._backend_key == self._key(settings)

    def start(self, kind: str, work: Work, settings: EngineSettings, project: Project,
              autosave: Autosave | None = None) -> CancelToken:
        """Run ``work`` on the worker thread; ``autosave`` (if given) sees every engine event there."""
        if self.busy:
            raise LonghandError("Another job is running; stop it first.")
        self._cancel = CancelToken()
        self.kind = kind
        self._pool.start(_Job(self, kind, work, settings, project, self._cancel, autosave))
        return self._cancel

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    def wait(self, msecs: int = -1) -> bool:
        """Block until the worker is idle (used when closing the window and by tests)."""
        return self._pool.waitForDone(msecs)

    def close(self) -> None:
        self.cancel()
        self.wait()
        if self._backend is not None:
            self._backend.close()
            self._backend = None
            self._backend_key = None

    def _on_finished(self, out: JobResult) -> None:
        self.kind = None
        self._cancel = None
        self.finished.emit(out)

    # -- worker side -----------------------------------------------------------------------

    def _ensure_backend(self, settings: EngineSettings, target_words: int, signals: _Signals) -> Backend:
        key = self._key(settings)
        if self._backend is not None and key == self._backend_key:
            return self._backend
        if self._backend is not None:
            self._backend.close()
            self._backend = None
            self._backend_key = None
        name = (key["base_url"] if key["backend"] == "openai" else key["model"]) or "demo model"
        signals.loading.emit(str(name))
        # room for a few thousand words up front; the engine grows the context for longer jobs
        n_ctx = settings.n_ctx or context_for_target(max(target_words, 3000))
        backend = open_backend(key["model"], n_ctx=n_ctx, n_gpu_layers=key["n_gpu_layers"],
                               n_threads=key["n_threads"], backend=key["backend"],
                               base_url=key["base_url"], remote_model=key["remote_model"],
                               api_key=key["api_key"])
        self._backend, self._backend_key = backend, key
        signals.loaded.emit(backend.info)
        return backend
