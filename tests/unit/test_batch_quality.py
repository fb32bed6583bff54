"""Core: training data a trainer can trust — which finished answers become SFT records, which
stay in the journal with their reasons, --keep-short, DPO pairs only with a healthy chosen
text, and servers' slots."""

from __future__ import annotations

import json
import threading
import time

from batchfakes import REFUSAL, Mixed, jobs, mixed_server
from longhand.core.data.batch import BatchRunner, Server, remote_server
from longhand.core.data.quality import chatter_reasons, judge_project, judge_text
from longhand.core.data.training import dpo_pairs
from longhand.core.engine.plan import DONE, Section
from longhand.core.projects.project import Project
from openai_stub import StubServer
from openai_stub import prose as stub_prose


def test_judge_text_finds_refusals_and_chatter_and_passes_clean_prose():
    assert chatter_reasons(REFUSAL)[0].startswith("refusal:")
    assert chatter_reasons("Certainly! Here is a story about a keeper.\n\nThe keeper...")[0].startswith("chatter:")
    assert chatter_reasons("The story ends here. I hope this helps you!")[0].startswith("chatter:")
    assert chatter_reasons("As an AI language model, I cannot write that.")
    clean = ("The keeper climbed the stairs of the lighthouse every evening and lit the lamp. " * 1)
    assert chatter_reasons(clean) == []
    # a character who is sorry is not a refusal
    assert chatter_reasons('"I\'m sorry," she said, "but the boat left without us."') == []
    loop = "The keeper walked along the wet stones and looked at the sea. " * 30
    v = judge_text(loop, "en")
    assert not v.ok and any(r.startswith("health: loop") for r in v.reasons)


def test_a_finished_answer_with_a_refusal_or_chatter_is_no_training_example():
    prose = "".join(stub_prose("keeper", 240)).strip()        # made-up words: no loop
    for text, kind in ((REFUSAL + "\n\n" + prose, "refusal:"),
                       ("Certainly! Here is your story about the keeper:\n\n" + prose, "chatter:"),
                       ("Certainly!\n\n" + prose, "chatter:"),
                       (prose + "\n\nI hope you enjoyed the story! Let me know if you want changes.", "chatter:")):
        p = _project([text], [[]])
        p.target_words = 100
        v = judge_project(p)
        assert not v.ok and any(r.startswith(kind) for r in v.reasons), (kind, v.reasons)
    # a letter's closing lines speak to its reader: manuscript, not chatter
    letter = _project([prose + "\n\nLet me know if you have any questions. Yours, Ann"], [[]])
    letter.instruction, letter.target_words = "Write a letter to a neighbour about the lighthouse.", 100
    assert judge_project(letter).ok, judge_project(letter).reasons
    clean = _project([prose], [[]])
    clean.target_words = 100
    assert judge_project(clean).ok


def test_mixed_batch_keeps_only_answers_a_trainer_can_trust(tmp_path):
    out = tmp_path / "data.jsonl"
    ins = jobs("GOOD", "SHORT", "REFUSE", "GOOD")
    messages: list[str] = []
    summary = BatchRunner(ins, out, [mixed_server()], on_message=messages.append).run()
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in recs) == ["GOOD-0", "GOOD-3"]
    assert all("reasons" not in r for r in recs)
    assert summary["done"] == 4 and summary["records"] == 2
    rejected = {r["id"]: r["reasons"] for r in summary["rejected"]}
    assert set(rejected) == {"SHORT-1", "REFUSE-2"}
    assert any(r.startswith("short:") for r in rejected["SHORT-1"])
    assert any(r.startswith("needs attention") for r in rejected["SHORT-1"])
    # the engine cuts a refusal as it streams; what is left of an answer that only refuses is short
    assert any(r.startswith(("short:", "refusal:")) for r in rejected["REFUSE-2"])
    # the journal keeps every job, the rejected ones with their reasons and no record
    journal = {e["id"]: e for e in map(json.loads, (tmp_path / "data.jsonl.journal").read_text().splitlines())}
    assert set(journal) == {i.id for i in ins}
    assert journal["REFUSE-2"]["kept"] is False and journal["REFUSE-2"]["written"] is False
    assert journal["REFUSE-2"]["reasons"] == rejected["REFUSE-2"]
    assert journal["GOOD-0"]["kept"] is True and journal["GOOD-0"]["reasons"] == []
    assert any("REFUSE-2" in m and "no record" in m for m in messages)
    # a rerun does not redo them: they are finished, judged, journalled
    again = BatchRunner(ins, out, [mixed_server()]).run()
    assert again["done_this_run"] == 0 and len(out.read_text().splitlines()) == 2


