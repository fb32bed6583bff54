"""Core: a book's plan read out of a model's answers (chapter lines, deduplicated), and the
plans that need no model (a story arc over the chapters; a chapter's synopsis split into scenes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..text.health import garbled
from ..text.wordcount import CJK_CHAR, count_words, trim_to_sentence
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
    r"^\s*(?:[-*#>]+\s*)?(?:chapter|ch\.?|part|第)\s*(?P<num>\d{1,3})\s*章?\s*[-–—:.)]?\s*"
    r"(?:title\s*[:：]\s*)?(?P<title>.*?)\s*[-–—|]\s*(?:synopsis|summary|what happens)\s*[:：]\s*"
    r"(?P<syn>.*?)(?:\s*[-–—|(]\s*(?:word\s*count|words?|length)\s*[:：]?\s*"
    r"(?P<n>\d{1,3}(?:,\d{3})+|\d{1,6})\s*(?:words?)?\s*\)?)?\s*\.?\s*$", re.I)


MAX_SYNOPSIS_WORDS = 80        # longer is prose, not a plan line
_TITLE_ONLY = re.compile(r"^\s*(?:chapter|ch\.?)\s*\d+\s*[-–—:.)]?\s*title\s*[:：]", re.I)


# The format's placeholders ("Chapter 1 - Title: [title] - Synopsis: [what happens]"): the
# instruct model wrote "[title] | [what happens] + Chapter 17" as a chapter, and bracketed
# its real titles ("[The Dark Forest]").
_PLACEHOLDER = re.compile(r"\[\s*(?:title|what happens|what changes|synopsis|number)\s*\]?|"
                         r"\[?\s*(?:what happens|what changes)\s*\]", re.I)
_FIELD_NAME = re.compile(r"\s*(?:title|synopsis|chapter title|word count)\s*", re.I)


def off_language(chapter: ParsedChapter, chinese: bool) -> bool:
    """A chapter line of an English book that drifted into Chinese (the instruct model, late in
    a long plan: "Elara sets out,带着地图和希望…"), or that holds a second line's labels."""
    text = f"{chapter.title} {chapter.synopsis}"
    return (not chinese and bool(CJK_CHAR.search(text))) or bool(re.search(r"\bsynopsis\s*:", text, re.I))


def _unbracket(text: str) -> str:
    return text[1:-1].strip() if text.startswith("[") and text.endswith("]") else text


def parse_chapters(text: str, *, chinese: bool | None = None) -> list[ParsedChapter]:
    """Chapter lines out of a model's answer; other numbered lines are read as synopses.
    ``chinese``: the book's language is known, and lines that left it are dropped
    (:func:`off_language`)."""
    out: list[ParsedChapter] = []
    for raw in (text or "").splitlines():
        line = re.sub(r"[*_`]+", "", raw).strip()
        if not line:
            continue
        m = _CHAPTER_LINE.match(line)
        if m:
            raw_title, raw_syn = m.group("title").strip(" -–—:\"'"), m.group("syn").strip(" -–—:")
            # the format's own "[title]" or "[what happens]", echoed (looked for before the
            # brackets come off: the 100,000-word plan kept a chapter "title", whose synopsis
            # was "what happens] + [what changes")
            if _PLACEHOLDER.search(f"{raw_title} {raw_syn}") or _FIELD_NAME.fullmatch(_unbracket(raw_title)):
                continue
            title = _unbracket(raw_title)
            # a synopsis the grammar's length bound cut mid-sentence ends at its last sentence
            syn = _unbracket(trim_to_sentence(raw_syn, min_words=4))
            n = int(m.group("n").replace(",", "")) if m.group("n") else None
            if 2 <= count_words(syn) <= MAX_SYNOPSIS_WORDS and not garbled(title + " " + syn):
                out.append(ParsedChapter(title or short_title(syn), syn, n or None))
            continue
        if _TITLE_ONLY.match(line):
            continue            # a chapter line that never got to its synopsis (prose instead)
        for step in parse_plan(line):
            if count_words(step.main_point) <= MAX_SYNOPSIS_WORDS and not garbled(step.main_point):
                out.append(ParsedChapter(short_title(step.main_point), step.main_point, step.target_words))
    return out if chinese is None else [p for p in out if not off_language(p, chinese)]


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
                          r"(?:table of )?contents|dramatis personae|cast of characters|"
                          r"part \d+(?: summary)?|summary)\W*$", re.I)
