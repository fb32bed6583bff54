"""Core: training data from projects, in the layouts trainers read.

* **SFT** (TRL's SFTTrainer, LLaMA-Factory's OpenAI/sharegpt layout): one JSON object a line,
  ``{"messages": [{"role": "user", "content": INSTRUCTION}, {"role": "assistant", "content":
  TEXT}], "id", "target_words", "words", "plan": [{"main_point", "target_words", "words"}]}``.
  With ``steps=True`` the AgentWrite steps follow as records of their own (``"step": "plan"``,
  then ``"step": "write"`` per section), each with the prompt the step used as its user turn.
* **DPO** (TRL's DPOTrainer, standard layout): for every section with earlier takes, one pair
  per distinct take: ``{"prompt": the write prompt of that section, "chosen": the text kept,
  "rejected": the take}``. A section edited by hand keeps the model's original among its takes
  (the editor pushes it there), so the hand-edited text is chosen over it. A pair is made
  only when the chosen text is healthy: not a section the health check gave up on, passing
  the health check, with no refusal or assistant chatter (:func:`.quality.judge_text`).

Prompts are rebuilt with :func:`prompts.write_prompt` as the engine builds them, in the
prompt format the job was written with (``settings["format_name"]``, kept with the project;
LongWriter's chat wording when unknown), and rendered without a model's special tokens (a
trainer adds its own template). Earlier sections are carried verbatim, as the engine does
within its context window; for novel-length jobs, where the engine carried summaries of old
sections, the rebuilt prompt is the longer, verbatim one; for the scenes of two-level books
(chapters), it is the one-level write prompt, not the scene prompt the book writer used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Iterator

from ..backends.formats import FORMATS, PromptFormat
from ..engine.plan import DONE, EDITED, plan_as_text
from ..engine.prompts import plan_prompt, with_bible, write_prompt
from ..errors import LonghandError
from ..fileio import atomic_write_text
from ..projects.lock import ProjectError
from ..projects.project import SUFFIX, Project
from ..text.language import detect_language
from .quality import judge_project, judge_text

KINDS = ("sft", "dpo")
DEFAULT_FORMAT = "longwriter-llama3"


class TrainingExportError(LonghandError):
    """Training data cannot be exported (bad source, nothing to export, unwritable output)."""


def project_format(project: Project) -> PromptFormat:
    settings = project.settings if isinstance(project.settings, dict) else {}
    name = settings.get("format_name") or settings.get("format")
    return FORMATS[name] if isinstance(name, str) and name in FORMATS else FORMATS[DEFAULT_FORMAT]


def render(fmt: PromptFormat, prompt) -> str:
    """A prompt as text: for chat formats the user turn (no special tokens) followed by the
    answer so far (the text written before, under its headings); the document for completion
    formats (what a base model continues)."""
    if fmt.style == "chat":
        answer = "".join(prompt.answer).strip()
        return "".join(prompt.user) + (f"\n\n{answer}" if answer else "")
    return prompt.text()


def section_prompt(project: Project, index: int, fmt: PromptFormat | None = None) -> str:
    """The write prompt of ``sections[index]``, rebuilt as the engine built it."""
    fmt = fmt or project_format(project)
    context = [s.text for s in project.sections[:index]]
    request = with_bible(project.instruction, project.bible)
    return render(fmt, write_prompt(fmt, request, project.sections, index, context,
                                    lang=detect_language(project.instruction)))


def _plan_meta(project: Project) -> list[dict]:
    return [{"main_point": s.main_point, "target_words": s.target_words, "words": s.words}
            for s in project.sections]


def sft_record(project: Project, *, job_id: str | None = None, **meta) -> dict:
    """The whole job as one chat example: instruction -> the text."""
    rec = {"messages": [{"role": "user", "content": project.instruction},
                        {"role": "assistant", "content": project.text().strip()}],
           "id": job_id or project_id(project),
           "target_words": project.target_words,
           "words": project.words,
           "plan": _plan_meta(project)}
    rec.update(meta)
    return rec


def step_records(project: Project, *, job_id: str | None = None) -> list[dict]:
    """AgentWrite's steps as separate chat examples: the plan, then each section's write."""
    job_id = job_id or project_id(project)
    fmt = project_format(project)
    plan_fmt = fmt if fmt.style == "chat" else FORMATS[DEFAULT_FORMAT]
    out: list[dict] = [{"messages": [
        {"role": "user", "content": render(plan_fmt, plan_prompt(plan_fmt, project.instruction,
                                                                  project.target_words,
                                                                  len(project.sections)))},
        {"role": "assistant", "content": plan_as_text(project.sections)}],
        "id": job_id, "step": "plan"}]
    for i, sec in enumerate(project.sections):
        if not sec.text.strip():
            continue
        out.append({"messages": [{"role": "user", "content": section_prompt(project, i, fmt)},
                                 {"role": "assistant", "content": sec.text.strip()}],
                    "id": job_id, "step": "write", "section": i + 1,
                    "target_words": sec.target_words, "words": sec.words})
    return out


def dpo_pairs(project: Project, *, job_id: str | None = None) -> list[dict]:
    """A pair per distinct earlier take of every finished section: chosen = the kept text."""
    job_id = job_id or project_id(project)
    pairs = []
    lang = detect_language(project.instruction)
    for i, sec in enumerate(project.sections):
        chosen = sec.text.strip()
        if not chosen or sec.status not in (DONE, EDITED) or not sec.takes:
            continue
        if sec.needs_attention or not judge_text(chosen, lang, project.instruction).ok:
            continue            # a trainer must not be taught to prefer it
        prompt = section_prompt(project, i)
        seen = {_norm(chosen)}
        for j, take in enumerate(sec.takes):
            rejected = take.strip()
            if not rejected or _norm(rejected) in seen:
                continue
            seen.add(_norm(rejected))
            pairs.append({"prompt": prompt, "chosen": chosen, "rejected": rejected,
                          "id": f"{job_id}/s{i + 1}/t{j + 1}", "section": i + 1,
                          "edited": sec.status == EDITED})
    return pairs


def _norm(text: str) -> str:
    return " ".join(text.split())


def project_id(project: Project) -> str:
    if project.path is not None:
        return Path(project.path).stem
    return project.title or "project"


# ---------------------------------------------------------------------------------------
# From files and folders

def project_files(source: str | os.PathLike) -> list[Path]:
    """``source`` itself, or every project under a folder (sorted, recursive)."""
    p = Path(source).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.rglob(f"*{SUFFIX}") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise TrainingExportError(f"No {SUFFIX} projects in {p}.")
        return files
    if not p.exists():
        raise TrainingExportError(f"Project file not found: {p}")
    return [p]


def training_records(sources: Iterable[str | os.PathLike], kind: str, *, steps: bool = False,
                     keep_short: bool = False, notes: list[str] | None = None) -> Iterator[dict]:
    """Records of ``kind`` ("sft" or "dpo") from project files and folders.

    Unreadable projects and unfinished ones (for SFT) are skipped with a note in ``notes``;
    so are, for SFT, answers that do not pass :func:`.quality.judge_project` (short, given up
    by the health check, refusal or chatter) unless ``keep_short``: then their record carries
    its ``reasons``.
    """
    if kind not in KINDS:
        raise TrainingExportError(f"Unknown kind of training data {kind!r}; choose sft or dpo.")
    notes = notes if notes is not None else []
    for source in sources:
        for path in project_files(source):
            try:
                project = Project.load(path)
            except ProjectError as e:
                notes.append(f"{path}: skipped ({e})")
                continue
            for w in project.warnings:
                notes.append(f"{path}: {w}")
            if kind == "sft":
                if not project.finished:
                    notes.append(f"{path}: skipped, not finished ({project.words}/"
                                 f"{project.target_words} words).")
                    continue
                verdict = judge_project(project)
                if not verdict.ok and not keep_short:
                    notes.append(f"{path}: skipped ({'; '.join(verdict.reasons[:3])}); --keep-short "
                                 f"includes it.")
                    continue
                extra: dict = {} if verdict.ok else {"reasons": verdict.reasons}
                yield sft_record(project, **extra)
                if steps:
                    yield from step_records(project)
            else:
                yield from dpo_pairs(project)


def write_jsonl(records: Iterable[dict], out: str | os.PathLike) -> int:
    """Write records as JSON Lines, atomically. Returns how many."""
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    atomic_write_text(out, "".join(line + "\n" for line in lines))
    return len(lines)


def check_jsonl_output(out: str | os.PathLike) -> Path:
    p = Path(out).expanduser()
    if p.suffix.lower() not in (".jsonl", ".json"):
        raise TrainingExportError(f"Training data is written as JSON Lines: name the output "
                                  f"*.jsonl (got {p.name}).")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise TrainingExportError(f"Cannot write {p}: folder {parent} does not exist.")
    if p.is_dir() or not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise TrainingExportError(f"Cannot write {p}: permission denied or it is a folder.")
    return p


def export_training(sources: Iterable[str | os.PathLike], kind: str, out: str | os.PathLike, *,
                    steps: bool = False, keep_short: bool = False) -> tuple[int, list[str]]:
    """Export ``kind`` records from projects to ``out``; returns (records written, notes)."""
    p = check_jsonl_output(out)
    notes: list[str] = []
    n = write_jsonl(training_records(list(sources), kind, steps=steps, keep_short=keep_short, notes=notes), p)
    return n, notes


def project_records(project: Project, kind: str, *, steps: bool = False) -> list[dict]:
    """The records of ``kind`` for one (open) project: what the GUI exports."""
    if kind == "dpo":
        return dpo_pairs(project)
    if kind == "sft":
        return [sft_record(project)] + (step_records(project) if steps else [])
    raise TrainingExportError(f"Unknown kind of training data {kind!r}; choose sft or dpo.")
