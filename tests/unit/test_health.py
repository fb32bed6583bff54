"""Issue 14: the health check, recovery instead of padding, language and subject of plans."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from fakes import ScriptedBackend
from longhand.core.backends.base import Generation, Steer
from longhand.core.backends.formats import FORMATS
from longhand.core.engine.events import SectionDone, SectionRecovery
from longhand.core.engine.plan import DONE, EDITED, Section, fallback_plan, make_plan, plan_problem
from longhand.core.engine.prompts import example_plan, plan_prompt, synopsis, write_prompt
from longhand.core.engine.writer import AgentWriter, Job
from longhand.core.projects.project import Project
from longhand.core.text.health import DEFAULT, HealthMonitor, Thresholds, check_text, compression_ratio, junk_share
from longhand.core.text.language import EN, ZH, detect_language, language_share
from longhand.core.text.wordcount import count_words

DATA = Path(__file__).resolve().parents[1] / "data"

# The collapse quoted in the issue (a 10,000-word essay on main), and clean prose.
COLLAPSED = ("The library ltollsons litollos litollous the es es es es ue ue ue ltol li to lo es ue "
             "litollous ltollsons es es ue ue li li to es es ue ue ue ") * 6
CLEAN = ("The town library opened in 1883 in two rooms above the post office. Its first librarian, "
         "a retired schoolteacher called Agnes Moore, kept the catalogue in a ledger and lent books "
         "to anyone who could sign their name. Farmers borrowed almanacs, children borrowed adventure "
         "stories, and the doctor borrowed everything about tropical fevers. When the railway came, "
         "the collection doubled within a decade, and the council finally agreed to build a proper "
         "reading room with tall windows, oak tables and gas lamps that hissed through the winter "
         "evenings. ")

_SYL = ["ka", "lo", "mi", "ren", "tu", "sa", "vel", "no", "bri", "da", "fen", "go", "hul", "ji", "mar", "pe"]


def prose(seed: int):
    """Endless sentences of made-up words that never loop (pieces with leading spaces)."""
    x = seed
    for i in itertools.count():
        x = (x * 1103515245 + 12345) % (2 ** 31)
        word = "".join(_SYL[(x >> s) % 16] for s in (0, 4, 8))
        word = "River boats" if i % 8 == 0 else word      # (on the subject: no drift)
        yield f" {word}{'.' if i % 8 == 7 else ''}"


def filler(seed: int) -> str:
    """A paragraph of prose that never repeats itself (120 pieces of :func:`prose`)."""
    return "".join(itertools.islice(prose(seed), 120)).strip() + "\n"


def junk():
    """The issue's collapse, endlessly."""
    return itertools.cycle([" es", " ue", " li", " to", " ltollsons", " es", " es", " ue"])


def stream(pieces, max_tokens: int, on_piece) -> Generation:
    """Send ``pieces`` (at most ``max_tokens``) to ``on_piece`` until it says stop."""
    out, finish = [], "length"
    for piece in itertools.islice(pieces, max_tokens):
        out.append(piece)
        steer = (on_piece(piece) if on_piece else None) or Steer()
        if steer.stop:
            finish = "stop"
            break
    return Generation("".join(out), finish, 100, 10, len(out), 0.01)


class CollapsingBackend(ScriptedBackend):
    """Writes good sentences, then junk after ``good_words`` words, unless the seed is in
    ``healthy_seeds`` (recovery changes the seed: the text then stays healthy)."""

    def __init__(self, good_words: int = 60, healthy_seeds=(), **kw) -> None:
        super().__init__(**kw)
        self.good_words = good_words
        self.healthy_seeds = set(healthy_seeds)
        self.seeds: list = []
        self._n = 0

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        self.calls += 1
        self.seeds.append(sampling.seed if sampling else None)
        healthy = sampling is not None and sampling.seed in self.healthy_seeds
        self._n += 1
        good = prose(self._n * 7919)
        pieces = good if healthy else itertools.chain(itertools.islice(good, self.good_words), junk())
        return stream(pieces, max_tokens, on_piece)


def job_of(*targets, instruction="Write an essay about river boats and their crews."):
    return Job(instruction=instruction, target_words=sum(targets),
               sections=[Section(main_point=f"River boats, part {i}", target_words=t) for i, t in enumerate(targets)])


# ---------------------------------------------------------------------------------------
# The measures

def test_junk_and_compression_separate_the_issues_collapse_from_prose():
    assert junk_share(COLLAPSED) > 0.5 and junk_share(CLEAN) == 0.0
    assert compression_ratio(COLLAPSED) < 0.2 < 0.45 < compression_ratio(CLEAN)
    assert check_text(CLEAN, EN).ok
    bad = check_text(COLLAPSED, EN)
    assert not bad.ok and bad.kind in ("junk", "loop")


def test_initials_and_abbreviations_are_not_fragments():
    text = ("J. R. R. Tolkien wrote it, e.g. in Oxford; the outcome(s) of the war (a) and (b) mattered. "
            "[k] Why should I consider this course? [l] What does your manager like most? ") * 8
    assert junk_share(text) == 0.0
    # ordinals and units after a number (en07's transport history, stopped at 0.03 "fragments")
    numbers = ("In the late 19th and early 20th centuries the wall ran 3,000 km; the 2nd line carried "
               "goods at 25 mph from 10am, 40 km/h on the 1st of May, loads of 5 kg and 12 ft. ") * 6
    assert junk_share(numbers) == 0.0
    # but fragments stay fragments when a number stands before the first of them
    assert junk_share("The 2 es es ue ue li to es ue li " * 6) > 0.5


