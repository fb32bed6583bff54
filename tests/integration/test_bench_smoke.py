"""Bench: every benchmark script runs at its smallest size on the real demo model.

These are smoke tests of the scripts (they run, write their JSON, Markdown and PNG files
with the fields other tools read), not benchmarks: no timing and no score is asserted.
Results go to a temporary folder, never to the results on record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def run_script(name: str, out: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # one thread: on a loaded machine oversubscribed llama.cpp threads slow down ~8x
    proc = subprocess.run([sys.executable, str(BENCH / name), "--out", str(out), "--threads", "1", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def read_png_header(path: Path) -> bytes:
    return path.read_bytes()[:8]


PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def out(tmp_path, demo_model) -> Path:
    # demo_model assembles the GGUF once in the shared models dir the scripts also use
    return tmp_path / "results"


def test_length_smallest(out):
    run_script("length.py", out, "--ids", "en01")
    data = json.loads((out / "length.json").read_text(encoding="utf-8"))
    assert data["machine"]["cores"] >= 1 and data["machine"]["cpu"]
    [row] = data["prompts"]
    assert row["id"] == "en01" and row["required"] == 100
    from longhand.core.text.wordcount import count_words, length_score
    text = json.loads((out / "length_texts.jsonl").read_text(encoding="utf-8").splitlines()[0])["text"]
    assert row["words"] == count_words(text) > 0
    assert row["s_l"] == round(length_score(100, row["words"]), 2)
    assert data["s_l"] == row["s_l"]
    assert list(data["buckets"]) == ["[0,500)"]
    assert 0.0 <= data["repeat_share"] <= 1.0
    assert sum(s["words"] for s in row["sections"]) <= row["words"] + 5
    assert read_png_header(out / "length_buckets.png") == PNG
    assert "S_l" in (out / "length.md").read_text(encoding="utf-8")


def test_throughput_smallest(out):
    run_script("throughput.py", out, "--tokens", "8", "--rounds", "1", "--engine-words", "0")
    data = json.loads((out / "throughput.json").read_text(encoding="utf-8"))
    assert data["machine"]["cpu"]
    assert [r["tokens"] for r in data["runs"]["ours"]] == [8]
    assert [r["tokens"] for r in data["runs"]["raw_logit_bias"]] == [8]   # EOS banned: count forced
    assert data["gui_error"] is None and [r["tokens"] for r in data["runs"]["gui"]] == [8]
    assert data["ours_tokens_per_s"] > 0 and data["raw_tokens_per_s"] > 0
    assert data["ratio"] == round(data["ours_tokens_per_s"] / data["raw_tokens_per_s"], 3)
    assert read_png_header(out / "throughput.png") == PNG


def test_prefix_reuse_smallest(out):
    run_script("prefix_reuse.py", out, "--words", "60")
    data = json.loads((out / "prefix_reuse.json").read_text(encoding="utf-8"))
    cli = json.loads((out / "cli_60.json").read_text(encoding="utf-8"))
    assert cli["target_words"] == 60 and cli["command"].startswith("longhand write")
    assert data["words"] == cli["words"] > 0
    assert data["document_tokens"] > 0
    # the naive count re-sends everything: never less than what we sent
    assert data["naive_prompt_tokens"] >= max(c["prompt_tokens"] for c in data["calls"])
    assert data["ours_prompt_tokens_evaluated"] <= data["ours_prompt_tokens_sent"]
    assert len(data["ttft"]["per_section"]) == len(data["sections"]) >= 1
    assert data["memory"]["peak_rss_bytes"] > data["memory"]["model_file_bytes"] / 4
    for name in ("prefix_reuse_sections.png", "prefix_reuse_ttft.png", "prefix_reuse_tokens.png"):
        assert read_png_header(out / name) == PNG


def test_threads_smallest(tmp_path, demo_model):
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, str(BENCH / "threads.py"), "--out", str(out), "--tokens", "4",
                           "--rounds", "1", "--max-threads", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "threads.json").read_text(encoding="utf-8"))
    assert list(data["median_tokens_per_s"]) == ["1"] and data["best_threads"] == 1
    assert [r["tokens"] for r in data["runs"]["1"]] == [4]
