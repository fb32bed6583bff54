"""Core: the codex — characters, places, objects and lore that a novel must keep straight.

Writers' most common complaint about AI novel tools is continuity: forgotten chapters,
ignored facts. Novelcrafter's codex and KoboldAI/SillyTavern's world info answer it the same
way, and so does this module: an entry goes into a scene's prompt when its name or one of
its aliases is *mentioned* in what the scene is about (its plan line, the chapter synopsis,
the recent text), most relevant first, under a token budget. The story bible (the project's
``bible``) is the one entry that is always included; it is not stored here.

An entry holds from a chapter on (``from_chapter``, 1-based; ``None``: from the start). A
fact that changes later is a second entry with the same name from that chapter on: for a
scene in chapter *c* the latest entry that holds at *c* wins.

After a chapter, :func:`propose_entries` lists names the text introduced that the codex does
not know; they wait in :attr:`Codex.proposed` until the user accepts (or edits) them.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..errors import LonghandError
from ..text.health import STOPWORDS, sentences
from ..text.wordcount import has_cjk

KINDS = ("character", "place", "object", "lore")
DEFAULT_BUDGET = 400            # tokens of codex text per prompt


class CodexError(LonghandError):
    """A codex file or entry is not valid (one line, naming the problem)."""


@dataclass
class CodexEntry:
    name: str
    kind: str = "character"
    text: str = ""
    aliases: list[str] = field(default_factory=list)
    from_chapter: int | None = None     # 1-based chapter from which it holds; None: always

    @property
    def names(self) -> list[str]:
        return [n for n in [self.name, *self.aliases] if n.strip()]

    def holds_at(self, chapter: int | None) -> bool:
        """True when the entry holds in ``chapter`` (1-based; None: everywhere)."""
        return self.from_chapter is None or chapter is None or self.from_chapter <= chapter

    def note(self) -> str:
        """How the entry reads in a prompt: one line."""
        also = f" (also: {', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.name}{also}, {self.kind}: {' '.join(self.text.split())}"

    def to_dict(self) -> dict:
        return asdict(self)


def entry_from_dict(obj, where: str = "entry") -> CodexEntry:
    """A checked entry; raises CodexError naming the problem (one line)."""
    if not isinstance(obj, dict):
        raise CodexError(f"{where} is not an object with a name, kind and text.")
    unknown = set(obj) - {"name", "kind", "text", "aliases", "from_chapter"}
    if unknown:
        raise CodexError(f"{where}: unknown field {sorted(unknown)[0]!r} (fields: name, kind, "
                         f"text, aliases, from_chapter).")
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CodexError(f"{where}: 'name' must be non-empty text.")
    where = f"{where} ({name.strip()!r})"
    kind = obj.get("kind", "character")
    if kind not in KINDS:
        raise CodexError(f"{where}: 'kind' must be one of {', '.join(KINDS)} (got {kind!r}).")
    text = obj.get("text", "")
    if not isinstance(text, str):
        raise CodexError(f"{where}: 'text' must be text.")
    aliases = obj.get("aliases", [])
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise CodexError(f"{where}: 'aliases' must be a list of names.")
    chapter = obj.get("from_chapter")
    if chapter is not None and (isinstance(chapter, bool) or not isinstance(chapter, int) or chapter < 1):
        raise CodexError(f"{where}: 'from_chapter' must be a chapter number (1 or more) or null.")
    return CodexEntry(name=name.strip(), kind=kind, text=text.strip(),
                      aliases=[a.strip() for a in aliases], from_chapter=chapter)


@dataclass
class Codex:
    entries: list[CodexEntry] = field(default_factory=list)
    proposed: list[CodexEntry] = field(default_factory=list)   # waiting for the user

    def to_dict(self) -> dict:
        return {"entries": [e.to_dict() for e in self.entries],
                "proposed": [e.to_dict() for e in self.proposed]}

    @classmethod
    def from_dict(cls, data, warn: Callable[[str], None] | None = None) -> "Codex":
        """Tolerant (projects): bad entries are skipped and reported through ``warn``."""
        codex = cls()
        if data is None:
            return codex
        if isinstance(data, list):
            data = {"entries": data}
        if not isinstance(data, dict):
            if warn:
                warn("'codex' is not a table of entries; not loaded.")
            return codex
        for key in ("entries", "proposed"):
            items = data.get(key, [])
            if not isinstance(items, list):
                if warn:
                    warn(f"codex: '{key}' is not a list; not loaded.")
                continue
            for i, obj in enumerate(items):
                try:
                    label = f"codex {'entry' if key == 'entries' else 'proposal'} {i + 1}"
                    getattr(codex, key).append(entry_from_dict(obj, label))
                except CodexError as e:
                    if warn:
                        warn(f"{e} Skipped.")
        return codex

    # -- editing (the GUI's codex tab drives these) -------------------------------------------

    def add(self, entry: CodexEntry) -> CodexEntry:
        """Add ``entry``, replacing one with the same name that holds from the same chapter."""
        for i, e in enumerate(self.entries):
            if e.name.lower() == entry.name.lower() and e.from_chapter == entry.from_chapter:
                self.entries[i] = entry
                return entry
        self.entries.append(entry)
        return entry

    def remove(self, name: str, from_chapter: int | None = None) -> bool:
        before = len(self.entries)
        self.entries = [e for e in self.entries
                        if not (e.name.lower() == name.lower() and e.from_chapter == from_chapter)]
        return len(self.entries) < before

    def accept(self, name: str, edited: CodexEntry | None = None) -> CodexEntry | None:
        """Move a proposed entry (or the user's edit of it) into the codex."""
        for i, e in enumerate(self.proposed):
            if e.name.lower() == name.lower():
                del self.proposed[i]
                return self.add(edited or e)
        return None

    def reject(self, name: str) -> bool:
        before = len(self.proposed)
        self.proposed = [e for e in self.proposed if e.name.lower() != name.lower()]
        return len(self.proposed) < before

    def merge(self, other: "Codex") -> int:
        """Add every entry of ``other`` (a loaded file); returns how many."""
        for e in other.entries:
            self.add(e)
        return len(other.entries)

    def known_names(self) -> set[str]:
        return {n.lower() for e in [*self.entries, *self.proposed] for n in e.names}

    def name_words(self, limit: int | None = 40) -> tuple[str, ...]:
        """The capitalised words of the entries' names ("Ilse", "Marren", "Saltmarsh"): the
        words a story repeats by design (see ``Sampling.dry_breakers``); the first ``limit``
        (None: all)."""
        words: dict[str, None] = {}
        for e in self.entries:
            for n in e.names:
                for w in re.findall(r"\b[A-Z][\w'-]{2,}", n):
                    words.setdefault(w, None)
        return tuple(words)[:limit]

    def mend(self, text: str) -> tuple[str, dict[str, str]]:
        """``text`` with its :meth:`misspellings` of the entries' names mended (each also where
        it stands alone), and those misspellings."""
        fixes = self.misspellings(text)
        return apply_fixes(text, fixes), fixes

    def misspellings(self, text: str) -> dict[str, str]:
        """{misspelling: the word} where the model misspelt one word of a name of two words or
        more and wrote the others right ("Ile Marren" for Ilse Marren: a small model cuts a name
        it has written many times; "Else Marren"). A word of another name, a short common word
        ("The", "Her") and a word not within one or two letters of the name's are not
        misspellings."""
        own = {w for e in self.entries for n in e.names for w in re.findall(r"[A-Z][\w'-]+", n)}
        fixes: dict[str, str] = {}
        for e in self.entries:
            for name in e.names:
                words = name.split()
                caps = [i for i, w in enumerate(words) if w[:1].isupper()]
                if len(caps) < 2 or has_cjk(name):
                    continue
                for i in caps:
                    before = r"\s+".join(re.escape(w) for w in words[:i])
                    after = r"\s+".join(re.escape(w) for w in words[i + 1:])
                    # (a possessive is the word's: "Orrin's" is Orrin)
                    pat = re.compile((before + r"\s+" if before else r"(?<![\w'-])") + r"([A-Z][a-z]+)"
                                     + (r"\s+" + after if after else r"(?![\w-])"))
                    for m in pat.finditer(text):
                        got, want = m.group(1), words[i]
                        if got != want and got not in own and not (len(got) <= 3 and got.lower() in STOPWORDS) \
                                and _near(got, want):
                            fixes[got] = want
        return fixes

    def typos(self, text: str, known: Callable[[str], bool | None], book: str = "") -> dict[str, str]:
        """{misspelling: the word} where the model misspelt a word of a name standing alone
        ("Illse" for Ilse): a capitalised word within one edit of a name's word (two from seven
        letters on), that is no word of the language (``known(word)`` is False: the model's
        vocabulary; "Warren" is one, and stays) and that ``book`` (default ``text``) uses at
        most a fifth as often as the name's word."""
        names = {w for w in self.name_words(limit=None) if len(w) >= 4}
        if not names:
            return {}
        counts = Counter(re.findall(r"(?<![\w'-])[A-Z][a-z]+", book or text))
        fixes: dict[str, str] = {}
        for got in set(re.findall(r"(?<![\w'-])[A-Z][a-z]{2,}(?![\w-])", text)):
            if got in names or known(got.lower()) is not False:
                continue
            near = [n for n in names if _near(got, n) and counts[got] * 5 <= counts[n]]
            if len(near) == 1:
                fixes[got] = near[0]
        return fixes

    # -- selection ---------------------------------------------------------------------------

    def current(self, chapter: int | None) -> list[CodexEntry]:
        """The entries that hold in ``chapter``: for each name, the latest version."""
        best: dict[str, CodexEntry] = {}
        for e in self.entries:
            if not e.holds_at(chapter):
                continue
            key = e.name.lower()
            old = best.get(key)
            if old is None or (e.from_chapter or 0) >= (old.from_chapter or 0):
                best[key] = e
        return list(best.values())

    def select(self, *, scene: str = "", synopsis: str = "", recent: str = "",
               chapter: int | None = None, budget: int = DEFAULT_BUDGET,
               count_tokens: Callable[[str], int] | None = None) -> list[CodexEntry]:
        """Entries mentioned in a scene's plan, the chapter synopsis or the recent text.

        Most relevant first: a mention in the scene's plan weighs 4, in the synopsis 2, in the
        recent text 1 per mention (at most 3), the latest mention counting most. Entries are
        taken in that order while their notes fit ``budget`` tokens.
        """
        count = count_tokens or (lambda t: max(1, len(t) // 4))
        scored = []
        for order, e in enumerate(self.current(chapter)):
            score = 4.0 * _mentions(e, scene) + 2.0 * _mentions(e, synopsis)
            hits = _positions(e, recent)
            if hits:
                score += min(3, len(hits)) + max(hits) / max(1, len(recent))
            if score > 0:
                scored.append((score, -order, e))
        scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
        out, used = [], 0
        for _, _, e in scored:
            cost = count(e.note()) + 2
            if used + cost > budget:
                continue
            out.append(e)
            used += cost
        return out


def apply_fixes(text: str, fixes: dict[str, str]) -> str:
    """``text`` with each whole word ``got`` of ``fixes`` replaced by its ``want``."""
    for got, want in fixes.items():
        text = re.sub(r"(?<![\w'-])" + re.escape(got) + r"(?![\w-])", want, text)
    return text


def _near(a: str, b: str) -> bool:
    """Within one edit (two for words of seven letters or more) of each other."""
    limit = 2 if max(len(a), len(b)) >= 7 else 1
    if abs(len(a) - len(b)) > limit:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1] <= limit


def _pattern(name: str) -> re.Pattern:
    flags = 0 if name[:1].isupper() else re.IGNORECASE
    if has_cjk(name):
        return re.compile(re.escape(name))
    return re.compile(r"(?<![\w])" + re.escape(name) + r"(?![\w])", flags)


def _positions(e: CodexEntry, text: str) -> list[int]:
    if not text:
        return []
    return [m.start() for n in e.names for m in _pattern(n).finditer(text)]


def mention_count(e: CodexEntry, text: str) -> int:
    """How many times ``text`` names the entry (by its name or an alias)."""
    return len(_positions(e, text))


def _mentions(e: CodexEntry, text: str) -> int:
    return 1 if text and any(_pattern(n).search(text) for n in e.names) else 0


def codex_block(entries: Iterable[CodexEntry]) -> str:
    """The notes a prompt carries, one entry a line."""
    return "\n".join(f"- {e.note()}" for e in entries)


# ---------------------------------------------------------------------------------------
# Files

def load_codex(path: str | os.PathLike) -> Codex:
    """Read ``--codex FILE.json``: a list of entries, or {"entries": [...]}. Strict: the
    first problem raises CodexError in one line that names the file and the entry."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CodexError(f"Codex file not found: {p}") from None
    except IsADirectoryError:
        raise CodexError(f"{p} is a folder, not a codex file.") from None
    except UnicodeDecodeError:
        raise CodexError(f"{p.name} is not a UTF-8 text file.") from None
    except OSError as e:
        raise CodexError(f"Cannot read codex {p}: {e.strerror or e}") from e
    try:
        data = json.loads(raw)
    except ValueError as e:
        msg = getattr(e, "msg", str(e))
        raise CodexError(f"{p.name} is not valid JSON (line {getattr(e, 'lineno', '?')}, column "
                         f"{getattr(e, 'colno', '?')}: {msg}).") from None
    if isinstance(data, dict) and "entries" in data:
        items = data["entries"]
    else:
        items = data
    if not isinstance(items, list):
        raise CodexError(f"{p.name}: expected a list of entries (or {{\"entries\": [...]}}).")
    codex = Codex()
    for i, obj in enumerate(items):
        try:
            codex.add(entry_from_dict(obj, f"entry {i + 1}"))
        except CodexError as e:
            raise CodexError(f"{p.name}: {e}") from None
    return codex


# ---------------------------------------------------------------------------------------
# Proposals: names a chapter introduced

_NOT_NAMES = set("""
A An The I He She It We You They His Her Its Our Your Their Him Them Me My Mine This That These
Those There Here Then When While After Before As At In On Of For From To With Without But And Or
Nor So Yet If Once Now Still Even Just Only Every Each All Some Any No Not Yes Oh Ah Well What
Who Whom Whose Which Where Why How Chapter Scene Part Paragraph Mr Mrs Ms Dr Sir Lady Lord
Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June
July August September October November December One Two Three Four Five Six Seven Eight Nine Ten
Perhaps Maybe Although Though Because Since Until Unless Through Across Into Over Under Above
Below Behind Between Beyond During Inside Outside Around About Again Also Never Always Sometimes
Later Soon Today Tomorrow Yesterday Tonight Suddenly Finally First Last Next Another Other Such
Let Do Does Did Is Are Was Were Be Been Have Has Had Can Could Would Should Will Shall Must Might
End Note Notes Title Synopsis Word Words Count Main Point Plan Outline Text Story Novel Book
Qwen Gemma Llama Mistral Assistant User
""".split())
_PLACE_LEAD = re.compile(r"\b(?:in|at|to|from|into|near|towards?|across|through|of)\s+$", re.I)


def propose_entries(text: str, codex: Codex, *, chapter: int | None = None,
                    min_mentions: int = 2, limit: int = 8) -> list[CodexEntry]:
    """Names the text uses at least ``min_mentions`` times, not at a sentence start only,
    that the codex does not know yet: proposed entries (kind guessed, text = the first
    sentence that mentions the name), most frequent first.

    A capitalised word the text also writes in lower case is a common word in a title
    ("The Lost Map", "a new World"), not a story name: it is left out, as are the words of
    plans and prompts ("End", "Title") and model names ("Qwen")."""
    known = codex.known_names()
    counts: Counter[str] = Counter()
    mid_sentence: set[str] = set()
    place_like: Counter[str] = Counter()
    for m in re.finditer(r"\b([A-Z][a-z]{2,}(?:\s+[A-Z][a-z]{2,})?)\b", text):
        name = m.group(1)
        if name.split()[0] in _NOT_NAMES:
            continue
        counts[name] += 1
        before = text[max(0, m.start() - 3):m.start()]
        if not re.search(r"(?:^|[.!?\"“”]\s*|\n\s*)$", text[max(0, m.start() - 3):m.start()]) and before:
            mid_sentence.add(name)
        if _PLACE_LEAD.search(text[max(0, m.start() - 12):m.start()]):
            place_like[name] += 1
    out = []
    words = re.findall(r"\b[A-Za-z]+\b", text)
    lower = {w for w in words if w.islower()}
    lower |= {f"{a} {b}" for a, b in zip(words, words[1:]) if a.islower() and b.islower()}
    for name, n in counts.most_common():
        if n < min_mentions or name not in mid_sentence or name.lower() in known:
            continue
        if name.lower() in lower or any(w in _NOT_NAMES for w in name.split()):
            continue        # a common word capitalised (a title's "Map"), not a name
        if any(name in other and name != other for other in counts if counts[other] >= n):
            continue        # "Mara" when "Mara Voss" is as frequent: keep the full name
        sentence = next((s for s in sentences(text) if name in s), "")
        kind = "place" if place_like[name] * 2 >= n else "character"
        out.append(CodexEntry(name=name, kind=kind, text=" ".join(sentence.split())[:300],
                              from_chapter=chapter))
        if len(out) >= limit:
            break
    return out