def test_language_of_requests_and_texts():
    assert detect_language("写一篇5000字的小说，讲一个在山村小学支教一年的年轻人和他的学生们。") == ZH
    assert detect_language("写一篇关于 Python 编程的2000字文章") == ZH
    assert detect_language("Write a 300-word story about a cat named 小白.") == EN
    assert language_share("山村小学的早晨很安静。", ZH) == 1.0
    english = "The village school was quiet in the morning, " * 5 + "山村小学"
    assert language_share(english, ZH) < 0.2 and language_share(english, EN) > 0.8
    assert language_share("", ZH) is None


def test_monitor_stops_junk_and_cuts_back_to_the_last_healthy_sentence():
    m = HealthMonitor(EN, topic_text="library town books")
    text, stopped = "", None
    for piece in re.findall(r"\S+\s*", CLEAN + COLLAPSED):
        text += piece
        stopped = m.feed(text)
        if stopped:
            break
    assert stopped is not None and stopped.kind in ("junk", "loop")
    assert len(text) < len(CLEAN) + 200            # stopped soon after the collapse began
    kept = m.healthy_prefix(text)
    assert kept and CLEAN.startswith(kept) and kept.endswith(".")
    assert junk_share(kept) == 0.0


def test_monitor_catches_a_copy_of_earlier_text_and_the_wrong_language():
    m = HealthMonitor(EN, reference=CLEAN * 2)
    assert m.feed(CLEAN, final=True).kind == "loop"
    z = HealthMonitor(ZH)
    assert z.feed(CLEAN, final=True).kind == "language"
    assert HealthMonitor(ZH).feed("山村小学的早晨很安静，孩子们沿着山路走来，书包里装着母亲烙的饼。老师站在门口，"
                                  "一个一个地叫他们的名字。教室的窗户破了一块玻璃，冬天的风从那里钻进来，大家就把"
                                  "课桌往炉子边挪一挪。", final=True) is None


def test_monitor_judges_text_regrown_after_a_cut():
    m = HealthMonitor(EN)
    assert m.feed(CLEAN * 1, final=True) is None
    kept = CLEAN[:200]
    m.feed(kept)                                        # cut back: shorter than what was judged
    at = None
    for i in range(len(kept), len(kept) + len(COLLAPSED), 7):
        if m.feed((kept + COLLAPSED)[:i]) is not None:
            at = i
            break
    assert at is not None and at < len(CLEAN)          # not blind until the old length


def test_monitor_never_judges_the_protected_text():
    m = HealthMonitor(EN, protected=len(COLLAPSED))
    assert m.feed(COLLAPSED, final=True) is None
    assert m.healthy_prefix(COLLAPSED + " and then") == COLLAPSED.rstrip()


# ---------------------------------------------------------------------------------------
# Recovery in the engine

def test_a_collapsing_section_is_recovered_under_changed_conditions():
    backend = CollapsingBackend(good_words=60, healthy_seeds={5 + 7919})
    events = []
    w = AgentWriter(backend, seed=5, memory=False)
    w.write(job := job_of(300), on_event=events.append)
    sec = job.sections[0]
    rec = [e for e in events if isinstance(e, SectionRecovery)]
    assert len(rec) == 1 and rec[0].kind in ("junk", "loop")
    assert backend.seeds[:2] == [5, 5 + 7919]           # another seed after the failure
    assert junk_share(sec.text) <= 0.03 and not sec.needs_attention
    assert 0.92 * 300 <= sec.words <= 1.12 * 300
    done = [e for e in events if isinstance(e, SectionDone)][0]
    assert done.recoveries == 1 and done.words == sec.words


def test_recovery_is_bounded_and_a_hopeless_section_ends_short_marked():
    backend = CollapsingBackend(good_words=50)        # every seed collapses
    events = []
    w = AgentWriter(backend, seed=1, memory=False)
    stats = w.write(job := job_of(300, 200), on_event=events.append)
    first = job.sections[0]
    assert first.needs_attention and first.status == DONE
    assert first.words < 0.92 * 300                      # ends short rather than padded with junk
    assert junk_share(first.text) <= 0.03
    rec = [e for e in events if isinstance(e, SectionRecovery) and e.index == 0]
    assert len(rec) == w.length.max_recoveries + 1
    # the job goes on with the next section, and counts only the healthy words
    assert job.sections[1].status == DONE
    assert stats.words == job.words == sum(count_words(s.text) for s in job.sections)
    assert stats.needs_attention == sum(s.needs_attention for s in job.sections) >= 1


def test_a_users_own_text_is_never_judged_or_cut():
    job = job_of(300)
    job.sections[0].text = COLLAPSED.strip()             # what the user typed, however odd
    job.sections[0].status = EDITED
    w = AgentWriter(CollapsingBackend(good_words=10 ** 6), seed=3, memory=False)
    w.write_section(job, 0, mode="extend", extra_words=60)
    assert job.sections[0].text.startswith(COLLAPSED.strip())
    assert job.sections[0].words >= count_words(COLLAPSED) + 55


def test_needs_attention_is_saved_and_old_files_load_without_it(tmp_path):
    p = Project(instruction="Write an essay about boats.", target_words=300,
                sections=[Section("Boats", 300, text="Boats float.", status=DONE, needs_attention=True)])
    p.path = tmp_path / "a.longhand"
    p.save()
    data = json.loads(p.path.read_text("utf-8"))
    assert data["sections"][0]["needs_attention"] is True
    assert Project.open(p.path).sections[0].needs_attention is True
    del data["sections"][0]["needs_attention"]
    (tmp_path / "old.longhand").write_text(json.dumps(data), "utf-8")
    old = Project.open(tmp_path / "old.longhand")
    assert old.sections[0].needs_attention is False and not old.warnings


