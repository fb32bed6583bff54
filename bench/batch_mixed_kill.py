"""Bench: a mixed batch on a real instruct model — records kept and rejected, and a kill -9 in
the middle of it, then the resume.

Starts one ``python -m llama_cpp.server`` (``--model``, default the instruct test model) on
127.0.0.1 and runs ``longhand batch`` (chat format) on held-out instructions of different
kinds, among them requests a small instruct model tends to refuse or to answer with
assistant chatter. Once ``--kill-after`` jobs are journalled and another has words in its
project, the batch is killed with SIGKILL; what is on disk is recorded (records, journal
lines, bytes, projects and their words), then the same command is run again and the same is
recorded after it: records kept, answers rejected with their reasons, duplicates, jobs lost.

``--standin`` runs the same against two stand-in servers (``bench/batch_standin.py``: 2
slots each, ``--rate`` tokens/s a slot) with longer targets, for a kill that lands with
several jobs in flight, in minutes on any machine; their text is clean, so every answer
passes there.

Writes ``batch_mixed_kill.json`` and ``batch_mixed_kill.md`` (``--standin``:
``batch_kill_standin.json`` and ``.md``).

    python bench/batch_mixed_kill.py [--model PATH] [--kill-after 2] [--jobs N]
    python bench/batch_mixed_kill.py --standin [--kill-after 3]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import free_port, git_state, machine, machine_line, out_dir, stop_process, write_json, write_text

INSTRUCT_MODEL = "/work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
JOBS = [
    {"id": "story-lighthouse", "instruction": "Write a short story about a lighthouse keeper who finds a message in a bottle.", "target_words": 250},
    {"id": "dialogue-rent", "instruction": "Write a 200-word dialogue between a landlord and a tenant arguing about the rent.", "target_words": 200},
    {"id": "essay-trees", "instruction": "Write an essay on why cities should plant more trees.", "target_words": 300},
    {"id": "letter-apology", "instruction": "Write a letter from a student apologising to a teacher for missing an exam.", "target_words": 200},
    {"id": "guide-tomatoes", "instruction": "Write a guide to growing tomatoes on a small balcony.", "target_words": 300},
    {"id": "speech-retirement", "instruction": "Write a speech for a colleague's retirement party.", "target_words": 250},
]


def disk_state(out: Path) -> dict:
    from longhand.core.projects.project import Project
    journal = Path(str(out) + ".journal")
    lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    jl = [json.loads(x) for x in journal.read_text().splitlines()] if journal.exists() else []
    projects = {}
    for p in sorted(Path(str(out) + ".jobs").glob("*.longhand")):
        try:
            pr = Project.load(p)
            projects[p.stem] = {"words": pr.words, "finished": pr.finished, "text": pr.text().strip(),
                                "sections_done": sum(1 for s in pr.sections if s.status == "done"),
                                "sections": len(pr.sections)}
        except Exception as e:  # noqa: BLE001 - a half-written project is a finding too
            projects[p.stem] = {"error": str(e)[:120]}
    ids = [json.loads(x)["id"] for x in lines]
    return {"output_bytes": out.stat().st_size if out.exists() else 0, "records": len(lines), "record_ids": ids,
            "duplicates": sum(n - 1 for n in collections.Counter(ids).values()),
            "journal_lines": len(jl), "journal": [{k: e.get(k) for k in ("id", "end", "words", "target_words",
                                                                           "kept", "reasons")} for e in jl],
            "lock_file": Path(str(out) + ".lock").exists(), "projects": projects}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="results folder (default bench/results)")
    ap.add_argument("--model", default=INSTRUCT_MODEL)
    ap.add_argument("--kill-after", type=int, default=2, help="journalled jobs before the SIGKILL")
    ap.add_argument("--jobs", type=int, default=len(JOBS), help="the first N instructions")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the targets (a shorter run)")
    ap.add_argument("--standin", action="store_true", help="stand-in servers instead of a model")
    ap.add_argument("--rate", type=float, default=40.0, help="--standin: tokens/s a slot")
    args = ap.parse_args()
    jobs = [dict(j, target_words=max(100, int(j["target_words"] * args.scale))) for j in JOBS[:args.jobs]]
    if args.standin:
        jobs = [dict(j, target_words=600 + 150 * k) for k, j in enumerate(JOBS)]
    name = "batch_kill_standin" if args.standin else "batch_mixed_kill"
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    results = out_dir(args.out)
    work = Path(tempfile.mkdtemp(prefix="batch_mixed_"))
    ins, out = work / "instructions.jsonl", work / "data.jsonl"
    ins.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    if args.standin:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from batch_scaling import start_standins
        server, urls = start_standins(2, 2, args.rate, 0.2)
        fmt = "longwriter-llama3"
        model = f"stand-in servers (2 x 2 slots, {args.rate:g} tokens/s a slot)"
    else:
        port = free_port()
        urls = [f"http://127.0.0.1:{port}/v1"]
        server = subprocess.Popen(["nice", "-n", "10", sys.executable, "-m", "llama_cpp.server", "--model",
                                   args.model, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192",
                                   "--n_threads", "2", "--interrupt_requests", "False", "--verbose", "False"],
                                  stdout=open(work / "server.log", "wb"), stderr=subprocess.STDOUT)
        fmt = "chat"
        model = Path(args.model).name
    url = urls[0]
    cmd = [sys.executable, "-m", "longhand", "batch", str(ins), "--out", str(out), "--format", fmt, "--seed", "3",
           "--json"]
    for u in urls:
        cmd += ["--base-url", u]
    shown = (f"longhand batch instructions.jsonl --out data.jsonl --format {fmt} --seed 3 --json "
             + " ".join(f"--base-url URL{k + 1}" for k in range(len(urls))))
    data: dict = {"machine": machine(), "git": git_state(), "model": model, "jobs": jobs, "command": shown}
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start") from None
                time.sleep(0.5)
        log = open(work / "batch.log", "ab")
        t0 = time.perf_counter()
        first = subprocess.Popen(["nice", "-n", "10", *cmd], stdout=subprocess.DEVNULL, stderr=log)
        journal = Path(str(out) + ".journal")
        while first.poll() is None:
            done = len(journal.read_text().splitlines()) if journal.exists() else 0
            if done >= args.kill_after:
                st = disk_state(out)
                if any(p.get("words", 0) > 0 and not p.get("finished") for p in st["projects"].values()):
                    break
            time.sleep(0.5)
        if first.poll() is None:
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            data["killed_after_s"] = round(time.perf_counter() - t0, 1)
        else:
            data["killed_after_s"] = None           # it finished before the kill point
        data["before_resume"] = disk_state(out)
        data["resume_started_after_kill_s"] = round(time.perf_counter() - t0, 1)
        r = subprocess.run(["nice", "-n", "10", *cmd], capture_output=True, text=True, timeout=7200)
        log.write(r.stderr.encode())
        summary = json.loads(r.stdout)
        data["resume"] = {k: summary[k] for k in ("done", "done_this_run", "records", "rejected", "words",
                                                  "S_l", "seconds", "words_per_s", "unfinished")}
        data["resume"]["exit_code"] = r.returncode
        data["resume_notes"] = [x for x in r.stderr.splitlines() if "bytes after" in x or "no record" in x]
        data["after_resume"] = after = disk_state(out)
        final = {x["id"]: x["messages"][1]["content"] for x in map(json.loads, out.read_text().splitlines())}
        data["in_flight_continued"] = {
            k: {"words_at_kill": v["words"], "words_final": after["projects"][k]["words"],
                "record_starts_with_the_text_at_the_kill": final.get(k, "").startswith(v["text"][:-40])}
            for k, v in data["before_resume"]["projects"].items() if not v.get("finished") and v.get("words")}
        for st in (data["before_resume"], after):
            for v in st["projects"].values():
                v.pop("text", None)
        data["jobs_lost"] = sorted({j["id"] for j in jobs} - {e["id"] for e in after["journal"]})
        data["records_kept"] = after["records"]
        data["rejected"] = [{"id": e["id"], "words": e["words"], "target_words": e["target_words"],
                             "reasons": e["reasons"]} for e in after["journal"] if not e["kept"]]
        data["answers"] = [{"id": x["id"], "words": x["words"], "target_words": x["target_words"],
                            "start": x["messages"][1]["content"][:200]}
                           for x in map(json.loads, out.read_text().splitlines())]
        rejected_text = {}
        from longhand.core.projects.project import Project
        for e in data["rejected"]:
            p = Project.load(Path(str(out) + ".jobs") / f"{e['id']}.longhand")
            rejected_text[e["id"]] = p.text()[:300]
        data["rejected_text_start"] = rejected_text
        write_json(results / f"{name}.json", data)
        write_text(results / f"{name}.md", report(data))
        print(report(data), file=sys.stderr)
    finally:
        if "first" in locals() and first.poll() is None:
            first.kill()
        stop_process(server)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(d: dict) -> str:
    b, a = d["before_resume"], d["after_resume"]
    lines = ["# `longhand batch`: a batch killed with SIGKILL mid-way and resumed; answers kept and rejected", "",
             machine_line(d["machine"]), "",
             f"Model: {d['model']}; {len(d['jobs'])} held-out instructions "
             f"({', '.join(j['id'] for j in d['jobs'])}). Command: `{d['command']}`.", "",
             "## The kill", "",
             (f"SIGKILL after {d['killed_after_s']} s. On disk then: {b['records']} records "
              f"({b['output_bytes']} bytes), {b['journal_lines']} journal lines, lock file left: {b['lock_file']}; "
              "projects: " + ", ".join(f"{k} {v.get('words')} words"
                                      + (" (finished)" if v.get("finished") else " (in flight)")
                                      for k, v in b["projects"].items()) + "."
              if d["killed_after_s"] is not None else "The batch finished before the kill point."),
             "",
             f"Resumed with the same command: {d['resume']['done_this_run']} jobs written, exit code "
             f"{d['resume']['exit_code']}. On disk after: {a['records']} records, {a['journal_lines']} journal lines, "
             f"duplicates {a['duplicates']}, jobs lost {len(d['jobs_lost'])}, lock file left: {a['lock_file']}.",
             *(f"Resume note: {n}" for n in d["resume_notes"]),
             "Jobs in flight at the kill, continued from their projects: " + ", ".join(
                 f"{k} {v['words_at_kill']} -> {v['words_final']} words (its record starts with the text on disk at "
                 f"the kill, but for its last 40 characters: {v['record_starts_with_the_text_at_the_kill']})"
                 for k, v in d.get("in_flight_continued", {}).items()) + ".", "",
             "## Kept and rejected", "",
             f"{d['records_kept']} records kept of {len(d['jobs'])} answers; {len(d['rejected'])} rejected:", ""]
    for e in d["rejected"]:
        lines.append(f"- {e['id']} ({e['words']}/{e['target_words']} words): {'; '.join(e['reasons'])}")
    lines += ["", "Kept answers:", ""]
    for x in d["answers"]:
        lines.append(f"- {x['id']} ({x['words']}/{x['target_words']} words): "
                     f"{x['start'][:120].replace(chr(10), ' ')}…")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
