"""Core: word counting, target parsing and the LongBench-Write length score."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from longhand.core.text.wordcount import (
    count_words,
    ends_sentence,
    length_score,
    repeated_ngram_share,
    round_to,
    target_from_instruction,
    trim_to_sentence,
    units,
)


@pytest.mark.parametrize("text,expected", [
    ("", 0),
    ("Hello world", 2),
    ("It's a dog-eat-dog world.", 7),          # LongBench-Write splits on non-letters
    ("In 1999 there were 3 cats.", 4),          # numbers are not words
    ("我爱北京天安门", 7),                        # each Chinese character counts
    ("Longhand 写小说 very well。", 6),
])
def test_count_words_like_longbench_write(text, expected):
    assert count_words(text) == expected


@pytest.mark.parametrize("instruction,expected", [
    ("Write a 5000-word story about a dragon", 5000),
    ("about 300 words on tea", 300),
    ("Write 10,000 words about the sea", 10000),
    ("a 5k words report", 5000),
    ("写一篇不少于2000字的文章", 2000),
    ("写一篇3万字的小说", 30000),
    ("写一篇两千字的散文", 2000),
    ("Write a story about a dragon", None),
    ("Five chapters of 2000 words each, 10000 words in total", 10000),
])
def test_target_from_instruction(instruction, expected):
    assert target_from_instruction(instruction) == expected


def test_length_score_matches_longbench_write_formula():
    assert length_score(1000, 1000) == 100
    assert length_score(1000, 2000) == pytest.approx(100 * (1 - 1 / 3))
    assert length_score(1000, 500) == pytest.approx(50)
    assert length_score(1000, 4000) == 0
    assert length_score(1000, 0) == 0
    with pytest.raises(ValueError):
        length_score(0, 10)


def test_sentence_boundaries():
    assert ends_sentence('He left. "Goodbye."')
    assert ends_sentence("她走了。")
    assert not ends_sentence("He was about to")
    assert trim_to_sentence("One. Two three. Four five six") == "One. Two three."
    # refuses to cut below the minimum
    assert trim_to_sentence("One. Two three four five", min_words=3) == "One. Two three four five"


def test_repeated_ngram_share_detects_loops():
    fresh = "the quick brown fox jumps over the lazy dog while a cat sleeps in the sun"
    loop = "the cat sat on the mat " * 20
    assert repeated_ngram_share(fresh) == 0
    assert repeated_ngram_share(loop) > 0.8


def test_repeated_ngram_share_is_one_measure_on_one_tokenizer():
    # the units: words keep their apostrophes, Chinese characters stand alone
    assert units("Don't stop — 我们走") == ["don't", "stop", "我", "们", "走"]
    text = "one two three four five six"
    assert repeated_ngram_share(text) == 0
    assert repeated_ngram_share(units(text)) == 0                       # units in, same answer
    # n-grams seen before the text count as repeats
    assert repeated_ngram_share(text, seen={("one", "two", "three", "four")}) == pytest.approx(1 / 3)
    # last=k judges only the last k n-grams, the ones before them count as seen
    looped = "a b c d e f a b c d"
    assert repeated_ngram_share(looped, last=1) == 1
    assert repeated_ngram_share(looped, last=7) == pytest.approx(1 / 7)
    assert repeated_ngram_share("too short") == 0


def test_the_health_check_reports_the_same_repeated_share():
    from longhand.core.text.health import check_text
    loop = "The keeper climbed the stairs and lit the lamp again. " * 12
    earlier = {("the", "keeper", "climbed", "the")}
    assert check_text(loop, "en", seen=earlier).repeats == repeated_ngram_share(loop, seen=earlier)


def test_round_to():
    assert round_to(2049, 100) == 2000
    assert round_to(2050, 100) == 2100


@given(st.text())
def test_counting_never_fails(text):
    n = count_words(text)
    assert n <= len(text)                               # a word takes at least one character
    assert count_words(text + " ") == n                 # trailing space adds nothing
    assert count_words(text + " " + text) == 2 * n      # counts add up across a space
    assert target_from_instruction(text) is None or target_from_instruction(text) > 0
    trimmed = trim_to_sentence(text)
    assert text.startswith(trimmed) or text.rstrip().startswith(trimmed)
