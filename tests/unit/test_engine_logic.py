"""Core: engine logic (length control, continuation, resume, cancel) on a scripted backend."""


import pytest

from fakes import ScriptedBackend
from longhand.core.engine.events import JobDone, PlanReady, SectionToken
from longhand.core.engine.plan import DONE, WRITING, Section
from longhand.core.engine.writer import AgentWriter, Job, validate_request
from longhand.core.errors import CancelToken, LonghandError
from longhand.core.text.wordcount import ends_sentence


def job_of(*targets):
    return Job("Write a story", sum(targets), [Section(f"Point {i}", t) for i, t in enumerate(targets)])


def test_sections_land_on_target_at_sentence_boundaries():
    job = job_of(300, 120, 500)
    AgentWriter(ScriptedBackend(sentence_words=7)).write(job)
    for s in job.sections:
        assert s.status == DONE
        assert ends_sentence(s.text)
        assert s.target_words <= s.words < s.target_words + 7   # stops at the first boundary past target


def test_model_that_wants_to_stop_early_is_kept_going():
    job = job_of(400)
    backend = ScriptedBackend(wants_end_after=30, style="completion")
    AgentWriter(backend).write(job)
    # a base model is kept going to allow_end (368 words, where this backend stops
    # mid-sentence), then ended at the last full sentence
    assert job.sections[0].words >= 0.9 * 400
    assert job.sections[0].text.endswith(".")
    # a chat model is kept going to 60 % of the part, where its ending is accepted
    job = job_of(400)
    AgentWriter(ScriptedBackend(wants_end_after=30)).write(job)
    assert 0.5 * 400 <= job.sections[0].words < 0.9 * 400 and job.sections[0].text.endswith(".")
    assert not job.sections[0].needs_attention


def test_hard_cap_cuts_back_to_last_sentence():
    # sentences of 200 words: no boundary near a 100-word target
    job = job_of(100)
    AgentWriter(ScriptedBackend(sentence_words=200)).write(job)
    words = job.sections[0].words
    assert words <= 112


def test_a_sentence_that_runs_over_the_cap_is_written_again_not_cut_far_back():
    class LongLastSentence(ScriptedBackend):
        """First call: nine 10-word sentences, then one of 60 words (past the 112-word cap);
        later calls: 5-word sentences."""
        def _sentences(self):
            words = (w.rstrip(".") for w in super()._sentences())      # made-up prose words
            for n in [10] * 9 + [60] if self.calls == 1 else [5] * 40:
                for k in range(n):
                    yield next(words) + ("." if k == n - 1 else "")

    backend = LongLastSentence(style="completion")
    job = job_of(100)
    AgentWriter(backend).write(job)
    s = job.sections[0]
    # once cut back to the 90 words of full sentences, the ending was written again inline
    first_ninety = " ".join(s.text.split()[:90])
    assert backend.calls == 2 and backend.prompts[1].text().rstrip().endswith(first_ninety[-40:])
    assert 100 <= s.words <= 112 and ends_sentence(s.text) and not s.needs_attention


def test_backend_ending_early_is_continued():
    class EndsEarly(ScriptedBackend):
        def generate(self, prompt, **kw):
            kw["max_tokens"] = min(kw["max_tokens"], 40)   # e.g. a server that ignores max_tokens
            return super().generate(prompt, **kw)

    job = job_of(150)
    backend = EndsEarly(style="completion")      # (a chat model's ending is accepted from 60 %)
    AgentWriter(backend).write(job)
    assert backend.calls >= 3
    assert job.sections[0].words >= 0.92 * 150
    # continuation prompts carry the partial answer
    assert backend.prompts[-1].answer and backend.prompts[-1].answer[0].strip()