_ENDING = re.compile(r"^(?:the end\W*$|epilogue\b|conclusion\b|finale\b)", re.I)


def is_ending(title: str) -> bool:
    """Is a planned chapter's title the story's end ("The End", "Epilogue", …)?"""
    return bool(_ENDING.match(re.sub(r"^[\W_]+", "", title.strip())))


def not_a_chapter(title: str, last: bool) -> bool:
    """Is a planned chapter's title back matter, or an ending before the book's last chapter?"""
    return bool(_BACK_MATTER.match(re.sub(r"^[\W_]+", "", title.strip())) or (not last and is_ending(title)))


class Told:
    """Scene main points planned so far (this chapter's and the earlier chapters'). A new one
    sharing most of its content words with one of them retells it: the instruct model planned
    chapter 2 in chapter 1's scenes, word for word ("The Duke wants to move the Greywater, but
    it is forbidden by the Guild")."""

    def __init__(self, points=(), *, own=(), synopsis: str = "") -> None:
        self.keys = [k for k in (chapter_keys("", p) for p in points) if k]
        # this chapter's points (taken so far): never told twice
        self.own = [k for k in (chapter_keys("", p) for p in own) if k]
        # what the chapter's synopsis tells (whole, and each sentence)
        from ..text.health import sentences
        self.synopsis = [k for k in (chapter_keys("", p) for p in [synopsis, *sentences(synopsis)]) if k]

    def add(self, point: str) -> bool:
        """Take ``point`` if it tells something new; False (not taken) if it retells.

        A point that tells the chapter's own synopsis is new unless this chapter told it
        already: where the book plan retells an earlier chapter (the instruct model's chapter 8
        used "their map to create a powerful spell that can manipulate reality" as chapter 6
        had), refusing the scenes that follow the synopsis only left the chapter to the
        fallback plan, which tells the synopsis anyway."""
        keys = chapter_keys("", point)
        if not keys or _retells(keys, self.own) or (_retells(keys, self.keys) and not _retells(keys, self.synopsis)):
            return False
        self.own.append(keys)
        return True


COPY_SHARE = 0.6          # a plan line holding this much of its content words in one text copies it


def copies(keys: set[str], among: list[set[str]]) -> bool:
    """Does a plan line (content words ``keys``) take most of itself from one of ``among``
    (what one written chapter tells)? Containment, not overlap: a part that copies one or two
    sentences of a chapter's summary shares little of the whole summary. (The instruct model's
    parts after ten written chapters: its copies held 0.70-1.0 of their words in one chapter's
    summary; its new parts 0.33-0.44.)"""
    return bool(keys) and any(len(keys & k) / len(keys) >= COPY_SHARE for k in among)


def _retells(keys: set[str], among: list[set[str]]) -> bool:
    """Do content words ``keys`` share most of themselves with any of ``among``?"""
    return any(synopsis_overlap(keys, k) >= REPEAT_OVERLAP for k in among)


def bounded_targets(given: list[int | None], total: int, lo: int, hi: int, *, spread: float = 2.0) -> list[int]:
    """Model numbers scaled to the mean they should have, clamped to [lo, hi] and to within
    ``spread`` times the mean, then scaled to sum to ``total``. (The model's numbers say which
    parts are longer, not how long: the instruct model gave 5,000 words to the first five of 32
    chapters of a 90,000-word plan and 1,500 to the rest, which unscaled made them 8,791.)"""
    n = len(given)
    if not n:
        return []
    mean = total / n
    known = [t for t in given if t]
    scale = mean / (sum(known) / len(known)) if known else 1.0
    low, high = max(mean / spread, lo), max(mean * spread, hi)
    ts = [t * scale if t else None for t in given]
    for _ in range(20):          # clamped, scaled to the sum, clamped again: it settles in bounds
        ts = [min(max(t, low), high) if t else None for t in ts]
        fill = sum(t for t in ts if t) / max(1, sum(1 for t in ts if t))
        f = total / sum(t or fill for t in ts)
        ts = [t * f if t else None for t in ts]
    return rescale([int(t) if t else None for t in ts], total)


