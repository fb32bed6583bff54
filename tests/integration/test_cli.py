"""CLI: `longhand plan/write` on the demo model, and clear one-line errors for bad input."""

import json
import os

import pytest

from helpers import assert_clean_error, run


def test_write_json_summary_and_output_file(demo_model, tmp_path):
    out = tmp_path / "story.md"
    proc = run("write", "Write a 250-word story about a cat who learns to sail.", "--seed", "2",
               "--json", "--out", str(out), "--model", str(demo_model))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in ("target_words", "words", "sections", "generated_tokens", "prompt_tokens_evaluated", "seconds"):
        assert key in data
    assert data["target_words"] == 250
    assert 0.9 * 250 <= data["words"] <= 1.12 * 250     # a section never passes 112 % of its target
    assert sum(s["words"] for s in data["sections"]) == data["words"]
    assert all({"title", "target_words", "words"} <= set(s) for s in data["sections"])
    from longhand.core.text.wordcount import count_words
    text = out.read_text()
    assert text.startswith("# ")
    body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    assert count_words(body) == data["words"]
    assert "section 1/" in proc.stderr and "tok/s" in proc.stderr   # live progress on stderr


def test_plan_json(demo_model):
    proc = run("plan", "Write a 1500-word essay about bridges.", "--json", "--model", str(demo_model))
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["target_words"] == 1500
    assert sum(s["target_words"] for s in plan["sections"]) == 1500


def test_truncated_model_file(demo_model, tmp_path):
    cut = tmp_path / "cut.gguf"
    with open(demo_model, "rb") as f:
        cut.write_bytes(f.read(1_000_000))
    assert_clean_error(run("write", "Write 300 words about tea.", "--model", str(cut)), "could not load")


def test_project_resume_after_cancel(demo_model, tmp_path):
    """A project file keeps the job; a second run resumes instead of starting over."""
    from longhand.core.engine.plan import WRITING, Section
    from longhand.core.projects.project import Project
    proj = tmp_path / "job.longhand"
    p = Project(instruction="Write a 200-word story about a kite.", target_words=200,
                sections=[Section("The kite rises", 100), Section("The string breaks", 100)])
    p.sections[0].text = "The kite rose over the hill and the children cheered."
    p.sections[0].status = WRITING
    p.save(proj)
    proc = run("write", "--project", str(proj), "--model", str(demo_model), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stderr
    done = Project.load(proj)
    assert done.sections[0].text.startswith("The kite rose over the hill and the children cheered.")
    assert all(s.status == "done" for s in done.sections)
    assert 0.9 * 200 <= done.words <= 1.12 * 200


def test_model_by_installed_id_and_default_prefers_a_real_model(demo_model, tmp_path, monkeypatch):
    """--model accepts an installed model's id; without --model an installed LongWriter wins."""
    from longhand.core.backends import factory as runtime
    from longhand.core.errors import ModelError
    monkeypatch.setenv("LONGHAND_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="No installed model"):
        runtime.resolve_model_path("longwriter-glm4-9b")
    fake = tmp_path / "LongWriter-glm4-9b.Q4_K_M.gguf"
    fake.write_bytes(b"GGUF" + b"\0" * 100)
    assert runtime.resolve_model_path("longwriter-glm4-9b") == fake
    assert runtime.resolve_model_path() == fake
    assert runtime.resolve_model_path(str(demo_model)) == demo_model


def test_broken_llama_cpp_install_is_a_message(demo_model, tmp_path):
    """A llama.cpp install that fails to import gives a one-line error, not a traceback."""
    shadow = tmp_path / "shadow"
    (shadow / "llama_cpp").mkdir(parents=True)
    (shadow / "llama_cpp" / "__init__.py").write_text("raise OSError('libllama.so: cannot open shared object file')\n")
    env = {"PYTHONPATH": str(shadow) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = run("write", "Write 300 words about tea.", "--model", str(demo_model), env=env)
    assert_clean_error(proc, "cannot be loaded")
