"""Core: the AgentWrite engine. Plan, then write section by section, with length control.

Read top to bottom, this module is the paper's two steps on a local model:

1. :meth:`AgentWriter.plan` asks the model for an outline (one line per section with a
   main point and a word count), parses it, and falls back to a sensible outline when the
   model's answer is unusable; section targets are rescaled to sum to the job's target.
2. :meth:`AgentWriter.write` writes the sections in order. Each prompt carries the
   instruction, the whole plan, the text so far and the step to write now; the text so far
   is laid out so that consecutive prompts share their prefix (the backend's KV cache is
   reused and the cost stays linear in the length of the book).

Length control (per section, with any model):

* end-of-text is kept away until the section has ``allow_end`` of its target;
* from the target on, generation stops at the first sentence boundary;
* past ``hard_cap`` it stops anyway and the text is cut back to the last full sentence;
* a section that stops early is continued, up to ``max_continuations`` times.

Everything the engine does is reported as events (see the dataclasses below), which the
CLI prints, the GUI renders and the project autosaver persists.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field

from ..backends.base import Backend, Prompt, Sampling, Steer
from ..errors import CancelToken
from ..text.chatter import LETTER, strip_preamble, strip_reasoning
from ..text.health import Health, HealthMonitor, sentence_ends
from ..text.language import ZH, detect_language, wants_latin_only, wants_no_cjk
from ..text.wordcount import continue_from, count_words, ends_sentence, trim_to_sentence
from .events import (
    EventSink,
    JobDone,
    JobStats,
    PlanReady,
    PlanStarted,
    PlanToken,
    SectionDone,
    SectionRecovery,
    SectionStarted,
    SectionToken,
)
from .plan import (
    CHAT_SECTION_WORDS,
    DEFAULT_SECTION_WORDS,
    DONE,
    WRITING,
    Section,
    expected_sections,
    fallback_plan,
    is_story,
    make_plan,
    plan_problem,
)
from .prompts import TOP_UP_POINT, TOP_UP_TITLE, example_plan, plan_lead, plan_prompt, with_bible, write_prompt
from .revise import start_new_take
from .status import SectionStatus

log = logging.getLogger(__name__)

MIN_TARGET = 50
MAX_TARGET = 200_000
# A recovery whose cut keeps at most this many words (Chinese: characters) more than the last
# recovery's kept failed "at the same spot"; it cuts one paragraph or sentence further back.
# (zh08 on the demo model restarted at 79, 79, 79 and 91 characters and wrote the same closing
# formula each time: that run's recoveries.jsonl, in the git history of bench/results/health/zh08/.)
_SAME_SPOT = 15
# A chat model's text that ends below this share of its target gets another part (_top_up_job).
JOB_LANDS = 0.92
TOP_UP_PARTS = 2
_LANDINGS = 2        # endings rewritten when no sentence ends between allow_end and the cap


@dataclass
class LengthControl:
    allow_end: float = 0.92        # end-of-text allowed from this share of the target
    hard_cap: float = 1.12         # never write more than this share of the target
    max_continuations: int = 4
    max_recoveries: int = 3         # health-check failures a section may recover from
    # A section that ends below this share of its target after every continuation "needs
    # attention" (a few words short of allow_end is a landing, not a failure).
    short: float = 0.8
    # Chat models: end-of-text (and the next part's heading) allowed from this share. An
    # instruction model that has written its part's ending and is kept from ending talks
    # about the text instead ("This article is 600 words long…"); its ending is accepted
    # from here on, and the words it left are carried to the next part (see carry_shortfall).
    chat_allow_end: float = 0.6
    # A book's scene on a chat model is written in answers (SectionTargets.turns): the model
    # ends an answer where it likes, and below this share of the scene's target it is asked,
    # in a new message, to go on with the scene. (Kept from ending inside one answer, the
    # instruct model wrote the next scene's events, which that scene then retold, or "**End
    # of Chapter 1**. Continue with the next scene…". Asked once per scene, it wrote about
    # 200-350 words whatever the scene's target.)
    chat_scene_allow_end: float = 0.85
    # ... and a scene the model closed, and would not go on with when asked, needs attention
    # only below this share (its chapter gets more scenes: BookWriter._top_up_chapter).
    chat_scene_short: float = 0.3


@dataclass
class Job:
    """What the engine works on: the request, the plan and the text. Projects wrap this."""

    instruction: str
    target_words: int
    sections: list[Section] = field(default_factory=list)
    bible: str = ""                 # story bible (characters, setting, style), used in prompts

    @property
    def words(self) -> int:
        return sum(s.words for s in self.sections)


def validate_request(instruction: str, target_words: int) -> None:
    from ..errors import LonghandError
    if not instruction or not instruction.strip():
        raise LonghandError("The instruction is empty: say what to write.")
    if not isinstance(target_words, int) or not (MIN_TARGET <= target_words <= MAX_TARGET):
        raise LonghandError(f"The target length must be between {MIN_TARGET} and {MAX_TARGET:,} "
                            f"words (got {target_words}).")


# Base models like to start the next section themselves; cut their text where they do.
_LEAK = re.compile(r"\n[ \t]*(?:#{1,6}[ \t]|Request:|Outline:|Contents:|Plan:|Paragraph \d+ - |\(End of the text"
                   r"|[*#_]*[ \t]*(?:Chapter \d+|Scene(?: ?\d+)?)[ \t]*[-–:.]"
                   # a horizontal rule: a chat model's "---" before "**End of Chapter 1**" or
                   # the next part's heading ("--- 3. The Duke's Plan")
                   r"|[ \t]*(?:-{3,}|\*{3,}|_{3,}|\*(?:[ \t]*\*){2,})[ \t]*(?:\n|\d+\.)"
                   r"|要求：|提纲：|目录：|第\d+段 - |（已写内容)"
                   # the plan's own fields inside the text ("... - Word Count: 510 words")
                   r"|[ \t]*[-–—]?[ \t]*(?i:\bword\s*count|\bmain\s*point)\s*[:：]")


class AgentWriter:
    """Plans and writes long texts on one backend."""

    def __init__(self, backend: Backend, *, sampling: Sampling | None = None,
                 seed: int | None = None, length: LengthControl | None = None,
                 memory=None) -> None:
        self.backend = backend
        base = sampling or backend.default_sampling
        if seed is not None:
            base = Sampling(**{**base.__dict__, "seed": seed})
        self.sampling = base
        self.length = length or LengthControl()
        self._tokens_per_word = 1.5
        self._window_start = 0          # first section still carried verbatim in prompts
        self._summary_start = 0         # first section carried as a summary (older: dropped)
        if memory is None:              # writes summaries of sections leaving the window
            from .memory import SectionSummarizer
            memory = SectionSummarizer(backend)
        self.memory = memory or None    # memory=False: no model-written summaries
        self.use_grammar = True         # constrain plan answers (backends that can: llama.cpp)
        self.plan_checks: list[str] = []   # per plan answer: "ok", "copies the example", ...

    @property
    def style(self) -> str:
        return self.backend.info.prompt_style

    def _for_request(self, instruction: str) -> None:
        """Sampling rules that follow from the request: a text in English asked for no
        Chinese, Japanese or Korean character is sampled without them (the instruct model
        slipped Chinese words into English scenes, "gather更多的", each a cut and a rewrite),
        and one in Latin letters only without the letters of other scripts ("cartографers")."""
        no_cjk, latin = wants_no_cjk(instruction), wants_latin_only(instruction)
        if (self.sampling.ban_cjk, self.sampling.ban_scripts) != (no_cjk, latin):
            self.sampling = dataclasses.replace(self.sampling, ban_cjk=no_cjk, ban_scripts=latin)

    @property
    def format(self):
        return getattr(self.backend, "format", None) or _format_for(self.backend)

    # -- step 1: plan ----------------------------------------------------------------------

    def plan(self, instruction: str, target_words: int, *, on_event: EventSink | None = None,
             cancel: CancelToken | None = None) -> list[Section]:
        """Ask for a plan, check it is about the request, and fall back when it is not.

        A plan that copies the prompt's example or shares nothing with the request is asked
        for once more (with the other example, another seed); then the fallback arc is used.
        ``self.plan_checks`` keeps what was wrong with each answer (benchmarks count them).
        """
        validate_request(instruction, target_words)
        self._for_request(instruction)
        emit = on_event or (lambda e: None)
        emit(PlanStarted(instruction, target_words))
        n = expected_sections(target_words, CHAT_SECTION_WORDS if self.style != "completion" else DEFAULT_SECTION_WORDS)
        lang = detect_language(instruction)
        self.plan_checks = []
        sections: list[Section] = []
        how, raw = "fallback", ""
        for attempt in range(self.plan_attempts):
            raw, sections, how = self._ask_plan(instruction, target_words, n, lang, attempt, emit, cancel)
            if how != "parsed":
                self.plan_checks.append("unusable")
                continue
            # (checked against every example plan: a model may copy the one of another prompt)
            example = "\n".join(example_plan(lang, k) for k in range(2)) if self.style == "completion" else ""
            problem = plan_problem(instruction, sections, example, lang)
            self.plan_checks.append(problem or "ok")
            if not problem:
                break
            log.info("plan %s; asking again", problem)
        if how != "parsed" or self.plan_checks[-1] != "ok":
            sections, how = fallback_plan(instruction, target_words, lang), "fallback"
        log.info("plan: %d sections (%s)", len(sections), how)
        emit(PlanReady(sections, how, raw))
        return sections

    plan_attempts = 2

    def _ask_plan(self, instruction: str, target_words: int, n: int, lang: str, attempt: int,
                  emit: EventSink, cancel: CancelToken | None) -> tuple[str, list[Section], str]:
        prompt = plan_prompt(self.format, instruction, target_words, n, lang=lang, example=attempt)
        if self.use_grammar and lang != ZH:
            # (the plan grammar's lines are English and its words space-separated)
            from .grammar import plan_grammar
            # at least the expected number of lines: a small model likes to stop after one
            # (at most what make_plan accepts: 2n lines)
            chat = self.style != "completion"
            prompt.grammar = plan_grammar("titled" if chat else "paragraph", max_lines=2 * n, min_lines=n,
                                          start="line" if chat else "point")
        lead = plan_lead(self.format, instruction, lang)
        buf: list[str] = []

        def on_piece(piece: str) -> Steer:
            buf.append(piece)
            emit(PlanToken(piece))
            text = "".join(buf)
            lines = [ln for ln in text.splitlines() if ln.strip()]
            # a base model keeps inventing requests; stop at the first one or a blank gap
            done = ("Request:" in text or "要求：" in text or "\n\n" in text.lstrip("\n")) and bool(lines)
            return Steer(allow_end=True, stop=done or len(lines) > 2 * n + 4)

        seed = self.sampling.seed
        sampling = Sampling(**{**self.sampling.__dict__, "temperature": min(self.sampling.temperature, 0.5),
                               "seed": None if seed is None else seed + 101 * attempt})
        g = self.backend.generate(prompt, max_tokens=min(2048, 70 * (2 * n + 2)), sampling=sampling,
                                  on_piece=on_piece, cancel=cancel)
        if cancel is not None:
            cancel.raise_if_cancelled()
        raw = lead + g.text
        sections, how = make_plan(instruction, target_words, raw)
        return raw, sections, how

    # -- step 2: write ---------------------------------------------------------------------

    def write(self, job: Job, *, on_event: EventSink | None = None, cancel: CancelToken | None = None,
              only: list[int] | None = None) -> JobStats:
        """Write every section that is not written yet (or those in ``only``), in order.

        Locked and finished sections are kept. A section interrupted mid-way (status
        "writing" with text) is continued, not restarted: this is how a crashed or
        cancelled job resumes.
        """
        emit = on_event or (lambda e: None)
        stats = JobStats(target_words=job.target_words)
        t0 = time.perf_counter()
        cancelled = False
        self.backend.ensure_context(self.context_needed(job))
        try:
            for i, sec in enumerate(job.sections):
                if only is not None and i not in only:
                    continue
                if sec.locked:
                    continue
                if only is None and sec.written:
                    continue
                mode = "continue" if sec.interrupted else "write"
                if only is not None and SectionStatus(sec.status).finished:
                    mode = "regenerate"
                self.write_section(job, i, mode=mode, on_event=emit, cancel=cancel, stats=stats)
                if cancel is not None and cancel.cancelled:
                    cancelled = True
                    break
            if only is None and not cancelled and not (cancel is not None and cancel.cancelled):
                self._top_up_job(job, emit, cancel, stats)
        finally:
            stats.words = job.words
            stats.seconds = time.perf_counter() - t0
            emit(JobDone(stats, cancelled or bool(cancel and cancel.cancelled)))
        return stats

    def _top_up_job(self, job: Job, emit: EventSink, cancel: CancelToken | None, stats: JobStats) -> None:
        """A chat model's last part has no next part to give its shortfall to: a job that
        ends below ``JOB_LANDS`` of its target gets a part that continues the text to its end
        (at most ``TOP_UP_PARTS``; none after a part that needs attention or wrote next to
        nothing). Two-level
        books top up each chapter instead (BookWriter)."""
        if self.style == "completion" or not job.sections or job.sections[-1].chapter is not None:
            return
        zh = detect_language(job.instruction) == ZH
        for _ in range(TOP_UP_PARTS):
            lack = job.target_words - job.words
            last = job.sections[-1]
            if job.words >= JOB_LANDS * job.target_words or lack < max(MIN_TARGET, job.target_words // 20) \
                    or not SectionStatus(last.status).finished or last.needs_attention \
                    or last.words < last.target_words // 4 \
                    or (cancel is not None and cancel.cancelled):
                return
            # the words the last part left move to the new one (the targets still add up)
            moved = min(lack, max(0, last.target_words - last.words))
            last.target_words -= moved
            job.sections.append(Section(main_point=TOP_UP_POINT["zh" if zh else "en"], target_words=lack,
                                        title=TOP_UP_TITLE["zh" if zh else "en"]))
            log.info("the text is %d words short of its target: a part added", lack)
            emit(PlanReady(job.sections, "top-up", ""))
            self.write_section(job, len(job.sections) - 1, mode="write", on_event=emit, cancel=cancel,
                               stats=stats)

    def write_section(self, job: Job, index: int, *, mode: str = "write",
                      extra_words: int | None = None, on_event: EventSink | None = None,
                      cancel: CancelToken | None = None, stats: JobStats | None = None) -> Section:
        """Write (or regenerate, extend, continue) one section; returns it.

        mode: "write"/"regenerate" start from an empty text (the old one becomes a take);
        "continue" completes an interrupted section to its target; "extend" adds about
        ``extra_words`` (default: half the target) to a finished section.

        A loop of generation calls (:meth:`_write_on`), each followed by one of: a recovery
        (:meth:`_recover`), a rewritten ending (:meth:`_land_again`) or the continuation
        rules (:meth:`_after_continuation`); then the final trim (:meth:`_finish_section`).
        """
        emit = on_event or (lambda e: None)
        stats = stats if stats is not None else JobStats(target_words=job.target_words)
        self._for_request(job.instruction)
        sec = job.sections[index]
        if mode in ("write", "regenerate"):
            start_new_take(sec)
        chat = self.style != "completion"
        targets = SectionTargets.of(self.length, mode=mode, target_words=sec.target_words,
                                    start_words=count_words(sec.text), extra_words=extra_words, chat=chat,
                                    allow_share=self._chat_allow_end(job, index) if chat else self.length.allow_end,
                                    turns=chat and self._in_turns(job, index))
        sec.status = WRITING
        emit(SectionStarted(index, targets.goal, mode))
        words_before = job.words - sec.words
        t0 = time.perf_counter()
        # The health check judges only the text written now: what the section held before
        # (the user's own text, or a take kept on purpose) is never judged or cut.
        monitor = self._monitor(job, index, protected=len(sec.text.rstrip()))
        run = _SectionRun(index=index, sec=sec, targets=targets, monitor=monitor, sampling=self.sampling,
                          emit=emit, cancel=cancel, stats=stats, words_before=words_before, t0=t0,
                          text=sec.text, best_healthy=sec.text)
        self._firm_language = self._short_context = False
        while run.continuations <= self.length.max_continuations:
            if count_words(run.text) >= targets.allow_from or run.cancelled:
                break
            finish, new, bad = self._write_on(job, run)
            if bad is not None:
                if self._ran_out(run, bad) or self._recover(run, bad):
                    break           # giving up
                continue
            sec.text = run.text
            if finish == "cancelled":
                break
            if self._land_again(run):
                continue
            if self._after_continuation(run, new):
                break
        self._firm_language = self._short_context = False
        self._finish_section(job, run, mode, chat)
        return sec

    def _write_on(self, job: Job, run: "_SectionRun") -> tuple[str, str, Health | None]:
        """One generation call that writes on from the section's text; ``run.text`` becomes
        the text with what it wrote (leaks cut). Returns (how the call finished, the new
        text, the health failure it ran into or None)."""
        t = run.targets
        words = count_words(run.text)
        partial = continuation_partial(run.text, empty_last=run.empty_last, inline=run.inline)
        if t.turns:
            partial = next_answer(run.sec, run.text, partial, new_answer=run.answer_ended)
        # (an answer of its own: the model may open it like an assistant, as the first)
        fresh = not partial or (t.turns and bool(run.sec.parts) and run.sec.parts[-1] == len(partial))
        prompt = self.section_prompt(job, run.index, partial)
        self.backend.ensure_context(self.backend.count_tokens(prompt.text())
                                    + int((t.cap - words) * self._tokens_per_word * 1.4) + 64)
        max_tokens = int((t.cap - words) * self._tokens_per_word * 1.4) + 48
        steer = SectionSteer(run.index, partial, t, run.monitor, run.emit, words_before=run.words_before,
                             t0=run.t0, gen_tokens=run.gen_tokens, fresh=fresh)
        run.inline = False
        g = self.backend.generate(prompt, max_tokens=max(16, max_tokens),
                                  sampling=self._call_sampling(job, run.index, run.sampling, partial),
                                  on_piece=steer, cancel=run.cancel, allow_end=words >= t.allow_from or t.turns)
        # (the model closed its answer, or began another part: in turns, the next call asks
        # it to go on in a new message rather than write on inside this answer)
        run.answer_ended = g.finish == "end" or steer.leaked
        run.stats.add(g)
        run.stats.first_token_seconds.append(g.first_token_seconds)
        run.gen_tokens += g.generated_tokens
        new = _cut_leak(strip_preamble(g.text).lstrip() if fresh else strip_reasoning(g.text), after=partial)
        if g.generated_tokens and count_words(g.text):
            observed = g.generated_tokens / max(1, count_words(g.text))
            self._tokens_per_word = 0.7 * self._tokens_per_word + 0.3 * min(4.0, max(0.8, observed))
        run.text = (partial + new) if partial else new.lstrip()
        bad: Health | None = steer.bad or (steer.judge(run.text, final=True) if g.finish != "cancelled" else None)
        return g.finish, new, bad

    def _recover(self, run: "_SectionRun", bad: Health) -> bool:
        """Recovery, not padding: cut back to the last healthy sentence and write on under
        changed conditions, a bounded number of times. True: recovery gave up (the section
        keeps the most healthy text any attempt reached and needs attention)."""
        run.recoveries += 1
        giving_up = run.recoveries > self.length.max_recoveries
        written, before_cut = count_words(run.text), run.text
        healthy = _healthy_part(run, bad)
        if count_words(healthy) > count_words(run.best_healthy):
            run.best_healthy = healthy
        text = recovery_cut(healthy, best_healthy=run.best_healthy, recovered_at=run.recovered_at,
                            giving_up=giving_up, keep=run.monitor.protected)
        restart = self._restarts_scene(run, bad, text) and not giving_up
        if restart:
            # the scene's opening copies an earlier scene's (the instruct model, shown its
            # chapter's scenes, opened five running with the same lines): cut back to what
            # it held before, and write it without the earlier scenes in view
            text = run.text[:run.monitor.protected].rstrip()
        run.recovered_at = count_words(text)
        run.text = run.sec.text = text
        same = len(os.path.commonprefix([text, before_cut]))
        run.emit(SectionRecovery(run.index, run.recoveries, bad.kind, list(bad.reasons), count_words(text),
                                 max(0, written - count_words(text)), before_cut[same:][:6000]))
        log.info("section %d: %s; cut back to %d words (recovery %d)", run.index + 1,
                 "; ".join(bad.reasons), count_words(text), run.recoveries)
        if giving_up:
            run.needs_attention = True
            return True
        run.sampling = self._recovery_sampling(run.recoveries, bad.kind)
        self._firm_language = self._firm_language or bad.kind == "language"
        self._short_context = self._short_context or run.recoveries >= 2 or bad.kind == "drift" or restart
        run.empty_last = False
        return False

    @staticmethod
    def _restarts_scene(run: "_SectionRun", bad: Health, cut: str) -> bool:
        """Does a loop in a chat model's scene (``SectionTargets.turns``) start it over? When
        its first answer loops before it holds a sixth of its target, what it holds is the
        start of a copy of an earlier scene (kept as "healthy": too short to judge)."""
        return (run.targets.turns and not run.sec.parts and bad.kind == "loop"
                and count_words(cut) - count_words(run.text[:run.monitor.protected]) < run.targets.goal / 6)

    def _ran_out(self, run: "_SectionRun", bad: Health) -> bool:
        """A chat model's scene (``SectionTargets.turns``) that loops back over what it has
        told, asked to go on or not, has nothing more to tell: the scene ends at its last
        healthy sentence (its chapter gets more scenes), rather than be cut and written again
        (the instruct model, cut back, looped at the same spot three times running). Not
        before ``LengthControl.chat_scene_short`` of its target. True: the scene ends."""
        if not (run.targets.turns and bad.kind == "loop"):
            return False
        healthy = trim_to_sentence(_healthy_part(run, bad))
        if count_words(healthy) < run.targets.goal * run.targets.short_share:
            return False
        run.recoveries += 1
        run.emit(SectionRecovery(run.index, run.recoveries, bad.kind, [*bad.reasons, "the scene ends here"],
                                 count_words(healthy), count_words(run.text) - count_words(healthy),
                                 run.text[len(healthy):][:6000]))
        log.info("section %d: %s; the model retells: the scene ends at %d words",
                 run.index + 1, "; ".join(bad.reasons), count_words(healthy))
        run.text = run.sec.text = healthy
        return True

    def _land_again(self, run: "_SectionRun") -> bool:
        """Past allow_end, but no sentence ends before the cap (one long sentence ran over
        it): go back to the last full sentence and write the ending again, another way, rather
        than settle for a section cut well short of its target (at most ``_LANDINGS`` times).
        True: the ending is written again."""
        if run.landings >= _LANDINGS or not _missed_landing(run.text, run.targets.allow_from, run.monitor.protected):
            return False
        run.landings += 1
        run.text = run.sec.text = trim_to_sentence(run.text)
        s = run.sampling
        run.sampling = Sampling(**{**s.__dict__, "seed": None if s.seed is None else s.seed + 101 * run.landings})
        run.inline = True
        return True

    def _after_continuation(self, run: "_SectionRun", new: str) -> bool:
        """After a healthy continuation that did not reach allow_end. True: stop writing.

        An empty continuation is retried (end-of-text is banned from its first token);
        max_continuations bounds the loop. The retry samples differently: with the same seed
        a model that went straight to another part ("\\n\\n## The") does it again, call after
        call (seen over llama-cpp-python's server, where no DRY breaks it).
        """
        stalled = run.empty_last and not new.strip()      # a second empty continuation in a row
        run.empty_last = not new.strip()
        run.continuations += 1
        if stalled and count_words(run.text) >= run.targets.goal * run.targets.short_share:
            return True        # close enough: a landing, not worth cutting text to retry
        if stalled and run.targets.turns:
            return True        # asked twice to go on, the model added nothing: its scene ends here
        if stalled and run.recoveries < self.length.max_recoveries and self._unstall(run):
            return False
        if run.empty_last:
            run.sampling = retry_sampling(run.sampling, run.continuations)
        return False

    def _unstall(self, run: "_SectionRun") -> bool:
        """The model treats the text as finished (it ended on a link, a sign-off...): drop the
        last paragraph (or sentence) and write on from there, another way. False: nothing to
        drop (the protected prefix)."""
        text = run.text
        cut = _drop_tail(text, keep=run.monitor.protected)
        if cut == text:
            return False
        run.recoveries += 1
        run.emit(SectionRecovery(run.index, run.recoveries, "stall", ["stall: continuations add nothing"],
                                 count_words(cut), count_words(text) - count_words(cut), text[len(cut):][:6000]))
        log.info("section %d stalled; cut back to %d words (recovery %d)", run.index + 1,
                 count_words(cut), run.recoveries)
        run.text = run.sec.text = cut
        run.sampling = self._recovery_sampling(run.recoveries, "stall")
        run.empty_last = False
        run.continuations = max(0, run.continuations - 2)   # the two empty calls are given back
        return True

    def _finish_section(self, job: Job, run: "_SectionRun", mode: str, chat: bool) -> None:
        """The final trim, the section's status and ``needs_attention``, the shortfall a chat
        model left (carried to the next part), the stats and ``SectionDone``."""
        t, sec, index = run.targets, run.sec, run.index
        text = sec.text = t.landed(run.text)
        interrupted = run.cancelled and count_words(text) < t.allow_from
        if not interrupted and count_words(text) < t.goal * t.short_share and not run.needs_attention:
            # Every continuation was spent and the section is still short (the model kept
            # starting another part, or wrote nothing that counts): say so, never pass it off.
            log.info("section %d ended short: %d of %d words after %d continuations", index + 1,
                     count_words(text), t.goal, run.continuations)
            run.needs_attention = True
        sec.needs_attention = run.needs_attention
        sec.status = WRITING if interrupted else DONE
        sec.parts = [p for p in sec.parts if p < len(text)]       # (an answer that kept nothing)
        if chat and not interrupted and mode in ("write", "regenerate") and self._carries_shortfall(job, index):
            carry_shortfall(job, index)
        run.stats.recoveries += run.recoveries
        run.stats.needs_attention += int(run.needs_attention)
        run.emit(SectionDone(index, text, count_words(text), t.goal, run.gen_tokens, time.perf_counter() - run.t0,
                             recoveries=run.recoveries, needs_attention=run.needs_attention))

    def _carries_shortfall(self, job: Job, index: int) -> bool:
        """Are the words a chat model's part ended short of given to the next part? (A book's
        chapter gets more scenes instead: BookWriter.)"""
        return True

    def _call_sampling(self, job: Job, index: int, sampling: Sampling, partial: str) -> Sampling:
        """The sampling of one call that writes section ``index`` on from ``partial``
        (BookWriter adds the book's phrases to avoid)."""
        return sampling

    def _chat_allow_end(self, job: Job, index: int) -> float:
        """From which share of its target a chat model's ending of section ``index`` is
        accepted (two-level books: their scenes, see BookWriter)."""
        return self.length.chat_allow_end

    def _in_turns(self, job: Job, index: int) -> bool:
        """Is a chat model's section ``index`` written in answers, asked to go on in a new
        message after each answer that ends short (see ``SectionTargets.turns``)? Only a
        book's scenes, whose prompt is a conversation (BookWriter)."""
        return False

    # -- health ----------------------------------------------------------------------------

    def _monitor(self, job: Job, index: int, protected: int) -> HealthMonitor:
        """The health check for a section: the request's language, loops into earlier text
        (the last sections before it), drift from the request, the plan step and the section
        before (names and places carry over)."""
        sec = job.sections[index]
        earlier = [s.text for s in job.sections[max(0, index - 6):index] if s.text]
        topic = " ".join([job.instruction, job.bible, sec.main_point, sec.heading,
                          earlier[-1][-3000:] if earlier else ""])
        # (a story told again in other words: a chat model's failure, fighting the repetition
        # penalties in its conversation; the base model's path is left as it was measured)
        return HealthMonitor(detect_language(job.instruction), reference="\n\n".join(earlier),
                             topic_text=topic, protected=protected, story=is_story(job.instruction),
                             letter=bool(LETTER.search(job.instruction)),
                             retelling=self.style != "completion")

    def _recovery_sampling(self, attempt: int, kind: str) -> Sampling:
        """Changed conditions for recovery ``attempt`` (1, 2, ...) after a failure of ``kind``.

        Always another seed and a lower temperature. Loops get a stronger DRY penalty; junk
        (the model fighting the penalties while it wants to copy) a shorter penalty window
        and a milder repetition penalty; see bench/collapse.py.
        """
        s = self.sampling
        seed = (s.seed if s.seed is not None else 0) + 7919 * attempt
        changes: dict = {"seed": seed, "temperature": round(max(0.2, s.temperature * 0.8 ** attempt), 3)}
        if kind == "loop":
            changes["dry_multiplier"] = max(s.dry_multiplier, 0.8) * (1 + 0.5 * attempt)
        elif kind == "junk":
            changes["dry_last_n"] = min(s.dry_last_n, 512)
            changes["repeat_penalty"] = 1.0 + (s.repeat_penalty - 1.0) / (1 + attempt)
        return Sampling(**{**s.__dict__, **changes})

    def section_prompt(self, job: Job, index: int, partial: str = "") -> Prompt:
        """The prompt that writes ``job.sections[index]`` (two-level books override it).

        In the request's language; during a recovery (see :meth:`write_section`) with a firmer
        word on the language and/or only the last two sections carried verbatim.
        """
        context = self._context(job, index)
        if getattr(self, "_short_context", False):
            context = ["" if i < index - 2 else c for i, c in enumerate(context)]
        return write_prompt(self.format, with_bible(job.instruction, job.bible), job.sections, index, context,
                            partial=partial, lang=detect_language(job.instruction),
                            firm=getattr(self, "_firm_language", False))

    # -- context ---------------------------------------------------------------------------

    def context_needed(self, job: Job) -> int:
        """Tokens a job needs in context: header, plan, the whole text, one section's output."""
        header = self.backend.count_tokens(job.instruction + job.bible) + 40 * max(1, len(job.sections)) + 400
        longest = max((s.target_words for s in job.sections), default=job.target_words)
        return int(header + job.target_words * self._tokens_per_word * 1.1 + longest * 2.2 + 256)

    def _context(self, job: Job, index: int) -> list[str]:
        """Text carried for sections before ``index``: verbatim within the window, else summaries.

        The window start only moves forward, and in big steps, so that many consecutive
        prompts share their prefix even when the book outgrows the context. Summaries of the
        sections leaving the window are written then (``self.memory``); when the summaries
        themselves outgrow their share, the oldest are dropped, also in big steps (the story
        bible carries what must never be forgotten).
        """
        earlier = job.sections[:index]
        n_ctx = self.backend.info.n_ctx
        # Everything but the carried text: header, bible, plan, heading (measured, not guessed).
        request = with_bible(job.instruction, job.bible)
        fixed = self.backend.count_tokens(write_prompt(self.format, request, job.sections, index, [""] * index).text())
        budget = int(n_ctx * 0.9) - fixed \
            - int(job.sections[index].target_words * self._tokens_per_word * 1.6) - 256
        if self._window_start > index:
            self._window_start = self._summary_start = 0
        est = [int(count_words(s.text) * self._tokens_per_word) + 4 for s in earlier]
        summary_max = self.memory.max_tokens if self.memory is not None else 0

        def summary_cost(i: int) -> int:
            s = earlier[i]
            return (len(s.summary) // 3 if s.summary else summary_max) + 8

        def summaries(first: int, start: int) -> int:
            return sum(summary_cost(i) for i in range(first, start))

        ss, ws = self._summary_start, self._window_start
        if summaries(ss, ws) + sum(est[ws:]) > budget:
            # (summaries are capped below, so they count at most a third here)
            while ws < index and min(summaries(ss, ws), budget / 3) + sum(est[ws:]) > budget * 0.6:
                ws += 1
        # summaries may take a third of the budget; past that, only the newest sixth stays
        if summaries(ss, ws) > budget / 3:
            while ss < ws and summaries(ss, ws) > budget / 6:
                ss += 1
        self._window_start, self._summary_start = ws, ss
        if self.memory is not None and ws > ss:
            self.memory(job.sections, range(ss, ws))
        return [(s.summary if ss <= i < ws else "" if i < ss else s.text)
                for i, s in enumerate(earlier)]


# -- the parts of write_section ---------------------------------------------------------

@dataclass
class SectionTargets:
    """How long one section is written (see :class:`LengthControl`)."""

    goal: int             # words the section should reach
    allow_from: int       # end-of-text is allowed from here
    cap: int              # never written past this
    short_share: float    # below ``goal * short_share`` words the section needs attention
    # Written in answers (a chat model's scene in a conversation): the model may end an
    # answer at any length; below ``allow_from`` the next call asks it to go on in a new
    # message (``Section.parts`` records where each answer begins).
    turns: bool = False

    @classmethod
    def of(cls, lc: LengthControl, *, mode: str, target_words: int, start_words: int,
           extra_words: int | None, chat: bool, allow_share: float, turns: bool = False) -> "SectionTargets":
        """The targets of a section of ``target_words`` holding ``start_words`` written in
        ``mode``; ``allow_share``: from which share of the goal its ending is accepted."""
        if mode == "extend":
            goal = start_words + (extra_words or max(MIN_TARGET, target_words // 2))
        else:
            goal = target_words
        # below this share a section "needs attention"; a chat model's accepted ending may
        # land a little under its allow_end when cut back to a full sentence
        short_share = lc.chat_scene_short if turns else round(allow_share - 0.1, 3) if chat else lc.short
        # (extending: the share is of the words to add, the section's own text is kept)
        base = start_words if mode == "extend" else 0
        allow_from = max(1, base + math.ceil((goal - base) * allow_share))
        cap = max(goal + 5, math.floor(goal * lc.hard_cap))
        return cls(goal, allow_from, cap, short_share, turns)

    def landed(self, text: str) -> str:
        """The final trim: land on a sentence boundary at or above ``allow_from``, and never
        past the cap."""
        text = text.rstrip()
        if count_words(text) > self.cap or (count_words(text) >= self.allow_from and not ends_sentence(text)):
            text = trim_to_sentence(text, min_words=self.allow_from if count_words(text) >= self.allow_from else 0)
            if not ends_sentence(text):
                # no sentence ends between allow_end and the cap: a shorter, finished section
                # beats one that stops mid-sentence, while it is not short
                text = trim_to_sentence(text, min_words=math.ceil(self.goal * self.short_share))
        return text


def continuation_partial(text: str, *, empty_last: bool, inline: bool) -> str:
    """The text a generation call writes on from. After a continuation that gave nothing (the
    model went straight to another part), or to write an ending again, it continues inside
    the paragraph instead of after a break."""
    if not text:
        return ""
    if empty_last or inline:
        return text.rstrip() + " "
    return continue_from(text)


def next_answer(sec: Section, text: str, partial: str, *, new_answer: bool) -> str:
    """The partial text a section written in answers (``SectionTargets.turns``) writes on
    from, keeping ``sec.parts`` in step: answers cut away by a recovery are forgotten, and
    after an answer the model closed (``new_answer``) the next one begins after a paragraph
    break, recorded once (an empty answer asked again is the same answer)."""
    sec.parts = [p for p in sec.parts if p <= len(partial)]
    if not new_answer or not text.strip():
        return partial
    partial = text.rstrip() + "\n\n"
    if not sec.parts or sec.parts[-1] != len(partial):
        sec.parts = [p for p in sec.parts if p < len(partial)] + [len(partial)]
    return partial


def _healthy_part(run: "_SectionRun", bad: Health) -> str:
    """The section's text up to where ``bad`` says it must be cut: its ``cut_to`` (a whole
    answer that failed), else the last healthy sentence."""
    if bad.cut_to is not None:
        return run.text[:bad.cut_to].rstrip()
    return run.monitor.healthy_prefix(run.text)


def recovery_cut(healthy: str, *, best_healthy: str, recovered_at: int | None, giving_up: bool,
                 keep: int = 0) -> str:
    """Where a recovery cuts the section back to. ``healthy``: the text up to its last healthy
    sentence; ``best_healthy``: the longest text any recovery's cut kept; ``recovered_at``: the
    words the last recovery kept; ``keep``: the protected prefix (characters).

    Giving up: the most healthy text any attempt reached (a cut further back was a bet on
    the next attempt that did not pay). When the last recovery failed at the same spot
    (``_SAME_SPOT``), the text before it is what pulls the model into the failure (a closing
    formula, the start of a copy), so this time it goes too: one paragraph, or one sentence,
    further (paragraphs without words, such as an empty list item "3.", go too).
    """
    if giving_up:
        return best_healthy
    text = healthy
    if recovered_at is not None and count_words(text) <= recovered_at + _SAME_SPOT:
        kept = count_words(text)
        while (cut := _drop_tail(text, keep=keep)) != text:
            text = cut
            if count_words(text) < kept:
                break
    return text


def retry_sampling(s: Sampling, continuations: int) -> Sampling:
    """After an empty continuation: another seed and a little more temperature."""
    return Sampling(**{**s.__dict__, "seed": None if s.seed is None else s.seed + 31 * continuations,
                       "temperature": round(min(1.0, s.temperature + 0.1), 3)})


class SectionSteer:
    """Steers one generation call of a section, piece by piece (the backend's ``on_piece``).

    Stops at once on a health failure (kept in ``bad``: what follows would be worse), where
    the model starts another part (a leak), at the cap, or where a sentence ends past the
    goal; allows end-of-text from ``allow_from``. Emits a ``SectionToken`` per piece.
    """

    def __init__(self, index: int, partial: str, targets: SectionTargets, monitor: HealthMonitor,
                 emit: EventSink, *, words_before: int = 0, t0: float | None = None, gen_tokens: int = 0,
                 fresh: bool | None = None) -> None:
        self.index, self.partial, self.targets, self.monitor, self.emit = index, partial, targets, monitor, emit
        # a new answer (the first, or one that goes on in a new message): its opening may be chatter
        self.fresh = not partial if fresh is None else fresh
        self.words_before, self.gen_tokens = words_before, gen_tokens
        self.t0 = time.perf_counter() if t0 is None else t0
        self.acc: list[str] = []
        self.n = 0
        self.bad: Health | None = None
        self.leaked = False          # stopped where the model began another part
        # a later answer of a section written in answers: judged once for starting it over
        self.answer_start = len(partial) if (targets.turns and self.fresh and partial.strip()) else None

    def __call__(self, piece: str) -> Steer:
        self.acc.append(piece)
        self.n += 1
        written = "".join(self.acc)
        # (an assistant's opening line "Certainly! Here is…" is dropped, not judged)
        current = self.partial + (strip_preamble(written).lstrip() if self.fresh else strip_reasoning(written))
        w = count_words(current)
        dt = time.perf_counter() - self.t0
        self.emit(SectionToken(self.index, piece, w, self.words_before + w,
                               (self.gen_tokens + self.n) / dt if dt else 0.0))
        bad = self.judge(current)
        if bad is not None:          # stop at once: what follows would be worse
            self.bad = bad
            return Steer(allow_end=True, stop=True)
        if self._ends(current, piece, w):
            return Steer(allow_end=True, stop=True)
        return Steer(allow_end=w >= self.targets.allow_from or self.targets.turns)

    def judge(self, current: str, final: bool = False) -> Health | None:
        """The health check's verdict on the text so far, then the retelling check's. A loop
        found in a later answer not yet judged for retelling is judged so at once: an answer
        that tells an earlier sentence again goes whole, not only the words after the copy
        (the instruct model's copied opening line stayed in a scene that the loop check
        ended on the line after it)."""
        bad = self.monitor.feed(current, final=final)
        if bad is not None and bad.kind == "loop":
            return self.retold(current, final=True) or bad
        return bad or self.retold(current, final=final)

    def retold(self, current: str, final: bool = False) -> Health | None:
        """A later answer that starts the section over (HealthMonitor.retold), judged once,
        on its first three sentences (``final``: on the sentences the answer ended with).
        Once three sentences stand, the verdict is given on them even when fewer than three
        hold enough content words to weigh (else a copied sentence between two light ones,
        "As she walked through the town.", was never judged)."""
        if self.answer_start is None or (not final and not re.search(r"[.!?…]\W{0,2}$", current)):
            return None
        done = final or len(sentence_ends(current[self.answer_start:])) >= 3
        bad = self.monitor.retold(current, self.answer_start, final=done)
        if done or bad is not None:
            self.answer_start = None
        return bad

    def _ends(self, current: str, piece: str, w: int) -> bool:
        # (a leak starts at a line break and is short: the tail that holds the new piece
        # is enough, every earlier piece was searched when it came)
        if _LEAK.search((self.partial[-1:] + "".join(self.acc))[-(len(piece) + 120):]):
            self.leaked = True
            return True
        t = self.targets
        if w >= t.cap:
            return True
        kept = _boundary_text(current, piece) if w >= t.goal else None
        return kept is not None and count_words(kept) >= t.goal


@dataclass
class _SectionRun:
    """One section being written: what write_section's loop carries from call to call."""

    index: int
    sec: Section
    targets: SectionTargets
    monitor: HealthMonitor
    sampling: Sampling
    emit: EventSink
    cancel: CancelToken | None
    stats: JobStats
    words_before: int
    t0: float
    text: str = ""
    best_healthy: str = ""             # the longest text a recovery's cut kept
    recoveries: int = 0
    continuations: int = 0
    needs_attention: bool = False
    empty_last: bool = False           # the last continuation gave nothing
    recovered_at: int | None = None    # words kept by the last recovery's cut
    landings: int = 0                  # endings rewritten after a missed landing
    inline: bool = False               # write on inside the paragraph (a rewritten ending)
    gen_tokens: int = 0
    answer_ended: bool = False         # the last call ended the model's answer (turns)

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.cancelled



def carry_shortfall(job: Job, index: int) -> int:
    """Give the words section ``index`` fell short of its target to the next section still to
    be written (of the same chapter in a book), at most doubling its target; returns the
    words carried. The job's total stays on target when a part ends early."""
    sec = job.sections[index]
    short = sec.target_words - sec.words
    if short <= 0:
        return 0
    for nxt in job.sections[index + 1:]:
        if nxt.chapter != sec.chapter:
            break
        if nxt.locked or nxt.text.strip() or SectionStatus(nxt.status).finished:
            continue
        add = min(short, nxt.target_words)
        nxt.target_words += add
        return add
    return 0


def _format_for(backend: Backend):
    from ..backends.formats import FORMATS
    return FORMATS["completion" if backend.info.prompt_style == "completion" else "longwriter-llama3"]


def _boundary_text(text: str, piece: str) -> str | None:
    """If a sentence has just ended, the text to keep (up to that end); else None.

    Tokens usually carry their leading space (" There"), so a boundary is seen when the new
    piece starts with whitespace and the text before it ends a sentence; the piece is then
    not kept. Chinese has no spaces: 。！？ (and a closing quote after them) end a sentence.
    """
    if not text or not piece:
        return None
    before = text[: len(text) - len(piece)]
    if piece[0].isspace() and ends_sentence(before):
        return before.rstrip()
    if text[-1].isspace() and ends_sentence(text):
        return text.rstrip()
    if re.search(r"[。！？][”」』]?$", text):
        return text
    return None


def _missed_landing(text: str, allow_from: int, keep: int) -> bool:
    """True when ``text`` has passed ``allow_from`` words without ending a sentence and its
    last complete sentence ends before ``allow_from`` (and after the protected prefix)."""
    stripped = text.rstrip()
    if count_words(stripped) < allow_from or ends_sentence(stripped):
        return False
    if ends_sentence(trim_to_sentence(stripped, min_words=allow_from)):
        return False                      # a sentence ends in range: the final trim lands there
    last = trim_to_sentence(stripped)
    return ends_sentence(last) and len(last) > keep


def _drop_tail(text: str, keep: int = 0) -> str:
    """``text`` without its last paragraph, or without its last sentence when it is one
    paragraph; never shorter than ``keep`` characters (the protected prefix)."""
    body = text.rstrip()
    cut = body.rsplit("\n\n", 1)[0] if "\n\n" in body[keep:] else ""
    if not cut.strip():
        ends = [e for e in sentence_ends(body) if e < len(body)]     # the last sentence goes
        cut = body[:ends[-1]] if ends else ""
    return cut.rstrip() if len(cut.rstrip()) >= keep and cut.strip() else text


def _cut_leak(text: str, after: str = "") -> str:
    """``text`` up to where the model starts another part ("## ...", "Outline:"...).

    ``after`` is the text it continues: a continuation that starts right after a paragraph
    break begins a line too.
    """
    lead = after[-1:]
    m = _LEAK.search(lead + text)
    return text[: max(0, m.start() - len(lead))] if m else text
