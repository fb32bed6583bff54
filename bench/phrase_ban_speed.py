"""Bench: what the book's phrase ban (Sampling.avoid) costs in generation speed.

    python bench/phrase_ban_speed.py [--model instruct] [--project bench/results/novel-instruct/novel.longhand]
                                     [--tokens 200] [--rounds 2] [--threads 2]

The same request is generated with the same seed without and with the ban (the project's
scenes as the book to avoid, its codex names kept, and the script bans of a Latin-only text),
alternating, each a fresh prompt: tokens per second of the whole call and of the tokens after
the first (the ban is applied before each token; the prompt's evaluation is the same both
ways). Writes bench/results/phrase_ban_speed.json. Nothing here is timed by a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

REQUEST = "Write a 300-word story about a cartographer named Ilse Marren whose maps change the land."


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    C.add_model_arg(ap)
    C.add_threads_arg(ap)
    ap.add_argument("--project", default=str(C.RESULTS / "novel-instruct" / "novel.longhand"))
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from longhand.core.backends.base import Prompt, Sampling
    from longhand.core.projects.project import Project
    from longhand.core.text.phrases import PhraseBook

    project = Project.load(args.project)
    book = PhraseBook("", names=[n for e in project.codex.entries for n in e.names])
    for sec in project.sections:
        book.add(sec.text)
    backend = C.open_backend(args.model, n_ctx=4096, n_threads=args.threads)
    # (the vocabulary scans are made once per backend: not counted)
    backend._word_token_ids(), backend._script_token_ids(), backend._cjk_token_ids()
    ways = {"plain": Sampling(seed=3), "ban": Sampling(seed=3, avoid=book, ban_cjk=True, ban_scripts=True)}
    runs: dict[str, list[dict]] = {k: [] for k in ways}
    backend.generate(Prompt(user=["Warm-up."]), max_tokens=8)
    for r in range(args.rounds):
        for name, sampling in ways.items():
            prompt = Prompt(user=[f"{REQUEST} (Take {r + 1}, {name}.)"])
            t0 = time.perf_counter()
            g = backend.generate(prompt, max_tokens=args.tokens, sampling=sampling)
            total = time.perf_counter() - t0
            after = max(1e-9, total - g.first_token_seconds)
            runs[name].append({"tokens": g.generated_tokens, "seconds": round(total, 2),
                               "first_token_seconds": round(g.first_token_seconds, 2),
                               "tokens_per_second_after_first": round((g.generated_tokens - 1) / after, 2)})
            print(name, runs[name][-1], file=sys.stderr)
    summary = {name: statistics.median(x["tokens_per_second_after_first"] for x in rs) for name, rs in runs.items()}
    out = C.out_dir(args.out)
    C.write_json(out / "phrase_ban_speed.json", {
        "benchmark": "phrase_ban_speed", "machine": C.machine(), "model": args.model,
        "book_words": project.words, "book_4gram_contexts": len(book.followers),
        "runs": runs, "median_tokens_per_second_after_first": summary})
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
