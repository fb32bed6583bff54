"""Bench: prefix reuse, time to first token, peak memory, per-section length of one long job.

Runs ``longhand write "..." --json --out FILE`` (the CLI's entry point, in this process so
that every ``generate`` call can be observed) on a 10,000-word instruction (``--quick``:
2,000) with the demo model, and measures:

* **prompt tokens evaluated per document token**: ours (every prompt token llama.cpp really
  computed, plan included) vs a naive AgentWrite that re-sends the request, the whole plan,
  all text so far and the current step at every section with no cache (counted by
  tokenizing each of those prompts with the model's tokenizer; goal: ours ≤ 1.5);
* **time to first token** of every section (should stay flat as the text grows);
* **peak RSS** of the job vs the model file's size;
* words written vs target, per section.

The CLI's JSON is kept as ``cli_<N>.json`` (with the machine record and the command).

    python bench/prefix_reuse.py [--quick] [--words N] [--threads T]

Writes ``prefix_reuse.json`` (also ``prefix_reuse_<N>.json``), ``prefix_reuse.md`` and the
plots ``prefix_reuse_sections.png``, ``prefix_reuse_ttft.png``, ``prefix_reuse_tokens.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

DEFAULT_IDS = {2000: "en11", 10000: "en12"}


def instruction_for(words: int, prompt_id: str | None) -> tuple[str, str | None]:
    rows = [json.loads(ln) for ln in (C.PROMPTS / "length.jsonl").read_text(encoding="utf-8").splitlines()
            if ln.strip()]
    pid = prompt_id or DEFAULT_IDS.get(words)
    for r in rows:
        if r["id"] == pid:
            if r["length"] != words:
                raise SystemExit(f"prompt {pid} asks for {r['length']} words, not {words}")
            return r["prompt"], pid
    return f"Write a {words}-word story about a lighthouse keeper who finds a message in a bottle.", None


class Observer:
    """Records every generate call of the backend and which section it belonged to."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.section: int | None = None
        self.section_t0 = 0.0
        self.job = None
        self.plan_how = ""
        self.kind = "write"
        self.text_ttft: dict[int, float] = {}    # section -> seconds from its start to its first text token
        self._started: dict[int, float] = {}
        self.t0 = time.perf_counter()

    @contextlib.contextmanager
    def watching(self):
        from longhand.core.backends.llama import LlamaCppBackend
        from longhand.core.engine import writer as engine
        from longhand.core.engine.writer import AgentWriter
        orig_generate = LlamaCppBackend.generate
        orig_make_plan = engine.make_plan
        orig_section = AgentWriter.write_section
        orig_write = AgentWriter.write
        obs = self

        def generate(backend, prompt, **kw):
            t_call = time.perf_counter()
            g = orig_generate(backend, prompt, **kw)
            first_in_section = obs.section is not None and obs.kind == "write" and not any(
                c["section"] == obs.section and c["kind"] == "write" for c in obs.calls)
            obs.calls.append({
                "section": obs.section, "kind": "plan" if obs.section is None else obs.kind,
                "at": round(t_call - obs.t0, 3),
                "prompt_tokens": g.prompt_tokens, "prompt_tokens_evaluated": g.prompt_tokens_evaluated,
                "generated_tokens": g.generated_tokens, "finish": g.finish,
                "seconds": round(g.seconds, 3),
                "first_token_seconds": round(g.first_token_seconds, 4),
                # from the section's start (prompt building included) to its first token
                "section_ttft": round(t_call - obs.section_t0 + g.first_token_seconds, 4)
                if first_in_section else None,
            })
            return g

        def write_section(writer, job, index, **kw):
            obs.section, obs.section_t0 = index, time.perf_counter()
            try:
                return orig_section(writer, job, index, **kw)
            finally:
                obs.section = None

        def write(writer, job, **kw):
            obs.job = job
            sink = kw.get("on_event") or (lambda e: None)

            def on_event(e):
                if isinstance(e, engine.SectionStarted):
                    obs._started[e.index] = time.perf_counter()
                elif isinstance(e, engine.SectionToken) and e.index not in obs.text_ttft:
                    obs.text_ttft[e.index] = round(time.perf_counter() - obs._started[e.index], 4)
                sink(e)

            kw["on_event"] = on_event
            return orig_write(writer, job, **kw)

        summarizer = None
        try:
            from longhand.core.engine.memory import SectionSummarizer as summarizer
            orig_summarize = summarizer.summarize

            def summarize(self_, *a, **kw):
                obs.kind = "summary"
                try:
                    return orig_summarize(self_, *a, **kw)
                finally:
                    obs.kind = "write"
            summarizer.summarize = summarize
        except ImportError:       # an engine without model-written summaries
            pass

        def make_plan(*a, **kw):
            sections, how = orig_make_plan(*a, **kw)
            obs.plan_how = how
            return sections, how

        LlamaCppBackend.generate = generate
        AgentWriter.write_section = write_section
        AgentWriter.write = write
        engine.make_plan = make_plan
        try:
            yield self
        finally:
            if summarizer is not None:
                summarizer.summarize = orig_summarize
            engine.make_plan = orig_make_plan
            LlamaCppBackend.generate = orig_generate
            AgentWriter.write_section = orig_section
            AgentWriter.write = orig_write