# ---------------------------------------------------------------------------------------
# Plans: language, subject, distinct steps

def test_fallback_plans_never_repeat_a_step_and_speak_the_requests_language():
    for instruction in ("Write a 10000-word essay on the history of public libraries.",
                        "Write a 20000-word story about a lighthouse keeper.",
                        "写一篇10000字的小说，讲一个在山村小学支教一年的年轻人。",
                        "写一份8000字的调研报告，分析共享单车的效果。"):
        lang = detect_language(instruction)
        for target in (100, 900, 3000, 10000, 40000):
            plan = fallback_plan(instruction, target)
            points = [s.main_point for s in plan]
            heads = [s.heading for s in plan]
            assert len(set(points)) == len(points) and len(set(heads)) == len(heads), (instruction, target)
            assert sum(s.target_words for s in plan) == target
            for p in points:
                assert (language_share(p, ZH) or 0) > 0.9 if lang == ZH else (language_share(p, EN) or 0) > 0.9
    essay = fallback_plan("Write a 10000-word essay on the history of public libraries.", 10000)
    assert essay[0].main_point.startswith("Introduction")       # "history" is not a story


def test_a_plan_copying_the_example_or_missing_the_subject_is_refused():
    ex = example_plan(ZH, 0)
    copied, _ = make_plan("写一篇1500字的小说，讲一位老木匠在退休前接下的最后一份订单。", 1500,
                          ex.split("\n", 2)[2])
    assert plan_problem("写一篇1500字的小说，讲一位老木匠在退休前接下的最后一份订单。", copied, ex) == "copies the example"
    en_ex = example_plan(EN, 0)
    bike, _ = make_plan("Write a 1200-word essay about the history of tea.", 1200, en_ex.split("\n", 2)[2])
    assert plan_problem("Write a 1200-word essay about the history of tea.", bike, en_ex) == "copies the example"
    tea = [Section("Tea reaches Europe on Dutch ships", 600), Section("The tea clippers race home", 600)]
    assert plan_problem("Write a 1200-word essay about the history of tea.", tea, en_ex) == ""
    off = [Section("The dragon wakes up", 600), Section("The knight rides out", 600)]
    assert plan_problem("Write a 1200-word essay about the history of tea clippers.", off) == "off the subject"


def test_the_engine_asks_again_then_falls_back_when_plans_copy_the_example():
    ex = example_plan(EN, 0).split("\n", 2)[2]
    backend = ScriptedBackend(style="completion", plan_text=" " + ex.split(" - Main Point: ", 1)[1])
    w = AgentWriter(backend, seed=1, memory=False)
    w.use_grammar = False
    sections = w.plan("Write a 1200-word essay about the history of tea.", 1200)
    assert w.plan_checks == ["copies the example", "copies the example"]
    assert backend.calls == 2
    assert not any("bicycle" in s.main_point.lower() or "drais" in s.main_point.lower() for s in sections)


def test_prompts_are_in_the_requests_language():
    zh = "写一篇1500字的小说，讲一位老木匠在退休前接下的最后一份订单。"
    plan = fallback_plan(zh, 1500)
    base = write_prompt(FORMATS["completion"], zh, plan, 1, [plan[0].main_point]).text()
    assert "目录：" in base and "Contents:" not in base and "words)" not in base
    assert synopsis(zh) == "小说，讲一位老木匠在退休前接下的最后一份订单。"
    chat = write_prompt(FORMATS["longwriter-glm4"], zh, plan, 1, ["从前"]).text()
    assert "用中文写" in chat and "Writing task" not in chat and "words" not in chat
    firm = write_prompt(FORMATS["longwriter-glm4"], zh, plan, 1, ["从前"], firm=True).text()
    assert "只用中文写作" in firm
    assert "要求：" in plan_prompt(FORMATS["completion"], zh, 1500, 3).text()
    assert plan_prompt(FORMATS["completion"], zh, 1500, 3, example=1).text() != \
        plan_prompt(FORMATS["completion"], zh, 1500, 3, example=0).text()


# ---------------------------------------------------------------------------------------
# Words run together, garbled plans, the plan format leaking into the text (the novel
# benchmark's collapse: the novel_runon_before scenes in tests/data/health_calibration)

RUN_ON = ("Threetheymethedonewellseendowardearth. It was not legible for herto know what land they were "
          "goingtoundeepothereitherwithorwithoutoneofthe otherworldthathas beennotsoldforthereachday. "
          "As soon asshe arrivedintheriverlandtherewasan old woman which told the story todelaythatdream. ") * 4


def test_words_run_together_are_junk_but_long_real_words_are_not():
    from longhand.core.text.health import run_on_share
    assert run_on_share(RUN_ON) > 0.08
    technical = ("Telecommunications and industrialization changed the responsibilities of every "
                 "town council in the region, and the library followed. ")
    assert run_on_share(technical) == 0.0 and check_text(technical + CLEAN, EN).ok
    bad = check_text(RUN_ON, EN)
    assert not bad.ok and bad.kind == "junk" and "run together" in bad.reasons[0]
    m = HealthMonitor(EN, topic_text="land river map")
    text, stopped = "", None
    for piece in re.findall(r"\S+\s*", CLEAN + RUN_ON):
        text += piece
        stopped = stopped or m.feed(text)
    assert stopped is not None and stopped.kind == "junk"
    assert CLEAN.startswith(m.healthy_prefix(text))


