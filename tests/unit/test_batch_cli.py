"""CLI: ``longhand batch`` on the local model (a scripted backend stands in for it), bad input."""

from __future__ import annotations

import json

import pytest

from fakes import ScriptedBackend
from longhand.cli import main

PLAN = "Paragraph 1 - Main Point: The only part - Word Count: 150 words\n"


@pytest.fixture
def local(monkeypatch):
    opened = []

    def fake_open_backend(model=None, **kw):
        opened.append({"model": model, **kw})
        return ScriptedBackend(plan_text=PLAN)
    monkeypatch.setattr("longhand.core.backends.factory.open_backend", fake_open_backend)
    return opened


def write(path, lines):
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))


def test_local_model_one_job_at_a_time_with_a_json_summary(tmp_path, local, capsys):
    ins, out = tmp_path / "ins.jsonl", tmp_path / "data.jsonl"
    write(ins, [{"instruction": "Write a 150-word note about tea."},
                {"instruction": "Write about coffee.", "target_words": 200, "colour": "red"}])
    assert main(["batch", str(ins), "--out", str(out), "--json", "--concurrency", "4"]) == 0
    cap = capsys.readouterr()
    summary = json.loads(cap.out)
    assert summary["done"] == 2 and summary["servers"][0]["server"] == "local model"
    assert "1 at a time" in cap.err and "unknown field 'colour'" in cap.err
    assert len(local) == 1                          # the model is loaded once for every job
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["target_words"] for r in recs] == [150, 200]
    # rerunning finds everything done and writes nothing more
    assert main(["batch", str(ins), "--out", str(out), "-q"]) == 0
    assert len(out.read_text().splitlines()) == 2


def test_broken_lines_exit_1_after_the_others_and_strict_stops_first(tmp_path, local, capsys):
    ins, out = tmp_path / "ins.jsonl", tmp_path / "data.jsonl"
    write(ins, [{"instruction": "Write about tea.", "target_words": 150}, '{"instruction": ', {"nope": 1}])
    assert main(["batch", str(ins), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "ins.jsonl, line 2: not valid JSON" in err and "ins.jsonl, line 3: no instruction" in err
    assert len(out.read_text().splitlines()) == 1
    out2 = tmp_path / "strict.jsonl"
    assert main(["batch", str(ins), "--out", str(out2), "--strict"]) == 2
    assert "line 2" in capsys.readouterr().err and not out2.exists() and len(local) == 1
