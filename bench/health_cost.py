"""Bench: what the text-health check costs per streamed piece (issue 14: "cheap enough for
every streamed piece").

Streams real text into :class:`HealthMonitor` the way the engine does (the section's whole
text so far after every piece, pieces of about one token: 4 characters), with the six
sections before it as the loop reference and the request as the topic, and times every
``feed`` call. Sections of 500, 2,000 and 5,000 words are cut from the clean 10,000-word
text on record (``bench/results/health/final/en12/length_texts.jsonl``); a Chinese one from
zh03 (``health/final/zh``). The result on record was measured on the same prompts' earlier runs
(``health/en12``, ``health/zh``; history: git log).
Reported: calls, mean and 99th-percentile time per call, the time over the whole section,
and that time as a share of generating the section at the demo model's measured speed
(``--tok-s``, tokens per second) and at 5 tok/s (an 8B model on a CPU).

    python bench/health_cost.py [--tok-s 30]

Writes ``bench/results/health_cost.json``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def text_of(path: Path, pid: str) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["id"] == pid:
            return row["text"]
    raise SystemExit(f"{pid} not in {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tok-s", type=float, default=30.0, help="the demo model's decode speed here")
    ap.add_argument("--piece", type=int, default=4, help="characters per streamed piece")
    ap.add_argument("--out", help="results folder (default bench/results)")
    args = ap.parse_args(argv)
    from longhand.core.text.health import HealthMonitor
    from longhand.core.text.language import detect_language
    from longhand.core.text.wordcount import count_words

    en = text_of(RESULTS / "health" / "final" / "en12" / "length_texts.jsonl", "en12")
    zh = text_of(RESULTS / "health" / "final" / "zh" / "length_texts.jsonl", "zh03")
    request = "Write a 10000-word story about a family of clockmakers in a mountain town over three generations."
    cases = []
    for words in (500, 2000, 5000):
        # the section: `words` words from the middle; the reference: the 3,000 words before it
        tokens = en.split(" ")
        start = min(3000, len(tokens) - words)
        cases.append((f"en {words} words", request, " ".join(tokens[:start]), " ".join(tokens[start:start + words])))
    cases.append(("zh03 (Chinese)", "写一篇600字的文章", "", zh))
    rows = []
    for name, instruction, reference, section in cases:
        mon = HealthMonitor(detect_language(instruction), reference=reference, topic_text=instruction)
        times = []
        t_all = time.perf_counter()
        # every call does its work, whatever the verdict (the engine would stop at a failure;
        # a span of several sections of en12 repeats lines the way its sections do)
        for end in range(args.piece, len(section) + args.piece, args.piece):
            t0 = time.perf_counter()
            mon.feed(section[:end])
            times.append(time.perf_counter() - t0)
        total = time.perf_counter() - t_all
        n_tokens = len(times)                  # one piece ~ one token
        row = {"case": name, "words": count_words(section), "chars": len(section), "calls": n_tokens,
               "mean_us": round(statistics.mean(times) * 1e6, 1),
               "p99_us": round(sorted(times)[int(0.99 * (len(times) - 1))] * 1e6, 1),
               "max_ms": round(max(times) * 1e3, 2), "total_s": round(total, 3),
               "share_of_generation_demo": round(total / (n_tokens / args.tok_s), 4),
               "share_of_generation_5tok_s": round(total / (n_tokens / 5.0), 5)}
        rows.append(row)
        print(f"{name}: {row['calls']} calls, mean {row['mean_us']} µs, p99 {row['p99_us']} µs, max "
              f"{row['max_ms']} ms; {row['total_s']} s in all = {100 * row['share_of_generation_demo']:.2f} % "
              f"of generating it at {args.tok_s:g} tok/s, {100 * row['share_of_generation_5tok_s']:.3f} % at 5 tok/s")
    C.write_json(C.out_dir(args.out) / "health_cost.json",
                 {"benchmark": "health_cost", "piece_chars": args.piece, "tok_s": args.tok_s,
                  "machine": C.machine(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
