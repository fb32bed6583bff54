"""CLI: ``longhand batch INSTRUCTIONS.jsonl --out DATA.jsonl`` — many AgentWrite jobs, resumable."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

from ..core.data.batch import BatchRunner, Server, remote_server
from ..core.data.instructions import read_instructions
from ..core.errors import CancelToken, LonghandError
from . import command
from .backend_options import add_backend_args, base_urls, resolve_backend


def _local_server(args, target: int) -> Server:
    from ..core.backends import factory
    from .write import engine_config

    # the engine config `longhand write` builds from the same options (an explicit --ctx bounds every job)
    config = engine_config(args)

    def open_():
        return factory.open_backend(**config.open_kwargs(target))
    return Server(name="local model", open=open_, shared=True)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class ProgressBar:
    """Jobs done, words written, words/s and ETA on stderr: one updating line on a terminal,
    a line whenever a job finishes (and every ``every`` s) otherwise."""

    def __init__(self, runner: BatchRunner, quiet: bool = False, every: float = 30.0) -> None:
        self.runner = runner
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._lock = threading.Lock()

    def line(self) -> str:
        s = self.runner.snapshot()
        width = 20
        filled = int(width * s.done / s.total) if s.total else width
        return (f"[{'#' * filled}{'-' * (width - filled)}] {s.done}/{s.total} jobs"
                + (f" ({s.running} running)" if s.running else "")
                + (f", {s.failed} failed" if s.failed else "")
                + f" | {s.words:,} words | {s.words_per_s:.1f} words/s | ETA {_duration(s.eta_seconds)}")

    def message(self, text: str) -> None:
        with self._lock:
            print(("\r\033[K" if self.tty else "") + text, file=sys.stderr, flush=True)

    def _loop(self) -> None:
        last_done, last_print = -1, 0.0
        while not self._stop.wait(0.5 if self.tty else 1.0):
            s = self.runner.snapshot()
            now = time.monotonic()
            with self._lock:
                if self.tty:
                    print("\r\033[K" + self.line(), end="", file=sys.stderr, flush=True)
                elif s.done != last_done or now - last_print >= self.every:
                    print(self.line(), file=sys.stderr, flush=True)
                    last_done, last_print = s.done, now

    def start(self) -> None:
        if not self.quiet:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            with self._lock:
                print(("\r\033[K" if self.tty else "") + self.line(), file=sys.stderr, flush=True)


def batch_cmd(args) -> int:
    result = read_instructions(args.instructions, strict=args.strict, default_words=args.words)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for p in result.problems:
        print(f"error: {p}", file=sys.stderr)
    if not result.instructions:
        raise LonghandError(f"{args.instructions} holds no usable instruction.")
    _check_counts(args)
    servers = _servers(args, result.instructions)
    cancel = CancelToken()
    bar: ProgressBar | None = None

    def say(text: str) -> None:
        if bar is not None:
            bar.message(text)
        else:
            print(text, file=sys.stderr, flush=True)

    runner = BatchRunner(result.instructions, args.out, servers, concurrency=args.concurrency,
                         seed=args.seed, temperature=args.temperature, steps=args.steps,
                         keep_short=args.keep_short, processes=args.processes, max_failures=args.retries,
                         on_message=say, cancel=cancel)
    runner.open()                       # output checked and locked before any job starts
    pending = runner.pending
    if not args.quiet:
        _print_start(args, runner, servers, len(result.instructions), len(pending))
    bar = ProgressBar(runner, quiet=args.quiet)

    _stop_on_sigint(cancel, say)
    bar.start()
    try:
        summary = runner.run()
    finally:
        bar.stop()
    summary["problems"] = result.problems
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    elif not args.quiet:
        _print_summary(args, summary)
    if summary["interrupted"]:
        return 130
    return 0 if summary["unfinished"] == 0 and not result.problems else 1


def _stop_on_sigint(cancel: CancelToken, say) -> None:
    """Ctrl+C stops the batch (the jobs in flight are saved); a second one aborts."""
    def on_sigint(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        say("stopping: the jobs in flight are saved and continue when you rerun the same command "
            "(Ctrl+C again to abort)")
        cancel.cancel()
    try:
        signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not in the main thread
        pass


def _print_start(args, runner: BatchRunner, servers: list, jobs: int, pending: int) -> None:
    done = jobs - pending
    where = ", ".join(s.name + (f" ({s.slots} slots)" if s.slots > 1 else "") for s in servers)
    print(f"batch: {jobs} jobs ({done} already done, {pending} to write) "
          f"on {where}, {runner.concurrency} at a time"
          + (f" in {runner.processes} processes" if runner.processes > 1 else "")
          + f" -> {args.out}", file=sys.stderr)


def _check_counts(args) -> None:
    if args.concurrency is not None and args.concurrency < 1:
        raise LonghandError("--concurrency must be at least 1.")
    if args.parallel is not None and args.parallel < 1:
        raise LonghandError("--parallel must be at least 1.")
    if args.processes < 1:
        raise LonghandError("--processes must be at least 1.")


def _servers(args, instructions) -> list:
    """The servers the batch runs on: the --base-url servers, or the local model."""
    if resolve_backend(args) == "openai":
        urls = base_urls(args)
        if not urls:
            raise LonghandError("--backend openai needs --base-url URL (repeat it for several servers).")
        options = dict(model=args.remote_model or "", api_key=args.api_key, format_name=args.format_name,
                       timeout=args.timeout)
        if args.ctx:
            options["n_ctx"] = args.ctx
        return [remote_server(url, slots=args.parallel, **options) for url in urls]
    return [_local_server(args, max(i.target_words for i in instructions))]


def _print_summary(args, summary: dict) -> None:
    """The end of a batch, on stderr: records, jobs, words and speed, per server."""
    sl = f", S_l {summary['S_l']} over {summary['S_l_jobs']} jobs" if summary["S_l"] is not None else ""
    rejected = len(summary["rejected"])
    fate = "kept with --keep-short" if args.keep_short else "no record"
    print(f"records: {summary['records']} in {args.out}"
          + (f"; {rejected} answer{'s' if rejected > 1 else ''} did not pass ({fate}, reasons in "
             f"{summary['journal']})" if rejected else ""), file=sys.stderr)
    print(f"done: {summary['done']}/{summary['jobs']} jobs, {summary['words']:,} words{sl}; "
          f"this run {summary['words_this_run']:,} words in {summary['seconds']:.0f} s "
          f"({summary['words_per_s']:.1f} words/s)", file=sys.stderr)
    for s in summary["servers"]:
        print(f"  {s['server']}: {s['jobs']} jobs, {s['words']:,} words, {s['words_per_s']:.1f} words/s"
              f" ({s['status']})", file=sys.stderr)


def _batch_args(p):
    p.add_argument("instructions", help="JSON Lines file: {\"instruction\": ..., \"target_words\": N, \"id\": ...}")
    p.add_argument("--out", "-o", required=True, metavar="DATA.jsonl",
                   help="SFT records (chat messages), one per finished job that passed; a journal and the "
                        "jobs' projects are kept next to it, so rerunning the command resumes")
    p.add_argument("--parallel", type=int, default=None, metavar="N",
                   help="jobs each server runs at once (default: the slots the server reports in /props or "
                        "/slots, as llama-server does; else 1)")
    p.add_argument("--concurrency", "-j", type=int, default=None,
                   help="jobs in flight in all (default: the servers' slots together; the local model: 1)")
    p.add_argument("--processes", type=int, default=1, metavar="P",
                   help="worker processes writing the jobs (default 1). One process handles some 700 words/s "
                        "of streamed text on a core (it needs ~1.4 CPU s per 1,000 words); give more when the "
                        "servers together are faster than that and the machine has the cores")
    p.add_argument("--words", type=int, default=1000,
                   help="target for lines that give none, in a field or in the instruction (default 1000)")
    p.add_argument("--keep-short", action="store_true",
                   help="also write records for answers that ended short (under 80%% of the target), that "
                        "the health check gave up on, or that hold a refusal or assistant chatter (each with "
                        "its \"reasons\"); by default they stay in the journal only")
    p.add_argument("--steps", action="store_true",
                   help="also write the AgentWrite plan and write steps as records of their own")
    p.add_argument("--strict", action="store_true", help="stop at the first broken line of the instructions")
    p.add_argument("--retries", type=int, default=3,
                   help="failures in a row before a server is taken out of rotation (default 3)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a server's answer")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout at the end")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    add_backend_args(p, several_servers=True)


def _batch(args) -> int:
    return batch_cmd(args)


_batch.add_arguments = _batch_args  # type: ignore[attr-defined]
command("batch", "run many writing jobs (JSON Lines instructions) into SFT training records")(_batch)
