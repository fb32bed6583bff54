"""Bench: a book plan on a real model: do its chapters repeat?

    python bench/plan_book.py --model instruct [--words 90000] [--seed 1] [--bible]
    python bench/plan_book.py --model instruct --replan PROJECT.longhand

Plans the 90,000-word fantasy novel of the novel bench (chapters only: no scene is written)
and reports the chapters, the repeated titles, and the largest content-word overlap between
two chapters' title and synopsis (:func:`longhand.core.engine.book_plan.synopsis_overlap`; the
engine refuses a chapter at 0.5 or more), and the answers that held no chapter line. Writes
``plan_book_<model>.json`` (``--bible``: the novel bench's request with its story bible,
``plan_book_<model>_<words>k_bible.json``).

``--replan``: the book of a project re-planned as the app's Re-plan book does (its written
and locked chapters kept; the project file is not changed), and how much each new chapter
shares with the kept ones (the largest overlap, and the new chapters at 0.3 or more). Writes
``plan_book_<model>_replan.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
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
    ap.add_argument("--replan", metavar="PROJECT", help="re-plan this project's book (the file is not changed)")
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
    def on_event(e) -> None:
        if isinstance(e, BookPlanReady):
            ready.append(e)
        elif isinstance(e, BookPlanRound):
            rounds.append(e.read)

    kept: set[int] = set()      # re-planned: the chapters kept (written or locked)
    if args.replan:
        from longhand.core.projects.project import Project
        job = Project.load(args.replan)
        chapters = writer.replan_book(job, on_event=on_event)
        kept = {s.chapter for s in job.sections if s.chapter is not None and s.text.strip()} | \
            {i for i, c in enumerate(chapters) if c.locked}
        args.words, bible = job.target_words, job.bible
    else:
        chapters = writer.plan_book(INSTRUCTION.format(words=args.words), args.words, bible=bible,
                                    on_event=on_event)
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
            "plan": [{"title": c.title, "synopsis": c.synopsis, "words": c.target_words, "kept": i in kept}
                     for i, c in enumerate(chapters)],
            "answers": ready[-1].raw.splitlines() if ready else []}
    if args.replan:
        # each new chapter against the kept ones (their synopses: what the plan tells)
        new = [i for i in range(len(chapters)) if i not in kept]
        old_ = sorted(kept)
        against = [(max((BP.synopsis_overlap(keys[i], keys[j]), j) for j in old_), i) for i in new] if old_ else []
        data["replan"] = {
            "project": args.replan, "kept": len(old_), "new": len(new),
            "largest_overlap_with_kept": ({"overlap": round(max(against)[0][0], 3),
                                           "chapters": [max(against)[1] + 1, max(against)[0][1] + 1]}
                                          if against else None),
            "new_at_0_3_or_more": sum(o >= 0.3 for (o, _), _ in against),
            "mean_overlap_with_kept": round(sum(o for (o, _), _ in against) / len(against), 3) if against else None}
        print(json.dumps(data["replan"]))
    name = "demo" if args.model == "demo" else "instruct" if args.model == "instruct" else Path(args.model).stem
    suffix = "_replan" if args.replan else f"_{args.words // 1000}k_bible" if bible else ""
    C.write_json(C.out_dir(args.out) / f"plan_book_{name}{suffix}.json", data)
    print(f"{len(chapters)} chapters summing to {data['target_sum']}; repeated titles {data['repeated_titles']}; "
          f"largest overlap {data['largest_overlap']}; answers with no chapter {data['answers_with_no_chapter']} "
          f"of {len(rounds)}; {seconds:.0f} s")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
