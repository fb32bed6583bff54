"""Bench: the batch scaling script runs at its smallest size against its stand-in servers and
writes the rows other tools read (a smoke test of the script: no speed is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_batch_scaling_smallest(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "batch_scaling.py"), "--out", str(out),
                           "--servers", "1,2", "--slots", "2", "--warmup", "2", "--window", "3",
                           "--min-words", "300", "--max-words", "400"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((out / "batch_scaling.json").read_text())
    assert [r["servers"] for r in rows] == [1, 2]
    for r in rows:
        assert {"servers", "words_per_s", "efficiency"} <= set(r)
        assert r["words_per_s"] > 0 and r["slots_per_server"] == 2     # read from the stand-ins' /props
        assert r["failed"] == 0
    assert rows[0]["efficiency"] == 1.0
    assert rows[1]["efficiency"] == round(rows[1]["words_per_s"] / (2 * rows[0]["words_per_s"]), 3)
    assert "| 2 |" in (out / "batch_scaling.md").read_text()
    # the stand-in servers were stopped
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(out) not in ps and "batch_standin.py --servers 2 --slots 2" not in ps