def test_a_garbled_plan_is_refused_and_garbled_chapter_lines_are_dropped():
    from longhand.core.engine.book_plan import parse_chapters
    from longhand.core.text.health import garbled
    assert garbled("AfterNell leaves - Word count: 2551 wordsChapter 40, Nell returns to her home")
    assert garbled("eachchaptercontainsasemanticofthestoryofthenight before")
    assert garbled("The children play games (207 words | Written By: Jessica e-bookBookWord Count: 49812 words)")
    assert not garbled("The cartographer redraws the river and the valley floods overnight")
    assert garbled("的点点") and garbled("还要点点") and garbled("点点点点点点点点点点")
    assert not garbled("在山村小学里教一年的学生们的生活") and not garbled("老木匠接下最后一份订单")
    instruction = "Write a 3000-word fantasy novel about a cartographer whose maps change the land."
    good = [Section(f"The cartographer maps the land, part {i}", 600) for i in range(4)]
    junk = [Section("Nell goeson an adventure withanotherfriendwhodidnotlikethem and the land", 600)] * 2
    assert plan_problem(instruction, good) == ""
    assert plan_problem(instruction, good + junk) == "garbled"
    chapters = parse_chapters(
        "Chapter 1 - Title: The Map - Synopsis: Ada draws a river and it appears. - Word Count: 2500 words\n"
        "Chapter 2 - Title: Land - Synopsis: eachchaptercontainsasemanticofthestory - wordcount; somatothe "
        "- Word Count: 2500 words\n"
        "Chapter 3 - Title: The Flood - Synopsis: The valley floods where she inked a lake. - Word Count: 2500 words\n")
    assert [c.title for c in chapters] == ["The Map", "The Flood"]
    cut = parse_chapters("Chapter 1 - Title: Sleep - Synopsis: The miller wakes up and sees an empty field. "
                         "It seems as though this may be the - Word Count: 2500 words")
    assert cut[0].synopsis == "The miller wakes up and sees an empty field."     # cut by the grammar's bound


def test_the_plan_format_leaking_into_the_text_is_cut():
    from longhand.core.engine.writer import _cut_leak
    assert _cut_leak("She met two children who had no memory - Word count: 511 words") == \
        "She met two children who had no memory"
    assert _cut_leak("And so it ended.\n\nScene 6 - Main Point: Nell leaves") == "And so it ended.\n"
    assert _cut_leak("They slept.\n\n***Chapter 10: In An Attempt") == "They slept.\n"
    assert _cut_leak("They slept.\n\n**Scene: Children's faces") == "They slept.\n"
    assert _cut_leak("They slept.\nScenes like this were common.") == "They slept.\nScenes like this were common."
    assert _cut_leak("Nobody kept a word count of the letters.") == "Nobody kept a word count of the letters."


class LeakingBackend(ScriptedBackend):
    """Writes ``words`` words, then every call after the first starts another part at once."""

    def __init__(self, words: int) -> None:
        super().__init__()
        self.words = words

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        self.calls += 1
        self.prompts.append(prompt)
        body = "".join(itertools.islice(prose(3), self.words)) if self.calls == 1 else ""
        text = body + "\n## Another part - Main Point: boats - Word Count: 300 words\n" + "More boats. " * 50
        out = []
        for piece in re.findall(r"\S*\s*", text):
            out.append(piece)
            if on_piece and on_piece(piece).stop:
                return Generation("".join(out), "stop", 100, 10, len(out), 0.01)
        return Generation("".join(out), "length", 100, 10, len(out), 0.01)


def test_a_stalled_section_is_cut_back_and_retried_then_left_short_and_marked():
    backend = LeakingBackend(words=90)
    w = AgentWriter(backend, seed=1, memory=False)
    job = job_of(300)
    events = []
    w.write(job, on_event=events.append)
    sec = job.sections[0]
    assert sec.status == DONE and sec.words < 0.8 * 300
    assert "Main Point" not in sec.text and "Word Count" not in sec.text
    assert sec.needs_attention, "a short section must never pass as done"
    # two empty continuations in a row are a stall: the last sentence goes, and the next call
    # samples another way; bounded like the other recoveries
    stalls = [e for e in events if isinstance(e, SectionRecovery)]
    assert [e.kind for e in stalls] == ["stall"] * w.length.max_recoveries
    assert all(e.words_cut > 0 for e in stalls)
    assert len({p.text() for p in backend.prompts[1:]}) > 1


def test_a_section_a_few_words_short_is_a_landing_not_a_failure():
    backend = LeakingBackend(words=76)           # 86 words of 100: under allow_end, over "short"
    backend.info.prompt_style = "completion"     # (a chat model's ending is accepted from 60 %)
    w = AgentWriter(backend, seed=1, memory=False)
    job = job_of(100)
    w.write(job)
    assert not job.sections[0].needs_attention and job.sections[0].words >= 80
    assert backend.calls == 3          # the first call, then two empty ones: stalled, kept


class RunOnBackend(ScriptedBackend):
    """Writes one long sentence after a first short one: no sentence ends near the target."""

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        self.calls += 1
        words = itertools.islice(prose(5), 10**6)
        first = "".join(itertools.islice(words, 80)).replace(".", ",") + "."   # 90 words
        text = first + "".join(w.replace(".", ",") for w in words)
        out = []
        for piece in re.findall(r"\S*\s*", text)[:max_tokens]:
            out.append(piece)
            if on_piece and on_piece(piece).stop:
                return Generation("".join(out), "stop", 100, 10, len(out), 0.01)
        return Generation("".join(out), "length", 100, 10, len(out), 0.01)


def test_a_section_never_ends_mid_sentence_when_a_shorter_finished_one_is_not_short():
    w = AgentWriter(RunOnBackend(), seed=1, memory=False)
    job = job_of(110)
    w.write(job)
    sec = job.sections[0]
    assert sec.text.endswith(".") and 0.8 * 110 <= sec.words < 0.92 * 110
    assert not sec.needs_attention