def test_keep_short_writes_every_answer_with_its_reasons(tmp_path):
    out = tmp_path / "data.jsonl"
    summary = BatchRunner(jobs("GOOD", "SHORT"), out, [mixed_server()], keep_short=True).run()
    recs = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert set(recs) == {"GOOD-0", "SHORT-1"} and summary["records"] == 2
    assert "reasons" not in recs["GOOD-0"]
    assert any(r.startswith("short:") for r in recs["SHORT-1"]["reasons"])
    assert recs["SHORT-1"]["words"] < 0.8 * 300
    journal = {e["id"]: e for e in map(json.loads, (tmp_path / "data.jsonl.journal").read_text().splitlines())}
    assert journal["SHORT-1"]["kept"] is False and journal["SHORT-1"]["written"] is True


def _project(texts: list[str], takes: list[list[str]], attention=(False, False)) -> Project:
    p = Project(instruction="Write a story about a lighthouse keeper.", target_words=200)
    p.sections = [Section(main_point=f"Part {i + 1}", target_words=100, text=t, status=DONE, takes=list(tk),
                          needs_attention=a)
                  for i, (t, tk, a) in enumerate(zip(texts, takes, attention))]
    return p


CLEAN = ("The keeper climbed the narrow stairs at dusk, counting the steps as his father had done. "
         "Below him the harbour lights came on one by one, and the fishing boats turned for home. "
         "He trimmed the wick, wiped the salt from the great lens, and waited for the first beam "
         "to sweep across the water. Far out, a small sail tacked against the wind, and he watched "
         "it until the dark swallowed it.")


def test_dpo_pairs_only_when_the_chosen_text_is_healthy():
    looping = "The keeper walked along the wet stones and looked at the sea. " * 12
    p = _project([CLEAN, REFUSAL + " " + CLEAN], [["A worse take about the keeper."], ["Another take."]])
    pairs = dpo_pairs(p, job_id="j")
    assert [x["section"] for x in pairs] == [1]          # section 2's chosen text is a refusal
    p = _project([looping, CLEAN], [["A take."], ["A take."]], attention=(False, True))
    assert dpo_pairs(p, job_id="j") == []                # a loop; a section the health check gave up on
    assert judge_project(p).reasons                      # and that project makes no SFT record either


def test_slots_come_from_the_server_or_the_flag_and_bound_the_jobs_in_flight(tmp_path):
    with StubServer(slots=3) as llama_server, StubServer() as plain:
        assert remote_server(llama_server.url).slots == 3                # /props total_slots
        assert remote_server(plain.url).slots == 1                       # says nothing: 1
        assert remote_server(plain.url, slots=5).slots == 5              # --parallel
    peak: dict[str, int] = {"a": 0, "b": 0}
    now: dict[str, int] = {"a": 0, "b": 0}
    lock = threading.Lock()

    def counting(name):
        class B(Mixed):
            def generate(self, prompt, **kw):
                with lock:
                    now[name] += 1
                    peak[name] = max(peak[name], now[name])
                try:
                    time.sleep(0.01)
                    return super().generate(prompt, **kw)
                finally:
                    with lock:
                        now[name] -= 1
        return B

    servers = [Server("a", counting("a"), slots=3), Server("b", counting("b"), slots=1)]
    runner = BatchRunner(jobs(*["GOOD"] * 8), tmp_path / "d.jsonl", servers)
    assert runner.concurrency == 4                        # the slots together
    summary = runner.run()
    assert summary["records"] == 8
    assert peak == {"a": 3, "b": 1}
    by = {s["server"]: s for s in summary["servers"]}
    assert by["a"]["slots"] == 3 and by["a"]["jobs"] > by["b"]["jobs"] >= 1


