"""Bench report: the length runs of both models, side by side, measured with today's checks.

    python bench/length_table.py

Reads ``bench/results/length/<run>/length.json`` and ``length_texts.jsonl`` for the runs
``instruct-before`` (the instruct test model on the engine before chat models were handled),
``instruct`` and ``demo`` (today's engine), and the demo model's run on record in
``bench/results/length.json`` (an earlier engine), recomputes chatter and S_l on the healthy words
with the current chatter check (one yardstick for every run), and writes
``bench/results/length/models.md``: one row per prompt and run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

RUNS = [("instruct-before", "instruct, old engine"), ("instruct", "instruct"),
        ("..", "demo, on record before"), ("demo", "demo")]


def main() -> int:
    from longhand.core.text.chatter import LETTER, chatter_words
    from longhand.core.text.wordcount import count_words, length_score
    base = C.RESULTS / "length"
    prompts = {json.loads(ln)["id"]: json.loads(ln) for ln in (C.PROMPTS / "length.jsonl").read_text().splitlines()
               if ln.strip()}
    lines = ["# Length and text health, both models", "",
             "| prompt | required | run | words | S_l | healthy words | S_l healthy | chatter share | "
             "language share | sections needing attention | prompt tokens evaluated / generated |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for pid in prompts:
        for run, label in RUNS:
            path = base / run / "length.json"
            if not path.exists():
                continue
            rows = {r["id"]: r for r in json.loads(path.read_text())["prompts"]}
            texts = {json.loads(ln)["id"]: json.loads(ln)["text"]
                     for ln in (base / run / "length_texts.jsonl").read_text().splitlines() if ln.strip()}
            if pid not in rows:
                continue
            r, text, p = rows[pid], texts.get(pid, ""), prompts[pid]
            words = count_words(text)
            if not words and r["words"]:
                continue            # a row whose text was not kept (merged from another bench)
            chatty = chatter_words(text, bool(LETTER.search(p["prompt"])))
            healthy = max(0, words - chatty)
            s_l_h = round(length_score(p["length"], healthy), 1) if healthy else 0.0
            per = r.get("prompt_eval_per_generated")
            if per is None and r.get("generated_tokens"):
                per = round(r["prompt_tokens_evaluated"] / r["generated_tokens"], 2)
            lines.append(f"| {pid} | {p['length']} | {label} | {words} | {r['s_l']} | {healthy} | {s_l_h} | "
                         f"{chatty / words if words else 0:.3f} | {r.get('language_share')} | "
                         f"{r.get('needs_attention', 0)} | {per} |")
    out = base / "models.md"
    C.write_text(out, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
