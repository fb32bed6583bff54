"""Bench: time to the first new token after reopening, from scratch vs from the prompt cache.

A reopened book's first scene prompt (the book's head, the story so far, the chapter so far)
is several thousand tokens. A new llama.cpp backend evaluates it from scratch; with the
project's prompt cache (``LlamaCppBackend.save_cache``/``load_cache``) it evaluates only what
the cache lacks. This builds a prompt of about ``--tokens`` tokens from the novel benchmark's
manuscript (a story head, then its text as segments, as the engine lays out a scene prompt),
and on ``--model``:

1. a fresh backend evaluates it and writes ``--continue`` tokens (a scene cut off by a crash
   or a stop): the time to its first token is the reopen **without** a cache;
2. it saves its cache (seconds, bytes) and is closed;
3. a new backend (its model load timed apart, as for a reopened project) loads the cache and
   is given the prompt plus what was written: the reopen **with** the cache (its load
   counted in the time to the first token);
4. a third backend evaluates that prompt from scratch (the time to compare with).

Its first ``--check`` greedy tokens are compared with the first backend's, asked the same
before it was closed (from its own cache: they must be equal), and with the third's (from
scratch: a prompt evaluated in batches can differ from a cached one in the last bits of its
floats, and a base model's greedy choice with them; prefix reuse in one backend has that too).

    python bench/kv_reopen.py [--tokens 4000] [--model demo|instruct|PATH] [--threads N]

Writes ``kv_reopen.json`` (one entry per model, kept across runs) and ``kv_reopen.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

HEAD = ("Write a 100000-word fantasy novel about a cartographer who discovers that her maps change the "
        "land they depict.\n\n# The Silver Nib\n\n## The story so far\n\n")


def story_segments(backend, tokens: int) -> list[str]:
    """The novel benchmark's manuscript as paragraphs, about ``tokens`` tokens after HEAD."""
    from longhand.core.projects.project import Project
    novel = C.RESULTS / "novel.longhand"
    if novel.exists():
        paragraphs = [p for s in Project.load(novel).sections for p in s.text.split("\n\n") if p.strip()]
    else:   # a checkout without the novel's results: any prose will do
        paragraphs = ["Ilse Marren drew the river as it had been in her mother's time, and by morning the "
                      "water had moved a field's width to the west. The Guild sent a clerk to ask why."] * 400
    out, n = [], backend.count_tokens(HEAD)
    for p in paragraphs:
        if n >= tokens:
            break
        out.append(p + "\n\n")
        n += backend.count_tokens(p) + 1
    return out


def open_model(args):
    t0 = time.perf_counter()
    backend = C.open_backend(args.model, n_ctx=args.ctx, n_threads=args.threads)
    return backend, time.perf_counter() - t0


