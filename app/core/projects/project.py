"""Core: Longhand project files, the place a novel lives for weeks.

A project is one JSON file (``*.longhand``), indented so a person can read and diff it::

    {
      "format": "longhand-project", "version": 1,
      "title": ..., "author": ..., "contact": ...,
      "instruction": ..., "target_words": ..., "bible": ..., "settings": {...},
      "sections": [{"main_point", "target_words", "title", "text", "status", "locked",
                    "takes", "summary", "needs_attention"}, ...]
    }

Safety rules, in the order they matter:

* Saves are atomic (:func:`fileio.atomic_write_text`: temp file, fsync, replace), so the file
  on disk is always a whole project, the previous one or the new one.
* Loading never crashes: wrong types, missing fields, unknown keys and truncated JSON are
  repaired where possible and listed in :attr:`Project.warnings`; only a file that is not a
  project at all, or one written by a newer Longhand, raises :class:`ProjectError`.
* Nothing the user wrote is destroyed silently: when a file needed repairs, the first save
  keeps the original beside it (``name.longhand.orig-YYYYmmdd-HHMMSS``); a file changed on
  disk by another program is kept the same way (``.conflict-…``) before being overwritten.
* A lock file (``name.longhand.lock`` with the owner's PID) stops two Longhand processes
  from opening one project; a lock whose process is gone is stale and taken over.

Older format versions are upgraded by :func:`migrate`, one step per version.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from ..engine.book_model import BookJob, Chapter
from ..engine.codex import Codex
from ..engine.plan import DEFAULT_SECTION_WORDS, Section
from ..engine.status import SectionStatus
from ..fileio import atomic_write_bytes
from ..text.wordcount import target_from_instruction
from .lock import ProjectError, ProjectLock

FORMAT_NAME = "longhand-project"
FORMAT_VERSION = 2      # 2: chapters, codex (novels in two levels, issue 12)
SUFFIX = ".longhand"

_TOP_HANDLED = ("title", "author", "contact", "instruction", "target_words", "bible", "settings", "sections",
                "chapters", "codex")
_NOT_SAVED = ("path", "warnings")
# Every field of the engine's Section is saved, including ones added after this module was
# written (read back by type, see _Reader.extra): no field is ever dropped on save.
SECTION_KEYS = tuple(f.name for f in fields(Section))
_SECTION_HANDLED = ("main_point", "target_words", "title", "text", "status", "locked", "takes", "summary",
                    "needs_attention")


# ---------------------------------------------------------------------------------------
# Format versions: each step upgrades data of version N to N + 1, in place of the old keys.
# Add a step here (and bump FORMAT_VERSION) whenever the format changes; never edit a step.

def _v1_to_v2(data: dict) -> dict:
    """v2 adds chapters (each section may name its chapter) and the codex. A v1 project is
    a one-level plan: no chapters, an empty codex; its story bible stays the bible."""
    data.setdefault("chapters", [])
    data.setdefault("codex", {"entries": [], "proposed": []})
    return data


MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2}


def migrate(data: dict) -> dict:
    """Bring project data of any older version up to FORMAT_VERSION, step by step."""
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProjectError(f"This project has an unreadable format version ({version!r}).")
    if version > FORMAT_VERSION:
        raise ProjectError(f"This project was saved by a newer Longhand (format version {version}, "
                           f"this Longhand reads up to {FORMAT_VERSION}); please update Longhand "
                           f"to open it. The file was not changed.")
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ProjectError(f"Format version {version} is not one Longhand knows how to upgrade.")
        data = step(dict(data))
        version += 1
        data["version"] = version
    return data


# ---------------------------------------------------------------------------------------
# Tolerant reading: every field is checked and coerced; what cannot be used is reported.

class _Reader:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def text(self, obj: dict, key: str, where: str, default: str = "") -> str:
        if key not in obj or obj[key] is None:
            return default
        v = obj[key]
        if isinstance(v, str):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            self.warn(f"{where}: '{key}' was a number, read as text.")
            return str(v)
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            self.warn(f"{where}: '{key}' was a list of lines, joined.")
            return "\n".join(v)
        self.warn(f"{where}: '{key}' is not text and was not loaded.")
        return default

    def count(self, obj: dict, key: str, where: str, default: int) -> int:
        if key not in obj:
            return default
        v = obj[key]
        if isinstance(v, bool):
            v = None
        if isinstance(v, str):
            try:
                v = int(v.replace(",", "").strip())
            except ValueError:
                v = None
        if isinstance(v, float) and v == v and abs(v) < 1e12:
            v = int(v)
        if isinstance(v, int) and 0 < v <= 10_000_000:
            return v
        self.warn(f"{where}: '{key}' should be a positive number (found {_short(obj[key])}); "
                  f"using {default}.")
        return default

    def flag(self, obj: dict, key: str, where: str) -> bool:
        v = obj.get(key, False)
        if isinstance(v, bool):
            return v
        if v in (0, 1, "true", "false", "yes", "no"):
            return v in (1, "true", "yes")
        self.warn(f"{where}: '{key}' should be true or false (found {_short(v)}); using false.")
        return False

    def section(self, obj: Any, i: int) -> Section | None:
        where = f"section {i + 1}"
        if isinstance(obj, str):
            self.warn(f"{where} was plain text; loaded as a finished section without a plan line.")
            return Section(main_point="", target_words=max(1, _words(obj)), text=obj, status=SectionStatus.DONE)
        if not isinstance(obj, dict):
            self.warn(f"{where} is not a section ({_short(obj)}) and was skipped.")
            return None
        for k in obj:
            if k not in SECTION_KEYS:
                self.warn(f"{where}: unknown key '{k}' ignored.")
        text = self.text(obj, "text", where)
        sec = Section(main_point=self.text(obj, "main_point", where),
                      target_words=self.count(obj, "target_words", where,
                                              max(1, _words(text)) if text else DEFAULT_SECTION_WORDS),
                      title=self.text(obj, "title", where),
                      text=text,
                      locked=self.flag(obj, "locked", where),
                      summary=self.text(obj, "summary", where),
                      # the health check gave up on this section (older files: false)
                      needs_attention=self.flag(obj, "needs_attention", where))
        status = SectionStatus.parse(obj.get("status", SectionStatus.default(bool(text))))
        if status is None:
            status = SectionStatus.default(bool(text))
            self.warn(f"{where}: unknown status {_short(obj.get('status'))}; using {status}.")
        sec.status = status
        takes = obj.get("takes", [])
        if not isinstance(takes, list):
            takes = [takes] if isinstance(takes, str) else []
            self.warn(f"{where}: 'takes' should be a list; kept what was text.")
        for j, t in enumerate(takes):
            if isinstance(t, str):
                sec.takes.append(t)
            else:
                self.warn(f"{where}: take {j + 1} is not text and was not loaded.")
        self.extra(sec, obj, _SECTION_HANDLED, where)
        return sec

    def extra(self, target: Any, obj: dict, handled: tuple[str, ...], where: str) -> None:
        """Fields without a dedicated reader: taken when their type matches the default's."""
        for f in fields(target):
            if f.name in handled or f.name not in obj or not f.init:
                continue
            default = f.default if f.default is not MISSING else (
                f.default_factory() if f.default_factory is not MISSING else None)
            value = obj[f.name]
            if default is None or type(value) is type(default):
                setattr(target, f.name, value)
            else:
                self.warn(f"{where}: '{f.name}' has the wrong type ({_short(value)}) and was not loaded.")


