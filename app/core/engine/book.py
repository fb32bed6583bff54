"""Core: AgentWrite in two levels, for novels: the book → chapters → scenes.

One flat plan stops working past about 15,000 words (see ``BOOK_THRESHOLD``): no model writes
a coherent 200-line outline in one answer. Novel tools work in levels (Sudowrite: synopsis →
chapter outline → beats; Novelcrafter: acts → chapters → scenes), and so does this module:

1. :meth:`BookWriter.plan_book` asks for chapters (title, a synopsis of what happens, a word
   target), a few lines per answer, continued until the book has its chapters;
2. just before a chapter is written, :meth:`BookWriter.plan_chapter` plans it into scenes
   (a main point and 200–1,000 words each), given the book plan, the story so far (the
   summaries of earlier chapters) and the codex;
3. the scenes are written with :class:`AgentWriter`'s section writing and length control;
4. after a chapter, the model writes its summary ("the story so far") and the names it
   introduced are proposed as codex entries.

Data model (:mod:`.book_model`; plans parsed and fallbacks: :mod:`.book_plan`):
``job.sections`` stays the flat list the writer walks; each scene carries its ``chapter``
(0-based). ``job.chapters`` holds the chapters' metadata; a chapter not planned yet simply
has no scenes. Targets roll up exactly: chapter targets sum to the book's target, scene
targets to their chapter's. An edited plan whose totals do not match is *reported*
(:func:`~.book_model.check_totals`), never rescaled over the user's numbers.

A scene's prompt is a document whose parts only grow between consecutive scenes, so the
backend's prefix cache serves everything but the new text: the book header (instruction,
story bible, the chapter list), the story so far (one summary per earlier chapter), the
chapter's block (synopsis, how the previous chapter ended, codex notes, the scene list),
then the chapter's scenes so far. For a chat model the chapter's part is a conversation, one
scene per answer, each scene asked for in its own message (:meth:`BookWriter._conversation`);
it too only grows. Reopening a long project reads only that: never the earlier chapters' text.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import time

from ..backends.base import Prompt, Sampling, Steer
from ..errors import CancelToken
from ..text.chatter import find_chatter, strip_preamble
from ..text.glued import glued_words
from ..text.health import garbled
from ..text.phrases import PhraseBook
from ..text.wordcount import count_words
from .book_model import (
    CHAPTER_LANDS,
    DEFAULT_CHAPTER_WORDS,
    DEFAULT_SCENE_WORDS,
    MAX_SCENE_WORDS,
    MIN_CHAPTER_WORDS,
    MIN_SCENE_WORDS,
    Chapter,
    absorb_added_scene,
    add_scene,
    carry_into,
    chapter_scenes,
    chapter_status,
    chapter_text,
    chapter_words,
    expected_chapters,
    expected_scenes,
    insert_at,
    is_book,
)
from .book_plan import (
    MAX_SYNOPSIS_WORDS,
    ParsedChapter,
    Told,
    bounded_targets,
    chapter_keys,
    copies,
    dedupe_chapters,
    fallback_chapters,
    fallback_scenes,
    is_ending,
    not_a_chapter,
    parse_chapters,
    plan_key,
    plan_so_far,
    scene_lines,
)
from .codex import CodexEntry, apply_fixes, propose_entries
from .events import (
    BookEventSink,
    BookPlanReady,
    BookPlanRound,
    ChapterDone,
    ChapterPlanned,
    JobDone,
    JobStats,
    PlanReady,
)
from .plan import ParsedStep, Section, parse_plan, short_title
from .prompts import (
    BOOK_ACTS,
    BOOK_HEAD_CHAT,
    BOOK_HEAD_COMPLETION,
    BOOK_PART_SPAN,
    BOOK_PARTS_CHAT,
    BOOK_PARTS_REST_CHAT,
    BOOK_PLAN_ACT_CHAT,
    BOOK_PLAN_CHAT,
    BOOK_PLAN_COMPLETION,
    BOOK_PLAN_PART_CHAT,
    CHAPTER_HEAD_CHAT,
    CHAPTER_HEAD_COMPLETION,
    SCENE_ASK_CHAT,
    SCENE_ENDS_BOOK_CHAT,
    SCENE_ENDS_CHAPTER_CHAT,
    SCENE_GO_ON_CHAT,
    SCENE_GOES_ON_CHAT,
    SCENE_HEADING,
    SCENE_NOTES_CHAT,
    SCENE_NOTES_COMPLETION,
    SCENE_PLAN_CHAT,
    SCENE_TOP_UP_ANGLE_CHAT,
    SCENE_TOP_UP_ASK_CHAT,
    SCENE_TOP_UP_LATER,
    SCENE_TOP_UP_NOT_AGAIN_CHAT,
    SCENES_BEFORE_CHAT,
    SCENES_INTRO_CHAT,
    STORY_SO_FAR,
    SUMMARY_ASK_CHAT,
    SUMMARY_CUE_COMPLETION,
    SYSTEM,
)
from .writer import AgentWriter, validate_request

# How often a word 4-gram may stand in a novel's other chapters before a scene may not write
# it again (Sampling.avoid; 0: never banned).
PHRASE_LIMIT = 1

log = logging.getLogger(__name__)

SUMMARY_WORDS = 70
NOTES_BUDGET = 300              # tokens of codex notes in a chapter's block
# A chat model's scene costs its text plus about this many tokens of messages: the ask for it
# (title, main point, notes, where it stands) and the asks to go on with it.
_CHAT_TURN_TOKENS = 300
SCENE_NOTES_BUDGET = 150        # tokens of notes added before a scene (entries new to the chapter)
PLAN_LINES_PER_ANSWER = 12      # chapters asked for in one answer; the plan is continued
# A synopsis's words in a plan line, bounded by the grammar so a line ends. At 30, the instruct
# model went on past the bound by gluing words ("willliveonforever", "未知.land"): a word
# without a space was all the grammar still allowed.
PLAN_LINE_WORDS = 60
# A base model's synopses stay at 30: at 60 the demo model's 90,000-word plan held 45 words
# run together (16 letters or more) in 1,605 words of synopses, against 14 in 1,119 at 30.
PLAN_LINE_WORDS_COMPLETION = 30
# A chapter's target is within this factor of the mean. (The model's numbers only say which
# chapters are longer. At 1.5 the instruct model's 30,000-word plan rose from 1,666 words to
# 3,619 in its last chapter, where a small model has least story left: the last four
# chapters landed at S_l 53-73.)
CHAPTER_SPREAD = 1.2
REST_STORY_CHAPTERS = 3         # a re-planned book's rest is outlined after its last written chapters' summaries
CHAPTERS_PER_PART = 4           # a long book's chapters per part of its story (chat models)
STALLED_ROUNDS = 3              # answers in a row that add nothing before a part is given up
TOP_UP_SCENES = 8
TOP_UP_ATTEMPTS = 5
# At most this many scenes in a chat model's chapter plan. Its scenes are planned at the length
# it wrote (scene_words), and short scenes made for long plans: asked (by the plan grammar) for
# exactly 14 scenes of chapter 9, the instruct model listed the story so far, chapter by
# chapter, and the chapter fell to the fallback plan. A longer scene is gone on with.
CHAT_PLAN_SCENES = 8


# A main point that is the plan line's own format: "Title: The Crisis".
_FORMAT_ECHO = re.compile(r"^\W*(?:title|scene \d+|main point|word count)\s*[:：-]", re.I)


def _chinese(text: str) -> bool:
    """The plan grammars' words are space-separated: not for Chinese (the parser copes)."""
    from ..text.language import ZH, detect_language
    return detect_language(text) == ZH


def _lists_titles(summary: str, job) -> bool:
    """A summary that is the book's chapter titles listed (the instruct model, cued for a
    summary: "the conflict, the discovery of the greywater, the guild's secrets, …")."""
    words = re.findall(r"[a-z']{4,}", summary.lower())
    titles = set(re.findall(r"[a-z']{4,}", " ".join(ch.title for ch in job.chapters).lower()))
    return bool(words) and sum(w in titles for w in words) >= 0.6 * len(words)


_CHAPTER_OPENING = re.compile(r"^(?:in|during|throughout)\s+(?:this\s+)?chapter(?:\s+[\w-]+)?\s*,\s*", re.I)


def _without_chapter_opening(summary: str) -> str:
    """A chapter summary without an opening that numbers the chapter: the story so far labels
    each summary with its chapter, and the instruct model numbered its own at will ("In
    Chapter 5, Duke Orrin and Ilse Marren discover…" as chapter 7's summary)."""
    rest = _CHAPTER_OPENING.sub("", summary, count=1)
    if rest == summary or count_words(rest) < 3:
        return summary
    return rest[0].upper() + rest[1:]


