"""Core: reading a batch's instructions file (JSON Lines): bad lines, unknown fields, ids, targets."""

from __future__ import annotations

import json
import re

import pytest

from longhand.core.data.instructions import InstructionsError, parse_instructions, read_instructions

GOOD = '{"id": "a", "instruction": "Write a story about a fox.", "target_words": 800}'


def test_broken_lines_are_reported_by_number_and_the_others_go_on():
    text = "\n".join([
        GOOD,
        '{"id": "b", "instruction": "Write about rain."',        # 2: cut JSON
        "[1, 2]",                                                   # 3: not an object
        '{"id": "d", "target_words": 500}',                         # 4: no instruction
        '{"id": "e", "instruction": "x", "target_words": "many"}',  # 5: bad target
        '{"id": "f", "instruction": "x", "target_words": 10}',      # 6: target too small
        "",
        '{"id": "a", "instruction": "Again."}',                     # 8: repeated id
        '{"id": "h", "instruction": "Write a 2,500-word essay on tides."}',
    ])
    r = parse_instructions(text, name="ins.jsonl")
    assert [i.id for i in r.instructions] == ["a", "h"]
    lines = [int(re.match(r"ins\.jsonl, line (\d+): ", p).group(1)) for p in r.problems]
    assert lines == [2, 3, 4, 5, 6, 8]
    assert "not valid JSON" in r.problems[0] and "expected a JSON object" in r.problems[1]
    assert "no instruction" in r.problems[2] and "'target_words'" in r.problems[3]
    assert all(p.startswith("ins.jsonl, line ") and p.endswith("line skipped.") for p in r.problems)
    assert "already used on line 1" in r.problems[-1]
    # the target comes from the instruction when no field gives it, and counts as given
    h = r.instructions[1]
    assert (h.target_words, h.target_given, h.line) == (2500, True, 9)


def test_strict_stops_at_the_first_broken_line():
    with pytest.raises(InstructionsError, match=r"line 2: not valid JSON.*--strict"):
        parse_instructions(GOOD + "\n{oops\n" + GOOD.replace('"a"', '"b"'), strict=True)


def test_unknown_fields_warn_once_each():
    text = "\n".join(json.dumps({"instruction": f"Write {n} things.", "type": "story", "lang": "en"})
                     for n in range(5))
    r = parse_instructions(text, name="x.jsonl")
    assert len(r.instructions) == 5 and not r.problems
    assert len(r.warnings) == 2
    assert "'type'" in r.warnings[0] and "line 1" in r.warnings[0]
    assert "'lang'" in r.warnings[1]


def test_ids_are_stable_without_an_id_field_and_repeats_get_their_own():
    text = '{"instruction": "Write about snow."}\n{"instruction": "Write about snow."}\n'
    a = parse_instructions(text, default_words=700).instructions
    b = parse_instructions(text, default_words=700).instructions
    assert [i.id for i in a] == [i.id for i in b]
    assert a[0].id != a[1].id and a[1].id == a[0].id + "-2"
    assert a[0].target_words == 700 and a[0].target_given is False


def test_longbench_write_names_are_read():
    r = parse_instructions('{"prompt": "Write a poem.", "length": 300, "type": "poem"}')
    (i,) = r.instructions
    assert (i.instruction, i.target_words, i.target_given) == ("Write a poem.", 300, True)


def test_file_stem_is_safe_for_any_id():
    r = parse_instructions('{"id": "../../etc/passwd", "instruction": "x"}\n{"id": 7, "instruction": "y"}')
    a, b = r.instructions
    assert "/" not in a.file_stem and a.file_stem.startswith("job-")
    assert b.id == "7" and b.file_stem == "7"


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InstructionsError, match="not found"):
        read_instructions(tmp_path / "nope.jsonl")
