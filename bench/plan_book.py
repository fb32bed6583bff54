"""Bench: a book plan on a real model: do its chapters repeat?

    python bench/plan_book.py --model instruct [--words 90000] [--seed 1] [--bible]

Plans the 90,000-word fantasy novel of the novel bench (chapters only: no scene is written)
and reports the chapters, the repeated titles, and the largest content-word overlap between
two chapters' title and synopsis (:func:`longhand.core.engine.book_plan.synopsis_overlap`; the
engine refuses a chapter at 0.5 or more), and the answers that held no chapter line. Writes
``plan_book_<model>.json`` (``--bible``: the novel bench's request with its story bible,
``plan_book_<model>_<words>k_bible.json``).
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
    ap.add_argument("--bible", action="store_true", help="with the novel bench's story bible (bench/novel.py)")
    ap.add_argument("--out", help="results folder (default bench/results)")
    C.add_model_arg(ap)
    C.add_threads_arg(ap)
    args = ap.parse_args(argv)
    from longhand.core.engine import book as B
    from longhand.core.engine import book_plan as BP
    from longhand.core.engine.events import BookPlanReady, BookPlanRound
    backend = C.open_backend(args.model, n_ctx=8192, n_threads=args.threads)
    writer = B.BookWriter(backend, seed=args.seed)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rounds: list[int] = []      # per answer asked for chapters: the plan lines read in it
    ready = []
    t0 = time.perf_counter()
    bible = ""
    if args.bible:
        import novel
        bible = novel.BIBLE
    chapters = writer.plan_book(INSTRUCTION.format(words=args.words), args.words, bible=bible,
                                on_event=lambda e: ready.append(e) if isinstance(e, BookPlanReady)
                                else rounds.append(e.read) if isinstance(e, BookPlanRound) else None)
    seconds = time.perf_counter() - t0
    keys = [BP.chapter_keys(c.title, c.synopsis) for c in chapters]
    pairs = [(BP.synopsis_overlap(keys[i], keys[j]), i, j) for i, j in itertools.combinations(range(len(keys)), 2)]
    worst = max(pairs, default=(0.0, 0, 0))
    titles = Counter(c.title.strip().lower() for c in chapters)
    data = {"benchmark": "plan_book", "model": backend.info.model, "words": args.words, "seed": args.seed,
            "bible": bool(bible),
            "machine": C.machine(), "git": C.git_state(), "seconds": round(seconds, 1),
            "chapters": len(chapters), "target_sum": sum(c.target_words for c in chapters),
            "repeated_titles": {t: n for t, n in titles.items() if n > 1},
            "largest_overlap": {"overlap": round(worst[0], 3), "chapters": [worst[1] + 1, worst[2] + 1]},
            "how": ready[-1].how if ready else None,
            # answers asked for chapters, and those that held no line the plan could read (the
            # format's placeholders echoed: "Chapter 5 - Title: [title] - Synopsis: [what happens]")
            "chapter_answers": len(rounds), "answers_with_no_chapter": sum(n == 0 for n in rounds),
            "plan": [{"title": c.title, "synopsis": c.synopsis, "words": c.target_words} for c in chapters],
            "answers": ready[-1].raw.splitlines() if ready else []}
    name = "demo" if args.model == "demo" else "instruct" if args.model == "instruct" else Path(args.model).stem
    suffix = f"_{args.words // 1000}k_bible" if bible else ""
    C.write_json(C.out_dir(args.out) / f"plan_book_{name}{suffix}.json", data)
    print(f"{len(chapters)} chapters summing to {data['target_sum']}; repeated titles {data['repeated_titles']}; "
          f"largest overlap {data['largest_overlap']}; answers with no chapter {data['answers_with_no_chapter']} "
          f"of {len(rounds)}; {seconds:.0f} s")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
