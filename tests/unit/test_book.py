"""Unit: two-level AgentWrite (book -> chapters -> scenes) on a scripted backend."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest

from fakes import ScriptedBackend
from longhand.core.backends.base import Generation
from longhand.core.engine import book as B
from longhand.core.engine import book_model as BM
from longhand.core.engine import book_plan as BP
from longhand.core.engine import events as EV
from longhand.core.engine.codex import CodexEntry
from longhand.core.engine.plan import Section
from longhand.core.projects.project import Project
from longhand.core.text.health import sentences
from longhand.core.text.phrases import PhraseBook


def _w(i: int, k: int) -> str:
    """A made-up word of its own for chapter ``i`` and slot ``k`` (chapters share no word but
    their hero's name: the engine refuses chapters that retell others)."""
    n = i * 5 + k + 30
    return "".join("bdfgklmnprstvz"[(n // 14 ** j) % 14] + "aeiou"[(n // 7 ** j) % 5] for j in range(3)).capitalize()


def _point(call: int, k: int) -> str:
    """Scene ``k``'s main point in plan answer ``call``: every scene tells something of its own
    (the engine refuses a scene that retells one planned before)."""
    return f"In Lowmere Mara Voss does step {k}: {_w(50 + call, k)} {_w(70 + call, k)} {_w(90 + call, k)}"


class BookBackend(ScriptedBackend):
    """Answers plan requests with scripted plan lines; writes Lorem-ipsum prose otherwise."""

    def __init__(self, chapters: int = 40, scenes: int = 5, **kw) -> None:
        super().__init__(style="completion", **kw)
        self.chapter_lines = chapters
        self.scene_lines = scenes
        self.plan_calls = 0

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        t = prompt.text()
        m = re.search(r"Chapter (\d+) - Title:$", t)
        if m:
            k = int(m.group(1))
            lines = [f"Chapter {i} - Title: {_w(i, 1)} - Synopsis: Mara Voss meets {_w(i, 2)} at "
                     f"{_w(i, 3)} and sails to {_w(i, 4)} - Word Count: {2000 + 100 * (i % 3)} words"
                     for i in range(k, min(self.chapter_lines, k + 11) + 1)]
            return self._answer(prompt, "\n".join(lines)[len(f"Chapter {k} - Title:"):] + "\n\n", on_piece)
        m = re.search(r"Scene (\d+) - Main Point:$", t)
        if m:
            self.plan_calls += 1
            lines = [f"Scene {i} - Main Point: {_point(self.plan_calls, i)} "
                     f"- Word Count: {300 + 100 * i} words" for i in range(1, self.scene_lines + 1)]
            return self._answer(prompt, "\n".join(lines)[len("Scene 1 - Main Point:"):] + "\n\n"
                                if self.scene_lines else "\n\n", on_piece)
        return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                cancel=cancel, allow_end=allow_end)

    def _answer(self, prompt, text, on_piece):
        self.prompts.append(prompt)
        if on_piece:
            on_piece(text)
        return Generation(text, "end", 100, 10, len(text.split()), 0.01)


def _job(target=100_000) -> BM.BookJob:
    job = BM.BookJob(instruction=f"Write a {target}-word fantasy novel about a cartographer.", target_words=target)
    job.codex.add(CodexEntry("Mara Voss", "character", "A cartographer, 34.", aliases=["Mara"]))
    job.codex.add(CodexEntry("Lowmere", "place", "A drowned town of canals."))
    return job


def test_two_levels_above_the_threshold_or_when_chapters_are_asked_for():
    assert BM.wants_chapters("Write a story.", BM.BOOK_THRESHOLD)
    assert not BM.wants_chapters("Write a story.", 5000)
    assert BM.wants_chapters("Write a 5000-word story in five chapters.", 5000)
    assert not BM.wants_chapters("Write a 300-word chapter.", 300)


def test_book_plan_rolls_up_exactly_with_distinct_synopses():
    backend = BookBackend(chapters=40)
    w = B.BookWriter(backend)
    chapters = w.plan_book("Write a 100000-word fantasy novel.", 100_000)
    assert len(chapters) == BM.expected_chapters(100_000) == 40
    assert sum(c.target_words for c in chapters) == 100_000
    assert len({c.synopsis for c in chapters}) == 40
    # asked for a dozen lines at a time, continued from what was parsed
    assert sum(1 for p in backend.prompts if p.text().endswith("Title:")) == 4
    # each answer reported: the chapters asked for, the lines read, those kept
    rounds = []
    B.BookWriter(BookBackend(chapters=40)).plan_book("Write a 100000-word fantasy novel.", 100_000,
                                                    on_event=lambda e: rounds.append(e) if isinstance(
                                                        e, EV.BookPlanRound) else None)
    assert len(rounds) == 4
    assert sum(r.kept for r in rounds) == 40 and all(r.read >= r.distinct >= r.kept for r in rounds)
    assert [r.first for r in rounds] == [1, *(1 + sum(r.kept for r in rounds[:i]) for i in range(1, 4))]
    assert [r.planned for r in rounds][-1] == 40 and all(r.of == 40 for r in rounds)


def test_book_plan_falls_back_when_the_model_plans_nothing():
    w = B.BookWriter(BookBackend(chapters=0))
    chapters = w.plan_book("Write a 90000-word fantasy novel.", 90_000)
    assert len(chapters) == 36 and sum(c.target_words for c in chapters) == 90_000
    assert len({c.synopsis for c in chapters}) == 36
    assert all(c.plan_how == "fallback" for c in chapters)


def test_the_fallback_plan_tells_a_beat_of_its_own_in_every_chapter():
    # the arc's stage with an "angle" added shared 0.86 of its words with the next chapter:
    # the fallback broke the rule the engine applies to a model's chapters
    for words in (30_000, 90_000, 100_000, 135_000):
        chapters = BP.fallback_chapters("Write a novel about a cartographer.", words)
        keys = [BP.chapter_keys(c.title, c.synopsis) for c in chapters]
        worst = max(BP.synopsis_overlap(a, b) for a, b in itertools.combinations(keys, 2))
        assert worst < BP.REPEAT_OVERLAP, (words, worst)
        assert len({c.title for c in chapters}) == len(chapters)
        assert sum(c.target_words for c in chapters) == words
    # the arc is kept in order: a 12-chapter book opens on its first beat and closes on its last
    twelve = BP.fallback_chapters("Write a novel.", 30_000)
    assert twelve[0].title == "An Ordinary Day" and twelve[-1].title == "Last Light"


def _part_line(i: int) -> str:
    return f"Part {i} - Title: The {_w(200 + i, 1)} Road - Synopsis: Mara Voss reaches {_w(200 + i, 2)} and {_w(200 + i, 3)}"


class PartsPlanner(ScriptedBackend):
    """A chat model that outlines a story in the parts asked for, then plans each part's
    chapters; ``retells``: parts whose chapters it only ever copies from part 1."""

    def __init__(self, retells=()) -> None:
        super().__init__(style="chat")
        self.retells = set(retells)
        self.echo: tuple[str, str] | None = None     # a written chapter the outline tells again
        self.parts: dict[str, int] = {}

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        self.prompts.append(prompt)
        user = "".join(prompt.user)
        if user.startswith("Outline the") or "Outline what happens next" in user:
            p = int(re.search(r"in (\d+) parts", user).group(1))
            rest = 0 if user.startswith("Outline the") else 50     # (the rest of a story: other parts)
            lines = [_part_line(i + rest) for i in range(1, p + 1)]
            if self.echo:
                lines.insert(0, f"Part 1 - Title: {self.echo[0]} - Synopsis: {self.echo[1]}")
            text = "\n".join(lines) + "\n\n"
        else:
            a, b = (int(x) for x in re.search(r"Now plan chapters (\d+) to (\d+) of", user).groups())
            part, title = re.search(r'The story, part (\d+) of \d+: "([^"]+)"', user).groups()
            # (a chapter's words follow its part's title: parts told in the order first seen)
            src = self.parts.setdefault(title, len(self.parts) + 1)
            if int(part) in self.retells:
                src = 1
            # (a chapter's words follow its place in its part of four chapters)
            text = "\n".join(f"Chapter {k} - Title: The {_w(src * 10 + j, 4)} Gate - Synopsis: Mara Voss meets "
                             f"{_w(src * 10 + j, 1)} in {_w(src * 10 + j, 2)} and learns of the {_w(src * 10 + j, 3)} "
                             f"- Word Count: 2500 words" for j, k in (((k - 1) % 4, k) for k in range(a, b + 1))) + "\n\n"
        if on_piece:
            on_piece(text)
        return Generation(text=text, finish="end", prompt_tokens=1, generated_tokens=1, seconds=0.0,
                          prompt_tokens_evaluated=1)


def test_a_long_books_chat_plan_is_outlined_in_parts_then_planned_part_by_part():
    # asked for chapters 1 to 12 of 36, the instruct model told its whole story in them, then
    # copied chapters 2 to 4 for twenty answers: a long book's story is outlined in parts first
    backend = PartsPlanner()
    w = B.BookWriter(backend)
    chapters = w.plan_book("Write a 90000-word fantasy novel about a cartographer.", 90_000)
    users = ["".join(p.user) for p in backend.prompts]
    assert users[0].startswith("Outline the story of the following novel in 9 parts")
    asks = [(re.search(r"Now plan chapters (\d+ to \d+) of 36", u).group(1),
             re.search(r"The story, part (\d+) of 9", u).group(1)) for u in users[1:]]
    assert asks == [(f"{4 * i + 1} to {4 * i + 4}", str(i + 1)) for i in range(9)]
    # every ask shows its part and its neighbours' names, not the whole outline (the instruct
    # model made chapters out of the outline's lines); the last one ends the book
    title = [_part_line(i).split(" - Title: ")[1].split(" - ")[0] for i in range(1, 10)]
    for i, u in enumerate(users[1:]):
        shown = {j for j in range(9) if title[j] in u}
        assert shown == {j for j in (i - 1, i, i + 1) if 0 <= j < 9}, (i, shown)
    assert f'up to part 2 ("{title[1]}")' in users[1] and f'("{title[7]}") to the end of the story' in users[-1]
    # a part's answer is started afresh: the chapters of earlier parts are not in it to copy
    assert all(not p.answer for p in backend.prompts)
    assert len(chapters) == 36 and sum(c.target_words for c in chapters) == 90_000
    assert len({c.title for c in chapters}) == 36


def test_a_part_the_model_only_retells_is_given_up_and_the_plan_goes_on():
    backend = PartsPlanner(retells={3})
    w = B.BookWriter(backend)
    chapters = w.plan_book("Write a 90000-word fantasy novel about a cartographer.", 90_000)
    parts = [int(re.search(r"The story, part (\d+) of", "".join(p.user)).group(1)) for p in backend.prompts[1:]]
    # part 3's answers retold part 1 and were refused three times; then part 4 was asked for
    assert parts == [1, 2, 3, 3, 3, 4, 5, 6, 7, 8, 9]
    assert len(chapters) == 32 and sum(c.target_words for c in chapters) == 90_000
    assert all(c.plan_how != "fallback" for c in chapters)
    keys = [BP.chapter_keys(c.title, c.synopsis) for c in chapters]
    assert max(BP.synopsis_overlap(a, b) for a, b in itertools.combinations(keys, 2)) < BP.REPEAT_OVERLAP


def test_replan_book_keeps_locked_chapters_and_written_ones():
    w = B.BookWriter(BookBackend(chapters=40))
    job = _job(20_000)
    job.chapters = w.plan_book(job.instruction, job.target_words)
    job.chapters[2].locked = True
    job.chapters[2].title = "My own chapter"
    w.plan_chapter(job, 0)
    job.sections[0].text = "Written by hand."
    kept0 = job.chapters[0]
    w.replan_book(job)
    assert job.chapters[2].title == "My own chapter" and job.chapters[0] is kept0
    assert job.sections[0].text == "Written by hand." and job.sections[0].chapter == 0
    assert sum(c.target_words for c in job.chapters) == 20_000


def _with_opening(backend, target: int, chapters: int):
    """(writer, job, the written chapters): the book planned on ``backend``, its first
    ``chapters`` chapters given a written scene each."""
    w = B.BookWriter(backend)
    job = _job(target)
    job.chapters = w.plan_book(job.instruction, job.target_words)
    for c in range(chapters):
        BM.add_scene(job, c, 0, f"Mara Voss opens chapter {c + 1}").text = f"Chapter {c + 1} as written."
    return w, job, job.chapters[:chapters]


def test_a_book_replanned_after_its_first_chapters_goes_on_from_them():
    # re-planned after chapters were written, the book planned its story again from the start
    # and put it after them (the instruct model's 100,000-word book, 4 chapters written)
    backend = BookBackend(chapters=40)
    w, job, written = _with_opening(backend, 20_000, 2)
    job.chapters[1].synopsis = "Mara Voss burns the drowned map of Lowmere."
    backend.prompts.clear()
    w.replan_book(job)
    answer = "".join(backend.prompts[0].answer)
    # the new plan is continued after the written chapters' lines, from chapter 3 on
    assert answer.startswith(f"Chapter 1 - Title: {written[0].title} - Synopsis: {written[0].synopsis}")
    assert "Chapter 2 - Title: " in answer and "burns the drowned map of Lowmere" in answer
    assert answer.endswith("Chapter 3 - Title:")
    assert job.chapters[:2] == written and len(job.chapters) == BM.expected_chapters(20_000)
    assert [job.sections[i].text for i in BM.chapter_scenes(job, 1)] == ["Chapter 2 as written."]
    assert sum(c.target_words for c in job.chapters) == 20_000


def test_a_long_chat_book_replanned_outlines_the_rest_of_its_story_after_the_written_chapters():
    # re-planned with its first chapters written, a long book's story was outlined again from
    # the start, without them: its new parts could tell again what they had told
    backend = PartsPlanner()
    w, job, written = _with_opening(backend, 90_000, 6)
    for c, ch in enumerate(written):
        ch.summary = f"Mara Voss crossed the {_w(300 + c, 1)} fen and lost the {_w(300 + c, 2)} compass."
    # (the instruct model gave written chapters back as parts: a part taking most of its words
    # from one chapter's summary, under another title, is a copy)
    backend.echo = ("The Long Way Round", written[4].summary)
    backend.prompts.clear()
    w.replan_book(job)
    users = ["".join(p.user) for p in backend.prompts]
    # the outline is of the rest of the story (30 chapters in 8 parts), after where the last
    # written chapters leave it (their summaries as prose, not a list to copy)
    assert users[0].startswith("Here is where a novel stands after its first 6 chapters:\n"
                               + " ".join(ch.summary for ch in written[3:]) + "\n\n")
    assert "Outline what happens next in the novel, from here to its end, in 8 parts." in users[0]
    assert written[2].summary not in users[0]
    asks = [re.search(r"Now plan chapters (\d+ to \d+) of 36", u).group(1) for u in users if "Now plan" in u]
    assert asks == ["7 to 9", "10 to 13", "14 to 17", "18 to 21", "22 to 24", "25 to 28", "29 to 32", "33 to 36"]
    # the part that told chapter 5 again is left out: part 1 is the outline's next line
    title = [_part_line(i + 50).split(" - Title: ")[1].split(" - ")[0] for i in range(1, 9)]
    first = next(u for u in users if "Now plan chapters 7 to 9" in u)
    assert f'The story, part 1 of 8: "{title[0]}"' in first and written[4].summary not in first
    assert f'from where chapter 6 ("{written[5].title}") leaves the story up to part 2 ("{title[1]}")' in first
    assert job.chapters[:6] == written and len(job.chapters) == 36
    assert sum(c.target_words for c in job.chapters) == 90_000


def test_chapter_plan_rolls_up_keeps_locked_scenes_and_old_text():
    backend = BookBackend()
    w = B.BookWriter(backend)
    job = _job(20_000)
    job.chapters = w.plan_book(job.instruction, job.target_words)
    idx = w.plan_chapter(job, 1)
    ch = job.chapters[1]
    assert sum(job.sections[i].target_words for i in idx) == ch.target_words
    assert all(BM.MIN_SCENE_WORDS <= job.sections[i].target_words <= BM.MAX_SCENE_WORDS for i in idx)
    assert all(job.sections[i].chapter == 1 for i in idx)
    # lock scene 2 (with the user's target), write scene 1, plan again
    job.sections[idx[1]].locked = True
    job.sections[idx[1]].target_words = 777
    job.sections[idx[0]].text = "An old draft."
    idx2 = w.plan_chapter(job, 1)
    assert job.sections[idx2[1]].locked and job.sections[idx2[1]].target_words == 777
    assert sum(job.sections[i].target_words for i in idx2) == ch.target_words
    assert "An old draft." in job.sections[idx2[0]].takes


def test_a_chapter_planned_into_nothing_gets_a_sensible_split():
    w = B.BookWriter(BookBackend(scenes=0))
    job = _job(20_000)
    job.chapters = w.plan_book(job.instruction, job.target_words)
    idx = w.plan_chapter(job, 0)
    assert job.chapters[0].plan_how == "fallback"
    assert len(idx) == BM.expected_scenes(job.chapters[0].target_words)
    assert sum(job.sections[i].target_words for i in idx) == job.chapters[0].target_words
    points = [job.sections[i].main_point for i in idx]
    assert points[0].startswith("Opening of the chapter") and points[-1].startswith("End of the chapter")
    assert len(set(points)) == len(points)


def test_edited_totals_are_reported_not_rescaled():
    w = B.BookWriter(BookBackend())
    job = _job(20_000)
    job.chapters = w.plan_book(job.instruction, job.target_words)
    w.plan_chapter(job, 0)
    assert BM.check_totals(job) == []
    job.chapters[3].target_words += 500
    first = BM.chapter_scenes(job, 0)[0]
    job.sections[first].target_words -= 100
    problems = BM.check_totals(job)
    assert len(problems) == 2 and "+500" in problems[0] and "Chapter 1" in problems[1] and "-100" in problems[1]
    assert job.chapters[3].target_words == 2500 + 500 or job.chapters[3].target_words > 2000   # untouched


def test_structure_edits_keep_chapter_indexes_consistent():
    w = B.BookWriter(BookBackend())
    job = _job(20_000)
    job.chapters = w.plan_book(job.instruction, job.target_words)
    for c in range(3):
        w.plan_chapter(job, c)
    titles = [c.title for c in job.chapters]
    first_of = {c: job.sections[BM.chapter_scenes(job, c)[0]] for c in range(3)}
    BM.move_chapter(job, 0, 2)
    assert [c.title for c in job.chapters][:3] == [titles[1], titles[2], titles[0]]
    assert job.sections[BM.chapter_scenes(job, 2)[0]] is first_of[0]
    assert [s.chapter for s in job.sections] == sorted(s.chapter for s in job.sections)
    BM.add_chapter(job, 1, "Interlude", "A pause.", 1000)
    assert job.chapters[1].title == "Interlude" and BM.chapter_scenes(job, 1) == []
    assert job.sections[BM.chapter_scenes(job, 3)[0]] is first_of[0]
    n = len(BM.chapter_scenes(job, 0))
    BM.add_scene(job, 0, 1, "A new scene in the middle", 300)
    assert job.sections[BM.chapter_scenes(job, 0)[1]].main_point == "A new scene in the middle"
    BM.move_scene(job, BM.chapter_scenes(job, 0)[1], 0)
    assert job.sections[BM.chapter_scenes(job, 0)[0]].main_point == "A new scene in the middle"
    BM.delete_scene(job, BM.chapter_scenes(job, 0)[0])
    assert len(BM.chapter_scenes(job, 0)) == n
    BM.delete_chapter(job, 1)
    assert job.sections[BM.chapter_scenes(job, 2)[0]] is first_of[0]


def test_write_book_prefix_sharing_summaries_codex_and_resume(tmp_path):
    backend = BookBackend()
    w = B.BookWriter(backend)
    job = Project(instruction="Write a 20000-word fantasy novel about Mara Voss.", target_words=20_000)
    job.codex.add(CodexEntry("Mara Voss", "character", "A cartographer, 34.", aliases=["Mara"]))
    job.codex.add(CodexEntry("Lowmere", "place", "A drowned town of canals."))
    job.chapters = w.plan_book(job.instruction, job.target_words)
    events = []
    stats = w.write_book(job, chapters=[0, 1], on_event=events.append)
    assert BM.chapter_status(job, 0) == BM.chapter_status(job, 1) == "done"
    assert BM.chapter_status(job, 2) == "unplanned"
    assert stats.words == job.words > 0
    # consecutive scene prompts of a chapter share their whole prefix
    writes = [p for p in backend.prompts if "### " in p.text() and not p.text().rstrip().endswith(":")]
    same_chapter = [(a, b) for a, b in zip(writes, writes[1:])
                    if a.text().split("## Chapter ")[-1][:2] == b.text().split("## Chapter ")[-1][:2]
                    and not a.answer and not b.answer]
    assert same_chapter and all(b.text().startswith(a.text()) for a, b in same_chapter)
    # summaries written, codex used by every scene (both names are in each plan line)
    assert job.chapters[0].summary and job.chapters[1].summary
    assert all(set(s.codex_used) >= {"Mara Voss", "Lowmere"} for s in job.sections)
    done = [e for e in events if isinstance(e, EV.ChapterDone)]
    assert [e.chapter for e in done] == [0, 1]
    # the user edits chapter 1's summary; it is never replaced
    BM.set_chapter_summary(job, 0, "My summary of chapter one.")
    for k, i in enumerate(BM.chapter_scenes(job, 0)):      # mark chapter one's text
        job.sections[i].text = f"Chapter-one-scene-{k} marker. " + job.sections[i].text
    job.path = tmp_path / "novel.longhand"
    job.save()
    again = Project.load(job.path)
    assert again.chapters == job.chapters and again.codex == job.codex and again.sections == job.sections
    backend2 = BookBackend()
    w2 = B.BookWriter(backend2)
    w2.write_book(again, chapters=[2])
    assert again.chapters[0].summary == "My summary of chapter one." and again.chapters[0].summary_edited
    # resuming reads no earlier chapter's text: only the book plan, summaries and codex
    assert backend2.prompts and all("Chapter-one-scene" not in p.text() for p in backend2.prompts)
    assert any("My summary of chapter one." in p.text() for p in backend2.prompts)


def test_interrupted_scene_continues_after_reload(tmp_path):
    from longhand.core.errors import CancelToken
    backend = BookBackend(delay=0.0)
    w = B.BookWriter(backend)
    job = Project(instruction="Write a 20000-word novel.", target_words=20_000)
    job.chapters = w.plan_book(job.instruction, job.target_words)
    cancel = CancelToken()
    seen = {"n": 0}

    def on_event(e):
        if type(e).__name__ == "SectionToken":
            seen["n"] += 1
            if seen["n"] == 120:
                cancel.cancel()

    w.write_book(job, on_event=on_event, cancel=cancel)
    writing = [s for s in job.sections if s.status == "writing"]
    assert len(writing) == 1 and writing[0].text
    before = writing[0].text
    w.write_book(job, max_scenes=1)
    assert writing[0].status == "done" and writing[0].text.startswith(before[:50])


def test_prompts_fit_the_context_late_in_a_long_book():
    """40 chapters with long summaries at a 6,000-token context: the story so far is cut
    (oldest first, in big steps) and every prompt fits."""
    backend = BookBackend(chapters=40)
    backend.info.n_ctx = 6000
    w = B.BookWriter(backend)
    job = _job(100_000)
    job.chapters = w.plan_book(job.instruction, job.target_words)
    for ch in job.chapters[:30]:
        ch.summary = "Something happened to Mara in this chapter, and it mattered. " * 6   # ~60 words
    w.write_book(job, chapters=[30], max_scenes=2)
    texts = [p.text() for p in backend.prompts]
    assert max(len(t.split()) for t in texts) < 6000 * 0.9
    last = texts[-1]
    assert "Chapter 30 (" in last and "Chapter 1 (" not in last      # the newest summaries stay
    assert w._summaries_from(job, 30) > 0 and job.chapters[30].summaries_from > 0


def test_a_reopened_long_book_carries_the_story_so_far_from_where_it_did():
    """Late in a long book the oldest summaries are dropped, and where the story so far starts
    only moves on. A job reopened in chapter 31 (a new writer) started from the first summary
    again: its prompt was not the one its saved prompt cache held (the instruct model's novel,
    resumed, evaluated 2,645 tokens again)."""
    backend = BookBackend(chapters=40)
    backend.info.n_ctx = 6000
    w = B.BookWriter(backend)
    job = Project(instruction=_job().instruction, target_words=100_000)
    job.codex = _job().codex
    job.chapters = w.plan_book(job.instruction, job.target_words)
    for k, ch in enumerate(job.chapters[:30]):
        ch.summary = f"Something happened to Mara in chapter {k + 1}, and it mattered. " * (6 if k < 29 else 2)
    w.write_book(job, chapters=[29], max_scenes=1)
    job.chapters[29].summary = "Mara found the mill wheel turning backwards. " * 2
    w.write_book(job, chapters=[30], max_scenes=1)
    written = backend.prompts[-1]
    idx = BM.chapter_scenes(job, 30)
    sec = job.sections[idx[0]]
    assert sec.status == "done" and job.chapters[30].summaries_from > 0
    # a fresh writer works out a window of its own: the story so far starts elsewhere
    fresh = B.BookWriter(backend)
    fresh_job = Project.from_dict(job.to_dict())
    for ch in fresh_job.chapters:
        ch.summaries_from = 0
    assert fresh.section_prompt(fresh_job, idx[0]).text() != written.text()
    # reopened, the job builds the very prompt it wrote the scene with
    reopened = B.BookWriter(backend)
    assert reopened.section_prompt(Project.from_dict(job.to_dict()), idx[0]).text() == written.text()
    # chapters renumbered: worked out again
    BM.move_chapter(job, 30, 0)
    assert all(ch.summaries_from == 0 for ch in job.chapters)


def test_a_chapter_given_more_scenes_keeps_where_its_story_so_far_starts():
    """A chapter short of its target gets scenes added, and its text's share of the context
    is worked out again; the story so far it carries stays as it was (moved, every later
    prompt of the chapter was evaluated again from there: 2,239 tokens, 120 s, for the
    instruct model's chapter 11 and its tenth scene)."""
    backend = ChatBookBackend()
    backend.info.n_ctx = 6000
    w = B.BookWriter(backend)
    job = _mara_job()
    job.chapters = [BM.Chapter(f"The Wall {k}", f"Mara walks the wall, night {k}.", 2500) for k in range(40)]
    for k, ch in enumerate(job.chapters[:30]):
        ch.summary = f"Something happened to Mara in chapter {k + 1}, and it mattered. " * 3
    w.write_book(job, chapters=[30], max_scenes=1)
    start = w._windows[30][0]
    assert 0 < start < 30
    before = backend.prompts[-1]
    # scenes added at the end of the chapter (as a top-up adds them), the window worked out again
    for k in range(6):
        BM.add_scene(job, 30, len(BM.chapter_scenes(job, 30)), f"Mara Voss walks the wall, step {k}.", 300)
    w._windows.pop(30, None)
    idx = BM.chapter_scenes(job, 30)
    after = w.section_prompt(job, idx[1])
    assert w._windows[30][0] == start and after.user[:len(before.user)] == before.user[:len(after.user)]
    assert "".join(after.user).startswith("".join(before.user))
    # a chapter not under way yet is fitted afresh: with that many scenes, fewer summaries
    fresh = B.BookWriter(backend)
    again = Project.from_dict(job.to_dict())
    for i in idx:
        again.sections[i].text, again.sections[i].status = "", "planned"
    for ch in again.chapters:
        ch.summaries_from = 0
    fresh.section_prompt(again, idx[0])
    assert fresh._windows[30][0] > start


def test_near_copies_of_an_earlier_chapter_are_dropped():
    items = [BP.ParsedChapter("A", "Nell finds a diary in the flour sack at dawn", 3000),
             BP.ParsedChapter("B", "Nell finds a diary in the flour sack at night", 3000),
             BP.ParsedChapter("C", "The miller lies and his mill burns", 3000)]
    assert [p.title for p in BP.dedupe_chapters(items)] == ["A", "C"]


def test_measured_prompts_leave_room_when_text_takes_many_tokens_per_word():
    """A model that runs words together writes ~4 tokens a word: the prompt is measured and
    earlier text dropped, so a long chapter never overflows the context."""
    class Dense(BookBackend):
        def count_tokens(self, text):
            return sum(4 if w.startswith(("Lorem", "ipsum")) or w.istitle() is False else 1 for w in text.split())
    backend = Dense(chapters=40)
    backend.info.n_ctx = 9000
    w = B.BookWriter(backend)
    job = _job(100_000)
    job.chapters = w.plan_book(job.instruction, job.target_words)
    w.write_book(job, chapters=[0])
    assert BM.chapter_status(job, 0) == "done"
    writes = [p for p in backend.prompts if "### " in p.text()]
    assert max(backend.count_tokens(p.text()) for p in writes) <= 9000 - 64


def test_chapters_that_retell_others_are_refused_by_word_overlap_not_string_identity():
    # the instruct model's 90,000-word plan on record: distinct strings, repeated chapters
    lines = [
        "Chapter 1 - Title: The Lost Map - Synopsis: Mara finds a map in her father's desk that shows a drowned city - Word Count: 3000 words",
        "Chapter 2 - Title: The Shadow of the Atlantian - Synopsis: Mara's son faces a dark entity in the ruins of the drowned city - Word Count: 3000 words",
        "Chapter 3 - Title: The Shadow of the Atlantian Revisited - Synopsis: Mara's son faces a dark entity once again in the drowned city ruins - Word Count: 3000 words",
        "Chapter 4 - Title: The End - Synopsis: The city rises and Mara burns the map - Word Count: 3000 words",
        "Chapter 5 - Title: The End - Synopsis: A new age begins for the people of the coast - Word Count: 3000 words",
        "Chapter 6 - Title: A Harbour in Winter - Synopsis: Oren sails north with the last copy of the chart - Word Count: 3000 words",
    ]
    kept = BP.dedupe_chapters(BP.parse_chapters("\n".join(lines)))
    assert [c.title for c in kept] == ["The Lost Map", "The Shadow of the Atlantian", "The End",
                                       "A Harbour in Winter"]
    a = BP.chapter_keys("The Shadow of the Atlantian", "Mara's son faces a dark entity in the ruins of the drowned city")
    b = BP.chapter_keys("The Shadow of the Atlantian Revisited", "Mara's son faces a dark entity once again in the drowned city ruins")
    assert BP.synopsis_overlap(a, b) >= BP.REPEAT_OVERLAP
    c = BP.chapter_keys("A Harbour in Winter", "Oren sails north with the last copy of the chart")
    assert BP.synopsis_overlap(a, c) < 0.2


class ChatBookBackend(BookBackend):
    """A chat model: answers the chat scene-plan request with titled scene lines."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.info.prompt_style = "chat"

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        last = prompt.turns[-1][1] if prompt.turns else ""
        if "Break chapter" in "".join(prompt.user) or "Plan one more scene" in last:
            self.plan_calls += 1
            first = "".join(prompt.answer).count("Scene ") + 1     # a plan continued after its scenes
            if "Plan one more scene" in last:                      # a top-up: the scene asked for
                first = int(re.search(r"Scene (\d+) - Title", last).group(1))
            lines = [f"Scene {i} - Title: The {_w(0, i)} Crossing - Main Point: {_point(self.plan_calls, i)} "
                     f"- Word Count: {300 + 100 * i} words" for i in range(first, first + 3)]
            return self._answer(prompt, "\n".join(lines) + "\n\n", on_piece)
        return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                cancel=cancel, allow_end=allow_end)


class RecordingChatBook(ChatBookBackend):
    """A chat model that keeps every call's prompt and sampling (``recorded``)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.recorded: list = []

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        self.recorded.append((prompt, sampling))
        return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                cancel=cancel, allow_end=allow_end)


def _mara_job() -> Project:
    """A two-chapter book, chapter 1 to be planned and written."""
    job = Project(instruction="Write a 20000-word fantasy novel about Mara Voss.", target_words=20_000)
    job.chapters = [BM.Chapter("The Map", "Mara draws a map of the sea wall.", 1200),
                    BM.Chapter("The Flood", "The sea wall moves.", 1200)]
    return job


def _stream(pieces: list[str], on_piece) -> Generation:
    """A scripted answer streamed piece by piece, stopped where the engine says so."""
    out = []
    for piece in pieces:
        out.append(piece)
        if on_piece and on_piece(piece).stop:
            return Generation("".join(out), "stop", 100, 10, len(out), 0.01)
    return Generation("".join(out), "end", 100, 10, len(out), 0.01)


class GoesOnWith(ChatBookBackend):
    """A chat model that answers each ask to go on with a scene with ``go_on(said)``, ``said``
    being the answer before the ask (streamed word by word, stopped where the engine says so)."""

    def go_on(self, said: str) -> str:
        raise NotImplementedError

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        if prompt.turns and prompt.turns[-1][1].startswith("Go on with scene"):
            self.prompts.append(prompt)
            return _stream([" " + word for word in self.go_on(prompt.turns[-1][0][-1]).split(" ")], on_piece)
        return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                cancel=cancel, allow_end=allow_end)


class WillNotGoOn(ChatBookBackend):
    """A chat model that answers an ask to go on with a scene with nothing."""

    def generate(self, prompt, **kw):
        if prompt.turns and prompt.turns[-1][1].startswith("Go on with scene"):
            self.prompts.append(prompt)
            return Generation("", "end", 100, 10, 0, 0.01)
        return super().generate(prompt, **kw)


def test_a_chat_models_scenes_have_titles_and_their_notes_stay_in_the_request():
    backend = ChatBookBackend()
    w = B.BookWriter(backend)
    job = Project(instruction="Write a 20000-word fantasy novel about Mara Voss.", target_words=20_000)
    job.codex.add(CodexEntry("Mara Voss", "character", "A cartographer, 34.", aliases=["Mara"]))
    job.codex.add(CodexEntry("Lowmere", "place", "A drowned town of canals."))
    job.chapters = [BM.Chapter("The Map", "Mara draws a map of the sea wall.", 1200),
                    BM.Chapter("The Flood", "The sea wall moves.", 1200)]
    w.write_book(job, chapters=[0])
    idx = BM.chapter_scenes(job, 0)
    # the scene plan asked for titles, and the headings are those titles, not cut main points
    assert [job.sections[i].heading for i in idx] == [f"The {_w(0, i)} Crossing" for i in (1, 2, 3)]
    writes = [p for p in backend.prompts if "Break chapter" not in "".join(p.user)][:3]
    assert len(writes) == 3
    for k, p in enumerate(writes):
        # one scene per answer: the scene's own ask is the last message, its heading opens the
        # answer; its notes (Lowmere is in no chapter synopsis: a scene's own note) are in the
        # ask, never in the model's own answer, where it would take them for text to go on with
        ask = p.turns[-1][1] if p.turns else p.user[-1]
        assert len(p.turns) == k and ask.startswith(f'Write scene {k + 1} of chapter 1 now: "The {_w(0, k + 1)}')
        # (given once: the later asks follow it in the same conversation)
        assert ("Notes: " in ask and "Lowmere" in ask) == (k == 0)
        assert "Notes" not in "".join(p.answer) and p.answer[0] == f"### {k + 1}. The {_w(0, k + 1)} Crossing\n\n"
        # the next scene's events are named, not to be told yet; the last scene's: the next chapter's
        assert ("step 2" if k == 0 else "step 3" if k == 1 else "The sea wall moves") in ask
    # each scene's prompt is the one before it, its answer (the scene written) and a new ask:
    # the conversation only grows, the cached prefix holds
    for a, b in zip(writes, writes[1:]):
        assert b.user == a.user and b.system == a.system and b.turns[:-1] == a.turns
        said = b.turns[-1][0]
        assert said[0] == a.answer[0] and said[1] in job.sections[BM.chapter_scenes(job, 0)[len(a.turns)]].text


def test_a_scene_whose_answer_ends_short_is_asked_to_go_on_in_a_new_message():
    # a chat model that ends each answer after 150 words (the instruct model wrote 200-350
    # words a scene, whatever the scene's target)
    backend = ChatBookBackend(wants_end_after=150)
    w = B.BookWriter(backend)
    job = _mara_job()
    w.write_book(job, chapters=[0])
    idx = BM.chapter_scenes(job, 0)
    scenes = [job.sections[i] for i in idx]
    # every scene reached its target in several answers; where each later answer began is kept
    assert len(scenes) == 3 and all(s.words >= 0.85 * s.target_words for s in scenes)
    assert all(len(s.parts) >= 1 and all(0 < p < len(s.text) for p in s.parts) for s in scenes)
    assert BM.chapter_words(job, 0) >= 0.92 * 1200 and not any(s.needs_attention for s in scenes)
    writes = [p for p in backend.prompts if "Break chapter" not in "".join(p.user)]
    go_on = [p for p in writes if p.turns and p.turns[-1][1].startswith("Go on with scene") and not p.answer]
    assert len(go_on) == sum(len(s.parts) for s in scenes)
    # (the summary is asked for after the last answer of the last scene)
    assert writes[-1].turns[-1][1].startswith("Chapter 1 ends here. Sum it up") and not writes[-1].answer
    assert writes[-1].turns[-2][1].startswith("Go on with scene 3")
    # each prompt is the one before it, the answer it got and one new message: the cache holds
    for a, b in zip(writes, writes[1:-1]):
        assert b.user == a.user and b.turns[:-1] == a.turns
        said = b.turns[-1][0]
        assert said[:len(a.answer)] == a.answer and said[-1].strip() and said[-1] in job.sections[idx[0]].text + \
            job.sections[idx[1]].text + job.sections[idx[2]].text
    # the ask to go on names the scene and what it still lacks, not the next scene's events
    first = go_on[0].turns[-1][1]
    assert first.startswith('Go on with scene 1, "The ' + _w(0, 1) + ' Crossing"') and "step 2" not in first
    assert f"about {scenes[0].target_words - len(go_on[0].turns[-1][0][1].split())} more words" in first
    # the next scene's prompt replays scene 1 as the answers it was written in
    second = next(p for p in writes if p.turns and p.turns[-1][1].startswith("Write scene 2"))
    replay = second.turns[-(len(scenes[0].parts) + 1):]
    assert [t[1][:len("Go on with scene 1")] for t in replay[:-1]] == ["Go on with scene 1"] * len(scenes[0].parts)
    assert "\n\n".join(seg for t in replay for seg in t[0][1 if t is replay[0] else 0:]) == scenes[0].text.strip()


def test_a_chapter_whose_scenes_end_short_gets_more_scenes_when_the_model_will_not_go_on():
    backend = WillNotGoOn(wants_end_after=150)
    w = B.BookWriter(backend)
    job = _mara_job()
    assert w.scene_words(job) == BM.DEFAULT_SCENE_WORDS
    events = []
    w.write_book(job, chapters=[0], on_event=events.append)
    idx = BM.chapter_scenes(job, 0)
    # three planned scenes fell short (closed by the model, which would not go on: scenes, not
    # failures); scenes planned after them (titled, new main points) brought the chapter onto
    # its target
    assert [e.how for e in events if isinstance(e, EV.ChapterPlanned)][1:] == ["top-up"] * (len(idx) - 3)
    assert len(idx) > 3 and job.sections[idx[3]].heading == f"The {_w(0, 4)} Crossing"
    assert BM.chapter_words(job, 0) >= 0.92 * 1200
    assert not any(job.sections[i].needs_attention or job.sections[i].parts for i in idx[:3])
    # each was asked to go on twice (another seed the second time), then left as it was
    asked = [p.turns[-1][1][:len("Go on with scene 1")] for p in backend.prompts
             if p.turns and p.turns[-1][1].startswith("Go on") and not p.answer]
    assert asked[:6] == ["Go on with scene 1"] * 2 + ["Go on with scene 2"] * 2 + ["Go on with scene 3"] * 2
    # a top-up is asked to stay inside the chapter, before what the next one tells
    top_ups = [p for p in backend.prompts if p.turns and "Plan one more scene" in p.turns[-1][1]]
    assert len(top_ups) == len(idx) - 3
    for p in top_ups:
        # asked at the end of the chapter's conversation, after every scene written so far
        ask = p.turns[-1][1]
        assert "does not end the book" in ask and "stops before the events of chapter 2" in ask
        assert "The sea wall moves" not in ask      # (a small model plans what it is shown)
        shown = [int(t[0][0][len("### "):].split(".")[0]) for t in p.turns]
        assert shown == list(range(shown[0], shown[0] + len(shown))) and f"Scene {shown[-1] + 1} - Title" in ask
    # (a scene's shortfall is not carried to the next scene; the scenes that ended short gave
    # the added ones their targets, the latest first, down to their words: the chapter adds up)
    assert sum(job.sections[i].target_words for i in idx) == 1200
    assert not [p for p in BM.check_totals(job) if p.startswith("Chapter 1")]
    assert all(job.sections[i].target_words >= job.sections[i].words for i in idx[:-1])
    assert job.sections[idx[-2]].target_words == job.sections[idx[-2]].words
    # the next chapter is planned in scenes of the length this model writes
    assert BM.MIN_SCENE_WORDS <= w.scene_words(job) < BM.DEFAULT_SCENE_WORDS
    # a base model is kept going to its targets: scenes keep the default length
    assert B.BookWriter(BookBackend()).scene_words(job) == BM.DEFAULT_SCENE_WORDS


def test_an_ending_or_back_matter_before_the_last_chapter_is_refused_and_the_plan_goes_on():
    # the instruct model's 30,000-word plan: "The End" as chapter 7 of 12, then appendices
    assert BP.not_a_chapter("Appendix A", last=True) and BP.not_a_chapter("**Glossary of Places**", last=False)
    assert BP.not_a_chapter("The End", last=False) and not BP.not_a_chapter("The End", last=True)
    assert BP.not_a_chapter("Epilogue: The Tide", last=False) and not BP.not_a_chapter("Epilogue: The Tide", last=True)
    assert not BP.not_a_chapter("The End of the Road", last=False)
    assert BP.not_a_chapter("Index", last=False) and not BP.not_a_chapter("Index Cards and Ink", last=False)

    def line(k: int, title: str) -> str:
        return (f"Chapter {k} - Title: {title} - Synopsis: Ilse Marren meets {_w(k, 1)} in {_w(k, 2)} "
                f"and learns of the {_w(k, 3)} - Word Count: 2500 words")

    class Planner(ScriptedBackend):
        """Plans the chapters asked for; the first time it reaches chapter 7 it ends the story
        there and adds an appendix."""
        ended = False

        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            self.prompts.append(prompt)
            a, b = (int(x) for x in re.search(r"Now plan chapters (\d+) to (\d+) of 12", prompt.user[0]).groups())
            titles = {k: f"The {_w(k, 5)} Tide" for k in range(a, b + 1)}
            if 7 in titles and not self.ended:
                self.ended = True
                titles[7], titles[8] = "The End", "Appendix A"
            text = "\n".join(line(k, t) for k, t in titles.items()) + "\n\n"
            if on_piece:
                on_piece(text)
            return Generation(text=text, finish="end", prompt_tokens=1, generated_tokens=1, seconds=0.0,
                              prompt_tokens_evaluated=1)

    w = B.BookWriter(Planner(style="chat"))
    chapters = w.plan_book("Write a 30000-word fantasy novel about a cartographer.", 30_000)
    titles = [c.title for c in chapters]
    asks = [re.search(r"Now plan chapters (\d+ to \d+) of 12: they are the (\w+)", p.user[0]).groups()
            for p in w.backend.prompts]
    # the book is planned an act at a time, each answer told what its part of a story does;
    # "The End" as chapter 7 ended that answer, and the middle act was asked for again from there
    assert asks == [("1 to 4", "beginning"), ("5 to 8", "middle"), ("7 to 8", "middle"), ("9 to 12", "end")]
    assert titles == [f"The {_w(k, 5)} Tide" for k in range(1, 13)]
    # each answer continues after the chapters kept (they are in it)
    assert ["".join(p.answer).count("Chapter ") for p in w.backend.prompts] == [0, 4, 6, 8]
    assert sum(c.target_words for c in chapters) == 30_000


def test_a_chapter_planned_in_an_earlier_chapters_scenes_is_asked_again():
    # the instruct model planned chapter 2 in chapter 1's scenes, word for word
    class Repeater(BookBackend):
        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            if re.search(r"Scene (\d+) - Main Point:$", prompt.text()):
                self.plan_calls += 1
                call = 1 if self.plan_calls <= 2 else self.plan_calls     # the second answer retells the first
                lines = [f"Scene {i} - Main Point: {_point(call, i)} - Word Count: 500 words" for i in range(1, 6)]
                return self._answer(prompt, "\n".join(lines)[len("Scene 1 - Main Point:"):] + "\n\n", on_piece)
            return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                    cancel=cancel, allow_end=allow_end)

    backend = Repeater()
    w = B.BookWriter(backend)
    job = _job(20_000)
    job.chapters = [BM.Chapter("The Map", "Mara draws a map of the sea wall.", 2500),
                    BM.Chapter("The Flood", "The sea wall moves.", 2500)]
    w.plan_chapter(job, 0)
    w.plan_chapter(job, 1)
    first = [job.sections[i].main_point for i in BM.chapter_scenes(job, 0)]
    second = [job.sections[i].main_point for i in BM.chapter_scenes(job, 1)]
    assert first == [_point(1, i) for i in range(1, 6)]
    # the retold answer was refused and the plan asked again: chapter 2 tells its own scenes
    assert backend.plan_calls == 3 and second == [_point(3, i) for i in range(1, 6)]
    assert job.chapters[1].plan_how == "parsed"
    # near-copies count as copies (word overlap, not string identity)
    told = BP.Told(["The Duke wants to move the Greywater, but it is forbidden by the Guild."])
    assert not told.add("The Duke wants to move the Greywater, which the Guild has forbidden")
    assert told.add("Ilse rows out at night and draws the river's old bed")


