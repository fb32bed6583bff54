"""Bench: are the demo model's words-run-together copies of earlier text? (issue 14's cause)

The collapsed long texts on record hold letter runs of 19+ letters ("curlsandshortbabsy…",
"Weallhavedifferentopinionson…"). If the model were producing noise, such runs would not be
found in the text before them. If it is *copying* an earlier passage while the token-level
anti-repetition samplers (repetition penalty, DRY) penalise the copy's usual tokens, the copy
comes out in other tokens: the same letters without their spaces. This script tells which,
for every run in a text: does its letter sequence (lower case, a 19-letter stretch of it at
least) occur in the text written before it, once that earlier text's spaces and punctuation
are removed?

Two controls: *chance*, the same test on strings glued from words drawn at random from the
same text (as long as each run-on; a copy only by accident), and *plain copying*, the test on
the text's ordinary 4-word windows, de-spaced (the share of the text that repeats itself).

    python bench/runon_copies.py [FILE ...]    # .md/.txt texts or .longhand projects

Writes ``bench/results/runon_copies.json`` and prints one line per text.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from longhand.core.text.health import RUN_ON_LETTERS

ROOT = Path(__file__).resolve().parents[1]
_WORD = re.compile(r"[A-Za-z]+")

DEFAULT = [
    "bench/results/prefix_reuse_10000_text.md",          # en12, 10,000 words, 27 Nov (DRY 256)
    "bench/results/health/novel_runon_before.longhand",  # the novel benchmark's collapsed run
    "bench/results/novel.longhand",                      # the novel rerun with the health check
]


def found_despaced(run: str, before: str) -> bool:
    """Does any RUN_ON_LETTERS-letter stretch of ``run`` (lower case) stand in ``before``
    (text with its spaces and punctuation removed)? A run may glue a copy to new letters."""
    return any(run[j:j + RUN_ON_LETTERS] in before for j in range(len(run) - RUN_ON_LETTERS + 1))


def texts_of(path: Path) -> list[str]:
    """The document's text in writing order (sections of a project, or the whole file)."""
    if path.suffix == ".longhand":
        project = json.loads(path.read_text(encoding="utf-8"))
        return [s.get("text") or "" for s in project.get("sections", [])]
    return [path.read_text(encoding="utf-8")]


def analyse(parts: list[str]) -> dict:
    """Each run-on's letters searched in everything written before it, spaces removed."""
    before = ""            # de-spaced lower-case letters of the text so far
    rng = random.Random(14)
    vocab = [w.lower() for part in parts for w in _WORD.findall(part)] or ["x"]
    runs = copied = chance = 0
    windows = windows_copied = 0
    examples: list[dict] = []
    for part in parts:
        words = list(_WORD.finditer(part))
        for i, m in enumerate(words):
            w = m.group(0).lower()
            if len(w) >= RUN_ON_LETTERS:
                runs += 1
                hit = found_despaced(w, before)
                copied += hit
                glued = ""
                while len(glued) < len(w):
                    glued += rng.choice(vocab)
                chance += found_despaced(glued[:len(w)], before)
                if len(examples) < 6 and hit:
                    examples.append({"run": m.group(0)[:60]})
            elif i >= 3 and all(len(x.group(0)) < RUN_ON_LETTERS for x in words[i - 3:i + 1]):
                window = "".join(x.group(0).lower() for x in words[i - 3:i + 1])
                if len(window) >= 12:
                    windows += 1
                    windows_copied += window in before
            before += w
    return {"run_ons": runs, "run_ons_copied": copied,
            "run_on_copy_share": round(copied / runs, 3) if runs else None,
            "chance_copied": chance, "chance_share": round(chance / runs, 3) if runs else None,
            "windows": windows, "windows_copied": windows_copied,
            "window_copy_share": round(windows_copied / windows, 3) if windows else None,
            "examples": examples}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", default=DEFAULT)
    ap.add_argument("--out", default=str(ROOT / "bench/results/runon_copies.json"))
    args = ap.parse_args(argv)
    rows = []
    for name in args.files:
        path = Path(name) if Path(name).is_absolute() else ROOT / name
        row = {"file": name, **analyse(texts_of(path))}
        rows.append(row)
        print(f"{name}: {row['run_ons']} run-ons, {row['run_ons_copied']} found de-spaced in the "
              f"text before them ({row['run_on_copy_share']}; by chance {row['chance_share']}); 4-word windows copied: "
              f"{row['windows_copied']}/{row['windows']} ({row['window_copy_share']})")
    Path(args.out).write_text(json.dumps({"benchmark": "runon_copies", "rows": rows}, indent=1) + "\n",
                              encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
