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

from ..text.wordcount import count_words, has_cjk
from .status import SectionStatus, is_interrupted, is_written

# The old names of the statuses (the values are the strings stored in project files).
PLANNED, WRITING, DONE, EDITED = (SectionStatus.PLANNED, SectionStatus.WRITING,
                                  SectionStatus.DONE, SectionStatus.EDITED)
STATUSES = tuple(SectionStatus)

MIN_SECTION_WORDS = 50
DEFAULT_SECTION_WORDS = 450   # AgentWrite asks for 200..1000 words per paragraph
# A chat model ends a part where it sees fit (see LengthControl.chat_allow_end) and the words
# it leaves go to the next part: a one-part plan has none. The instruct test model wrote 304
# characters of a one-part 500-character Chinese story and ended it.
CHAT_SECTION_WORDS = 300
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
    # two-level plans (engine.book, engine.book_model): the chapter (0-based) this scene belongs to; None in a
    # one-level plan. codex_used: names of the codex entries in this scene's prompt.
    chapter: int | None = None
    codex_used: list[str] = field(default_factory=list)
    # the text failed the health check and recovery gave up: the section ends short here
    # (see text.health and AgentWriter.write_section); cleared when it is written again
    needs_attention: bool = False
    # A chat model's scene written in several answers (asked to go on after it ended one):
    # where in ``text`` each answer after the first begins. Prompts replay the scene as those
    # answers, so that the conversation's prefix stays in the cache (engine.book).
    parts: list[int] = field(default_factory=list)
    # ... and what it was asked before each of those answers (the scene's request, then the
    # asks to go on), replayed as they were: a later target, a scene added after it or a
    # renamed next scene would otherwise change the conversation's start and make the model
    # evaluate the whole chapter again.
    asked: list[str] = field(default_factory=list)

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
        return self.title or heading_from_main_point(self.main_point)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Section":
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        sec = cls(main_point=str(kwargs.pop("main_point", "")),
                  target_words=int(kwargs.pop("target_words", DEFAULT_SECTION_WORDS)), **kwargs)
        return sec


def heading_from_main_point(main_point: str, max_words: int = 8) -> str:
    """A section heading from a main point: its first clause, at most ``max_words`` words."""
    text = re.split(r"(?<=[.;:!?。；：！？])\s*|\s+[-–—]\s+", main_point.strip(), maxsplit=1)[0]
    text = text.strip(" .;:。；：")
    if has_cjk(text):
        return text[:20]
    words = text.split()
    if len(words) > max_words:
        text = " ".join(words[:max_words]) + "…"
    return text


short_title = heading_from_main_point     # old name (book.py, bench/collapse.py)


# ---------------------------------------------------------------------------------------
# Parsing

@dataclass
class ParsedStep:
    main_point: str
    target_words: int | None
    title: str = ""


_MARKUP = re.compile(r"[*_`]+")
_LEAD = re.compile(
    r"""^\s*(?:[-•>#]+\s*)?                      # bullets, quotes, heading marks
        (?:(?:paragraph|para|section|part|chapter|step|scene|段落|第)\s*)?
        (?P<num>\d{1,3}|[一二三四五六七八九十]+)\s*
        (?:段|部分|章|节)?\s*
        (?:[.):：、\-–—]|\s-\s)?\s*""", re.IGNORECASE | re.VERBOSE)
_MAIN_POINT_LABEL = re.compile(r"^(?:[-–—:：]\s*)?(?:main\s*point|主要内容|要点|内容)\s*[:：\-–—]?\s*",
                               re.IGNORECASE)
# "Title: Rooftop Hives - Main Point: …" (the chat plan asks for a title per part)
_TITLE_LABEL = re.compile(r"^(?:[-–—:：]\s*)?(?:title|标题)\s*[:：]\s*(?P<title>.+?)\s*[-–—|]\s*"
                          r"(?=(?:main\s*point|主要内容|要点|内容)\s*[:：])", re.IGNORECASE)