def test_a_scene_planned_as_a_sentence_of_an_earlier_chapters_summary_is_refused():
    # the instruct model planned chapter 3's second scene as a sentence of chapter 2's
    # summary ("The Guild faces off against the Duke in a final confrontation…"), which the
    # story so far had shown it
    job = _mara_job()
    job.chapters[0].summary = ("Mara draws the sea wall and finds it moved overnight. The Guild faces off "
                               "against the Duke in a final confrontation, leading to a victory for the Guild.")
    told = B.BookWriter._told(job, 1, own=False)
    assert not told.add("The Guild faces off against the Duke in a final confrontation, leading to a decisive "
                        "victory for the Guild.")
    # a scene of the same people that tells something new is taken
    assert told.add("Mara rows to the Guild hall at night and hides her map under the floor.")
    # a chapter's own summary is not what its earlier chapters told
    assert B.BookWriter._told(job, 0, own=False).add("The Guild faces off against the Duke in a final confrontation.")
    # a summary copied whole as a scene is a retelling too (the instruct model planned chapter
    # 9's first scene as chapter 4's summary; against each sentence alone it shared less than
    # half its words)
    copy = "Mara finds a hidden lens. The harbour master reveals the sea wall is cursed. Tobin steals the charts."
    job.chapters[0].summary = copy + " Mara sets out to find the lens maker."
    keys = BP.chapter_keys
    assert all(BP.synopsis_overlap(keys("", copy), keys("", s)) < BP.REPEAT_OVERLAP
               for s in [*sentences(job.chapters[0].summary)])
    assert not B.BookWriter._told(job, 1, own=False).add(copy)


