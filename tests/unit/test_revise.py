"""Revision rules shared by the GUI and the engine: re-plan around locked sections, takes."""

import pytest

from longhand.core.engine.plan import Section
from longhand.core.engine.revise import (
    keep_as_take,
    keep_locked,
    replace_text,
    replan_words,
    start_new_take,
    words_lost_by_replan,
)
from longhand.core.engine.status import SectionStatus
from longhand.core.errors import LonghandError


def test_locked_sections_keep_their_places_in_a_new_outline():
    a, b, c = Section("a", 200, locked=True), Section("b", 200, text="x y z"), Section("c", 200, locked=True)
    new = [Section("n1", 100), Section("n2", 100)]
    merged = keep_locked([a, b, c], new)
    assert merged == [a, new[0], c, new[1]] and merged[0] is a and merged[2] is c
    assert keep_locked([], new) == new
    assert words_lost_by_replan([a, b, c]) == 3            # only unlocked text is replaced


def test_replan_plans_what_the_locked_sections_leave():
    secs = [Section("a", 400, locked=True), Section("b", 300)]
    assert replan_words(secs, 1000) == 600
    assert replan_words([Section("b", 300)], 1000) == 1000
    with pytest.raises(LonghandError, match="locked sections already use the whole target"):
        replan_words(secs, 420)


def test_the_old_text_becomes_a_take():
    sec = Section("a", 100, text="First version.", status=SectionStatus.DONE)
    replace_text(sec, "By hand.")
    assert sec.text == "By hand." and sec.takes == ["First version."] and sec.status is SectionStatus.EDITED
    start_new_take(sec)
    assert sec.text == "" and sec.takes == ["First version.", "By hand."]
    keep_as_take(sec)                                          # an empty text is not a take
    assert sec.takes == ["First version.", "By hand."]
