"""Core: SFT records and DPO pairs from projects; ``longhand export --training`` reads them back."""

from __future__ import annotations

import json

import pytest

from fakes import ScriptedBackend
from longhand.cli import main
from longhand.core.backends.formats import FORMATS
from longhand.core.data.training import (
    TrainingExportError,
    dpo_pairs,
    export_training,
    section_prompt,
    sft_record,
    step_records,
)
from longhand.core.engine.plan import DONE, EDITED, PLANNED, Section
from longhand.core.engine.prompts import write_prompt
from longhand.core.engine.writer import AgentWriter
from longhand.core.projects.project import Project

INSTRUCTION = "Write a 450-word story about a keeper of bees."


def project(tmp_path, name="bees") -> Project:
    """Three sections as a writer leaves them: one regenerated twice, one edited by hand."""
    p = Project(instruction=INSTRUCTION, target_words=450, title="Bees")
    p.sections = [
        Section("The hives wake in spring", 150, text="The hives woke early that year.", status=DONE,
                takes=["A first try at spring.", "A second try at spring."]),
        Section("A swarm leaves", 150, text="The swarm rose, and she ran after it.", status=EDITED,
                takes=["The swarm rose and she followed it slowly."]),    # the model's original
        Section("Honey in autumn", 150, text="Autumn filled the jars.", status=DONE),   # no takes
    ]
    p.settings["format_name"] = "longwriter-glm4"
    p.path = tmp_path / f"{name}.longhand"
    p.save()
    return Project.load(p.path)


def test_dpo_pairs_prefer_the_kept_and_the_hand_edited_text(tmp_path):
    p = project(tmp_path)
    pairs = dpo_pairs(p)
    assert len(pairs) == 3
    assert [(x["chosen"], x["rejected"]) for x in pairs] == [
        ("The hives woke early that year.", "A first try at spring."),
        ("The hives woke early that year.", "A second try at spring."),
        ("The swarm rose, and she ran after it.", "The swarm rose and she followed it slowly."),
    ]
    assert [x["edited"] for x in pairs] == [False, False, True]
    assert [x["id"] for x in pairs] == ["bees/s1/t1", "bees/s1/t2", "bees/s2/t1"]
    # the prompt is the engine's write prompt for that section, in the project's format, as text
    fmt = FORMATS["longwriter-glm4"]
    sent = write_prompt(fmt, INSTRUCTION, p.sections, 1, [p.sections[0].text], lang="en")
    assert pairs[2]["prompt"] == "".join(sent.user) + "\n\n" + "".join(sent.answer).strip()
    assert "The hives woke early that year." in pairs[2]["prompt"]       # the text before it
    assert "A swarm leaves" in pairs[2]["prompt"]                          # the plan step
    assert pairs[2]["prompt"].endswith("## 2. " + p.sections[1].heading)  # the part to write now
    assert "[gMASK]" not in pairs[2]["prompt"]                            # no special tokens


def test_prompt_is_the_one_the_engine_sent(tmp_path):
    """Regenerating a section through the engine, then rebuilding its prompt, gives the same text."""
    backend = ScriptedBackend()
    p = project(tmp_path)
    p.settings.pop("format_name")                       # the scripted backend writes LongWriter chat prompts
    writer = AgentWriter(backend, seed=1)
    writer.write_section(p, 2, mode="regenerate")
    sent = backend.prompts[0]                           # the regeneration's first (and fresh) prompt
    assert sent.answer[-1] == "## 3. " + p.sections[2].heading + "\n\n"   # nothing of it written yet
    assert section_prompt(p, 2) == "".join(sent.user) + "\n\n" + "".join(sent.answer).strip()
    (pair,) = [x for x in dpo_pairs(p) if x["section"] == 3]
    assert pair["rejected"] == "Autumn filled the jars." and pair["chosen"] == p.sections[2].text