def test_scenes_that_tell_their_chapters_own_synopsis_are_taken_though_an_earlier_chapter_told_it():
    # the instruct model's book plan gave chapter 8 what chapter 6's summary told ("using their
    # map to create a powerful spell that can manipulate reality"); every scene that followed
    # the synopsis was refused, and the fallback plan told the synopsis anyway
    scene = "The Guild faces its final stand against Mara, using its map to create a powerful spell that can " \
            "manipulate the sea wall"
    earlier = ("The Guild attacks the harbour, using its map to create a powerful spell that can manipulate the "
               "sea wall, and Mara saves the world.")

    class Follows(ChatBookBackend):
        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            if "Break chapter" in "".join(prompt.user):
                self.plan_calls += 1
                lines = [f"Scene 1 - Title: The Spell - Main Point: {scene}. - Word Count: 600 words",
                         f"Scene 2 - Title: The Spell Again - Main Point: {scene}, again. - Word Count: 600 words",
                         "Scene 3 - Title: The Answer - Main Point: Mara rows to the wall at night and redraws "
                         "its line by lantern light. - Word Count: 600 words"]
                return self._answer(prompt, "\n".join(lines) + "\n\n", on_piece)
            return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                    cancel=cancel, allow_end=allow_end)

    job = _mara_job()
    job.chapters[0].summary = f"Mara draws the sea wall. {earlier}"
    job.chapters[1].synopsis = ("The Guild faces its final stand against Mara. It uses its map to create a powerful "
                                "spell that can manipulate the sea wall, but Mara stops it before it completes its plan.")
    keys = BP.chapter_keys
    assert BP.synopsis_overlap(keys("", scene), keys("", earlier)) >= BP.REPEAT_OVERLAP    # a retelling of it,
    assert BP.synopsis_overlap(keys("", earlier), keys("", job.chapters[1].synopsis)) < BP.REPEAT_OVERLAP
    w = B.BookWriter(Follows())
    idx = w.plan_chapter(job, 1)
    # ... but what the chapter is about: taken, once
    assert job.chapters[1].plan_how == "parsed"
    assert [job.sections[i].title for i in idx] == ["The Spell", "The Answer"]
    # what the synopsis does not tell again is still refused
    told = B.BookWriter._told(job, 1, own=False)
    assert not told.add("Mara draws the sea wall.") and told.add("Mara hides the map from the Duke.")


