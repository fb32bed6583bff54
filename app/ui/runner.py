"""GUI: runs engine jobs (load the model, plan, write) off the GUI thread.

One job at a time runs in a one-thread pool. A job's only work is a call into the core's
:class:`~longhand.core.engine.job.JobRunner`, the object that runs the CLI's and batch's jobs
too: it settles the engine by the rule for a project's remembered settings, opens it, and
runs the job; the engine's events travel back to the GUI as Qt signals carrying the event
objects, in order.
The loaded model is kept between jobs and reopened only when the settings that shape it
change. Every job can be cancelled through its :class:`CancelToken`; loading a
model cannot be interrupted inside llama.cpp, so a cancelled load is kept for next time
and the job ends as soon as it returns.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Collection, Union

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal

from ..core.backends.base import BackendInfo
from ..core.engine.job import JobRunner
from ..core.engine.session import BackendFactory, EngineConfig
from ..core.engine.settings import EngineSettings
from ..core.errors import CancelToken, LonghandError
from ..core.projects.autosave import Autosave
from ..core.projects.project import Project

log = logging.getLogger(__name__)

# work(jobs, emit, cancel) -> result, e.g. jobs.write(project, on_event=emit, cancel=cancel);
# runs on the worker thread, the backend already open
Work = Callable[[JobRunner, Callable[[Any], None], CancelToken], Any]


@dataclass
class JobResult:
    kind: str
    result: Any = None
    error: str | None = None
    cancelled: bool = False
    seconds: float = 0.0
    remembered: bool = False        # the project's remembered engine settings changed


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
    event = Signal(object)  # type: ignore[assignment]  # engine events, in order
    loading = Signal(str)         # model being loaded (file name)
    loaded = Signal(object)       # BackendInfo
    finished = Signal(object)     # JobResult


Config = Union[EngineConfig, EngineSettings]


def _config(settings: Config) -> EngineConfig:
    return settings.to_config() if isinstance(settings, EngineSettings) else settings


class _Job(QRunnable):
    def __init__(self, runner: "EngineRunner", kind: str, work: Work, config: EngineConfig,
                 project: Project, cancel: CancelToken, autosave: Autosave | None,
                 given: Collection[str]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self.runner = runner
        self.kind = kind
        self.work = work
        self.config = config
        self.project = project
        self.cancel = cancel
        self.autosave = autosave
        self.given = given
        self.signals = runner._signals

    def run(self) -> None:  # worker thread
        t0 = time.perf_counter()
        out = JobResult(self.kind)
        jobs = self.runner.session
        try:
            before = dict(self.project.settings)
            jobs.start(self.project, self.config, given=self.given, on_loading=self.signals.loading.emit,
                       on_loaded=self.signals.loaded.emit)
            out.remembered = self.project.settings != before
            if self.cancel.cancelled:
                out.cancelled = True
            else:
                emit = jobs.sink(self.signals.event.emit, self.autosave)
                out.result = self.work(jobs, emit, self.cancel)
                out.cancelled = self.cancel.cancelled
        except BaseException as e:  # noqa: BLE001 - everything is reported in the window
            if not isinstance(e, LonghandError):
                log.exception("job %s failed", self.kind)
            out.error = plain_error(e)
            out.cancelled = self.cancel.cancelled
        out.seconds = time.perf_counter() - t0
        self.signals.finished.emit(out)


class EngineRunner(QObject):
    """Owns the core's job runner (the loaded backend) and the worker thread.

    ``backend_factory`` opens backends (default: ``core.backends.factory.open_backend``);
    tests pass one that returns a scripted backend.
    """

    event = Signal(object)  # type: ignore[assignment]  # shadows QObject.event(), as it always did
    loading = Signal(str)
    loaded = Signal(object)
    finished = Signal(object)

    def __init__(self, parent: QObject | None = None, *,
                 backend_factory: BackendFactory | None = None) -> None:
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
        self.session = JobRunner(backend_factory=backend_factory)
        self._cancel: CancelToken | None = None
        self.kind: str | None = None

    # -- state -----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.kind is not None

    @property
    def info(self) -> BackendInfo | None:
        return self.session.info

    def matches(self, settings: Config) -> bool:
        """True when the loaded model is the one these settings ask for."""
        return self.session.matches(_config(settings))

    def start(self, kind: str, work: Work, settings: Config, project: Project,
              autosave: Autosave | None = None, given: Collection[str] = ()) -> CancelToken:
        """Run ``work`` on the worker thread; ``autosave`` (if given) sees every engine event there.

        The engine is ``settings``' for the fields in ``given`` (chosen explicitly), else what
        ``project`` remembers, else ``settings``' (``JobRunner.start``)."""
        if self.busy:
            raise LonghandError("Another job is running; stop it first.")
        self._cancel = CancelToken()
        self.kind = kind
        self._pool.start(_Job(self, kind, work, _config(settings), project, self._cancel, autosave,
                              tuple(given)))
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
        self.session.close()

    def _on_finished(self, out: JobResult) -> None:
        self.kind = None
        self._cancel = None
        self.finished.emit(out)