def test_events_in_order_and_totals():
    job = job_of(60, 60)
    events = []
    stats = AgentWriter(ScriptedBackend()).write(job, on_event=events.append)
    kinds = [type(e).__name__ for e in events if not isinstance(e, SectionToken)]
    assert kinds == ["SectionStarted", "SectionDone", "SectionStarted", "SectionDone", "JobDone"]
    assert isinstance(events[-1], JobDone) and not events[-1].cancelled
    tokens = [e for e in events if isinstance(e, SectionToken)]
    assert tokens[-1].total_words >= 110
    assert stats.words == job.words


def test_locked_and_done_sections_are_kept():
    job = job_of(60, 60, 60)
    job.sections[0].text, job.sections[0].status = "Kept as is.", DONE
    job.sections[1].locked = True
    AgentWriter(ScriptedBackend()).write(job)
    assert job.sections[0].text == "Kept as is."
    assert job.sections[1].text == ""
    assert job.sections[2].words >= 55


def test_cancel_keeps_text_and_resume_continues():
    job = job_of(2000)
    backend = ScriptedBackend(delay=0.002)
    cancel = CancelToken()
    seen = []

    def on_event(e):
        if isinstance(e, SectionToken):
            seen.append(e)
            if len(seen) == 100:
                cancel.cancel()

    AgentWriter(backend).write(job, on_event=on_event, cancel=cancel)
    sec = job.sections[0]
    assert sec.status == WRITING
    assert 90 <= sec.words <= 110
    before = sec.text
    backend.delay = 0.0                  # the delay only had to let the cancel land mid-section
    AgentWriter(backend).write(job)
    assert sec.status == DONE
    assert sec.text.startswith(before.rstrip())
    assert sec.words >= 0.92 * 2000


def test_regenerate_keeps_old_take_and_extend_adds():
    job = job_of(80)
    w = AgentWriter(ScriptedBackend())
    w.write(job)
    first = job.sections[0].text
    w.write_section(job, 0, mode="regenerate")
    assert job.sections[0].takes == [first]
    before = job.sections[0].words
    w.write_section(job, 0, mode="extend", extra_words=50)
    assert job.sections[0].words >= before + 45


def test_plan_parses_or_falls_back():
    plan = "Paragraph 1 - Main Point: Dawn - Word Count: 300 words\nParagraph 2 - Main Point: Dusk - Word Count: 300 words"
    events = []
    sections = AgentWriter(ScriptedBackend(plan_text=plan)).plan("Write a story", 900, on_event=events.append)
    assert [s.main_point for s in sections] == ["Dawn", "Dusk"]
    assert [s.target_words for s in sections] == [450, 450]
    assert isinstance(events[-1], PlanReady) and events[-1].how == "parsed"


@pytest.mark.parametrize("instruction,target", [("", 500), ("   ", 500), ("Write", 10), ("Write", 10**7)])
def test_bad_requests_are_refused_clearly(instruction, target):
    with pytest.raises(LonghandError):
        validate_request(instruction, target)


def test_context_window_moves_forward_in_big_steps_and_uses_summaries():
    backend = ScriptedBackend()
    backend.info.n_ctx = 3000
    job = job_of(*([300] * 12))
    for s in job.sections[:11]:
        s.text = ("word " * 300).strip() + "."
        s.status = DONE
        s.summary = "short summary"
    w = AgentWriter(backend)
    starts = []
    for i in range(4, 12):
        ctx = w._context(job, i)
        starts.append(w._window_start)
        assert len(ctx) == i
        dropped = ctx[: w._window_start]
        assert all(c == "short summary" for c in dropped)
    assert starts == sorted(starts)          # only moves forward
    assert len(set(starts)) < len(starts)    # and not at every section


def test_leaks_into_another_part_are_cut_also_at_the_start_of_a_continuation():
    from longhand.core.engine.writer import _cut_leak
    assert _cut_leak("The end.\n## Chapter 2\nMore") == "The end."
    assert _cut_leak("Outline:\n1. x", after="First part.\n\n") == ""
    assert _cut_leak("Outline: a word", after="First part. ") == "Outline: a word"
    assert _cut_leak("Plain text.") == "Plain text."