def test_a_chat_models_plans_and_summaries_are_sampled_without_dry_its_scenes_with_it():
    # a plan repeats its line format and people, a summary the chapter's words: DRY there made
    # the instruct model swap in Chinese words and open the book with "The Resolution"
    backend = RecordingChatBook()
    calls = backend.recorded
    w = B.BookWriter(backend, seed=1)
    assert w.sampling.dry_multiplier > 0
    job = _mara_job()
    w.write_book(job, chapters=[0])
    plans = [s for p, s in calls if "Break chapter" in "".join(p.user)]
    summaries = [s for p, s in calls if p.turns and p.turns[-1][1].startswith("Chapter 1 ends here")]
    scenes = [s for p, s in calls if p.answer and p.answer[0].startswith("### ")]
    assert plans and summaries and scenes
    assert all(s.dry_multiplier == 0 for s in plans + summaries)
    assert all(s.dry_multiplier == w.sampling.dry_multiplier for s in scenes)
    # a base model's plans keep the writer's sampling (measured that way)
    base = B.BookWriter(BookBackend(), seed=1)
    assert base._plain_sampling(0.7).dry_multiplier == base.sampling.dry_multiplier


def test_a_chapter_plan_stopped_before_the_model_answered_is_no_fallback_plan():
    # stopped (the bench's restart) while the model planned chapter 9, the chapter was given a
    # fallback plan of 14 scenes made of its synopsis, and the job went on writing it
    from longhand.core.errors import CancelToken

    cancel = CancelToken()

    class Stopped(ChatBookBackend):
        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            if "Break chapter" in "".join(prompt.user):
                cancel.cancel()                        # the user stops the job mid-answer
                return self._answer(prompt, "Scene 1 - Title: The", on_piece)
            return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                    cancel=cancel, allow_end=allow_end)

    job = _mara_job()
    w = B.BookWriter(Stopped())
    w.write_book(job, cancel=cancel)
    assert BM.chapter_scenes(job, 0) == [] and job.chapters[0].plan_how != "fallback"
    # going on plans it
    w = B.BookWriter(ChatBookBackend())
    assert w.plan_chapter(job, 0) and job.chapters[0].plan_how == "parsed"


