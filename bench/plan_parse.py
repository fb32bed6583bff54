"""Bench: plans that parse without the fallback, before and after the grammar (issue 12).

    python bench/plan_parse.py [--threads 1] [--max-words N] [--out DIR]

For every prompt of ``bench/prompts/length.jsonl`` (shortest first) the demo model plans the
text twice with the engine's one-level plan step (``AgentWriter.plan``): without a grammar
(the tolerant parser alone, as before issue 12) and with the GBNF plan grammar applied by
llama.cpp's grammar sampler. Per plan it records whether the plan was parsed or replaced by
the fallback, how many lines the answer had, how many of them have the exact plan format,
how many main points were distinct, and the time. The per-target figures also show where
one flat plan stops working (distinct points and fallbacks against the target length),
which sets ``engine.book_model.BOOK_THRESHOLD``.

Results are written after every plan (``plan_parse.json``, ``plan_parse.md``), so a run cut
short still reports the prompts it finished.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

STRICT = re.compile(r"^Paragraph \d+ - Main Point: .+ - Word Count: \d+ words$")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-words", type=int, default=None, help="skip prompts longer than this")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out")
    ap.add_argument("--keep-before", action="store_true",
                    help="keep the rows without grammar from an earlier run (plan_parse.json); rerun the rest")
    C.add_threads_arg(ap)
    args = ap.parse_args()
    from longhand.core.engine.events import PlanReady
    from longhand.core.engine.plan import expected_sections, make_plan, parse_plan
    from longhand.core.engine.writer import AgentWriter

    prompts = [json.loads(x) for x in (C.PROMPTS / "length.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    prompts.sort(key=lambda p: p["length"])
    if args.max_words:
        prompts = [p for p in prompts if p["length"] <= args.max_words]
    out = C.out_dir(args.out)
    backend = C.open_demo_backend(n_ctx=4096, n_threads=args.threads)
    writer = AgentWriter(backend, seed=args.seed, memory=False)
    # one answer per plan: the grammar's effect on that answer, not the engine's retry
    writer.plan_attempts = 1
    data = {"machine": C.machine(), "git": C.git_state(), "command": "python bench/plan_parse.py "
            + " ".join(sys.argv[1:]), "rows": []}
    kept = {}
    if args.keep_before and (out / "plan_parse.json").exists():
        kept = {r["id"]: r for r in json.loads((out / "plan_parse.json").read_text())["rows"] if not r["grammar"]}
    for p in prompts:
        for grammar in (False, True):
            if not grammar and p["id"] in kept:
                data["rows"].append(kept[p["id"]])
                continue
            writer.use_grammar = grammar
            got = {}
            t0 = time.perf_counter()
            gen0 = backend.generated_tokens
            plan = writer.plan(p["prompt"], p["length"], on_event=lambda e: got.update(e=e) if isinstance(e, PlanReady) else None)
            e = got["e"]
            lines = [ln for ln in e.raw.splitlines() if ln.strip()]
            steps = parse_plan(e.raw)
            distinct = len({re.sub(r"\W+", " ", s.main_point.lower()).strip() for s in steps})
            row = {"id": p["id"], "lang": p["lang"], "target": p["length"], "grammar": grammar, "how": e.how,
                   "expected_sections": expected_sections(p["length"]), "answer_lines": len(lines),
                   "strict_lines": sum(1 for ln in lines if STRICT.match(ln.strip())),
                   "parsed_steps": len(steps), "distinct_points": distinct, "sections": len(plan),
                   "plan_sums_to_target": sum(s.target_words for s in plan) == p["length"],
                   # the parser alone (before the engine's topic checks): parsed or fallback
                   "parser": make_plan(p["prompt"], p["length"], e.raw)[1], "raw": e.raw,
                   "seconds": round(time.perf_counter() - t0, 1), "tokens": backend.generated_tokens - gen0}
            data["rows"].append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "raw"}), file=sys.stderr, flush=True)
            report(data, out)
    backend.close()
    return 0


def report(data: dict, out: Path) -> None:
    rows = data["rows"]
    lines = ["# Plans that parse (demo model), before and after the grammar", "",
             f"Command: `{data['command']}`", "", f"Machine: {C.machine_line(data['machine'])}", ""]
    for grammar in (False, True):
        rs = [r for r in rows if r["grammar"] is grammar]
        if not rs:
            continue
        parsed = sum(r["how"] == "parsed" for r in rs)
        by_parser = sum(r.get("parser") == "parsed" for r in rs)
        strict = sum(r["strict_lines"] for r in rs)
        total = sum(r["answer_lines"] for r in rs)
        lines.append(f"- {'with' if grammar else 'without'} grammar: **{parsed}/{len(rs)} plans parsed without "
                     f"the fallback** ({by_parser}/{len(rs)} by the parser alone, before the topic checks); "
                     f"{strict}/{total} answer lines in the exact plan format")
    lines += ["", "| prompt | target | grammar | how | expected | answer lines | exact lines | parsed | distinct | "
              "sections | s | tokens |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['id']} | {r['target']} | {'yes' if r['grammar'] else 'no'} | {r['how']} | "
                     f"{r['expected_sections']} | {r['answer_lines']} | {r['strict_lines']} | {r['parsed_steps']} | "
                     f"{r['distinct_points']} | {r['sections']} | {r['seconds']} | {r['tokens']} |")
    C.write_json(out / "plan_parse.json", data)
    C.write_text(out / "plan_parse.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
