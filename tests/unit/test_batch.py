"""Core: the batch runner on scripted backends — records, journal, resume, failing servers, lock."""

from __future__ import annotations

import itertools
import json
import threading

import pytest

from fakes import ScriptedBackend
from longhand.core.data.batch import BatchError, BatchRunner, Output, Server
from longhand.core.data.instructions import parse_instructions
from longhand.core.errors import BackendError, CancelToken
from longhand.core.projects.project import Project

PLAN = ("Paragraph 1 - Main Point: The start of it all - Word Count: 150 words\n"
        "Paragraph 2 - Main Point: How it ends - Word Count: 150 words\n")
SFT_KEYS = {"messages", "id", "target_words", "words", "plan", "target_given", "model"}


def instructions(n: int, words: int = 300):
    text = "\n".join(json.dumps({"id": f"job-{k}", "instruction": f"Write text number {k}.",
                                 "target_words": words}) for k in range(n))
    return parse_instructions(text).instructions


_seeds = itertools.count(1)


def fresh(**kw) -> ScriptedBackend:
    """A scripted backend whose made-up words are its own: a job resumed on a new backend
    goes on with new words (the same sequence again would be a loop, rightly rejected)."""
    b = ScriptedBackend(plan_text=PLAN, **kw)
    b._x = 12345 + 7919 * next(_seeds)
    return b


def scripted(name: str, **kw) -> Server:
    return Server(name=name, open=lambda: fresh(**kw))