def test_a_loop_of_short_lines_is_stopped_and_cut_before_its_third_repeat():
    # the novel benchmark's scene 87: each line repeats, the 4-gram share stays at 0.40
    text = CLEAN + ("\n\n***Thank God for dreams!!!\n\n***I could not sleep!!!\n\n***I was in bed.") * 4
    m = HealthMonitor(EN, topic_text="library town books")
    stopped = None
    for i in range(5, len(text) + 1, 5):
        stopped = stopped or m.feed(text[:i])
    assert stopped is not None and stopped.kind == "loop" and "repeats 3 times" in stopped.reasons[0]
    kept = m.healthy_prefix(text)
    assert kept.count("Thank God for dreams") <= 2
    # a two-word heading used three times ("In conclusion", a clean essay of the calibration set)
    # is not a loop; three-word lines are counted
    from longhand.core.text.health import repeated_line
    assert repeated_line("In conclusion\nIt rained.\nIn conclusion\nIn conclusion") == (0, "")
    assert repeated_line("I was in bed.\n***I was in bed!\nI WAS IN BED") == (3, "i was in bed")


FORMULA = "And that is how the story goes on."


class FormulaBackend(ScriptedBackend):
    """The zh08 failure in miniature: a paragraph that ends on a closing formula pulls the
    model into junk whenever it is asked to write on after it; from anywhere else it writes
    on cleanly. The first call writes two paragraphs, the formula, then junk."""

    def __init__(self, always_fail: bool = False, after: str = "", **kw) -> None:
        super().__init__(**kw)
        self.always_fail = always_fail       # from the second call on, junk from anywhere
        self.after = after                   # what follows the formula (empty list items...)
        self.continued_from: list[str] = []

    def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
        self.calls += 1
        before = prompt.text().rstrip()
        self.continued_from.append(before[-40:])
        good = prose(self.calls * 31)
        if self.calls == 1:
            head = [next(good) for _ in range(40)] + ["\n\n"] + [next(good) for _ in range(24)]
            pieces = itertools.chain(head, [" " + FORMULA + self.after], junk())
        elif before.endswith(FORMULA + self.after.rstrip()) or self.always_fail:
            pieces = junk()
        else:
            pieces = good
        return stream(pieces, max_tokens, on_piece)


@pytest.mark.parametrize("after", ["", "\n\n1.\n\n2.\n\n3."], ids=["formula", "then empty list items"])
def test_a_recovery_failing_at_the_same_spot_cuts_further_back(after):
    backend = FormulaBackend(after=after)
    events = []
    w = AgentWriter(backend, seed=1, memory=False)
    w.write(job := job_of(200), on_event=events.append)
    sec = job.sections[0]
    rec = [e for e in events if isinstance(e, SectionRecovery)]
    # the first recovery keeps the formula (it is a healthy sentence); the second fails at the
    # same spot and takes the formula's paragraph with it; then the section is written on
    assert len(rec) == 2, [(e.kind, e.words_kept) for e in rec]
    assert rec[1].words_kept < rec[0].words_kept
    assert FORMULA not in sec.text and not sec.needs_attention
    assert sec.words >= 0.92 * 200 and junk_share(sec.text) <= 0.03
    assert not backend.continued_from[-1].endswith(FORMULA)


def test_a_hopeless_section_keeps_the_most_healthy_text_any_attempt_reached():
    events = []
    w = AgentWriter(FormulaBackend(always_fail=True), seed=1, memory=False)
    w.write(job := job_of(200), on_event=events.append)
    sec = job.sections[0]
    rec = [e for e in events if isinstance(e, SectionRecovery)]
    kept = [e.words_kept for e in rec]
    # each failed attempt cut further back; giving up, the section keeps the longest healthy text
    assert len(rec) == w.length.max_recoveries + 1 and kept[1] < kept[0], kept
    assert sec.needs_attention and sec.words == kept[-1] == max(kept)
    assert FORMULA in sec.text and junk_share(sec.text) == 0.0


def test_the_same_part_written_again_in_a_third_section_is_a_loop_a_recurring_heading_is_not():
    part = ("A small win / reward\n\nThe setting of this short video shows an unexpected event where "
            "Mr Kingfisher works late.\n")
    reference = "\n\n".join(filler(k) + part for k in (1, 2))
    bad = HealthMonitor(EN, reference=reference).feed(filler(3) + part + filler(4), final=True)
    assert bad is not None and bad.kind == "loop" and "small win" in " ".join(bad.reasons)
    # twice is not yet a loop
    assert HealthMonitor(EN, reference=filler(1) + part).feed(filler(3) + part + filler(4), final=True) is None
    # a report's recurring sub-heading before different paragraphs is no loop either
    report = "\n\n".join(f"Key points of the chapter\n\n{filler(k)}" for k in (5, 6))
    m = HealthMonitor(EN, reference=report)
    assert m.feed(f"Key points of the chapter\n\n{filler(7)}", final=True) is None


def test_in_a_story_a_heading_line_standing_a_third_time_is_a_loop_whatever_follows_it():
    heading = "A small win / reward\n\n"
    reference = "\n\n".join(heading + filler(k) for k in (1, 2))
    third = filler(3) + heading + filler(4)
    bad = HealthMonitor(EN, reference=reference, story=True).feed(third, final=True)
    assert bad is not None and bad.kind == "loop" and "small win" in " ".join(bad.reasons)
    # the same in a report: a recurring sub-heading before different paragraphs
    assert HealthMonitor(EN, reference=reference).feed(third, final=True) is None


