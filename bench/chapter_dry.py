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
  other scenes either (the engine bans only the other chapters' 4-grams);
* ``short-asks``: a chat model's asks for a scene and to go on with one cut to what changes
  from one to the next, the rest said once in the chapter's first message (``PROMPTS``).

Per variant: words against the chapter's target (S_l), the chapter's repeated 4-gram share
(all; those that end in a content word; those that repeat another scene of the chapter),
the share of its 4-grams already in the other chapters, words run together
(``_common.glued_words``), names the model misspelt (mended after the chapter), recoveries,
seconds, prompt tokens evaluated (per token of the chapter's text). Writes
``chapter_dry.json``, ``chapter_dry.md`` and each variant's text (``<variant>.md``) to read.
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
# variants of the chat scene prompts (engine.prompts, as engine.book uses them): what every
# ask of a scene repeated (to write the scene in full, to end it where its events end) said
# once, in the chapter's first message, and the asks cut to what changes from one to the next
PROMPTS = {"short-asks": {
    "SCENES_INTRO_CHAT": """
Chapter {n} is written one scene at a time, each in its own answer. A scene starts where the \
one before it ended and tells only what is new: never retell what an earlier scene told. Write \
each scene in full, about as long as asked, and end it where its own events end: no summing-up, \
no reflection, no look ahead, nothing of what a later scene will tell. Write only the story \
itself: no title or heading, no notes, no comments, no words to the reader.

""",
    "SCENE_ASK_CHAT": """Write scene {k}, "{title}": {point}{notes}
About {words} words. {position}""",
    "SCENE_GOES_ON_CHAT": "Next scene (not yet): {next}",
    "SCENE_ENDS_CHAPTER_CHAT": "Last scene of the chapter; chapter {n} (not yet): {next}",
    "SCENE_GO_ON_CHAT": """Go on with scene {k} from its last sentence, its next moments in detail, \
about {more} more words. The scene is not over yet.""",
}}
VARIANTS.update({name: {} for name in PROMPTS})


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
            saved = {k: getattr(B, k) for k in PROMPTS.get(name, {})}
            for k, v in PROMPTS.get(name, {}).items():
                setattr(B, k, v)
            w = Writer(backend, seed=args.seed)
            raw: list[str] = []
            recoveries = [0]

            def on_event(e):
                if isinstance(e, SectionDone):
                    raw.append(e.text)
                elif isinstance(e, SectionRecovery):
                    recoveries[0] += 1

            # (each variant from an empty context: none evaluates less for the prefix the one
            # before it left in the cache)
            backend.forget_cache()
            t0 = time.perf_counter()
            evaluated = backend.prompt_tokens_evaluated
            try:
                w.write_book(job, chapters=[c], on_event=on_event)
            finally:
                for k, v in saved.items():
                    setattr(B, k, v)
            seconds = time.perf_counter() - t0
            evaluated = backend.prompt_tokens_evaluated - evaluated
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
                   "recoveries": recoveries[0], "seconds": round(seconds, 1),
                   "prompt_tokens_evaluated": evaluated,
                   "evaluated_per_chapter_token": round(evaluated / max(1, sum(
                       backend.count_tokens(job.sections[i].text) for i in BM.chapter_scenes(job, c))), 3)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            C.write_text(out / f"{name}.md", f"# Chapter {args.chapter}: {ch.title} ({name})\n\n{text}\n")
    result = {"machine": C.machine(), "git": C.git_state(), "model": args.model, "project": args.project,
              "chapter": args.chapter, "seed": args.seed, "rows": rows}
    C.write_json(out / "chapter_dry.json", result)
    lines = [f"# One chapter under other settings ({args.model} model, chapter {args.chapter})", "",
             f"Command: `python bench/chapter_dry.py --project {args.project} --chapter {args.chapter} "
             f"--variants {' '.join(args.variants)} --model {args.model} --threads {args.threads}"
             f"{' --out ' + args.out if args.out else ''}`", "", C.machine_line(result["machine"]), "",
             "| variant | words/target | S_l | repeated 4-grams | ending in a content word | across its scenes "
             "| of other chapters | glued words | misspelt names | recoveries | seconds | evaluated per text token |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['words']}/{r['target']} | {r['s_l']} | {r['repeated_4gram_share']} "
                     f"| {r['repeated_4gram_share_content_word']} | {r.get('repeated_across_scenes', '')} "
                     f"| {r['share_of_other_chapters_4grams']} "
                     f"| {len(r['glued_words'])} {', '.join(r['glued_words'][:6])} "
                     f"| {', '.join(f'{k}->{v}' for k, v in r['misspelt_names'].items())} "
                     f"| {r['recoveries']} | {r['seconds']} | {r.get('evaluated_per_chapter_token', '')} |")
    C.write_text(out / "chapter_dry.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