def test_a_chat_models_chapter_is_planned_in_at_most_eight_scenes_however_short_it_writes_them():
    # its scenes are planned at the length it writes (about 210 words by chapter 9): asked for
    # exactly 14 scenes, the instruct model listed the story so far as scenes
    backend = ChatBookBackend()
    w = B.BookWriter(backend)
    w.scene_words = lambda job: 210
    job = _mara_job()
    job.chapters[0].target_words = 2900
    assert BM.expected_scenes(2900, 210) == 14
    w.plan_chapter(job, 0)
    asked = [p for p in backend.prompts if "Break chapter" in "".join(p.user)]
    assert asked and "Break chapter 1 into 8 scenes" in "".join(asked[0].user)
    assert "{7,7}" in asked[0].grammar


def test_a_scene_line_that_is_the_plans_format_is_refused():
    # "Scene 5 - Title: Title - Main Point: Title: The Crisis - Word Count: 583 words"
    job = _mara_job()
    for point in ["Title: The Crisis", "Scene 4: the wall by night"]:
        assert B.BookWriter._not_plannable(job, 0, Section(point, 500, title="Title")) == "the plan's format"
    assert B.BookWriter._not_plannable(job, 0, Section("Main Point: Mara rows out", 500))
    assert B.BookWriter._not_plannable(job, 0, Section("Title deeds burn in the harbour", 500, title="Deeds")) == ""


def test_a_chat_models_short_scene_plan_is_continued_to_the_scenes_asked_for():
    # three scene lines an answer; a 3,000-word chapter wants six scenes of the default length
    backend = ChatBookBackend()
    w = B.BookWriter(backend)
    job = Project(instruction="Write a 20000-word fantasy novel about Mara Voss.", target_words=20_000)
    job.chapters = [BM.Chapter("The Map", "Mara draws a map of the sea wall.", 3000),
                    BM.Chapter("The Flood", "The sea wall moves.", 3000)]
    assert BM.expected_scenes(3000, w.scene_words(job)) == 6
    idx = w.plan_chapter(job, 0)
    # asked again after three, continuing after them: six scenes of about 500 words (the
    # model's own numbers, scaled), not three of 1,000
    assert backend.plan_calls == 2 and len(idx) == 6
    assert "".join(backend.prompts[1].answer).count("Scene ") == 3
    targets = [job.sections[i].target_words for i in idx]
    assert sum(targets) == 3000 and max(targets) < 750


def test_a_top_up_scene_that_retells_is_asked_for_again():
    class Retelling(WillNotGoOn):
        top_ups = 0

        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            last = prompt.turns[-1][1] if prompt.turns else ""
            if "Plan one more scene" in last:
                self.top_ups += 1
                self.seeds.append(sampling.seed)
                k = int(re.search(r"Scene (\d+) - Title", last).group(1))
                # the first answer retells scene 1 word for word; the second plans a new scene
                point = job.sections[0].main_point if self.top_ups == 1 else _point(99, k)
                return self._answer(prompt, f"Scene {k} - Title: The Last Crossing - Main Point: {point} "
                                            f"- Word Count: 300 words\n\n", on_piece)
            return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                    cancel=cancel, allow_end=allow_end)

    backend = Retelling(wants_end_after=150)
    backend.seeds = []
    w = B.BookWriter(backend, seed=1)
    job = _mara_job()
    w.plan_chapter(job, 0)
    for i in BM.chapter_scenes(job, 0):
        w.write_section(job, i)
    added = w._top_up_chapter(job, 0, lambda e: None, None, EV.JobStats(target_words=job.target_words))
    idx = BM.chapter_scenes(job, 0)
    # the retold scene was refused and asked for again, with another seed, the model told what
    # it proposed (the instruct model gave the same scene five times running); the new one written
    assert added >= 1 and backend.seeds[:2] == [1, 1 + 7919]
    asks = [p.turns[-1][1] for p in backend.prompts if p.turns and "Plan one more scene" in p.turns[-1][1]]
    refused = job.sections[idx[0]].main_point.rstrip(".")
    assert f'Not "{refused}": that has been told already.' not in asks[0]
    assert f'Not "{refused}": that has been told already.' in asks[1]
    assert asks[1].endswith("- Word Count: [number] words")
    assert job.sections[idx[3]].main_point == _point(99, 4) and job.sections[idx[3]].text
    assert sum(job.sections[i].main_point == job.sections[idx[0]].main_point for i in idx) == 1


def test_a_books_scenes_are_sampled_with_its_names_as_dry_breakers():
    # penalised as repeats, the instruct model cut its heroine's name short ("Ile Marren", "Else")
    class Seen(ChatBookBackend):
        def generate(self, prompt, *, sampling=None, **kw):
            self.samplings = [*getattr(self, "samplings", []), sampling]
            return super().generate(prompt, sampling=sampling, **kw)

    backend = Seen()
    w = B.BookWriter(backend)
    job = Project(instruction="Write a 20000-word fantasy novel about Mara Voss.", target_words=20_000)
    job.codex.add(CodexEntry("Mara Voss", "character", "A cartographer, 34.", aliases=["Mara"]))
    job.codex.add(CodexEntry("the Tidewardens' Guild", "lore", "Keepers of the sea wall.", aliases=["the Guild"]))
    job.codex.add(CodexEntry("Lowmere", "place", "A drowned town of canals."))
    assert job.codex.name_words() == ("Mara", "Voss", "Tidewardens'", "Guild", "Lowmere")
    job.chapters = [BM.Chapter("The Map", "Mara draws a map of the sea wall.", 1200),
                    BM.Chapter("The Flood", "The sea wall moves.", 1200)]
    w.write_book(job, chapters=[0])
    scenes = [s for p, s in zip(backend.prompts, backend.samplings) if p.answer and p.answer[0].startswith("###")]
    assert scenes and all(s.dry_breakers == job.codex.name_words() and s.dry_multiplier > 0 for s in scenes)
    # (and without asterisks: the instruct model set paragraphs and script lines in bold; nor
    # tabs: it wrote "something\telse"; nor headings of its own: "#### Introduction:")
    assert all(s.ban_chars == "*\t#" for s in scenes)


def test_a_scene_the_model_retells_when_asked_to_go_on_ends_where_it_was_healthy():
    class Retells(GoesOnWith):
        """Ends its first answer after 200 words; asked to go on, writes that answer again."""

        def go_on(self, said: str) -> str:
            return said

    backend = Retells(wants_end_after=200)
    w = B.BookWriter(backend)
    job = _mara_job()
    w.plan_chapter(job, 0)
    events = []
    sec = w.write_section(job, BM.chapter_scenes(job, 0)[0], on_event=events.append)
    # the retold answer was cut at once and the scene ended with what it had told: one cut,
    # no rewrite, no attention needed (the chapter is topped up with a new scene instead)
    cuts = [e for e in events if isinstance(e, EV.SectionRecovery)]
    assert len(cuts) == 1 and cuts[0].kind == "loop" and "the scene ends here" in cuts[0].reasons
    assert "retells earlier text" in cuts[0].reasons[0]
    assert sum(1 for p in backend.prompts if p.turns and p.turns[-1][1].startswith("Go on")) == 1
    # the retold answer went as a whole: the scene is its first answer, to its last full sentence
    assert not sec.needs_attention and 180 <= sec.words <= 200 and not sec.parts
    assert sec.text.rstrip().endswith(".")


def test_a_scene_the_model_starts_over_in_other_words_when_asked_to_go_on_ends_before_it():
    class StartsOver(GoesOnWith):
        """Asked to go on, tells the scene's first sentences again with their words reordered
        (no 4-gram repeats: the instruct model's "Ilse stood at the edge of Salt Marsh,
        surrounded by piles of maps, sketches." after "… Saltmarsh, surrounded by piles of
        maps and sketches.")."""

        def go_on(self, said: str) -> str:
            sentences = [x.strip(" .") for x in said.split(".") if len(x.split()) >= 6][:6]
            return " ".join(" ".join(reversed(x.split())).capitalize() + "." for x in sentences)

    backend = StartsOver(wants_end_after=200, sentence_words=10)
    w = B.BookWriter(backend)
    job = _mara_job()
    w.plan_chapter(job, 0)
    events = []
    i = BM.chapter_scenes(job, 0)[0]
    sec = w.write_section(job, i, on_event=events.append)
    cuts = [e for e in events if isinstance(e, EV.SectionRecovery)]
    assert len(cuts) == 1 and "retells earlier text" in cuts[0].reasons[0] and "the scene ends here" in cuts[0].reasons
    # cut as soon as three sentences told nothing new, back to where the answer began
    told = [e for e in events if isinstance(e, EV.SectionToken)]
    assert cuts[0].cut_text.count(".") == 3 and 180 <= sec.words <= 200 and not sec.parts
    assert not sec.needs_attention and len(told) > sec.words


class _TellsOneAgain(GoesOnWith):
    """Asked to go on, tells the scene's first sentence again (``reorder``: its words
    reversed, so that no 4-gram repeats), then two sentences with too few content words to
    weigh: the instruct model's "It was a hot summer evening when Ilse Marren arrived at the
    Greywater province. As she walked through the town. She noticed strange shadows on the
    island...", kept in its manuscript."""

    def __init__(self, reorder: bool, **kw) -> None:
        super().__init__(**kw)
        self.reorder = reorder

    def go_on(self, said: str) -> str:
        body = said.split("\n\n", 1)[1] if said.startswith("#") else said
        words = body.strip().split(". ")[0].strip(" .").split()
        first = " ".join(reversed(words) if self.reorder else words).capitalize() + "."
        return (f"{first} And so it was that she went out of it and on into the day, as she had "
                "to do. And then she was there with them all and it was as it had been before.")


@pytest.mark.parametrize("reorder", [False, True], ids=["copied", "in-other-order"])
def test_a_later_answer_that_tells_one_sentence_again_among_light_ones_is_cut_whole(reorder):
    # copied: the loop check fires first, on the answer's third sentence; in other order:
    # no 4-gram repeats, and of the answer's three sentences only the retold one has the
    # content words to be weighed. Either way the answer retells: it goes, whole.
    backend = _TellsOneAgain(reorder, wants_end_after=200, sentence_words=10)
    w = B.BookWriter(backend)
    job = _mara_job()
    w.plan_chapter(job, 0)
    events = []
    sec = w.write_section(job, BM.chapter_scenes(job, 0)[0], on_event=events.append)
    cuts = [e for e in events if isinstance(e, EV.SectionRecovery)]
    assert len(cuts) == 1 and "retells earlier text" in cuts[0].reasons[0]
    assert "on into the day" not in sec.text and "as it had been before" not in sec.text
    assert 180 <= sec.words <= 200 and not sec.parts and sec.text.rstrip().endswith(".")


def test_a_scene_interrupted_in_a_later_answer_resumes_in_that_answer_after_reopening(tmp_path):
    from longhand.core.errors import CancelToken
    backend = ChatBookBackend(wants_end_after=150)
    w = B.BookWriter(backend)
    job = _mara_job()
    w.plan_chapter(job, 0)
    first = BM.chapter_scenes(job, 0)[0]
    cancel = CancelToken()
    tokens = {"n": 0}

    def on_event(e):
        if isinstance(e, EV.SectionToken):
            tokens["n"] += 1
            if tokens["n"] == 200:          # 50 words into the second answer
                cancel.cancel()

    w.write_section(job, first, on_event=on_event, cancel=cancel)
    sec = job.sections[first]
    assert sec.interrupted and len(sec.parts) == 1 and 150 < sec.words < 220
    stopped = backend.prompts[-1]
    job.path = tmp_path / "novel.longhand"
    job.save()
    job.close()
    again = Project.open(tmp_path / "novel.longhand")
    assert again.sections[first].parts == sec.parts
    backend.prompts.clear()
    w2 = B.BookWriter(backend)
    w2.write_book(again, chapters=[0], max_scenes=1)
    resumed = backend.prompts[0]
    # the same conversation: the first answer, the ask to go on, and the second answer so far
    # (left open: the model writes on inside it)
    assert resumed.user == stopped.user and resumed.turns == stopped.turns
    assert resumed.answer and again.sections[first].text.startswith(sec.text.rstrip())
    assert "".join(resumed.answer).strip() == sec.text[sec.parts[0]:].strip()
    assert again.sections[first].status == "done" and again.sections[first].words >= 0.85 * sec.target_words


