"""Bench: generation speed of the engine's backend vs plain llama-cpp-python streaming.

Same model file, same prompt, same sampling settings (temperature, top-k, top-p, min-p,
repeat penalty over the same window; DRY off, since ``create_completion`` has none), same
number of threads and the same number of generated tokens, in one process, runs
interleaved so that the load of a shared machine hits both alike:

* ``ours``: :meth:`LlamaCppBackend.generate`, end-of-text kept away by the engine's own
  steering (the C logit-bias stage), so it always produces ``--tokens`` tokens;
* ``raw``: ``Llama.create_completion(stream=True)`` with no logits processor (the fastest
  plain path); the prompt is a story opening, so it rarely ends early, and its rate is
  taken over the tokens it did produce;
* ``raw_logit_bias``: the same with ``logit_bias`` banning end-of-text, which forces the
  count but runs llama-cpp-python's numpy logits processor on every token;
* ``gui``: the GUI's worker (``longhand.ui.runner.EngineRunner``, a QThreadPool job)
  streaming the same generation, pieces timed when the GUI thread receives them.

Rates are decode rates, (n - 1) / (time of last token - time of first token), so prompt
evaluation (cached after the first round on both sides) does not blur them; end-to-end
rates are recorded too. ``ratio`` = ours / raw (goal ≥ 0.97).

    python bench/throughput.py [--quick] [--tokens N] [--rounds R] [--threads T]

Writes ``throughput.json``, ``throughput.md`` and ``throughput.png``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

PROMPT = ("The storm had kept the fishing boats in the harbour for three days, and on the "
          "fourth morning Mara climbed the hill above the village to look at the sea. What she "
          "saw there changed the rest of her life. ")


def sampling(seed: int):
    from longhand.core.backends.base import Sampling
    return Sampling(temperature=0.7, top_p=0.9, top_k=50, min_p=0.05, repeat_penalty=1.1,
                    repeat_last_n=64, dry_multiplier=0.0, seed=seed)


def run_ours(backend, n: int, seed: int) -> dict:
    from longhand.core.backends.base import Prompt, Steer
    times: list[float] = []

    def on_piece(piece: str):
        times.append(time.perf_counter())
        return Steer(allow_end=False)

    t0 = time.perf_counter()
    g = backend.generate(Prompt(user=[PROMPT]), max_tokens=n, sampling=sampling(seed), on_piece=on_piece)
    t1 = time.perf_counter()
    return _rates(g.generated_tokens, t0, t1, times)


def run_raw(llm, n: int, seed: int, ban: list[int] | None) -> dict:
    s = sampling(seed)
    kwargs = dict(max_tokens=n, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                  min_p=s.min_p, repeat_penalty=s.repeat_penalty, seed=seed, stream=True)
    if ban:
        kwargs["logit_bias"] = {tok: float("-inf") for tok in ban}
    times: list[float] = []
    t0 = time.perf_counter()
    finish = None
    for chunk in llm.create_completion(PROMPT, **kwargs):
        times.append(time.perf_counter())
        finish = chunk["choices"][0].get("finish_reason") or finish
    t1 = time.perf_counter()
    # tokens generated: the context grew by prompt + generated (the last token is not evaluated)
    prompt_len = len(llm.tokenize(PROMPT.encode(), add_bos=True))
    generated = llm.n_tokens - prompt_len + (1 if finish == "length" else 0)
    out = _rates(generated, t0, t1, times)
    out["finish"] = finish
    return out


def _rates(n: int, t0: float, t1: float, times: list[float]) -> dict:
    decode = (n - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    return {"tokens": n, "seconds": round(t1 - t0, 3), "decode_tokens_per_s": round(decode, 3),
            "end_to_end_tokens_per_s": round(n / (t1 - t0), 3) if t1 > t0 else 0.0,
            "first_token_seconds": round(times[0] - t0, 3) if times else None}


def run_engine_section(backend, words: int, seed: int) -> dict:
    """The engine itself writing one section (prompt building, steering, word counting)."""
    from longhand.core.engine.plan import Section
    from longhand.core.engine.writer import AgentWriter, Job
    writer = AgentWriter(backend, seed=seed)
    job = Job(instruction="Write a story about a storm over a fishing village.", target_words=words,
              sections=[Section(main_point="Mara watches the storm from the hill and sees a strange ship",
                                target_words=words)])
    from longhand.core.engine.events import JobStats
    stats = JobStats()
    writer.write_section(job, 0, stats=stats)
    return {"tokens": stats.generated_tokens, "seconds": round(stats.generation_seconds, 3),
            "tokens_per_s": round(stats.tokens_per_s, 3)}


class GuiWorker:
    """The GUI's worker (``longhand.ui.runner.EngineRunner``) streaming the same generation.

    Each piece is emitted as an engine event on the worker thread and timed when the GUI
    thread receives it, so the rate is the one the window sees.
    """

    def __init__(self, model_path: Path, threads: int) -> None:
        import os
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtCore import QCoreApplication

        from longhand.core.engine.settings import EngineSettings
        from longhand.core.projects.project import Project
        from longhand.ui.runner import EngineRunner
        self.app = QCoreApplication.instance() or QCoreApplication([])
        self.runner = EngineRunner()
        self.settings = EngineSettings(model_path=str(model_path), threads=threads, n_ctx=2048,
                                       gpu_layers="0")
        self.project = Project(instruction="bench", target_words=1000)
        self.times: list[float] = []
        self.done = None
        self.runner.event.connect(lambda e: self.times.append(time.perf_counter()))
        self.runner.finished.connect(self._finished)

    def _finished(self, out) -> None:
        self.done = out

    def run(self, n: int, seed: int) -> dict:
        from PySide6.QtCore import QEventLoop

        from longhand.core.backends.base import Prompt, Steer

        def work(jobs, emit, cancel):
            def on_piece(piece: str):
                emit(piece)
                return Steer(allow_end=False)
            return jobs.backend.generate(Prompt(user=[PROMPT]), max_tokens=n, sampling=sampling(seed),
                                           on_piece=on_piece, cancel=cancel)

        self.times, self.done = [], None
        loop = QEventLoop()          # wait like a window does: idle until events arrive
        self.runner.finished.connect(loop.quit)
        t0 = time.perf_counter()
        self.runner.start("bench", work, self.settings, self.project)
        if self.done is None:
            loop.exec()
        t1 = time.perf_counter()
        self.runner.finished.disconnect(loop.quit)
        if self.done.error:
            raise RuntimeError(self.done.error)
        return _rates(self.done.result.generated_tokens, t0, t1, self.times)

    def close(self) -> None:
        self.runner.close()


def plot(data: dict, out: Path) -> Path:
    plt = C.plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for key, label, color in (("ours", "Longhand backend", "#4a7ab5"),
                              ("raw", "llama-cpp-python stream", "#d08c2f"),
                              ("raw_logit_bias", "llama-cpp-python stream + logit_bias", "#999"),
                              ("gui", "GUI worker (EngineRunner)", "#5a5")):
        if key not in data["runs"]:
            continue
        ys = [r["decode_tokens_per_s"] for r in data["runs"][key]]
        ax.plot(range(1, len(ys) + 1), ys, "o-", label=label, color=color)
    ax.set_xlabel("round (interleaved)")
    ax.set_ylabel("decode tokens/s")
    ax.set_ylim(bottom=0)
    ax.set_title(f"Throughput, {data['tokens']} tokens/run, {data['threads']} thread(s): "
                 f"ratio {data['ratio']:.3f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "throughput.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report(data: dict) -> str:
    m = data["machine"]
    r = data
    lines = ["# Throughput: Longhand backend vs plain llama-cpp-python", "",
             f"Machine: {C.machine_line(m)}. Model: {r['model']}; {r['threads']} thread(s); "
             f"{r['tokens']} tokens per run, {r['rounds']} interleaved rounds.", "",
             "| path | median decode tok/s | median end-to-end tok/s |", "|---|---|---|",
             f"| Longhand `LlamaCppBackend.generate` | {r['ours_tokens_per_s']} | {r['ours_end_to_end']} |",
             f"| `create_completion(stream=True)` | {r['raw_tokens_per_s']} | {r['raw_end_to_end']} |",
             f"| same + `logit_bias` (EOS banned) | {r['raw_logit_bias_tokens_per_s']} | "
             f"{r['raw_logit_bias_end_to_end']} |", "",
             f"**ratio (ours / raw) = {r['ratio']}** (goal ≥ 0.97); ours / raw with logit_bias = "
             f"{r['ratio_vs_logit_bias']}.", ""]
    if r.get("engine"):
        lines.append(f"The engine writing one {r['engine_words']}-word section (prompt building, "
                     f"steering, word counting included): {r['engine']['tokens_per_s']} tok/s over "
                     f"{r['engine']['tokens']} tokens (not interleaved; a different, longer prompt).")
    if r.get("gui_tokens_per_s"):
        lines += ["", f"GUI worker (`EngineRunner`, pieces timed on the GUI thread): "
                  f"{r['gui_tokens_per_s']} tok/s, ratio to raw {r['gui_ratio']}."]
    else:
        lines += ["", f"GUI worker: not measured ({r.get('gui_error') or 'skipped'})."]
    lines += [
              "", "![throughput](throughput.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="64 tokens, 2 rounds")
    ap.add_argument("--tokens", type=int, help="tokens per run (default 256; quick 64)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 5; quick 2)")
    ap.add_argument("--engine-words", type=int, default=None,
                    help="also time the engine on one section of this many words (default 150; 0: skip)")
    ap.add_argument("--no-gui", action="store_true", help="skip the GUI worker")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="results folder (default bench/results)")
    C.add_threads_arg(ap)
    args = ap.parse_args(argv)
    n = args.tokens or (64 if args.quick else 256)
    rounds = args.rounds or (2 if args.quick else 5)
    engine_words = 150 if args.engine_words is None else args.engine_words
    out = C.out_dir(args.out)
    machine = C.machine()
    from llama_cpp import Llama
    backend = C.open_demo_backend(n_ctx=2048, n_threads=args.threads)
    threads = backend._n_threads
    raw = Llama(str(backend.path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512,
                n_gpu_layers=0, swa_full=True, last_n_tokens_size=64, verbose=False)
    ban = backend._end_token_ids()
    runs: dict[str, list[dict]] = {"ours": [], "raw": [], "raw_logit_bias": []}
    gui, gui_error = None, None
    if not args.no_gui:
        try:
            gui = GuiWorker(backend.path, threads)
            gui.run(4, args.seed)          # loads the model in the worker
            runs["gui"] = []
        except Exception as e:  # noqa: BLE001 - the GUI worker is optional here
            gui_error = f"{type(e).__name__}: {e}"
            gui = None
    try:
        # warm-up: load pages and fill both prompt caches
        run_ours(backend, 4, args.seed)
        run_raw(raw, 4, args.seed, None)
        for i in range(rounds):
            seed = args.seed + i
            order = ["ours", "raw", "raw_logit_bias"] + (["gui"] if gui else [])
            if i % 2:
                order.reverse()
            for key in order:
                if key == "ours":
                    r = run_ours(backend, n, seed)
                elif key == "gui":
                    r = gui.run(n, seed)
                else:
                    r = run_raw(raw, n, seed, ban if key == "raw_logit_bias" else None)
                runs[key].append(r)
                print(f"round {i + 1} {key}: {r['tokens']} tokens, {r['decode_tokens_per_s']} tok/s",
                      flush=True)
        engine = run_engine_section(backend, engine_words, args.seed) if engine_words else None
    finally:
        model = backend.info.model
        backend.close()
        raw.close()
        if gui is not None:
            gui.close()

    def med(key, field="decode_tokens_per_s"):
        return round(statistics.median(r[field] for r in runs[key]), 3)

    data = {"benchmark": "throughput", "machine": machine, "model": model, "threads": threads,
            "tokens": n, "rounds": rounds,
            "sampling": {k: v for k, v in sampling(args.seed).__dict__.items() if k != "seed"},
            "ours_tokens_per_s": med("ours"), "raw_tokens_per_s": med("raw"),
            "raw_logit_bias_tokens_per_s": med("raw_logit_bias"),
            "ours_end_to_end": med("ours", "end_to_end_tokens_per_s"),
            "raw_end_to_end": med("raw", "end_to_end_tokens_per_s"),
            "raw_logit_bias_end_to_end": med("raw_logit_bias", "end_to_end_tokens_per_s"),
            "engine_words": engine_words, "engine": engine,
            "gui_tokens_per_s": med("gui") if runs.get("gui") else None, "gui_error": gui_error,
            "runs": runs}
    data["gui_ratio"] = (round(data["gui_tokens_per_s"] / data["raw_tokens_per_s"], 3)
                         if data["gui_tokens_per_s"] and data["raw_tokens_per_s"] else None)
    data["ratio"] = round(data["ours_tokens_per_s"] / data["raw_tokens_per_s"], 3) if data["raw_tokens_per_s"] else None
    data["ratio_vs_logit_bias"] = (round(data["ours_tokens_per_s"] / data["raw_logit_bias_tokens_per_s"], 3)
                                   if data["raw_logit_bias_tokens_per_s"] else None)
    C.write_json(out / "throughput.json", data)
    plot(data, out)
    C.write_text(out / "throughput.md", report(data))
    print(f"ours {data['ours_tokens_per_s']} tok/s, raw {data['raw_tokens_per_s']} tok/s, ratio "
          f"{data['ratio']} (vs logit_bias raw {data['ratio_vs_logit_bias']}); results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
