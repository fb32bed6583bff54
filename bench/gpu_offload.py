"""Bench: the demo model through Longhand's llama.cpp backend on a Vulkan device vs the CPU.

Run it with a Python that has the Vulkan build of llama-cpp-python (packaging/VULKAN.md) and
a Vulkan device; on a machine with only Mesa's lavapipe (a software Vulkan driver) name it:

    GGML_VK_VISIBLE_DEVICES=0 /path/to/venv-vulkan/bin/python bench/gpu_offload.py

In one process it loads the demo model three times — "auto" GPU layers (all fit), "auto"
under a GPU memory budget that forces a partial offload (LONGHAND_VRAM_BUDGET), and 0 layers
(the CPU backend) — and generates the same greedy continuation with each, reporting the layers
llama.cpp says it offloaded (its own "offloaded N/M layers to GPU" log line), prompt and
generation speed, and whether the texts agree. Writes gpu_offload.json and gpu_offload.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

PROMPT = ("The lighthouse keeper climbed the stairs at dusk, as he had done every evening for "
          "thirty years. That night, on the rocks below, something glinted in the last light:")


class _Grab(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def run_one(model: Path, layers, n_tokens: int, budget: str | None) -> dict:
    from longhand.core.backends.base import Prompt, Sampling
    from longhand.core.backends.llama import LlamaCppBackend
    grab = _Grab()
    lg = logging.getLogger("longhand.core.backends.ggml")
    lg.addHandler(grab)
    lg.setLevel(logging.DEBUG)
    if budget:
        os.environ["LONGHAND_VRAM_BUDGET"] = budget
    else:
        os.environ.pop("LONGHAND_VRAM_BUDGET", None)
    try:
        t0 = time.perf_counter()
        b = LlamaCppBackend(model, n_ctx=2048, n_gpu_layers=layers, demo=True)
        load_s = time.perf_counter() - t0
        s = Sampling(temperature=0.0, repeat_penalty=1.0, dry_multiplier=0.0)
        g = b.generate(Prompt(user=[PROMPT], answer=[]), max_tokens=n_tokens, sampling=s)
        gen_s = g.seconds - (g.first_token_seconds or 0)
        out = {
            "requested_layers": layers, "vram_budget": budget, "device": b.info.device,
            "notes": b.info.notes, "load_seconds": round(load_s, 2),
            "offload_log": [ln for ln in grab.lines if "offloaded" in ln],
            "prompt_tokens": g.prompt_tokens, "generated_tokens": g.generated_tokens,
            "first_token_seconds": round(g.first_token_seconds or 0, 2),
            "seconds": round(g.seconds, 2),
            "tokens_per_s": round((g.generated_tokens - 1) / gen_s, 2) if gen_s > 0 and g.generated_tokens > 1 else None,
            "text": g.text,
        }
        b.close()
        return out
    finally:
        lg.removeHandler(grab)
        os.environ.pop("LONGHAND_VRAM_BUDGET", None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--budget", default="560M", help="LONGHAND_VRAM_BUDGET for the partial run")
    ap.add_argument("--out", type=Path, default=C.RESULTS)
    args = ap.parse_args(argv)
    from longhand.core.backends.ggml import load_backends
    from longhand.core.library.demo import demo_model_path
    rep = load_backends()
    model = demo_model_path()
    runs = {
        "gpu_all": run_one(model, "auto", args.tokens, None),
        "gpu_partial": run_one(model, "auto", args.tokens, args.budget),
        "cpu": run_one(model, 0, args.tokens, None),
    }
    same = runs["gpu_all"]["text"] == runs["cpu"]["text"]
    data = {"machine": C.machine(),
            "backends": rep.to_dict(), "tokens": args.tokens, "runs": runs,
            "same_text_gpu_vs_cpu": same, "load_average": os.getloadavg()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_offload.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    lines = ["# GPU offload: the demo model on a Vulkan device vs the CPU (one run)", "",
             f"Command: `GGML_VK_VISIBLE_DEVICES={os.environ.get('GGML_VK_VISIBLE_DEVICES', '')} "
             f"python bench/gpu_offload.py --tokens {args.tokens} --budget {args.budget}`", "",
             "Devices: " + "; ".join(f"{d.name} ({d.description})" for d in rep.devices), "",
             f"Load average during the run: {', '.join(f'{x:.1f}' for x in data['load_average'])}", "",
             "| run | device | llama.cpp says | prompt tok | gen tok | first token s | tok/s |",
             "|---|---|---|---|---|---|---|"]
    for name, r in runs.items():
        said = "; ".join(re.sub(r"^.*?: ", "", x) for x in r["offload_log"]) or "-"
        lines.append(f"| {name} | {r['device']} | {said} | {r['prompt_tokens']} | {r['generated_tokens']} "
                     f"| {r['first_token_seconds']} | {r['tokens_per_s']} |")
    lines += ["", f"Same greedy text on the GPU (all layers) and the CPU: {'yes' if same else 'no'}", ""]
    for name, r in runs.items():
        lines.append(f"- {name} notes: {' / '.join(r['notes']) or '-'}")
    (args.out / "gpu_offload.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
