"""Bench: one novel chapter written with and without DRY, on both test models.

    python bench/chat_samplers.py [--words 1200] [--seeds 1] [--models instruct demo] [--threads 2]

The chapter is chapter 1 of the novel bench's book (bench/novel.py: its request, story bible,
codex and a fixed two-chapter plan), planned into scenes and written by the book engine. Each
model writes it with its format's default sampling ("default") and with DRY switched the other
way ("dry" adds DRY 0.8 over 2,048 tokens where the default has none; "no-dry" removes it):

* words and chapter S_l against the target, scenes and recoveries;
* the repeated 4-gram share of the chapter (the novel bench's measure);
* words run together by sampling (bench/_common.glued_words: it also lists real compounds
  such as "without", so read them) and the chatter share;
* the chapter's opening, to read.

Writes bench/results/chat_samplers.json and .md. Nothing here is timed by a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

CHAPTERS = [("The Silver Nib", "Ilse Marren finds that what she draws with her mother's silver nib becomes "
             "true of the land, and the Duke commissions a map of the Greywater."),
            ("The Guild's Archive", "Ilse searches the Guild's sealed archive for why such maps were forbidden.")]


def s_l(words: int, target: int) -> float:
    if not words or not target:
        return 0.0
    r = words / target
    return round(100 * max(0.0, 1 - (r - 1) / 3 if r > 1 else 1 - (1 / r - 1) / 2), 1)


def run_one(model: str, label: str, words: int, seed: int, threads: int) -> dict:
    import novel

    from longhand.core.backends.base import Sampling
    from longhand.core.engine import book as B
    from longhand.core.engine import book_model as BM
    from longhand.core.engine.codex import load_codex
    from longhand.core.projects.project import Project
    from longhand.core.text.chatter import chatter_share
    from longhand.core.text.wordcount import repeated_ngram_share
    backend = C.open_backend(model, n_ctx=8192, n_threads=threads)
    base = backend.default_sampling
    if label == "default":
        sampling = base
    elif base.dry_multiplier > 0:
        label, sampling = "no-dry", Sampling(**{**base.__dict__, "dry_multiplier": 0.0})
    else:
        label, sampling = "dry", Sampling(**{**base.__dict__, "dry_multiplier": 0.8, "dry_last_n": 2048})
    job = Project(instruction=novel.INSTRUCTION.format(words=30_000), target_words=30_000, bible=novel.BIBLE)
    job.codex.merge(load_codex(str(C.PROMPTS / "novel_codex.json")))
    job.chapters = [BM.Chapter(t, s, words) for t, s in CHAPTERS]
    writer = B.BookWriter(backend, sampling=sampling, seed=seed)
    recoveries = []
    t0 = time.perf_counter()
    stats = writer.write_book(job, chapters=[0], on_event=lambda e: recoveries.append(e)
                              if type(e).__name__ == "SectionRecovery" else None)
    text = BM.chapter_text(job, 0)
    got = BM.chapter_words(job, 0)
    row = {"model": model, "sampling": label, "seed": seed, "dry_multiplier": sampling.dry_multiplier,
           "target": words, "words": got, "s_l": s_l(got, words),
           "scenes": [[job.sections[i].target_words, job.sections[i].words] for i in BM.chapter_scenes(job, 0)],
           "recoveries": len(recoveries), "repeated_4gram_share": round(repeated_ngram_share(text, 4), 4),
           "glued_words": C.glued_words(text), "chatter_share": round(chatter_share(text), 4),
           "prompt_tokens_evaluated": stats.prompt_tokens_evaluated, "generated_tokens": stats.generated_tokens,
           "seconds": round(time.perf_counter() - t0, 1), "opening": text[:600]}
    backend.close()
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=int, default=1200)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--models", nargs="+", default=["instruct", "demo"])
    ap.add_argument("--out", help="results folder (default bench/results)")
    C.add_threads_arg(ap)
    args = ap.parse_args()
    out = C.out_dir(args.out)
    rows = []
    for model in args.models:
        for seed in range(1, args.seeds + 1):
            for label in ("default", "other"):
                rows.append(run_one(model, label, args.words, seed, args.threads))
                r = rows[-1]
                print(f"{model} {r['sampling']} seed {seed}: {r['words']}/{r['target']} words, "
                      f"4-gram {r['repeated_4gram_share']}, glued {len(r['glued_words'])}", flush=True)
    C.write_json(out / "chat_samplers.json", {"machine": C.machine(), "git": C.git_state(), "rows": rows})
    lines = ["# One chapter with and without DRY, both models", "",
             f"Command: `python bench/chat_samplers.py --words {args.words} --seeds {args.seeds}`", "",
             f"Last run: {C.machine_line(C.machine())}", "",
             "| model | sampling | seed | words / target | S_l | scenes (target, words) | recoveries "
             "| repeated 4-grams | glued words (read: compounds count too) | chatter |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['sampling']} | {r['seed']} | {r['words']} / {r['target']} | {r['s_l']} "
                     f"| {r['scenes']} | {r['recoveries']} | {r['repeated_4gram_share']} "
                     f"| {', '.join(r['glued_words']) or '-'} | {r['chatter_share']} |")
    lines += ["", "## Openings", ""]
    for r in rows:
        lines += [f"**{r['model']}, {r['sampling']}, seed {r['seed']}**", "", "> " + r["opening"].replace("\n\n", "\n>\n> "), ""]
    C.write_text(out / "chat_samplers.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
