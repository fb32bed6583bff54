"""Bench: why the novel benchmark's book plan ran its words together (issue 14).

    python bench/plan_grammar.py [--chapters 40] [--scenes 0] [--threads 1] [--seed 1]

The novel benchmark's first book plan and then all of its scenes came out as words run
together ("AfterNell leaves - Word count: 2551 wordsChapter 40…", bench/results/health/
novel_runon_before.longhand). A 40-chapter plan is asked for in rounds; each round's prompt
holds the chapter lines found so far. This script plans the benchmark's book on the demo
model with the same seed four ways and counts the garbled chapter lines
(core/text/health.garbled: words run together, fragments, the plan's fields inside a line):

* ``before``: the code of the collapsed run: garbled lines are kept, so they go back into the
  next round's prompt;
* ``words``: the code now: the same word-capped grammar, garbled lines dropped by the parser;
* ``chars``: an alternative tried and rejected: the grammar bounds a line in characters
  instead of words (the model, no longer short of spaces, was suspected of gluing words);
* ``none``: no grammar, garbled lines dropped.

Writes ``plan_grammar.json`` and ``plan_grammar.md``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
from novel import BIBLE, INSTRUCTION  # noqa: E402

# The "chars" alternative: a point or synopsis of any characters, bounded at ~7 a word.
CHARS_TEXT = 'text ::= [^ \\n-] [^\\n]{4,%d}'
CHARS_TITLE = 'title ::= [^ \\n-] [^\\n]{0,79}'


def chars_grammar(real):
    def plan_grammar(level="paragraph", *, max_lines=50, start="line", max_words=60, min_lines=1):
        g = real(level, max_lines=max_lines, start=start, max_words=max_words, min_lines=min_lines)
        g = re.sub(r"^word ::= .*\n?", "", g, flags=re.M)
        g = re.sub(r"^text ::= .*$", lambda m: CHARS_TEXT % (max_words * 7), g, flags=re.M)
        return re.sub(r"^title ::= .*$", lambda m: CHARS_TITLE, g, flags=re.M)
    return plan_grammar


def measure(lines: list[str]) -> dict:
    from longhand.core.text.health import garbled, run_on_share
    text = "\n".join(lines)
    return {"lines": len(lines), "garbled_lines": sum(garbled(x) for x in lines),
            "garbled_share": round(sum(garbled(x) for x in lines) / max(1, len(lines)), 3),
            "run_on_share": round(run_on_share(text), 4)}


def run_variant(backend, variant: str, chapters: int, scenes: int, seed: int) -> dict:
    """variant: "before", "words" (the code now), "chars" or "none" (see the module's doc)."""
    from longhand.core.engine import book as B
    from longhand.core.engine import book_model as BM
    from longhand.core.engine import book_plan as BP
    from longhand.core.engine import grammar as G
    real, real_garbled = G.plan_grammar, BP.garbled   # (read by the plan parser and by BookWriter)
    if variant == "chars":
        G.plan_grammar = chars_grammar(real)
    if variant == "before":
        BP.garbled = B.garbled = lambda text: False
    try:
        w = B.BookWriter(backend, seed=seed)
        w.use_grammar = variant != "none"
        job = BM.BookJob(instruction=INSTRUCTION, target_words=100000, bible=BIBLE)
        t0 = time.perf_counter()
        raw: list[str] = []
        # the book plan of the benchmark, cut to its first chapters (the same prompt, fewer lines)
        real_expected = BM.expected_chapters
        BM.expected_chapters = lambda words: min(chapters, real_expected(words))
        try:
            job.chapters = w.plan_book(INSTRUCTION, 100000, bible=BIBLE,
                                       on_event=lambda e: raw.append((e.how, e.raw)) if hasattr(e, "raw") else None)
        finally:
            BM.expected_chapters = real_expected
        book_lines = [f"{c.title} - {c.synopsis}" for c in job.chapters]
        scene_lines = []
        for c in range(min(scenes, len(job.chapters))):
            w.plan_chapter(job, c)
            scene_lines += [job.sections[i].main_point for i in BM.chapter_scenes(job, c)]
        return {"variant": variant, "seconds": round(time.perf_counter() - t0, 1),
                "book_plan": raw[0][0] if raw else "",
                "chapters": measure(book_lines), "scenes": measure(scene_lines),
                "chapter_lines": book_lines, "scene_lines": scene_lines, "raw_book_plan": raw[0][1] if raw else ""}
    finally:
        G.plan_grammar, BP.garbled, B.garbled = real, real_garbled, real_garbled


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chapters", type=int, default=40)
    ap.add_argument("--scenes", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variants", default="before,words,chars,none")
    ap.add_argument("--out")
    C.add_threads_arg(ap)
    a = ap.parse_args()
    out = C.out_dir(a.out)
    backend = C.open_demo_backend(n_ctx=8192, n_threads=a.threads)
    rows = [run_variant(backend, v, a.chapters, a.scenes, a.seed) for v in a.variants.split(",")]
    data = {"machine": C.machine(), "command": " ".join(sys.argv), "rows": rows}
    C.write_json(out / "plan_grammar.json", data)
    md = ["# Book plans and words run together (demo model)", "",
          f"Command: `python {' '.join(sys.argv)}`", "", C.machine_line(data["machine"]), "",
          "| variant | chapter lines | garbled | run-on share | scene lines | garbled | run-on share | s |",
          "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ch, sc = r["chapters"], r["scenes"]
        md.append(f"| {r['variant']} | {ch['lines']} | {ch['garbled_lines']} | {ch['run_on_share']} | "
                  f"{sc['lines']} | {sc['garbled_lines']} | {sc['run_on_share']} | {r['seconds']} |")
    md += ["", "First chapter lines per variant:", ""]
    for r in rows:
        md.append(f"- **{r['variant']}**: " + " / ".join(x[:120] for x in r["chapter_lines"][:3]))
    C.write_text(out / "plan_grammar.md", "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
