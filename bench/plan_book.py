"""Bench: a book plan on a real model: do its chapters repeat?

    python bench/plan_book.py --model instruct [--words 90000] [--seed 1]

Plans the 90,000-word fantasy novel of the novel bench (chapters only: no scene is written)
and reports the chapters, the repeated titles, and the largest content-word overlap between
two chapters' title and synopsis (:func:`longhand.core.engine.book_plan.synopsis_overlap`; the
engine refuses a chapter at 0.5 or more). Writes ``plan_book_<model>.json``.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

INSTRUCTION = ("Write a {words}-word fantasy novel about a cartographer who discovers that her maps "
               "change the land they depict.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=int, default=90_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="results folder (default bench/results)")
    C.add_model_arg(ap)
    C.add_threads_arg(ap)
    args = ap.parse_args(argv)
    from longhand.core.engine import book as B
    from longhand.core.engine import book_plan as BP
    from longhand.core.engine.events import BookPlanReady
    backend = C.open_backend(args.model, n_ctx=8192, n_threads=args.threads)
    writer = B.BookWriter(backend, seed=args.seed)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ready = []
    t0 = time.perf_counter()
    chapters = writer.plan_book(INSTRUCTION.format(words=args.words), args.words,
                                on_event=lambda e: ready.append(e) if isinstance(e, BookPlanReady) else None)
    seconds = time.perf_counter() - t0
    keys = [BP.chapter_keys(c.title, c.synopsis) for c in chapters]
    pairs = [(BP.synopsis_overlap(keys[i], keys[j]), i, j) for i, j in itertools.combinations(range(len(keys)), 2)]
    worst = max(pairs, default=(0.0, 0, 0))
    titles = Counter(c.title.strip().lower() for c in chapters)
    data = {"benchmark": "plan_book", "model": backend.info.model, "words": args.words, "seed": args.seed,
            "machine": C.machine(), "git": C.git_state(), "seconds": round(seconds, 1),
            "chapters": len(chapters), "target_sum": sum(c.target_words for c in chapters),
            "repeated_titles": {t: n for t, n in titles.items() if n > 1},
            "largest_overlap": {"overlap": round(worst[0], 3), "chapters": [worst[1] + 1, worst[2] + 1]},
            "how": ready[-1].how if ready else None,
            "plan": [{"title": c.title, "synopsis": c.synopsis, "words": c.target_words} for c in chapters],
            "answers": ready[-1].raw.splitlines() if ready else []}
    name = "demo" if args.model == "demo" else "instruct" if args.model == "instruct" else Path(args.model).stem
    C.write_json(C.out_dir(args.out) / f"plan_book_{name}.json", data)
    print(f"{len(chapters)} chapters summing to {data['target_sum']}; repeated titles {data['repeated_titles']}; "
          f"largest overlap {data['largest_overlap']}; {seconds:.0f} s")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