# The arc of a story in nine stages, each told in beats of its own: a fallback chapter is one
# beat, so no two fallback chapters retell each other (a stage's synopsis with an "angle" added
# shared 0.86 of its words with the next one: the engine refuses such a chapter from a model).
_ARC: list[tuple[str, list[tuple[str, str]]]] = [
    ("Opening", [
        ("An Ordinary Day", "Introduce the main character at work in her world, and what she wants most"),
        ("Home", "The people closest to her, and the old wound between her and one of them"),
        ("The Rules", "How her world works, shown through a task that goes slightly wrong"),
        ("A Small Wonder", "A first strange sign that she notices and explains away"),
        ("Ambition", "A chance to get what she wants is offered, with a condition attached"),
        ("Evening", "A quiet conversation reveals what she fears losing"),
    ]),
    ("The Call", [
        ("The Disturbance", "Something breaks her routine and cannot be ignored"),
        ("The Request", "Someone with power asks her for something she cannot easily refuse"),
        ("Refusal", "She tries to say no, and learns what refusing would cost others"),
        ("The Price", "She accepts, bargaining for something in return"),
        ("Leaving", "Farewells, and the promise she makes before departing"),
        ("The Threshold", "She crosses into unfamiliar ground where old habits fail"),
    ]),
    ("First Steps", [
        ("Strangers", "New companions join her, each hiding a reason of their own"),
        ("A Rival", "Someone wants the same prize and says so openly"),
        ("Lessons", "An old hand teaches her a skill the journey demands"),
        ("First Test", "A danger on the road that she survives by wit rather than strength"),
        ("Trust", "She must rely on a companion she does not yet believe"),
        ("Camp", "Around a fire, stories are traded and one of them is a lie"),
    ]),
    ("Rising Stakes", [
        ("Success", "Her plan works at first, better than anyone expected"),
        ("Side Effects", "Her success harms people she never meant to touch"),
        ("The Bill", "Someone comes to collect on an earlier bargain"),
        ("Divided Loyalties", "Two allies demand she choose between them"),
        ("Pursuit", "Enemies close in and force a change of route"),
        ("Sacrifice", "She gives up something precious to keep going"),
    ]),
    ("Midpoint", [
        ("The Discovery", "A discovery changes what she believes the story is about"),
        ("Hidden Truth", "A secret about her own past comes to light"),
        ("Turnabout", "A friend is revealed as an enemy, or an enemy as a friend"),
        ("New Purpose", "She sets a different goal, harder and more honest than the first"),
        ("Reckoning", "She confronts someone she wronged and hears their side"),
        ("The Map Redrawn", "Old plans are thrown away and a bolder one is made"),
    ]),
    ("Closing In", [
        ("Counterstrike", "The opposition strikes back with full force"),
        ("Betrayal", "A trusted ally breaks faith at the worst moment"),
        ("Siege", "She and the others are trapped and must hold out"),
        ("Losses", "Someone she cares for is hurt or taken"),
        ("Desperate Measures", "A risky gamble buys time but burns bridges"),
        ("Scattered", "The group splits up, each left to fend alone"),
    ]),
    ("The Darkest Hour", [
        ("Everything Lost", "Her plan fails completely and all seems lost"),
        ("Alone", "Stripped of help, she faces her doubts in solitude"),
        ("The Mirror", "She sees in her enemy what she could become"),
        ("Remembering", "A memory from her beginnings shows her what truly matters"),
        ("Decision", "She decides who she is and what she will risk"),
        ("Gathering", "She calls the survivors together for one last attempt"),
    ]),
    ("Climax", [
        ("The Approach", "The final move begins, and nothing goes as rehearsed"),
        ("Confrontation", "She faces the central opponent directly"),
        ("The Turn", "An earlier kindness or lesson returns to change the fight"),
        ("The Choice", "She makes the sacrifice the whole story has prepared"),
        ("Aftershock", "The immediate cost of victory becomes visible"),
        ("Settled", "The central conflict is settled for good"),
    ]),
    ("Resolution", [
        ("Wounds", "The survivors count what they lost and what they kept"),
        ("Return", "She goes back to where she began and finds it changed"),
        ("Amends", "Broken bonds are mended, or honestly let go"),
        ("New Order", "The world settles into a new shape because of what she did"),
        ("Legacy", "What she passes on to those who come after"),
        ("Last Light", "The story closes on how she has changed"),
    ]),
]


