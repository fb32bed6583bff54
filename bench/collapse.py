"""Bench: why long jobs on the demo model collapse into junk (issue 14's experiment).

Takes a project whose first K sections are written (the 10,000-word job of
``bench/prompts/length.jsonl``'s en12 on the fallback plan, which repeats each arc stage
about three times under one heading), and writes section K again under changed conditions,
one factor at a time, with the same seeds:

* ``baseline``   the plan as it is (repeated steps, identical headings), DRY over 2048 tokens,
                 the whole text so far carried verbatim;
* ``distinct``   the same, but every step of the plan distinct (own heading, own point);
* ``dry256``     DRY looks back 256 tokens instead of 2048;
* ``nodry``      no DRY (repetition penalty kept);
* ``short``      only the last two sections carried verbatim (as at a 4,096-token context).

For each: fragments share (junk), repeated 4-grams against the text so far, compression.

    python bench/collapse.py PROJECT.longhand --k 10 --seeds 1 2 [--configs baseline distinct]

Writes ``bench/results/collapse.json`` and prints one line per run.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

DISTINCT_STORY = [
    "The grandfather arrives in the mountain town and opens a small clock shop",
    "A winter storm stops the church clock and the town asks him to repair it",
    "He marries the baker's daughter and their son grows up among gears and springs",
    "A factory in the valley starts selling cheap watches and the shop loses customers",
    "The son leaves for the city to learn modern watchmaking against his father's wish",
    "The grandfather falls ill and the son comes home to keep the shop open",
    "The son invents a clock that shows the phases of the moon and wins a prize",
    "A flood damages the workshop and the family rebuilds it with the neighbours' help",
    "The granddaughter is born and spends her childhood under the workbench",
    "The granddaughter refuses to become a clockmaker and studies music instead",
    "She discovers her grandfather's notebooks full of unfinished designs",
    "She returns to the town when her father loses his sight",
    "Father and daughter work together on the grandfather's last design",
    "Tourists come to see the strange clock and the town becomes famous",
    "A collector offers a fortune for the clock and the family argues",
    "The daughter finds a letter explaining why the clock was never finished",
    "The clock is finished on the night of the town's festival",
    "Old rivals from the valley factory come to see it and make peace",
    "The father dies and leaves the shop to his daughter",
    "The daughter takes her first apprentice, a boy from the valley",
    "Years later the apprentice repairs the church clock in a new storm",
    "The family's three generations are remembered each time the clock strikes",
]


def run(project_path: str, k: int, seeds: list[int], configs: list[str], out: Path,
        threads: int | None, target: int) -> dict:
    from longhand.core.engine.plan import DONE, PLANNED, Section, short_title
    from longhand.core.engine.writer import AgentWriter, Job
    from longhand.core.text.health import compression_ratio, junk_share
    from longhand.core.text.wordcount import grams, units

    data = json.loads(Path(project_path).read_text(encoding="utf-8"))
    secs = [Section.from_dict(s) for s in data["sections"]]
    if any(not s.text for s in secs[:k]):
        raise SystemExit(f"sections 1..{k} must be written")
    backend = C.open_demo_backend(n_ctx=int(data.get("settings", {}).get("n_ctx", 0) or 16384),
                                  n_threads=threads)
    results = []
    try:
        for cfg in configs:
            for seed in seeds:
                sections = copy.deepcopy(secs)
                for s in sections[k:]:
                    s.text, s.status = "", PLANNED
                sections[k].target_words = target
                if cfg == "distinct":
                    for i, s in enumerate(sections):
                        p = DISTINCT_STORY[i % len(DISTINCT_STORY)]
                        s.main_point, s.title = p, short_title(p)
                if cfg == "short":
                    for s in sections[:k - 2]:
                        s.text, s.status = "", DONE
                job = Job(data["instruction"], data["target_words"], sections)
                w = AgentWriter(backend, seed=seed, memory=False)
                if cfg == "dry256":
                    w.sampling.dry_last_n = 256
                if cfg == "nodry":
                    w.sampling.dry_multiplier = 0.0
                earlier = "\n\n".join(s.text for s in secs[:k])
                t0 = time.perf_counter()
                ev0 = backend.generated_tokens
                w.write_section(job, k)
                text = sections[k].text
                seen = set(grams(units(earlier)))
                gs = grams(units(text))
                row = {"config": cfg, "seed": seed, "k": k, "words": sections[k].words,
                       "junk": round(junk_share(text), 3),
                       "repeats_vs_earlier": round(sum(g in seen for g in gs) / max(1, len(gs)), 3),
                       "compression": round(compression_ratio(text), 3),
                       "tokens": backend.generated_tokens - ev0,
                       "seconds": round(time.perf_counter() - t0, 1), "head": text[:300],
                       "tail": text[-300:]}
                results.append(row)
                print(f"{cfg:9s} seed {seed}: {row['words']} words, junk {row['junk']}, repeats "
                      f"{row['repeats_vs_earlier']}, compression {row['compression']}, "
                      f"{row['tokens']} tokens, {row['seconds']} s", flush=True)
                C.write_json(out / "collapse.json", {"benchmark": "collapse", "project": project_path,
                                                     "k": k, "machine": C.machine(), "runs": results})
    finally:
        backend.close()
    return {"runs": results}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("project")
    ap.add_argument("--k", type=int, required=True, help="0-based index of the section to write")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--configs", nargs="+", default=["baseline", "distinct", "dry256", "nodry", "short"])
    ap.add_argument("--target", type=int, default=300)
    C.add_threads_arg(ap)
    ap.add_argument("--out", help="results folder (default bench/results)")
    args = ap.parse_args(argv)
    run(args.project, args.k, args.seeds, args.configs, C.out_dir(args.out), args.threads, args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
