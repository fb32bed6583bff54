"""Bench: a job over ``python -m llama_cpp.server`` (an OpenAI-compatible server, no DRY sampler).

    python bench/remote.py --model instruct [--words 500] [--seed 1] [--threads 2]

Starts llama-cpp-python's server on 127.0.0.1 with the model, plans and writes one request
through Longhand's OpenAI backend (the prompt format it picks from what the server tells),
and reports the length score S_l, the chatter share, each section's words against its target
and what the health check cut. llama-cpp-python's server has no DRY sampler, the loop guard
the in-process backend relies on. Writes ``remote_<model>.json`` and the text
``remote_<model>.md`` to the results folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

INSTRUCTIONS = {
    "en": "Write a {words}-word short story about a night ferry crossing in fog, told by the ferry's cook.",
    "zh": "写一篇{words}字的短篇小说，讲述一位老邮递员在大雪天最后一次送信的故事。",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=int, default=500)
    ap.add_argument("--lang", choices=sorted(INSTRUCTIONS), default="en")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="results folder (default bench/results)")
    C.add_model_arg(ap)
    C.add_threads_arg(ap)
    args = ap.parse_args(argv)

    from longhand.core.backends.remote import OpenAIBackend
    from longhand.core.text.chatter import chatter_share
    from longhand.core.text.wordcount import count_words, length_score

    model = C.demo_model() if args.model == "demo" else C.instruct_model() if args.model == "instruct" \
        else Path(args.model)
    name = args.model if args.model in ("demo", "instruct") else model.stem
    out = C.out_dir(args.out)
    proc, url = C.start_server(model, out / f"remote_{name}_server.log", threads=args.threads or 2, nice=False)
    try:
        backend = OpenAIBackend(url, n_ctx=8192)
        instruction = INSTRUCTIONS[args.lang].format(words=args.words)
        run = C.run_job(backend, instruction, args.words, seed=args.seed)
        text = run.text
        words = count_words(text)
        result = {
            "machine": C.machine(), "git": C.git_state(), "model": name, "server": "llama_cpp.server",
            "format": backend.info.format_name, "prompt_style": backend.info.prompt_style,
            "instruction": instruction, "target": args.words, "words": words,
            "s_l": round(length_score(args.words, words), 1),
            "chatter_share": round(chatter_share(text), 4),
            "sections": [{"target": r.target, "words": r.words, "recoveries": r.recoveries,
                          "needs_attention": r.needs_attention, "calls": len(r.calls)} for r in run.sections],
            "recoveries": [{k: v for k, v in r.items() if k != "kept_tail"} for r in run.recoveries],
            "seconds": round(run.seconds, 1),
        }
        suffix = f"{name}_{args.lang}"
        C.write_json(out / f"remote_{suffix}.json", result)
        C.write_text(out / f"remote_{suffix}.md", f"# {instruction}\n\n{text}\n")
        print(f"{name} over llama_cpp.server ({result['format']}): {words}/{args.words} words, "
              f"S_l {result['s_l']}, chatter {result['chatter_share']}, "
              f"{sum(r.recoveries for r in run.sections)} recoveries, {result['seconds']} s")
    finally:
        C.stop_process(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
