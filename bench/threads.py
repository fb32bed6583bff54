"""Bench: generation speed of the backend per llama.cpp thread count, on this machine as it is.

llama.cpp's worker threads wait for each other at every step; when the cores are busy with
other programs, a thread count equal to the core count can be much slower than fewer
threads. This measures :meth:`LlamaCppBackend.generate` with 1..N threads, interleaved, and
records the load average, so that the default can be chosen from numbers.

    python bench/threads.py [--tokens N] [--rounds R]

Writes ``threads.json`` and ``threads.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
from throughput import run_ours  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", help="results folder (default bench/results)")
    args = ap.parse_args(argv)
    out = C.out_dir(args.out)
    machine = C.machine()
    counts = list(range(1, max(1, args.max_threads) + 1))
    backends = {n: C.open_demo_backend(n_ctx=1024, n_threads=n) for n in counts}
    runs: dict[int, list[dict]] = {n: [] for n in counts}
    loads = []
    try:
        for n, b in backends.items():
            run_ours(b, 4, 1)          # warm-up, fills the prompt cache
        for i in range(args.rounds):
            order = counts if i % 2 == 0 else list(reversed(counts))
            for n in order:
                r = run_ours(backends[n], args.tokens, 1 + i)
                r["load_avg_1min"] = round(os.getloadavg()[0], 2)
                runs[n].append(r)
                loads.append(r["load_avg_1min"])
                print(f"round {i + 1}, {n} thread(s): {r['decode_tokens_per_s']} tok/s "
                      f"(load {r['load_avg_1min']})", flush=True)
    finally:
        for b in backends.values():
            b.close()
    med = {n: round(statistics.median(r["decode_tokens_per_s"] for r in rs), 3) for n, rs in runs.items()}
    data = {"benchmark": "threads", "machine": machine, "tokens": args.tokens, "rounds": args.rounds,
            "median_tokens_per_s": {str(n): v for n, v in med.items()},
            "load_avg_during": [min(loads), max(loads)] if loads else None,
            "best_threads": max(med, key=med.get),
            "runs": {str(n): rs for n, rs in runs.items()},
            "date_utc_end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    C.write_json(out / "threads.json", data)
    lines = ["# Generation speed per thread count", "",
             f"Machine: {C.machine_line(machine)}; 1-minute load average during the runs "
             f"{data['load_avg_during']}. {args.tokens} tokens per run, {args.rounds} interleaved rounds.",
             "", "| threads | median decode tok/s |", "|---|---|"]
    lines += [f"| {n} | {v} |" for n, v in med.items()]
    C.write_text(out / "threads.md", "\n".join(lines) + "\n")
    print(", ".join(f"{n} thread(s) {v} tok/s" for n, v in med.items()) + f"; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
