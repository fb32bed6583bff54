"""Bench: does the batch client scale with servers? words/s for 1, 2, 4, 8, 16 servers.

The servers are stand-ins (``bench/batch_standin.py``, in a process of their own): each has
``--slots`` parallel slots that stream one word a token at ``--rate`` tokens/s per slot after
``--latency`` s, so N servers are exactly N times the capacity and the machine's CPU is left
to the client. The client is the real one: :class:`BatchRunner` with ``remote_server`` (slots
read from each server's ``/props``, as from llama-server), the AgentWrite engine, its health
check, autosave, journal and the quality filter, in this process.

For each N: ``N x slots x 3`` jobs with targets spread evenly over ``--min-words`` to
``--max-words`` (mixed order), run with every slot busy; after ``--warmup`` s the words
written (finished and in-flight jobs) are counted over ``--window`` s, then the batch is
cancelled. words/s is that steady rate; efficiency = words/s / (N x the 1-server words/s).
The client's CPU time over the window is recorded too (``client_cpu_s_per_1000_words``): one
Python process runs the jobs' threads under one GIL, so ``1000 / that`` words/s is the most
one client process can do, whatever the servers.

``--profile`` adds where the client's CPU goes: one ``--max-words`` job against a fast
stand-in, under cProfile (``batch_scaling_profile.json``).

``--real`` instead runs a few short jobs on two real ``python -m llama_cpp.server`` processes
(``--model``, default the instruct test model) for the record: the same words/s figure, one
server against two, on this machine's shared cores.

Writes ``batch_scaling.json`` (a list of rows ``{"servers", "words_per_s", "efficiency", ...}``)
and ``batch_scaling.md``; ``--real`` writes ``batch_scaling_real.json``.

    python bench/batch_scaling.py [--servers 1,2,4,8,16] [--slots 4] [--rate 25] [--window 45]
    python bench/batch_scaling.py --real [--model PATH] [--jobs 4] [--words 150]
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
import threading
import time
from pathlib import Path

from _common import git_state, machine, machine_line, out_dir, stop_process, write_json, write_text

HERE = Path(__file__).resolve().parent
TOPICS = ["the harbor lantern and its keeper", "a glass bridge over the canyon river",
          "the orchard robot and the winter frost", "a violin maker in the mountain village",
          "the night train and the lost postcard", "a garden of copper flowers",
          "the last radio station on the island", "a tailor who sews maps into coats"]
INSTRUCT_MODEL = "/work/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def job_list(n: int, lo: int, hi: int) -> list[dict]:
    targets = [lo + round((hi - lo) * k / max(1, n - 1) / 10) * 10 for k in range(n)]
    # mixed order (a fixed permutation), so every window sees short and long jobs
    order = sorted(range(n), key=lambda k: (k * 7919) % n)
    return [{"id": f"s{k:04d}", "instruction": f"Write a story about {TOPICS[k % len(TOPICS)]}.",
             "target_words": targets[j]} for k, j in enumerate(order)]


def start_standins(n: int, slots: int, rate: float, latency: float) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([sys.executable, str(HERE / "batch_standin.py"), "--servers", str(n), "--slots",
                             str(slots), "--rate", str(rate), "--latency", str(latency)],
                            stdout=subprocess.PIPE, text=True)
    urls = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "ready":
            break
        urls.append(line.strip())
    if len(urls) != n:
        proc.kill()
        raise SystemExit("the stand-in servers did not start")
    return proc, urls


def profile_job(words: int = 3000) -> dict:
    """Where the client's CPU goes: one job against a fast stand-in (1 slot, 2,000 tokens/s,
    so the client, not the server, sets the pace), first plain (CPU s per 1,000 words), then
    under cProfile (own time by layer, and the top functions)."""
    import cProfile
    import pstats

    from longhand.core.data.batch import BatchRunner, remote_server
    from longhand.core.data.instructions import parse_instructions

    proc, urls = start_standins(1, 1, 2000.0, 0.0)
    work = Path(tempfile.mkdtemp(prefix="batch_profile_"))
    out: dict = {"job_words": words}
    try:
        for run in ("plain", "cprofile"):
            ins = parse_instructions(json.dumps({"id": run, "instruction": f"Write a story about {TOPICS[0]}.",
                                                 "target_words": words})).instructions
            runner = BatchRunner(ins, work / f"{run}.jsonl", [remote_server(urls[0], format_name="longwriter-llama3")])
            prof = cProfile.Profile()
            worker = BatchRunner._worker

            def profiled(self, worker=worker, prof=prof, on=run == "cprofile"):
                t = time.thread_time()
                if on:
                    prof.enable()
                try:
                    worker(self)
                finally:
                    if on:
                        prof.disable()
                    out.setdefault("thread_cpu_s", {})[run] = round(time.thread_time() - t, 3)

            BatchRunner._worker = profiled      # type: ignore[method-assign]
            try:
                summary = runner.run()
            finally:
                BatchRunner._worker = worker    # type: ignore[method-assign]
            out.setdefault("words", {})[run] = summary["words"]
        out["client_cpu_s_per_1000_words"] = round(1000 * out["thread_cpu_s"]["plain"] / out["words"]["plain"], 3)
        stats = pstats.Stats(prof).stats     # type: ignore[attr-defined]
        layers: collections.Counter = collections.Counter()
        funcs = []
        for (fn, line, name), (_cc, _nc, tt, _ct, _callers) in stats.items():
            layer = ("openai client (SSE chunk -> pydantic objects)" if "/openai/" in fn or "pydantic" in fn else
                     "httpx/h11 (HTTP)" if any(x in fn for x in ("/httpx", "/httpcore", "/h11/", "ssl")) else
                     "health check (core/text/health.py, language.py)" if fn.endswith(("health.py", "language.py")) else
                     "writer per token (core/engine/writer.py, wordcount.py)" if fn.endswith(("writer.py", "wordcount.py")) else
                     "projects, autosave, journal" if "/projects/" in fn or fn.endswith("batch.py") else
                     "regex/str builtins (called from the above)" if fn == "~" else "other")
            layers[layer] += tt
            funcs.append((tt, f"{Path(fn).name}:{line}({name})" if fn != "~" else name))
        total = sum(layers.values()) or 1.0
        out["own_time_by_layer"] = {k: round(v / total, 3) for k, v in layers.most_common()}
        out["top_functions"] = [[f, round(t / total, 3)] for t, f in sorted(funcs, reverse=True)[:12]]
        callers = pstats.Stats(prof)
        hot = {}
        for (fn, line, name), (_cc, _nc, tt, _ct, cl) in callers.stats.items():     # type: ignore[attr-defined]
            if fn == "~" and tt / total > 0.05:
                hot[name] = sorted(([f"{Path(c[0]).name}:{c[1]}({c[2]})", round(v[2] / total, 3)]
                                    for c, v in cl.items()), key=lambda x: -x[1])[:3]
        out["builtins_called_from"] = hot
        return out
    finally:
        stop_process(proc, timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def client_cpu() -> float:
    """CPU seconds of this process and its worker processes (not the stand-in servers')."""
    import psutil
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        if "batch_standin" in " ".join(child.cmdline()):
            continue
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def measure(n: int, args, work: Path) -> dict:
    from longhand.core.data.batch import BatchRunner, remote_server
    from longhand.core.data.instructions import parse_instructions
    from longhand.core.errors import CancelToken

    proc, urls = start_standins(n, args.slots, args.rate, args.latency)
    out = work / f"n{n}.jsonl"
    try:
        servers = [remote_server(u, format_name="longwriter-llama3", timeout=60.0) for u in urls]
        jobs = job_list(n * servers[0].slots * 3, args.min_words, args.max_words)
        ins = parse_instructions("\n".join(json.dumps(j) for j in jobs)).instructions
        cancel = CancelToken()
        notes: list[str] = []
        runner = BatchRunner(ins, out, servers, cancel=cancel, on_message=notes.append,
                             autosave_interval=1.0, processes=args.processes)
        runner.open()                   # worker processes fork here, before any thread starts
        th = threading.Thread(target=lambda: result.update(summary=runner.run()), daemon=True)
        result: dict = {}
        th.start()
        time.sleep(args.warmup)
        s0, c0, t0 = runner.snapshot(), client_cpu(), time.perf_counter()
        time.sleep(args.window)
        s1, c1, t1 = runner.snapshot(), client_cpu(), time.perf_counter()
        cancel.cancel()
        th.join(120)
        words = s1.words - s0.words
        wps = words / (t1 - t0)
        summary = result.get("summary", {})
        row = {"servers": n, "words_per_s": round(wps, 1), "slots_per_server": servers[0].slots,
               "processes": runner.processes,
               "jobs_in_flight": s1.running, "words_in_window": words, "window_s": round(t1 - t0, 1),
               "capacity_tokens_per_s": n * servers[0].slots * args.rate,
               "client_cpu_cores": round((c1 - c0) / (t1 - t0), 2),
               "client_cpu_s_per_1000_words": round(1000 * (c1 - c0) / max(1, words), 3),
               "jobs_finished": summary.get("done_this_run"),
               "records": summary.get("records"), "rejected": len(summary.get("rejected", [])),
               "failed": len(summary.get("failed", [])), "load_avg_1m": round(os.getloadavg()[0], 2)}
        if notes:
            row["notes"] = notes[:5]
        return row
    finally:
        stop_process(proc, timeout=10)


def scaling(args) -> int:
    results = out_dir(args.out)
    work = Path(tempfile.mkdtemp(prefix="batch_scaling_"))
    ns = [int(x) for x in args.servers.split(",")]
    rows: list[dict] = []
    where = machine()                   # the load average when the runs start
    try:
        for n in ns:
            row = measure(n, args, work)
            base = rows[0]["words_per_s"] if rows else row["words_per_s"]
            row["efficiency"] = round(row["words_per_s"] / (n * base), 3) if base else None
            rows.append(row)
            print(f"{n:>2} servers: {row['words_per_s']:>7.1f} words/s, efficiency {row['efficiency']}, "
                  f"client CPU {row['client_cpu_cores']} cores ({row['client_cpu_s_per_1000_words']} s per 1,000 "
                  f"words), load {row['load_avg_1m']}", file=sys.stderr)
            write_json(results / ("batch_scaling.json" if args.processes == 1 else
                                  f"batch_scaling_p{args.processes}.json"), rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    prof = profile_job(args.max_words) if args.profile else None
    if prof:
        write_json(results / "batch_scaling_profile.json", prof)
    settings = {"slots": args.slots, "rate": args.rate, "latency": args.latency, "warmup": args.warmup,
                "window": args.window, "min_words": args.min_words, "max_words": args.max_words}
    write_text(results / ("batch_scaling.md" if args.processes == 1 else f"batch_scaling_p{args.processes}.md"), report(rows, settings, where, " ".join(sys.argv[1:]), prof))
    return 0


def report(rows: list[dict], st: dict, m: dict, argv: str, prof: dict | None = None) -> str:
    lines = ["# `longhand batch`: words/s against the number of servers (stand-in servers)", "",
             machine_line(m) + f"; code at commit {m.get('git_commit')}", "",
             f"Each stand-in server: {st['slots']} slots (reported in /props), {st['rate']:g} tokens/s a slot, "
             f"{st['latency']:g} s before the first token, one word a token. Jobs of {st['min_words']}-"
             f"{st['max_words']} words, every slot busy; words counted over {st['window']:g} s after "
             f"{st['warmup']:g} s of warm-up.", "",
             "| servers | words/s | efficiency | client CPU (cores) | client CPU s / 1,000 words | load avg |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['servers']} | {r['words_per_s']} | {r['efficiency']} | {r['client_cpu_cores']} | "
                     f"{r['client_cpu_s_per_1000_words']} | {r['load_avg_1m']} |")
    if prof:
        lines += ["", f"Where the client's CPU goes (one {prof['job_words']}-word job against a 2,000 tokens/s "
                  f"stand-in): {prof['client_cpu_s_per_1000_words']} CPU s per 1,000 words without the profiler; "
                  "own time under cProfile by layer:", ""]
        lines += [f"- {k}: {v:.1%}" for k, v in prof["own_time_by_layer"].items()]
        lines += ["", "Top functions (own time):", ""]
        lines += [f"- {k}: {v:.1%}" for k, v in prof["top_functions"]]
        lines += [f"- `{k}` called from: " + ", ".join(f"{c} {v:.1%}" for c, v in cl)
                  for k, cl in prof["builtins_called_from"].items()]
    lines += ["", f"Command: `{('python bench/batch_scaling.py ' + argv).strip()}`"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# Real servers, for the record

def real(args) -> int:
    sys.path.insert(0, str(HERE))
    import urllib.request

    from _common import free_port
    results = out_dir(args.out)
    model = Path(args.model)
    work = Path(tempfile.mkdtemp(prefix="batch_real_"))
    jobs = [{"id": f"r{k}", "instruction": f"Write a short story about {TOPICS[k % len(TOPICS)]}.",
             "target_words": args.words} for k in range(args.jobs)]
    ins = work / "ins.jsonl"
    ins.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    procs: list[subprocess.Popen] = []
    data: dict = {"machine": machine(), "git": git_state(), "model": model.name, "jobs": len(jobs),
                  "target_words": args.words, "runs": {}}
    try:
        urls = []
        for k in range(2):
            port = free_port()
            procs.append(subprocess.Popen(
                ["nice", "-n", "10", sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                 "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--n_threads", "1",
                 "--verbose", "False"], stdout=open(work / f"server{k}.log", "wb"), stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}/v1")
        for u in urls:
            deadline = time.monotonic() + 240
            while True:
                try:
                    with urllib.request.urlopen(u + "/models", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("server did not start") from None
                    time.sleep(0.5)
        for name, use in (("one", urls[:1]), ("two", urls)):
            out = work / f"{name}.jsonl"
            cmd = ["nice", "-n", "10", sys.executable, "-m", "longhand", "batch", str(ins), "--out", str(out),
                   "--json", "--seed", "7", "-q", "--format", args.format]
            for u in use:
                cmd += ["--base-url", u]
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
            summary = json.loads(r.stdout)
            run = {k: summary[k] for k in ("done", "records", "words", "seconds", "words_per_s", "S_l")}
            run["rejected"] = summary["rejected"]
            run["exit_code"] = r.returncode
            run["answers"] = [{"id": x["id"], "words": x["words"], "start": x["messages"][1]["content"][:160]}
                              for x in map(json.loads, out.read_text().splitlines())]
            run["servers"] = [{k: s[k] for k in ("slots", "jobs", "words", "words_per_s")} for s in summary["servers"]]
            run["wall_s"] = round(time.perf_counter() - t0, 1)
            run["command"] = f"longhand batch ins.jsonl --out DATA.jsonl --json --seed 7 -q --format {args.format} " + \
                " ".join(f"--base-url URL{k + 1}" for k in range(len(use)))
            run["load_avg_1m"] = round(os.getloadavg()[0], 2)
            data["runs"][name] = run
            print(f"{name}: {run['done']} jobs, {run['words']} words in {run['seconds']} s, "
                  f"{run['words_per_s']} words/s, records {run['records']}, rejected {len(run['rejected'])}",
                  file=sys.stderr)
            write_json(results / "batch_scaling_real.json", data)
        one, two = data["runs"]["one"]["words_per_s"], data["runs"]["two"]["words_per_s"]
        data["two_over_one"] = round(two / one, 2) if one else None
        write_json(results / "batch_scaling_real.json", data)
    finally:
        for p in procs:
            stop_process(p)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="results folder (default bench/results)")
    ap.add_argument("--servers", default="1,2,4,8,16")
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--rate", type=float, default=25.0, help="tokens/s per slot")
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--window", type=float, default=45.0)
    ap.add_argument("--min-words", type=int, default=300)
    ap.add_argument("--max-words", type=int, default=3000)
    ap.add_argument("--processes", type=int, default=1, help="the batch's worker processes")
    ap.add_argument("--profile", action="store_true", help="sample the client's threads at the largest N")
    ap.add_argument("--real", action="store_true", help="two real llama_cpp.server processes instead")
    ap.add_argument("--model", default=INSTRUCT_MODEL, help="--real: the GGUF the servers load")
    ap.add_argument("--jobs", type=int, default=4, help="--real: jobs")
    ap.add_argument("--words", type=int, default=150, help="--real: target words a job")
    ap.add_argument("--format", default="chat", help="--real: prompt format (chat: the server's template)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    return real(args) if args.real else scaling(args)


if __name__ == "__main__":
    sys.exit(main())
