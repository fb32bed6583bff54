"""Bench: the chatter check on the hand-labelled sections of both test models (no model run).

    python bench/chatter_calibration.py [--out DIR]

Reads ``tests/data/chatter_calibration.jsonl`` (sections the instruct and the demo test model
wrote, each read and labelled "clean" or "chatty" by hand; see
``tests/unit/test_chatter_calibration.py``) and runs :func:`longhand.core.text.chatter.find_chatter`
on every one. Reports, per model and label, the sections and how many the check flags (for a
clean section a flag is a false alarm, for a chatty one a find); the misses and false alarms
with their notes and the lines flagged; and the words in flagged lines against all the words
of the chatty sections (the labels are per section, not per word, so this is not a recall of
chatty words), and the words from the first flagged line on (the health check cuts a section
back to the last healthy sentence before it, so this is about what a stream would lose).

Writes ``chatter_calibration.json`` (with a ``machine`` record and one row per section) and
``chatter_calibration.md``. Takes a second: rerun it whenever the chatter rules or the set change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

DATA = C.ROOT / "tests" / "data" / "chatter_calibration.jsonl"
MODELS = ("instruct", "demo")
LABELS = ("clean", "chatty")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out")
    args = ap.parse_args()
    from longhand.core.text.chatter import find_chatter
    from longhand.core.text.wordcount import count_words

    raw = DATA.read_bytes()
    cases = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    rows = []
    for c in cases:
        found = find_chatter(c["text"], c["letter"])
        rows.append({"source": c["source"], "model": c["model"], "label": c["label"], "letter": c["letter"],
                     "note": c.get("note", ""), "words": count_words(c["text"]),
                     "flagged": bool(found), "lines_flagged": len(found),
                     "words_flagged": sum(count_words(c["text"][f.start:f.end]) for f in found),
                     # the health check cuts a section back to before its first flagged line
                     "words_from_first_flag": count_words(c["text"][found[0].start:]) if found else 0,
                     "flags": [{"why": f.why, "line": f.snippet} for f in found]})
    table = []
    for model in MODELS:
        for label in LABELS:
            rs = [r for r in rows if r["model"] == model and r["label"] == label]
            words = sum(r["words"] for r in rs)
            flagged_words = sum(r["words_flagged"] for r in rs)
            from_first = sum(r["words_from_first_flag"] for r in rs)
            table.append({"model": model, "label": label, "sections": len(rs),
                          "flagged": sum(r["flagged"] for r in rs),
                          "share": round(sum(r["flagged"] for r in rs) / len(rs), 4) if rs else None,
                          "words": words, "words_flagged": flagged_words,
                          "words_share": round(flagged_words / words, 4) if words else None,
                          "words_from_first_flag": from_first,
                          "words_from_first_flag_share": round(from_first / words, 4) if words else None})
    chatty = [r for r in rows if r["label"] == "chatty"]
    clean = [r for r in rows if r["label"] == "clean"]
    chatty_words = sum(r["words"] for r in chatty)
    data = {
        "machine": C.machine(),
        "command": "python bench/chatter_calibration.py " + " ".join(sys.argv[1:]),
        "data": DATA.relative_to(C.ROOT).as_posix(),
        "data_sha256": hashlib.sha256(raw).hexdigest(),
        "summary": {
            "sections": len(rows),
            "clean_sections": len(clean),
            "false_alarms": sum(r["flagged"] for r in clean),
            "chatty_sections": len(chatty),
            "found": sum(r["flagged"] for r in chatty),
            "misses": sum(not r["flagged"] for r in chatty),
            "chatty_words": chatty_words,
            "chatty_words_flagged": sum(r["words_flagged"] for r in chatty),
            "chatty_words_flagged_share": (round(sum(r["words_flagged"] for r in chatty) / chatty_words, 4)
                                           if chatty_words else None),
            "chatty_words_from_first_flag": sum(r["words_from_first_flag"] for r in chatty),
        },
        "table": table,
        "false_alarms": [r for r in clean if r["flagged"]],
        "misses": [r for r in chatty if not r["flagged"]],
        "rows": rows,
    }
    out = C.out_dir(args.out)
    C.write_json(out / "chatter_calibration.json", data)
    C.write_text(out / "chatter_calibration.md", report(data))
    s = data["summary"]
    print(f"{s['false_alarms']}/{s['clean_sections']} clean sections flagged, "
          f"{s['found']}/{s['chatty_sections']} chatty ones found", file=sys.stderr)
    return 0


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def report(data: dict) -> str:
    s = data["summary"]
    lines = ["# Chatter check on the hand-labelled sections (both test models)", "",
             f"Command: `{data['command'].strip()}` (no model is run). Data: `{data['data']}` "
             f"({s['sections']} sections).", "", f"Machine: {C.machine_line(data['machine'])}", "",
             f"- **{s['false_alarms']}/{s['clean_sections']} clean sections flagged** (false alarms: a flag "
             "cuts good text)",
             f"- **{s['found']}/{s['chatty_sections']} chatty sections found** ({s['misses']} missed)",
             f"- in the chatty sections, {s['chatty_words_flagged']:,} of {s['chatty_words']:,} words stand in "
             f"flagged lines ({_pct(s['chatty_words_flagged_share'])}; labels are per section, so this is "
             "no recall of chatty words) and "
             f"{s['chatty_words_from_first_flag']:,} from the first flagged line on (the health check cuts a "
             "section back to before it)", "",
             "| model | label | sections | flagged | share | words | words in flagged lines | share | "
             "words from the first flag on | share |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for t in data["table"]:
        lines.append(f"| {t['model']} | {t['label']} | {t['sections']} | {t['flagged']} | {_pct(t['share'])} | "
                     f"{t['words']:,} | {t['words_flagged']:,} | {_pct(t['words_share'])} | "
                     f"{t['words_from_first_flag']:,} | {_pct(t['words_from_first_flag_share'])} |")
    lines += ["", "For a clean section a flag is a false alarm; for a chatty one it is a find.", ""]
    for title, key, empty in (("False alarms", "false_alarms", "None: no clean section is flagged."),
                              ("Misses", "misses", "None: every chatty section is flagged.")):
        lines += [f"## {title}", ""]
        rs = data[key]
        if not rs:
            lines += [empty, ""]
            continue
        for r in rs:
            note = f": {r['note']}" if r["note"] else ""
            lines.append(f"- {r['model']}, {r['source']} ({r['words']} words){note}")
            for f in r["flags"][:3]:
                lines.append(f"  - {f['why']}: \"{f['line'][:100]}\"")
        lines.append("")
    lines += ["## Chatty sections: what is flagged", "",
              "| model | source | words | lines flagged | words in them | from the first on | first reason |",
              "|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        if r["label"] == "chatty":
            why = r["flags"][0]["why"] if r["flags"] else "(missed)"
            lines.append(f"| {r['model']} | {r['source']} | {r['words']} | {r['lines_flagged']} | "
                         f"{r['words_flagged']} | {r['words_from_first_flag']} | {why.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
