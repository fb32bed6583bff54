"""Unit: project format v2 (chapters, scenes, codex, summaries) and the v1 -> v2 migration,
tested on a real v1 file (tests/data/v1_novel_memory.longhand: the 20,000-word project that
bench/novel_memory.py wrote with Longhand at commit 3dcf28b)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from longhand.core.engine.book_model import Chapter
from longhand.core.engine.codex import CodexEntry
from longhand.core.engine.plan import Section
from longhand.core.projects.project import FORMAT_VERSION, Project, migrate

V1 = Path(__file__).resolve().parents[1] / "data" / "v1_novel_memory.longhand"


def test_a_real_v1_file_opens_migrates_and_saves_as_v2(tmp_path):
    raw = json.loads(V1.read_text(encoding="utf-8"))
    assert raw["version"] == 1 and "chapters" not in raw
    f = tmp_path / "old.longhand"
    shutil.copy(V1, f)
    p = Project.load(f)
    assert p.warnings == []
    assert len(p.sections) == len(raw["sections"]) == 44
    assert [s.text for s in p.sections] == [s["text"] for s in raw["sections"]]
    assert [s.summary for s in p.sections] == [s.get("summary", "") for s in raw["sections"]]
    assert p.bible == raw["bible"] and p.words > 19_000
    assert p.chapters == [] and p.codex.entries == [] and all(s.chapter is None for s in p.sections)
    p.save()
    saved = json.loads(f.read_text(encoding="utf-8"))
    assert saved["version"] == FORMAT_VERSION == 2
    assert saved["chapters"] == [] and saved["codex"] == {"entries": [], "proposed": []}
    again = Project.load(f)
    assert again.sections == p.sections and again.warnings == []


def test_migrate_steps_v1_to_v2():
    data = migrate({"format": "longhand-project", "version": 1, "instruction": "x", "sections": []})
    assert data["version"] == 2 and data["chapters"] == [] and data["codex"]["entries"] == []


def test_v2_book_round_trip(tmp_path):
    p = Project(instruction="Write a 20000-word novel.", target_words=20_000)
    p.chapters = [Chapter("The Map", "Mara draws a map.", 12_000, locked=True, summary="She draws.",
                          summary_edited=True, plan_how="parsed", codex_names=["Mara Voss"]),
                  Chapter("The River", "The river moves.", 8_000)]
    p.sections = [Section("Mara draws", 500, text="Some text.", status="done", chapter=0,
                          codex_used=["Mara Voss"])]
    p.codex.add(CodexEntry("Mara Voss", "character", "A cartographer.", aliases=["Mara"]))
    p.codex.proposed.append(CodexEntry("Tobias", "character", "A ferryman.", from_chapter=1))
    p.path = tmp_path / "book.longhand"
    p.save()
    q = Project.load(p.path)
    assert q.warnings == []
    assert q.chapters == p.chapters and q.codex == p.codex and q.sections == p.sections


def test_damaged_book_data_is_repaired_and_reported(tmp_path):
    data = {"format": "longhand-project", "version": 2, "instruction": "Write a novel.", "target_words": 20000,
            "chapters": [{"title": "A", "synopsis": "x", "target_words": "many"}, 7],
            "codex": {"entries": [{"name": "Mara", "kind": "wizard"}, {"name": "Lowmere", "kind": "place"}]},
            "sections": [{"main_point": "a", "target_words": 300, "chapter": 5},
                         {"main_point": "b", "target_words": 300, "chapter": 0}]}
    p = Project.loads(json.dumps(data))
    assert len(p.chapters) == 1 and p.chapters[0].target_words > 0
    assert [e.name for e in p.codex.entries] == ["Lowmere"]
    assert p.sections[0].chapter is None and p.sections[1].chapter == 0
    text = " ".join(p.warnings)
    assert "target_words" in text and "chapter 2" in text and "wizard" in text and "chapter 5 does not exist" in text