_LABEL_IN_TITLE = re.compile(r"[\s.,;:\-–—]*\b(?:main\s*point|word\s*count)\s*[:：]", re.IGNORECASE)
_COUNT = re.compile(
    r"""(?:[-–—|,;(\[]\s*)?
        (?:word\s*count|words?|length|字数)?\s*[:：]?\s*
        (?:about|approx\.?|approximately|around|~|约)?\s*
        (?P<n>\d{1,3}(?:,\d{3})+|\d{1,6})\s*(?:-\s*\d+\s*)?
        (?:words?\b|字)\s*[)\]]?\s*\.?\s*$""", re.IGNORECASE | re.VERBOSE)
_LABELLED_COUNT = re.compile(
    r"\s*[-–—|,;(]?\s*(?:words?\s*count|words?|length|字数)\s*[:：]\s*(?P<n>\d{1,3}(?:,\d{3})+|\d{1,6})\s*[)\]]?\s*\.?\s*$",
    re.IGNORECASE)
# "… - Main Point: X. Word Count: 245 words. It stays inside chapter 1": a count written
# inside the line (the grammar's free text allowed it), with the model's talk after it
_EMBEDDED_COUNT = re.compile(
    r"\s*[-–—|,;(]?\s*\bword\s*count\s*[:：]\s*(?P<n>\d{1,3}(?:,\d{3})+|\d{1,6})\s*(?:words?)?\b", re.IGNORECASE)
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
        title = ""
        tm = _TITLE_LABEL.match(body)
        if tm:
            title, body = tm.group("title").strip(" \"'“”"), body[tm.end():]
            # a title that ran on into a label of its own ("The Greywater's Final Stand. Main
            # Point: The cartographers'PLAN.", the instruct model's top-up scene) ends there
            title = _LABEL_IN_TITLE.split(title)[0].strip(" \"'“”.,;:-–—")
        body = _MAIN_POINT_LABEL.sub("", body).strip()
        # a model (or server) that repeats the label the prompt ended with:
        # "Paragraph 1 - Main Point: Paragraph 1 - Main Point: Mara finds the bottle"
        again = _LEAD.match(body)
        if again and again.group("num") and _MAIN_POINT_LABEL.match(body[again.end():].strip()):
            body = _MAIN_POINT_LABEL.sub("", body[again.end():].strip()).strip()
        target = None
        cm = _COUNT.search(body) or _LABELLED_COUNT.search(body) or _EMBEDDED_COUNT.search(body)
        if cm:
            try:
                target = int(cm.group("n").replace(",", ""))
            except ValueError:
                target = None
            body = body[: cm.start()].strip()
            # the model's own count before the one the grammar asked for ("X. Word Count: 1450
            # words. - Word Count: 450 words", the instruct model's top-up scenes): cut there too
            em = _EMBEDDED_COUNT.search(body)
            if em:
                body = body[: em.start()].strip()
        else:
            body = _COUNT_LABEL_ONLY.sub("", body).strip()
        body = body.strip(" -–—:：|").strip()
        if count_words(body) < 1 or _CHATTER.match(body):
            continue
        if target is not None and target <= 0:
            target = None
        steps.append(ParsedStep(main_point=body, target_words=target, title=title[:80]))
    return steps


# ---------------------------------------------------------------------------------------
# Building a usable plan

def expected_sections(target_words: int, part_words: int = DEFAULT_SECTION_WORDS) -> int:
    """How many sections a job of ``target_words`` should have (parts of ``part_words``)."""
    return max(1, min(MAX_SECTIONS, round(target_words / part_words)))


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


# Whole words: "history" is not a story (an essay on the history of libraries got a story arc).
_STORY_WORDS = re.compile(r"\b(?:stor(?:y|ies)|novels?|novella|tales?|fiction|chapters?|narratives?|fables?"
                          r"|scenes?)\b|小说|故事|童话", re.I)

def is_story(instruction: str) -> bool:
    """Does the request ask for fiction (a story, novel, tale...)?"""
    return bool(_STORY_WORDS.search(instruction))