def naive_prompt_tokens(tokenizer, instruction: str, target: int, sections) -> list[int]:
    """Tokens a cache-less AgentWrite sends: the plan prompt, then one full prompt per section."""
    from longhand.core.backends.formats import FORMATS
    from longhand.core.engine.plan import expected_sections
    from longhand.core.engine.prompts import plan_prompt, write_prompt
    fmt = FORMATS["longwriter-llama3"]        # the paper's layout: [INST] request [/INST]

    def n(prompt) -> int:
        return len(tokenizer(fmt.prefix + prompt.text() + fmt.suffix)) + 1   # + BOS

    counts = [n(plan_prompt(fmt, instruction, target, expected_sections(target)))]
    texts = [s.text for s in sections]
    for i in range(len(sections)):
        counts.append(n(write_prompt(fmt, instruction, sections, i, texts[:i])))
    return counts


def plots(data: dict, out: Path) -> list[Path]:
    plt = C.plt()
    paths = []
    secs = data["sections"]
    idx = [s["index"] + 1 for s in secs]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.bar(idx, [s["words"] for s in secs], color="#4a7ab5", label="words written")
    ax.plot(idx, [s["target"] for s in secs], "_", color="#c44", markersize=18, mew=2, label="target")
    ax.set_xlabel("section")
    ax.set_ylabel("words")
    ax.set_title(f"{data['words']:,} words written for a {data['target_words']:,}-word job "
                 f"(S_l {data['s_l']:.1f})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "prefix_reuse_sections.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7.5, 4))
    ax.plot(idx, [s["ttft"] for s in secs], "o-", color="#4a7ab5", label="time to first token")
    ax2 = ax.twinx()
    ax2.plot(idx, [s["prompt_tokens"] for s in secs], "s--", color="#999", ms=3,
             label="prompt length (tokens)")
    ax.set_xlabel("section")
    ax.set_ylabel("seconds")
    ax2.set_ylabel("prompt tokens")
    ax.set_ylim(bottom=0)
    ax2.set_ylim(bottom=0)
    ax.set_title("Time to first token per section as the text grows")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
    fig.tight_layout()
    paths.append(out / "prefix_reuse_ttft.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7.5, 4))
    ours = data["cumulative"]["ours"]
    naive = data["cumulative"]["naive"]
    ax.plot(range(len(ours)), ours, "o-", color="#4a7ab5", label="Longhand (evaluated)")
    ax.plot(range(len(naive)), naive, "s-", color="#d08c2f", label="naive AgentWrite (no cache)")
    ax.set_xlabel("step (0 = plan)")
    ax.set_ylabel("prompt tokens evaluated, cumulative")
    ax.set_title(f"Prompt tokens per document token: ours {data['ours_per_doc_token']:.2f}, "
                 f"naive {data['naive_per_doc_token']:.2f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "prefix_reuse_tokens.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def report(data: dict) -> str:
    m = data["machine"]
    mem = data["memory"]
    t = data["ttft"]
    lines = [
        f"# Prefix reuse, time to first token and memory ({data['target_words']:,}-word job)", "",
        f"Machine: {C.machine_line(m)}. Model: {data['model']} ({mem['model_file_mib']} MiB); "
        f"{data['threads']} thread(s). Command: `{data['command']}`.", "",
        f"* Words: {data['words']:,} of {data['target_words']:,} (S_l {data['s_l']}, repeated "
        f"4-grams {data['repeat_share']:.3f}), {len(data['sections'])} sections, plan "
        f"{data['plan']}.",
        f"* Prompt tokens evaluated per document token: **ours {data['ours_per_doc_token']}** "
        f"(goal ≤ 1.5) vs **naive {data['naive_per_doc_token']}** "
        f"({data['ours_prompt_tokens_evaluated']:,} vs {data['naive_prompt_tokens']:,} prompt tokens "
        f"for {data['document_tokens']:,} document tokens; {data['generated_tokens']:,} tokens "
        f"generated).",
        f"* Time to first token per section: median {t['median']} s, first {t['first']} s, last "
        f"{t['last']} s, max {t['max']} s; slope {t['slope_ms_per_1k_prompt_tokens']} ms per 1,000 "
        f"prompt tokens (prompt grew from {t['prompt_tokens_first']:,} to "
        f"{t['prompt_tokens_last']:,} tokens).",
        f"* Peak RSS {mem['peak_rss_mib']} MiB (kernel high-water mark {mem['max_rss_mib']} MiB), "
        f"{mem['peak_over_model']}× the model file; before loading the model {mem['rss_before_mib']} MiB.",
        f"* Generation {data['tokens_per_s']} tok/s; job {data['seconds']} s.", "",
        "![words per section](prefix_reuse_sections.png)", "",
        "![time to first token](prefix_reuse_ttft.png)", "",
        "![prompt tokens](prefix_reuse_tokens.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a 2,000-word job")
    ap.add_argument("--words", type=int, help="job length (default 10,000; quick 2,000)")
    ap.add_argument("--id", help="prompt id from bench/prompts/length.jsonl")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="results folder (default bench/results)")
    C.add_threads_arg(ap)
    args = ap.parse_args(argv)
    words = args.words or (2000 if args.quick else 10000)
    instruction, pid = instruction_for(words, args.id)
    out = C.out_dir(args.out)
    machine = C.machine()
    from longhand.cli import main as cli_main
    from longhand.core.text.wordcount import count_words, length_score, repeated_ngram_share
    model_path = C.demo_model()
    tmp = Path(tempfile.mkdtemp(prefix="longhand-bench-"))
    cli_args = ["write", instruction, "--json", "--out", str(tmp / "out.md"), "--seed", str(args.seed)]
    if args.threads:
        cli_args += ["--threads", str(args.threads)]
    rss_before = C.max_rss_bytes()
    stdout = io.StringIO()
    t0 = time.perf_counter()
    with Observer().watching() as obs, C.PeakRSS() as rss, contextlib.redirect_stdout(stdout):
        code = cli_main(cli_args)
    seconds = time.perf_counter() - t0
    kernel_peak = C.max_rss_bytes()
    if code != 0:
        sys.stdout.write(stdout.getvalue())
        raise SystemExit(f"longhand write failed with exit code {code}")
    cli = json.loads(stdout.getvalue())
    command = "longhand " + " ".join(a if a.replace("-", "").replace("/", "").replace(".", "").isalnum()
                                     else json.dumps(a, ensure_ascii=False) for a in cli_args)
    C.write_json(out / f"cli_{words}.json", {**cli, "command": command, "machine": machine,
                                              "ran": "longhand.cli.main in bench/prefix_reuse.py"})

    sections = obs.job.sections
    text = "\n\n".join(s.text for s in sections)
    from llama_cpp import Llama
    vocab = Llama(str(model_path), vocab_only=True, verbose=False)

    def tokenizer(s: str) -> list[int]:
        return vocab.tokenize(s.encode("utf-8"), add_bos=False, special=True)

    doc_tokens = len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))
    naive = naive_prompt_tokens(tokenizer, instruction, cli["target_words"], sections)
    ours_eval = sum(c["prompt_tokens_evaluated"] for c in obs.calls)
    plan_eval = sum(c["prompt_tokens_evaluated"] for c in obs.calls if c["section"] is None)
    ours_cum, acc = [plan_eval], plan_eval
    rows = []
    for i, s in enumerate(sections):
        calls = [c for c in obs.calls if c["section"] == i]
        acc += sum(c["prompt_tokens_evaluated"] for c in calls)
        ours_cum.append(acc)
        rows.append({"index": i, "target": s.target_words, "words": s.words,
                     "calls": [c["finish"] for c in calls],
                     "prompt_tokens": next((c["prompt_tokens"] for c in calls if c["kind"] == "write"), 0),
                     "prompt_tokens_evaluated": sum(c["prompt_tokens_evaluated"] for c in calls),
                     "generated_tokens": sum(c["generated_tokens"] for c in calls),
                     # what the user waits for: section start to its first streamed text token
                     "ttft": obs.text_ttft.get(i),
                     "summary_calls": sum(1 for c in calls if c["kind"] == "summary"),
                     "seconds": round(sum(c["seconds"] for c in calls), 2)})
    naive_cum, acc = [], 0
    for n in naive:
        acc += n
        naive_cum.append(acc)
    ttfts = [r["ttft"] for r in rows if r["ttft"] is not None]
    plens = [r["prompt_tokens"] for r in rows if r["ttft"] is not None]
    slope = 0.0
    if len(ttfts) >= 2 and len(set(plens)) > 1:
        mx, my = statistics.mean(plens), statistics.mean(ttfts)
        slope = sum((x - mx) * (y - my) for x, y in zip(plens, ttfts)) / sum((x - mx) ** 2 for x in plens)
    peak = max(rss.peak, kernel_peak)
    model_size = os.path.getsize(model_path)
    mib = 2 ** 20
    gen_tokens = sum(c["generated_tokens"] for c in obs.calls)
    gen_seconds = sum(c["seconds"] for c in obs.calls)
    data = {
        "benchmark": "prefix_reuse", "machine": machine, "model": cli["model"], "prompt_id": pid,
        "instruction": instruction, "command": command,
        "threads": args.threads or os.cpu_count(), "target_words": cli["target_words"],
        "words": count_words(text), "s_l": round(length_score(cli["target_words"], count_words(text)), 2),
        "repeat_share": round(repeated_ngram_share(text, 4), 4),
        "plan": obs.plan_how,
        "document_tokens": doc_tokens, "generated_tokens": gen_tokens,
        "ours_prompt_tokens_evaluated": ours_eval, "ours_plan_prompt_tokens_evaluated": plan_eval,
        "ours_prompt_tokens_sent": sum(c["prompt_tokens"] for c in obs.calls),
        "naive_prompt_tokens": sum(naive),
        "ours_per_doc_token": round(ours_eval / doc_tokens, 3) if doc_tokens else None,
        "naive_per_doc_token": round(sum(naive) / doc_tokens, 3) if doc_tokens else None,
        "ours_per_generated_token": round(ours_eval / gen_tokens, 3) if gen_tokens else None,
        "tokens_per_s": round(gen_tokens / gen_seconds, 2) if gen_seconds else None,
        "seconds": round(seconds, 1),
        "ttft": {"per_section": ttfts, "median": round(statistics.median(ttfts), 3) if ttfts else None,
                 "first": ttfts[0] if ttfts else None, "last": ttfts[-1] if ttfts else None,
                 "max": max(ttfts) if ttfts else None,
                 "slope_ms_per_1k_prompt_tokens": round(slope * 1e6, 2),
                 "prompt_tokens_first": plens[0] if plens else 0,
                 "prompt_tokens_last": plens[-1] if plens else 0},
        "memory": {"model_file_bytes": model_size, "model_file_mib": round(model_size / mib, 1),
                   "peak_rss_bytes": peak, "peak_rss_mib": round(peak / mib, 1),
                   "max_rss_mib": round(kernel_peak / mib, 1),
                   "rss_before_mib": round(rss_before / mib, 1),
                   "peak_over_model": round(peak / model_size, 2)},
        "cumulative": {"ours": ours_cum, "naive": naive_cum},
        "sections": rows, "calls": obs.calls,
    }
    C.write_json(out / f"prefix_reuse_{words}.json", data)
    C.write_json(out / "prefix_reuse.json", data)
    C.write_text(out / f"prefix_reuse_{words}_text.md", text + "\n")
    plots(data, out)
    C.write_text(out / "prefix_reuse.md", report(data))
    print(f"{data['words']}/{data['target_words']} words, S_l {data['s_l']}; prompt tokens per document "
          f"token: ours {data['ours_per_doc_token']}, naive {data['naive_per_doc_token']}; TTFT median "
          f"{data['ttft']['median']} s (first {data['ttft']['first']}, last {data['ttft']['last']}); "
          f"peak RSS {data['memory']['peak_rss_mib']} MiB vs model {data['memory']['model_file_mib']} MiB; "
          f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