def test_a_chat_models_chapter_summary_is_asked_for_in_the_last_message_and_checked():
    # cued inside its last answer, the instruct model listed the book's chapter titles
    class Summing(ChatBookBackend):
        answer = ""

        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            if prompt.turns and prompt.turns[-1][1].startswith("Chapter 1 ends here"):
                return self._answer(prompt, self.answer, on_piece)
            return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                    cancel=cancel, allow_end=allow_end)

    job = Project(instruction="Write a 20000-word fantasy novel about Mara Voss.", target_words=20_000)
    job.chapters = [BM.Chapter("The Map of the Sea Wall", "Mara draws a map of the sea wall.", 1200),
                    BM.Chapter("The Flood at Lowmere", "The sea wall moves.", 1200)]
    backend = Summing()
    w = B.BookWriter(backend)
    w.write_book(job, chapters=[0])
    asked = backend.prompts[-1]
    # the chapter's conversation, then the request: its prefix is the last scene's prompt
    assert asked.turns[-1][1] == ("Chapter 1 ends here. Sum it up in two or three sentences, at most "
                                  f"{B.SUMMARY_WORDS} words: who does what in it, what changes, and how it "
                                  "ends. Write only the summary, in the past tense.") and asked.answer == []
    idx = BM.chapter_scenes(job, 0)
    assert [t[0][0] for t in asked.turns] == [f"### {k}. {job.sections[i].heading}\n\n" for k, i in
                                              enumerate(idx, 1)]
    good = "Mara drew the sea wall for the Tidewardens and saw it move an inch the next morning."
    for answer, kept in [(f"Sure, here is the summary:\n{good}", good),
                         (f"Summary: {good}", good),
                         ("the map of the sea wall, the flood at lowmere, the map of the sea wall again.", None),
                         ("This chapter concludes the first part of the story, and the next chapter will "
                          "follow Mara.", None)]:
        backend.answer = answer
        summary = w.summarize_chapter(job, 0)
        if kept:
            assert summary == kept, answer
        else:       # not used: the chapter's first and last sentences instead
            assert summary != answer.strip() and summary.split()[0] in B.chapter_text(job, 0), answer


def test_a_scene_that_opens_by_copying_an_earlier_one_is_started_over_without_it_in_view():
    # the instruct model opened five scenes running with the same lines of its earlier answer
    # ('**Ilse Marren:** "Saltmarsh! I'm here!"'); cut back to the copy's healthy-looking
    # start, each recovery copied on
    class Copies(ChatBookBackend):
        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            said = [t[0][-1] for t in prompt.turns if len(t[0]) > 1]
            if said and prompt.answer and prompt.answer[-1].startswith("### ") and "Write scene" in prompt.turns[-1][1]:
                self.prompts.append(prompt)
                return _stream([" " + word for word in said[0].split(" ")[:120]], on_piece)
            return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                    cancel=cancel, allow_end=allow_end)

    backend = Copies()
    w = B.BookWriter(backend)
    job = _mara_job()
    w.plan_chapter(job, 0)
    idx = BM.chapter_scenes(job, 0)
    w.write_section(job, idx[0])
    events = []
    sec = w.write_section(job, idx[1], on_event=events.append)
    cuts = [e for e in events if isinstance(e, EV.SectionRecovery)]
    # one loop, cut back to nothing; written again without scene 1 in view, the scene is whole
    assert len(cuts) == 1 and cuts[0].kind == "loop" and cuts[0].words_kept == 0
    again = [p for p in backend.prompts if p.answer and p.answer[0].startswith("### 2.")][-1]
    assert not any(job.sections[idx[0]].text[:200] in "".join(t[0]) for t in again.turns)
    # what scene 1 told and how it ended are in the request (started over without them, the
    # instruct model told the book's premise again), its opening is not
    request = "".join(again.user)
    tail = " ".join(job.sections[idx[0]].text.split()[-60:])
    assert job.sections[idx[0]].main_point in request and f'ended: "… {tail}"' in request
    assert job.sections[idx[0]].text[:200] not in request
    # the chapter's conversation goes on from the scene started over: the next scene's prompt
    # is that one, its answer and one ask (back to the whole conversation, every scene started
    # over cost the instruct model the chapter's evaluation again)
    w.write_section(job, idx[2])
    third = [p for p in backend.prompts if p.answer and p.answer[0].startswith("### 3.")][0]
    assert third.user == again.user and third.turns[0][0][0].startswith("### 2.")
    assert third.turns[-1][1].startswith("Write scene 3")
    assert not sec.needs_attention and sec.words >= 0.85 * sec.target_words
    assert job.sections[idx[0]].text[:200] not in sec.text


def test_a_scene_that_loops_back_in_its_first_answer_ends_there_once_it_has_a_third_of_its_target():
    class LoopsBack(ChatBookBackend):
        """Writes 200 fresh words, then its first 100 words again, in the same answer."""

        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            if not (prompt.answer and prompt.answer[-1].startswith("### ")):
                return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                        cancel=cancel, allow_end=allow_end)
            self.prompts.append(prompt)
            fresh = list(itertools.islice(self._sentences(), 200))
            return _stream(fresh + fresh[:100], on_piece)

    backend = LoopsBack()
    w = B.BookWriter(backend)
    job = _mara_job()
    w.plan_chapter(job, 0)
    events = []
    sec = w.write_section(job, BM.chapter_scenes(job, 0)[0], on_event=events.append)
    cuts = [e for e in events if isinstance(e, EV.SectionRecovery)]
    # one cut, no rewrite: the scene ends with what it told before it looped
    asked = [p for p in backend.prompts if p.answer and p.answer[-1].startswith("### ")]
    assert len(cuts) == 1 and "the scene ends here" in cuts[0].reasons and len(asked) == 1
    # (the fresh text stays, but for its last, unfinished sentence; of the copy, at most the
    # few sentences the 4-gram check needs to see a loop; the retelling check, which weighs
    # sentences, cuts it where it starts)
    assert 190 <= sec.words <= 250 and not sec.needs_attention


def test_a_chat_chapters_whole_conversation_stays_in_its_prompt_when_the_context_holds_it():
    # a chat chapter of 2,500 words in seven scenes, each written in two answers: its scenes
    # and the asks between them outgrow the chapter's words; room for its words alone, the
    # conversation slid, and every slide evaluated what it kept again (the instruct model's
    # novel: 1,500-3,100 prompt tokens evaluated at scenes 3-7, 40-85 s to the first token)
    backend = ChatBookBackend()
    backend.info.n_ctx = 32768
    w = B.BookWriter(backend)
    job = _mara_job()
    job.chapters[0].target_words = 2500
    for k in range(7):
        sec = BM.add_scene(job, 0, k, f"In Lowmere Mara Voss does step {k + 1}: " + _w(60, k), 357)
        first = " ".join(f"{_w(k, j)} {_w(k + 20, j)} {_w(k + 40, j)}." for j in range(60))
        second = " ".join(f"{_w(k + 60, j)} {_w(k + 80, j)} {_w(k + 100, j)}." for j in range(59))
        sec.text, sec.parts, sec.status = first + "\n\n" + second, [len(first) + 2], "done"
    idx = BM.chapter_scenes(job, 0)
    job.sections[idx[-1]].text, job.sections[idx[-1]].status, job.sections[idx[-1]].parts = "", "planned", []
    w._tokens_per_word = 1.0                 # (the fake's tokens are its words)
    prompt = w.section_prompt(job, idx[-1])
    told = "".join("".join(said) for said, _ in prompt.turns)
    assert all(job.sections[i].text.split("\n\n")[0] in told for i in idx[:-1])
    assert prompt.user[-1].startswith("Write scene 1 of chapter 1 now")


def test_a_scene_added_to_a_short_chapter_takes_its_target_from_the_scenes_that_ended_short():
    job = _mara_job()
    for k, (target, words, locked) in enumerate([(400, 100, False), (400, 150, True), (400, 200, False)]):
        sec = BM.add_scene(job, 0, k, f"step {k + 1}", target)
        sec.text, sec.status, sec.locked = " ".join(["word"] * words), "done", locked
    extra = BM.add_scene(job, 0, 3, "step 4", 330)
    i = BM.chapter_scenes(job, 0)[3]
    assert BM.absorb_added_scene(job, i) == 0
    # the latest short scene first, down to its words; then the one before; locked ones keep theirs
    assert [job.sections[j].target_words for j in BM.chapter_scenes(job, 0)] == [270, 400, 200, 330]
    assert not [p for p in BM.check_totals(job) if p.startswith("Chapter 1")] and extra.target_words == 330
    # what cannot be absorbed is returned (and the plan does not add up: the outline says so)
    more = BM.add_scene(job, 0, 4, "step 5", 500)
    assert BM.absorb_added_scene(job, BM.chapter_scenes(job, 0)[4]) == 500 - 170
    assert more.target_words == 500 and [p for p in BM.check_totals(job) if p.startswith("Chapter 1")]


def test_a_chapter_stopped_after_its_last_scene_is_topped_up_and_summed_up_when_the_job_resumes():
    # the novel bench stopped right after a chapter's last scene (2,031 of 2,500 words): resumed,
    # the chapter got its summary but never the scenes it lacked
    def written_short(edited: bool = False):
        backend = WillNotGoOn(wants_end_after=150)
        w = B.BookWriter(backend)
        job = _mara_job()
        w.plan_chapter(job, 0)
        for i in BM.chapter_scenes(job, 0):
            w.write_section(job, i)
        if edited:
            job.sections[BM.chapter_scenes(job, 0)[1]].status = "edited"
        planned = len(BM.chapter_scenes(job, 0))
        assert BM.chapter_words(job, 0) < 0.92 * 1200 and not job.chapters[0].summary
        w.write_book(job, chapters=[0])
        return job, planned

    job, planned = written_short()
    assert len(BM.chapter_scenes(job, 0)) > planned and BM.chapter_words(job, 0) >= 0.92 * 1200
    assert job.chapters[0].summary
    # a chapter the user has edited is theirs: summed up, never added to
    job, planned = written_short(edited=True)
    assert len(BM.chapter_scenes(job, 0)) == planned and job.chapters[0].summary


def test_a_chapters_target_stays_near_the_mean_whatever_numbers_the_model_gives():
    # the instruct model gave 5,000 words to the first five of 32 chapters and 1,500 to the
    # rest; clamped and then scaled to the sum, the first five became 8,791-word chapters
    targets = BP.bounded_targets([5000] * 5 + [1500] * 27, 90_000, 600, 0, spread=B.CHAPTER_SPREAD)
    mean = 90_000 / 32
    assert sum(targets) == 90_000
    assert max(targets) <= mean * B.CHAPTER_SPREAD * 1.01 and min(targets) >= mean / B.CHAPTER_SPREAD * 0.99
    # the model's order of lengths is kept: its long chapters stay the longer ones
    assert min(targets[:5]) > max(targets[5:])


def test_the_plan_formats_placeholders_are_not_chapters_and_brackets_are_not_titles():
    # the instruct model's 90,000-word plan: "[title] | [what happens] + Chapter 17" as chapter
    # 11, and "[The Dark Forest]" as a title
    text = ("Chapter 11 - Title: [title] - Synopsis: [what happens] + Chapter 17 - Word Count: 2500 words\n"
            "Chapter 12 - Title: [The Dark Forest] - Synopsis: Elara discovers a dark forest, where she must "
            "battle a powerful demon. - Word Count: 2500 words")
    assert [(c.title, c.synopsis) for c in BP.parse_chapters(text)] == [
        ("The Dark Forest", "Elara discovers a dark forest, where she must battle a powerful demon.")]
    # its 100,000-word plan kept chapter 20 as "title": "what happens] + [what changes" (the
    # brackets came off before the placeholders were looked for)
    for line in ("Chapter 20 - Title: [title] - Synopsis: [what happens] + [what changes] - Word Count: 4000 words",
                 "Chapter 20 - Title: Title - Synopsis: Mara walks the sea wall at night. - Word Count: 4000 words"):
        assert BP.parse_chapters(line) == []
    # nor is a summary of the outline's part ("Part 6 Summary", chapter 29 of that plan)
    assert BP.not_a_chapter("Part 6 Summary", last=False) and BP.not_a_chapter("Summary", last=True)
    assert not BP.not_a_chapter("The Summary of a Life", last=False)


def test_a_chapter_line_that_drifts_into_another_language_is_refused():
    # late in the instruct model's 90,000-word plan: 'The Lost Map in the Mountains", Synopsis:
    # Elara sets out,带着地图和希望…' as a title, in an English book
    drifted = BP.ParsedChapter('The Map\'s Last Chance", Synopsis: Elara终于找到地图并进入山林。',
                               "Elara与一群旅行者一起到达山顶，他们提供帮助。", None)
    clean = BP.ParsedChapter("The Map's Last Chance", "Elara finds the map in the mountains.", None)
    assert BP.off_language(drifted, chinese=False) and not BP.off_language(clean, chinese=False)
    assert not BP.off_language(BP.ParsedChapter("山中地图", "Elara 在山中找到地图。", None), chinese=True)


