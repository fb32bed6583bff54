"""CLI: ``longhand batch`` as a process against OpenAI-compatible stub servers on 127.0.0.1:
a dead server taken out of rotation, SIGKILL mid-way and resume, the output lock, bad output."""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import time

from openai_stub import StubServer


def instructions(path, n: int) -> None:
    path.write_text("".join(json.dumps({"id": f"j{k}", "instruction": f"Write a story about island {k}.",
                                        "target_words": 120 + 10 * k}) + "\n" for k in range(n)))


def batch(*args, **kw) -> list[str]:
    return [sys.executable, "-m", "longhand", "batch", *map(str, args)]


def records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"          # nothing listens there any more


def test_dead_server_is_taken_out_and_the_batch_completes(tmp_path):
    ins, out = tmp_path / "ins.jsonl", tmp_path / "data.jsonl"
    instructions(ins, 6)
    with StubServer(text="prose") as a, StubServer(text="prose") as b:
        r = subprocess.run(batch(ins, "--out", out, "--base-url", a.url, "--base-url", dead_url(),
                                 "--base-url", b.url, "--concurrency", 3, "--retries", 2, "--json"),
                           capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["done"] == 6 and summary["unfinished"] == 0
    dead = summary["servers"][1]
    assert dead["status"] == "out of rotation" and dead["jobs"] == 0 and "Cannot reach" in dead["last_error"]
    assert "taken out of rotation after 2 failures in a row" in r.stderr and "its jobs move to" in r.stderr
    recs = records(out)
    assert sorted(x["id"] for x in recs) == [f"j{k}" for k in range(6)]
    for x in recs:
        assert [m["role"] for m in x["messages"]] == ["user", "assistant"]
        assert x["words"] > 0 and x["messages"][1]["content"].startswith("The ")
    assert "jobs" in r.stderr and "words/s" in r.stderr and "ETA" in r.stderr     # the progress line


def test_sigkill_mid_way_then_resume_loses_nothing_and_duplicates_nothing(tmp_path):
    ins, out = tmp_path / "ins.jsonl", tmp_path / "data.jsonl"
    instructions(ins, 6)
    journal = tmp_path / "data.jsonl.journal"
    with StubServer("slow", delay=0.4, text="prose") as a, StubServer("slow", delay=0.4, text="prose") as b:
        cmd = batch(ins, "--out", out, "--base-url", a.url, "--base-url", b.url, "-q")
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if journal.exists() and len(journal.read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        time.sleep(0.5)                              # two more jobs are mid-way
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert (tmp_path / "data.jsonl.lock").exists()          # left behind by the dead process
        at_kill = len(records(out))
        assert 2 <= at_kill < 6
        r = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ids = [x["id"] for x in records(out)]
    assert collections.Counter(ids).most_common(1)[0][1] == 1          # no duplicates
    assert sorted(ids) == [f"j{k}" for k in range(6)]                   # nothing lost
    summary = json.loads(r.stdout)
    assert summary["done_this_run"] == 6 - at_kill
    assert not (tmp_path / "data.jsonl.lock").exists()


def test_second_batch_on_the_same_output_is_refused_and_bad_output_fails_first(tmp_path):
    ins, out = tmp_path / "ins.jsonl", tmp_path / "data.jsonl"
    instructions(ins, 2)
    with StubServer("slow", delay=0.5, text="prose") as a:
        first = subprocess.Popen(batch(ins, "--out", out, "--base-url", a.url, "-q"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not (tmp_path / "data.jsonl.lock").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            r = subprocess.run(batch(ins, "--out", out, "--base-url", a.url), capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 2 and "Another batch is writing" in r.stderr
        finally:
            first.wait(timeout=120)
        assert first.returncode == 0 and len(records(out)) == 2
        before = len(a.requests)
        r = subprocess.run(batch(ins, "--out", tmp_path / "missing" / "d.jsonl", "--base-url", a.url),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "does not exist" in r.stderr
        assert len(a.requests) == before            # no job was started
