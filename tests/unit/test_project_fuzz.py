"""Fuzzing the project loader: damaged, truncated, retyped files either load (with warnings)
or raise ProjectError; whatever loads can be used, saved and reloaded cleanly."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longhand.core.engine.plan import DONE, WRITING, Section
from longhand.core.projects.lock import ProjectError
from longhand.core.projects.project import Project

VALID = Project(
    instruction="Write a 900-word story about a lighthouse keeper. 写一个故事。",
    target_words=900, title="The Keeper", author="Ada Lovelace", bible="Mara, 60.",
    settings={"seed": 1},
    sections=[Section("Opening", 300, title="One", text="The tide came in.\n\nMara waited.", status=DONE,
                      takes=["Old take."], summary="Mara waits."),
              Section("Middle", 300, text="灯塔看守人发现了一个瓶子。", status=WRITING),
              Section("End", 300)],
).dumps()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


def check(raw) -> None:
    """The property: load or ProjectError; a loaded project works and round-trips."""
    try:
        p = Project.loads(raw)
    except ProjectError:
        return
    assert isinstance(p.warnings, list) and all(isinstance(w, str) for w in p.warnings)
    assert isinstance(p.words, int) and isinstance(p.text(headings=True), str)
    p.resume_point()
    for s in p.sections:
        assert isinstance(s.text, str) and isinstance(s.target_words, int) and s.target_words > 0
        assert all(isinstance(t, str) for t in s.takes)
        s.heading  # noqa: B018 - must not raise
    again = Project.loads(p.dumps())
    assert again.warnings == []
    assert again.dumps() == p.dumps()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes(raw):
    check(raw)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(VALID)))
def test_truncated_files(cut):
    check(VALID[:cut])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=len(VALID) - 1), st.characters()),
                min_size=1, max_size=5))
def test_damaged_characters(edits):
    chars = list(VALID)
    for pos, ch in edits:
        chars[pos] = ch
    check("".join(chars))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_wrong_types_anywhere(data):
    doc = json.loads(VALID)
    # replace a top-level field, a section, or a section field by an arbitrary JSON value
    where = data.draw(st.sampled_from(["top", "section", "field", "extra"]))
    value = data.draw(json_values)
    if where == "top":
        doc[data.draw(st.sampled_from(sorted(doc)))] = value
    elif where == "section":
        doc["sections"][data.draw(st.integers(0, 2))] = value
    elif where == "field":
        sec = doc["sections"][data.draw(st.integers(0, 2))]
        sec[data.draw(st.sampled_from(sorted(sec)))] = value
    else:
        doc[data.draw(st.text(min_size=1, max_size=8))] = value
    check(json.dumps(doc))


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_document(value):
    check(json.dumps(value))
