"""Core: a book's plan read out of a model's answers (chapter lines, deduplicated), and the
plans that need no model (a story arc over the chapters; a chapter's synopsis split into scenes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..text.health import garbled
from ..text.wordcount import count_words, trim_to_sentence
from .book_model import Chapter, expected_chapters
from .plan import Section, parse_plan, rescale, short_title

# ---------------------------------------------------------------------------------------
# Parsing the book plan

@dataclass
class ParsedChapter:
    title: str
    synopsis: str
    target_words: int | None


_CHAPTER_LINE = re.compile(
    r"^\s*(?:[-*#>]+\s*)?(?:chapter|ch\.?|第)\s*(?P<num>\d{1,3})\s*章?\s*[-–—:.)]?\s*"
    r"(?:title\s*[:：]\s*)?(?P<title>.*?)\s*[-–—|]\s*(?:synopsis|summary|what happens)\s*[:：]\s*"
    r"(?P<syn>.*?)(?:\s*[-–—|(]\s*(?:word\s*count|words?|length)\s*[:：]?\s*"
    r"(?P<n>\d{1,3}(?:,\d{3})+|\d{1,6})\s*(?:words?)?\s*\)?)?\s*\.?\s*$", re.I)


MAX_SYNOPSIS_WORDS = 80        # longer is prose, not a plan line
_TITLE_ONLY = re.compile(r"^\s*(?:chapter|ch\.?)\s*\d+\s*[-–—:.)]?\s*title\s*[:：]", re.I)


def parse_chapters(text: str) -> list[ParsedChapter]:
    """Chapter lines out of a model's answer; other numbered lines are read as synopses."""
    out: list[ParsedChapter] = []
    for raw in (text or "").splitlines():
        line = re.sub(r"[*_`]+", "", raw).strip()
        if not line:
            continue
        m = _CHAPTER_LINE.match(line)
        if m:
            title = m.group("title").strip(" -–—:\"'")
            # a synopsis the grammar's length bound cut mid-sentence ends at its last sentence
            syn = trim_to_sentence(m.group("syn").strip(" -–—:"), min_words=4)
            n = int(m.group("n").replace(",", "")) if m.group("n") else None
            if 2 <= count_words(syn) <= MAX_SYNOPSIS_WORDS and not garbled(title + " " + syn):
                out.append(ParsedChapter(title or short_title(syn), syn, n or None))
            continue
        if _TITLE_ONLY.match(line):
            continue            # a chapter line that never got to its synopsis (prose instead)
        for step in parse_plan(line):
            if count_words(step.main_point) <= MAX_SYNOPSIS_WORDS and not garbled(step.main_point):
                out.append(ParsedChapter(short_title(step.main_point), step.main_point, step.target_words))
    return out


