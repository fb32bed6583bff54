"""Bench: the samplers turn a copy into words run together (issue 14's cause, third experiment).

``bench/results/prefix_reuse_10000_text.md`` is a 10,000-word job on the demo model (en12,
27 Nov, seed 1) that collapsed: clean but looping for ~5,600 words (repeated 4-gram share
0.50), then words run together ("Weallhavedifferentopinionsonwhathappened…"), and
``bench/runon_copies.py`` finds 88 % of those runs in the text before them with the spaces
removed. This script takes that document up to ``--chars`` (cut at a line end; by default the
line before the first run-on: "This movie has lots of positive things on its way and
everything liked it", which the run then copied as "It had many positive things on
itswayandallthepeoplelikeit") as a completion prompt and samples the next ``--tokens`` tokens under sampler
settings that differ in one factor, with the same seeds:

* ``asrun``    the collapsed run's samplers: repetition penalty 1.1 and DRY, both over 256 tokens;
* ``dry2048``  today's defaults: the same, DRY over 2,048 tokens;
* ``penalty``  repetition penalty only (no DRY);
* ``none``     neither.

Reported per run: words run together (19+ letters), glued words (a word the prompt never has,
that splits into two words it has and is not one token of the model's 262k-token vocabulary,
where common English words are single tokens: "ofour", "Whenwe", not "nothing"), fragments, the share of 4-grams copied
from the prompt, the share of run-ons that are de-spaced copies of the prompt, and tokens
per word.

    python bench/collapse_samplers.py [--chars 35120] [--tokens 600] [--seeds 1 2 3]
    python bench/collapse_samplers.py --rescore RESULT.json   # recount the stored texts

Writes ``bench/results/collapse_samplers.json`` (after every run).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
from runon_copies import found_despaced  # noqa: E402

TEXT = Path(__file__).resolve().parent / "results" / "prefix_reuse_10000_text.md"
CONFIGS = ("asrun", "dry2048", "penalty", "none")


def glued_words(text: str, vocab: set[str], one_token) -> list[str]:
    """Words of ``text`` that ``vocab`` lacks, that split into two words it has, and that the
    model's vocabulary does not hold as one word (``one_token(" " + w)``)."""
    return [w for w in re.findall(r"[a-z]+", text.lower())
            if len(w) >= 4 and w not in vocab
            and any(w[:i] in vocab and w[i:] in vocab for i in range(1, len(w)))
            and not one_token(" " + w)]


def prompt_vocab(doc: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", doc.lower()) if len(w) > 1 or w in "ai"}


def load_doc(chars: int) -> str:
    full = TEXT.read_text(encoding="utf-8")
    cut = full.rfind("\n", 0, chars)
    return full[:cut + 1]


def rescore(path: Path) -> int:
    data = json.loads(path.read_text(encoding="utf-8"))
    vocab = prompt_vocab(load_doc(data["chars_arg"]) if "chars_arg" in data else
                         TEXT.read_text(encoding="utf-8")[:data["chars"]])
    backend = C.open_demo_backend(n_ctx=512)
    try:
        for row in data["runs"]:
            row["glued"] = glued_words(row["text"], vocab, lambda w: backend.count_tokens(w) == 1)
            row["glued_words"] = len(row["glued"])
            print(f"seed {row['seed']} {row['config']:8s}: glued {row['glued']}, run-on "
                  f"{row['run_on_share']}, copied 4-grams {row['copied_4grams']}")
    finally:
        backend.close()
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


def sampling_for(cfg: str, base, seed: int):
    from longhand.core.backends.base import Sampling
    s = Sampling(**{**base.__dict__, "seed": seed})
    if cfg == "asrun":
        s.dry_last_n = s.repeat_last_n = 256
    elif cfg == "dry2048":
        pass
    elif cfg == "penalty":
        s.dry_multiplier = 0.0
    elif cfg == "none":
        s.dry_multiplier, s.repeat_penalty = 0.0, 1.0
    else:
        raise SystemExit(f"unknown config {cfg!r}")
    return s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chars", type=int, default=35120, help="prompt: the document up to here")
    ap.add_argument("--tokens", type=int, default=600)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS))
    C.add_threads_arg(ap)
    ap.add_argument("--out", help="results folder (default bench/results)")
    ap.add_argument("--rescore", type=Path, help="recount the texts of a stored result, run nothing")
    args = ap.parse_args(argv)
    if args.rescore:
        return rescore(args.rescore)
    from longhand.core.backends.base import Prompt, Steer
    from longhand.core.text.health import RUN_ON_LETTERS, junk_share, run_on_share
    from longhand.core.text.wordcount import count_words, grams, units

    doc = load_doc(args.chars)
    vocab = prompt_vocab(doc)
    seen = set(grams(units(doc)))
    despaced = "".join(re.findall(r"[a-z]+", doc.lower()))
    backend = C.open_demo_backend(n_ctx=12288, n_threads=args.threads)
    rows: list[dict] = []
    try:
        prompt_tokens = backend.count_tokens(doc)
        for seed in args.seeds:
            for cfg in args.configs:
                s = sampling_for(cfg, backend.default_sampling, seed)
                t0 = time.perf_counter()
                g = backend.generate(Prompt(user=[doc]), max_tokens=args.tokens, sampling=s,
                                     on_piece=lambda p: Steer(allow_end=False))
                gs = grams(units(g.text))
                glued = glued_words(g.text, vocab, lambda w: backend.count_tokens(w) == 1)
                runs = [w.lower() for w in re.findall(r"[A-Za-z]+", g.text) if len(w) >= RUN_ON_LETTERS]
                copied_runs = sum(found_despaced(w, despaced) for w in runs)
                words = count_words(g.text)
                row = {"config": cfg, "seed": seed, "tokens": g.generated_tokens, "words": words,
                       "tokens_per_word": round(g.generated_tokens / max(1, words), 2),
                       "run_on_share": round(run_on_share(g.text), 3), "run_ons": len(runs),
                       "run_ons_copied": copied_runs, "glued": glued, "glued_words": len(glued),
                       "junk": round(junk_share(g.text), 3),
                       "copied_4grams": round(sum(x in seen for x in gs) / max(1, len(gs)), 3),
                       "seconds": round(time.perf_counter() - t0, 1), "text": g.text}
                rows.append(row)
                print(f"seed {seed} {cfg:8s}: run-on {row['run_on_share']} ({copied_runs}/{len(runs)} "
                      f"copies), glued {row['glued_words']}, junk {row['junk']}, copied 4-grams {row['copied_4grams']}, "
                      f"{row['tokens_per_word']} tok/word | {g.text[-120:]!r}", flush=True)
                C.write_json(C.out_dir(args.out) / "collapse_samplers.json",
                             {"benchmark": "collapse_samplers", "text": str(TEXT.name),
                              "chars_arg": args.chars, "chars": len(doc), "prompt_tokens": prompt_tokens,
                              "tokens": args.tokens, "machine": C.machine(), "runs": rows})
    finally:
        backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
