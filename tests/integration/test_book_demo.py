"""Integration: plan grammars on the real demo model, the remote backend sending them, and
the two-level CLI (plan --json chapters; write with --codex and --project, resumed; DOCX)."""

from __future__ import annotations

import json
import re

from docx import Document

from longhand.cli import main
from longhand.core.backends.base import Prompt, Sampling, Steer
from longhand.core.backends.formats import FORMATS
from longhand.core.engine.grammar import plan_grammar
from longhand.core.engine.prompts import plan_prompt
from longhand.core.projects.project import Project
from openai_stub import StubServer

STRICT = re.compile(r"^Paragraph \d+ - Main Point: \S.* - Word Count: [1-9]\d* words$")
CHAPTER = re.compile(r"^Chapter \d+ - Title: \S.* - Synopsis: \S.* - Word Count: [1-9]\d* words$")


def test_every_line_of_a_constrained_plan_has_the_format(demo_backend):
    prompt = plan_prompt(FORMATS["completion"], "Write a 2000-word story about a lighthouse keeper.", 2000, 4)
    prompt.grammar = plan_grammar("paragraph", max_lines=6, start="point")
    g = demo_backend.generate(prompt, max_tokens=500, sampling=Sampling(temperature=0.7, seed=3),
                              on_piece=lambda p: Steer(allow_end=True))
    lines = [ln for ln in ("Paragraph 1 - Main Point:" + g.text).splitlines() if ln.strip()]
    assert g.finish == "end" and 1 <= len(lines) <= 6
    assert all(STRICT.match(ln) for ln in lines), lines


def test_chapter_grammar_on_the_demo_model(demo_backend):
    from longhand.core.engine.prompts import BOOK_PLAN_COMPLETION
    prompt = Prompt(user=[BOOK_PLAN_COMPLETION.format(instruction="Write a 30000-word novel about a river pilot.")],
                    answer=["Chapter 1 - Title:"], grammar=plan_grammar("chapter", max_lines=3, start="point"))
    g = demo_backend.generate(prompt, max_tokens=400, sampling=Sampling(temperature=0.7, seed=5),
                              on_piece=lambda p: Steer(allow_end=True))
    lines = [ln for ln in ("Chapter 1 - Title:" + g.text).splitlines() if ln.strip()]
    assert lines and all(CHAPTER.match(ln) for ln in lines), lines


def test_the_remote_backend_sends_the_grammar():
    from longhand.core.backends.remote import OpenAIBackend
    with StubServer("ok") as stub:
        backend = OpenAIBackend(stub.url, max_retries=0)
        grammar = plan_grammar("paragraph", max_lines=4, start="line")
        backend.generate(Prompt(user=["Plan: "], grammar=grammar), max_tokens=20,
                         on_piece=lambda p: Steer(allow_end=True))
        backend.generate(Prompt(user=["Text: "]), max_tokens=5, on_piece=lambda p: Steer(allow_end=True))
        bodies = stub.completions()
        assert bodies[0].get("grammar") == grammar
        assert "grammar" not in bodies[-1]


def test_cli_plan_json_two_levels(demo_model, capsys):
    code = main(["plan", "Write a 5000-word fantasy novel in chapters about a cartographer.", "--json",
                 "--model", str(demo_model), "--seed", "1", "--ctx", "4096"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["levels"] == 2 and "sections" not in out
    chapters = out["chapters"]
    assert len(chapters) == 2 and sum(c["target_words"] for c in chapters) == 5000
    assert all(c["title"] and c["synopsis"] and c["scenes"] == [] for c in chapters)


def test_cli_write_two_levels_with_codex_resumes_and_exports(demo_model, tmp_path, capsys):
    codex = tmp_path / "codex.json"
    codex.write_text(json.dumps([{"name": "Ilse", "kind": "character", "text": "A cartographer."}]))
    proj = tmp_path / "book.longhand"
    docx = tmp_path / "book.docx"
    args = ["write", "Write an 800-word story in two chapters about Ilse, a cartographer.", "--levels", "2",
            "--project", str(proj), "--codex", str(codex), "--model", str(demo_model), "--seed", "2",
            "--ctx", "4096", "--json", "--out", str(docx), "-q"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["chapters"]) == 2 and sum(c["target_words"] for c in out["chapters"]) == 800
    for c in out["chapters"]:
        # (a scene added to a chapter that ended short takes its target from the scenes that
        # ended short: the chapter's scenes still add up)
        assert c["scenes"] and sum(s["target_words"] for s in c["scenes"]) == c["target_words"]
        assert c["status"] == "done" and c["summary"]
    p = Project.load(proj)
    assert [e.name for e in p.codex.entries] == ["Ilse"] and len(p.chapters) == 2
    assert all(s.chapter in (0, 1) for s in p.sections)
    texts = [para.text for para in Document(str(docx)).paragraphs]
    assert "Chapter 1" in texts and "Chapter 2" in texts
    # rerun: nothing left to write, the same book comes back (resume path)
    assert main(args[:1] + args[2:]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["words"] == out["words"]


def test_a_bad_codex_file_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "codex.json"
    bad.write_text('[{"name": "Ilse", "kind": "wizard"}]')
    code = main(["write", "Write a 20000-word novel.", "--codex", str(bad), "--project", str(tmp_path / "x.longhand")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "codex.json" in err[0] and "'kind' must be one of" in err[0]
    assert not (tmp_path / "x.longhand").exists()


def test_the_chapter_grammar_never_lets_a_model_fill_a_line_with_the_formats_placeholders(demo_backend):
    # asked for chapters 5 to 8 of a 40-chapter book, the instruct model answered with the
    # format's own lines ("Chapter 5 - Title: [title] - Synopsis: [what happens] - …"), answer
    # after answer; a base model copies them as readily
    echo = "".join(f"Chapter {k} - Title: [title] - Synopsis: [what happens] - Word Count: [number] words\n"
                   for k in range(1, 5))
    prompt = Prompt(user=["A novel's plan, one chapter per line, in exactly this format:\n" + echo + "\n"],
                    answer=[echo + "Chapter 5 - Title:"],
                    grammar=plan_grammar("chapter", max_lines=2, min_lines=2, start="point"))
    g = demo_backend.generate(prompt, max_tokens=300, sampling=Sampling(temperature=0.7, seed=5),
                              on_piece=lambda p: Steer(allow_end=True))
    lines = [ln for ln in ("Chapter 5 - Title:" + g.text).splitlines() if ln.strip()]
    assert lines and all(CHAPTER.match(ln) for ln in lines), lines
    assert not re.search(r"(^|\s)\[", g.text), lines
