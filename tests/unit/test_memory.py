"""Core: novel-length memory (model-written section summaries, bounded context)."""

from __future__ import annotations

from fakes import ScriptedBackend
from helpers import STORY
from longhand.core.backends.formats import FORMATS
from longhand.core.engine.events import SectionStarted
from longhand.core.engine.memory import SectionSummarizer, clean_summary, fallback_summary
from longhand.core.engine.plan import DONE, WRITING, Section
from longhand.core.engine.writer import AgentWriter, Job
from longhand.core.text.wordcount import count_words


def _bounded(n_ctx: int = 2048, memory=None):
    backend = ScriptedBackend(style="completion")
    backend.info.n_ctx = n_ctx
    backend.format = FORMATS["completion"]
    writer = AgentWriter(backend, memory=memory)
    job = Job("Write a long novel about Mara.", 40 * 150,
              [Section(f"Event number {i} happens to Mara", 150) for i in range(40)])
    return backend, writer, job


def _is_summary_prompt(prompt) -> bool:
    return prompt.text().startswith("Chapter notes.")


def test_long_job_fits_a_small_context_with_summaries():
    backend, writer, job = _bounded()
    windows = []
    writer.write(job, on_event=lambda e: windows.append((writer._summary_start, writer._window_start))
                 if isinstance(e, SectionStarted) else None)
    assert all(s.status == DONE for s in job.sections)
    sizes = [backend.count_tokens(p.text()) for p in backend.prompts]
    assert max(sizes) < backend.info.n_ctx             # never overflows, though the text is 3x it
    assert job.words > 2.5 * backend.info.n_ctx
    summarized = [i for i, s in enumerate(job.sections) if s.summary]
    n_summary_calls = sum(_is_summary_prompt(p) for p in backend.prompts)
    # summaries only for sections that left the window, each written once, far fewer than sections
    assert summarized and n_summary_calls == len(summarized) < len(job.sections) // 3
    assert max(summarized) < windows[-1][1]
    assert all(count_words(job.sections[i].summary) <= 1.3 * writer.memory.words for i in summarized)
    # the window moves forward only, in steps of several sections
    starts = sorted({w for _, w in windows})
    assert starts == [w for _, w in sorted(set(windows))]
    assert all(b - a >= 3 for a, b in zip(starts, starts[1:]))


def test_prompts_share_their_prefix_between_window_moves():
    backend, writer, job = _bounded()
    writer.write(job)
    writes = [p for p in backend.prompts if not _is_summary_prompt(p)]
    shared = 0
    for a, b in zip(writes, writes[1:]):
        head = a.user[:-1]                              # all but the new section's heading
        if b.user[:len(head)] == head:
            shared += 1
    assert shared >= 0.7 * (len(writes) - 1)


def test_summary_in_prompt_replaces_the_text():
    backend, writer, job = _bounded()
    for i, s in enumerate(job.sections[:-1]):          # a finished book but for its last section
        s.text, s.status = f"In part {i} Mara walks to the place number {i}. " * 18, DONE
    writer.write(job)
    last = [p for p in backend.prompts if not _is_summary_prompt(p)][-1].text()
    ss, ws = writer._summary_start, writer._window_start
    assert 0 < ss < ws < len(job.sections) - 1
    for i, s in enumerate(job.sections[:-1]):
        if i < ss:                                      # dropped: neither text nor summary
            assert not s.summary and s.text not in last
        elif i < ws:                                    # carried as its summary
            assert s.summary and s.summary in last and s.text not in last
        else:                                           # the window: verbatim
            assert not s.summary and s.text.strip() in last


def test_user_written_summaries_are_kept():
    backend, writer, job = _bounded()
    for s in job.sections:
        s.summary = "Mara does what the outline says."
    writer.write(job)
    assert not any(_is_summary_prompt(p) for p in backend.prompts)
    assert {s.summary for s in job.sections} == {"Mara does what the outline says."}


def test_without_memory_old_sections_are_dropped_and_it_still_fits():
    backend, writer, job = _bounded(memory=False)
    writer.write(job)
    assert not any(s.summary for s in job.sections)
    assert max(backend.count_tokens(p.text()) for p in backend.prompts) < backend.info.n_ctx


def test_unfinished_sections_are_not_summarized():
    backend = ScriptedBackend(style="completion")
    memory = SectionSummarizer(backend)
    sections = [Section("a", 100, text=STORY, status=DONE), Section("b", 100, text=STORY, status=WRITING),
                Section("c", 100)]
    assert memory.ensure(sections, range(3)) == 1
    assert sections[0].summary and not sections[1].summary and not sections[2].summary


def test_clean_summary_cuts_leaks_and_length():
    assert clean_summary(" Mara finds a bottle.\n\nPart: Next\nText: more", 50) == "Mara finds a bottle."
    long = "Mara walks. " * 100
    assert count_words(clean_summary(long, 50)) <= 65
    assert clean_summary("ok", 50) == ""              # too short to be a summary
    fb = fallback_summary(STORY, 50)
    assert fb.startswith("Mara had kept") and "Petter" in fb and count_words(fb) <= 60


def test_a_summary_that_copies_the_prompt_example_is_replaced():
    from longhand.core.backends.base import Generation
    from longhand.core.engine.memory import EXAMPLE_SUMMARY, copies_example

    class Parrot(ScriptedBackend):           # what a small base model often does
        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            self.prompts.append(prompt)
            return Generation(" " + EXAMPLE_SUMMARY + "\n\n", "end", 10, 10, 20, 0.1)

    memory = SectionSummarizer(Parrot(style="completion"))
    summary = memory.summarize(Section("Mara finds a bottle", 150, text=STORY, status=DONE))
    assert summary == fallback_summary(STORY, memory.words)
    assert copies_example(EXAMPLE_SUMMARY, STORY)
    assert not copies_example("Mara finds a letter from Elin and wakes Petter.", STORY)
