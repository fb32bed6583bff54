"""Bench: length fidelity (LongBench-Write's S_l) of the engine on the demo model.

Runs our prompt set (``bench/prompts/length.jsonl``: stories, reports, articles, emails, in
English and Chinese, 100 to 20,000 words) through the AgentWrite engine
(:class:`longhand.core.engine.writer.AgentWriter` on :class:`LlamaCppBackend`), counts the output
with :func:`count_words` and scores it with :func:`length_score` (S_l, averaged overall and
per LongBench-Write bucket). The share of repeated 4-grams is reported next to it, so that
length is not bought with loops. Per-section rows (target, words, why each generate call
ended) show where length control over- or undershoots; since issue 14 each section also
reports its junk share (fragments), its share in the request's language, whether the health
check's recovery fired and whether the section was left "needs attention", and each prompt
how many plan answers copied the prompt's example and how many tokens were generated per
word of the document.

    python bench/length.py            # the whole set (about an hour on 2 cores)
    python bench/length.py --quick    # a handful of short prompts (a few minutes)
    python bench/length.py --ids en01 # chosen prompts only
    python bench/length.py --plot-only

Writes ``length.json``, ``length.md``, ``length_buckets.png`` and ``length_texts.jsonl``.
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

BUCKETS = [(0, 500, "[0,500)"), (500, 2000, "[500,2k)"), (2000, 4000, "[2k,4k)"),
           (4000, 20001, "[4k,20k]")]


def bucket_of(length: int) -> str:
    for lo, hi, name in BUCKETS:
        if lo <= length < hi:
            return name
    return BUCKETS[-1][2]


def load_prompts(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def select(prompts: list[dict], quick: bool, ids: list[str] | None,
           max_length: int | None = None) -> list[dict]:
    if ids:
        chosen = [p for p in prompts if p["id"] in ids]
        missing = set(ids) - {p["id"] for p in chosen}
        if missing:
            raise SystemExit(f"unknown prompt ids: {', '.join(sorted(missing))}")
    elif quick:
        chosen = [p for p in prompts if p.get("quick")]
    else:
        chosen = list(prompts)
    if max_length:
        chosen = [p for p in chosen if p["length"] <= max_length]
    # shortest first: the context then only ever grows (one reload per size step)
    return sorted(chosen, key=lambda p: p["length"])


def _letter(instruction: str) -> bool:
    from longhand.core.text.chatter import LETTER
    return bool(LETTER.search(instruction))


def section_summary(run, lang: str) -> list[dict]:
    from longhand.core.text.chatter import chatter_share
    from longhand.core.text.health import compression_ratio, junk_share
    from longhand.core.text.language import language_share
    out = []
    letter = _letter(run.job.instruction)
    for r in run.sections:
        text = run.job.sections[r.index].text
        share = language_share(text, lang)
        out.append({"index": r.index, "main_point": run.job.sections[r.index].main_point,
                    "target": r.target, "words": r.words,
                    "ratio": round(r.words / r.target, 3) if r.target else None,
                    "calls": [c["finish"] for c in r.calls],
                    "call_words": [c["words"] for c in r.calls],
                    "generated_tokens": r.generated_tokens, "seconds": round(r.seconds, 2),
                    "junk": round(junk_share(text), 4),
                    "language_share": round(share, 4) if share is not None else None,
                    "compression": round(compression_ratio(text), 3),
                    "chatter": round(chatter_share(text, letter), 4),
                    "recoveries": r.recoveries, "needs_attention": r.needs_attention})
    return out


def partial_saver(p: dict, out: Path):
    """Write ``partial_<id>.json`` after every section, so a long job stopped early keeps its figures."""
    from longhand.core.text.language import detect_language
    from longhand.core.text.wordcount import count_words, length_score, repeated_ngram_share

    def save(run, generated_tokens: int) -> None:
        text = "\n\n".join(s.text for s in run.job.sections if s.text)
        words = count_words(text)
        secs = section_summary(run, detect_language(p["prompt"]))
        C.write_json(out / f"partial_{p['id']}.json", {
            "id": p["id"], "required": p["length"], "sections_done": len(secs),
            "sections_planned": len(run.job.sections), "words": words,
            "planned_words_done": sum(s["target"] for s in secs),
            "s_l_so_far": round(length_score(sum(s["target"] for s in secs) or 1, words), 2),
            "repeat_share": round(repeated_ngram_share(text, 4), 4), "generated_tokens": generated_tokens,
            "tokens_per_doc_word": round(generated_tokens / words, 3) if words else None,
            "plan": run.plan_how, "plan_checks": run.plan_checks,
            "recoveries": sum(s["recoveries"] for s in secs), "sections": secs,
            "recovery_samples": run.recoveries, "text": text})
    return save


def score_prompt(p: dict, backend, seed: int, out: Path | None = None) -> tuple[dict, str]:
    from longhand.core.text.chatter import chatter_words
    from longhand.core.text.language import detect_language, language_share
    from longhand.core.text.wordcount import count_words, length_score, repeated_ngram_share
    run = C.run_job(backend, p["prompt"], p["length"], seed=seed,
                    on_section=partial_saver(p, out) if out is not None and p["length"] >= 3000 else None)
    words = count_words(run.text)
    st = run.stats
    lang = detect_language(p["prompt"])
    secs = section_summary(run, lang)
    share = language_share(run.text, lang)
    chatty = chatter_words(run.text, _letter(p["prompt"]))
    # S_l on the healthy words: chatter is no manuscript, so it does not count toward the length
    healthy = max(0, words - chatty)
    row = {
        "id": p["id"], "type": p["type"], "lang": p["lang"], "bucket": bucket_of(p["length"]),
        "required": p["length"], "words": words, "ratio": round(words / p["length"], 3),
        "s_l": round(length_score(p["length"], words), 2),
        "healthy_words": healthy,
        "s_l_healthy": round(length_score(p["length"], healthy), 2) if healthy else 0.0,
        "chatter_share": round(chatty / words, 4) if words else 0.0,
        "repeat_share": round(repeated_ngram_share(run.text, 4), 4),
        "plan": run.plan_how, "n_sections": len(run.sections),
        "section_targets_sum": sum(s.target_words for s in run.job.sections),
        "generated_tokens": st.generated_tokens,
        "prompt_tokens_evaluated": st.prompt_tokens_evaluated,
        "prompt_eval_per_generated": round(st.prompt_tokens_evaluated / st.generated_tokens, 3)
        if st.generated_tokens else None,
        "tokens_per_s": round(st.tokens_per_s, 2),
        "seconds": round(run.seconds, 1),
        # issue 14: what the words are made of
        "request_lang": lang,
        "language_share": round(share, 4) if share is not None else None,
        "min_section_language_share": min((s["language_share"] for s in secs
                                           if s["language_share"] is not None), default=None),
        "max_section_junk": max((s["junk"] for s in secs), default=0.0),
        "recoveries": sum(s["recoveries"] for s in secs),
        "sections_recovered": sum(1 for s in secs if s["recoveries"]),
        "needs_attention": sum(1 for s in secs if s["needs_attention"]),
        "plan_checks": run.plan_checks,
        "plan_copies_example": sum(1 for c in run.plan_checks if c == "copies the example"),
        "tokens_per_doc_word": round(st.generated_tokens / words, 3) if words else None,
        "sections": secs,
    }
    row["recovery_samples"] = [{**r, "id": p["id"], "lang": lang, "instruction": p["prompt"],
                                "main_point": run.job.sections[r["index"]].main_point}
                               for r in run.recoveries]
    return row, run.text


def aggregate(rows: list[dict]) -> dict:
    per_bucket = {}
    for _, _, name in BUCKETS:
        rs = [r for r in rows if r["bucket"] == name]
        if rs:
            per_bucket[name] = {"n": len(rs), "s_l": round(statistics.mean(r["s_l"] for r in rs), 2),
                                "repeat_share": round(statistics.mean(r["repeat_share"] for r in rs), 4)}
    per_lang = {}
    for lang in sorted({r["lang"] for r in rows}):
        rs = [r for r in rows if r["lang"] == lang]
        per_lang[lang] = {"n": len(rs), "s_l": round(statistics.mean(r["s_l"] for r in rs), 2)}
    secs = [s for r in rows for s in r["sections"]]
    over = [s for s in secs if s["words"] > s["target"] * 1.12]
    under = [s for s in secs if s["words"] < s["target"] * 0.92]
    finishes: dict[str, int] = {}
    for s in secs:
        for f in s["calls"]:
            finishes[f] = finishes.get(f, 0) + 1
    hs = [s for r in rows for s in r["sections"] if "junk" in s]
    health = {
        "sections": len(hs),
        "max_junk": max((s["junk"] for s in hs), default=None),
        "sections_over_3pct_junk": sum(1 for s in hs if s["junk"] > 0.03),
        "min_language_share": min((s["language_share"] for s in hs if s["language_share"] is not None),
                                  default=None),
        "sections_recovered": sum(1 for s in hs if s["recoveries"]),
        "recoveries": sum(s["recoveries"] for s in hs),
        "needs_attention": sum(1 for s in hs if s["needs_attention"]),
        "plan_copies_example": sum(r.get("plan_copies_example", 0) for r in rows),
    } if hs else None
    gen = sum(r.get("generated_tokens", 0) for r in rows)
    words = sum(r["words"] for r in rows)
    return {
        "health": health,
        "s_l": round(statistics.mean(r["s_l"] for r in rows), 2) if rows else None,
        "s_l_healthy": round(statistics.mean(r.get("s_l_healthy", r["s_l"]) for r in rows), 2) if rows else None,
        "chatter_share": round(sum(r.get("chatter_share", 0) * r["words"] for r in rows) / words, 4)
        if words else None,
        "sections_with_chatter": sum(1 for s in secs if s.get("chatter")),
        "prompt_eval_per_generated": round(sum(r.get("prompt_tokens_evaluated", 0) for r in rows) / gen, 3)
        if gen else None,
        "buckets": per_bucket,
        "languages": per_lang,
        "repeat_share": round(statistics.mean(r["repeat_share"] for r in rows), 4) if rows else None,
        "sections": {
            "n": len(secs),
            "under_92pct": len(under), "over_112pct": len(over),
            "median_ratio": round(statistics.median(s["ratio"] for s in secs), 3) if secs else None,
            "continuation_calls": sum(max(0, len(s["calls"]) - 1) for s in secs),
            "call_finishes": finishes,
        },
    }


def merge_prefix_runs(data: dict, out: Path, prompts: list[dict]) -> list[str]:
    """Add the long jobs of ``prefix_reuse.py`` (prompts of this set) as rows of ``data``."""
    known = {p["id"]: p for p in prompts}
    have = {r["id"] for r in data["prompts"]}
    merged = []
    for path in sorted(out.glob("prefix_reuse_*.json")):
        if not path.stem.split("_")[-1].isdigit():
            continue
        run = json.loads(path.read_text(encoding="utf-8"))
        pid = run.get("prompt_id")
        if pid not in known or pid in have:
            continue
        p = known[pid]
        secs = [{"index": s["index"], "target": s["target"], "words": s["words"],
                 "ratio": round(s["words"] / s["target"], 3) if s["target"] else None,
                 "calls": s["calls"], "generated_tokens": s["generated_tokens"]}
                for s in run["sections"]]
        data["prompts"].append({
            "id": pid, "type": p["type"], "lang": p["lang"], "bucket": bucket_of(p["length"]),
            "required": p["length"], "words": run["words"], "ratio": round(run["words"] / p["length"], 3),
            "s_l": run["s_l"], "repeat_share": run["repeat_share"], "plan": run.get("plan", ""),
            "n_sections": len(secs), "generated_tokens": run["generated_tokens"],
            "prompt_tokens_evaluated": run["ours_prompt_tokens_evaluated"],
            "tokens_per_s": run["tokens_per_s"], "seconds": run["seconds"], "sections": secs,
            "source": path.name})
        have.add(pid)
        merged.append(pid)
    if merged:
        data.update(aggregate(data["prompts"]))
        data["merged_from_prefix_reuse"] = sorted(set(data.get("merged_from_prefix_reuse", []) + merged))
        data["mode"] = data["mode"].split(" + ")[0] + " + " + ", ".join(
            data["merged_from_prefix_reuse"]) + " from prefix_reuse.py"
        data["skipped"] = [i for i in data.get("skipped", []) if i not in merged]
    return merged


def plot(data: dict, out: Path) -> Path:
    plt = C.plt()
    names = [b[2] for b in BUCKETS if b[2] in data["buckets"]]
    vals = [data["buckets"][n]["s_l"] for n in names]
    counts = [data["buckets"][n]["n"] for n in names]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    bars = ax.bar(names, vals, color="#4a7ab5")
    for b, v, n in zip(bars, vals, counts):
        ax.text(b.get_x() + b.get_width() / 2, v + 1, f"{v:.1f}\n(n={n})", ha="center", va="bottom",
                fontsize=8)
    ax.axhline(95, color="#c44", ls="--", lw=1, label="goal 95")
    ax.axhline(data["s_l"], color="#555", ls=":", lw=1, label=f"overall {data['s_l']:.1f}")
    ax.set_ylim(0, 115)
    ax.set_ylabel("S_l (LongBench-Write length score)")
    ax.set_xlabel("required length (words)")
    ax.set_title("Length fidelity per bucket (demo model)", fontsize=11)
    fig.text(0.5, 0.005, f"set: {data['mode']}", ha="center", va="bottom", fontsize=7, color="#555")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path = out / "length_buckets.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _f(x) -> str:
    return "–" if x is None else f"{x:.2f}"


def report(data: dict) -> str:
    m = data["machine"]
    lines = [
        "# Length fidelity (LongBench-Write S_l)", "",
        f"Machine: {C.machine_line(m)}. Model: {data['model']}. Set: {data['mode']} "
        f"({len(data['prompts'])} prompts{'' if data.get('complete', True) else ', run not finished'}), "
        f"seed {data['seed']}, {data.get('threads')} thread(s)."
        + (f" Not run (time budget): {', '.join(data['skipped'])}." if data.get("skipped") else ""), "",
        f"**Overall S_l = {data['s_l']}** (goal ≥ 95); repeated 4-gram share "
        f"{data['repeat_share']:.3f}.", "",
        "| bucket | prompts | S_l | repeated 4-grams |", "|---|---|---|---|",
    ]
    h = data.get("health")
    if h:
        lines[6:6] = [f"Health (issue 14): {h['sections']} sections, max junk share {_f(h['max_junk'])}, "
                      f"{h['sections_over_3pct_junk']} over 0.03; lowest share in the request's language "
                      f"{_f(h['min_language_share'])}; recovery fired in {h['sections_recovered']} sections "
                      f"({h['recoveries']} times), {h['needs_attention']} left needing attention; "
                      f"{h['plan_copies_example']} plan answers copied the prompt's example.", ""]
    for name, b in data["buckets"].items():
        lines.append(f"| {name} | {b['n']} | {b['s_l']} | {b['repeat_share']:.3f} |")
    lines += ["", "| id | lang | type | required | written | S_l | repeats | max junk | lang share (min section) "
              "| recovered (needs attention) | plan copies example | tokens/word | sections | plan | tok/s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["prompts"]:
        health = (f"{r['max_section_junk']:.3f} | {_f(r['language_share'])} ({_f(r['min_section_language_share'])}) "
                  f"| {r['sections_recovered']} ({r['needs_attention']}) | {r['plan_copies_example']} "
                  f"| {r['tokens_per_doc_word']} |" if "max_section_junk" in r else "– | – | – | – | – |")
        lines.append(f"| {r['id']}{'*' if r.get('source') else ''} | {r['lang']} | {r['type']} | "
                     f"{r['required']} | {r['words']} | "
                     f"{r['s_l']} | {r['repeat_share']:.3f} | {health} {r['n_sections']} | {r['plan']} | "
                     f"{r['tokens_per_s']} |")
    if data.get("merged_from_prefix_reuse"):
        lines += ["", "\\* written by `bench/prefix_reuse.py` (the CLI on the same engine and model), "
                  "merged with `--plot-only --merge-prefix-runs`."]
    s = data["sections"]
    lines += ["", f"Sections: {s['n']}, median words/target {s['median_ratio']}, "
              f"{s['under_92pct']} under 92 % of target, {s['over_112pct']} over 112 %; "
              f"{s['continuation_calls']} continuation calls; generate calls ended by: "
              + ", ".join(f"{k} {v}" for k, v in sorted(s["call_finishes"].items())) + ".", "",
              "![S_l per bucket](length_buckets.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the prompts marked quick")
    ap.add_argument("--ids", nargs="+", help="run only these prompt ids")
    ap.add_argument("--prompts", default=str(C.PROMPTS / "length.jsonl"))
    ap.add_argument("--max-length", type=int, help="skip prompts longer than this (time budget)")
    ap.add_argument("--append", action="store_true",
                    help="add the chosen prompts to the existing length.json instead of replacing it")
    ap.add_argument("--seed", type=int, default=1)
    C.add_model_arg(ap)
    C.add_threads_arg(ap)
    ap.add_argument("--out", help="results folder (default bench/results)")
    ap.add_argument("--plot-only", action="store_true", help="redraw the plot from length.json")
    ap.add_argument("--merge-prefix-runs", action="store_true",
                    help="with --plot-only: add the jobs of prefix_reuse.py (prompts of this set, "
                         "e.g. en11 2,000 and en12 10,000 words) to length.json as rows")
    args = ap.parse_args(argv)
    out = C.out_dir(args.out)
    if args.plot_only:
        data = json.loads((out / "length.json").read_text(encoding="utf-8"))
        if args.merge_prefix_runs:
            merged = merge_prefix_runs(data, out, load_prompts(Path(args.prompts)))
            C.write_json(out / "length.json", data)
            C.write_text(out / "length.md", report(data))
            print(f"merged: {', '.join(merged) or 'nothing new'}; S_l {data['s_l']}")
        print(plot(data, out))
        return 0
    all_prompts = load_prompts(Path(args.prompts))
    prompts = select(all_prompts, args.quick, args.ids, args.max_length)
    mode = "ids" if args.ids else ("quick" if args.quick else "full")
    if args.max_length and mode == "full":
        mode = f"full up to {args.max_length} words"
    skipped = [p["id"] for p in all_prompts if p not in prompts] if mode.startswith("full") else []
    machine = C.machine()
    backend = C.open_backend(args.model, n_ctx=4096, n_threads=args.threads)
    rows, texts = [], []
    if args.append and (out / "length.json").exists():
        # add prompts to an earlier run (a long set can be measured in several sittings)
        old = json.loads((out / "length.json").read_text(encoding="utf-8"))
        rows = old["prompts"]
        texts = [json.loads(ln) for ln in (out / "length_texts.jsonl").read_text(encoding="utf-8").splitlines()
                 if ln.strip()]
        done = {r["id"] for r in rows}
        prompts = [p for p in prompts if p["id"] not in done]
        mode = old["mode"] + " + " + ", ".join(p["id"] for p in prompts)
        skipped = [p["id"] for p in all_prompts if p["id"] not in done | {q["id"] for q in prompts}]
        machine = {**old["machine"], "appended_runs": old["machine"].get("appended_runs", []) + [machine]}
    t0 = time.perf_counter()
    model, threads = backend.info.model, backend._n_threads
    recovered: list[dict] = []

    def save(complete: bool) -> dict:
        # written after every prompt, so that a long run stopped early keeps what it measured
        data = {"benchmark": "length", "mode": mode, "complete": complete, "machine": machine,
                "model": model, "seed": args.seed, "threads": threads, "skipped": skipped,
                "seconds": round(time.perf_counter() - t0, 1)}
        data.update(aggregate(rows))
        merged = sorted(r["id"] for r in rows if r.get("source"))
        if merged:
            data["merged_from_prefix_reuse"] = merged
        data["prompts"] = rows
        samples = [x for r in rows for x in r.pop("recovery_samples", [])] + recovered
        recovered[:] = samples
        if samples:   # what the health check cut, to calibrate it (tests/unit/test_health_calibration.py)
            C.write_text(out / "recoveries.jsonl",
                         "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in samples))
        C.write_json(out / "length.json", data)
        C.write_text(out / "length_texts.jsonl",
                     "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts))
        plot(data, out)
        C.write_text(out / "length.md", report(data))
        return data

    try:
        for p in prompts:
            row, text = score_prompt(p, backend, args.seed, out)
            rows.append(row)
            texts.append({"id": p["id"], "text": text})
            print(f"{row['id']}: {row['words']}/{row['required']} words, S_l {row['s_l']}, "
                  f"repeats {row['repeat_share']:.3f}, {row['n_sections']} sections ({row['plan']}), "
                  f"{row['tokens_per_s']} tok/s, {row['seconds']} s", flush=True)
            save(complete=False)
    finally:
        backend.close()
    data = save(complete=True)
    print(f"S_l {data['s_l']} overall; " + ", ".join(f"{k} {v['s_l']}" for k, v in data["buckets"].items())
          + f"; repeat share {data['repeat_share']:.3f}; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
