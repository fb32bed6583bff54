"""bench/results_index.py: the results index, written from made-up result files in a temporary
folder (never from the real results)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "results_index.py"


def _index():
    spec = importlib.util.spec_from_file_location("longhand_bench_results_index", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _machine(commit: str, date: str, cpu: str = "Intel(R) Xeon(R) Processor") -> dict:
    return {"cpu": cpu, "cores": 2, "cores_usable": 2, "memory_gib": 8.0, "os": "Linux 6.1",
            "python": "3.12.0", "llama_cpp_python": "0.3.0", "load_avg_at_start": [3.25, 2.0, 1.0],
            "date_utc": f"{date}T03:04:05Z", "git_commit": commit, "uncommitted_core_files": []}


def _write(folder: Path, rel: str, content) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")


def _results(folder: Path) -> Path:
    _write(folder, "throughput.json", {"machine": _machine("abc1234", "2026-01-02"),
                                       "ours_tokens_per_s": 23.5, "raw_tokens_per_s": 24})
    _write(folder, "throughput.md", "# throughput\n")
    _write(folder, "length/demo/length.json", {"machine": _machine("def5678", "2026-01-05", "AMD EPYC 7B13"),
                                               "s_l": 99.14, "repeat_share": 0.09})
    _write(folder, "length/demo/length.md", "# length\n")
    _write(folder, "gui_novel.json", {"progress_tick_ms": 1.8})           # no machine record
    _write(folder, "notes.txt", "a file no bench claims\n")
    _write(folder, "novel-instruct/novel.longhand.lock", "")            # a run in progress
    _write(folder, "README.md", "an old index\n")
    return folder


def _row(text: str, bench: str) -> str:
    rows = [ln for ln in text.splitlines() if ln.startswith(f"| {bench} |")]
    assert len(rows) == 1, (bench, rows)
    return rows[0]


def test_one_row_per_bench_with_date_commit_and_machine(tmp_path):
    ri = _index()
    text = ri.build(_results(tmp_path / "results"))
    assert _row(text, "throughput") == (
        "| throughput | `bench/throughput.py` | `throughput.json`, `throughput.md` | "
        "backend speed against plain llama-cpp-python | 2026-01-02 | abc1234 | Intel Xeon, 2 cores, 8.0 GiB |")
    assert _row(text, "length, demo model") == (
        "| length, demo model | `bench/length.py` | `length/demo/` (2 files) | "
        "length score S_l, loops and junk on the prompt set | 2026-01-05 | def5678 | AMD EPYC 7B13, 2 cores, 8.0 GiB |")
    # no machine record and no git: marked, with nothing made up
    assert _row(text, "GUI novel").endswith("| — | — † | — |")
    assert "without a `machine` record (dated from git): `gui_novel.json`." in text
    # benches with no files have no row; a file no bench claims is listed; the index, locks are not
    assert "| threads |" not in text and "| novel, instruct model |" not in text
    assert "- `notes.txt`" in text
    assert "README.md`" not in text and ".lock" not in text
    # the load average is in the record, not in the index
    assert "3.25" not in text and "load" not in text.lower()
    assert "History: git log" in text


def test_the_index_is_deterministic_and_check_finds_a_stale_one(tmp_path):
    ri = _index()
    folder = _results(tmp_path / "results")
    assert ri.main([str(folder)]) == 0
    written = (folder / "README.md").read_text(encoding="utf-8")
    assert written == ri.build(folder) == ri.build(folder)
    assert ri.main([str(folder), "--check"]) == 0
    _write(folder, "threads.json", {"machine": _machine("0123abc", "2026-01-06"), "best_threads": 1})
    assert ri.main([str(folder), "--check"]) == 1
    assert (folder / "README.md").read_text(encoding="utf-8") == written


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_history_reads_the_headline_of_each_commit(tmp_path):
    ri = _index()
    repo = tmp_path / "repo"
    folder = repo / "runs"
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*args: str, date: str | None = None) -> None:
        e = dict(env, GIT_AUTHOR_DATE=f"{date}T12:00:00Z", GIT_COMMITTER_DATE=f"{date}T12:00:00Z") if date else env
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false",
                        *args], cwd=repo, env=e, check=True, capture_output=True)

    repo.mkdir()
    git("init", "-q")
    _write(folder, "throughput.json", {"machine": _machine("aaa1111", "2026-01-01"), "ours_tokens_per_s": 20.0})
    _write(folder, "gui_stall.json", {"stall": "no figure the index knows"})
    git("add", ".")
    git("commit", "-q", "-m", "first throughput run (issue 7)", date="2026-01-01")
    _write(folder, "throughput.json", {"machine": _machine("bbb2222", "2026-01-03"), "ours_tokens_per_s": 23.5})
    git("add", ".")
    git("commit", "-q", "-m", "second throughput run", date="2026-01-03")

    text = ri.build(folder)
    section = text.split("### throughput (`throughput.json`)", 1)[1].split("###", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("| 2026")]
    assert [ln.split(" | ")[0] + " | " + ln.split(" | ")[2] for ln in lines] == [
        "| 2026-01-03 | ours tok/s 23.5 |", "| 2026-01-01 | ours tok/s 20 |"]
    # a JSON without the bench's headline figures: the commit's subject; no machine record: git's commit
    assert "first throughput run |" in text.split("### GUI stall", 1)[1] and "issue" not in text
    stall = _row(text, "GUI stall")
    assert "| 2026-01-01 |" in stall and " † |" in stall
    assert ri.build(folder) == text
