"""Core: batch AgentWrite — many jobs, several servers, one resumable JSON Lines output.

:class:`BatchRunner` runs the jobs of an instructions file (see :mod:`.instructions`) with
``concurrency`` jobs in flight, spread over a pool of servers (:class:`Server`: an
OpenAI-compatible URL, or the local model, which runs one job at a time). Each job is an
ordinary project (``DATA.jsonl.jobs/<id>.longhand``) written by the core's
:class:`~..engine.job.JobRunner` (the CLI's and the GUI's job path) on the server's backend
and autosaved about once a second, so an interrupted job continues where it stopped. A job's
project remembers its engine by the same rule as the CLI's and the GUI's: the server it runs
on, and ``seed``/``temperature`` when given, are explicit; a resumed job keeps the seed and
temperature its project remembers otherwise.

Files next to the output ``DATA.jsonl``:

* ``DATA.jsonl.lock`` — the PID of the batch writing it (a second batch is refused; a lock
  left by a dead process is taken over);
* ``DATA.jsonl.journal`` — one JSON line per finished job: its id and the output's size in
  bytes after its records. A job's records are written (write, flush, fsync) *before* its
  journal line; at start, output bytes past the last journalled size (records of a job whose
  journal line was never written) are cut off and that job's records are written again from
  its finished project. So a kill -9 at any moment never duplicates and never loses a record;
* ``DATA.jsonl.jobs/`` — the projects, kept (DPO pairs and re-exports come from them).

Which answers become records: by default only those a trainer can trust — the answer reached
80 % of its target, no section was given up by the health check, and it holds no refusal or
assistant chatter (:mod:`.quality`). A rejected job is journalled like the others, with
``"kept": false`` and its ``reasons``, and no record (``keep_short=True`` writes it anyway,
with its reasons in the record); rerunning the batch does not redo it.

Servers: each has ``slots`` jobs in flight at most (llama-server's ``--parallel``: read from
its ``/props`` or ``/slots`` when not given; 1 when the server does not say). By default the
batch runs as many jobs at once as the servers have slots together.

Failures: a server whose job fails (connection refused, timeout, garbage) is retried with the
next jobs; after ``max_failures`` failures in a row it is taken out of rotation with a message
and the jobs go to the others. A job that fails ``max_attempts`` times is left unfinished
(rerun the batch to retry it); the others go on.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..backends.base import Backend
from ..engine.events import SectionToken
from ..engine.job import JobRunner
from ..engine.session import EngineConfig
from ..errors import BackendError, CancelToken, LonghandError
from ..fileio import atomic_write_text
from ..projects.autosave import Autosave
from ..projects.lock import ProjectLock, ProjectLockedError
from ..projects.project import Project
from ..text.wordcount import length_score
from .instructions import Instruction
from .quality import judge_project
from .training import sft_record, step_records


class BatchError(LonghandError):
    """The batch cannot start or cannot go on (output not writable, locked, no server left)."""


# ---------------------------------------------------------------------------------------
# Servers

@dataclass
class Server:
    """One place jobs run. ``open`` gives a backend for a job; ``shared`` backends (the local
    model) are opened once and run one job at a time."""

    name: str
    open: Callable[[], Backend]
    shared: bool = False
    slots: int = 1                  # jobs in flight at most (the server's parallel slots)
    failures: int = 0               # failures in a row
    out: bool = False               # taken out of rotation
    in_flight: int = 0
    jobs: int = 0
    words: int = 0
    last_error: str = ""
    _backend: Backend | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def backend(self) -> Backend:
        if not self.shared:
            return self.open()
        if self._backend is None:
            self._backend = self.open()
        return self._backend

    def release(self, backend: Backend) -> None:
        if not self.shared:
            backend.close()

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def remote_server(base_url: str, slots: int | None = None, **backend_options) -> Server:
    """A server entry for an OpenAI-compatible URL (a new client per job: they are cheap).
    ``slots``: jobs it takes at once; None asks the server (:func:`server_slots`), else 1."""
    def open_() -> Backend:
        from ..backends.remote import OpenAIBackend
        return OpenAIBackend(base_url=base_url, **backend_options)
    if slots is None:
        slots = server_slots(base_url, api_key=backend_options.get("api_key")) or 1
    return Server(name=base_url, open=open_, slots=max(1, int(slots)))


def server_slots(base_url: str, *, api_key: str | None = None, timeout: float = 5.0) -> int | None:
    """How many requests the server runs in parallel, as it reports it: llama-server's
    ``/props`` (``total_slots``) or ``/slots`` (one entry a slot). None when it does not say
    (llama-cpp-python's server, vLLM: pass the number)."""
    root = base_url.rstrip("/")
    root = root[:-3] if root.endswith("/v1") else root
    headers = {"Authorization": f"Bearer {api_key or os.environ.get('OPENAI_API_KEY') or 'none'}"}
    for path in ("/props", "/slots"):
        try:
            req = urllib.request.Request(root + path, headers=headers)
            with urllib.request.urlopen(req, timeout=timeout) as r:
                data = json.loads(r.read(1 << 20))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("total_slots"), int) and data["total_slots"] > 0:
            return int(data["total_slots"])
        if isinstance(data, list) and data and all(isinstance(x, dict) and "id" in x for x in data):
            return len(data)
    return None


