"""Unit: the two-level CLI end to end on the scripted OpenAI-compatible stub server (no model):
plan --json chapters, write with --codex and --project (kept, resumed), DOCX chapters."""

from __future__ import annotations

import json

from docx import Document

from longhand.cli import main
from longhand.core.engine import book_model as BM
from longhand.core.projects.project import Project
from openai_stub import StubServer


def _remote(stub) -> list[str]:
    return ["--backend", "openai", "--base-url", stub.url, "--remote-model", "stub-model", "--ctx", "8192"]


def test_plan_json_returns_chapters_for_a_long_book_and_sections_for_a_short_text(capsys):
    with StubServer("ok") as stub:
        assert main(["plan", "Write a 20000-word novel about a cartographer.", "--json", *_remote(stub)]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["levels"] == 2 and "sections" not in out
        assert len(out["chapters"]) == BM.expected_chapters(20_000)
        assert sum(c["target_words"] for c in out["chapters"]) == 20_000
        assert all(set(c) == {"title", "synopsis", "target_words", "scenes"} for c in out["chapters"])
        # the stub writes prose, not a plan: the chapters are the fallback arc, all distinct
        assert out["how"] == "fallback" and len({c["synopsis"] for c in out["chapters"]}) == len(out["chapters"])
        assert main(["plan", "Write a 20000-word novel about a cartographer.", "--json", "--scenes",
                     *_remote(stub)]) == 0
        out = json.loads(capsys.readouterr().out)
        for c in out["chapters"]:
            assert c["scenes"] and sum(s["target_words"] for s in c["scenes"]) == c["target_words"]
        assert main(["plan", "Write a 2000-word story about a cartographer.", "--json", *_remote(stub)]) == 0
        out = json.loads(capsys.readouterr().out)
        assert "sections" in out and "chapters" not in out


def test_write_a_book_with_a_codex_then_resume(tmp_path, capsys):
    codex = tmp_path / "codex.json"
    codex.write_text(json.dumps([{"name": "keeper", "kind": "character", "text": "The lighthouse keeper."},
                                 {"name": "Saltmarsh", "kind": "place", "text": "A harbour town."}]))
    proj = tmp_path / "book.longhand"
    out_docx = tmp_path / "book.docx"
    with StubServer("ok") as stub:
        args = ["write", "Write a 1500-word story in three chapters about a keeper.", "--levels", "2",
                "--project", str(proj), "--codex", str(codex), "--json", "-q", "--out", str(out_docx),
                *_remote(stub)]
        assert main(args) == 0
        out = json.loads(capsys.readouterr().out)
    chapters = out["chapters"]
    assert len(chapters) == 2 and sum(c["target_words"] for c in chapters) == 1500
    assert chapters[0]["carried"] == 0 and chapters[1]["carried"] == min(750 - chapters[0]["words"], 375)
    for c in chapters:
        assert c["status"] == "done" and c["summary"]
        # (its target and what chapter 1, cut short, carried into chapter 2)
        assert sum(s["target_words"] for s in c["scenes"]) == c["target_words"] + c["carried"]
        assert c["words"] > 0       # (the stub repeats one sentence: the text-health guard cuts it short)
        # the stub's prose mentions "keeper": that entry is in every scene's prompt
        assert all("keeper" in s["codex_used"] for s in c["scenes"])
    p = Project.load(proj)
    assert sorted(e.name for e in p.codex.entries) == ["Saltmarsh", "keeper"]
    assert len(p.chapters) == 2 and all(s.chapter in (0, 1) for s in p.sections)
    texts = [para.text for para in Document(str(out_docx)).paragraphs]
    assert texts.count("Chapter 1") == 1 and texts.count("Chapter 2") == 1
    # a user edit, then resume: nothing to write, the edit is kept
    BM.set_chapter_summary(p, 0, "My own summary.")
    p.sections[0].locked = True
    p.save()
    with StubServer("ok") as stub:
        assert main(["write", "--project", str(proj), "--json", "-q", *_remote(stub)]) == 0
        again = json.loads(capsys.readouterr().out)
        assert not stub.completions()        # nothing was left to write
    assert again["words"] == out["words"] and again["chapters"][0]["summary"] == "My own summary."


def test_interrupted_book_resumes(tmp_path, capsys):
    proj = tmp_path / "book.longhand"
    with StubServer("ok") as stub:
        assert main(["write", "Write a 1500-word story in chapters about a keeper.", "--levels", "2",
                     "--project", str(proj), "-q", "--out", str(tmp_path / "a.md"), *_remote(stub)]) == 0
    p = Project.load(proj)
    # pretend the run stopped inside chapter 2: its last scene half written, no summary
    idx = BM.chapter_scenes(p, 1)
    last = p.sections[idx[-1]]
    last.text = " ".join(last.text.split()[:40])
    last.status = "writing"
    p.chapters[1].summary = ""
    first = p.sections[BM.chapter_scenes(p, 0)[0]]
    first.text = "Marker-of-chapter-one. " + "The tide rose over the old harbour wall. " * 15 + first.text
    p.save()
    with StubServer("ok") as stub:
        assert main(["write", "--project", str(proj), "--json", "-q", *_remote(stub)]) == 0
        out = json.loads(capsys.readouterr().out)
        prompts = [b["prompt"] for b in stub.completions()]
    assert out["chapters"][1]["status"] == "done" and out["chapters"][1]["summary"]
    # the continuation saw chapter 2's text, never chapter 1's
    # (the previous chapter's last 60 words are carried on purpose: not its start)
    assert prompts and all("Marker-of-chapter-one" not in x for x in prompts)
