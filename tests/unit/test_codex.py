"""Unit: the codex (entries, selection by mention under a budget, proposals, --codex files)."""

from __future__ import annotations

import json

import pytest

from longhand.core.engine.codex import Codex, CodexEntry, CodexError, codex_block, load_codex, propose_entries


def _codex() -> Codex:
    c = Codex()
    c.add(CodexEntry("Mara Voss", "character", "A cartographer, 34, left-handed.", aliases=["Mara", "the mapmaker"]))
    c.add(CodexEntry("Lowmere", "place", "A drowned town of canals and bells."))
    c.add(CodexEntry("The Ink of Ossery", "object", "Ink that changes the land it draws."))
    c.add(CodexEntry("Mara Voss", "character", "Mara has lost her right hand.", aliases=["Mara"], from_chapter=5))
    c.add(CodexEntry("tide law", "lore", "Nobody may sail at the king's tide."))
    return c


def test_selection_by_name_or_alias_in_scene_synopsis_or_recent_text():
    c = _codex()
    got = c.select(scene="The mapmaker reaches the coast", chapter=1)
    assert [e.name for e in got] == ["Mara Voss"]
    got = c.select(synopsis="A storm over Lowmere", recent="", chapter=1)
    assert [e.name for e in got] == ["Lowmere"]
    got = c.select(recent="They spoke of the TIDE LAW in whispers.", chapter=1)   # lower-case name: any case
    assert [e.name for e in got] == ["tide law"]
    assert c.select(scene="A quiet morning at sea", chapter=1) == []
    # word boundaries: "Maratime" is not Mara
    assert c.select(recent="Maratime affairs", chapter=1) == []


def test_most_relevant_first_and_budget():
    c = _codex()
    got = c.select(scene="Mara arrives", synopsis="Lowmere floods", recent="the tide law", chapter=1)
    assert [e.name for e in got] == ["Mara Voss", "Lowmere", "tide law"]   # scene 4 > synopsis 2 > recent 1
    one = len(got[0].note()) // 4 + 2
    got = c.select(scene="Mara arrives", synopsis="Lowmere floods", recent="the tide law", chapter=1,
                   budget=one)
    assert [e.name for e in got] == ["Mara Voss"]


def test_a_fact_that_changes_later_is_a_second_entry_from_that_chapter():
    c = _codex()
    early = c.select(scene="Mara draws", chapter=4)
    late = c.select(scene="Mara draws", chapter=5)
    assert early[0].text.startswith("A cartographer") and late[0].text.startswith("Mara has lost")
    assert len(c.current(5)) == 4


def test_proposals_accept_and_reject():
    c = _codex()
    text = ("Mara met Tobias Wren at the harbour. Later, Tobias Wren showed her the road to Kettleby. "
            "They walked to Kettleby at night. \"Tobias Wren,\" she said, \"is a liar.\" The End came.")
    props = propose_entries(text, c, chapter=3)
    names = [e.name for e in props]
    assert "Tobias Wren" in names and "Kettleby" in names and "Mara" not in names
    assert next(e for e in props if e.name == "Kettleby").kind == "place"
    assert all(e.from_chapter == 3 for e in props)
    c.proposed += props
    assert c.accept("Kettleby").name == "Kettleby" and "kettleby" in {e.name.lower() for e in c.entries}
    assert c.reject("Tobias Wren") and not c.proposed


def test_round_trip_and_tolerant_reading():
    c = _codex()
    again = Codex.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again == c
    warnings: list[str] = []
    bad = Codex.from_dict({"entries": [{"name": "X", "kind": "person"}, {"name": "Y", "kind": "place"}]},
                          warnings.append)
    assert [e.name for e in bad.entries] == ["Y"] and "kind" in warnings[0]
    assert "- Lowmere, place: A drowned town" in codex_block(c.entries)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON (line 1"),
    ('{"entries": 3}', "expected a list of entries"),
    ('[{"kind": "place", "text": "x"}]', "entry 1: 'name' must be non-empty text"),
    ('[{"name": "Mara", "kind": "person"}]', "entry 1 ('Mara'): 'kind' must be one of character, place, object, lore"),
    ('[{"name": "Mara", "aliases": [1]}]', "'aliases' must be a list of names"),
    ('[{"name": "Mara", "from_chapter": 0}]', "'from_chapter' must be a chapter number"),
    ('[{"name": "Mara", "colour": "red"}]', "unknown field 'colour'"),
])
def test_bad_codex_files_give_one_line_errors(tmp_path, content, message):
    f = tmp_path / "codex.json"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(CodexError) as e:
        load_codex(f)
    assert message in str(e.value) and "\n" not in str(e.value) and "codex.json" in str(e.value)


def test_codex_file_missing_and_good(tmp_path):
    with pytest.raises(CodexError, match="not found"):
        load_codex(tmp_path / "nope.json")
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"entries": [{"name": "Lowmere", "kind": "place", "text": "Canals.",
                                          "aliases": "the drowned town"}]}), encoding="utf-8")
    c = load_codex(f)
    assert c.entries[0].aliases == ["the drowned town"] and c.entries[0].from_chapter is None


def test_a_misspelt_word_of_a_name_is_mended_where_the_rest_of_the_name_is_right():
    # the instruct model wrote "Ile Marren" all through its first chapter
    codex = Codex()
    codex.add(CodexEntry("Ilse Marren", "character", "A cartographer.", aliases=["Ilse"]))
    codex.add(CodexEntry("Duke Orrin", "character", "The duke."))
    codex.add(CodexEntry("Hera Voss", "character", "A pilot."))
    text = ("Ile Marren stood at her desk. Ile said nothing. Ilse Maren went out. Duke Orrin waited. "
            "Else Marren? The Marren house. Eliza Marren. Isle of Skye. Duke Orrin's men. Ile's pen. "
            "Her Voss ship.")
    mended, fixes = codex.mend(text)
    assert fixes == {"Ile": "Ilse", "Maren": "Marren", "Else": "Ilse"}
    assert mended == ("Ilse Marren stood at her desk. Ilse said nothing. Ilse Marren went out. Duke Orrin waited. "
                      "Ilse Marren? The Marren house. Eliza Marren. Isle of Skye. Duke Orrin's men. Ilse's pen. "
                      "Her Voss ship.")
    assert codex.mend(mended) == (mended, {})


def test_a_misspelt_name_standing_alone_is_mended_where_it_is_no_word_and_rare():
    # the instruct model wrote "Illse," in chapter 6 (no "Marren" after it to go by)
    codex = Codex()
    codex.add(CodexEntry("Ilse Marren", "character", "A cartographer.", aliases=["Ilse"]))
    codex.add(CodexEntry("Duke Orrin", "character", "The duke."))
    words = {"warren", "else", "orion"}              # the model's vocabulary, as far as asked
    book = "Ilse drew. " * 6 + "Orrin came. " * 6 + "Orin bowed. " * 2
    text = "\"Illse,\" Duke Orrin said. Warren Street. Else, nothing. Orion rose. Orin bowed."
    assert codex.typos(text, lambda w: w in words, book) == {"Illse": "Ilse"}
    # "Orin" is written often enough to be someone else; without a vocabulary nothing is known
    assert codex.typos(text, lambda w: None, book) == {}
    assert codex.typos(text, lambda w: w in words, book + "Illse. " * 3) == {}   # as often: a name
