"""Bench: where sections land against their targets, over seeds, on the demo model.

    python bench/landing.py [--seeds 1-10] [--threads 2]

Plans and writes two small jobs (a 300-word story, a 60-word note) once per seed and reports
each section's words against its target, whether it was flagged (needs attention), what the
health check cut, and the sections that landed outside 90-112 % of their target without a
flag. A section lands between allow_end (92 %) and the hard cap (112 %) at a full sentence;
when one long sentence runs past the cap, the engine writes the ending again rather than cut
back far. Writes ``landing.json`` to the results folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

JOBS = [("Write a 300-word story about a lighthouse keeper who finds a message in a bottle.", 300),
        ("Write a 60-word note about rain.", 60)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1-10", help="a range, e.g. 1-10")
    ap.add_argument("--out", help="results folder (default bench/results)")
    C.add_threads_arg(ap)
    args = ap.parse_args(argv)
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)

    from longhand.core.engine.events import SectionRecovery
    from longhand.core.engine.writer import AgentWriter, Job

    backend = C.open_demo_backend(n_threads=args.threads)
    rows = []
    for instruction, target in JOBS:
        for seed in seeds:
            writer = AgentWriter(backend, seed=seed)
            job = Job(instruction, target, writer.plan(instruction, target))
            events: list = []
            writer.write(job, on_event=events.append)
            sections = [{"words": s.words, "target": s.target_words, "needs_attention": s.needs_attention}
                        for s in job.sections]
            outside = [s for s in sections if not s["needs_attention"]
                       and not 0.9 * s["target"] <= s["words"] <= 1.12 * s["target"]]
            rows.append({"target": target, "seed": seed, "words": job.words, "sections": sections,
                         "recoveries": [e.kind for e in events if isinstance(e, SectionRecovery)],
                         "unflagged_outside_90_112": len(outside)})
            print(target, seed, job.words, [(s["words"], s["target"]) for s in sections],
                  "OUTSIDE" if outside else "", flush=True)
    result = {"machine": C.machine(), "git": C.git_state(), "jobs": rows,
              "sections": sum(len(r["sections"]) for r in rows),
              "unflagged_outside_90_112": sum(r["unflagged_outside_90_112"] for r in rows)}
    C.write_json(C.out_dir(args.out) / "landing.json", result)
    print(f"{result['unflagged_outside_90_112']} of {result['sections']} sections landed outside 90-112 % "
          "without a flag")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