def first_token(backend, prompt, max_tokens: int, sampling):
    """(seconds to the first streamed piece, the generation)."""
    t0 = time.perf_counter()
    first: list[float] = []

    def on_piece(piece):
        if not first:
            first.append(time.perf_counter() - t0)
        return None

    g = backend.generate(prompt, max_tokens=max_tokens, sampling=sampling, on_piece=on_piece)
    return (first[0] if first else time.perf_counter() - t0), g


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tokens", type=int, default=4000, help="prompt length (default 4000)")
    ap.add_argument("--continue", dest="cont", type=int, default=32,
                    help="tokens written before the stop, passed back on reopening (default 32)")
    ap.add_argument("--check", type=int, default=8, help="greedy tokens compared (default 8)")
    ap.add_argument("--ctx", type=int, default=8192)
    ap.add_argument("--quick", action="store_true", help="a 1,000-token prompt")
    ap.add_argument("--out", help="results folder (default bench/results)")
    C.add_model_arg(ap)
    C.add_threads_arg(ap)
    args = ap.parse_args(argv)
    if args.quick:
        args.tokens = 1000
    from longhand.core.backends.base import Prompt, Sampling
    out = C.out_dir(args.out)
    machine = C.machine()
    greedy = Sampling(temperature=0.0)
    folder = Path(tempfile.mkdtemp(prefix="kv_reopen_"))
    cache = folder / "novel.kv"

    # 1. the reopen without a cache: a fresh backend, the prompt from scratch
    a, load_a = open_model(args)
    try:
        prompt = Prompt(user=[HEAD, *story_segments(a, args.tokens)])
        scratch_s, g = first_token(a, prompt, args.cont, greedy)
        print(f"from scratch: {g.prompt_tokens} prompt tokens, first token after {scratch_s:.2f} s", flush=True)
        # 2. the cache as a stopped job leaves it
        t0 = time.perf_counter()
        saved = a.save_cache(cache)
        save_s = time.perf_counter() - t0
        reopened = Prompt(user=prompt.user, answer=[g.text])
        _, g_own = first_token(a, reopened, args.check, greedy)      # from its own cache
    finally:
        a.close()
    if not saved:
        raise SystemExit("the cache was not saved (see the log)")
    size = cache.stat().st_size
    meta = json.loads((folder / "novel.kv.json").read_text())
    # 3. the reopen with the cache: a new backend, the prompt and what was written
    b, load_b = open_model(args)
    try:
        t0 = time.perf_counter()
        restored = b.load_cache(cache)
        load_cache_s = time.perf_counter() - t0
        ttft_s, g2 = first_token(b, reopened, args.check, greedy)
    finally:
        b.close()
    # the same greedy tokens as a backend without the cache (from scratch on the same prompt)
    c, _ = open_model(args)
    try:
        scratch2_s, g3 = first_token(c, reopened, args.check, greedy)
    finally:
        c.close()
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()

    entry = {
        "model": args.model, "threads": args.threads, "n_ctx": args.ctx, "machine": machine,
        "prompt_tokens": g.prompt_tokens, "written_before_stop": g.generated_tokens,
        "reopen_prompt_tokens": g2.prompt_tokens,
        "model_load_seconds": [round(load_a, 2), round(load_b, 2)],
        "scratch": {"time_to_first_token_s": round(scratch_s, 2), "prompt_tokens_evaluated": g.prompt_tokens_evaluated},
        "scratch_reopen_prompt": {"time_to_first_token_s": round(scratch2_s, 2),
                                  "prompt_tokens_evaluated": g3.prompt_tokens_evaluated},
        "cache": {"tokens": meta["tokens"], "bytes": size, "bytes_per_token": round(size / meta["tokens"]),
                  "save_s": round(save_s, 3), "load_s": round(load_cache_s, 3), "tokens_restored": restored},
        "with_cache": {"time_to_first_token_s": round(load_cache_s + ttft_s, 2),
                       "prompt_tokens_evaluated": g2.prompt_tokens_evaluated},
        "same_greedy_tokens_as_the_saving_backend": g2.text == g_own.text,
        "same_greedy_tokens_as_from_scratch": g2.text == g3.text,
        "date_utc_end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    results_path = out / "kv_reopen.json"
    try:
        data = json.loads(results_path.read_text())
    except (OSError, ValueError):
        data = {}
    data.setdefault("benchmark", "kv_reopen")
    data.setdefault("runs", {})[args.model] = entry
    C.write_json(results_path, data)
    C.write_text(out / "kv_reopen.md", report(data))
    print(f"with the cache: first token after {entry['with_cache']['time_to_first_token_s']} s "
          f"({g2.prompt_tokens_evaluated} tokens evaluated of {g2.prompt_tokens}); cache {size / 1e6:.1f} MB, "
          f"saved in {save_s:.2f} s, loaded in {load_cache_s:.2f} s; results in {out}")
    return 0


def report(data: dict) -> str:
    lines = ["# Reopening: time to the first new token, from scratch vs from the prompt cache", "",
             "Command: `python bench/kv_reopen.py [--model M] [--threads N]`. The prompt is the novel "
             "benchmark's manuscript laid out as a scene prompt; on reopening it is given back with the "
             "tokens written before the stop. The time with the cache includes loading it; the model's "
             "own load is apart (as for a reopened project).", "",
             "| model | prompt tokens | from scratch: first token s | with the cache: first token s | "
             "evaluated from scratch / with cache | cache MB | bytes per token | save s | load s | "
             "same greedy tokens as the saving backend / as from scratch |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in data["runs"].items():
        lines.append(
            f"| {name} | {r['reopen_prompt_tokens']} | {r['scratch_reopen_prompt']['time_to_first_token_s']} | "
            f"{r['with_cache']['time_to_first_token_s']} | {r['scratch_reopen_prompt']['prompt_tokens_evaluated']} / "
            f"{r['with_cache']['prompt_tokens_evaluated']} | {r['cache']['bytes'] / 1e6:.1f} | "
            f"{r['cache']['bytes_per_token']} | {r['cache']['save_s']} | {r['cache']['load_s']} | "
            f"{r['same_greedy_tokens_as_the_saving_backend']} / {r['same_greedy_tokens_as_from_scratch']} |")
    lines += [""] + [f"{name}: {C.machine_line(r['machine'])}, {r['threads'] or 'all'} thread(s)"
                     for name, r in data["runs"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