def _system(instruction: str) -> str:
    """The chat models' system message, in the request's language (the same in every prompt
    of a book, so that their prefixes are shared)."""
    return SYSTEM["zh" if _chinese(instruction) else "en"]


def _act(k: int, n: int) -> tuple[int, int]:
    """(the act chapter ``k`` of ``n`` belongs to, the act's last chapter): a book's chapters
    in three acts of about equal length."""
    acts = len(BOOK_ACTS)
    act = min(acts - 1, (k - 1) * acts // n)
    return act, max(j for j in range(1, n + 1) if min(acts - 1, (j - 1) * acts // n) == act)


def _bible_block(bible: str) -> str:
    if not bible.strip():
        return ""
    return f"\nStory bible (always respect it):\n{bible.strip()}\n"

@dataclasses.dataclass
class _Span:
    """Chapters ``first`` … ``last`` of a book plan, asked for as one act (``act``: what that
    part of a story does) or as one part of the model's outline (``parts[part]``)."""
    first: int
    last: int
    act: str | None = None
    parts: list[ParsedChapter] = dataclasses.field(default_factory=list)
    part: int = 0

    @property
    def size(self) -> int:
        return self.last - self.first + 1


class _PlanPlace:
    """Where a book plan stands: the span (act or part) a chat model is asked for, how many
    chapters it has, and the answers in a row that added none (after STALLED_ROUNDS the span
    is given up: the book has fewer, longer chapters). No spans: a completion model's plan,
    asked for in answers of PLAN_LINES_PER_ANSWER lines until it is complete."""

    def __init__(self, spans: list[_Span], planned: int = 0) -> None:
        """``planned``: chapters that open the plan already (the spans they fill are skipped)."""
        self.spans = spans
        self.i = 0
        self.begun: dict[int, int] = {}     # span -> chapters found before it began
        self.fruitless = 0
        while self.i + 1 < len(spans) and spans[self.i].last <= planned:
            self.i += 1
        if spans and planned:
            self.begun[self.i] = spans[self.i].first - 1

    def ask(self, found: int, n: int) -> tuple[int, int] | None:
        """(chapters to ask for next, the chapter that may end the story); None: planned."""
        batch = min(PLAN_LINES_PER_ANSWER, n - found)
        if batch <= 0 or not self.spans:
            return (batch, n) if batch > 0 else None
        while self.i + 1 < len(self.spans) and found - self.begun.setdefault(self.i, found) >= self.spans[self.i].size:
            self.i += 1
        left = self.spans[self.i].size - (found - self.begun.setdefault(self.i, found))
        if left <= 0:
            return None          # the last span is planned (a span given up leaves fewer chapters)
        batch = min(batch, left)
        return batch, (found + batch if self.i == len(self.spans) - 1 else n)

    def went_on(self, kept: bool, k: int, batch: int) -> bool:
        """Count an answer; False: stop planning (the last span added nothing, again and again)."""
        if kept or not self.spans:
            self.fruitless = 0
            return True
        self.fruitless += 1
        if self.fruitless < STALLED_ROUNDS:
            return True
        if self.i + 1 == len(self.spans):
            return False
        log.info("book plan: chapters %d-%d left out, planning the next part", k, k + batch - 1)
        self.i, self.fruitless = self.i + 1, 0
        return True

# ---------------------------------------------------------------------------------------

class BookWriter(AgentWriter):
    """Plans and writes novels in two levels on one backend (any model, both backends)."""

    def __init__(self, backend, **kw) -> None:
        kw.setdefault("memory", False)     # chapters carry summaries, not sections
        super().__init__(backend, **kw)
        self._scene_start: dict[int, int] = {}   # per chapter: first scene carried verbatim
        self._windows: dict[int, tuple[int, int]] = {}   # per chapter: see _window
        self._short: dict[int, str] = {}   # per chapter: why topping it up was given up
        self._phrases: tuple[tuple, PhraseBook] | None = None    # see _call_sampling

    # -- level 1: the book -----------------------------------------------------------------

    def plan_book(self, instruction: str, target_words: int, *, keep: list[tuple[int, Chapter]] | tuple[()] = (),
                  bible: str = "", on_event: BookEventSink | None = None,
                  cancel: CancelToken | None = None) -> list[Chapter]:
        """The chapters of a book. ``keep``: (position, chapter) pairs to keep (locked
        chapters and written ones when re-planning); the new chapters share the words they
        leave. Kept chapters that open the book are the plan's first lines: the new chapters
        go on from them (re-planned after its first chapters were written, a book started its
        story over at the next chapter)."""
        validate_request(instruction, target_words)
        self._for_request(instruction)
        emit = on_event or (lambda e: None)
        kept_words = sum(ch.target_words for _, ch in keep)
        words = max(MIN_CHAPTER_WORDS, target_words - kept_words)
        positions = {pos for pos, _ in keep}
        m = 0               # kept chapters 1 … m open the book
        while m in positions:
            m += 1
        opening = [ch for pos, ch in sorted(keep, key=lambda t: t[0]) if pos < m]
        n = max(1, expected_chapters(target_words) - len(keep))
        lo, hi = MIN_CHAPTER_WORDS, max(DEFAULT_CHAPTER_WORDS * 2, words // n * 2)
        chat = self.style != "completion"
        zh = _chinese(instruction)
        raw_all: list[str] = []
        found = [ParsedChapter(ch.title, ch.synopsis, ch.target_words) for ch in opening]
        n += m      # (the chapters the plan holds, the opening ones with them)
        where = _PlanPlace(self._spans(instruction, n, bible, emit, cancel, raw_all, opening) if chat else [], m)
        # (bounded: rounds that add nothing distinct are asked again with another seed; the
        # instruct model's 30,000-word plan kept 8 of 12 chapters after 10 rounds)
        for _round in range(3 * (max(len(where.spans), len(BOOK_ACTS)) + math.ceil(n / PLAN_LINES_PER_ANSWER)) + 4):
            ask = where.ask(len(found), n)
            if ask is None or (cancel is not None and cancel.cancelled):
                break
            batch, end_at = ask
            k = len(found) + 1
            if chat:
                prompt = self._span_prompt(instruction, words, n, lo, hi, bible, where, k, batch, found)
                start, lead = "line", ""
            else:
                lead = f"Chapter {k} - Title:"
                prompt = Prompt(user=[BOOK_PLAN_COMPLETION.format(instruction=instruction.strip())],
                                answer=[plan_so_far(found, 1, words // n) + lead])
                start = "point"
            if self.use_grammar and not zh:
                from .grammar import plan_grammar
                prompt.grammar = plan_grammar("chapter", max_lines=batch, min_lines=batch, start=start,
                                              max_words=PLAN_LINE_WORDS if chat else PLAN_LINE_WORDS_COMPLETION)
            text = self._generate_plan(prompt, batch, emit, cancel, attempt=_round)
            raw_all.append(lead + text)
            parsed = parse_chapters(lead + text, chinese=zh)
            new = dedupe_chapters(found + parsed)[len(found):]
            distinct = len(new)
            new = self._story_chapters(new, len(found), end_at)[:batch]
            log.info("book plan round %d (chapters %d-%d): %d lines read, %d distinct, %d kept",
                     _round + 1, k, k + batch - 1, len(parsed), distinct, len(new))
            emit(BookPlanRound(_round + 1, k, k + batch - 1, len(parsed), distinct, len(new), of=n))
            found += new
            if not where.went_on(bool(new), k, batch):
                break
            if new and is_ending(new[-1].title) and len(found) < n:
                log.info("book plan: the story ended at chapter %d of %d", len(found), n)
                break
        raw = "\n".join(raw_all)
        how = "parsed"
        found, n = found[m:], n - m
        if len(found) < max(1, math.ceil(n / 2)):
            new_chapters = fallback_chapters(instruction, words, n)
            how = "fallback"
        else:
            targets = bounded_targets([p.target_words for p in found], words, lo, 0, spread=CHAPTER_SPREAD)
            new_chapters = [Chapter(title=p.title[:80], synopsis=p.synopsis, target_words=t)
                            for p, t in zip(found, targets)]
        chapters = list(new_chapters)
        for pos, ch in sorted(keep, key=lambda t: t[0]):
            chapters.insert(min(pos, len(chapters)), ch)
        log.info("book plan: %d chapters (%s)", len(chapters), how)
        emit(BookPlanReady(chapters, how, raw))
        return chapters

    def _spans(self, instruction: str, n: int, bible: str, emit, cancel, raw_all: list[str],
               opening: list[Chapter] | tuple[()] = ()) -> list[_Span]:
        """What a chat model plans in each answer: the story's parts when the book has more
        chapters than one answer holds and the model outlined them, its three acts otherwise.
        ``opening``: the chapters written (or kept) that open the book; the parts are the rest
        of the story, after them."""
        m = len(opening)
        if n - m > PLAN_LINES_PER_ANSWER:
            parts = self._story_parts(instruction, n - m, bible, emit, cancel, raw_all, opening)
            if len(parts) >= len(BOOK_ACTS):
                p, rest = len(parts), n - m
                return [_Span(m + i * rest // p + 1, m + (i + 1) * rest // p, parts=parts, part=i)
                        for i in range(p)]
        spans: list[_Span] = []
        for k in range(1, n + 1):
            act, last = _act(k, n)
            if not spans or spans[-1].last < k:
                spans.append(_Span(k, last, act=BOOK_ACTS[act]))
        return spans

    def _story_parts(self, instruction: str, n: int, bible: str, emit, cancel,
                     raw_all: list[str], opening: list[Chapter] | tuple[()] = ()) -> list[ParsedChapter]:
        """The story of a long book in parts (see prompts.BOOK_PARTS_CHAT), or of its ``n``
        chapters after the written ones that open it (``opening``: the model is shown where the
        last ``REST_STORY_CHAPTERS`` of them leave the story, and a part that copies one of them
        is left out); the best of a few answers, none if the model could not give three
        distinct parts."""
        p = min(PLAN_LINES_PER_ANSWER, max(len(BOOK_ACTS), round(n / CHAPTERS_PER_PART)))
        zh = _chinese(instruction)
        told = [chapter_keys(ch.title, f"{ch.synopsis} {ch.summary}") for ch in opening]
        if opening:
            story = " ".join(" ".join((ch.summary.strip() or ch.synopsis.strip()).split())
                             for ch in opening[-REST_STORY_CHAPTERS:])
            ask = BOOK_PARTS_REST_CHAT.format(p=p, m=len(opening), story=story, instruction=instruction.strip(),
                                              bible=_bible_block(bible))
        else:
            ask = BOOK_PARTS_CHAT.format(p=p, instruction=instruction.strip(), bible=_bible_block(bible))
        best: list[ParsedChapter] = []
        for attempt in range(3):
            if cancel is not None and cancel.cancelled:
                break
            prompt = Prompt(user=[ask], system=_system(instruction))
            if self.use_grammar and not zh:
                from .grammar import plan_grammar
                prompt.grammar = plan_grammar("part", max_lines=p, min_lines=p, start="line",
                                              max_words=PLAN_LINE_WORDS)
            text = self._generate_plan(prompt, p, emit, cancel, attempt=attempt)
            raw_all.append(text)
            parts = [x for x in dedupe_chapters(parse_chapters(text, chinese=zh))
                     if not copies(chapter_keys(x.title, x.synopsis), told)]
            parts = self._story_chapters(parts, 0, p)[:p]
            log.info("book plan: the story in %d parts (%d asked for)", len(parts), p)
            if len(parts) > len(best):
                best = parts
            if len(best) >= p - 1:
                break
        return best

    def _span_prompt(self, instruction: str, words: int, n: int, lo: int, hi: int, bible: str,
                     where: _PlanPlace, k: int, batch: int, found: list[ParsedChapter]) -> Prompt:
        """A chat model's request for chapters ``k`` … ``k + batch - 1``, in the span being
        planned. An act's answer continues after every chapter planned so far; a part's answer
        holds only that part's chapters (shown the chapters before it, the instruct model copied
        them)."""
        span = where.spans[where.i]
        head = BOOK_PLAN_CHAT.format(n=n, target=words, lo=lo, hi=hi, instruction=instruction.strip(),
                                     bible=_bible_block(bible))
        shown = found if span.act is not None else found[where.begun[where.i]:]
        so_far = plan_so_far(shown, len(found) - len(shown) + 1, words // n)
        if span.act is not None:
            ask = BOOK_PLAN_ACT_CHAT.format(a=k, b=k + batch - 1, n=n, part=span.act)
        else:
            parts, i = span.parts, span.part
            where_ = "last" if i + 1 == len(parts) else "middle" if i else \
                "after_written" if span.first > 1 else "first"
            names = {"prev": parts[i - 1].title if i else "", "next": parts[i + 1].title if i + 1 < len(parts) else "",
                     "m": span.first - 1, "written": found[span.first - 2].title if where_ == "after_written" else ""}
            ask = BOOK_PLAN_PART_CHAT.format(
                p=len(parts), i=i + 1, title=parts[i].title, synopsis=parts[i].synopsis.rstrip("."), a=k,
                b=k + batch - 1, n=n, span=BOOK_PART_SPAN[where_].format(i_prev=i, i_next=i + 2, **names))
        return Prompt(user=[head + ask], answer=[so_far] if so_far else [], system=_system(instruction))

    @staticmethod
    def _story_chapters(new: list[ParsedChapter], before: int, n: int) -> list[ParsedChapter]:
        """The new plan lines up to the first that is not a story chapter: back matter, or an
        ending before chapter ``n`` (the next round continues the story from those kept)."""
        kept: list[ParsedChapter] = []
        for p in new:
            if not_a_chapter(p.title, last=before + len(kept) + 1 >= n):
                log.info("book plan: %r as chapter %d of %d refused", p.title, before + len(kept) + 1, n)
                break
            kept.append(p)
        return kept

    def replan_book(self, job, *, on_event: BookEventSink | None = None,
                    cancel: CancelToken | None = None) -> list[Chapter]:
        """Plan the book again, keeping locked chapters and chapters that hold text."""
        keep_idx = [c for c, ch in enumerate(job.chapters)
                    if ch.locked or any(job.sections[i].text.strip() for i in chapter_scenes(job, c))]
        keep = [(c, job.chapters[c]) for c in keep_idx]
        kept_scenes = {id(job.chapters[c]): [job.sections[i] for i in chapter_scenes(job, c)] for c in keep_idx}
        chapters = self.plan_book(job.instruction, job.target_words, keep=keep, bible=job.bible,
                                  on_event=on_event, cancel=cancel)
        sections = []
        for c, ch in enumerate(chapters):
            for s in kept_scenes.get(id(ch), []):
                s.chapter = c
                sections.append(s)
        job.chapters[:] = chapters
        job.sections[:] = sections
        return chapters

    def _generate_plan(self, prompt: Prompt, lines: int, emit, cancel, attempt: int = 0) -> str:
        """A plan answer. ``attempt`` > 0: a request asked again (its answer was refused), with
        another seed: the same prompt and seed would give the same answer."""
        from .events import PlanToken
        buf: list[str] = []

        def on_piece(piece: str) -> Steer:
            buf.append(piece)
            emit(PlanToken(piece))
            text = "".join(buf)
            n = len([ln for ln in text.splitlines() if ln.strip()])
            done = ("Request:" in text or "\n\n" in text.lstrip("\n")) and n > 0
            return Steer(allow_end=True, stop=done or n > lines + 1)

        s = self._plain_sampling(0.7)
        seed = None if s.seed is None else s.seed + 7919 * attempt
        g = self.backend.generate(prompt, max_tokens=min(3000, 110 * (lines + 2)),
                                  sampling=Sampling(**{**s.__dict__, "seed": seed}),
                                  on_piece=on_piece, cancel=cancel)
        self._plan_stats.add(g) if hasattr(self, "_plan_stats") else None
        return g.text

    def _plain_sampling(self, temperature: float) -> Sampling:
        """Sampling for plans and summaries: cooler, and on chat models without DRY. A plan
        repeats its line format and its people by design, a summary the chapter's words; with
        DRY the instruct model's book plan swapped words for Chinese ones ("cause chaos and
        破坏") and opened the book with "The Resolution"."""
        s = self.sampling
        changes: dict = {"temperature": min(s.temperature, temperature)}
        if self.style != "completion":
            changes["dry_multiplier"] = 0.0
        return Sampling(**{**s.__dict__, **changes})

    # -- level 2: a chapter ----------------------------------------------------------------

    def plan_chapter(self, job, c: int, *, on_event: BookEventSink | None = None,
                     cancel: CancelToken | None = None) -> list[int]:
        """Plan chapter ``c`` into scenes (locked scenes are kept, with their targets).

        Replaced scenes that hold text pass it on as an earlier take of the new scene at
        their place: nothing written is lost.
        """
        emit = on_event or (lambda e: None)
        self._for_request(job.instruction)
        ch = job.chapters[c]
        old = chapter_scenes(job, c)
        locked = [(k, job.sections[i]) for k, i in enumerate(old) if job.sections[i].locked]
        replaced = [job.sections[i] for i in old if not job.sections[i].locked]
        words = max(MIN_SCENE_WORDS, ch.goal - sum(s.target_words for _, s in locked))
        n = expected_scenes(words, self.scene_words(job))
        lo = max(1, math.ceil(words / MAX_SCENE_WORDS))
        if self.style != "completion":
            n = max(lo, min(n, CHAT_PLAN_SCENES))
        if not ch.codex_names:
            ch.codex_names = [e.name for e in self._chapter_notes(job, c)]
        steps: list = []
        told = self._told(job, c, own=False)
        raws: list = []
        for _round in range(3):         # a short answer is continued, at most twice
            prompt = self._scene_plan_prompt(job, c, n, words, steps)
            raw = self._generate_plan(prompt, n + 2 - len(steps), emit, cancel, attempt=_round)
            lead = prompt.answer[-1] if prompt.answer else ""
            raws.append(lead + raw)
            for st in parse_plan(lead + raw):
                why = self._not_plannable(job, c, st)
                if not why and told.add(st.main_point):
                    steps.append(st)
                else:
                    log.info("chapter %d: scene %r (%r) refused (%s)", c + 1, st.title, st.main_point[:100],
                             why or "retells")
            # (a chat model's chapter in fewer scenes than asked gets longer ones than it writes:
            # the instruct model, asked for 8, planned 4 of 938 words and wrote about 450 each)
            if len(steps) >= (lo if self.style == "completion" else n) or (cancel is not None and cancel.cancelled):
                break
        raw, lead = "\n".join(raws), ""
        steps = steps[: 2 * n]
        if len(steps) < lo and cancel is not None and cancel.cancelled:
            # stopped while the model planned: the chapter keeps its scenes (none: it is planned
            # when the job goes on), not a fallback plan made of what it had not yet answered
            log.info("chapter %d: planning stopped; its scenes stay as they were", c + 1)
            return chapter_scenes(job, c)
        if len(steps) < lo:
            angles = [a for a in (self._top_up_angle(job, c, k) for k in range(max(1, n - 2))) if a]
            scenes, how = fallback_scenes(job, c, n, words, angles=list(dict.fromkeys(angles))), "fallback"
        else:
            targets = bounded_targets([s.target_words for s in steps], words,
                                       MIN_SCENE_WORDS, MAX_SCENE_WORDS)
            scenes = [Section(main_point=s.main_point, target_words=t, title=s.title or short_title(s.main_point),
                              chapter=c) for s, t in zip(steps, targets)]
            how = "parsed"
        for pos, sec in locked:
            scenes.insert(min(pos, len(scenes)), sec)
        for sec, gone in zip([s for s in scenes if not s.locked], replaced):
            sec.takes += [t for t in [*gone.takes, gone.text] if t.strip()]
        # the new scenes take the place of the old ones
        job.sections[:] = [s for s in job.sections if s.chapter != c]
        at = insert_at(job, c)
        job.sections[at:at] = scenes
        ch.plan_how = how
        self._scene_start.pop(c, None)
        ch.scenes_from = 0
        self._windows.pop(c, None)
        idx = chapter_scenes(job, c)
        log.info("chapter %d: %d scenes (%s)", c + 1, len(idx), how)
        emit(ChapterPlanned(c, idx, how, lead + raw))
        emit(PlanReady(job.sections, how, lead + raw))
        return idx

    # -- writing ---------------------------------------------------------------------------

    def write_book(self, job, *, on_event: BookEventSink | None = None, cancel: CancelToken | None = None,
                   chapters: list[int] | None = None, max_scenes: int | None = None) -> JobStats:
        """Write the book (or ``chapters``; at most ``max_scenes`` scenes): plan each chapter
        just before it is written, write its scenes, then its summary and codex proposals.

        Finished and locked scenes are kept; an interrupted scene is continued. This is how a
        job resumes: nothing before the current chapter is read again but its summary.
        """
        emit = on_event or (lambda e: None)
        stats = JobStats(target_words=job.target_words)
        self._plan_stats = stats
        t0 = time.perf_counter()
        written = 0
        self.backend.ensure_context(self.book_context_needed(job))
        try:
            for c in range(len(job.chapters)):
                if chapters is not None and c not in chapters:
                    continue
                if cancel is not None and cancel.cancelled:
                    break
                if max_scenes is not None and written >= max_scenes:
                    break
                before = written
                if not chapter_scenes(job, c):
                    self._carry(job, c)
                    self.plan_chapter(job, c, on_event=emit, cancel=cancel)
                for i in chapter_scenes(job, c):
                    sec = job.sections[i]
                    if sec.locked or sec.written:
                        continue
                    if (max_scenes is not None and written >= max_scenes) or (cancel and cancel.cancelled):
                        break
                    mode = "continue" if sec.interrupted else "write"
                    self.write_section(job, i, mode=mode, on_event=emit, cancel=cancel, stats=stats)
                    written += 1
                if chapter_status(job, c) == "done" and not (cancel and cancel.cancelled) \
                        and (written > before or self._left_unfinished(job, c)):
                    written += self._top_up_chapter(job, c, emit, cancel, stats)
                if chapter_status(job, c) == "done" and not (cancel and cancel.cancelled) \
                        and (written > before or not job.chapters[c].summary.strip()):
                    self.finish_chapter(job, c, on_event=emit, stats=stats)
        finally:
            stats.words = job.words
            stats.seconds = time.perf_counter() - t0
            emit(JobDone(stats, bool(cancel and cancel.cancelled)))
        return stats

    @staticmethod
    def _carry(job, c: int) -> None:
        """Before chapter ``c`` is planned: the words the chapters before it ended short of the
        book's pace, its share of them carried into it (:func:`~.book_model.carry_into`)."""
        ch = job.chapters[c]
        ch.carried = carry_into(job, c)
        if ch.carried:
            log.info("chapter %d: %d words carried into it from the chapters before it, which ended short "
                     "(written to %d words)", c + 1, ch.carried, ch.goal)

    @staticmethod
    def _left_unfinished(job, c: int) -> bool:
        """Was chapter ``c`` written by the model and stopped before it was finished (its
        scenes all written, no top-up or summary yet: a job stopped at that moment)? Then a
        resumed job finishes it. A chapter with a scene edited or locked by hand is the
        user's: it is not topped up."""
        idx = chapter_scenes(job, c)
        return bool(idx) and not job.chapters[c].summary.strip() and all(
            job.sections[i].status == "done" and not job.sections[i].locked for i in idx)

    def write_section(self, job, index: int, **kw):
        if is_book(job):
            # (a story repeats its names: DRY must not make the model mangle them; a chat
            # model's story is prose, never markdown: the instruct model set whole paragraphs
            # and "**Ilse Marren:**" script lines in bold; nor tabs: "something\telse", a
            # tab where DRY penalised the space; nor headings: it opened scenes with "####
            # Introduction:", under the scene heading its answer starts with)
            self.sampling = dataclasses.replace(self.sampling, dry_breakers=job.codex.name_words(),
                                                ban_chars="*\t#" if self.style != "completion" else "")
        return super().write_section(job, index, **kw)

    def _call_sampling(self, job, index: int, sampling: Sampling, partial: str) -> Sampling:
        # A novel comes back to its phrases across chapters, out of DRY's reach (the instruct
        # model's first novel repeated 22 % of its 4-grams, "stood at the edge of" 41 times):
        # a scene may not repeat a 4-gram of the other chapters. (Not of its own chapter, in
        # the prompt, where DRY stops copies: see text.phrases.PhraseGuard. Text in English
        # and the like: a Chinese text's units are characters.)
        sec = job.sections[index]
        if not is_book(job) or sec.chapter is None or PHRASE_LIMIT <= 0 or not sampling.ban_cjk:
            return sampling
        # (counted once while the other chapters and the names stay as they are: a chapter's
        # calls share it, each with its own tail)
        names = [n for e in job.codex.entries for n in e.names]
        key = (sec.chapter, tuple(names), tuple((o.chapter, o.text) for o in job.sections if o.chapter != sec.chapter))
        if self._phrases is None or self._phrases[0] != key:
            book = PhraseBook(limit=PHRASE_LIMIT, names=names)
            for other in job.sections:
                if other.chapter != sec.chapter:
                    book.add(other.text)
            self._phrases = (key, book)
        return dataclasses.replace(sampling, avoid=self._phrases[1].with_tail(partial or self._text_before(job, index)))

    @staticmethod
    def _text_before(job, index: int) -> str:
        """The end of the scene before ``index`` in its chapter ("" for a chapter's first)."""
        prev = index - 1
        if prev >= 0 and job.sections[prev].chapter == job.sections[index].chapter:
            return job.sections[prev].text[-200:]
        return ""

    def _carries_shortfall(self, job, index: int) -> bool:
        # a scene's shortfall would make the next scene longer than the model writes one,
        # and kept writing past its end it retells; the chapter is topped up instead
        return not (is_book(job) and job.sections[index].chapter is not None)

    def _chat_allow_end(self, job, index: int) -> float:
        if is_book(job) and job.sections[index].chapter is not None:
            return self.length.chat_scene_allow_end
        return super()._chat_allow_end(job, index)

    def _in_turns(self, job, index: int) -> bool:
        return is_book(job) and job.sections[index].chapter is not None

    def scene_words(self, job) -> int:
        """How long a scene is planned. A chat model ends a scene where it sees fit (its
        ending is accepted from ``LengthControl.chat_allow_end``); a chapter planned in scenes
        longer than it writes ends short, so its scenes are planned at the length it wrote in
        the last two finished chapters (a base model is kept going: the default)."""
        if self.style == "completion":
            return DEFAULT_SCENE_WORDS
        done = [c for c in range(len(job.chapters)) if chapter_status(job, c) == "done"][-2:]
        written = sorted(job.sections[i].words for c in done for i in chapter_scenes(job, c)
                         if not job.sections[i].needs_attention and job.sections[i].words)
        if len(written) < 3:
            return DEFAULT_SCENE_WORDS
        return max(MIN_SCENE_WORDS, min(DEFAULT_SCENE_WORDS, written[len(written) // 2]))

    def _top_up_chapter(self, job, c: int, emit, cancel, stats) -> int:
        """A finished chapter still short of its target (its scenes ended early) gets another
        scene, planned by the model after the chapter's scenes, for the words it lacks; at
        most ``TOP_UP_SCENES`` times, and never after one that wrote next to nothing.
        Returns the scenes written."""
        ch = job.chapters[c]
        added, last_words = 0, MIN_SCENE_WORDS
        while added < TOP_UP_SCENES and not (cancel and cancel.cancelled):
            lack = ch.goal - chapter_words(job, c)
            if chapter_words(job, c) >= CHAPTER_LANDS * ch.goal or lack < MIN_SCENE_WORDS // 2:
                break
            if last_words < MIN_SCENE_WORDS // 4:
                log.info("chapter %d: the last added scene wrote %d words; no more", c + 1, last_words)
                self._short[c] = "the scene added last to make it up wrote next to nothing"
                break
            idx = chapter_scenes(job, c)
            found = [job.sections[i] for i in idx]
            if self.style == "completion":
                prompt = self._scene_plan_prompt(job, c, len(idx) + 1, ch.goal, found)
            else:
                prompt = self._top_up_prompt(job, c, lack)
            step, raw = None, ""
            told = self._told(job, c, own=True)
            # a scene that retells (or no scene) is asked for again, with another seed (the
            # instruct model planned one of the book's chapter titles three times running),
            # a chat model told what it proposed that was refused
            for attempt in range(TOP_UP_ATTEMPTS):
                raw = self._generate_plan(prompt, 1, emit, cancel, attempt=attempt)
                steps, step = self._take_scene(job, c, (prompt.answer[-1] if prompt.answer else "") + raw, told)
                if step is not None or (cancel and cancel.cancelled):
                    break
                if steps and self.style != "completion":
                    prompt = self._top_up_prompt(job, c, lack, refused=steps[0].main_point,
                                                 angle=self._top_up_angle(job, c, attempt))
            if step is None:
                log.info("chapter %d is %d words short; no further scene was planned (last answer: %r)",
                         c + 1, lack, raw[:200])
                if not (cancel and cancel.cancelled):
                    self._short[c] = ("the model could not plan another scene for it that does not retell "
                                      "one already written")
                break
            # (a scene of the length this model writes: a longer target would keep it writing
            # past the end of its scene, into the next one's events)
            sec = add_scene(job, c, len(idx), step.main_point, min(lack, self.scene_words(job)))
            sec.title = step.title or sec.title
            self._windows.pop(c, None)
            i = chapter_scenes(job, c)[-1]
            # (the scenes that ended short give up its target: the chapter's still adds up)
            absorb_added_scene(job, i)
            log.info("chapter %d is %d words short: scene %d added", c + 1, lack, len(idx) + 1)
            emit(ChapterPlanned(c, chapter_scenes(job, c), "top-up", raw))
            last_words = self.write_section(job, i, mode="write", on_event=emit, cancel=cancel, stats=stats).words
            added += 1
        if added == TOP_UP_SCENES and chapter_words(job, c) < CHAPTER_LANDS * ch.goal:
            self._short[c] = f"{TOP_UP_SCENES} scenes were added to it and it is still short"
        return added

    def _take_scene(self, job, c: int, answer: str, told: Told) -> tuple[list[ParsedStep], ParsedStep | None]:
        """The scene lines of a top-up answer that could be scenes of chapter ``c``, and the
        first of them that tells something new (None if none does); each refused is logged."""
        steps = []
        for st in parse_plan(answer):
            why = self._not_plannable(job, c, st)
            if not why:
                steps.append(st)
                if told.add(st.main_point):
                    return steps, st
            log.info("chapter %d: added scene %r (%r) refused (%s)", c + 1, st.title, st.main_point[:300],
                     why or "retells")
        return steps, None

    @staticmethod
    def _not_plannable(job, c: int, st) -> str:
        """Why a planned scene line cannot be a scene of chapter ``c`` ('' when it can): a main
        point of a few words, not garbled, and not the book's end or back matter before its
        last chapter (the instruct model planned "The End: the Guild members have saved the
        world" as a scene of chapter 7 of 12, and wrote it)."""
        n = count_words(st.main_point)
        if not 3 <= n <= MAX_SYNOPSIS_WORDS:
            return f"a main point of {n} words"
        if garbled(st.main_point):
            return "garbled"
        if _FORMAT_ECHO.match(st.main_point):
            return "the plan's format"
        if st.title and not_a_chapter(st.title, last=c == len(job.chapters) - 1):
            return "the book's end or back matter"
        # another chapter of the book, planned as a scene (the instruct model planned chapter 1
        # of its 100,000-word book as the book's chapters 1-8, their titles copied from the
        # list in its prompt, their events told in other words, and wrote them)
        key = plan_key(st.title)
        other = next((j for j, ch in enumerate(job.chapters) if j != c and key and plan_key(ch.title) == key), None)
        if other is not None:
            return f"chapter {other + 1}'s title"
        return ""

    @staticmethod
    def _top_up_angle(job, c: int, attempt: int) -> str:
        """Who or what a top-up scene asked for again should turn on: of the codex entries the
        book has named so far, the ones chapter ``c`` names least (characters first), one
        after the other with each attempt. "" without such entries."""
        from .codex import mention_count
        told = "\n".join(chapter_text(job, i) for i in range(c + 1))
        entries = [e for e in job.codex.current(c + 1) if mention_count(e, told)]
        if not entries:
            return ""
        own = chapter_text(job, c)
        entries.sort(key=lambda e: (e.kind != "character", mention_count(e, own), e.name.lower()))
        e = entries[attempt % len(entries)]
        from ..text.health import sentences
        what = (sentences(" ".join(e.text.split())) or [""])[0].rstrip(".;!? ")
        words = what.split()
        what = " ".join(words[:16]) if words else e.kind
        return SCENE_TOP_UP_ANGLE_CHAT.format(name=e.name, what=what)

    @staticmethod
    def _told(job, c: int, own: bool) -> Told:
        """What a new scene of chapter ``c`` must not retell: the scenes of earlier chapters
        (and, ``own``, of this one), what the other chapters tell (the instruct model's
        chapter 1 took in chapter 2's synopsis as its last scene, and chapter 2 retold it),
        and the earlier chapters' summaries, whole and each sentence (it planned chapter 3's
        second scene as a sentence of chapter 2's summary, shown in the story so far, and
        chapter 9's first scene as chapter 4's summary, two sentences).

        What chapter ``c``'s own synopsis tells is not a retelling of those (see
        :meth:`Told.add`)."""
        from ..text.health import sentences
        summed = [p for ch in job.chapters[:c] for p in [ch.summary, *sentences(ch.summary)] if p.strip()]
        return Told([*(x.main_point for x in job.sections if x.chapter is not None and x.chapter < c),
                     *(other.synopsis for j, other in enumerate(job.chapters) if j != c), *summed],
                    own=[x.main_point for x in job.sections if own and x.chapter == c],
                    synopsis=job.chapters[c].synopsis if c < len(job.chapters) else "")

    def _top_up_prompt(self, job, c: int, lack: int, refused: str = "", angle: str = "") -> Prompt:
        """A chat model's request for one more scene, at the end of the chapter's conversation
        (its prefix is in the cache); ``refused``: what it proposed before, a retelling;
        ``angle``: who or what the scene should turn on (see :meth:`_top_up_angle`)."""
        idx = chapter_scenes(job, c)
        request = self._prompt_parts(job, idx[-1], upto_scene=len(idx))
        nxt = job.chapters[c + 1] if c + 1 < len(job.chapters) else None
        ask = SCENE_TOP_UP_ASK_CHAT.format(
            n=c + 1, lack=lack, k=len(idx) + 1,
            later=SCENE_TOP_UP_LATER.format(n=c + 2, title=nxt.title) if nxt else "",
            again=SCENE_TOP_UP_NOT_AGAIN_CHAT.format(point=refused.strip().rstrip(".")) if refused else "",
            angle=angle)
        prompt = self._conversation(job, idx, len(idx) - 1, request, ask=ask)
        if self.use_grammar and not _chinese(job.instruction):
            from .grammar import plan_grammar
            prompt.grammar = plan_grammar("scene-titled", max_lines=1, min_lines=1, start="line", max_words=40)
        return prompt

    def finish_chapter(self, job, c: int, *, on_event: BookEventSink | None = None,
                       stats: JobStats | None = None) -> None:
        """After a chapter: its summary (unless the user wrote one) and codex proposals."""
        emit = on_event or (lambda e: None)
        ch = job.chapters[c]
        if not ch.summary.strip() and not ch.summary_edited:
            ch.summary = self.summarize_chapter(job, c, stats=stats)
        self._mend_words(job, c)
        proposed = propose_entries(chapter_text(job, c), job.codex, chapter=c + 1)
        job.codex.proposed += proposed
        words = chapter_words(job, c)
        short = self._short.pop(c, "") if words < CHAPTER_LANDS * ch.goal else ""
        emit(ChapterDone(c, words, ch.goal, ch.summary, proposed, short=short))

    def _mend_words(self, job, c: int) -> None:
        """Chapter ``c``'s codex names mended where the model misspelt them (Codex.misspellings: the
        instruct model wrote "Ile Marren" all through a chapter; Codex.typos: "Illse" alone, where
        the model's vocabulary says it is no word), and its words run together
        split (text.glued: "thelandscape", "ofGuild"): in its scenes the model wrote and in its
        summary, once the chapter is done (before, a mended scene would part the chapter's
        next prompts from the cache)."""
        ch = job.chapters[c]
        # (the words a glued word is made of, and a name's misspelling, are counted in the
        # whole book written so far)
        book = "\n".join(s.text for s in job.sections if s.text)
        in_book = {**glued_words(book, self.backend.whole_word),
                   **job.codex.typos(chapter_text(job, c), self.backend.whole_word, book)}
        for i in chapter_scenes(job, c):
            sec = job.sections[i]
            if sec.status == "done" and not sec.locked and sec.text:
                fixes = {**{w: g for w, g in in_book.items() if w in sec.text}, **job.codex.misspellings(sec.text)}
                if not fixes:
                    continue
                # (each answer on its own: where the answers start moves with the text)
                cuts = [0, *[min(max(0, p), len(sec.text)) for p in sec.parts], len(sec.text)]
                pieces = [apply_fixes(sec.text[a:b], fixes) for a, b in zip(cuts, cuts[1:])]
                sec.text = "".join(pieces)
                sec.parts = [sum(len(x) for x in pieces[:k]) for k in range(1, len(pieces))]
                log.info("chapter %d, scene %s: words mended: %s", c + 1, sec.title or i,
                         ", ".join(f"{a} -> {b}" for a, b in fixes.items()))
        if not ch.summary_edited:
            ch.summary = apply_fixes(job.codex.mend(ch.summary)[0], in_book)

    def summarize_chapter(self, job, c: int, *, stats: JobStats | None = None) -> str:
        """The model's summary of chapter ``c``, asked for at the end of the chapter's own
        prompt (its prefix is in the cache: only the request is evaluated)."""
        from .memory import clean_summary, fallback_summary
        text = chapter_text(job, c)
        if not text:
            return ""
        idx = chapter_scenes(job, c)
        base = self._prompt_parts(job, idx[-1], upto_scene=len(idx))
        chat = self.style != "completion"
        if not chat:
            prompt = Prompt(user=base + [SUMMARY_CUE_COMPLETION.format(n=c + 1)])
        else:
            # the last message of the chapter's conversation (its prefix is in the cache)
            prompt = self._conversation(job, idx, len(idx) - 1, base,
                                        ask=SUMMARY_ASK_CHAT.format(n=c + 1, words=SUMMARY_WORDS))
        buf: list[str] = []

        def on_piece(piece: str) -> Steer:
            buf.append(piece)
            done = "".join(buf)
            stop = (")" in done and not chat) or "\n\n" in done.lstrip() or "\n#" in done \
                or count_words(done) >= SUMMARY_WORDS * 1.3
            return Steer(allow_end=True, stop=stop)

        g = self.backend.generate(prompt, max_tokens=int(SUMMARY_WORDS * 2.2) + 16,
                                  sampling=self._plain_sampling(0.3),
                                  on_piece=on_piece)
        if stats is not None:
            stats.add(g)
        said = strip_preamble(g.text) if chat else g.text.split(")")[0]
        summary = _without_chapter_opening(
            clean_summary(re.sub(r"^\W*summary\W*:\W*", "", said.strip(), flags=re.I), SUMMARY_WORDS))
        if count_words(summary) < 8 or find_chatter(summary) or _lists_titles(summary, job):
            log.info("chapter %d: the model's summary was not used (%r); its first and last sentences instead",
                     c + 1, summary[:120])
            summary = fallback_summary(text, SUMMARY_WORDS)
        return summary

    def book_context_needed(self, job) -> int:
        head = self.backend.count_tokens(self._head(job)) + 200
        summaries = sum(self.backend.count_tokens(ch.summary) + 12 for ch in job.chapters if ch.summary)
        longest = max((ch.goal for ch in job.chapters), default=DEFAULT_CHAPTER_WORDS)
        turns = 0 if self.style == "completion" else \
            _CHAT_TURN_TOKENS * (expected_scenes(longest) + 2) + int(longest * self._tokens_per_word * 0.1)
        return int(head + summaries + longest * self._tokens_per_word * 1.2 + MAX_SCENE_WORDS * 2.2 + 600 + turns)

    # -- the prompt ------------------------------------------------------------------------

    def section_prompt(self, job, index: int, partial: str = "") -> Prompt:
        sec = job.sections[index]
        if not is_book(job) or sec.chapter is None:
            return super().section_prompt(job, index, partial)
        prompt = self._fitted_scene_prompt(job, index, partial)
        ch = job.chapters[sec.chapter]
        ch.scenes_from = self._scene_start.get(sec.chapter, 0)
        if sec.chapter in self._windows:
            ch.summaries_from = self._windows[sec.chapter][0]
        return prompt

    def _fitted_scene_prompt(self, job, index: int, partial: str) -> Prompt:
        sec = job.sections[index]
        idx = chapter_scenes(job, sec.chapter)
        k = idx.index(index)
        # Room for the reply: a scene's tokens can run far above its words times the usual
        # ratio (a small model running words together), so the prompt is measured, not
        # estimated, and earlier text is dropped until the reply has room.
        count = self.backend.count_tokens
        room = min(int(self.backend.info.n_ctx * 0.35),
                   int(max(0, sec.target_words * 1.12 - count_words(partial)) * self._tokens_per_word * 1.4) + 64)
        limit = self.backend.info.n_ctx - room - 16
        saved = (dict(self._scene_start), dict(self._windows))
        if getattr(self, "_short_context", False) and k:
            # a recovery from a loop or drift: without the chapter's earlier scenes, which the
            # model was retelling. A base model's next scene sees them again; a chat model's
            # conversation goes on from this scene for the rest of the chapter (its first
            # message says what the scenes left out told): back to the whole conversation,
            # the next prompt evaluated the chapter again (2,400-3,200 tokens, 60-160 s to
            # the first token on the instruct model, after each scene started over)
            # (the scenes it has not left out yet, no more: carried past them, ``drop`` went on
            # into the story so far, and the next scene's prompt, with it again, evaluated the
            # whole chapter again)
            prompt = self._scene_prompt(job, index, k, idx, partial, k - min(self._scene_start.get(sec.chapter, 0), k))
            self._scene_start, self._windows = saved
            if count(prompt.text()) <= limit:
                if self.style != "completion":
                    self._scene_start[sec.chapter] = max(self._scene_start.get(sec.chapter, 0), k)
                return prompt
        drop = 0
        while True:
            self._scene_start, self._windows = dict(saved[0]), dict(saved[1])
            prompt = self._scene_prompt(job, index, k, idx, partial, drop)
            if count(prompt.text()) <= limit or drop >= k + len(job.chapters) + 4:
                return prompt
            drop += 1

    def _scene_prompt(self, job, index: int, k: int, idx: list[int], partial: str, drop: int) -> Prompt:
        """The scene prompt; ``drop`` > 0 carries less (earlier scenes, then summaries, then
        the start of this scene's own text) when the measured prompt leaves no room."""
        sec = job.sections[index]
        user = self._prompt_parts(job, index, upto_scene=k, drop=drop)
        shown = partial
        extra = drop - k - len(job.chapters)
        if extra > 0 and partial:          # last resort: only the end of the scene so far
            words = partial.split(" ")
            shown = " ".join(words[len(words) * min(extra, 4) // 5:])
        if self.style == "completion":
            notes = self._scene_notes(job, index)
            if notes:
                user.append(SCENE_NOTES_COMPLETION.format(notes=notes))
            user.append(SCENE_HEADING.format(heading=f"{k + 1}. {sec.heading}"))
            return Prompt(user=user, answer=[shown] if shown else [])
        # chat: a conversation, one scene per request (see prompts.SCENES_INTRO_CHAT); the
        # scene's heading opens its first answer, so the model writes the scene, not a reply
        return self._conversation(job, idx, k, user, text=shown, split=shown == partial)

    def _conversation(self, job, idx: list[int], k: int, request: list[str], tail: tuple[str, ...] | list[str] = (),
                      *, ask: str | None = None, text: str | None = None, split: bool = True) -> Prompt:
        """A chat model's prompt for scene ``k`` of a chapter (scene indices ``idx``): the
        request and the ask for the first carried scene, then each carried scene before ``k``
        as its answers (with the asks to go on between them) and the ask for the next scene;
        then scene ``k``'s answers (``text``: its text so far, default: all of it), the last
        one open and ending in ``tail`` (or, with ``ask``, closed and followed by that last
        message)."""
        c = job.sections[idx[0]].chapter
        ws = min(self._scene_start.get(c, 0), k)
        first = [*request, SCENES_INTRO_CHAT.format(n=c + 1), self._scenes_before(job, idx, ws),
                 self._scene_ask(job, idx, ws)]
        turns: list[tuple[list[str], str]] = []
        for j in range(ws, k):
            *said, last = self._scene_turns(job, idx, j)
            turns += said
            turns.append((last[0], self._scene_ask(job, idx, j + 1)))
        *said, last = self._scene_turns(job, idx, k, text, split=split)
        turns += said
        answer = [*last[0], *tail]
        if ask is not None:
            turns.append((answer, ask))
            answer = []
        return Prompt(user=first, turns=turns, answer=answer, system=_system(job.instruction))

    def _scenes_before(self, job, idx: list[int], ws: int) -> str:
        """What a chat chapter's conversation that starts at scene ``ws`` leaves out: the
        earlier scenes' titles and main points, and the last words of the one before it."""
        if ws <= 0:
            return ""
        points = "\n".join(f"{j + 1}. {job.sections[idx[j]].heading}: {job.sections[idx[j]].main_point.strip()}"
                           for j in range(ws))
        tail = " ".join(job.sections[idx[ws - 1]].text.split()[-60:])
        return SCENES_BEFORE_CHAT.format(points=points, tail=tail)

    def _scene_turns(self, job, idx: list[int], j: int, text: str | None = None,
                     split: bool = True) -> list[tuple[list[str], str]]:
        """Scene ``j`` of a chapter as the model's answers, each with the ask to go on that
        followed it (the last one's is ""): the first opens with the scene's heading; the
        scene is cut where ``Section.parts`` says each later answer began. ``text``: the
        scene so far, being written (its last answer is left as it is, open; the asks it
        was written under are recorded in ``Section.asked``, to be replayed as they were)."""
        s = job.sections[idx[j]]
        live = text is not None
        text = s.text if text is None else text
        cuts = sorted({p for p in s.parts if 0 < p < len(text) + live}) if split else []
        bounds = [0, *cuts, len(text)]
        out: list[tuple[list[str], str]] = []
        asked = s.asked[:1] if s.asked else [self._scene_ask(job, idx, j)]
        for n, (a, b) in enumerate(zip(bounds, bounds[1:])):
            open_end = live and n == len(bounds) - 2
            piece = text[a:b] if open_end else text[a:b].strip()
            if n and not piece and not open_end:
                continue                    # (an answer that kept nothing)
            if out:
                ask = s.asked[len(asked)] if len(s.asked) > len(asked) else \
                    self._go_on_ask(job, idx, j, count_words(text[:a]))
                asked.append(ask)
                out[-1] = (out[-1][0], ask)
            heading = [SCENE_HEADING.format(heading=f"{j + 1}. {s.heading}")] if n == 0 else []
            out.append((heading + ([piece] if piece else []), ""))
        if live and split:
            s.asked = asked
        return out

    def _go_on_ask(self, job, idx: list[int], j: int, written: int) -> str:
        """The request to go on with scene ``j`` of a chapter, ``written`` words into it."""
        sec = job.sections[idx[j]]
        return SCENE_GO_ON_CHAT.format(k=j + 1, title=sec.heading,
                                       more=max(MIN_SCENE_WORDS // 2, sec.target_words - written))

    def _position(self, job, idx: list[int], j: int) -> str:
        """Where scene ``j`` stands: what the next scene or chapter will tell, not yet."""
        c = job.sections[idx[j]].chapter
        if j + 1 < len(idx):
            return SCENE_GOES_ON_CHAT.format(next=job.sections[idx[j + 1]].main_point.strip())
        if c + 1 < len(job.chapters):
            return SCENE_ENDS_CHAPTER_CHAT.format(n=c + 2, next=job.chapters[c + 1].synopsis.strip())
        return SCENE_ENDS_BOOK_CHAT

    def _scene_ask(self, job, idx: list[int], j: int) -> str:
        """The request for scene ``j`` of a chapter: its title, main point, notes, length
        and where it stands (what the next scene or chapter will tell, not to be told yet);
        for a scene begun, the request it was begun under."""
        sec = job.sections[idx[j]]
        if sec.asked:
            return sec.asked[0]
        notes = self._scene_notes(job, idx[j])
        return SCENE_ASK_CHAT.format(k=j + 1, n=sec.chapter + 1, title=sec.heading, point=sec.main_point.strip(),
                                     notes=SCENE_NOTES_CHAT.format(notes=notes) if notes else "",
                                     words=sec.target_words, position=self._position(job, idx, j))

    def _head(self, job) -> str:
        from .prompts import synopsis, title_line
        # compact (one short line a chapter): the head is in every prompt of the book
        chapters = "\n".join(f"{i}. {ch.title}: {ch.synopsis} ({ch.target_words:,} words)"
                             for i, ch in enumerate(job.chapters, 1))
        if self.style == "completion":
            return BOOK_HEAD_COMPLETION.format(title=title_line(job.instruction),
                                               synopsis=synopsis(job.instruction),
                                               bible=_bible_block(job.bible), chapters=chapters)
        # A chat model gets the chapters' titles only: shown every synopsis, the instruct model
        # planned a chapter's scenes as the book's chapters, copied line by line. (What the
        # chapter tells, what the next one will, and the story so far are in its own block.)
        titles = "\n".join(f"{i}. {ch.title}" for i, ch in enumerate(job.chapters, 1))
        return BOOK_HEAD_CHAT.format(instruction=job.instruction.strip(),
                                     bible=_bible_block(job.bible), chapters=titles)

    def _chapter_head(self, job, c: int) -> str:
        ch = job.chapters[c]
        prev = ""
        if c > 0:
            tail = chapter_text(job, c - 1).split()[-60:]
            if tail:
                prev = f"\nThe previous chapter ended: \"… {' '.join(tail)}\"\n"
        notes = ""
        entries = self._entries(job, c, ch.codex_names)
        if entries:
            from .codex import codex_block
            notes = f"\nNotes:\n{codex_block(entries)}\n"
        template = CHAPTER_HEAD_COMPLETION if self.style == "completion" else CHAPTER_HEAD_CHAT
        return template.format(n=c + 1, title=ch.title, synopsis=ch.synopsis, previous=prev, notes=notes)

    def _entries(self, job, c: int, names: list[str]) -> list[CodexEntry]:
        current = {e.name.lower(): e for e in job.codex.current(c + 1)}
        return [current[n.lower()] for n in names if n.lower() in current]

    def _chapter_notes(self, job, c: int) -> list[CodexEntry]:
        ch = job.chapters[c]
        recent = " ".join(chapter_text(job, c - 1).split()[-300:]) if c > 0 else ""
        return job.codex.select(synopsis=ch.synopsis, recent=recent, chapter=c + 1,
                                budget=NOTES_BUDGET, count_tokens=self.backend.count_tokens)

    def _scene_notes(self, job, index: int) -> str:
        """Codex entries this scene triggers that its chapter's prompt does not carry yet.

        Chosen once per scene (stored in ``codex_used`` with the chapter's notes), so that a
        continued or resumed scene gets exactly the same prompt.
        """
        sec = job.sections[index]
        c = sec.chapter
        ch = job.chapters[c]
        idx = chapter_scenes(job, c)
        k = idx.index(index)
        shown = {n.lower() for n in ch.codex_names}
        for i in idx[:k]:
            shown |= {n.lower() for n in job.sections[i].codex_used}
        if not sec.codex_used:
            recent = " ".join(chapter_text(job, c).split()[-300:]) if k else \
                (" ".join(chapter_text(job, c - 1).split()[-300:]) if c else "")
            picked = job.codex.select(scene=sec.main_point, synopsis=ch.synopsis, recent=recent,
                                      chapter=c + 1, budget=NOTES_BUDGET + SCENE_NOTES_BUDGET,
                                      count_tokens=self.backend.count_tokens)
            used = [e.name for e in picked]
            sec.codex_used = used + [n for n in ch.codex_names if n not in used] or []
        own = [n for n in sec.codex_used if n.lower() not in shown]
        entries = self._entries(job, c, own)
        return "; ".join(e.note() for e in entries)

    def _summaries(self, job, c: int) -> list[str]:
        return [f"Chapter {i + 1} ({job.chapters[i].title}): {job.chapters[i].summary.strip()}\n"
                for i in range(c)]

    def _window(self, job, c: int) -> tuple[int, int]:
        """(first chapter whose summary is carried, tokens for the chapter's own text), fixed
        once per chapter so that all its prompts share their prefix.

        The chapter's text gets what it needs up to 70% of what is left after the head, the
        chapter block and the reply; the story so far gets the rest, dropping the oldest
        summaries half at a time (the book plan still lists every chapter's synopsis).
        """
        if c in self._windows:
            return self._windows[c]
        ch = job.chapters[c]
        count = self.backend.count_tokens
        idx = chapter_scenes(job, c)
        longest = max([job.sections[i].target_words for i in idx] or [min(MAX_SCENE_WORDS, ch.goal)])
        block = 60 * max(len(idx), expected_scenes(ch.goal))
        if self.style != "completion":     # a chat model's asks, one a scene, with its notes
            block += (120 + SCENE_NOTES_BUDGET // 2) * max(len(idx), expected_scenes(ch.goal))
        reserve = int(longest * self._tokens_per_word * 1.6) + 400
        avail = int(self.backend.info.n_ctx * 0.9) - reserve - count(self._head(job)) \
            - count(self._chapter_head(job, c)) - block
        need = int(ch.goal * self._tokens_per_word * 1.15)
        if self.style != "completion":
            # a chat model's chapter is a conversation: its scenes, the asks between them (the
            # asks to go on too) and a few top-up scenes; short of room for all of it, the
            # conversation slides, and each slide evaluates what it keeps again
            need = int(ch.goal * self._tokens_per_word * 1.3) + \
                _CHAT_TURN_TOKENS * (max(len(idx), expected_scenes(ch.goal)) + 2)
        text_budget = max(0, min(int(avail * 0.7), need))
        cost = [count(x) for x in self._summaries(job, c)]
        # (from where this job carried them last, in this process or before it was reopened:
        # a reopened job that started from the first summary again evaluated 2,645 tokens of
        # a prompt its saved cache held with the story so far starting at chapter 5)
        ss = self._summaries_from(job, c)
        # A chapter under way keeps where its story so far starts: moved, every later prompt
        # of the chapter parts from the cache at the story so far (the instruct model's
        # chapter 11, given a tenth scene, evaluated 2,239 tokens again, 120 s, for a prompt
        # of 2,209 in an 8,192-token context). A prompt that no longer fits drops scenes and
        # summaries when it is measured (_fitted_scene_prompt).
        under_way = any(job.sections[i].text.strip() for i in idx)
        while not under_way and ss < c and sum(cost[ss:]) > avail - text_budget:
            ss += max(1, (c - ss) // 2)
        self._windows[c] = (ss, text_budget)
        return ss, text_budget

    def _summaries_from(self, job, c: int) -> int:
        """The first chapter whose summary chapter ``c``'s story so far may carry: where the
        chapters up to it carried theirs, in this job (its windows) or before it was reopened
        (``Chapter.summaries_from``); never a later one than ``c``."""
        carried = [w[0] for k, w in self._windows.items() if k <= c]
        return min(max(0, *carried, *(ch.summaries_from for ch in job.chapters[:c + 1])), c)

    def _prompt_parts(self, job, index: int, upto_scene: int, drop: int = 0) -> list[str]:
        """Segments shared by every prompt of a chapter: head, story so far, chapter block,
        then its scenes before ``upto_scene`` (the earliest dropped, in big steps, when the
        chapter outgrows its share of the context)."""
        sec = job.sections[index]
        c = sec.chapter
        idx = chapter_scenes(job, c)
        chat = self.style != "completion"
        count = self.backend.count_tokens
        ss, text_budget = self._window(job, c)
        if c not in self._scene_start and job.chapters[c].scenes_from:
            self._scene_start[c] = job.chapters[c].scenes_from     # (a reopened job)
        scenes_text = []
        for j, i in enumerate(idx[:upto_scene]):
            s = job.sections[i]
            if chat:        # (its answers, the asks to go on between them, the ask for the next scene)
                seg = "".join(ask + "".join(said) for said, ask in self._scene_turns(job, idx, j)) \
                    + (self._scene_ask(job, idx, j + 1) if j + 1 < len(idx) else "")
                scenes_text.append((seg, "", "\n\n"))
                continue
            notes = self._stored_scene_notes(job, i)
            seg = (SCENE_NOTES_COMPLETION.format(notes=notes) if notes else "")
            seg += SCENE_HEADING.format(heading=f"{j + 1}. {s.heading}")
            scenes_text.append((seg, s.text.strip(), "\n\n"))
        cost = [count(a) + count(b) + 2 for a, b, _ in scenes_text]
        # (a chat chapter's conversation may start at this very scene: one of its scenes was
        # started over without the scenes before it, and its later calls go on from there)
        ws = min(self._scene_start.get(c, 0), len(cost) if chat else max(0, len(cost) - 1))
        if sum(cost[ws:]) > text_budget:
            while ws < len(cost) - 1 and sum(cost[ws:]) > text_budget / 2:
                ws += 1
        if drop:    # the measured prompt was too long (see section_prompt): carry less, for good
            ws = min(len(cost), ws + drop)
            ss = min(c, ss + max(0, drop - (len(cost) - self._scene_start.get(c, 0))) * max(1, c // 4))
            self._windows[c] = (ss, text_budget)
        self._scene_start[c] = ws
        parts = [self._head(job)]
        summaries = self._summaries(job, c)[ss:]
        if summaries:
            parts += [STORY_SO_FAR, *summaries, "\n"]
        parts.append(self._chapter_head(job, c))
        if chat:        # the scenes are the conversation's turns (see _conversation)
            return parts
        parts.append(scene_lines(job, idx) + "\n\n")
        for seg, text, gap in scenes_text[ws:]:
            if seg:
                parts.append(seg)
            if text:
                parts += [text, gap]
        return parts

    def _scene_plan_prompt(self, job, c: int, n: int, words: int, found=()) -> Prompt:
        """The request for chapter ``c``'s scenes: the start of the chapter's own prompt
        (book head, story so far, chapter head), so the write prompts reuse its prefix.
        ``found``: scenes planned so far (the answer is continued after them)."""
        ss, _ = self._window(job, c)
        user = [self._head(job)]
        summaries = self._summaries(job, c)[ss:]
        if summaries:
            user += [STORY_SO_FAR, *summaries, "\n"]
        user.append(self._chapter_head(job, c))
        titled = self.style != "completion"       # chat plans give each scene a title
        so_far = "".join(f"Scene {i} - " + (f"Title: {st.title or short_title(st.main_point)} - " if titled else "")
                         + f"Main Point: {st.main_point} - Word Count: "
                         f"{st.target_words or DEFAULT_SCENE_WORDS} words\n" for i, st in enumerate(found, 1))
        if self.style == "completion":
            prompt = Prompt(user=user, answer=[so_far + f"Scene {len(found) + 1} - Main Point:"])
            start = "point"
        else:
            user.append(SCENE_PLAN_CHAT.format(n=c + 1, k=n, target=words, lo=MIN_SCENE_WORDS,
                                               hi=MAX_SCENE_WORDS))
            prompt = Prompt(user=user, answer=[so_far] if so_far else [], system=_system(job.instruction))
            start = "line"
        if self.use_grammar and not _chinese(job.instruction):
            from .grammar import plan_grammar
            need = max(1, n - len(found))
            prompt.grammar = plan_grammar("scene-titled" if titled else "scene", max_lines=need, min_lines=need,
                                          start=start, max_words=40)
        return prompt

    def _stored_scene_notes(self, job, index: int) -> str:
        sec = job.sections[index]
        if not sec.codex_used:
            return ""
        return self._scene_notes(job, index)
