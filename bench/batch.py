"""Bench: ``longhand batch`` on one vs two ``python -m llama_cpp.server`` processes (demo model).

Runs, in order, on 127.0.0.1 (each server: ``--n_threads 1 --interrupt_requests False``):

1. the 20-instruction batch (targets 300-1,500 words) on one server, one job at a time;
2. the same batch on two servers, two jobs in flight;
3. the same batch on two servers, killed with SIGKILL once ``--kill-after`` jobs are
   journalled, then resumed with the same command: records at the end, duplicates, jobs lost;
4. every record checked against the SFT schema exactly (and loaded with ``datasets`` when it
   is installed).

Writes ``batch.json`` and ``batch.md`` to the results folder. The servers share the machine's
cores with everything else running: two servers on 2 cores compete for CPU.

    python bench/batch.py [--quick] [--out DIR] [--jobs 20] [--kill-after 8]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from _common import (
    demo_model,
    git_state,
    machine,
    machine_line,
    out_dir,
    start_server,
    write_json,
    write_text,
)

TOPICS = [
    ("story", "a lighthouse keeper who finds a message in a bottle"),
    ("essay", "why cities should plant more trees"),
    ("story", "a girl who repairs clocks in a mountain village"),
    ("report", "the history of the bicycle"),
    ("story", "two brothers who run a bakery during a long winter"),
    ("essay", "what libraries are for in the age of the internet"),
    ("story", "a fisherman who befriends a seal"),
    ("guide", "growing tomatoes on a small balcony"),
    ("story", "a train that stops at a station nobody remembers"),
    ("essay", "the value of learning a second language as an adult"),
    ("story", "an old teacher's last day before retirement"),
    ("report", "how lighthouses worked before electricity"),
    ("story", "a cat that guards a bookshop at night"),
    ("essay", "why people enjoy walking in the rain"),
    ("story", "a pilot who lands on a frozen lake"),
    ("guide", "planning a first long-distance hike"),
    ("story", "a painter who can only paint the sea"),
    ("essay", "what makes a good neighbour"),
    ("story", "a boy who builds a radio from scrap"),
    ("report", "the life of honey bees through a year"),
]
SFT_KEYS = {"messages", "id", "target_words", "words", "plan", "target_given", "model"}


def instructions(n: int, lo: int = 300, hi: int = 1500) -> list[dict]:
    out = []
    for k in range(n):
        kind, topic = TOPICS[k % len(TOPICS)]
        target = lo + round((hi - lo) * k / max(1, n - 1) / 10) * 10     # lo .. hi words, evenly
        out.append({"id": f"bench-{k + 1:02d}", "instruction": f"Write a {kind} about {topic}.",
                    "target_words": target})
    return out


def batch_cmd(ins: Path, out: Path, urls: list[str], seed: int = 11) -> list[str]:
    cmd = ["nice", "-n", "10", sys.executable, "-m", "longhand", "batch", str(ins), "--out", str(out),
           "--json", "--seed", str(seed), "--concurrency", str(len(urls))]
    for u in urls:
        cmd += ["--base-url", u]
    return cmd


def run_batch(ins: Path, out: Path, urls: list[str], log: Path) -> dict:
    t0 = time.perf_counter()
    r = subprocess.run(batch_cmd(ins, out, urls), stdout=subprocess.PIPE, stderr=open(log, "ab"), text=True)
    wall = time.perf_counter() - t0
    summary = json.loads(r.stdout)
    summary["process_seconds"] = round(wall, 1)
    summary["exit_code"] = r.returncode
    return summary


def check_records(path: Path) -> dict:
    """Exact schema check of every SFT record; datasets loads them too when installed."""
    recs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    bad = []
    for r in recs:
        ok = (set(r) == SFT_KEYS and isinstance(r["messages"], list) and len(r["messages"]) == 2
              and [m.get("role") for m in r["messages"]] == ["user", "assistant"]
              and all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in r["messages"])
              and isinstance(r["words"], int) and isinstance(r["target_words"], int)
              and all(set(p) == {"main_point", "target_words", "words"} for p in r["plan"]))
        if not ok:
            bad.append(r.get("id"))
    ids = collections.Counter(r.get("id") for r in recs)
    result = {"records": len(recs), "schema_errors": bad,
              "duplicates": sum(c - 1 for c in ids.values() if c > 1), "ids": sorted(ids)}
    try:
        import datasets
        ds = datasets.load_dataset("json", data_files=str(path), split="train")
        result["datasets"] = {"rows": ds.num_rows, "columns": sorted(ds.column_names),
                              "version": datasets.__version__}
    except ImportError:
        result["datasets"] = None
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="results folder (default bench/results)")
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--kill-after", type=int, default=8, help="journalled jobs before the SIGKILL")
    ap.add_argument("--quick", action="store_true", help="4 short jobs (a smoke test)")
    ap.add_argument("--phases", default="one,two,kill", help="which runs: one,two,kill")
    ap.add_argument("--min-words", type=int, default=300, help="smallest target (default 300)")
    ap.add_argument("--max-words", type=int, default=1500, help="largest target (default 1500)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))     # stop the servers on the way out
    results = out_dir(args.out)
    work = results / "batch_work"
    work.mkdir(parents=True, exist_ok=True)
    jobs = instructions(4 if args.quick else args.jobs, args.min_words, args.max_words)
    if args.quick:
        for j in jobs:
            j["target_words"] = 150
        args.kill_after = 1
    ins = work / "instructions.jsonl"
    ins.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    model = demo_model()
    data: dict = {"machine": machine(), "git": git_state(), "jobs": len(jobs),
                  "targets": [j["target_words"] for j in jobs],
                  "server": "python -m llama_cpp.server --n_ctx 8192 --n_threads 1 --interrupt_requests False (nice 10)",
                  "runs": {}}
    prior = results / "batch.json"
    if prior.exists() and not args.quick:     # keep the runs not repeated this time
        try:
            data["runs"] = json.loads(prior.read_text()).get("runs", {})
        except ValueError:
            pass
    phases = args.phases.split(",")
    servers = []
    try:
        for n in range(2):
            servers.append(start_server(model, work / f"server{n + 1}.log"))
        urls = [u for _, u in servers]
        log = work / "batch.log"
        for name, use in (("one", urls[:1]), ("two", urls)):
            if name not in phases:
                continue
            out = work / f"{name}.jsonl"
            for f in work.glob(f"{name}.jsonl*"):
                subprocess.run(["rm", "-rf", str(f)])
            load0 = os.getloadavg()[0]
            summary = run_batch(ins, out, use, log)
            summary["load_start"] = round(load0, 2)
            summary["load_end"] = round(os.getloadavg()[0], 2)
            summary["records"] = check_records(out)
            summary["command"] = " ".join(batch_cmd(ins, out, use)[3:])
            data["runs"][name] = summary
            print(f"{name}: {summary['done']} jobs, {summary['words']} words in {summary['seconds']} s "
                  f"({summary['words_per_s']} words/s), S_l {summary['S_l']}", file=sys.stderr)
            write_json(results / "batch.json", data)
        if "kill" in phases:
            out = work / "kill.jsonl"
            for f in work.glob("kill.jsonl*"):
                subprocess.run(["rm", "-rf", str(f)])
            journal = Path(str(out) + ".journal")
            t0 = time.perf_counter()
            proc = subprocess.Popen(batch_cmd(ins, out, urls), stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
            while proc.poll() is None:
                done = len(journal.read_text().splitlines()) if journal.exists() else 0
                if done >= args.kill_after:
                    time.sleep(3)          # mid-way through the next jobs
                    break
                time.sleep(0.2)
            killed_at = time.perf_counter() - t0
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            before = check_records(out)
            words_at_kill = sum(e.get("words", 0) for e in map(json.loads, journal.read_text().splitlines()))
            in_flight = [p.stem for p in Path(str(out) + ".jobs").glob("*.longhand")
                         if p.stem not in before["ids"]]
            partial = {}
            from longhand.core.projects.project import Project
            for stem in in_flight:
                p = Project.load(Path(str(out) + ".jobs") / f"{stem}.longhand")
                partial[stem] = p.words
            summary = run_batch(ins, out, urls, log)
            after = check_records(out)
            lost = sorted(set(j["id"] for j in jobs) - set(after["ids"]))
            data["runs"]["kill"] = {
                "killed_after_seconds": round(killed_at, 1), "records_at_kill": before["records"],
                "words_at_kill": words_at_kill,
                "total_seconds": round(killed_at + summary["seconds"], 1),
                "load_end": round(os.getloadavg()[0], 2),
                "in_flight_at_kill_words": partial, "resume": summary, "records": after,
                "duplicates": after["duplicates"], "jobs_lost": len(lost), "lost_ids": lost,
                "resume_notes": [line for line in log.read_text(errors="replace").splitlines()
                                 if "bytes after the last finished job" in line][-1:],
                "command": " ".join(batch_cmd(ins, out, urls)[3:])}
            print(f"kill: {before['records']} records at the kill, {after['records']} after resume, "
                  f"duplicates {after['duplicates']}, lost {len(lost)}", file=sys.stderr)
            write_json(results / "batch.json", data)
    finally:
        for proc, _ in servers:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    write_text(results / "batch.md", report(data))
    return 0


def report(d: dict) -> str:
    lines = ["# `longhand batch`: one server vs two (demo model, llama_cpp.server)", "",
             machine_line(d["machine"]), "",
             f"{d['jobs']} instructions, targets {min(d['targets'])}-{max(d['targets'])} words evenly spread "
             f"(sum {sum(d['targets']):,}). Servers: `{d['server']}` on 127.0.0.1. "
             "Two servers on 2 cores compete for CPU with each other and with other work on the machine.", "",
             "| run | jobs | words | wall s | words/s | per server words/s | S_l | records | schema errors | duplicates |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("one", "two"):
        r = d["runs"].get(name)
        if not r:
            continue
        per = ", ".join(f"{s['words_per_s']}" for s in r["servers"])
        lines.append(f"| {name} server{'s' if name == 'two' else ''} | {r['done']} | {r['words']:,} | {r['seconds']} | "
                     f"{r['words_per_s']} | {per} | {r['S_l']} | {r['records']['records']} | "
                     f"{len(r['records']['schema_errors'])} | {r['records']['duplicates']} |")
    loads = [f"{name}: 1-minute load average {r['load_start']} at the start, {r['load_end']} at the end."
             for name in ("one", "two") if (r := d["runs"].get(name))]
    k = d["runs"].get("kill")
    if k:
        r = k["resume"]
        total_words = r["words"]
        lines.append(f"| two servers, SIGKILL + resume | {r['done']} | {total_words:,} | {k['total_seconds']} | "
                     f"{round(total_words / k['total_seconds'], 2)} | (resume: "
                     f"{', '.join(str(s['words_per_s']) for s in r['servers'])}) | {r['S_l']} | "
                     f"{k['records']['records']} | {len(k['records']['schema_errors'])} | {k['duplicates']} |")
        loads.append(f"two servers, SIGKILL + resume: 1-minute load average {k['load_end']} at the end "
                     f"({d['machine'].get('load_avg_at_start', '?')} when the bench started).")
    lines += [""] + loads
    if k:
        lines += ["", "## Killed with SIGKILL mid-way, then resumed", "",
                  f"Killed after {k['killed_after_seconds']} s with {k['records_at_kill']} records written; "
                  f"jobs in flight at the kill (words kept in their projects): {k['in_flight_at_kill_words']}.",
                  f"Resumed with the same command: {k['records']['records']} records, duplicates "
                  f"{k['duplicates']}, jobs lost {k['jobs_lost']}; the resume wrote "
                  f"{k['resume']['done_this_run']} jobs in {k['resume']['seconds']} s.",
                  *(f"Resume note: {n}" for n in k["resume_notes"])]
    ds = next((r["records"].get("datasets") for r in d["runs"].values() if isinstance(r, dict) and r.get("records")), None)
    lines += ["", "Records checked against the SFT schema exactly"
              + (f"; loaded with datasets {ds['version']}: {ds['rows']} rows, columns {ds['columns']}." if ds else
                 " (datasets not installed).")]
    lines += ["", "Commands: `python bench/batch.py` (runs `" + (d["runs"].get("one") or {}).get("command", "longhand batch ...") + "` and the others)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