def test_a_count_with_nothing_in_it_is_a_loop():
    # zh01 on the demo model: "1.\n\n2.\n\n3. ... 147." under one Chinese sentence, tokens
    # that are no words, so no other measure and no length target ever stopped it
    start = "根据书本或课本的课本底表，填写下填的内容，以便于根据内容顺序进行补课的依据。\n\n"
    bad = HealthMonitor(ZH).feed(start + "".join(f"{i}.\n\n" for i in range(1, 9)), final=True)
    assert bad is not None and bad.kind == "loop" and "list items" in bad.reasons[0]
    # zh07: the same with dashes before the numbers
    bad = HealthMonitor(ZH).feed(start + "".join(f"-- {i}.\n\n" for i in range(40, 48)), final=True)
    assert bad is not None and "list items" in bad.reasons[0]
    # a real list, or a few empty items, is fine
    items = ["先把落下的课本找出来", "按照目录顺序排好", "每天读一篇新的课文", "抄写生词并且造句",
             "做完课后的全部练习", "不懂的地方问老师", "周末和同学一起复习", "最后做一次小测验"]
    real = start + "".join(f"{i}. {item}。\n" for i, item in enumerate(items, 1))
    assert HealthMonitor(ZH).feed(real, final=True) is None
    assert HealthMonitor(EN).feed("Items to fill in:\n1.\n2.\n3.\n" + CLEAN, final=True) is None


# The instruct model's first answer to a scene (abridged) and two answers it gave when asked to
# go on: one starts the scene over in other words, one goes on with it.
_SCENE = (
    "In the narrow alleyway leading to Ilse's workshop, the air was thick with the scent of damp earth and "
    "salt. She sat alone at her desk, her silver-nibbed pen resting against the edge of the desk.\n\n"
    "With a heavy heart, she stood up from her desk and walked towards the door. As she reached for the "
    "handle, she heard a faint noise coming from outside. It was the sound of water rushing through the "
    "Greywater river, a sound that she had never heard before.\n\n"
    "She turned around quickly and saw the fishermen standing at the edge of the river, their faces filled "
    "with awe. They looked at each other with a mix of surprise and gratitude.\n\n"
    "Ilse took a deep breath and walked back into the workshop. She sat down on the edge of the desk and "
    "began drawing out another map.\n\n")
_STARTS_OVER = (
    "As Ilse walked back into the workshop, she noticed that the air was thicker than usual. It seemed to be "
    "filled with the scent of salt and damp earth. She could hear the sound of water rushing through the "
    "river, a sound she had never heard before.\n\nShe turned around quickly and saw the fishermen still "
    "standing at the edge of the river.")
_GOES_ON = (
    "By midnight the map was finished, and Ilse carried it down to the harbour wall. The tide had turned "
    "early, and three boats lay stranded on the mud where the channel had run the week before. Old Petra, "
    "mending nets by lantern light, asked her what the Guild would make of it.")


def test_an_answer_that_starts_the_scene_over_in_other_words_is_found_and_one_that_goes_on_is_not():
    from longhand.core.text.health import retold_share
    share, n = retold_share(_STARTS_OVER, _SCENE)
    assert n == 3 and share >= DEFAULT.retold
    share, n = retold_share(_GOES_ON, _SCENE)
    assert n == 3 and share < 0.4
    # the monitor cuts a retold answer back to where it began, once three sentences stand
    text = _SCENE + _STARTS_OVER
    mon = HealthMonitor("en")
    bad = mon.retold(text, len(_SCENE))
    assert bad is not None and bad.kind == "loop" and bad.cut_to == len(_SCENE)
    assert mon.retold(_SCENE + _GOES_ON, len(_SCENE)) is None
    # (text the user kept is never judged)
    assert HealthMonitor("en", protected=len(text)).retold(text, len(_SCENE)) is None


def test_a_chinese_word_run_into_english_text_cuts_back_its_sentence():
    # the instruct model, its English story penalised on " her": "through她的 body"
    from longhand.core.text.health import HealthMonitor
    text = ("She stood by the sea. The storm broke over the harbor, and she felt a surge of power "
            "coursing through她的 body. She knew what it meant.")
    m = HealthMonitor("en", reference="Ilse walked to the harbor.", protected=0)
    h = m.judge(text)
    assert not h.ok and h.reasons == ["language: a Chinese word in en text: 'through她的'"]
    assert text[:h.cut_to] == "She stood by the sea. "
    # a protected prefix counts in the cut; text the book already holds (a name of the user's) is not a slip
    m = HealthMonitor("en", reference="The inn was called 海风.", protected=22)
    assert m.judge(text).cut_to == 22
    assert HealthMonitor("en", reference="The inn was called 她的.").judge(text).ok
    # ... but a later slip in the same text is still one
    later = text + " Then she learned from我们的 mistakes."
    h = HealthMonitor("en", reference="The inn was called 她的.").judge(later)
    assert not h.ok and h.reasons == ["language: a Chinese word in en text: 'from我们的'"]
    assert later[:h.cut_to].endswith("She knew what it meant. ")
    # Chinese set apart in English text is quoted, not a slip (an article on the tea trade)
    assert HealthMonitor("en").judge('The ship "Gao Ming" (Chinese: 皇敏) was built in 1914. ' * 3).ok
    # Chinese text is judged as Chinese
    assert not any("Chinese word" in r for r in HealthMonitor("zh").judge("她的地图在桌上。" * 20).reasons)