def fallback_chapters(instruction: str, target_words: int, n: int | None = None) -> list[Chapter]:
    """A book plan that needs no model: a story arc over ``n`` chapters, a beat of its own each
    (distinct up to 54 chapters, 135,000 words at the default chapter length; past that a stage's
    beats come round again)."""
    n = n or expected_chapters(target_words)
    subject = re.sub(r"^\s*(?:please\s+)?write\s+(?:me\s+)?an?\s+[\d,]+[- ]word\s+", "", instruction.strip(),
                     flags=re.I).rstrip(".")
    chapters: list[Chapter] = []
    per = [0] * len(_ARC)
    for i in range(n):
        per[min(len(_ARC) - 1, i * len(_ARC) // n)] += 1
    for stage, (_name, beats) in enumerate(_ARC):
        # a stage of few chapters takes beats spread over its own (its first and last kept; a
        # book's one closing chapter is the story's last beat)
        m = per[stage]
        only = -1 if stage == len(_ARC) - 1 else 0
        picks = [beats[round(j * (len(beats) - 1) / (m - 1)) if m > 1 else only] if m <= len(beats)
                 else beats[j % len(beats)] for j in range(m)]
        for j, (title, point) in enumerate(picks):
            if m > len(beats) and j >= len(beats):
                title, point = f"{title} {_roman(j // len(beats) + 1)}", f"{point}, once more and at a higher cost"
            syn = f"{point} ({subject})." if not chapters and subject else f"{point}."
            chapters.append(Chapter(title=title, synopsis=syn, target_words=0, plan_how="fallback"))
    for ch, t in zip(chapters, rescale([None] * n, target_words)):
        ch.target_words = t
    return chapters


def _roman(k: int) -> str:
    return ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"][k - 1] if k <= 10 else str(k)


_MIDDLE_BEATS = ["A complication gets in the way", "A conversation changes the plan",
                 "The stakes rise", "A quieter moment of doubt", "A discovery", "A setback"]


def fallback_scenes(job, c: int, n: int, total: int, angles: Sequence[str] = ()) -> list[Section]:
    """A chapter the model planned into nothing: its synopsis split into opening, middle
    steps and an ending that leads into the next chapter. ``angles``: who or what each middle
    step turns on, one after the other (a synopsis of two sentences gave three middle scenes
    the same main point, and the instruct model wrote the same scene three times)."""
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
            angle = angles[(k - 1) % len(angles)] if angles else ""
            points.append(f"{beat}{' (again)' if k > len(_MIDDLE_BEATS) else ''}: {mid}{angle}")
    return [Section(main_point=p, target_words=t, title=short_title(p), chapter=c)
            for p, t in zip(points, rescale([None] * n, total))]


def plan_so_far(found: list[ParsedChapter], first: int, words: int) -> str:
    """Chapters planned so far as the plan's own lines (numbered from ``first``; ``words`` for a
    chapter the model gave no length), to continue an answer after them."""
    from .grammar import chapter_line
    return "".join(chapter_line(i, p.title, p.synopsis, p.target_words or words) + "\n"
                   for i, p in enumerate(found, first))


def book_plan_lines(chapters: list[Chapter]) -> str:
    from .grammar import chapter_line
    return "\n".join(chapter_line(i, ch.title, ch.synopsis, ch.target_words)
                     for i, ch in enumerate(chapters, 1))


def scene_lines(job, idx: list[int]) -> str:
    return "\n".join(f"Scene {k} - Main Point: {job.sections[i].main_point} - Word Count: "
                     f"{job.sections[i].target_words} words" for k, i in enumerate(idx, 1))