def _words(text: str) -> int:
    from ..text.wordcount import count_words
    return count_words(text)


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


def _salvage_json(raw: str) -> Any:
    """Best effort for damaged JSON (a truncated or hand-broken file): close what is open.

    Tries, from the end of the file backwards, to cut at a value boundary and close the
    open strings, arrays and objects. Returns the parsed data or raises ValueError.
    """
    scan = _JsonScan()
    for pos, ch in enumerate(raw):
        if scan.in_str:
            scan.string_char(ch)
            continue
        seen = scan.char(pos, ch)
        if seen == "whole":
            return json.loads(raw[: pos + 1])
        if seen == "mismatch":
            break                      # mismatched bracket: only cuts before this point
    else:
        scan.at_end(raw)
    for pos, closers, _ in reversed(scan.cuts[-200:]):
        try:
            return json.loads(raw[:pos] + closers)
        except ValueError:
            continue
    raise ValueError("nothing could be recovered")


class _JsonScan:
    """Where damaged JSON could be cut and closed, read one character at a time."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.in_str = self.esc = False
        self.cuts: list[tuple[int, str, bool]] = []    # (position, closers, inside a string)

    def closers(self) -> str:
        return "".join(reversed(self.stack))

    def string_char(self, ch: str) -> None:
        if self.esc:
            self.esc = False
        elif ch == "\\":
            self.esc = True
        elif ch == '"':
            self.in_str = False

    def char(self, pos: int, ch: str) -> str | None:
        """A character outside strings; "whole": a complete value ends here, "mismatch": a
        bracket that closes nothing open."""
        if ch == '"':
            self.in_str = True
        elif ch in "{[":
            self.stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if not self.stack or self.stack[-1] != ch:
                return "mismatch"
            self.stack.pop()
            if not self.stack:
                return "whole"
            self.cuts.append((pos + 1, self.closers(), False))
        elif ch == ",":
            self.cuts.append((pos, self.closers(), False))
        return None

    def at_end(self, raw: str) -> None:
        """Ran to the end: maybe a string or value was cut mid-way."""
        tail = raw.rstrip()
        if self.in_str and not self.esc:
            self.cuts.append((len(raw), '"' + self.closers(), True))
        elif tail and tail[-1] not in ",:{[" and self.stack:
            self.cuts.append((len(tail), self.closers(), False))


# ---------------------------------------------------------------------------------------

@dataclass
class Project(BookJob):
    title: str = ""
    author: str = ""
    contact: str = ""               # address / e-mail lines for the manuscript's title page
    settings: dict = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    warnings: list[str] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._lock: ProjectLock | None = None
        self._disk_sig: tuple | None = None
        self._original: bytes | None = None    # the damaged file as loaded, kept on first save

    # -- (de)serialising -------------------------------------------------------------------

    def to_dict(self) -> dict:
        data = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "title": self.title,
            "author": self.author,
            "contact": self.contact,
            "instruction": self.instruction,
            "target_words": self.target_words,
            "bible": self.bible,
            "settings": self.settings,
        }
        for f in fields(self):          # fields the engine's Job gains later are saved too
            if f.name not in data and f.name not in _NOT_SAVED:
                data[f.name] = getattr(self, f.name)
        data["chapters"] = [ch.to_dict() for ch in self.chapters]
        data["codex"] = self.codex.to_dict()
        data["sections"] = [{k: getattr(s, k) if k != "takes" else list(s.takes) for k in SECTION_KEYS}
                            for s in self.sections]
        return data

    def dumps(self, data: dict | None = None) -> str:
        return json.dumps(self.to_dict() if data is None else data, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> "Project":
        """Build a project from loaded data, repairing what it can (see ``warnings``)."""
        r = _Reader()
        if not isinstance(data, dict):
            raise ProjectError("This is not a Longhand project file.")
        if data.get("format") != FORMAT_NAME:
            if not ("instruction" in data or "sections" in data):
                raise ProjectError("This is not a Longhand project file.")
            r.warn("The file is not marked as a Longhand project; loaded it as one.")
        if "version" not in data:
            r.warn(f"No format version; read as version {FORMAT_VERSION}.")
            data = {**data, "version": FORMAT_VERSION}
        data = migrate(data)
        for k in data:
            if k not in ("format", "version") and k not in {f.name for f in fields(cls)} - set(_NOT_SAVED):
                r.warn(f"Unknown key '{k}' ignored.")
        raw_sections = data.get("sections", [])
        if not isinstance(raw_sections, list):
            r.warn("'sections' is not a list; no sections were loaded.")
            raw_sections = []
        sections = [sec for i, raw in enumerate(raw_sections) if (sec := r.section(raw, i)) is not None]
        planned = sum(s.target_words for s in sections)
        settings = data.get("settings") or {}
        if not isinstance(settings, dict):
            r.warn("'settings' is not a table of settings; defaults used.")
            settings = {}
        instruction = r.text(data, "instruction", "project")
        stated = target_from_instruction(instruction)
        p = cls(instruction=instruction,
                target_words=r.count(data, "target_words", "project", stated or planned or 1000),
                sections=sections, bible=r.text(data, "bible", "project"),
                title=r.text(data, "title", "project"), author=r.text(data, "author", "project"),
                contact=r.text(data, "contact", "project"), settings=settings)
        r.extra(p, data, _TOP_HANDLED, "project")
        _read_book(p, data, r)
        p.warnings = r.warnings
        return p

    @classmethod
    def loads(cls, raw: str | bytes, name: str = "project") -> "Project":
        """Parse project text; damaged JSON is salvaged where possible (with a warning)."""
        if isinstance(raw, bytes):
            text = raw.decode("utf-8", errors="replace")
            if "\ufffd" in text and "\ufffd".encode() not in raw:
                pre = ["Some bytes were not valid UTF-8 and were replaced."]
            else:
                pre = []
        else:
            text, pre = raw, []
        text = text.lstrip("\ufeff")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as e:
            lineno = getattr(e, "lineno", "?")
            try:
                data = _salvage_json(text)
            except (ValueError, RecursionError):
                raise ProjectError(f"{name} is damaged (invalid JSON at line {lineno}) and nothing "
                                   f"could be recovered.") from None
            pre.append(f"The file was damaged (invalid JSON at line {lineno}); recovered what could "
                       f"be read. Check the last section.")
        try:
            project = cls.from_dict(data)
        except RecursionError:
            raise ProjectError(f"{name} is damaged (nested too deeply).") from None
        project.warnings = pre + project.warnings
        return project

    # -- files -----------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Project":
        """Read a project (no lock taken: see :meth:`open`). Problems are in ``.warnings``."""
        p = Path(path)
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise ProjectError(f"Project file not found: {p}") from None
        except IsADirectoryError:
            raise ProjectError(f"{p} is a folder, not a project file.") from None
        except OSError as e:
            raise ProjectError(f"Cannot read project {p}: {e.strerror or e}") from e
        if not raw.strip():
            raise ProjectError(f"Project {p.name} is empty.")
        project = cls.loads(raw, p.name)
        project.path = p
        project._disk_sig = _signature(p)
        if project.warnings:
            project._original = raw
        return project

    @classmethod
    def open(cls, path: str | os.PathLike, force: bool = False) -> "Project":
        """Load a project for editing: takes its lock (refused when open elsewhere).

        ``force=True`` takes the lock over anyway: for a lock left on a shared folder by
        another machine, after the user confirmed that Longhand is not running there.
        """
        lock = ProjectLock(path)
        if force:
            lock.path.unlink(missing_ok=True)
        lock.acquire()
        try:
            project = cls.load(path)
        except BaseException:
            lock.release()
            raise
        project._lock = lock
        return project

    def lock(self) -> None:
        """Take the lock for ``path`` (for a new project about to be saved there)."""
        if self.path is None:
            raise ProjectError("No file name given for the project.")
        if self._lock is None or not self._lock.held:
            self._lock = ProjectLock(self.path)
            self._lock.acquire()

    @property
    def locked_by_me(self) -> bool:
        return self._lock is not None and self._lock.held

    def close(self) -> None:
        """Release the lock (the caller saves first)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the project atomically. Raises fileio.SaveError (the old file intact)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ProjectError("No file name given for the project.")
        data = self.dumps().encode("utf-8")
        same_file = self.path is not None and _same(target, self.path)
        if same_file:
            self._keep_aside(target)
        atomic_write_bytes(target, data)
        if not same_file and self._lock is not None:
            # Save As: the lock follows the project to its new file
            new_lock = ProjectLock(target)
            new_lock.acquire()
            self._lock.release()
            self._lock = new_lock
        self.path = target
        self._disk_sig = _signature(target)
        self._original = None
        return target

    def _keep_aside(self, target: Path) -> None:
        """Before overwriting: keep a damaged original, or a file another program changed."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        if self._original is not None:
            atomic_write_bytes(target.with_name(f"{target.name}.orig-{stamp}"), self._original)
            self._original = None
            return
        if self._disk_sig is not None and target.exists() and _signature(target) != self._disk_sig:
            try:
                atomic_write_bytes(target.with_name(f"{target.name}.conflict-{stamp}"), target.read_bytes())
                self.warnings.append(f"{target.name} was changed by another program; that version "
                                     f"was kept as {target.name}.conflict-{stamp}.")
            except OSError:
                pass

    # -- reading the manuscript ------------------------------------------------------------

    def text(self, headings: bool = False) -> str:
        """The manuscript as plain text (sections joined by blank lines)."""
        parts = []
        for s in self.sections:
            if not s.text.strip():
                continue
            parts.append((f"## {s.heading}\n\n" if headings else "") + s.text.strip())
        return "\n\n".join(parts) + ("\n" if parts else "")

    def resume_point(self) -> tuple[int, int] | None:
        """(section index, words already there) of an interrupted section, else None."""
        for i, s in enumerate(self.sections):
            if s.status == SectionStatus.WRITING:
                return i, s.words
        return None

    @property
    def finished(self) -> bool:
        return bool(self.sections) and all(SectionStatus(s.status).finished or s.locked for s in self.sections)


def _read_book(p: "Project", data: dict, r: _Reader) -> None:
    """Chapters and codex (v2), repaired like the rest: a scene whose chapter does not exist
    is kept, without a chapter."""
    raw = data.get("chapters", [])
    if not isinstance(raw, list):
        r.warn("'chapters' is not a list; no chapters were loaded.")
        raw = []
    for i, obj in enumerate(raw):
        if isinstance(obj, dict):
            p.chapters.append(Chapter.from_dict(obj, r.warn, f"chapter {i + 1}"))
        else:
            r.warn(f"chapter {i + 1} is not a chapter ({_short(obj)}) and was skipped.")
    p.codex = Codex.from_dict(data.get("codex"), r.warn)
    for i, s in enumerate(p.sections):
        c = s.chapter
        if c is None:
            continue
        if isinstance(c, bool) or not isinstance(c, int) or not (0 <= c < len(p.chapters)):
            r.warn(f"section {i + 1}: chapter {_short(c)} does not exist; kept without a chapter.")
            s.chapter = None
        if not isinstance(s.codex_used, list) or not all(isinstance(n, str) for n in s.codex_used):
            s.codex_used = []
        if not isinstance(s.asked, list) or not all(isinstance(a, str) for a in s.asked):
            s.asked = []


def _signature(p: Path) -> tuple | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b