# Fallback arcs: stages, each with distinct steps (title, main point). A long fallback plan
# takes several steps of a stage, never the same step twice: repeated steps under one heading
# made the demo model copy the earlier section, and its anti-repetition samplers then turned
# the copy into fragments (issue 14; bench/collapse.py).
_ARCS: dict[tuple[str, str], list[list[tuple[str, str]]]] = {
    ("story", "en"): [
        [("Opening", "Opening: introduce the main character, the setting and what they want"),
         ("Everyday life", "The main character's everyday life, work and the people around them"),
         ("A wish", "What the main character longs for and what stands in the way")],
        [("Inciting incident", "Inciting incident: something disrupts the main character's world"),
         ("First reactions", "The main character's first reaction to the change, and a decision"),
         ("Leaving the familiar", "The main character leaves the familiar and sets out")],
        [("Rising action", "Rising action: the character pursues the goal and meets a first obstacle"),
         ("An ally", "An ally or a rival appears and changes the plan"),
         ("A small victory", "A small victory that costs more than it seems"),
         ("A new place", "A journey to a new place and what is found there")],
        [("Complications", "Complications: the stakes rise and a setback forces a hard choice"),
         ("A secret", "A secret comes out and trust is broken"),
         ("Alone", "The character is alone and must rely on their own strength")],
        [("Turning point", "Turning point: a discovery changes the character's understanding"),
         ("A memory", "A memory from the past explains what is happening now"),
         ("A new plan", "The character makes a new plan with what they now know")],
        [("Climax", "Climax: the central conflict comes to a head"),
         ("The hardest moment", "The hardest moment: everything seems lost"),
         ("The decisive act", "The decisive act that settles the conflict")],
        [("Falling action", "Falling action: the consequences of the climax unfold"),
         ("Counting the cost", "The characters count what was lost and what was won"),
         ("Reconciliation", "Old quarrels are settled and relationships change")],
        [("Resolution", "Resolution: the story closes and shows how the character has changed"),
         ("Final image", "A final scene that echoes the opening and ends the story")],
    ],
    ("essay", "en"): [
        [("Introduction", "Introduction: present the subject, why it matters and what the text will cover"),
         ("Key terms", "The key terms and questions the text will answer")],
        [("Background", "Background: the context and history needed to understand the subject"),
         ("How it began", "How it began: origins and early developments"),
         ("Turning points", "Turning points that shaped the subject as it is today")],
        [("First main aspect", "First main aspect, explained with concrete examples"),
         ("A case study", "A case study that shows the first aspect in practice"),
         ("Numbers and evidence", "Numbers and evidence on the first aspect")],
        [("Second main aspect", "Second main aspect, with evidence and details"),
         ("A comparison", "A comparison with another place, time or approach"),
         ("What people say", "What the people most concerned say about it")],
        [("Third main aspect", "Third main aspect, including different perspectives"),
         ("Disagreements", "Where experts disagree, and why"),
         ("Common misconceptions", "Common misconceptions and what is actually true")],
        [("Challenges", "Challenges, limits and open questions"),
         ("Risks", "Risks and costs that are often overlooked"),
         ("Open questions", "Questions that are still open and how they might be answered")],
        [("Practical implications", "Practical implications and what readers can take away"),
         ("Recommendations", "Concrete recommendations and first steps"),
         ("The future", "How the subject may develop in the coming years")],
        [("Conclusion", "Conclusion: bring the points together and end with a clear final thought"),
         ("Final thought", "A final thought that answers the questions raised at the start")],
    ],
    ("story", "zh"): [
        [("开篇", "开篇：介绍主人公、故事发生的地方和主人公的愿望"),
         ("日常生活", "主人公的日常生活、工作和身边的人"),
         ("心愿", "主人公心中的愿望以及面前的阻碍")],
        [("变故", "变故：一件事打破了主人公平静的生活"),
         ("最初的反应", "主人公对变化的最初反应，以及做出的决定"),
         ("离开熟悉的地方", "主人公离开熟悉的地方，踏上新的路")],
        [("发展", "发展：主人公追求目标，遇到第一个困难"),
         ("伙伴", "一个伙伴或对手出现，改变了原来的计划"),
         ("小小的胜利", "一次小小的胜利，代价却比想象的大"),
         ("新的地方", "来到一个新的地方，在那里有了新的发现")],
        [("波折", "波折：事情变得更加复杂，主人公必须做出艰难的选择"),
         ("秘密", "一个秘密被揭开，信任破裂"),
         ("独自面对", "主人公独自一人，只能依靠自己的力量")],
        [("转折", "转折：一个发现改变了主人公的看法"),
         ("回忆", "一段往事解释了眼前发生的一切"),
         ("新的打算", "主人公根据新的认识重新打算")],
        [("高潮", "高潮：主要冲突达到顶点"),
         ("最艰难的时刻", "最艰难的时刻，一切似乎都已失去"),
         ("关键的行动", "决定结局的关键行动")],
        [("余波", "余波：高潮之后的种种后果"),
         ("得与失", "人物们清点失去的和得到的"),
         ("和解", "旧的矛盾得到化解，人物关系发生变化")],
        [("结局", "结局：故事收尾，展现主人公的变化"),
         ("尾声", "与开头呼应的最后一幕，故事结束")],
    ],
    ("essay", "zh"): [
        [("引言", "引言：介绍主题、它的重要性以及本文要讨论的内容"),
         ("关键概念", "本文涉及的关键概念和要回答的问题")],
        [("背景", "背景：理解这一主题所需的背景和历史"),
         ("起源", "起源：最初的由来和早期的发展"),
         ("重要转折", "塑造了今天面貌的几个重要转折")],
        [("第一方面", "第一个主要方面，用具体的例子说明"),
         ("案例", "一个说明第一个方面的实际案例"),
         ("数据与证据", "关于第一个方面的数据和证据")],
        [("第二方面", "第二个主要方面，给出证据和细节"),
         ("比较", "与其他地方、时代或做法的比较"),
         ("各方看法", "与此关系最密切的人们怎么看")],
        [("第三方面", "第三个主要方面，包括不同的观点"),
         ("分歧", "专家们的分歧在哪里，原因是什么"),
         ("常见误解", "常见的误解和真实的情况")],
        [("挑战", "挑战、局限和尚未解决的问题"),
         ("风险", "常被忽视的风险和代价"),
         ("待解的问题", "仍然悬而未决的问题以及可能的答案")],
        [("现实意义", "现实意义：读者可以得到的启示"),
         ("建议", "具体的建议和第一步的做法"),
         ("展望", "这一主题在未来几年可能的发展")],
        [("结论", "结论：总结全文要点，给出清晰的结尾"),
         ("结语", "回答开头提出的问题，结束全文")],
    ],
}
_MORE = {"en": "{title}, continued: {point} (new developments, {k})",
         "zh": "{title}（续{k}）：{point}，写出新的进展"}


