"""Bench: a novel-length text in a bounded context. Do time and memory per section stay flat?

Plans and writes a 20,000-word text with the demo model at a context of 4,096 tokens (the
text is ~7x the context), so earlier sections must leave the prompt as model-written
summaries (core.memory) while the most recent text stays verbatim. For every section it
records the wall time (including any summaries written before it), the peak resident memory
while it was written, the largest prompt (must stay inside the context: no overflow), and
the prompt tokens evaluated vs generated (prefix-cache reuse within the window).

    python bench/novel_memory.py [--words 20000] [--ctx 4096] [--threads N] [--quick] [--out DIR]

Writes OUT/novel_memory.json (rewritten after every section, so a long run that is stopped
still leaves its series), OUT/novel_memory.md and OUT/novel_memory.png.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from _common import (  # noqa: E402
    PeakRSS,
    add_threads_arg,
    machine,
    machine_line,
    open_demo_backend,
    out_dir,
    plt,
    write_json,
    write_text,
)

INSTRUCTION = ("Write a {words}-word novel about Mara, the last keeper of the lighthouse on Gull Rock, "
               "who finds a message in a bottle from a girl stranded on a far island and sets out "
               "across the winter sea to find her.")
BIBLE = """\
Characters: Mara Lind, 52, lighthouse keeper on Gull Rock, stubborn, kind, keeps a logbook. \
Elin, 12, writes the letter; stranded on the island of Skarv with her injured father Jon. \
Petter, 70, fisherman in the village of Hamn, owns the motorboat "Tern".
Setting: a cold northern coast in winter, 1950s; no radio on Gull Rock; storms every week.
Style: third person, past tense, plain and concrete; no magic.
Must happen: Mara reaches Skarv; Jon survives; the lighthouse is left dark for one night."""

MB = 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=20000)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="2,400 words at a context of 2,048 (smoke run)")
    ap.add_argument("--out", help="results directory (default bench/results)")
    ap.add_argument("--report-only", action="store_true",
                    help="only redo the .md and .png from the .json (e.g. of a run that was stopped)")
    add_threads_arg(ap)
    args = ap.parse_args(argv)
    if args.quick:
        args.words, args.ctx = 2400, 2048
    out = out_dir(args.out)
    name = "novel_memory" if not args.quick else "novel_memory_quick"
    if args.report_only:
        import json
        res = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        write_text(out / f"{name}.md", report(res))
        plot(res, out / f"{name}.png")
        return 0

    from longhand.core.backends.base import Backend
    from longhand.core.engine.events import PlanReady, SectionDone, SectionStarted
    from longhand.core.engine.writer import AgentWriter
    from longhand.core.projects.project import Project

    m = machine()
    t_load = time.perf_counter()
    backend = open_demo_backend(n_ctx=args.ctx, n_threads=args.threads)
    load_seconds = time.perf_counter() - t_load
    # Keep the context at --ctx: the backend would otherwise grow it to fit the whole book,
    # and the point here is to write far past it.
    backend.ensure_context = lambda n_tokens: Backend.ensure_context(backend, n_tokens)
    writer = AgentWriter(backend, seed=args.seed)
    instruction = INSTRUCTION.format(words=f"{args.words:,}")
    job = Project(instruction=instruction, target_words=args.words, bible=BIBLE)

    calls: list[dict] = []
    state = {"kind": "plan", "section": None}
    orig_generate = backend.generate

    def generate(*a, **k):
        g = orig_generate(*a, **k)
        calls.append({"section": state["section"], "kind": state["kind"],
                      "prompt_tokens": g.prompt_tokens, "evaluated": g.prompt_tokens_evaluated,
                      "generated": g.generated_tokens, "seconds": round(g.seconds, 3),
                      "finish": g.finish})
        return g

    backend.generate = generate
    memory = writer.memory
    summary_seconds: dict[int, float] = {}

    def summarize(sections, indexes):
        state["kind"] = "summary"
        t = time.perf_counter()
        try:
            return memory.ensure(sections, indexes)
        finally:
            summary_seconds[state["section"]] = summary_seconds.get(state["section"], 0.0) + \
                time.perf_counter() - t
            state["kind"] = "write"

    writer.memory = summarize
    writer.memory.max_tokens = memory.max_tokens          # the engine budgets with it

    t0 = time.perf_counter()
    plan_info = {}

    def on_plan(e):
        if isinstance(e, PlanReady):
            plan_info["how"] = e.how

    job.sections = writer.plan(instruction, args.words, on_event=on_plan)
    plan_seconds = time.perf_counter() - t0
    print(f"plan: {len(job.sections)} sections ({plan_info.get('how')}) in {plan_seconds:.1f} s",
          file=sys.stderr, flush=True)

    rows: list[dict] = []
    sampler: dict = {}

    def result(done: bool) -> dict:
        write_calls = [c for c in calls if c["kind"] == "write"]
        gen = sum(c["generated"] for c in write_calls)
        ev = sum(c["evaluated"] for c in write_calls)
        return {
            "machine": m,
            "config": {"words": args.words, "n_ctx": backend.info.n_ctx, "threads": args.threads,
                       "seed": args.seed, "model": backend.info.model,
                       "summary_words": memory.words, "instruction": instruction, "bible": BIBLE},
            "finished": done,
            "load_seconds": round(load_seconds, 2),
            "plan": {"sections": len(job.sections), "how": plan_info.get("how"),
                     "seconds": round(plan_seconds, 2)},
            "sections": rows,
            "totals": {
                "words": job.words, "seconds": round(time.perf_counter() - t0, 1),
                "write_generated_tokens": gen, "write_prompt_tokens": sum(c["prompt_tokens"] for c in write_calls),
                "write_prompt_tokens_evaluated": ev,
                "summary_calls": sum(c["kind"] == "summary" for c in calls),
                "summary_generated_tokens": sum(c["generated"] for c in calls if c["kind"] == "summary"),
                "summary_prompt_tokens_evaluated": sum(c["evaluated"] for c in calls if c["kind"] == "summary"),
                "max_prompt_tokens": max((c["prompt_tokens"] for c in calls), default=0),
                "n_ctx": backend.info.n_ctx,
            },
            "calls": calls,
        }

    def on_event(e):
        if isinstance(e, SectionStarted):
            state["section"] = e.index
            state["kind"] = "write"
            sampler["rss"] = PeakRSS(0.05).__enter__()
            sampler["t"] = time.perf_counter()
            sampler["calls"] = len(calls)
        elif isinstance(e, SectionDone):
            rss = sampler["rss"]
            rss.__exit__(None, None, None)
            mine = calls[sampler["calls"]:]
            writes = [c for c in mine if c["kind"] == "write"]
            rows.append({
                "index": e.index, "target_words": e.target_words, "words": e.words,
                "seconds": round(time.perf_counter() - sampler["t"], 2),
                "summary_seconds": round(summary_seconds.get(e.index, 0.0), 2),
                "summaries_written": sum(c["kind"] == "summary" for c in mine),
                "peak_rss_mb": round(rss.peak / MB, 1),
                "generated_tokens": sum(c["generated"] for c in writes),
                "prompt_tokens_max": max((c["prompt_tokens"] for c in mine), default=0),
                "prompt_tokens_evaluated": sum(c["evaluated"] for c in writes),
                "calls": len(writes),
                "window_start": writer._window_start, "summary_start": writer._summary_start,
                "total_words": job.words,
            })
            r = rows[-1]
            print(f"section {e.index + 1}/{len(job.sections)}: {e.words}/{e.target_words} words, "
                  f"{r['seconds']:.1f} s ({r['summary_seconds']:.1f} s summaries), peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB, prompt max {r['prompt_tokens_max']}, evaluated "
                  f"{r['prompt_tokens_evaluated']}, generated {r['generated_tokens']}, window "
                  f"{r['summary_start']}..{r['window_start']}..{e.index}, total {job.words}",
                  file=sys.stderr, flush=True)
            write_json(out / f"{name}.json", result(False))

    writer.write(job, on_event=on_event)
    res = result(True)
    write_json(out / f"{name}.json", res)
    job.save(out / f"{name}.longhand")
    write_text(out / f"{name}.md", report(res))
    plot(res, out / f"{name}.png")
    backend.close()
    print(f"wrote {out / (name + '.json')}, .md, .png ({job.words} words)", file=sys.stderr)
    return 0


def report(res: dict) -> str:
    rows, t, c = res["sections"], res["totals"], res["config"]
    q = max(1, len(rows) // 4)
    per_word = [r["seconds"] / max(1, r["words"]) * 100 for r in rows]
    lines = [
        "# Novel-length memory: a long text in a bounded context",
        "",
        *([] if res.get("finished") else [
            f"**Partial run: stopped after {len(rows)} of {res['plan']['sections']} sections.**", ""]),
        f"Demo model ({c['model']}), context {c['n_ctx']} tokens, target {c['words']:,} words, "
        f"{len(rows)} sections; {machine_line(res['machine'])}.",
        "",
        f"- Written: **{t['words']:,} words** in {t['seconds'] / 60:.1f} min "
        f"(plan {res['plan']['seconds']:.0f} s, {res['plan']['how']}).",
        f"- Largest prompt: **{t['max_prompt_tokens']} tokens** of {t['n_ctx']} (no overflow).",
        f"- Write steps: {t['write_prompt_tokens']:,} prompt tokens, of which "
        f"{t['write_prompt_tokens_evaluated']:,} evaluated (the rest served from the prefix "
        f"cache), {t['write_generated_tokens']:,} tokens generated.",
        f"- Summaries: {t['summary_calls']} written ({t['summary_generated_tokens']:,} tokens generated, "
        f"{t['summary_prompt_tokens_evaluated']:,} prompt tokens evaluated).",
        f"- Time per 100 words, first quarter vs last quarter of the book: "
        f"{statistics.mean(per_word[:q]):.1f} s vs {statistics.mean(per_word[-q:]):.1f} s.",
        f"- Peak RSS, first vs last section: {rows[0]['peak_rss_mb']:.0f} MB vs "
        f"{rows[-1]['peak_rss_mb']:.0f} MB (max {max(r['peak_rss_mb'] for r in rows):.0f} MB).",
        "",
        "| # | words | target | s | s summaries | peak RSS MB | prompt max | evaluated | generated | window |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['index'] + 1} | {r['words']} | {r['target_words']} | {r['seconds']:.1f} | "
                     f"{r['summary_seconds']:.1f} | {r['peak_rss_mb']:.0f} | {r['prompt_tokens_max']} | "
                     f"{r['prompt_tokens_evaluated']} | {r['generated_tokens']} | "
                     f"{_span(r['summary_start'], r['window_start'])} |")
    lines += ["", "`window`: the sections carried as summaries when the section was written (earlier "
              "ones are dropped, later ones carried verbatim). Times are wall-clock on a shared "
              "machine: see the load average above.", ""]
    return "\n".join(lines)


def _span(first: int, end: int) -> str:
    return f"{first + 1}–{end}" if end > first + 1 else (f"{end}" if end > first else "none")


def plot(res: dict, path: Path) -> None:
    pyplot = plt()
    rows = res["sections"]
    x = [r["index"] + 1 for r in rows]
    fig, (a, b) = pyplot.subplots(2, 1, figsize=(9, 6), sharex=True)
    a.bar(x, [r["seconds"] - r["summary_seconds"] for r in rows], label="writing")
    a.bar(x, [r["summary_seconds"] for r in rows],
          bottom=[r["seconds"] - r["summary_seconds"] for r in rows], label="summaries")
    a.set_ylabel("seconds per section")
    a.legend(loc="upper left")
    a2 = a.twinx()
    a2.plot(x, [r["prompt_tokens_max"] for r in rows], color="black", lw=1, label="largest prompt")
    a2.axhline(res["totals"]["n_ctx"], color="red", ls="--", lw=1, label="context")
    a2.set_ylabel("tokens")
    a2.set_ylim(0, res["totals"]["n_ctx"] * 1.15)
    a2.legend(loc="upper right")
    b.plot(x, [r["peak_rss_mb"] for r in rows], marker="o", ms=3)
    b.set_ylabel("peak RSS (MB)")
    b.set_xlabel("section")
    b.set_ylim(0, max(r["peak_rss_mb"] for r in rows) * 1.2)
    fig.suptitle(f"{res['totals']['words']:,} words at a {res['totals']['n_ctx']}-token context (demo model)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