def test_worker_processes_write_the_same_records_and_leave_nothing_running(tmp_path):
    import multiprocessing

    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    kinds = ("GOOD", "SHORT", "GOOD", "REFUSE", "GOOD", "GOOD")
    a = BatchRunner(jobs(*kinds), one, [mixed_server("a"), mixed_server("b")]).run()
    runner = BatchRunner(jobs(*kinds), two, [Server("a", Mixed, slots=2), Server("b", Mixed, slots=2)],
                         processes=2)
    assert runner.processes == 2
    b = runner.run()
    ids = lambda p: sorted(json.loads(x)["id"] for x in p.read_text().splitlines())  # noqa: E731
    assert ids(two) == ids(one) == ["GOOD-0", "GOOD-2", "GOOD-4", "GOOD-5"]
    assert {r["id"] for r in b["rejected"]} == {r["id"] for r in a["rejected"]} == {"SHORT-1", "REFUSE-3"}
    assert b["words"] == sum(json.loads(x)["words"] for x in (tmp_path / "two.jsonl.journal").read_text().splitlines())
    assert sum(s["jobs"] for s in b["servers"]) == 6 and all(s["jobs"] for s in b["servers"])
    assert b["words_this_run"] == b["words"]           # progress and words came back from the processes
    assert not multiprocessing.active_children()


def test_a_server_failing_in_a_worker_process_is_handled_by_the_batch(tmp_path):
    from longhand.core.errors import BackendError

    class Down(Mixed):
        def generate(self, prompt, **kw):
            raise BackendError("Cannot reach the server at http://down/v1")

    messages: list[str] = []
    summary = BatchRunner(jobs("GOOD", "GOOD", "GOOD"), tmp_path / "d.jsonl",
                          [Server("down", Down), Server("up", Mixed)], processes=2, retry_delay=0,
                          max_failures=2, on_message=messages.append).run()
    assert summary["records"] == 3 and summary["unfinished"] == 0
    by = {s["server"]: s for s in summary["servers"]}
    assert by["down"]["status"] == "out of rotation" and "Cannot reach" in by["down"]["last_error"]
    assert any("taken out of rotation" in m for m in messages)


def test_cli_says_how_many_records_and_which_answers_did_not_pass(tmp_path, monkeypatch, capsys):
    from longhand.cli import main
    monkeypatch.setattr("longhand.core.backends.factory.open_backend", lambda model=None, **kw: Mixed())
    ins = tmp_path / "ins.jsonl"
    ins.write_text("".join(json.dumps({"id": f"{k}-{n}", "instruction": f"Write text {k} number {n}.",
                                       "target_words": 300}) + "\n" for n, k in enumerate(("GOOD", "SHORT"))))
    out = tmp_path / "d.jsonl"
    assert main(["batch", str(ins), "--out", str(out)]) == 0          # a rejected answer is no failure
    err = capsys.readouterr().err
    assert f"records: 1 in {out}; 1 answer did not pass (no record, reasons in {out}.journal)" in err
    assert "job SHORT-1 (line 2): no record (short:" in err
    out2 = tmp_path / "k.jsonl"
    assert main(["batch", str(ins), "--out", str(out2), "--keep-short", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 2 and [r["id"] for r in summary["rejected"]] == ["SHORT-1"]
    assert main(["batch", str(ins), "--out", str(tmp_path / "x.jsonl"), "--backend", "openai"]) == 2
    assert "--backend openai needs --base-url" in capsys.readouterr().err