def test_a_section_with_a_chinese_word_slipped_into_english_is_written_again_from_that_sentence():
    class Slips(CollapsingBackend):
        """Writes good prose with a Chinese word after ``good_words`` words, unless the seed
        is a healthy one."""

        def generate(self, prompt, *, max_tokens, sampling=None, on_piece=None, cancel=None, allow_end=True):
            self.calls += 1
            self.seeds.append(sampling.seed if sampling else None)
            self._n += 1
            good = prose(self._n * 7919)
            if sampling is not None and sampling.seed in self.healthy_seeds:
                return stream(good, max_tokens, on_piece)
            slip = itertools.chain(itertools.islice(good, self.good_words), [" through她的", " body."], good)
            return stream(slip, max_tokens, on_piece)

    backend = Slips(good_words=80, healthy_seeds={5 + 7919})
    events = []
    w = AgentWriter(backend, seed=5, memory=False)
    w.write(job := job_of(300), on_event=events.append)
    rec = [e for e in events if isinstance(e, SectionRecovery)]
    assert len(rec) == 1 and rec[0].kind == "language" and "她的" in rec[0].reasons[0]
    assert "她" not in job.sections[0].text and not job.sections[0].needs_attention
    assert 0.92 * 300 <= job.sections[0].words <= 1.12 * 300


# The instruct model's chapter 8, scenes 2 and 3, as its 30,000-word novel kept them: the
# third tells the second again, sentence after sentence, a word or two swapped or dropped
# ("feeling a sense relief"), which breaks the word 4-grams the loop check counts.
_VICTORY = (
    "The shadow had seemed to have won the battle against the Guild, but Ilse Marren was not willing to "
    "let it go. She knew that if she did not act soon, the Greywater would be consumed by the shadow's "
    "influence, and the entire province would be lost.\n\nIlse took a long breath, her fingers moving "
    "faster than everbefore. She began to move the maps around again, manipulating them into new shapes "
    "and positions as she worked. Each change felt like a ripple effect across the landscape. As she "
    "moved, she could feel the shadow growing weaker, its grip loosening until finally it disappeared "
    "completely.\n\nWith a surge of strength, Ilse stepped back from the workshop. The shadow had "
    "vanished, leaving Saltmarsh safe once again. The Guild's Workshop stood as a reminder of their "
    "power, but also of the dangers they had unleashed on the world.\n\nAs the shadow disappeared, Ilse "
    "looked at the river, feeling a sense of relief. It was no more, no longer cursed by the spirits of "
    "the ancient artifact. The Greywater flowed freely, as if nothing had ever happened. The sun set over "
    "Saltmarsh, casting a warm glow over the town.\n\nIn the distance, the Guild's Workshop loomed large, "
    "its walls adorned with drawings of the island's secrets. But now, they were free from the shadow's "
    "influence. They could finally return to their work and continue to draw maps that would change "
    "reality.\n\nThe Cartographers' Victory was over, but the battle for reality was far from over. The "
    "shadow would always be lurking in the shadows, waiting for another opportunity to strike. But for "
    "now, Saltmarsh was safe once again, and the Cartographers were ready to take on whatever challenges "
    "came their way.")
_RETOLD = (
    "It was a long day at the Workshop, and Ilse had worked tirelessly all morning. She had drawn "
    "countless maps, each one with its own secrets and mysteries. But today, as she stood at the end of "
    "her day, she knew that her efforts would come to an end.\n\nThe shadow had finally vanished, leaving "
    "Saltmarsh safe once again. But the Guild's Workshop stood as a reminder of its power, but also of "
    "the dangers it had unleashed on the world.\n\nAs the shadow disappeared, Ilse looked at the river, "
    "feeling a sense relief.\n\n\"Who do you think might have been responsible for this?\" she asked, her "
    "voice filled with concern.\n\n\"I don't know,\" replied the Guild leader, his eyes narrowed. \"But I "
    "can assure you that we are not alone.\"\n\nIlse nodded, her fingers moving faster than ever before. "
    "She began to move the maps again, manipulating them into new shapes, positions as she worked.")


def _streamed(monitor: HealthMonitor, text: str):
    for end in range(48, len(text) + 48, 48):
        bad = monitor.feed(text[:end], final=end >= len(text))
        if bad is not None:
            return bad
    return None


def test_a_chat_models_story_told_again_in_other_words_is_stopped_where_the_retelling_starts():
    story = HealthMonitor(EN, reference=_VICTORY, story=True, retelling=True)
    bad = _streamed(story, _RETOLD)
    assert bad is not None and bad.reasons == ["loop: 3 of the last 5 sentences tell earlier ones again in other words"]
    # cut back to the first sentence of the run that retells: what it wrote new stays
    kept = _RETOLD[:bad.cut_to]
    assert kept.rstrip().endswith("her efforts would come to an end.")
    # 4-grams miss it; so does the check without ``retelling`` (a base model's path), or in
    # a text that is not a story
    assert _streamed(HealthMonitor(EN, reference=_VICTORY, story=True), _RETOLD) is None
    assert _streamed(HealthMonitor(EN, reference=_VICTORY, retelling=True), _RETOLD) is None
    # text the user kept (protected) is never cut: the run must stand after it
    kept_by_user = HealthMonitor(EN, reference=_VICTORY, story=True, retelling=True, protected=len(_RETOLD))
    assert _streamed(kept_by_user, _RETOLD) is None