def _arc_steps(arc: list[list[tuple[str, str]]], n: int, lang: str) -> list[tuple[str, str]]:
    """``n`` distinct (title, main point) steps spread over the arc's stages, in order."""
    if n <= len(arc):
        idx = [0] if n == 1 else [round(i * (len(arc) - 1) / (n - 1)) for i in range(n)]
        return [arc[i][0] for i in idx]
    # every stage gets its share of the sections (the first and last stage fewer)
    weights = [0.5] + [1.0] * (len(arc) - 2) + [0.5]
    raw = [w * n / sum(weights) for w in weights]
    counts = [max(1, int(r)) for r in raw]
    order = sorted(range(len(arc)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    i = 0
    while sum(counts) < n:
        counts[order[i % len(order)]] += 1
        i += 1
    while sum(counts) > n:
        j = max(range(len(arc)), key=lambda k: counts[k])
        counts[j] -= 1
    steps: list[tuple[str, str]] = []
    for stage, m in zip(arc, counts):
        for k in range(m):
            if k < len(stage):
                steps.append(stage[k])
            else:
                title, point = stage[k % len(stage)]
                steps.append((f"{stage[0][0]} ({k + 1})" if lang == "en" else f"{stage[0][0]}（{k + 1}）",
                              _MORE[lang].format(title=stage[0][0], point=point, k=k + 1)))
    return steps


def fallback_plan(instruction: str, target_words: int, lang: str | None = None) -> list[Section]:
    """A plan that needs no model: a story arc or an essay arc, sized to the target.

    Written in the request's language; every step is distinct (a long plan takes several
    different steps of each stage, never one step several times).
    """
    from ..text.language import ZH, detect_language
    lang = lang or detect_language(instruction)
    lang = "zh" if lang == ZH else "en"
    n = expected_sections(target_words)
    kind = "story" if is_story(instruction) else "essay"
    arc = _ARCS[(kind, lang)]
    if n == 1:
        title, point = arc[0][0]
        steps = [(title, point + ("，一直写到结尾：全文只有一段" if lang == "zh"
                                  else "; then carry it to the end: the whole text in one section"))]
    else:
        steps = _arc_steps(arc, n, lang)
    targets = rescale([None] * n, target_words)
    return [Section(main_point=p, target_words=t, title=title) for (title, p), t in zip(steps, targets)]


# ---------------------------------------------------------------------------------------
# Is a parsed plan about the request?

def plan_keys(text: str, lang: str = "") -> set[str]:
    """Content words (stems) and Chinese character pairs of ``text``: both, since a plan for a
    Chinese request may come back in English (and copy the English example)."""
    from ..text.health import topic_keys
    return topic_keys(text, "en") | topic_keys(text, "zh")


def plan_problem(instruction: str, sections: list[Section], example: str = "",
                 lang: str | None = None) -> str:
    """Why a parsed plan cannot be used, or "" when it can.

    "copies the example": its points share more with the prompt's example plan than with
    the request (and the shared words are not the request's); "off the subject": its points
    share no word (Chinese: no character pair) with the request; "garbled": a quarter of its
    points or more are not language (words run together, fragments, the plan format inside a
    point), which the sections would copy.
    """
    from ..text.health import garbled
    from ..text.language import detect_language
    if sections and sum(garbled(s.main_point) for s in sections) * 4 >= len(sections):
        return "garbled"
    lang = lang or detect_language(instruction)
    points = plan_keys(" ".join(s.main_point for s in sections), lang)
    request = plan_keys(instruction, lang)
    if example:
        from_example = points & (plan_keys(example, lang) - request)
        if len(from_example) >= 3 and len(from_example) > len(points & request):
            return "copies the example"
    if len(request) >= 2 and not (points & request):     # ("Write text number 3" has no subject)
        return "off the subject"
    return ""


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
    sections = [Section(main_point=s.main_point, target_words=t,
                        title=s.title or heading_from_main_point(s.main_point))
                for s, t in zip(unique, targets)]
    return sections, "parsed"


def _merge(steps: list[ParsedStep], n: int) -> list[ParsedStep]:
    """Merge consecutive steps into ``n`` groups (main points joined, counts added)."""
    groups: list[ParsedStep] = []
    for g in range(n):
        part = steps[g * len(steps) // n:(g + 1) * len(steps) // n]
        counts = [p.target_words for p in part]
        total = sum(c for c in counts if c) if all(counts) else None
        groups.append(ParsedStep("; ".join(p.main_point for p in part), total, part[0].title if part else ""))
    return groups


def plan_as_text(sections: list[Section]) -> str:
    """The plan in AgentWrite's one-line-per-section format (what prompts show the model)."""
    return "\n".join(
        f"Paragraph {i} - Main Point: {s.main_point} - Word Count: {s.target_words} words"
        for i, s in enumerate(sections, 1))