def test_a_chapter_the_model_cannot_top_up_says_why_it_ended_short():
    # the instruct model proposed "Ilse reveals the truth about her maps…" five times for a
    # chapter 534 words short; the chapter ends short, and the engine says why
    class AlwaysRetells(WillNotGoOn):
        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            last = prompt.turns[-1][1] if prompt.turns else ""
            if "Plan one more scene" in last:
                k = int(re.search(r"Scene (\d+) - Title", last).group(1))
                return self._answer(prompt, f"Scene {k} - Title: Again - Main Point: {job.sections[0].main_point} "
                                            f"- Word Count: 300 words\n\n", on_piece)
            return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                    cancel=cancel, allow_end=allow_end)

    events = []
    w = B.BookWriter(AlwaysRetells(wants_end_after=150))
    job = _mara_job()
    w.write_book(job, chapters=[0], on_event=events.append)
    done = [e for e in events if isinstance(e, EV.ChapterDone)]
    assert len(done) == 1 and done[0].words < B.CHAPTER_LANDS * done[0].target_words
    assert done[0].short == "the model could not plan another scene for it that does not retell one already written"
    # a chapter that lands says nothing
    events.clear()
    w = B.BookWriter(ChatBookBackend())
    job = _mara_job()
    w.write_book(job, chapters=[0], on_event=events.append)
    done = [e for e in events if isinstance(e, EV.ChapterDone)]
    assert done and done[0].words >= B.CHAPTER_LANDS * done[0].target_words and done[0].short == ""


def test_plan_synopses_are_bounded_longer_on_a_chat_model_than_on_a_base_model():
    # at 30 words the instruct model glued words to go on past the bound ("willliveonforever");
    # at 60 the demo model's plan held three times as many words run together
    base = BookBackend(chapters=40)
    B.BookWriter(base).plan_book("Write a 30000-word fantasy novel.", 30_000)
    chat = PartsPlanner()
    B.BookWriter(chat).plan_book("Write a 90000-word fantasy novel about a cartographer.", 90_000)
    assert base.prompts[0].grammar and '(" " word){2,30}' in base.prompts[0].grammar
    assert all(p.grammar and '(" " word){2,60}' in p.grammar for p in chat.prompts)


def test_a_chat_chapters_conversation_is_replayed_as_asked_when_a_scene_is_added_to_it():
    # a chapter that ended short gets a top-up scene: its last scene's ask said "the chapter's
    # last scene", and the scenes that ended short gave up part of their targets to the new
    # one. Rendered anew, the asks changed, and every top-up plan and top-up scene made the
    # instruct model evaluate the whole chapter again (about 500 tokens a call).
    backend = WillNotGoOn(wants_end_after=150)
    w = B.BookWriter(backend)
    job = _mara_job()
    w.plan_chapter(job, 0)
    planned = BM.chapter_scenes(job, 0)
    for i in planned:
        w.write_section(job, i)
    before = [job.sections[i].target_words for i in planned]
    last = [p for p in backend.prompts if "Write scene" in (p.turns[-1][1] if p.turns else p.user[-1])][-1]
    asks = [list(job.sections[i].asked) for i in planned]
    assert all(a and a[0].startswith(f"Write scene {k + 1} of chapter 1") for k, a in enumerate(asks))
    backend.prompts.clear()
    w.write_book(job, chapters=[0])
    assert len(BM.chapter_scenes(job, 0)) > len(planned)
    assert [job.sections[i].target_words for i in planned] != before      # (targets were moved)
    later = [p for p in backend.prompts if p.turns and len(p.turns) >= len(last.turns)]
    assert later and any("Plan one more scene" in p.turns[-1][1] for p in later)
    for p in later:      # every later prompt of the chapter goes on from the same conversation
        assert p.user == last.user and p.turns[:len(last.turns)] == last.turns
    assert [job.sections[i].asked for i in planned] == asks
    assert "the chapter's last scene" in asks[-1][0]
    # a scene written again is asked anew: it is no longer the chapter's last
    w.write_section(job, planned[-1], mode="regenerate")
    assert "The chapter goes on after it" in job.sections[planned[-1]].asked[0]


def test_the_asks_a_scene_was_written_under_are_kept_in_the_project(tmp_path):
    job = _mara_job()
    sec = BM.add_scene(job, 0, 0, "Mara draws the wall.", 400)
    sec.text, sec.parts, sec.asked, sec.status = "One. Two.", [5], ["Write scene 1 …", "Go on …"], "done"
    path = tmp_path / "b.longhand"
    job.save(path)
    again = Project.load(path)
    assert again.sections[0].asked == ["Write scene 1 …", "Go on …"]


def test_a_top_up_scene_asked_for_again_turns_on_who_the_chapter_has_had_least_of():
    # named what it had proposed, the instruct model proposed the same scene again; asked
    # again, the scene is to turn on a character of the story the chapter has named least
    asks = []

    class RetellsUnlessGivenAnAngle(WillNotGoOn):
        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            last = prompt.turns[-1][1] if prompt.turns else ""
            if "Plan one more scene" in last:
                asks.append(last)
                k = int(re.search(r"Scene (\d+) - Title", last).group(1))
                m = re.search(r"Let it turn on ([^:]+):", last)
                point = (f"{m.group(1)} brings word from the harbour master at {_w(k, 7)} {_w(k, 8)}"
                         if m else job.sections[0].main_point)
                return self._answer(prompt, f"Scene {k} - Title: News - Main Point: {point} "
                                            f"- Word Count: 300 words\n\n", on_piece)
            return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                    cancel=cancel, allow_end=allow_end)

    w = B.BookWriter(RetellsUnlessGivenAnAngle(wants_end_after=150))
    job = _mara_job()
    job.codex.add(CodexEntry("Mara Voss", "character", "A cartographer, 34. She draws the sea wall.", aliases=["Mara"]))
    job.codex.add(CodexEntry("Tobin", "character", "Mara's apprentice, who cannot swim."))
    job.codex.add(CodexEntry("Lowmere", "place", "A drowned town of canals."))
    w.plan_chapter(job, 0)
    idx = BM.chapter_scenes(job, 0)
    for i in idx:
        w.write_section(job, i)
    # Tobin is named once in the story, Mara in every scene
    first = job.sections[idx[0]]
    first.text += " Tobin held the lamp."
    w.write_book(job, chapters=[0])
    assert asks and "Let it turn on" not in asks[0]          # (the first ask is as before)
    assert "Let it turn on Tobin: Mara's apprentice, who cannot swim." in asks[1]
    added = BM.chapter_scenes(job, 0)[len(idx):]
    assert added and job.sections[added[0]].main_point.startswith("Tobin brings word")
    # an entry the story has not named yet is never brought in (Lowmere: a place, never named)
    assert not any("Let it turn on Lowmere" in a for a in asks)


def test_a_scene_started_over_in_a_slid_conversation_keeps_the_story_so_far():
    # chapter 3 of the instruct model's novel: its conversation had already started at a later
    # scene once, and a second scene started over (a loop) dropped the story so far too; the
    # next scene's prompt had it again, and evaluated the whole chapter again (1,514 tokens)
    backend = ChatBookBackend()
    backend.info.n_ctx = 32768
    w = B.BookWriter(backend)
    job = _mara_job()
    job.chapters.append(BM.Chapter("The Wall", "Mara walks the wall at night.", 2400))
    job.chapters[0].summary = "Mara draws the sea wall and finds it moved overnight."
    job.chapters[1].summary = "The wall moves again and the Guild blames Mara."
    for c in (0, 1):
        sec = BM.add_scene(job, c, 0, f"Chapter {c + 1}'s one scene.", 1200)
        sec.text, sec.status = " ".join(_w(c, j) + "." for j in range(200)), "done"
    for k in range(8):
        sec = BM.add_scene(job, 2, k, f"In Lowmere Mara Voss does step {k + 1}: " + _w(60, k), 300)
        if k < 7:
            sec.text, sec.status = " ".join(f"{_w(k, j)} {_w(k + 20, j)}." for j in range(100)), "done"
    idx = BM.chapter_scenes(job, 2)
    w._tokens_per_word = 1.0
    w._scene_start[2] = 3                   # (a scene started over there before)
    w._short_context = True
    restart = w.section_prompt(job, idx[7])
    w._short_context = False
    after = w.section_prompt(job, idx[7], partial="Mara ran.")
    assert B.STORY_SO_FAR in restart.user and restart.user == after.user
    assert "scenes before this one are written" in "".join(restart.user) and not restart.turns
    # reopened (a new writer, the project read back), the job builds the same prompt: the one
    # its saved prompt cache holds (before, it started the conversation at scene 1 again and
    # evaluated the whole chapter: 2,994 tokens when the novel bench resumed)
    job.sections[idx[7]].text, job.sections[idx[7]].status = "Mara ran.", "writing"
    again = Project.from_dict(job.to_dict())
    reopened = B.BookWriter(backend)
    reopened._tokens_per_word = 1.0
    assert reopened.section_prompt(again, idx[7], partial="Mara ran.") == after
    # and so does its top-up request, once the chapter's last scene is done
    assert reopened._top_up_prompt(again, 2, 300) == w._top_up_prompt(job, 2, 300)


def test_a_scene_that_ends_the_book_is_refused_before_its_last_chapter():
    # the instruct model planned "The End: the Guild members have saved the world" as a
    # scene of chapter 7 of 12, and wrote it
    class PlansAnEnd(ChatBookBackend):
        def _answer(self, prompt, text, on_piece):
            text = re.sub(r"Scene 2 - Title: [^-]+- Main Point: [^-]+",
                          "Scene 2 - Title: The End - Main Point: Mara and the Guild have saved the world at last ", text)
            return super()._answer(prompt, text, on_piece)

    w = B.BookWriter(PlansAnEnd())
    job = _mara_job()
    w.plan_chapter(job, 0)
    titles = [job.sections[i].title for i in BM.chapter_scenes(job, 0)]
    assert titles and "The End" not in titles
    w.plan_chapter(job, 1)                   # the book's last chapter may end it
    assert "The End" in [job.sections[i].title for i in BM.chapter_scenes(job, 1)]


def test_a_scene_titled_as_another_chapter_is_refused():
    # the instruct model planned chapter 1 of its 100,000-word book as the book's chapters
    # 1-8 (titles copied from the list in its prompt, events in other words) and wrote them
    class PlansTheNextChapter(ChatBookBackend):
        def _answer(self, prompt, text, on_piece):
            text = re.sub(r"Scene 2 - Title: [^-]+- Main Point: [^-]+",
                          "Scene 2 - Title: The Flood - Main Point: Mara watches the sea wall slide inland at night ",
                          text)
            return super()._answer(prompt, text, on_piece)

    w = B.BookWriter(PlansTheNextChapter())
    job = _mara_job()                       # chapter 2 is "The Flood"
    w.plan_chapter(job, 0)
    titles = [job.sections[i].title for i in BM.chapter_scenes(job, 0)]
    assert titles and "The Flood" not in titles
    assert B.BookWriter._not_plannable(job, 0, BP_step("the flood!", "Mara watches the wall slide")) == \
        "chapter 2's title"
    # its own chapter's title is a scene's title like any other
    assert B.BookWriter._not_plannable(job, 1, BP_step("The Flood", "Mara watches the wall slide")) == ""


def BP_step(title: str, point: str):
    from longhand.core.engine.plan import ParsedStep
    return ParsedStep(main_point=point, target_words=None, title=title)


def test_a_novels_scenes_are_sampled_avoiding_the_other_chapters_phrases_its_plans_are_not():
    # a scene may not repeat a word 4-gram of the other chapters (Sampling.avoid; its own
    # chapter is DRY's), with the codex's names kept
    backend = RecordingChatBook()
    calls = backend.recorded
    w = B.BookWriter(backend, seed=1)
    job = _mara_job()
    job.codex.add(CodexEntry("the Guild of Cartographers", "organisation", "Mapmakers."))
    w.write_book(job, chapters=[0, 1])
    scene_calls = [(p, s) for p, s in calls if p.answer and p.answer[0].startswith("### ")]
    others = [s for p, s in calls if not (p.answer and p.answer[0].startswith("### "))]
    assert len(scene_calls) >= 4 and others
    assert all(s.avoid is None for s in others)
    first, last = scene_calls[0][1].avoid, scene_calls[-1][1].avoid
    assert first is not None and first.followers == {}      # nothing written in another chapter yet
    ch1 = [sec for sec in job.sections if sec.chapter == 0 and sec.text]
    ch2 = [sec for sec in job.sections if sec.chapter == 1 and sec.text]
    assert ch1 and len(ch2) >= 2
    # chapter 2's last scene avoids chapter 1's phrases, not chapter 2's
    expected = PhraseBook()
    for sec in ch1:
        expected.add(sec.text)
    assert expected.followers and last.followers == expected.followers and last.limit == B.PHRASE_LIMIT
    assert "guild" in last.keep_words and ("guild", "of") in last.keep_pairs
    # a Chinese book's units are characters: no phrase guard there
    assert B.BookWriter(RecordingChatBook())._call_sampling(job, 0, dataclasses.replace(w.sampling, ban_cjk=False), "") \
        .avoid is None


