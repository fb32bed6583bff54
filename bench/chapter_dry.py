"""Bench: one chapter of a novel written again under other DRY settings, to read side by side.

    python bench/chapter_dry.py --project bench/results/novel-instruct/novel.longhand --chapter 3 \
        [--variants base quotes see-through strict] [--model instruct] [--threads 2] [--seed 1] \
        [--out bench/results/chapter_dry]

From a copy of the project (the original is never written), the chapter's scenes keep their
plan and lose their text, and the chapter is written again as the engine writes it (scenes,
top-ups, summary, name mending), once per variant, with the same seed:

* ``base``: the engine's sampling (DRY ends a repeat it follows at a line break, a colon, a
  double quote, an asterisk or a word of the story's names);
* ``quotes``: DRY follows repeats through double quotes (dialogue);
* ``see-through``: through quotes and the story's names;
* ``strict``: as base, but DRY penalises a repeat from its third token (allowed length 2);
* ``own-phrases``: as base, but a scene may not repeat the 4-grams of its own chapter's
  other scenes either (the engine bans only the other chapters' 4-grams).

Per variant: words against the chapter's target (S_l), the chapter's repeated 4-gram share
(all; those that end in a content word; those that repeat another scene of the chapter),
the share of its 4-grams already in the other chapters, words run together
(``_common.glued_words``), names the model misspelt (mended after the chapter), recoveries,
seconds. Writes ``chapter_dry.json``, ``chapter_dry.md`` and each variant's text
(``<variant>.md``) to read.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

VARIANTS = {
    "base": {},
    "quotes": {"dry_seq_breakers": ("\n", ":", "*")},
    "see-through": {"dry_seq_breakers": ("\n", ":", "*"), "dry_breakers": ()},
    "strict": {"dry_allowed_length": 2},
    "own-phrases": {},
}
OWN_PHRASES = {"own-phrases"}       # variants whose scenes also avoid their chapter's other scenes


def with_own_chapter(job, index: int, sampling):
    """``sampling`` whose phrase ban (``Sampling.avoid``) also holds the 4-grams of the other
    scenes of the scene's chapter."""
    import copy
    sec = job.sections[index]
    own = [o.text for o in job.sections if o.chapter == sec.chapter and o is not sec and o.text.strip()]
    if sampling.avoid is None or not own:
        return sampling
    book = copy.deepcopy(sampling.avoid)
    for text in own:
        book.add(text)
    return dataclasses.replace(sampling, avoid=book)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", required=True)
    ap.add_argument("--chapter", type=int, required=True, help="the chapter to write again (1 = the first)")
    ap.add_argument("--variants", nargs="+", default=["base", "see-through"], choices=sorted(VARIANTS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="results folder (default bench/results/chapter_dry)")
    C.add_model_arg(ap)
    C.add_threads_arg(ap)
    args = ap.parse_args(argv)

    from longhand.core.backends.llama import LlamaCppBackend
    from longhand.core.engine import book as B
    from longhand.core.engine import book_model as BM
    from longhand.core.engine.events import SectionDone, SectionRecovery
    from longhand.core.engine.plan import Section
    from longhand.core.engine.session import EngineConfig
    from longhand.core.projects.project import Project
    from longhand.core.text.wordcount import grams, length_score, repeated_ngram_share, units

    out = C.out_dir(args.out or str(C.RESULTS / "chapter_dry"))
    c = args.chapter - 1
    original = Project.load(args.project)
    n_ctx, max_ctx = EngineConfig().context(original.target_words)
    model = C.demo_model() if args.model == "demo" else C.instruct_model() if args.model == "instruct" \
        else Path(args.model)
    backend = LlamaCppBackend(model, n_ctx=n_ctx, max_ctx=max_ctx, n_threads=args.threads, demo=args.model == "demo")
    rows = []
    for name in args.variants:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "novel.longhand"
            shutil.copy2(args.project, copy)
            job = Project.load(copy)
            ch = job.chapters[c]
            idx = BM.chapter_scenes(job, c)
            for i in idx:                       # the plan stays, the text goes
                old = job.sections[i]
                job.sections[i] = Section(old.main_point, old.target_words, title=old.title, chapter=c)
            job.sections[:] = [s for k, s in enumerate(job.sections) if s.chapter != c or k in idx]
            ch.summary, ch.summary_edited = "", False
            others = [s.text for s in job.sections if s.chapter != c and s.text]
            changes = VARIANTS[name]

            class Writer(B.BookWriter):
                def _call_sampling(self, job, index, sampling, partial):
                    sampling = dataclasses.replace(super()._call_sampling(job, index, sampling, partial), **changes)
                    return with_own_chapter(job, index, sampling) if own_phrases else sampling

            own_phrases = name in OWN_PHRASES
            w = Writer(backend, seed=args.seed)
            raw: list[str] = []
            recoveries = [0]

            def on_event(e):
                if isinstance(e, SectionDone):
                    raw.append(e.text)
                elif isinstance(e, SectionRecovery):
                    recoveries[0] += 1

            t0 = time.perf_counter()
            w.write_book(job, chapters=[c], on_event=on_event)
            seconds = time.perf_counter() - t0
            text = "\n\n".join(job.sections[i].text for i in BM.chapter_scenes(job, c) if job.sections[i].text)
            us = units(text)
            gs = grams(us, 4)
            other = {g for t in others for g in grams(units(t), 4)}
            across, seen = 0, set()            # 4-grams that repeat another scene of the chapter
            for i in BM.chapter_scenes(job, c):
                own = grams(units(job.sections[i].text), 4)
                across += sum(g in seen for g in own)
                seen.update(own)
            words = BM.chapter_words(job, c)
            row = {"variant": name, "changes": {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()},
                   "target": ch.target_words, "words": words,
                   "s_l": round(length_score(ch.target_words, words), 1),
                   "scenes": len(BM.chapter_scenes(job, c)),
                   "repeated_4gram_share": round(repeated_ngram_share(us, 4), 4),
                   "repeated_4gram_share_content_word": round(C.content_repeat_share(text), 4),
                   "repeated_across_scenes": round(across / len(gs), 4) if gs else 0.0,
                   "share_of_other_chapters_4grams": round(sum(g in other for g in gs) / len(gs), 4) if gs else 0.0,
                   "glued_words": C.glued_words(text), "misspelt_names": job.codex.misspellings("\n".join(raw)),
                   "recoveries": recoveries[0], "seconds": round(seconds, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            C.write_text(out / f"{name}.md", f"# Chapter {args.chapter}: {ch.title} ({name})\n\n{text}\n")
    result = {"machine": C.machine(), "git": C.git_state(), "model": args.model, "project": args.project,
              "chapter": args.chapter, "seed": args.seed, "rows": rows}
    C.write_json(out / "chapter_dry.json", result)
    lines = [f"# One chapter under other settings ({args.model} model, chapter {args.chapter})", "",
             f"Command: `python bench/chapter_dry.py --project {args.project} --chapter {args.chapter} "
             f"--variants {' '.join(args.variants)} --model {args.model}`", "", C.machine_line(result["machine"]), "",
             "| variant | words/target | S_l | repeated 4-grams | ending in a content word | across its scenes "
             "| of other chapters | glued words | misspelt names | recoveries | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['words']}/{r['target']} | {r['s_l']} | {r['repeated_4gram_share']} "
                     f"| {r['repeated_4gram_share_content_word']} | {r.get('repeated_across_scenes', '')} "
                     f"| {r['share_of_other_chapters_4grams']} "
                     f"| {len(r['glued_words'])} {', '.join(r['glued_words'][:6])} "
                     f"| {', '.join(f'{k}->{v}' for k, v in r['misspelt_names'].items())} "
                     f"| {r['recoveries']} | {r['seconds']} |")
    C.write_text(out / "chapter_dry.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