def read_records(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_job_becomes_one_sft_record_in_the_trainers_layout(tmp_path):
    out = tmp_path / "data.jsonl"
    servers = [scripted("s1"), scripted("s2")]
    summary = BatchRunner(instructions(6), out, servers, concurrency=3).run()
    recs = read_records(out)
    assert sorted(r["id"] for r in recs) == [f"job-{k}" for k in range(6)]
    for r in recs:
        assert set(r) == SFT_KEYS
        user, assistant = r["messages"]
        assert user == {"role": "user", "content": f"Write text number {r['id'][4:]}."}
        assert assistant["role"] == "assistant" and set(assistant) == {"role", "content"}
        assert r["words"] == len(assistant["content"].split()) and 270 <= r["words"] <= 336
        assert r["target_words"] == 300 and r["target_given"] is True and r["model"] == "scripted"
        assert [p["main_point"] for p in r["plan"]] == ["The start of it all", "How it ends"]
        assert sum(p["words"] for p in r["plan"]) == r["words"]
    assert summary["done"] == 6 and summary["unfinished"] == 0 and not summary["failed"]
    assert summary["words"] == sum(r["words"] for r in recs)
    assert summary["S_l"] is not None and summary["S_l"] > 90 and summary["S_l_jobs"] == 6
    # spread over both servers, each credited with its own jobs and words
    by_server = {s["server"]: s for s in summary["servers"]}
    assert by_server["s1"]["jobs"] > 0 and by_server["s2"]["jobs"] > 0
    assert by_server["s1"]["words"] + by_server["s2"]["words"] == summary["words"]
    # the journal lists every job, with the output size after its record
    journal = [json.loads(line) for line in (tmp_path / "data.jsonl.journal").read_text().splitlines()]
    assert sorted(e["id"] for e in journal) == sorted(r["id"] for r in recs)
    assert journal[-1]["end"] == out.stat().st_size
    # the projects are kept, finished, with the prompt format they were written in
    p = Project.load(tmp_path / "data.jsonl.jobs" / "job-0.longhand")
    assert p.finished and p.settings["format_name"] == "longwriter-llama3" and p.settings["model"] == "scripted"
    assert not (tmp_path / "data.jsonl.lock").exists()


def test_steps_add_plan_and_write_records(tmp_path):
    out = tmp_path / "data.jsonl"
    BatchRunner(instructions(1), out, [scripted("s")], steps=True).run()
    recs = read_records(out)
    assert [r.get("step") for r in recs] == [None, "plan", "write", "write"]
    plan = recs[1]["messages"]
    assert "Write text number 0." in plan[0]["content"] and plan[1]["content"].startswith("Paragraph 1 - Main Point:")
    write2 = recs[3]["messages"]
    # the second write step's prompt carries the first section's text, as the engine's did
    first = recs[2]["messages"][1]["content"]
    assert first in write2[0]["content"] and "How it ends" in write2[0]["content"]
    assert recs[0]["messages"][1]["content"] == first + "\n\n" + write2[1]["content"]


class DownServer(Server):
    pass


def test_a_failing_server_is_retried_then_taken_out_and_its_jobs_move(tmp_path):
    out = tmp_path / "data.jsonl"
    tries = []

    def down():
        tries.append(1)
        raise BackendError("Cannot reach the server at http://10.0.0.9/v1: connection refused.")

    messages = []
    servers = [Server(name="http://10.0.0.9/v1", open=down), scripted("good")]
    summary = BatchRunner(instructions(5), out, servers, concurrency=2, max_failures=2, retry_delay=0,
                          on_message=messages.append).run()
    assert summary["done"] == 5 and not summary["failed"]
    assert len(tries) == 2
    assert sum("failed (Cannot reach" in m and "retrying (1/2)" in m for m in messages) == 1
    out_msg = [m for m in messages if "taken out of rotation" in m]
    assert len(out_msg) == 1 and "after 2 failures in a row" in out_msg[0] and "move to good" in out_msg[0]
    assert summary["servers"][0]["status"] == "out of rotation"
    assert summary["servers"][1]["jobs"] == 5
    assert sorted(r["id"] for r in read_records(out)) == [f"job-{k}" for k in range(5)]


def test_no_server_left_stops_and_leaves_the_jobs_for_a_rerun(tmp_path):
    out = tmp_path / "data.jsonl"

    def down():
        raise BackendError("connection refused")

    messages = []
    summary = BatchRunner(instructions(3), out, [Server("http://x/v1", down)], max_failures=2, retry_delay=0,
                          on_message=messages.append).run()
    assert summary["done"] == 0 and summary["unfinished"] == 3
    assert summary["stopped"] == "every server was taken out of rotation"
    assert any("no server is left" in m for m in messages)
    # rerun with a working server: everything is written
    summary = BatchRunner(instructions(3), out, [scripted("s")]).run()
    assert summary["done"] == 3 and len(read_records(out)) == 3


class BreaksAfter(ScriptedBackend):
    """Fails mid-section after ``n`` pieces on its first generate calls (a server that drops)."""

    def __init__(self, n: int, **kw) -> None:
        super().__init__(plan_text=PLAN, **kw)
        self.n = n

    def generate(self, prompt, **kw):
        if "Main Point" in prompt.text():            # the plan request
            return super().generate(prompt, **kw)
        on_piece = kw.pop("on_piece")
        seen = []

        def counting(piece):
            seen.append(piece)
            if len(seen) > self.n:
                raise BackendError("The connection to http://flaky/v1 failed while trying to stream the text.")
            return on_piece(piece)
        return super().generate(prompt, on_piece=counting, **kw)


def test_a_job_interrupted_on_one_server_continues_from_its_project_on_another(tmp_path):
    out = tmp_path / "data.jsonl"
    flaky = Server("http://flaky/v1", lambda: BreaksAfter(40))
    summary = BatchRunner(instructions(1), out, [flaky, scripted("good")], retry_delay=0).run()
    assert summary["done"] == 1
    (rec,) = read_records(out)
    assert summary["servers"][1]["jobs"] == 1
    # the 40 words written on the flaky server were kept: the record's text starts with them
    text = rec["messages"][1]["content"]
    assert 270 <= rec["words"] <= 336 and text.startswith("Lorem ipsum ipsum")


def test_resume_after_a_kill_never_duplicates_and_cuts_a_half_written_record(tmp_path):
    out = tmp_path / "data.jsonl"
    BatchRunner(instructions(2), out, [scripted("s")]).run()
    before = out.read_bytes()
    # a kill -9 in the middle of the next job's record: half a line after the last journalled job
    with open(out, "ab") as f:
        f.write(b'{"messages": [{"role": "user", "content": "Write text numb')
    messages = []
    summary = BatchRunner(instructions(4), out, [scripted("s")], on_message=messages.append).run()
    assert any("bytes after the last finished job" in m for m in messages)
    recs = read_records(out)
    assert out.read_bytes().startswith(before)
    assert [r["id"] for r in recs].count("job-0") == 1
    assert sorted(r["id"] for r in recs) == [f"job-{k}" for k in range(4)]
    assert summary["done_this_run"] == 2


def test_a_record_written_but_not_journalled_is_not_duplicated(tmp_path):
    out = tmp_path / "data.jsonl"
    BatchRunner(instructions(2), out, [scripted("s")]).run()
    journal = tmp_path / "data.jsonl.journal"
    lines = journal.read_text().splitlines()
    journal.write_text(lines[0] + "\n")            # killed after job 2's fsync, before its journal line
    summary = BatchRunner(instructions(2), out, [scripted("s")]).run()
    recs = read_records(out)
    assert sorted(r["id"] for r in recs) == ["job-0", "job-1"]
    assert summary["done_this_run"] == 1


def test_cancelled_jobs_continue_where_they_stopped(tmp_path):
    out = tmp_path / "data.jsonl"
    cancel = CancelToken()
    words_seen = []

    class Slow(ScriptedBackend):
        def generate(self, prompt, **kw):
            on_piece = kw.pop("on_piece")

            def spy(piece):
                words_seen.append(piece)
                if len(words_seen) == 120:
                    cancel.cancel()
                return on_piece(piece)
            return super().generate(prompt, on_piece=spy, **kw)

    summary = BatchRunner(instructions(1), out, [Server("s", lambda: Slow(plan_text=PLAN))], cancel=cancel).run()
    assert summary["interrupted"] and summary["done"] == 0 and not out.read_text()
    project = Project.load(tmp_path / "data.jsonl.jobs" / "job-0.longhand")
    kept = project.words
    assert kept >= 100 and not project.finished
    summary = BatchRunner(instructions(1), out, [scripted("s")]).run()
    (rec,) = read_records(out)
    assert rec["messages"][1]["content"].startswith(project.sections[0].text[:200])
    assert summary["words_this_run"] == rec["words"] - kept


def test_output_checked_before_any_job(tmp_path):
    opened = []
    server = Server("s", lambda: opened.append(1) or ScriptedBackend(plan_text=PLAN))
    with pytest.raises(BatchError, match="does not exist"):
        BatchRunner(instructions(1), tmp_path / "no" / "data.jsonl", [server]).run()
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(BatchError, match="is a folder"):
        BatchRunner(instructions(1), tmp_path / "dir.jsonl", [server]).run()
    assert opened == []


def test_output_without_journal_is_not_touched(tmp_path):
    out = tmp_path / "data.jsonl"
    out.write_text('{"precious": 1}\n')
    with pytest.raises(BatchError, match="no journal"):
        BatchRunner(instructions(1), out, [scripted("s")]).run()
    assert out.read_text() == '{"precious": 1}\n'


def test_two_batches_on_one_output_are_refused(tmp_path):
    out = tmp_path / "data.jsonl"
    first = Output(out)
    first.open()
    try:
        with pytest.raises(BatchError, match="Another batch is writing"):
            BatchRunner(instructions(1), out, [scripted("s")]).run()
    finally:
        first.close()
    # once the first is done, the output is free again
    assert BatchRunner(instructions(1), out, [scripted("s")]).run()["done"] == 1


def test_local_model_runs_one_job_at_a_time(tmp_path):
    active, peak = [0], [0]
    lock = threading.Lock()

    class Counting(ScriptedBackend):
        def generate(self, prompt, **kw):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                return super().generate(prompt, **kw)
            finally:
                with lock:
                    active[0] -= 1

    opened = []
    local = Server("local model", lambda: opened.append(1) or Counting(plan_text=PLAN, delay=0.0005), shared=True)
    runner = BatchRunner(instructions(3), tmp_path / "d.jsonl", [local], concurrency=4)
    assert runner.concurrency == 1
    assert runner.run()["done"] == 3
    assert peak[0] == 1 and opened == [1]        # one backend, loaded once
