"""Bench: token by token, what the samplers did where the 10,000-word job began to run words together.

``bench/results/prefix_reuse_10000_text.md`` (en12 on the demo model, 27 Nov, seed 1)
collapsed at one line: after "This movie has lots of positive things on its way and
everything liked it", the model wrote "It had many positive things on
itswayandallthepeoplelikeit. ItwassuchaninterestingchangeinmylifethanIthoughtpossible!…".
This script feeds the document up to "It had many positive things on its" to the model and
then forces the rest of that collapsed text, token by token. At every forced token it reads
the model's next-token distribution (top 50 by logit, temperature 0.5) three ways:

* ``none``     the model alone;
* ``asrun``    after the collapsed run's samplers: repetition penalty 1.1 and DRY (0.8,
               1.75, allowed length 3), both over the last 256 tokens;
* ``dry2048``  after today's defaults (DRY over 2,048 tokens).

and reports, for the tokens that glue a word to the one before: the probability of the
token the run actually took, and the mass on candidates that begin with a space (the same
word, spaced, as the earlier text had it) — for the onset (the first glued word,
"wayandallthepeoplelikeit") token by token, and on average for the glued tokens after it.

    python bench/collapse_tokens.py [--chars 400]

Writes ``bench/results/health/collapse/collapse_tokens.json``.
"""
from __future__ import annotations

import argparse
import ctypes
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

TEXT = Path(__file__).resolve().parent / "results" / "prefix_reuse_10000_text.md"
LEAD = "It had many positive things on its"
CONFIGS = {"none": None, "asrun": 256, "dry2048": 2048}   # DRY window (repetition penalty: 256)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chars", type=int, default=400, help="how much of the collapsed text to force")
    C.add_threads_arg(ap)
    ap.add_argument("--out", help="results folder (default bench/results/health/collapse)")
    args = ap.parse_args(argv)
    import llama_cpp as L

    full = TEXT.read_text(encoding="utf-8")
    at = full.index(LEAD + "wayandall") + len(LEAD)     # (the spaced line stands earlier too)
    doc, forced_text = full[:at], full[at:at + args.chars]
    backend = C.open_demo_backend(n_ctx=12288, n_threads=args.threads)
    llm = backend.llm
    s = backend.default_sampling
    prompt = llm.tokenize(doc.encode(), add_bos=True, special=False)
    forced = llm.tokenize(forced_text.encode(), add_bos=False, special=False)
    n_vocab = llm.n_vocab()

    def chain(window: int | None):
        ch = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
        L.llama_sampler_chain_add(ch, L.llama_sampler_init_top_k(s.top_k))
        if window is not None:
            L.llama_sampler_chain_add(ch, L.llama_sampler_init_penalties(
                n_vocab, s.repeat_last_n, s.repeat_penalty, 0.0, 0.0))
            breakers = [b"\n", b":", b"\"", b"*"]
            arr = (ctypes.c_char_p * len(breakers))(*breakers)
            L.llama_sampler_chain_add(ch, L.llama_sampler_init_dry(
                backend._vocab, s.dry_multiplier, s.dry_base, s.dry_allowed_length,
                window, arr, len(breakers)))
            for tok in prompt[-max(window, s.repeat_last_n):]:
                L.llama_sampler_accept(ch, tok)
        return ch

    chains = {name: chain(w) for name, w in CONFIGS.items()}
    data = (L.llama_token_data * n_vocab)()
    view = np.frombuffer(data, dtype=np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")]))
    ids = np.arange(n_vocab, dtype=np.int32)
    piece = {}

    def text_of(tok: int) -> str:
        if tok not in piece:
            piece[tok] = llm.detokenize([tok]).decode("utf-8", "replace")
        return piece[tok]

    rows = []
    backend._prefill(prompt, None)
    previous = doc
    try:
        for tok in forced:
            logits = np.ctypeslib.as_array(L.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))
            row: dict = {"token": text_of(tok)}
            for name, ch in chains.items():
                view["id"], view["logit"], view["p"] = ids, logits, 0.0
                arr = L.llama_token_data_array(data, n_vocab, -1, False)
                L.llama_sampler_apply(ch, ctypes.byref(arr))
                cand = [(data[i].id, data[i].logit) for i in range(arr.size)]
                top = max(lg for _, lg in cand)
                weights = [(t, math.exp((lg - top) / s.temperature)) for t, lg in cand if lg > -1e30]
                z = sum(w for _, w in weights)
                row[f"p_{name}"] = round(sum(w for t, w in weights if t == tok) / z, 4)
                row[f"space_{name}"] = round(sum(w for t, w in weights if text_of(t).startswith(" ")) / z, 4)
                L.llama_sampler_accept(ch, tok)
            # glued: the token starts with a letter right after a letter (a word joined to the last)
            t = text_of(tok)
            row["glued"] = bool(t[:1].isalpha() and previous[-1:].isalpha())
            rows.append(row)
            previous += t
            backend._eval([tok])
    finally:
        for ch in chains.values():
            L.llama_sampler_free(ch)
        backend.close()

    glued = [r for r in rows if r["glued"]]
    # the onset: the first glued word ("itswayandallthepeoplelikeit"), up to the first token
    # that is not glued; after it, the glued text is in the context and copies itself
    onset = []
    for r in rows:
        if not r["glued"]:
            break
        onset.append(r)
    later = glued[len(onset):]
    summary: dict = {}
    for name in CONFIGS:
        joint = math.prod(r[f"p_{name}"] for r in onset)
        summary[name] = {
            "onset_p": [r[f"p_{name}"] for r in onset],
            "onset_space_mass": [r[f"space_{name}"] for r in onset],
            "onset_joint_p": float(f"{joint:.3g}"),
            "later_p_taken": round(sum(r[f"p_{name}"] for r in later) / max(1, len(later)), 3),
            "later_space_mass": round(sum(r[f"space_{name}"] for r in later) / max(1, len(later)), 3)}
        v = summary[name]
        print(f"{name:8s}: onset {''.join(r['token'] for r in onset)!r}: p per token {v['onset_p']}, "
              f"joint {v['onset_joint_p']}, p(spaced) {v['onset_space_mass']}; the {len(later)} later "
              f"glued tokens: p {v['later_p_taken']}, p(spaced) {v['later_space_mass']}")
    out = C.out_dir(args.out or str(Path(__file__).resolve().parent / "results" / "health" / "collapse"))
    C.write_json(out / "collapse_tokens.json", {
        "benchmark": "collapse_tokens", "text": TEXT.name, "prompt_tokens": len(prompt),
        "forced_tokens": len(forced), "glued_tokens": len(glued), "summary": summary,
        "machine": C.machine(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