def plan_key(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def chapter_keys(title: str, synopsis: str) -> set[str]:
    """The content words (stems; Chinese: character pairs) of a chapter's title and synopsis."""
    from ..text.health import topic_keys
    text = f"{title} {synopsis}"
    return topic_keys(text, "en") | topic_keys(text, "zh")


def synopsis_overlap(a: set[str], b: set[str]) -> float:
    """How much two chapters' content words overlap (shared over all: Jaccard). A chapter
    retold with a few words changed shares 0.7-0.9 ("The Shadow of the Atlantian" and its
    "Revisited"); two chapters of one story that share the hero, the guild and the map, 0.3."""
    return len(a & b) / len(a | b) if a and b else 0.0


REPEAT_OVERLAP = 0.5      # a chapter sharing this much of its content words retells another


def dedupe_chapters(items: list[ParsedChapter]) -> list[ParsedChapter]:
    """Drop chapters that retell an earlier one: the same title, or a title and synopsis sharing
    most of their content words with an earlier chapter's (small models loop over their own
    lines with small changes: "The Shadow of the Atlantian … Revisited", six times)."""
    kept: list[set[str]] = []
    titles: set[str] = set()
    out = []
    for it in items:
        keys = chapter_keys(it.title, it.synopsis)
        title = plan_key(it.title)
        if not keys or (title and title in titles) or any(synopsis_overlap(keys, k) >= REPEAT_OVERLAP for k in kept):
            continue
        kept.append(keys)
        titles.add(title)
        out.append(it)
    return out


# Titles that are not a story's chapter: back matter, never; an ending, only as the last
# chapter. (The instruct model's 30,000-word plan on record: "The End" as chapter 7 of 12,
# 5,373 words, then "Appendix A" to "Appendix E".)
_BACK_MATTER = re.compile(r"^(?:appendix\b.*|appendices|glossary(?: of [\w ]+)?|index|bibliography|references|"
                          r"end ?notes|acknowledge?ments?|about the author|afterword|author'?s note|"
                          r"(?:table of )?contents|dramatis personae|cast of characters)\W*$", re.I)
_ENDING = re.compile(r"^(?:the end\W*$|epilogue\b|conclusion\b|finale\b)", re.I)


def not_a_chapter(title: str, last: bool) -> bool:
    """Is a planned chapter's title back matter, or an ending before the book's last chapter?"""
    title = re.sub(r"^[\W_]+", "", title.strip())
    return bool(_BACK_MATTER.match(title) or (not last and _ENDING.match(title)))


class Told:
    """Scene main points planned so far (this chapter's and the earlier chapters'). A new one
    sharing most of its content words with one of them retells it: the instruct model planned
    chapter 2 in chapter 1's scenes, word for word ("The Duke wants to move the Greywater, but
    it is forbidden by the Guild")."""

    def __init__(self, points=()) -> None:
        self.keys = [k for k in (chapter_keys("", p) for p in points) if k]

    def add(self, point: str) -> bool:
        """Take ``point`` if it tells something new; False (not taken) if it retells."""
        keys = chapter_keys("", point)
        if not keys or any(synopsis_overlap(keys, k) >= REPEAT_OVERLAP for k in self.keys):
            return False
        self.keys.append(keys)
        return True


def bounded_targets(given: list[int | None], total: int, lo: int, hi: int) -> list[int]:
    """Model numbers clamped to [lo, hi] around the mean, then scaled to sum to ``total``."""
    n = len(given)
    if not n:
        return []
    mean = total / n
    clamped = [min(max(t, mean * 0.5, lo), max(mean * 2, hi)) if t else None for t in given]
    return rescale([int(t) if t else None for t in clamped], total)


_ARC = [
    ("Opening", "Introduce the main character, her world and what she wants"),
    ("The call", "Something disrupts her world and asks something of her"),
    ("First steps", "She sets out, meets allies and rivals, and learns the rules of the new situation"),
    ("Rising stakes", "Her efforts succeed in part, and the cost of going on becomes clear"),
    ("Midpoint", "A discovery changes what she believes and what the story is about"),
    ("Closing in", "The opposition strikes back; plans fail and allies are tested"),
    ("The darkest hour", "Everything seems lost and she must decide who she is"),
    ("Climax", "The central conflict comes to a head and is settled"),
    ("Resolution", "The consequences unfold and the story closes on how she has changed"),
]
_ANGLES = ["", "; a quieter chapter that deepens a relationship",
           "; a new place raises the stakes", "; a secret comes out",
           "; told through the eyes of someone close to her", "; a setback forces a hard choice"]


def fallback_chapters(instruction: str, target_words: int, n: int | None = None) -> list[Chapter]:
    """A book plan that needs no model: a story arc over ``n`` chapters, distinct synopses."""
    n = n or expected_chapters(target_words)
    subject = re.sub(r"^\s*(?:please\s+)?write\s+(?:me\s+)?an?\s+[\d,]+[- ]word\s+", "", instruction.strip(),
                     flags=re.I).rstrip(".")
    chapters = []
    per = [0] * len(_ARC)
    for i in range(n):
        per[min(len(_ARC) - 1, i * len(_ARC) // n)] += 1
    i = 0
    for stage, (name, point) in enumerate(_ARC):
        for k in range(per[stage]):
            angle = _ANGLES[k % len(_ANGLES)] + (f" (part {k // len(_ANGLES) + 1})" if k >= len(_ANGLES) else "")
            title = name if per[stage] == 1 else f"{name} {_roman(k + 1)}"
            syn = f"{point}{angle}."
            if i == 0 and subject:
                syn = f"{point} ({subject}){angle}."
            chapters.append(Chapter(title=title, synopsis=syn, target_words=0, plan_how="fallback"))
            i += 1
    for ch, t in zip(chapters, rescale([None] * n, target_words)):
        ch.target_words = t
    return chapters


def _roman(k: int) -> str:
    return ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"][k - 1] if k <= 10 else str(k)


_MIDDLE_BEATS = ["A complication gets in the way", "A conversation changes the plan",
                 "The stakes rise", "A quieter moment of doubt", "A discovery", "A setback"]


def fallback_scenes(job, c: int, n: int, total: int) -> list[Section]:
    """A chapter the model planned into nothing: its synopsis split into opening, middle
    steps and an ending that leads into the next chapter."""
    ch = job.chapters[c]
    nxt = job.chapters[c + 1].synopsis if c + 1 < len(job.chapters) else ""
    parts = [p.strip() for p in re.split(r"(?<=[.;!?])\s+", ch.synopsis) if count_words(p) >= 3]
    points = []
    for k in range(n):
        if n == 1:
            points.append(ch.synopsis)
        elif k == 0:
            points.append(f"Opening of the chapter: {parts[0] if parts else ch.synopsis}")
        elif k == n - 1:
            end = parts[-1] if len(parts) > 1 else ch.synopsis
            points.append(f"End of the chapter: {end}" + (f" It leads towards: {nxt}" if nxt else ""))
        else:
            mid = parts[min(len(parts) - 1, k)] if len(parts) > 2 else ch.synopsis
            beat = _MIDDLE_BEATS[(k - 1) % len(_MIDDLE_BEATS)]
            points.append(f"{beat}{' (again)' if k > len(_MIDDLE_BEATS) else ''}: {mid}")
    return [Section(main_point=p, target_words=t, title=short_title(p), chapter=c)
            for p, t in zip(points, rescale([None] * n, total))]


def book_plan_lines(chapters: list[Chapter]) -> str:
    from .grammar import chapter_line
    return "\n".join(chapter_line(i, ch.title, ch.synopsis, ch.target_words)
                     for i, ch in enumerate(chapters, 1))


def scene_lines(job, idx: list[int]) -> str:
    return "\n".join(f"Scene {k} - Main Point: {job.sections[i].main_point} - Word Count: "
                     f"{job.sections[i].target_words} words" for k, i in enumerate(idx, 1))

