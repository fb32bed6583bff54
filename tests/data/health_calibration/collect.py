"""Rebuild the health-calibration set (``documents.jsonl``, ``recoveries.jsonl``) from
benchmark outputs. Not a test: run it by hand when new outputs should join the set, then
commit the two files and check ``tests/unit/test_health_calibration.py`` still passes.

    python tests/data/health_calibration/collect.py RESULTS_DIR [--prompts FILE] [--out DIR]

RESULTS_DIR (a benchmark results folder) is searched for the length benchmark's outputs
(``length_texts.jsonl`` beside ``length.json``, the texts cut back into their sections by
the sections' word counts), ``novel_memory.longhand``, ``prefix_reuse_10000_text.md`` with
``prefix_reuse_10000.json``, the projects under ``health/*.longhand`` and every
``recoveries.jsonl`` (what the engine's recoveries cut). A document is kept up to its last
section the test's offline judge labels (the earlier ones are the reference the judge and
the monitor need); documents with no labelled section and exact duplicates are dropped.

The set was last built from runs that the results folder no longer keeps (it holds only each
bench's latest run; the older ones are in its git history). Run over today's folder, this rewrites
the set without them: give ``--out`` a scratch folder and append the new lines by hand, or check
the old runs out of git into RESULTS_DIR first.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from test_health_calibration import judge  # noqa: E402

from longhand.core.engine.plan import is_story  # noqa: E402
from longhand.core.text.language import detect_language  # noqa: E402
from longhand.core.text.wordcount import count_words  # noqa: E402


def split_by_counts(text: str, counts: list[int]) -> list[str] | None:
    """Cut a text joined from sections back into them, by each section's word count."""
    paras = text.split("\n\n")
    out: list[str] = []
    cur: list[str] = []
    i = 0
    for p in paras:
        cur.append(p)
        if i < len(counts) and count_words("\n\n".join(cur)) >= counts[i]:
            if count_words("\n\n".join(cur)) != counts[i]:
                return None
            out.append("\n\n".join(cur))
            cur, i = [], i + 1
    return out if i == len(counts) and not "".join(cur).strip() else None


def sources(results: Path, prompts_file: Path):
    """(name, language, instruction, [(main point, section text)...]) for every stored job."""
    prompts = {}
    if prompts_file.exists():
        prompts = {json.loads(ln)["id"]: json.loads(ln) for ln in prompts_file.read_text("utf-8").splitlines() if ln}
    for lt in sorted(results.glob("**/length_texts.jsonl")):
        lj = lt.with_name("length.json")
        if not lj.exists():
            continue
        where = lt.parent.relative_to(results).as_posix()
        rows = {r["id"]: r for r in json.loads(lj.read_text("utf-8"))["prompts"]}
        for ln in lt.read_text("utf-8").splitlines():
            d = json.loads(ln)
            row, p = rows.get(d["id"]), prompts.get(d["id"])
            if not row or not p:
                continue
            parts = split_by_counts(d["text"], [s["words"] for s in row["sections"]])
            if parts:
                points = [s.get("main_point", "") for s in row["sections"]]
                name = "length" if where == "." else f"length/{where}"
                yield (f"{name}:{d['id']}", detect_language(p["prompt"]), p["prompt"], list(zip(points, parts)))
    nm = results / "novel_memory.longhand"
    if nm.exists():
        d = json.loads(nm.read_text("utf-8"))
        yield ("novel_memory", "en", d["instruction"], [(s["main_point"], s["text"]) for s in d["sections"]])
    pr, pj = results / "prefix_reuse_10000_text.md", results / "prefix_reuse_10000.json"
    if pr.exists() and pj.exists():
        j = json.loads(pj.read_text("utf-8"))
        body = pr.read_text("utf-8").split("\n", 1)[1].strip()
        parts = split_by_counts(body, [s["words"] for s in j["sections"]])
        if parts:
            yield ("prefix_reuse_10000", "en", j["instruction"], [("", t) for t in parts])
    for path in sorted((results / "health").glob("*.longhand")):
        d = json.loads(path.read_text("utf-8"))
        yield (f"health:{path.stem}", detect_language(d["instruction"]), d["instruction"],
               [(s["main_point"], s["text"]) for s in d["sections"] if s.get("text")])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", help="a benchmark results folder")
    ap.add_argument("--prompts", default=str(ROOT / "bench" / "prompts" / "length.jsonl"))
    ap.add_argument("--out", default=str(HERE))
    a = ap.parse_args()
    results, out = Path(a.results), Path(a.out)

    docs, seen, counts = [], set(), {"clean": 0, "failed": 0}
    for name, lang, instruction, sections in sources(results, Path(a.prompts)):
        key = hashlib.sha1(json.dumps([lang, instruction, sections]).encode()).hexdigest()
        if key in seen:
            continue
        seen.add(key)
        earlier: list[str] = []
        last = -1
        for i, (point, text) in enumerate(sections):
            topic = " ".join([instruction, point, earlier[-1][-3000:] if earlier else ""])
            label = judge(text, "\n\n".join(earlier), lang, topic, is_story(instruction))
            if label:
                last = i
                counts[label] += 1
            earlier.append(text)
        if last >= 0:
            docs.append({"name": name, "lang": lang, "instruction": instruction,
                         "sections": [{"main_point": p, "text": t} for p, t in sections[:last + 1]]})

    cuts = []
    for path in sorted(results.glob("**/recoveries.jsonl")):
        for ln in path.read_text("utf-8").splitlines():
            if not ln.strip():
                continue
            d = json.loads(ln)
            topic = d["instruction"] + " " + d.get("main_point", "")
            if judge(d.get("cut_text", ""), d.get("kept_tail", ""), d["lang"], topic) == "failed":
                cuts.append({k: d.get(k, "") for k in
                             ("id", "index", "attempt", "lang", "instruction", "main_point", "kept_tail", "cut_text")})

    out.mkdir(parents=True, exist_ok=True)
    (out / "documents.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), "utf-8")
    (out / "recoveries.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in cuts), "utf-8")
    print(f"{len(docs)} documents ({counts['clean']} clean and {counts['failed']} failed sections), "
          f"{len(cuts)} recovery cuts -> {out}")


if __name__ == "__main__":
    main()