def test_chinese_projects_get_the_chinese_write_prompt(tmp_path):
    p = project(tmp_path)
    p.instruction = "写一篇关于养蜂人的故事，不少于450字。"
    (pair, *_) = dpo_pairs(p)
    fmt = FORMATS["longwriter-glm4"]
    zh = write_prompt(fmt, p.instruction, p.sections, 0, [], lang="zh")
    assert pair["prompt"] == "".join(zh.user) + "\n\n" + "".join(zh.answer).strip()
    assert "用中文写" in pair["prompt"] and "Write the whole text" not in pair["prompt"]


def test_identical_and_empty_takes_and_unfinished_sections_give_no_pairs(tmp_path):
    p = project(tmp_path)
    p.sections[0].takes = ["The hives  woke early that year.", "", "   "]
    p.sections[1].status = PLANNED
    assert dpo_pairs(p) == []


def test_sft_record_layout_and_steps(tmp_path):
    p = project(tmp_path)
    r = sft_record(p)
    assert set(r) == {"messages", "id", "target_words", "words", "plan"}
    assert r["messages"] == [{"role": "user", "content": INSTRUCTION},
                             {"role": "assistant", "content": p.text().strip()}]
    assert r["words"] == p.words and r["target_words"] == 450 and r["id"] == "bees"
    assert r["plan"][1] == {"main_point": "A swarm leaves", "target_words": 150, "words": p.sections[1].words}
    steps = step_records(p)
    assert [s["step"] for s in steps] == ["plan", "write", "write", "write"]
    assert steps[1]["messages"][1]["content"] == p.sections[0].text
    assert steps[3]["messages"][0]["content"] == section_prompt(p, 2)


def test_export_from_a_folder_reads_back(tmp_path):
    folder = tmp_path / "projects"
    folder.mkdir()
    project(folder, "a")
    project(folder, "b")
    unfinished = project(folder, "c")
    unfinished.sections[2].status = PLANNED
    unfinished.sections[2].text = ""
    unfinished.save()
    n, notes = export_training([folder], "dpo", tmp_path / "pairs.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "pairs.jsonl").read_text().splitlines()]
    assert n == len(rows) == 9
    assert all({"prompt", "chosen", "rejected"} <= set(r) for r in rows)
    # the fixture's answers are a few words for a 450-word target: short, so no SFT record...
    n, notes = export_training([folder], "sft", tmp_path / "sft.jsonl")
    assert n == 0 and any("a.longhand: skipped (short: 18 of 450 words" in x for x in notes)
    # ... unless asked for, each with its reasons
    n, notes = export_training([folder], "sft", tmp_path / "sft.jsonl", keep_short=True)
    assert n == 2 and any("c.longhand: skipped, not finished" in x for x in notes)
    rows = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert all(r["reasons"][0].startswith("short: 18 of 450 words") for r in rows)


def test_cli_export_training(tmp_path, capsys):
    project(tmp_path)
    out = tmp_path / "dpo.jsonl"
    assert main(["export", str(tmp_path / "bees.longhand"), "--training", "dpo", "--out", str(out)]) == 0
    assert "(3 DPO pairs)" in capsys.readouterr().err
    assert len(out.read_text().splitlines()) == 3
    out = tmp_path / "sft.jsonl"
    assert main(["export", str(tmp_path / "bees.longhand"), "--training", "sft", "--steps", "--out", str(out)]) == 0
    assert out.read_text() == "" and "--keep-short includes it" in capsys.readouterr().err     # short
    assert main(["export", str(tmp_path / "bees.longhand"), "--training", "sft", "--steps", "--keep-short",
                 "--out", str(out)]) == 0
    assert [json.loads(line).get("step") for line in out.read_text().splitlines()] == [None, "plan", "write", "write", "write"]
    # bad output names fail before anything is read
    assert main(["export", str(tmp_path / "bees.longhand"), "--training", "sft", "--out", str(tmp_path / "x.docx")]) == 2
    assert "JSON Lines" in capsys.readouterr().err


def test_missing_source_and_empty_folder(tmp_path):
    with pytest.raises(TrainingExportError, match="not found"):
        export_training([tmp_path / "nope.longhand"], "sft", tmp_path / "o.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainingExportError, match="No .longhand projects"):
        export_training([tmp_path / "empty"], "dpo", tmp_path / "o.jsonl")
