"""Calibration of the chatter check on real sections of both test models, labelled by hand.

``tests/data/chatter_calibration.jsonl``: sections the instruct test model wrote on the old
engine (a refusal, "Sure, here's the next part", "(400 words) This paragraph continues…") and
on the new one, the lines of its that the issue report quoted (each after a clean paragraph),
and sections of the demo base model: web-page talk ("I hope you enjoyed reading", "If you have
any questions") and narrative; and every finished scene of the instruct model's novel on the
previous engine (chapters 1-6: scene sheets, running word tallies, "Next scene: …" and clean
story). Each was read and labelled "clean" (manuscript only) or "chatty" (anything that
talks about the text, to the user, or instead of writing).

The check must flag no clean section (a false alarm cuts good text) and find nearly every
chatty one; the misses it is allowed are written down in the data's notes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longhand.core.text.chatter import find_chatter

DATA = Path(__file__).resolve().parents[1] / "data" / "chatter_calibration.jsonl"
CASES = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_set_holds_both_models_clean_and_chatty():
    kinds = {(c["model"], c["label"]) for c in CASES}
    assert kinds == {("instruct", "clean"), ("instruct", "chatty"), ("demo", "clean"), ("demo", "chatty")}
    # enough clean sections of the instruct model to show that false alarms on it are rare
    assert sum(c["model"] == "instruct" and c["label"] == "clean" for c in CASES) >= 20


@pytest.mark.parametrize("case", [c for c in CASES if c["label"] == "clean"], ids=lambda c: c["source"])
def test_clean_sections_are_not_flagged(case):
    assert find_chatter(case["text"], case["letter"]) == []


def test_chatty_sections_are_found():
    chatty = [c for c in CASES if c["label"] == "chatty"]
    missed = [c["source"] for c in chatty if not find_chatter(c["text"], c["letter"])]
    # every chatty section of the instruct model is found; of the demo model's web-page talk,
    # the voice of a forum post without a telltale phrase is not ("What do you think?")
    assert not [m for m in missed if "engine" in m or "issue" in m], missed
    assert len(missed) <= 2 and len(chatty) >= 25, (len(chatty), missed)