def test_a_finished_chapters_misspelt_names_are_mended_in_its_scenes_and_summary_not_in_the_users():
    job = _mara_job()
    job.codex.add(CodexEntry("Mara Voss", "character", "A cartographer.", aliases=["Mara"]))
    first, second = "Mra Voss drew the wall. ", "Mra looked up. Mara Vos smiled."
    job.sections = [Section(main_point="The wall", target_words=100, chapter=0, status="done",
                            text=first + second, parts=[len(first)]),
                    Section(main_point="Her own", target_words=100, chapter=0, status="edited",
                            text="Mra Voss, as the user wrote her."),
                    Section(main_point="Next", target_words=100, chapter=1, status="done", text="Mra Voss.")]
    job.chapters[0].summary = "Mra Voss draws the wall."
    B.BookWriter(ChatBookBackend()).finish_chapter(job, 0)
    scene = job.sections[0]
    assert scene.text == "Mara Voss drew the wall. Mara looked up. Mara Voss smiled."
    assert scene.text[scene.parts[0]:] == "Mara looked up. Mara Voss smiled."      # answers still split right
    assert job.sections[1].text == "Mra Voss, as the user wrote her."
    assert job.sections[2].text == "Mra Voss."                                     # another chapter
    assert job.chapters[0].summary == "Mara Voss draws the wall."
    assert not any(e.name in ("Mra", "Mra Voss") for e in job.codex.proposed)


def test_a_finished_chapters_run_together_words_are_split_where_the_models_vocabulary_says():
    # DRY and the phrase ban pushed the instruct model to unspaced words ("thelandscape",
    # "ofGuild"): split once the chapter is done, its words counted in the whole book
    class Vocabulary(ChatBookBackend):
        def whole_word(self, word):
            return word in {"within", "tonight"}

    job = _mara_job()
    job.codex.add(CodexEntry("Mara Voss", "character", "A cartographer.", aliases=["Mara"]))
    book = "The landscape, the landscape, the landscape. The Guild met. " + "Mara rode. " * 5
    first, second = "Across thelandscape Marra rode within the hour. ", "The hall ofGuild men met tonight."
    # ("Marra": a name misspelt alone, no word of the vocabulary)
    job.sections = [Section(main_point="Earlier", target_words=100, chapter=1, status="done", text=book),
                    Section(main_point="The wall", target_words=100, chapter=0, status="done",
                            text=first + second, parts=[len(first)]),
                    Section(main_point="Her own", target_words=100, chapter=0, status="edited",
                            text="Across thelandscape, as the user wrote it.")]
    job.chapters[0].summary = "Mara rides across thelandscape."
    B.BookWriter(Vocabulary()).finish_chapter(job, 0)
    scene = job.sections[1]
    assert scene.text == "Across the landscape Mara rode within the hour. The hall of Guild men met tonight."
    assert scene.text[scene.parts[0]:] == "The hall of Guild men met tonight."
    assert job.sections[2].text == "Across thelandscape, as the user wrote it."
    assert job.chapters[0].summary == "Mara rides across the landscape."
    # a backend that cannot tell words (a remote server) splits only a word glued to a capital
    job.sections[1].text = first + second
    B.BookWriter(ChatBookBackend()).finish_chapter(job, 0)
    assert job.sections[1].text == "Across thelandscape Marra rode within the hour. The hall of Guild men met tonight."


def test_a_fallback_chapters_middle_scenes_turn_on_different_people_of_the_story():
    # chapter 2's synopsis had two sentences: its three middle fallback scenes had the same
    # main point, and the instruct model wrote the same scene three times (26, 165, 26 words)
    w = B.BookWriter(BookBackend(scenes=0))
    job = _mara_job()
    job.chapters = [BM.Chapter("The Map", "Mara draws a map of the sea wall.", 1200),
                    BM.Chapter("The Flood", "The sea wall moves. Mara suspects the Guild.", 2400)]
    job.codex.add(CodexEntry("Mara Voss", "character", "A cartographer, 34. She drowns maps."))
    job.codex.add(CodexEntry("Tobin Reel", "character", "The harbour master; owes the Guild money."))
    job.codex.add(CodexEntry("Lowmere", "place", "A drowned town of canals."))
    job.sections = [Section(main_point="The wall", target_words=1200, chapter=0, status="done",
                            text="Mara Voss met Tobin Reel at Lowmere. Mara Voss drew. Mara Voss slept.")]
    idx = w.plan_chapter(job, 1)
    assert job.chapters[1].plan_how == "fallback"
    middle = [job.sections[i].main_point for i in idx][1:-1]
    assert len(middle) >= 3
    turns = [next(n for n in ("Mara Voss", "Tobin Reel", "Lowmere") if f"turn on {n}" in p) for p in middle[:3]]
    assert sorted(turns) == ["Lowmere", "Mara Voss", "Tobin Reel"]       # characters first, then the place
    assert turns[2] == "Lowmere" and all("The sea wall moves." in p for p in middle)


def test_the_other_chapters_phrases_are_counted_once_and_again_when_they_change():
    w = B.BookWriter(ChatBookBackend())
    job = _mara_job()
    job.sections = [Section(main_point="a", target_words=100, chapter=0, status="done",
                            text="Mara rowed across the drowned harbour at dawn."),
                    Section(main_point="b", target_words=100, chapter=1, status="writing", text="")]
    s = dataclasses.replace(w.sampling, ban_cjk=True)
    first, second = w._call_sampling(job, 1, s, "").avoid, w._call_sampling(job, 1, s, "Mara rowed across the").avoid
    assert first.followers is second.followers and second.tail == "Mara rowed across the"
    assert second.guard().banned() == {"drowned"} and first.guard().banned() == set()
    job.sections[0].text += " The gulls circled the broken lighthouse twice."
    third = w._call_sampling(job, 1, s, "").avoid
    assert third.followers is not first.followers and third.count(("circled", "the", "broken", "lighthouse")) == 1


def test_a_chapter_summary_that_numbers_its_chapter_wrongly_loses_that_opening():
    # the instruct model summed up chapter 7 of its 100,000-word book as "In Chapter 5, Duke
    # Orrin and Ilse Marren discover…"; the story so far labels each summary itself
    class Summer(ChatBookBackend):
        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            last = prompt.turns[-1][1] if prompt.turns else ""
            if "Sum it up" in last:
                return _stream(["In Chapter 5, Mara finds ", "the sea wall moved ", "overnight and sets out."], on_piece)
            return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                    cancel=cancel, allow_end=allow_end)

    job = _mara_job()
    B.BookWriter(Summer()).write_book(job, chapters=[0])
    assert job.chapters[0].summary == "Mara finds the sea wall moved overnight and sets out."
    # only such an opening goes; a summary that is nothing more keeps it
    assert B._without_chapter_opening("During this chapter, the flood rises.") == "The flood rises."
    assert B._without_chapter_opening("In chapter two, Mara and Ilse argue.") == "Mara and Ilse argue."
    assert B._without_chapter_opening("Mara reads chapter 5, then sleeps.") == "Mara reads chapter 5, then sleeps."
    assert B._without_chapter_opening("In Chapter 5, she wept.") == "In Chapter 5, she wept."


def test_a_part_that_copies_sentences_of_a_written_chapters_summary_is_a_copy():
    # the instruct model's parts for the rest of its 100,000-word book, after ten chapters
    summary = ("As the Duke retreats, the Greywater continues its course without interruption. Cartographers "
               "and townspeople are left to wonder what has happened to their world. They gather together again "
               "and decide on a new course of action. They will continue to study the Greywater and use its "
               "power to their advantage.")
    synopsis = ("The Duke, with the help of his men, attempts to move the Greywater. It is met with fierce "
                "resistance from the Guild and other cartographers. The Duke's plans are thwarted, and he is "
                "forced to retreat.")
    written = [BP.chapter_keys("The Greywater's Movement", f"{synopsis} {summary}")]
    copy = BP.chapter_keys("The Greywater's New Course", "As the Duke retreats, the Greywater continues its course "
                           "without interruption. Cartographers and townspeople are left to wonder what has "
                           "happened to their world.")
    new = BP.chapter_keys("The New Continent's Formation", "The guild creates a new continent in Saltmarsh, using "
                          "the Greywater's power to manipulate the land's properties.")
    assert BP.copies(copy, written) and not BP.copies(new, written)
    # overlap with all the chapter tells misses the copy: it tells a part of it
    assert BP.synopsis_overlap(copy, written[0]) < BP.REPEAT_OVERLAP


class RetellsEveryTopUp(WillNotGoOn):
    """A chat model whose every extra scene retells the chapter's first: its chapters end short."""

    def __init__(self, job, **kw) -> None:
        super().__init__(**kw)
        self.job = job

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        last = prompt.turns[-1][1] if prompt.turns else ""
        if "Plan one more scene" in last:
            k = int(re.search(r"Scene (\d+) - Title", last).group(1))
            c = int(re.search(r"Chapter (\d+) is still", last).group(1)) - 1
            first = self.job.sections[BM.chapter_scenes(self.job, c)[0]].main_point
            return self._answer(prompt, f"Scene {k} - Title: Again - Main Point: {first} - Word Count: 300 words\n\n",
                                on_piece)
        return super().generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece,
                                cancel=cancel, allow_end=allow_end)


def _three_chapters() -> Project:
    job = Project(instruction="Write a 3600-word fantasy novel in chapters about Mara Voss.", target_words=3600)
    job.chapters = [BM.Chapter("The Map", "Mara draws a map of the sea wall.", 1200),
                    BM.Chapter("The Flood", "The sea wall moves.", 1200),
                    BM.Chapter("The Tide", "Lowmere drowns at last.", 1200)]
    return job


def test_what_a_short_chapter_lacks_is_carried_into_the_chapters_after_it(tmp_path):
    # the instruct model's 100,000-word novel ended at 82,951 words: each chapter the model
    # could not bring onto its target lost what it lacked
    job = _three_chapters()
    job.path = tmp_path / "tide.longhand"
    events = []
    B.BookWriter(RetellsEveryTopUp(job, wants_end_after=150)).write_book(job, on_event=events.append)
    done = [e for e in events if isinstance(e, EV.ChapterDone)]
    words = [BM.chapter_words(job, c) for c in range(3)]
    assert len(done) == 3 and all(e.short and e.words < BM.CHAPTER_LANDS * e.target_words for e in done)
    # chapter 2 takes its share (half: its target of the 2,400 planned after chapter 1) of what
    # chapter 1 lacks; chapter 3 all that chapters 1 and 2 lack, up to half its target
    lack_1 = 1200 - words[0]
    assert job.chapters[1].carried == round(lack_1 / 2) > 0
    assert job.chapters[2].carried == min(3600 - words[0] - words[1] - 1200, 600) > job.chapters[1].carried
    assert job.chapters[0].carried == 0
    for c in (1, 2):
        ch = job.chapters[c]
        # planned and written to its goal; its planned target stays, and the plan adds up
        assert ch.target_words == 1200 and ch.goal == 1200 + ch.carried
        assert sum(job.sections[i].target_words for i in BM.chapter_scenes(job, c)) == ch.goal
        assert done[c].target_words == ch.goal
    assert BM.check_totals(job) == []
    # kept in the project file
    job.save()
    again = Project.load(job.path)
    assert [ch.carried for ch in again.chapters] == [ch.carried for ch in job.chapters]


def test_nothing_is_carried_over_the_users_own_numbers_or_into_a_locked_chapter():
    job = _three_chapters()

    def chapter_1(words: int, status: str = "done") -> None:
        job.sections = [Section(main_point="Mara draws the wall.", target_words=1200, chapter=0,
                                text=" ".join(["word"] * words) + ".", status=status)]

    chapter_1(600)
    assert BM.carry_into(job, 1) == 300
    # a chapter that ran long carries nothing (and takes nothing from the others)
    chapter_1(1500)
    assert BM.carry_into(job, 1) == 0
    chapter_1(600)
    # a locked chapter keeps its number
    job.chapters[1].locked = True
    assert BM.carry_into(job, 1) == 0
    job.chapters[1].locked = False
    # chapter targets the user made add up to something else than the book's: their plan stands
    job.chapters[2].target_words = 1000
    assert BM.check_totals(job) and BM.carry_into(job, 1) == 0
    job.chapters[2].target_words = 1200
    # nor before the chapters before it are written
    chapter_1(600, status="writing")
    assert BM.chapter_status(job, 0) == "writing" and BM.carry_into(job, 1) == 0
    # at most half a chapter's target
    job.chapters, job.target_words = job.chapters[:2], 2400
    chapter_1(5)
    assert BM.carry_into(job, 1) == int(BM.CARRY_MAX * 1200)
