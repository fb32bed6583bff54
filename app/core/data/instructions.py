"""Core: the instructions file of a batch (JSON Lines), read line by line, never all-or-nothing.

One JSON object a line::

    {"id": "story-001", "instruction": "Write a story about ...", "target_words": 1200}

* ``instruction`` is required (``prompt``, LongBench-Write's name, is read as well);
* ``target_words`` is optional (``length``, LongBench-Write's name, and ``words`` too); without
  it the target is read from the instruction ("a 2000-word story"), else ``default_words``;
  only jobs whose target was given (in a field or in the instruction) count in S_l;
* ``id`` is optional; without it a stable id is made from the instruction text, so rerunning
  the same file finds the same jobs again (resume).

A broken line (not JSON, not an object, no instruction, a bad target, a repeated id) is
reported with its line number and the others go on, unless ``strict`` is set. Unknown fields
are ignored with one warning per field name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LonghandError
from ..text.wordcount import target_from_instruction

MIN_TARGET = 50
MAX_TARGET = 200_000

INSTRUCTION_KEYS = ("instruction", "prompt")
TARGET_KEYS = ("target_words", "length", "words")
KNOWN_KEYS = ("id",) + INSTRUCTION_KEYS + TARGET_KEYS
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class InstructionsError(LonghandError):
    """The instructions file cannot be used (missing, unreadable, or a bad line with --strict)."""


@dataclass
class Instruction:
    id: str
    instruction: str
    target_words: int
    target_given: bool      # stated in a field or in the instruction (counts in S_l)
    line: int

    @property
    def file_stem(self) -> str:
        """A file name for this job's project: the id when it is safe, else a hash of it."""
        if _SAFE_ID.match(self.id):
            return self.id
        return "job-" + hashlib.sha1(self.id.encode("utf-8")).hexdigest()[:16]


@dataclass
class ReadResult:
    instructions: list[Instruction] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)    # broken lines (skipped)
    warnings: list[str] = field(default_factory=list)    # unknown fields (ignored)


def make_id(instruction: str) -> str:
    return "i-" + hashlib.sha1(" ".join(instruction.split()).encode("utf-8")).hexdigest()[:12]


def read_instructions(path: str | os.PathLike, *, strict: bool = False,
                      default_words: int = 1000) -> ReadResult:
    """Read an instructions file; see the module docstring for the rules."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InstructionsError(f"Instructions file not found: {p}") from None
    except IsADirectoryError:
        raise InstructionsError(f"{p} is a folder, not an instructions file.") from None
    except OSError as e:
        raise InstructionsError(f"Cannot read {p}: {e.strerror or e}") from e
    return parse_instructions(raw.decode("utf-8", errors="replace").lstrip("\ufeff"),
                              name=p.name, strict=strict, default_words=default_words)


def parse_instructions(text: str, *, name: str = "instructions", strict: bool = False,
                       default_words: int = 1000) -> ReadResult:
    result = ReadResult()
    seen_ids: dict[str, int] = {}
    warned: set[str] = set()

    def problem(lineno: int, message: str) -> None:
        msg = f"{name}, line {lineno}: {message}"
        if strict:
            raise InstructionsError(msg + " (stopped: --strict)")
        result.problems.append(msg + "; line skipped.")

    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problem(lineno, f"not valid JSON ({e.msg} at column {e.colno})")
            continue
        if not isinstance(obj, dict):
            problem(lineno, f"expected a JSON object, found {type(obj).__name__}")
            continue
        result.warnings += _unknown_fields(obj, warned, name, lineno)
        instruction = next((obj[k] for k in INSTRUCTION_KEYS if k in obj), None)
        if not isinstance(instruction, str) or not instruction.strip():
            problem(lineno, "no instruction (an 'instruction' field with text is required)")
            continue
        instruction = instruction.strip()
        target = _read_target(obj, instruction, default_words)
        if isinstance(target, str):
            problem(lineno, target)
            continue
        job_id = _read_id(obj, instruction, seen_ids)
        if job_id is None:
            problem(lineno, f"'id' should be a non-empty text (found {obj['id']!r})")
            continue
        if job_id in seen_ids:
            problem(lineno, f"id {job_id!r} was already used on line {seen_ids[job_id]}")
            continue
        seen_ids[job_id] = lineno
        result.instructions.append(Instruction(job_id, instruction, target[0], target[1], lineno))
    return result


def _unknown_fields(obj: dict, warned: set[str], name: str, lineno: int) -> list[str]:
    """A warning for each unknown field not warned about yet (added to ``warned``)."""
    out = []
    for k in obj:
        if k not in KNOWN_KEYS and k not in warned:
            warned.add(k)
            out.append(f"{name}: unknown field '{k}' ignored (first seen on line "
                       f"{lineno}; known: {', '.join(KNOWN_KEYS)}).")
    return out


def _read_target(obj: dict, instruction: str, default_words: int) -> tuple[int, bool] | str:
    """(target, given) of an instruction line, or what is wrong with its target field. No
    target field: the number the instruction states, else ``default_words`` (not given)."""
    target_key = next((k for k in TARGET_KEYS if k in obj), None)
    if target_key is not None:
        target = _as_count(obj[target_key])
        if target is None or not (MIN_TARGET <= target <= MAX_TARGET):
            return (f"'{target_key}' should be a number of words between {MIN_TARGET} "
                    f"and {MAX_TARGET:,} (found {obj[target_key]!r})")
        return target, True
    stated = target_from_instruction(instruction)
    if stated is not None and MIN_TARGET <= stated <= MAX_TARGET:
        return stated, True
    return default_words, False


def _read_id(obj: dict, instruction: str, seen_ids: dict[str, int]) -> str | None:
    """The job's id: the line's own (None when it is not usable), else one made from the
    instruction (the same instruction twice: two jobs)."""
    if "id" in obj:
        job_id = obj["id"]
        if isinstance(job_id, (int, float)) and not isinstance(job_id, bool):
            job_id = str(job_id)
        if not isinstance(job_id, str) or not job_id.strip():
            return None
        return job_id.strip()
    job_id = make_id(instruction)
    n = 2
    base = job_id
    while job_id in seen_ids:          # the same instruction twice: two jobs
        job_id = f"{base}-{n}"
        n += 1
    return job_id


def _as_count(v) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.replace(",", "").strip())
        except ValueError:
            return None
    return None