# ---------------------------------------------------------------------------------------
# Output, journal and lock

def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal")


def jobs_dir(out: Path) -> Path:
    return out.with_name(out.name + ".jobs")


@dataclass
class JournalEntry:
    id: str
    end: int                        # output size in bytes after this job's records
    words: int = 0
    target_words: int = 0
    target_given: bool = False
    server: str = ""
    seconds: float = 0.0
    kept: bool = True               # False: the answer did not pass (see reasons)
    reasons: list = field(default_factory=list)
    written: bool = True            # its SFT record is in the output (kept, or --keep-short)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)


class Output:
    """The output file with its journal and lock. ``open()`` checks, locks and recovers."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).expanduser()
        self.journal = journal_path(self.path)
        self.jobs = jobs_dir(self.path)
        self.entries: dict[str, JournalEntry] = {}
        self.notes: list[str] = []
        self._lock = ProjectLock(self.path)
        self._fd: int | None = None
        self._jfd: int | None = None
        self._write = threading.Lock()

    def open(self) -> None:
        p = self.path
        parent = p.parent if str(p.parent) else Path(".")
        if not parent.is_dir():
            raise BatchError(f"Cannot write {p}: folder {parent} does not exist.")
        if p.is_dir():
            raise BatchError(f"Cannot write {p}: it is a folder.")
        try:
            self._lock.acquire()
        except ProjectLockedError:
            info = self._lock.owner() or {}
            raise BatchError(f"Another batch is writing {p} (process {info.get('pid', '?')}, since "
                             f"{info.get('since', '?')}); wait for it to finish or choose another "
                             f"--out.") from None
        except LonghandError as e:
            raise BatchError(f"Cannot write {p}: {e}") from None
        try:
            self._fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            self._recover()
            self._jfd = os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self.jobs.mkdir(exist_ok=True)
        except OSError as e:
            self.close()
            raise BatchError(f"Cannot write {e.filename or p}: {e.strerror or e}.") from None
        except BaseException:
            self.close()
            raise

    def _recover(self) -> None:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        try:
            lines = self.journal.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            lines = None
        if lines is None:
            if size:
                raise BatchError(f"{self.path} already holds data but has no journal "
                                 f"({self.journal.name}), so a batch cannot safely add to it. Move "
                                 f"it away or choose another --out.")
            return
        good: list[JournalEntry] = []
        dirty = False
        end = 0
        for line in lines:
            try:
                entry = JournalEntry(**json.loads(line))
            except (ValueError, TypeError):
                dirty = True          # a line cut by a kill: its job is redone
                continue
            if entry.end < end or entry.end > size:
                dirty = True          # the output lost these bytes: redo the job
                continue
            end = entry.end
            good.append(entry)
        if size > end:
            self.notes.append(f"{self.path.name}: {size - end} bytes after the last finished job "
                              f"(records of an interrupted write) were removed; that job's records "
                              f"are written again.")
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        if dirty:
            atomic_write_text(self.journal, "".join(e.to_json() + "\n" for e in good))
        self.entries = {e.id: e for e in good}

    def append(self, records: list[dict], entry: JournalEntry) -> None:
        """Write a job's records, fsync, then its journal line, fsync (the order matters)."""
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        assert self._fd is not None and self._jfd is not None, "append() after close()"
        with self._write:
            _write_all(self._fd, data)
            os.fsync(self._fd)
            entry.end = os.fstat(self._fd).st_size
            _write_all(self._jfd, (entry.to_json() + "\n").encode("utf-8"))
            os.fsync(self._jfd)
            self.entries[entry.id] = entry

    def close(self) -> None:
        for fd in (self._fd, self._jfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._fd = self._jfd = None
        self._lock.release()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


# ---------------------------------------------------------------------------------------
# The runner

@dataclass
class JobState:
    instruction: Instruction
    attempts: int = 0
    start_words: int = 0
    words: int = 0
    error: str = ""
    failed_on: set = field(default_factory=set)
    on_words: Callable[[int], None] | None = None      # progress, from a worker process


@dataclass
class Produced:
    """A finished job, judged: what the output and the journal get."""

    records: list[dict]
    words: int
    target_words: int
    kept: bool
    reasons: list[str]
    start_words: int


@dataclass
class Snapshot:
    """Progress for a display: jobs, words written this run, rate and ETA."""

    total: int
    done: int                       # finished, including earlier runs
    failed: int
    running: int
    words: int                      # written this run (in-flight jobs included)
    seconds: float
    eta_seconds: float | None

    @property
    def words_per_s(self) -> float:
        return self.words / self.seconds if self.seconds > 0 else 0.0


class BatchRunner:
    """Run many AgentWrite jobs over a pool of servers into one output."""

    def __init__(self, instructions: list[Instruction], out: str | os.PathLike, servers: list[Server], *,
                 concurrency: int | None = None, seed: int | None = None, temperature: float | None = None,
                 steps: bool = False, keep_short: bool = False, processes: int = 1,
                 max_failures: int = 3, max_attempts: int = 3,
                 retry_delay: float = 2.0, autosave_interval: float = 1.0,
                 on_message: Callable[[str], None] | None = None,
                 cancel: CancelToken | None = None) -> None:
        if not servers:
            raise BatchError("No server to run the jobs on.")
        self.instructions = instructions
        self.output = Output(out)
        self.servers = servers
        if concurrency is None:
            concurrency = sum(s.slots for s in servers)     # every slot busy
        if any(s.shared for s in servers):
            concurrency = 1             # the local model runs one job at a time
        self.concurrency = max(1, concurrency)
        self.seed = seed
        self.temperature = temperature
        self.steps = steps
        self.keep_short = keep_short
        # worker processes (each with its share of the jobs' threads): one Python process runs
        # its threads one at a time (the GIL), so past ~700 words/s a core the client needs more
        self.processes = 1 if any(s.shared for s in servers) else max(1, min(processes, self.concurrency))
        self._pool: _Pool | None = None
        self.max_failures = max_failures
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.autosave_interval = autosave_interval
        self.say = on_message or (lambda m: None)
        self.cancel = cancel or CancelToken()
        self._lock = threading.Lock()
        self._queue: deque[JobState] = deque()
        self._running: dict[str, JobState] = {}
        self._failed: dict[str, JobState] = {}
        self._done_now: list[str] = []
        self._t0 = 0.0
        self._opened = False
        self._stop_reason = ""

    # -- set-up ----------------------------------------------------------------------------

    def open(self) -> None:
        """Check and lock the output, read the journal. Call before opening servers."""
        self.output.open()
        self._opened = True
        for note in self.output.notes:
            self.say(note)
        if self.processes > 1:
            if "fork" not in multiprocessing.get_all_start_methods():
                self.say(f"note: {self.processes} worker processes need fork(); running in one process.")
                self.processes = 1
            else:
                # forked before any thread of the batch starts
                self._pool = _Pool(self, self.processes, self.concurrency)

    @property
    def pending(self) -> list[Instruction]:
        return [i for i in self.instructions if i.id not in self.output.entries]

    # -- running ---------------------------------------------------------------------------

    def run(self) -> dict:
        """Run every pending job; returns the summary (see :meth:`summary`)."""
        if not self._opened:
            self.open()
        try:
            self._t0 = time.perf_counter()
            self._queue.extend(JobState(i) for i in self.pending)
            workers = [threading.Thread(target=self._worker, name=f"batch-{n}", daemon=True)
                       for n in range(min(self.concurrency, len(self._queue)))]
            for w in workers:
                w.start()
            for w in workers:
                while w.is_alive():
                    w.join(0.2)
            self._seconds = time.perf_counter() - self._t0
            return self.summary()
        finally:
            if self._pool is not None:
                self._pool.close()
            for s in self.servers:
                try:
                    s.close()
                except Exception:  # noqa: BLE001 - closing must not hide the result
                    pass
            self.output.close()

    def _next(self) -> tuple[JobState, Server] | None:
        with self._lock:
            if self.cancel.cancelled or not self._queue:
                return None
            active = [s for s in self.servers if not s.out]
            if not active:
                if not self._stop_reason:
                    self._stop_reason = "every server was taken out of rotation"
                return None
            job = self._queue.popleft()
            # a job that failed somewhere goes elsewhere when it can
            fresh = [s for s in active if s.name not in job.failed_on] or active
            server = min(fresh, key=lambda s: (s.in_flight / s.slots, s.in_flight, s.jobs))
            server.in_flight += 1
            self._running[job.instruction.id] = job
            return job, server

    def _worker(self) -> None:
        if self._pool is not None:
            self._pool.bind()
        while True:
            got = self._next()
            if got is None:
                return
            job, server = got
            error: Exception | None = None
            try:
                self._run_job(job, server)
            except Exception as e:  # noqa: BLE001 - one job's failure must not stop the batch
                error = e
            finally:
                with self._lock:
                    server.in_flight -= 1
                    self._running.pop(job.instruction.id, None)
            if error is not None:
                self._failed_job(job, server, error)

    def _failed_job(self, job: JobState, server: Server, error: Exception) -> None:
        msg = str(error) if isinstance(error, LonghandError) else f"{type(error).__name__}: {error}"
        job.attempts += 1
        job.error = msg
        job.failed_on.add(server.name)
        retry = isinstance(error, BackendError)
        with self._lock:
            if isinstance(error, BackendError):
                server.failures += 1
                server.last_error = msg
                if server.failures >= self.max_failures and not server.out:
                    server.out = True
                    left = [s.name for s in self.servers if not s.out]
                    self.say(f"server {server.name} taken out of rotation after {server.failures} "
                             f"failures in a row (last: {msg}); "
                             + (f"its jobs move to {', '.join(left)}." if left else
                                "no server is left: stopping (rerun the same command to resume)."))
                elif not server.out:
                    self.say(f"server {server.name} failed ({msg}); retrying "
                             f"({server.failures}/{self.max_failures}).")
            if retry and job.attempts < self.max_attempts and not self.cancel.cancelled:
                self._queue.appendleft(job)        # continues from its project elsewhere
            else:
                self._failed[job.instruction.id] = job
                self.say(f"job {job.instruction.id} (line {job.instruction.line}) failed"
                         + (f" after {job.attempts} attempts" if job.attempts > 1 else "")
                         + f": {msg}; it stays unfinished (rerun the batch to retry it).")
        if retry and not self.cancel.cancelled:
            # back off a little before the next job goes to a server that just failed
            if not server.out:
                self._sleep(min(30.0, self.retry_delay * (2 ** max(0, server.failures - 1))))

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.cancel.cancelled and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))

    def _run_job(self, job: JobState, server: Server) -> None:
        if self._pool is not None:
            produced = self._pool.run(job, self.servers.index(server))
        else:
            produced = self._produce(job, server)
        if produced is not None:
            self._commit(job, server, produced)

    def _produce(self, job: JobState, server: Server) -> Produced | None:
        """Write the job (continuing its project) and judge it: its records, or None when
        cancelled before it finished. Runs in a worker process with ``processes`` > 1."""
        ins = job.instruction
        path = self.output.jobs / f"{ins.file_stem}.longhand"
        if path.exists():
            project = Project.open(path)
            if project.instruction.strip() != ins.instruction.strip():
                project.close()
                raise LonghandError(f"{path} holds another instruction (the id {ins.id!r} was "
                                    f"reused); remove that project or change the id.")
        else:
            project = Project(instruction=ins.instruction, target_words=ins.target_words)
            project.path = path
            project.lock()
        try:
            if not job.attempts:
                job.start_words = job.words = project.words
            backend = server.backend()
            try:
                self._write_job(job, project, backend, server)
                backend_model = backend.info.model
            finally:
                server.release(backend)
            if self.cancel.cancelled and not project.finished:
                return None
            if not project.finished:
                raise LonghandError(f"the job stopped at {project.words}/{project.target_words} words "
                                    f"with sections left unwritten")
            verdict = judge_project(project)
            records: list[dict] = []
            if verdict.ok or self.keep_short:
                extra = {} if verdict.ok else {"reasons": verdict.reasons}
                records = [sft_record(project, job_id=ins.id, target_given=ins.target_given,
                                      model=backend_model, **extra)]
                if self.steps:
                    records += step_records(project, job_id=ins.id)
            return Produced(records, project.words, project.target_words, verdict.ok, verdict.reasons,
                            job.start_words)
        finally:
            project.close()

    def _commit(self, job: JobState, server: Server, got: Produced) -> None:
        """Journal a produced job (records first, then its journal line) and count it."""
        ins = job.instruction
        entry = JournalEntry(id=ins.id, end=0, words=got.words, target_words=got.target_words,
                             target_given=ins.target_given, server=server.name,
                             seconds=round(time.perf_counter() - self._t0, 2),
                             kept=got.kept, reasons=got.reasons, written=bool(got.records))
        self.output.append(got.records, entry)
        if not got.kept:
            self.say(f"job {ins.id} (line {ins.line}): "
                     + ("kept with --keep-short" if self.keep_short else "no record")
                     + f" ({'; '.join(got.reasons[:3])}"
                     + (f"; {len(got.reasons) - 3} more" if len(got.reasons) > 3 else "") + ")")
        with self._lock:
            server.failures = 0
            server.jobs += 1
            job.start_words = got.start_words
            server.words += got.words - job.start_words
            job.words = got.words
            self._done_now.append(ins.id)

    def _write_job(self, job: JobState, project: Project, backend: Backend, server: Server) -> None:
        ins = job.instruction
        seed = None if self.seed is None else self.seed + ins.line
        jobs = JobRunner(backend=backend)         # the server's backend: the server closes it
        # the engine, by the rule of every job path: the server (its model, prompt format)
        # and --seed/--temperature when given are explicit, else what the project remembers
        remote = backend.info.name == "openai"
        config = EngineConfig(backend="openai" if remote else "llama",
                              base_url=server.name if remote else None,
                              model=None if remote else backend.info.model,
                              remote_model=backend.info.model if remote else None,
                              format_name=jobs.writer().format.name, seed=seed, temperature=self.temperature)
        given = {"backend", "base_url", "model", "remote_model", "format_name", "n_ctx"}
        given |= {k for k, v in (("seed", seed), ("temperature", self.temperature)) if v is not None}
        jobs.start(project, config, given=given)
        project.settings.setdefault("batch", {"id": ins.id, "target_given": ins.target_given})
        project.save()
        autosave = Autosave(project, interval=self.autosave_interval,
                            on_error=lambda err: self.say(f"warning: autosave failed: {err}"))

        def on_event(e) -> None:
            if isinstance(e, SectionToken):
                job.words = e.total_words
                if job.on_words is not None:
                    job.on_words(e.total_words)

        jobs.write(project, book=False, on_event=on_event, cancel=self.cancel, autosave=autosave)
        job.words = project.words
        project.save()

    # -- reporting -------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._lock:
            running = list(self._running.values())
        seconds = time.perf_counter() - self._t0 if self._t0 else 0.0
        words = sum(s.words for s in self.servers) + sum(max(0, j.words - j.start_words) for j in running)
        pending = [i for i in self.instructions if i.id not in self.output.entries
                   and i.id not in self._failed]
        left = sum(i.target_words for i in pending) - sum(max(0, j.words - j.start_words) for j in running)
        rate = words / seconds if seconds > 0 else 0.0
        eta = left / rate if rate > 0 and left > 0 else (0.0 if not pending else None)
        return Snapshot(total=len(self.instructions),
                        done=sum(1 for i in self.instructions if i.id in self.output.entries),
                        failed=len(self._failed), running=len(running), words=words,
                        seconds=seconds, eta_seconds=eta)

    def summary(self) -> dict:
        entries = [self.output.entries[i.id] for i in self.instructions if i.id in self.output.entries]
        scored = [length_score(e.target_words, e.words) for e in entries if e.target_given]
        seconds = getattr(self, "_seconds", time.perf_counter() - self._t0)
        words_now = sum(s.words for s in self.servers)
        rejected = [e for e in entries if not e.kept]
        return {
            "jobs": len(self.instructions),
            "done": len(entries),
            "done_this_run": len(self._done_now),
            "records": sum(1 for e in entries if e.written),
            "rejected": [{"id": e.id, "words": e.words, "target_words": e.target_words, "reasons": e.reasons}
                         for e in rejected],
            "keep_short": self.keep_short,
            "failed": [{"id": j.instruction.id, "line": j.instruction.line, "error": j.error}
                       for j in self._failed.values()],
            "unfinished": len(self.instructions) - len(entries),
            "interrupted": self.cancel.cancelled,
            "stopped": self._stop_reason or None,
            "words": sum(e.words for e in entries),
            "words_this_run": words_now,
            "S_l": round(sum(scored) / len(scored), 1) if scored else None,
            "S_l_jobs": len(scored),
            "seconds": round(seconds, 2),
            "words_per_s": round(words_now / seconds, 2) if seconds > 0 else 0.0,
            "servers": [{"server": s.name, "slots": s.slots, "jobs": s.jobs, "words": s.words,
                         "words_per_s": round(s.words / seconds, 2) if seconds > 0 else 0.0,
                         "status": "out of rotation" if s.out else "ok",
                         **({"last_error": s.last_error} if s.last_error else {})}
                        for s in self.servers],
            "out": str(self.output.path),
            "journal": str(self.output.journal),
            "projects": str(self.output.jobs),
        }


