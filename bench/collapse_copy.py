"""Bench: what DRY does to a demo-model text that wants to loop (issue 14, second experiment).

A completion prompt in which one section (heading and paragraph) already stands ``--repeats``
times, then the same heading once more: the strongest pull to copy, as in a long job on a
plan that repeats one step. The next ~250 tokens are sampled under the engine's settings
with DRY looking back 2048 tokens (the default since d4da67a), 256 tokens, or no DRY.
Reported: fragments share (junk), share of 4-grams copied from the prompt, compression.

    python bench/collapse_copy.py PROJECT.longhand [--section 0] [--repeats 3] [--seeds 1 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("project")
    ap.add_argument("--section", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--tokens", type=int, default=250)
    ap.add_argument("--configs", nargs="+", default=["dry2048", "dry256", "nodry"])
    C.add_threads_arg(ap)
    ap.add_argument("--out", help="results folder (default bench/results)")
    args = ap.parse_args(argv)
    from longhand.core.backends.base import Prompt, Sampling, Steer
    from longhand.core.engine.prompts import synopsis
    from longhand.core.text.health import compression_ratio, junk_share
    from longhand.core.text.wordcount import grams, units

    data = json.loads(Path(args.project).read_text(encoding="utf-8"))
    sec = data["sections"][args.section]
    heading = sec.get("title") or sec["main_point"].split(":")[0]
    para = sec["text"].strip()
    doc = f"# {synopsis(data['instruction']).rstrip('.')}\n\n{synopsis(data['instruction'])}\n\n"
    doc += "".join(f"## {heading}\n\n{para}\n\n" for _ in range(args.repeats)) + f"## {heading}\n\n"
    seen = set(grams(units(doc)))
    backend = C.open_demo_backend(n_ctx=8192, n_threads=args.threads)
    rows = []
    try:
        for cfg in args.configs:
            for seed in args.seeds:
                s = Sampling(**{**backend.default_sampling.__dict__, "seed": seed})
                if cfg == "dry256":
                    s.dry_last_n = 256
                elif cfg == "nodry":
                    s.dry_multiplier = 0.0
                t0 = time.perf_counter()
                g = backend.generate(Prompt(user=[doc]), max_tokens=args.tokens, sampling=s,
                                     on_piece=lambda p: Steer(allow_end=False))
                gs = grams(units(g.text))
                row = {"config": cfg, "seed": seed, "junk": round(junk_share(g.text), 3),
                       "copied_4grams": round(sum(x in seen for x in gs) / max(1, len(gs)), 3),
                       "compression": round(compression_ratio(g.text), 3), "tokens": g.generated_tokens,
                       "seconds": round(time.perf_counter() - t0, 1), "text": g.text}
                rows.append(row)
                print(f"{cfg:8s} seed {seed}: junk {row['junk']}, copied {row['copied_4grams']}, "
                      f"compression {row['compression']}, {row['tokens']} tokens | {g.text[:160]!r}", flush=True)
                C.write_json(C.out_dir(args.out) / "collapse_copy.json",
                             {"benchmark": "collapse_copy", "project": args.project, "section": args.section,
                              "repeats": args.repeats, "prompt_tokens": backend.count_tokens(doc),
                              "machine": C.machine(), "runs": rows})
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
