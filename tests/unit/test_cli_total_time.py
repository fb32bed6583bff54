"""Unit: the end of a job reports its total time, the plan included (a run planned for 80 s
said "done ... in 131.9 s" after 214 s). On the scripted stub server, every completion (the
plan's too) answers after a set delay."""

from __future__ import annotations

import json
import re

from longhand.cli import main
from openai_stub import StubServer

DELAY = 0.6


def test_the_last_line_and_the_json_count_the_plan(capsys):
    with StubServer("slow", delay=DELAY) as stub:
        rc = main(["write", "Write a 300-word note about tea.", "--json", "--backend", "openai",
                   "--base-url", stub.url, "--remote-model", "stub-model", "--ctx", "4096"])
        completions = sum(1 for path, _ in stub.requests if path.endswith("/completions"))
    assert rc == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    line = [ln for ln in captured.err.splitlines() if ln.startswith("done: ")][-1]
    m = re.search(r"in ([\d.]+) s in all \(model load and plan included; writing ([\d.]+) s\)", line)
    assert m, line
    total, writing = float(m.group(1)), float(m.group(2))
    # the JSON's "seconds" is the engine's plan + writing; the line's total adds the model load
    assert writing + DELAY - 0.05 <= out["seconds"] <= out["total_seconds"]
    # the plan was one more delayed completion before the writing started
    assert completions >= 2
    assert total >= writing + DELAY - 0.05, line
    assert out["total_seconds"] >= completions * DELAY - 0.05
