"""CLI: ``longhand plan`` and ``longhand write``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from ..core.backends.base import MAX_CONTEXT
from ..core.engine.progress import ProgressTracker, format_duration
from ..core.engine.session import EngineConfig, JobSession
from ..core.engine.writer import (
    JobDone,
    PlanReady,
    SectionDone,
    SectionStarted,
    SectionToken,
    validate_request,
)
from ..core.errors import CancelToken, LonghandError
from ..core.projects.autosave import Autosave
from ..core.projects.project import Project
from ..core.text.wordcount import target_from_instruction
from . import command


def _add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", metavar="PATH", help="GGUF model file (default: LONGHAND_MODEL, else the demo model)")
    g.add_argument("--backend", choices=["llama", "openai"], default=None,
                   help="llama: in-process llama.cpp (default); openai: an OpenAI-compatible server")
    g.add_argument("--base-url", help="server URL for --backend openai (e.g. http://127.0.0.1:8080/v1)")
    g.add_argument("--remote-model", "--model-name", dest="remote_model", help="model name on the server")
    g.add_argument("--api-key", help="API key for the server (or OPENAI_API_KEY)")
    g.add_argument("--format", dest="format_name",
                   help="prompt format: longwriter-llama3, longwriter-glm4, completion (default: from the GGUF)")
    g.add_argument("--ctx", type=int, help="context length in tokens, kept for the whole job (default: sized to "
                   f"the job, at most {MAX_CONTEXT}; longer books carry earlier sections as summaries)")
    g.add_argument("--gpu-layers", default="auto", help="layers to offload to the GPU: auto or a number")
    g.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    g.add_argument("--seed", type=int, help="random seed, for reproducible text")
    g.add_argument("--temperature", type=float, help="sampling temperature (default: per model family)")


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
    try:
        layers = args.gpu_layers if args.gpu_layers == "auto" else int(args.gpu_layers)
    except ValueError:
        raise LonghandError(f"--gpu-layers must be 'auto' or a number (got {args.gpu_layers!r}).") from None
    return EngineConfig(model=args.model, backend=args.backend or "llama", base_url=args.base_url,
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

    def __init__(self, project: Project, quiet: bool = False) -> None:
        self.project = project
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
            print(("\r" + line) if self.tty else line, file=sys.stderr, flush=True)
        elif isinstance(e, JobDone):
            s = e.stats
            state = "cancelled" if e.cancelled else "done"
            print(f"{state}: {s.words}/{s.target_words} words in {s.seconds:.1f} s, "
                  f"{s.generated_tokens} tokens generated at {s.tokens_per_s:.1f} tok/s, "
                  f"{s.prompt_tokens_evaluated} prompt tokens evaluated", file=sys.stderr)


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
                      "words": s.words, "status": s.status} for s in project.sections],
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

def plan_cmd(args) -> int:
    validate_request(args.instruction, _words(args, args.instruction))
    target = _words(args, args.instruction)
    with JobSession(engine_config(args)) as session:
        sections = session.plan(args.instruction, target)
    if args.json:
        print(json.dumps({"target_words": target, "sections": [
            {"title": s.heading, "main_point": s.main_point, "target_words": s.target_words}
            for s in sections]}, ensure_ascii=False, indent=2))
    else:
        for i, s in enumerate(sections, 1):
            print(f"Paragraph {i} - Main Point: {s.main_point} - Word Count: {s.target_words} words")
    return 0


def _plan_args(p):
    p.add_argument("instruction", help="what to write")
    p.add_argument("--words", type=int, help="target length in words (default: read from the instruction)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    _add_model_args(p)


plan_cmd.add_arguments = _plan_args
command("plan", "make an outline (sections with main points and word targets)")(plan_cmd)


def write_cmd(args) -> int:
    from ..core.export import check_writable, export
    if args.out:
        check_writable(args.out)
    config = engine_config(args)
    project: Project
    if args.project and Path(args.project).exists():
        project = Project.open(args.project)   # takes the lock: one writer per project
        for warning in project.warnings:
            print(f"warning: {args.project}: {warning}", file=sys.stderr)
        if args.instruction and args.instruction.strip() != project.instruction.strip():
            project.close()
            raise LonghandError(f"{args.project} holds another job; use a new project file.")
        remembered = {k: v for k, v in project.settings.items() if k in _REMEMBERED}
        config = config.with_project(project.settings, overridden=_given(args))
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
    session = JobSession(config)
    try:
        validate_request(project.instruction, project.target_words)
        backend = session.open(project.target_words)
    except BaseException:
        project.close()
        raise
    cancel = CancelToken()
    _install_sigint(cancel)
    progress = Progress(project, quiet=args.quiet)
    autosave = Autosave(project, on_error=lambda err: print(f"warning: autosave failed: {err}",
                                                            file=sys.stderr))

    try:
        info = backend.info
        if not args.quiet:
            print(f"model: {info.model}{' (demo)' if info.demo else ''} | {info.name} on {info.device} | "
                  f"context {info.n_ctx} | {info.prompt_style} prompts", file=sys.stderr)
            for note in info.notes:
                print(f"note: {note}", file=sys.stderr)
        # the project remembers the engine it is written with (never the API key)
        project.settings = {**project.settings, **config.to_project(info)}
        stats = session.run(project, on_event=progress, cancel=cancel, autosave=autosave)
    except BaseException:
        project.close()
        raise
    finally:
        session.close()
    if project.path is not None:
        try:
            project.save()
        finally:
            project.close()
    if args.out:
        export(project, args.out)
        if not args.quiet:
            print(f"wrote {args.out} ({project.words} words)", file=sys.stderr)
    if args.json:
        out = _summary(project, stats, backend)
        if not args.out:
            out["text"] = project.text()
        print(json.dumps(out, ensure_ascii=False, indent=2))
    elif not args.out:
        sys.stdout.write(project.text())
    return 130 if cancel.cancelled else 0


def _write_args(p):
    p.add_argument("instruction", nargs="?", default="", help="what to write")
    p.add_argument("--words", type=int, help="target length in words (default: read from the instruction)")
    p.add_argument("--out", metavar="FILE", help="write the text to FILE (.md, .txt, .docx, .pdf)")
    p.add_argument("--project", metavar="FILE.longhand",
                   help="keep the job in a project file (autosaved; rerun to resume)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout at the end")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    _add_model_args(p)


write_cmd.add_arguments = _write_args
command("write", "plan and write a long text, section by section")(write_cmd)
