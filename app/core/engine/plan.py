"""Core: the plan (outline) of a text, and a parser that survives what models really write.

AgentWrite's plan format is one line per section::

    Paragraph 1 - Main Point: The storm reaches the island ... - Word Count: 700 words

Small models drift from it: other numbering ("1.", "Section 2:", "**Part 3**"), missing
counts, Markdown, chatter before and after, counts in Chinese ("字数：500字"). The parser
reads what it can; :func:`make_plan` then keeps the parsed outline only when it is usable
and otherwise builds a sensible fallback, so the engine always has a plan whose targets sum
to the job's target.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from ..text.wordcount import count_words
from .status import SectionStatus, is_interrupted, is_written

# The old names of the statuses (the values are the strings stored in project files).
PLANNED, WRITING, DONE, EDITED = (SectionStatus.PLANNED, SectionStatus.WRITING,
                                  SectionStatus.DONE, SectionStatus.EDITED)
STATUSES = tuple(SectionStatus)

MIN_SECTION_WORDS = 50
DEFAULT_SECTION_WORDS = 450   # AgentWrite asks for 200..1000 words per paragraph
MAX_SECTIONS = 400
MIN_MERGED_WORDS = 150          # parsed plans are merged so no section is shorter


@dataclass
class Section:
    """One step of the plan and the text written for it."""

    main_point: str
    target_words: int
    title: str = ""
    text: str = ""
    status: SectionStatus = SectionStatus.PLANNED
    locked: bool = False
    takes: list[str] = field(default_factory=list)   # earlier takes of this section
    summary: str = ""                                 # short summary for long-book memory
    # two-level plans (engine.book): the chapter (0-based) this scene belongs to; None in a
    # one-level plan. codex_used: names of the codex entries in this scene's prompt.
    chapter: int | None = None
    codex_used: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # a stored string becomes the enum; an unknown one: done if there is text, else planned
        self.status = SectionStatus.parse(self.status) or SectionStatus.default(bool(self.text))

    @property
    def words(self) -> int:
        return count_words(self.text)

    @property
    def written(self) -> bool:
        """Done or edited, with text (see :mod:`.status`)."""
        return is_written(self)

    @property
    def interrupted(self) -> bool:
        """Half-written by a job that stopped (see :mod:`.status`)."""
        return is_interrupted(self)

    @property
    def heading(self) -> str:
        return self.title or short_title(self.main_point)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Section":
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        sec = cls(main_point=str(kwargs.pop("main_point", "")),
                  target_words=int(kwargs.pop("target_words", DEFAULT_SECTION_WORDS)), **kwargs)
        return sec


def short_title(main_point: str, max_words: int = 8) -> str:
    """A heading from a main point: its first clause, at most ``max_words`` words."""
    text = re.split(r"(?<=[.;:!?。；：！？])\s*|\s+[-–—]\s+", main_point.strip(), maxsplit=1)[0]
    text = text.strip(" .;:。；：")
    if re.search(r"[\u4e00-\u9fff]", text):
        return text[:20]
    words = text.split()
    if len(words) > max_words:
        text = " ".join(words[:max_words]) + "…"
    return text


# ---------------------------------------------------------------------------------------
# Parsing

@dataclass
class ParsedStep:
    main_point: str
    target_words: int | None


_MARKUP = re.compile(r"[*_`]+")
_LEAD = re.compile(
    r"""^\s*(?:[-•>#]+\s*)?                      # bullets, quotes, heading marks
        (?:(?:paragraph|para|section|part|chapter|step|scene|段落|第)\s*)?
        (?P<num>\d{1,3}|[一二三四五六七八九十]+)\s*
        (?:段|部分|章|节)?\s*
        (?:[.):：、\-–—]|\s-\s)?\s*""", re.IGNORECASE | re.VERBOSE)
_MAIN_POINT_LABEL = re.compile(r"^(?:[-–—:：]\s*)?(?:main\s*point|主要内容|要点|内容)\s*[:：\-–—]?\s*",
                               re.IGNORECASE)
_COUNT = re.compile(
    r"""(?:[-–—|,;(\[]\s*)?
        (?:word\s*count|words?|length|字数)?\s*[:：]?\s*
        (?:about|approx\.?|approximately|around|~|约)?\s*
        (?P<n>\d{1,3}(?:,\d{3})+|\d{1,6})\s*(?:-\s*\d+\s*)?
        (?:words?\b|字)\s*[)\]]?\s*\.?\s*$""", re.IGNORECASE | re.VERBOSE)
_LABELLED_COUNT = re.compile(
    r"\s*[-–—|,;(]?\s*(?:words?\s*count|words?|length|字数)\s*[:：]\s*(?P<n>\d{1,3}(?:,\d{3})+|\d{1,6})\s*[)\]]?\s*\.?\s*$",
    re.IGNORECASE)
_COUNT_LABEL_ONLY = re.compile(r"\s*[-–—|,;(]?\s*(?:words?\s*count|字数)\s*[:：]?\s*[)\]]?\s*$", re.IGNORECASE)
_CHATTER = re.compile(r"^(?:here\s+is|here's|sure|outline|plan|the\s+plan|okay|ok\b|note|total)", re.IGNORECASE)


def parse_plan(text: str) -> list[ParsedStep]:
    """Read plan steps out of model output. Never raises; returns [] when nothing is usable."""
    steps: list[ParsedStep] = []
    if not text:
        return steps
    for raw in text.splitlines():
        line = _MARKUP.sub("", raw).strip()
        if not line:
            continue
        m = _LEAD.match(line)
        if not m or not m.group("num"):
            continue
        body = line[m.end():].strip()
        body = _MAIN_POINT_LABEL.sub("", body).strip()
        target = None
        cm = _COUNT.search(body) or _LABELLED_COUNT.search(body)
        if cm:
            try:
                target = int(cm.group("n").replace(",", ""))
            except ValueError:
                target = None
            body = body[: cm.start()].strip()
        else:
            body = _COUNT_LABEL_ONLY.sub("", body).strip()
        body = body.strip(" -–—:：|").strip()
        if count_words(body) < 1 or _CHATTER.match(body):
            continue
        if target is not None and target <= 0:
            target = None
        steps.append(ParsedStep(main_point=body, target_words=target))
    return steps


# ---------------------------------------------------------------------------------------
# Building a usable plan

def expected_sections(target_words: int) -> int:
    """How many sections a job of ``target_words`` should have."""
    return max(1, min(MAX_SECTIONS, round(target_words / DEFAULT_SECTION_WORDS)))


def rescale(targets: list[int | None], total: int) -> list[int]:
    """Scale section targets so they sum exactly to ``total``.

    Missing targets take the mean of the given ones; every section keeps at least
    MIN_SECTION_WORDS words when the total allows it (largest-remainder rounding).
    """
    n = len(targets)
    if n == 0:
        return []
    given = [t for t in targets if t]
    fill = (sum(given) / len(given)) if given else total / n
    raw = [float(t) if t else fill for t in targets]
    if total >= MIN_SECTION_WORDS * n:
        floor_words = MIN_SECTION_WORDS
    else:
        floor_words = 1 if total >= n else 0
    scale = total / sum(raw)
    scaled = [max(floor_words, r * scale) for r in raw]
    # re-normalise after applying the floor
    excess = sum(scaled) - total
    if excess > 0:
        flexible = [i for i, s in enumerate(scaled) if s > floor_words]
        room = sum(scaled[i] - floor_words for i in flexible)
        for i in flexible:
            scaled[i] -= excess * (scaled[i] - floor_words) / room
    out = [int(math.floor(s)) for s in scaled]
    remainder = total - sum(out)
    order = sorted(range(n), key=lambda i: scaled[i] - out[i], reverse=True)
    for i in order[: max(0, remainder)]:
        out[i] += 1
    return out


_STORY_WORDS = re.compile(r"story|novel|tale|fiction|chapter|narrative|fable|scene|小说|故事|童话", re.I)

_STORY_ARC = [
    "Opening: introduce the main character, the setting and what they want",
    "Inciting incident: something disrupts the main character's world",
    "Rising action: the character pursues the goal and meets obstacles",
    "Complications: the stakes rise and a setback forces a hard choice",
    "Turning point: a discovery changes the character's understanding",
    "Climax: the central conflict comes to a head",
    "Falling action: the consequences of the climax unfold",
    "Resolution: the story closes and shows how the character has changed",
]
_ESSAY_ARC = [
    "Introduction: present the subject, why it matters and what the text will cover",
    "Background: the context and history needed to understand the subject",
    "First main aspect, explained with concrete examples",
    "Second main aspect, with evidence and details",
    "Third main aspect, including different perspectives",
    "Challenges, limits and open questions",
    "Practical implications and what readers can take away",
    "Conclusion: bring the points together and end with a clear final thought",
]


def fallback_plan(instruction: str, target_words: int) -> list[Section]:
    """A plan that needs no model: a story arc or an essay arc, sized to the target."""
    n = expected_sections(target_words)
    arc = _STORY_ARC if _STORY_WORDS.search(instruction) else _ESSAY_ARC
    points: list[str] = []
    if n <= len(arc):
        # keep the first and last stages, pick evenly from the middle
        if n == 1:
            points = [arc[0].split(":")[0] + " to end: the whole text in one section"]
        else:
            idx = [round(i * (len(arc) - 1) / (n - 1)) for i in range(n)]
            points = [arc[i] for i in idx]
    else:
        per_stage = n / len(arc)
        for i in range(n):
            stage = arc[min(len(arc) - 1, int(i / per_stage))]
            part = i - int(int(i / per_stage) * per_stage) + 1
            points.append(f"{stage} (part {part})")
    targets = rescale([None] * n, target_words)
    return [Section(main_point=p, target_words=t, title=short_title(p)) for p, t in zip(points, targets)]


def make_plan(instruction: str, target_words: int, model_output: str) -> tuple[list[Section], str]:
    """Turn model output into a plan. Returns (sections, how) where how is 'parsed' or 'fallback'.

    A parsed outline is kept when its number of sections is plausible for the target (between
    half and twice the expected count); steps repeating an earlier main point are dropped.
    """
    steps = parse_plan(model_output)
    seen: set[str] = set()
    unique: list[ParsedStep] = []
    for s in steps:
        key = re.sub(r"\W+", " ", s.main_point.lower()).strip()
        if key in seen:
            continue
        seen.add(key)
        unique.append(s)
    expected = expected_sections(target_words)
    lo, hi = max(1, math.ceil(expected / 2)), max(2, expected * 2)
    # Short sections land less precisely (they stop at the first sentence end past the
    # target): merge neighbours so that none is planned below MIN_MERGED_WORDS.
    most = max(1, target_words // MIN_MERGED_WORDS)
    if len(unique) > most and most < lo:
        lo = most
    if unique and len(unique) > most:
        unique = _merge(unique, most)
    if not unique or not (lo <= len(unique) <= hi):
        return fallback_plan(instruction, target_words), "fallback"
    targets = rescale([s.target_words for s in unique], target_words)
    sections = [Section(main_point=s.main_point, target_words=t, title=short_title(s.main_point))
                for s, t in zip(unique, targets)]
    return sections, "parsed"


def _merge(steps: list[ParsedStep], n: int) -> list[ParsedStep]:
    """Merge consecutive steps into ``n`` groups (main points joined, counts added)."""
    groups: list[ParsedStep] = []
    for g in range(n):
        part = steps[g * len(steps) // n:(g + 1) * len(steps) // n]
        counts = [p.target_words for p in part]
        total = sum(c for c in counts if c) if all(counts) else None
        groups.append(ParsedStep("; ".join(p.main_point for p in part), total))
    return groups


def plan_as_text(sections: list[Section]) -> str:
    """The plan in AgentWrite's one-line-per-section format (what prompts show the model)."""
    return "\n".join(
        f"Paragraph {i} - Main Point: {s.main_point} - Word Count: {s.target_words} words"
        for i, s in enumerate(sections, 1))
