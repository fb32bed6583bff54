"""Core: the plan parser on real-world-shaped model outputs, fallback plans and rescaling."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from longhand.core.engine.plan import (
    MIN_SECTION_WORDS,
    Section,
    expected_sections,
    fallback_plan,
    heading_from_main_point,
    make_plan,
    parse_plan,
    plan_as_text,
    rescale,
)
from longhand.core.text.health import garbled

SAMPLES = {
    "paper format": (
        "Paragraph 1 - Main Point: The storm reaches the island - Word Count: 700 words\n"
        "Paragraph 2 - Main Point: She finds the bottle - Word Count: 500 words",
        [("The storm reaches the island", 700), ("She finds the bottle", 500)]),
    "markdown list with chatter": (
        "Here is the plan:\n\n1. **Introduction**: explain the topic and its stakes (300 words)\n"
        "2. **History** - early days of the craft (400 words)\n"
        "3. **Today**: modern practice and tools — 350 words\n\nLet me know!",
        [("Introduction: explain the topic and its stakes", 300),
         ("History - early days of the craft", 400), ("Today: modern practice and tools", 350)]),
    "no counts": (
        "Section 1: The hero wakes up in a strange city\nSection 2: She meets the old mapmaker\n"
        "Section 3: The chase through the market",
        [("The hero wakes up in a strange city", None), ("She meets the old mapmaker", None),
         ("The chase through the market", None)]),
    "chinese": (
        "段落1 - 主要内容：主人公来到小镇 - 字数：500字\n段落2 - 主要内容：他发现了秘密 - 字数：800字",
        [("主人公来到小镇", 500), ("他发现了秘密", 800)]),
    "bold labels": (
        "**Paragraph 1 - Main Point:** Opening in the harbour - **Word Count:** 400 words\n"
        "**Paragraph 2 - Main Point:** The letter arrives - **Word Count:** 600 words",
        [("Opening in the harbour", 400), ("The letter arrives", 600)]),
    "approximate and thousands": (
        "Paragraph 1 - Main Point: A quiet morning at the lighthouse - Word Count: about 350 words.\n"
        "Paragraph 2 - Main Point: Storm - Word Count: 1,200 words",
        [("A quiet morning at the lighthouse", 350), ("Storm", 1200)]),
    "chapters and headings": (
        "## Chapter 1: The Departure (2000 words)\n## Chapter 2: The Crossing (2500 words)",
        [("The Departure", 2000), ("The Crossing", 2500)]),
    "word count on bullet": (
        "- Part 1. The village before the war. Words: 800\n- Part 2. The war arrives. Words: 900",
        [("The village before the war.", 800), ("The war arrives.", 900)]),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_parse_real_world_outputs(name):
    text, expected = SAMPLES[name]
    got = [(s.main_point, s.target_words) for s in parse_plan(text)]
    assert got == expected


@pytest.mark.parametrize("junk", ["", "I cannot help with that.", "\n\n\n", "12345", "Sure! Here is the plan:"])
def test_unusable_output_parses_to_nothing(junk):
    assert parse_plan(junk) == []


def test_make_plan_falls_back_on_junk_and_sums_to_target():
    sections, how = make_plan("Write a 3000-word story about a dragon", 3000, "lorem ipsum")
    assert how == "fallback"
    assert len(sections) == expected_sections(3000)
    assert sum(s.target_words for s in sections) == 3000
    assert all(s.main_point for s in sections)
    # a story gets a story arc
    assert sections[0].main_point.startswith("Opening")


def test_make_plan_rescales_parsed_targets():
    text = "\n".join(f"Paragraph {i} - Main Point: Point number {i} - Word Count: 300 words" for i in range(1, 5))
    sections, how = make_plan("Write an essay", 2000, text)
    assert how == "parsed"
    assert [s.target_words for s in sections] == [500, 500, 500, 500]


def test_make_plan_drops_duplicate_steps():
    text = "1. The beginning (300 words)\n2. The beginning (300 words)\n3. The middle (300 words)\n4. The end (300 words)"
    sections, how = make_plan("Write a story", 1200, text)
    assert [s.main_point for s in sections] == ["The beginning", "The middle", "The end"]


def test_make_plan_rejects_implausible_section_count():
    one = "Paragraph 1 - Main Point: Everything - Word Count: 20000 words"
    sections, how = make_plan("Write a novel", 20000, one)
    assert how == "fallback"
    assert len(sections) == expected_sections(20000)


def test_fallback_for_long_books_and_essays():
    sections = fallback_plan("Write a report on water policy", 20000)
    assert len(sections) == expected_sections(20000)
    assert sum(s.target_words for s in sections) == 20000
    assert sections[0].main_point.startswith("Introduction")
    assert len({s.main_point for s in sections}) == len(sections)


def test_rescale_fills_missing_and_respects_floor():
    out = rescale([None, 100, None, 900], 1000)
    assert sum(out) == 1000
    assert min(out) >= MIN_SECTION_WORDS
    assert rescale([], 100) == []


def test_plan_as_text_round_trips_through_parser():
    sections = [Section("The storm", 700), Section("The bottle", 300)]
    parsed = parse_plan(plan_as_text(sections))
    assert [(p.main_point, p.target_words) for p in parsed] == [("The storm", 700), ("The bottle", 300)]


def test_heading_from_main_point():
    assert heading_from_main_point("The storm reaches the island. Everyone hides.") == "The storm reaches the island"
    assert heading_from_main_point("a b c d e f g h i j k") == "a b c d e f g h…"


def test_section_round_trip_ignores_unknown_keys_and_fixes_status():
    s = Section.from_dict({"main_point": "x", "target_words": 10, "text": "hi", "status": "weird", "zzz": 1})
    assert s.status == "done" and s.text == "hi"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=2000))
def test_parser_never_crashes(text):
    for step in parse_plan(text):
        assert step.main_point
        assert step.target_words is None or step.target_words > 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500), st.integers(min_value=50, max_value=200_000))
def test_make_plan_always_yields_a_plan_summing_to_target(text, target):
    sections, how = make_plan("Write something", target, text)
    assert sections
    assert sum(s.target_words for s in sections) == target
    assert how in ("parsed", "fallback")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(1, 5000)), min_size=1, max_size=60),
       st.integers(min_value=1, max_value=100_000))
def test_rescale_sums_exactly(targets, total):
    out = rescale(targets, total)
    assert sum(out) == total
    assert all(t >= 1 for t in out) or total < len(targets)


def test_short_jobs_are_not_split_into_tiny_sections():
    text = "Paragraph 1 - Main Point: Greeting and purpose - Word Count: 50 words\n" \
           "Paragraph 2 - Main Point: Details and thanks - Word Count: 50 words"
    sections, how = make_plan("Write a 100-word email", 100, text)
    assert how == "parsed"
    assert len(sections) == 1 and sections[0].target_words == 100
    assert sections[0].main_point == "Greeting and purpose; Details and thanks"
    # long jobs keep the model's sections
    long = "\n".join(f"Paragraph {i} - Main Point: Step {i} - Word Count: 400 words" for i in range(1, 6))
    assert len(make_plan("Write", 2000, long)[0]) == 5


def test_a_repeated_label_is_not_part_of_the_point():
    # a model (or a server) answering with the whole first line, label included, after a
    # prompt that already ended with "Paragraph 1 - Main Point:"
    steps = parse_plan("Paragraph 1 - Main Point: Paragraph 1 - Main Point: Mara finds the bottle - Word Count: 60 words\n"
                       "Paragraph 2 - Main Point: 3 ships sail at dawn - Word Count: 60 words")
    assert [s.main_point for s in steps] == ["Mara finds the bottle", "3 ships sail at dawn"]


def test_a_word_count_inside_the_line_ends_the_main_point():
    # the instruct model's top-up scene: the count inside the line, its own talk after it
    line = ("Scene 10 - Title: The Greywater's Secret - Main Point: The Greywater is a living thing, and its "
            "relationship to the land is complex. Word Count: 245 words. It stays inside chapter 1")
    [step] = parse_plan(line)
    assert step.title == "The Greywater's Secret" and step.target_words == 245
    assert step.main_point == "The Greywater is a living thing, and its relationship to the land is complex."
    # its own count before the one the plan's grammar made it write: the main point ends at the
    # first (the whole line was refused as garbled, a plan's format inside its main point)
    [step] = parse_plan("Scene 5 - Title: Duke Orrin's New Plan - Main Point: Duke Orrin commissions a new map of "
                        "his lands and wants the Greywater moved. Word Count: 1450 words. - Word Count: 450 words")
    assert step.title == "Duke Orrin's New Plan" and step.target_words == 450
    assert step.main_point == "Duke Orrin commissions a new map of his lands and wants the Greywater moved."
    assert not garbled(step.main_point)
    # a main point that speaks of words is not cut: only a labelled count is
    [step] = parse_plan("Paragraph 1 - Main Point: Why a hundred words can hold a life - Word Count: 300 words")
    assert step.main_point == "Why a hundred words can hold a life" and step.target_words == 300


def test_a_title_that_runs_on_into_a_label_ends_before_it():
    # the instruct model's top-up scenes in its novel: the title field went on into a label
    # of its own, and "The Greywater's Final Stand. Main Point: The cartographers'PLAN." was
    # the scene's heading in the manuscript
    [step] = parse_plan("Scene 6 - Title: The Greywater's Final Stand. Main Point: The cartographers'PLAN. - Main "
                        "Point: The cartographers work to end Duke Orrin's curse - Word Count: 140 words")
    assert step.title == "The Greywater's Final Stand"
    assert step.main_point == "The cartographers work to end Duke Orrin's curse" and step.target_words == 140
    [step] = parse_plan("Scene 2 - Title: The Map, Word Count: 200 - Main Point: Mara draws the wall")
    assert step.title == "The Map" and step.main_point == "Mara draws the wall"
    # a title with such words in it, but no label, stays whole
    [step] = parse_plan("Scene 3 - Title: The Main Point of No Return - Main Point: Mara turns back")
    assert step.title == "The Main Point of No Return"