# Copies spread over a scene, new sentences between them (the instruct model's first
# 30,000-word novel on record, chapters 5 and 6: each copy beside what it copies), never three
# in any five sentences
_EARLIER_SCENE = (
    "In Saltmarsh Harbor, Ilse Marren found herself standing outside the cottage she had lived in for "
    "years. She looked out the window and saw that the river was moving again. Ilse ran outside and saw "
    "that the Duke Orrin was standing on the bridge. In disbelief, Ilse turned to face the Guild's "
    "archives, where she had left the maps after leaving Saltmarsh. She opened the sealed box and took "
    "out the latest version of her map. As she examined it more closely, she saw that the changes were "
    "not just visual; they were also physical."
)
_SPREAD = (
    "In Saltmarsh Harbor, Ilse Marren found herself standing outside the cottage she lived in for years. "
    "The gulls wheeled over the fish market, crying for scraps the boys threw from the pier. A cart of "
    "salted herring rattled past her toward the customs house. Ilse ran outside and saw that the Duke "
    "Orrin was standing on the bridge.\n\nHis cloak was soaked through, and mud clung to his riding "
    "boots up to the knee. Behind him two guardsmen argued quietly about the price of lamp oil. She "
    "turned to face the Guild's archives, where she left the maps after leaving Salt Marsh. An old "
    "clerk was sweeping the steps, humming a tune from the southern islands.\n\nA lantern swung above "
    "the door, throwing yellow light across the wet cobblestones. She opened the sealed box and took out "
    "the latest version of her map. Somewhere below, a bell rang the hour for the night watch."
)


def test_copies_spread_over_a_scene_are_a_retelling_too():
    bad = _streamed(HealthMonitor(EN, reference=_EARLIER_SCENE, story=True, retelling=True), _SPREAD)
    assert bad is not None and bad.reasons == ["loop: 4 of the last 10 sentences tell earlier ones again in other words"]
    # cut back to the first copy: the scene's opening line copied the earlier scene's
    assert bad.cut_to == 0
    # no three in any five: the run alone lets it through
    runs_only = Thresholds(retold_spread=99)
    assert _streamed(HealthMonitor(EN, reference=_EARLIER_SCENE, story=True, retelling=True,
                                   thresholds=runs_only), _SPREAD) is None
    # the new sentences alone are a scene of their own
    fresh = " ".join(x for x in re.split(r"(?<=[.])\s+", _SPREAD)
                     if not any(w in x for w in ("cottage", "bridge", "archives", "sealed box")))
    assert _streamed(HealthMonitor(EN, reference=_EARLIER_SCENE, story=True, retelling=True), fresh) is None


# The instruct model's 30,000-word novel on record ends in this scene, kept as written: a
# dialogue exchange told twice, which the 4-gram window (0.27 of its last 80 words) never
# filled before the scene ended
_ENDS_LOOPING = """\
As the cartographers walked through the streets of Saltmarsh, they felt a renewed energy. But just as they thought things were going to be great, the Shadow returned to Saltmarsh.

"Hey there, guys!" he called out, his voice trembling with excitement. "I've been looking for you all! I need to tell you something important."

The cartographers looked at each other, surprised by the sudden appearance of the Shadow. They knew that the Greywater was moving again, and they needed to do everything they could to stop it.

"I know what's happening," Ilse said, her face shining with fear. "But we have to do this!"

The cartographers nodded, their faces turned serious. "Yes, we are," one of them replied. "But before we go any further, I want to make sure we're doing the right thing."

"I understand," Ilse admitted. "Let's start by talking to the Shadow. We'll see if we can find a way to work together."

"I agree," one of them replied. "Let's talk to him now."

Ilse led the Shadow into a small room where they sat down. The Shadow was nervous, but he also had a sense of determination.

"I'm sorry," Ilse said, her words trembling with fear. "We have to do this."

The Shadow nodded, his face turning serious. "Yes, we are," one of them replied. "But before we go any further, let's make sure we're doing the right things."

"I understand," Ilse admitted. "Let's start by talking to him. We'll see if we can find out why he's here."
""".rstrip()


def test_a_chat_models_story_that_ends_repeating_itself_is_cut_before_the_repeat():
    story = HealthMonitor(EN, story=True, retelling=True)
    bad = _streamed(story, _ENDS_LOOPING)
    assert bad is not None and bad.reasons[0].startswith("loop: the text ends repeating itself")
    kept = story.healthy_prefix(_ENDS_LOOPING)
    # the exchange told the second time goes ("I understand," Ilse admitted. "Let's start by
    # talking to …" stays once)
    assert kept.count("I understand") == 1 and kept.count("before we go any further") == 1
    assert kept.endswith('"Yes, we are," one of them replied.')
    assert len(kept.split()) > 150
    # only at the end (a loop under way fills the window first) and on a chat model's story
    assert _streamed(HealthMonitor(EN, story=True), _ENDS_LOOPING) is None
    assert _streamed(HealthMonitor(EN, story=True, retelling=True), _ENDS_LOOPING[:900]) is None


def test_human_prose_is_never_taken_for_a_story_told_again():
    # Moby-Dick's first three chapters (the novel bench's human yardstick: all 135 chapters,
    # 596 stretches, are never flagged either), judged as the engine judges a scene: in
    # stretches of about 300 words, the six before them as the reference
    text = (DATA / "human_prose" / "moby_dick_1-3.txt").read_text("utf-8")
    parts, cur = [], []
    for para in text.split("\n\n"):
        cur.append(para)
        if sum(len(p.split()) for p in cur) >= 300:
            parts.append("\n\n".join(cur))
            cur = []
    parts.append("\n\n".join(cur))
    assert len(parts) >= 15
    for i, part in enumerate(parts):
        m = HealthMonitor(EN, reference="\n\n".join(parts[max(0, i - 6):i]), story=True, retelling=True)
        bad = _streamed(m, part)
        # (nor for ending in a loop, nor for anything else)
        assert bad is None, (i, bad.reasons)
