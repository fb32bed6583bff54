"""CLI: ``longhand plan`` and ``longhand write``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from ..core.engine import book_model as BM
from ..core.engine import events as EV
from ..core.engine.events import JobDone, PlanReady, SectionDone, SectionStarted, SectionToken
from ..core.engine.job import JobRunner
from ..core.engine.progress import ProgressTracker, format_duration
from ..core.engine.session import EngineConfig
from ..core.engine.writer import Job, validate_request
from ..core.errors import CancelToken, LonghandError
from ..core.projects.autosave import Autosave
from ..core.projects.project import Project
from ..core.text.wordcount import target_from_instruction
from . import command
from .backend_options import add_backend_args, resolve_backend


def _add_model_args(p: argparse.ArgumentParser) -> None:
    add_backend_args(p)          # the same backend options as every command that talks to a model


def _words(args, instruction: str) -> int:
    if args.words is not None:
        return args.words
    stated = target_from_instruction(instruction)
    if stated is None:
        raise LonghandError("How long? The instruction states no length; pass --words N.")
    return stated


def engine_config(args) -> EngineConfig:
    """The engine the model options ask for (the GUI builds the same from its Settings).

    An explicit --ctx bounds the context for the whole job (summaries beyond); without it the
    context is sized to the job (see ``core.engine.session``).
    """
    backend = resolve_backend(args)
    layers = args.gpu_layers if args.gpu_layers == "auto" else int(args.gpu_layers)
    return EngineConfig(model=args.model, backend=backend, base_url=args.base_url,
                        remote_model=args.remote_model, api_key=args.api_key,
                        format_name=args.format_name, n_ctx=args.ctx or None, n_threads=args.threads,
                        n_gpu_layers=layers, temperature=args.temperature, seed=args.seed)


# EngineConfig field -> the option that sets it; what a project remembers is used unless given
_REMEMBERED = {"model": "model", "backend": "backend", "base_url": "base_url", "remote_model": "remote_model",
               "format_name": "format_name", "n_ctx": "ctx", "temperature": "temperature", "seed": "seed"}


def _given(args) -> set[str]:
    """The remembered settings this command line sets explicitly."""
    return {field for field, opt in _REMEMBERED.items() if getattr(args, opt, None) is not None}


class Progress:
    """Live progress on stderr: one updating line on a terminal, a line per section otherwise.

    Words, words/min, ETA and tokens/s come from ``core.engine.progress`` (as in the GUI).
    """

    def __init__(self, project: Project, quiet: bool = False, started: float | None = None) -> None:
        self.project = project
        # the job's start (before the model load and the plan): the end line's total counts from it
        self.started = time.perf_counter() if started is None else started
        self.tty = sys.stderr.isatty()
        self.quiet = quiet
        self.tracker = ProgressTracker("write", project.target_words, lambda: project.words)
        self._last = 0.0

    def _speed(self) -> str:
        p = self.tracker.snapshot()
        if p.words_per_min is None:
            return ""
        return f" | {p.words_per_min:.0f} words/min | ETA {format_duration(p.eta_seconds)}"

    def __call__(self, e) -> None:
        self.tracker(e)
        if self.quiet:
            return
        n = len(self.project.sections)
        if isinstance(e, PlanReady):
            print(f"plan: {len(e.sections)} sections ({e.how})", file=sys.stderr)
            for i, s in enumerate(e.sections, 1):
                print(f"  {i:>3}. [{s.target_words:>5} words] {s.main_point}", file=sys.stderr)
        elif isinstance(e, SectionStarted):
            if self.tty:
                print(file=sys.stderr)
            else:
                print(f"section {e.index + 1}/{n}: writing ~{e.target_words} words ({e.mode})",
                      file=sys.stderr, flush=True)
        elif isinstance(e, SectionToken) and self.tty:
            now = time.perf_counter()
            if now - self._last > 0.2:
                self._last = now
                print(f"\rsection {e.index + 1}/{n}: {e.section_words} words | total "
                      f"{e.total_words}/{self.project.target_words} | {e.tokens_per_s:.1f} tok/s"
                      f"{self._speed()}   ", end="", file=sys.stderr, flush=True)
        elif isinstance(e, SectionDone):
            total = self.project.words
            line = (f"section {e.index + 1}/{n} done: {e.words}/{e.target_words} words | total "
                    f"{total}/{self.project.target_words} | "
                    f"{e.generated_tokens / e.seconds if e.seconds else 0:.1f} tok/s{self._speed()}")
            if getattr(e, "needs_attention", False):   # the health check gave up (issue 14)
                line += " | NEEDS ATTENTION: ended short, the model's text kept failing"
            print(("\r" + line) if self.tty else line, file=sys.stderr, flush=True)
        elif type(e).__name__ == "SectionRecovery":
            print(f"{chr(13) if self.tty else ''}section {e.index + 1}/{n}: {'; '.join(e.reasons)}; cut back to "
                  f"{e.words_kept} words, writing on (recovery {e.attempt})", file=sys.stderr, flush=True)
        elif isinstance(e, JobDone):
            st = e.stats
            state = "cancelled" if e.cancelled else "done"
            elapsed = time.perf_counter() - self.started
            print(f"{state}: {st.words}/{st.target_words} words in {elapsed:.1f} s in all (model load "
                  f"and plan included; writing {st.seconds:.1f} s), "
                  f"{st.generated_tokens} tokens generated at {st.tokens_per_s:.1f} tok/s, "
                  f"{st.prompt_tokens_evaluated} prompt tokens evaluated", file=sys.stderr)


def _install_sigint(cancel: CancelToken) -> None:
    def handler(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        print("\nstopping after this token (Ctrl+C again to abort)...", file=sys.stderr)
        cancel.cancel()
    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not in the main thread
        pass


def _summary(project: Project, stats, backend) -> dict:
    return {
        "target_words": project.target_words,
        "words": project.words,
        "sections": [{"title": s.heading, "main_point": s.main_point, "target_words": s.target_words,
                      "words": s.words, "status": s.status, "needs_attention": s.needs_attention}
                     for s in project.sections],
        # sections whose text failed the health check and ended short (issue 14)
        "needs_attention": sum(1 for s in project.sections if s.needs_attention),
        "recoveries": getattr(stats, "recoveries", 0),
        "generated_tokens": stats.generated_tokens,
        "prompt_tokens": stats.prompt_tokens,
        "prompt_tokens_evaluated": stats.prompt_tokens_evaluated,
        "tokens_per_s": round(stats.tokens_per_s, 2),
        "seconds": round(stats.seconds, 2),
        "model": backend.info.model,
        "backend": backend.info.name,
        "device": backend.info.device,
    }


# ---------------------------------------------------------------------------------------

def _two_levels(args, instruction: str, target: int) -> bool:
    """--levels 2, or 'auto' and a long text or a request for chapters."""
    if args.levels == "auto":
        return BM.wants_chapters(instruction, target)
    return args.levels == "2"


def _chapters_json(job) -> list[dict]:
    return [{"title": ch.title, "synopsis": ch.synopsis, "target_words": ch.target_words,
             "carried": ch.carried, "words": BM.chapter_words(job, c), "status": BM.chapter_status(job, c),
             "summary": ch.summary, "locked": ch.locked,
             "scenes": [{"title": job.sections[i].heading, "main_point": job.sections[i].main_point,
                         "target_words": job.sections[i].target_words, "words": job.sections[i].words,
                         "codex_used": job.sections[i].codex_used}
                        for i in BM.chapter_scenes(job, c)]}
            for c, ch in enumerate(job.chapters)]


def plan_book_cmd(args, target: int) -> int:
    from ..core.engine.codex import load_codex
    job = BM.BookJob(instruction=args.instruction.strip(), target_words=target)
    if args.codex:
        job.codex.merge(load_codex(args.codex))
    with JobRunner(engine_config(args)) as jobs:
        how: dict[str, str] = {}
        job.chapters = jobs.plan_book(job, on_event=lambda e: how.update(how=e.how)
                                      if isinstance(e, EV.BookPlanReady) else None)
        if args.scenes:
            for c in range(len(job.chapters)):
                jobs.plan_chapter(job, c)
    if args.json:
        print(json.dumps({"target_words": target, "levels": 2, "how": how.get("how"),
                          "chapters": [{k: v for k, v in ch.items() if k in ("title", "synopsis", "target_words",
                                                                              "scenes")}
                                       for ch in _chapters_json(job)]}, ensure_ascii=False, indent=2))
    else:
        from ..core.engine.grammar import chapter_line
        for c, ch in enumerate(job.chapters):
            print(chapter_line(c + 1, ch.title, ch.synopsis, ch.target_words))
            for k, i in enumerate(BM.chapter_scenes(job, c), 1):
                s = job.sections[i]
                print(f"    Scene {k} - Main Point: {s.main_point} - Word Count: {s.target_words} words")
    return 0


def plan_cmd(args) -> int:
    validate_request(args.instruction, _words(args, args.instruction))
    target = _words(args, args.instruction)
    if _two_levels(args, args.instruction, target):
        return plan_book_cmd(args, target)
    with JobRunner(engine_config(args)) as jobs:
        sections = jobs.plan(Job(args.instruction, target))
    if args.json:
        print(json.dumps({"target_words": target, "sections": [
            {"title": s.heading, "main_point": s.main_point, "target_words": s.target_words}
            for s in sections]}, ensure_ascii=False, indent=2))
    else:
        for i, s in enumerate(sections, 1):
            print(f"Paragraph {i} - Main Point: {s.main_point} - Word Count: {s.target_words} words")
    return 0


def _levels_args(p):
    p.add_argument("--levels", choices=["auto", "1", "2"], default="auto",
                   help=f"1: one flat plan; 2: chapters, then scenes; auto (default): 2 from "
                        f"{BM.BOOK_THRESHOLD:,} words or when the instruction asks for chapters")
    p.add_argument("--codex", metavar="FILE.json",
                   help="codex entries (characters, places, objects, lore) for a two-level book; kept in "
                        "the project")


def _plan_args(p):
    p.add_argument("instruction", help="what to write")
    p.add_argument("--words", type=int, help="target length in words (default: read from the instruction)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--scenes", action="store_true",
                   help="two levels: plan every chapter's scenes now (default: just before it is written)")
    _levels_args(p)
    _add_model_args(p)


plan_cmd.add_arguments = _plan_args  # type: ignore[attr-defined]
command("plan", "make an outline (sections with main points and word targets)")(plan_cmd)


def write_cmd(args) -> int:
    started = time.perf_counter()
    from ..core.export import check_writable
    if args.out:
        check_writable(args.out)
    config = engine_config(args)
    codex = None
    if args.codex:
        from ..core.engine.codex import load_codex
        codex = load_codex(args.codex)        # a bad file fails here, before anything is opened
    project = _open_project(args)
    book = BM.is_book(project) or (not project.sections and
                                  _two_levels(args, project.instruction, project.target_words))
    if book and not args.quiet:
        for problem in BM.check_totals(project):     # shown, never rescaled over the user's numbers
            print(f"note: {problem}", file=sys.stderr)
    if codex is not None:
        added = project.codex.merge(codex)
        if not args.quiet:
            print(f"codex: {added} entries from {args.codex} (kept in the project)", file=sys.stderr)
    jobs = JobRunner()
    try:
        validate_request(project.instruction, project.target_words)
        # the engine: the options given > what the project remembers > the defaults; the
        # project remembers the engine it is written with from now on (never the API key)
        backend = jobs.start(project, config, given=_given(args))
    except BaseException:
        project.close()
        raise
    cancel = CancelToken()
    _install_sigint(cancel)
    progress = Progress(project, quiet=args.quiet, started=started)
    autosave = Autosave(project, on_error=lambda err: print(f"warning: autosave failed: {err}",
                                                            file=sys.stderr))

    try:
        info = backend.info
        if not args.quiet:
            print(f"model: {info.model}{' (demo)' if info.demo else ''} | {info.name} on {info.device} | "
                  f"context {info.n_ctx} | {info.prompt_style} prompts", file=sys.stderr)
            for note in info.notes:
                print(f"note: {note}", file=sys.stderr)
        stats = jobs.write(project, book=book, on_event=_BookProgress(progress) if book else progress,
                           cancel=cancel, autosave=autosave)
    except BaseException:
        project.close()
        raise
    finally:
        jobs.close()
    if project.path is not None:
        try:
            project.save()
        finally:
            project.close()
    _output(args, project, stats, backend, book, started)
    return 130 if cancel.cancelled else 0


def _open_project(args) -> Project:
    """The project to write: the --project file when it exists (resumed), else a new one."""
    project: Project
    if args.project and Path(args.project).exists():
        project = Project.open(args.project)   # takes the lock: one writer per project
        for warning in project.warnings:
            print(f"warning: {args.project}: {warning}", file=sys.stderr)
        if args.instruction and args.instruction.strip() != project.instruction.strip():
            project.close()
            raise LonghandError(f"{args.project} holds another job; use a new project file.")
        remembered = {k: v for k, v in project.settings.items() if k in _REMEMBERED}
        if remembered and not args.quiet:
            print(f"using the project's engine settings ({', '.join(sorted(remembered))}); "
                  "options on the command line override them", file=sys.stderr)
        where = project.resume_point()
        print(f"resuming {args.project}: {project.words}/{project.target_words} words written"
              + (f"; continuing section {where[0] + 1} from {where[1]} words" if where else ""),
              file=sys.stderr)
    else:
        if not args.instruction:
            raise LonghandError("The instruction is empty: say what to write.")
        target = _words(args, args.instruction)
        validate_request(args.instruction, target)
        project = Project(instruction=args.instruction.strip(), target_words=target)
        if args.project:
            project.path = Path(args.project)
            project.lock()
            project.save()     # the file exists from the start: rerunning resumes
    return project


def _output(args, project: Project, stats, backend, book: bool, started: float) -> None:
    """The text: exported to --out, in the JSON summary (--json), or on stdout."""
    if args.out:
        from ..core.export import export
        export(project, args.out)
        if not args.quiet:
            print(f"wrote {args.out} ({project.words} words)", file=sys.stderr)
    if args.json:
        out = _summary(project, stats, backend)
        out["total_seconds"] = round(time.perf_counter() - started, 2)   # model load and plan included
        if book:
            out["chapters"] = _chapters_json(project)
            out["codex_proposed"] = [e.name for e in project.codex.proposed]
        if not args.out:
            out["text"] = project.text()
        print(json.dumps(out, ensure_ascii=False, indent=2))
    elif not args.out:
        sys.stdout.write(project.text())


def _write_args(p):
    p.add_argument("instruction", nargs="?", default="", help="what to write")
    p.add_argument("--words", type=int, help="target length in words (default: read from the instruction)")
    p.add_argument("--out", metavar="FILE", help="write the text to FILE (.md, .txt, .docx, .pdf)")
    p.add_argument("--project", metavar="FILE.longhand",
                   help="keep the job in a project file (autosaved; rerun to resume)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout at the end")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _levels_args(p)
    _add_model_args(p)


class _BookProgress:
    """Progress for two-level books: chapter milestones; scene events go to ``Progress``."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def __call__(self, e) -> None:
        quiet = self.progress.quiet
        if isinstance(e, PlanReady):
            self.progress.tracker(e)        # the chapter's scenes: listed by ChapterPlanned
            return
        if isinstance(e, EV.BookPlanReady) and not quiet:
            print(f"book plan: {len(e.chapters)} chapters ({e.how})", file=sys.stderr)
            for i, ch in enumerate(e.chapters, 1):
                print(f"  {i:>3}. [{ch.target_words:>6} words] {ch.title}: {ch.synopsis}", file=sys.stderr)
        elif isinstance(e, EV.ChapterPlanned) and not quiet:
            job = self.progress.project
            print(f"chapter {e.chapter + 1}: {len(e.scenes)} scenes ({e.how})", file=sys.stderr)
            for i in e.scenes:
                s = job.sections[i]
                print(f"       [{s.target_words:>5} words] {s.main_point}", file=sys.stderr)
        elif isinstance(e, EV.ChapterDone) and not quiet:
            print(f"chapter {e.chapter + 1} done: {e.words}/{e.target_words} words"
                  + (f" (short: {e.short})" if e.short else "")
                  + (f"; new names: {', '.join(x.name for x in e.proposed)}" if e.proposed else ""),
                  file=sys.stderr)
        self.progress(e)


write_cmd.add_arguments = _write_args  # type: ignore[attr-defined]
command("write", "plan and write a long text, section by section")(write_cmd)