# ---------------------------------------------------------------------------------------
# Worker processes

class _Pool:
    """``processes`` forked copies of the runner that write jobs; the parent keeps the queue,
    the servers' bookkeeping, the output and the journal.

    Each of the parent's worker threads owns a pipe to one worker process (thread k to process
    k mod P) and sends it the jobs it picked; the process writes the job (its own thread per
    pipe), sends progress (words) while it writes, then the judged records or the error,
    which the parent thread commits or handles exactly as in one process. A cancel reaches
    the processes through an Event; a worker process whose parent is gone (kill -9) stops.
    """

    def __init__(self, runner: BatchRunner, processes: int, channels: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.runner = runner
        self.cancel = ctx.Event()
        pipes = [ctx.Pipe() for _ in range(channels)]
        self.parent_ends = [a for a, _ in pipes]
        self.procs = []
        self._free = list(range(channels))
        self._local = threading.local()
        self._lock = threading.Lock()
        self._index = {id(ins): k for k, ins in enumerate(runner.instructions)}
        parent = os.getpid()
        for k in range(processes):
            mine = [b for i, (_, b) in enumerate(pipes) if i % processes == k]
            # the ends a worker must not keep open (else a closed pipe never reads as ended)
            others = self.parent_ends + [b for i, (_, b) in enumerate(pipes) if i % processes != k]
            proc = ctx.Process(target=_serve, args=(runner, mine, others, self.cancel, parent), daemon=True,
                               name=f"batch-process-{k}")
            proc.start()
            self.procs.append(proc)
        for _, b in pipes:
            b.close()

    def bind(self) -> None:
        with self._lock:
            self._local.conn = self.parent_ends[self._free.pop(0)]

    def run(self, job: JobState, server_index: int) -> Produced | None:
        conn = self._local.conn
        ins_index = self._index[id(job.instruction)]
        conn.send(("job", ins_index, server_index, job.attempts, job.start_words, job.words))
        while True:
            while not conn.poll(0.2):
                if self.runner.cancel.cancelled and not self.cancel.is_set():
                    self.cancel.set()
            try:
                msg = conn.recv()
            except EOFError:
                raise LonghandError("its worker process ended unexpectedly") from None
            if msg[0] == "words":
                job.start_words, job.words = msg[1], msg[2]
            elif msg[0] == "done":
                return msg[1]
            else:
                _, backend_error, text = msg
                raise (BackendError(text) if backend_error else LonghandError(text))

    def close(self) -> None:
        for conn in self.parent_ends:
            conn.close()
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def _serve(runner: BatchRunner, conns: list, others: list, cancel_event, parent: int) -> None:
    """A worker process: one thread a pipe, each writing the jobs it is sent."""
    for c in others:
        c.close()
    runner.cancel = CancelToken()
    runner._pool = None
    threading.Thread(target=_watch_parent, args=(runner, cancel_event, parent), daemon=True).start()
    threads = [threading.Thread(target=_serve_pipe, args=(runner, c), daemon=True) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os._exit(0)


def _watch_parent(runner: BatchRunner, cancel_event, parent: int) -> None:
    """A worker's watch: the batch cancelled (the job stops), or killed (the worker exits)."""
    while True:
        if cancel_event.wait(0.5):
            runner.cancel.cancel()
            return
        if os.getppid() != parent:          # the batch was killed: stop writing
            os._exit(1)


def _serve_pipe(runner: BatchRunner, conn) -> None:
    """Write each job sent over ``conn``; report its words (twice a second), then its end."""
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        _, ins_index, server_index, attempts, start_words, words = msg
        job = JobState(runner.instructions[ins_index], attempts=attempts, start_words=start_words,
                       words=words)
        last = [0.0]

        def progress(n: int, job=job, conn=conn, last=last) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.5:
                last[0] = now
                conn.send(("words", job.start_words, n))
        job.on_words = progress
        try:
            produced = runner._produce(job, runner.servers[server_index])
            conn.send(("done", produced))
        except Exception as e:  # noqa: BLE001 - the parent decides what a failure means
            text = str(e) if isinstance(e, LonghandError) else f"{type(e).__name__}: {e}"
            conn.send(("error", isinstance(e, BackendError), text))
