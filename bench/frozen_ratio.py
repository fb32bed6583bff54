"""Bench: the frozen app's writing speed against the venv's, on the same job (goal ≥ 0.95).

One run each of the same ``longhand write`` job (the demo model, a fixed seed, the same
threads): first with this Python (``python -m longhand``, the venv), then with the frozen
executable (``packaging/dist/Longhand/Longhand`` by default, or ``--exe``: an extracted
AppImage's ``AppRun`` works too). Each side also reports which llama.cpp CPU backend it
loaded (``doctor --json``): the ratio compares like with like only when both loaded the same
one. ``ratio`` = frozen tok/s / venv tok/s, the engine's own rate of each run (``--json``).

    python bench/frozen_ratio.py [--exe PATH] [--words 400] [--threads T] [--out DIR]

Writes ``frozen_ratio.json`` and ``frozen_ratio.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EXE = ROOT / "packaging" / "dist" / "Longhand" / "Longhand"
INSTRUCTION = "Write a 400-word story about a lighthouse keeper who finds a message in a bottle."


def _env(tmp: Path, models_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LONGHAND_MODEL", "LLAMA_CPP_LIB_PATH", "PYTHONPATH")}
    env.update(HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / "config"), XDG_DATA_HOME=str(tmp / "data"),
               XDG_STATE_HOME=str(tmp / "state"), XDG_CACHE_HOME=str(tmp / "cache"),
               LONGHAND_MODELS_DIR=str(models_dir))
    return env


def run_side(name: str, cmd: list[str], model: Path, words: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"longhand-{name}-") as t:
        tmp = Path(t)
        env = _env(tmp, model.parent)
        doc = subprocess.run(cmd + ["doctor", "--json"], capture_output=True, text=True, env=env, timeout=600)
        if doc.returncode != 0:
            raise SystemExit(f"{name}: doctor failed: {doc.stderr[-2000:]}")
        cpu = json.loads(doc.stdout)["cpu"]
        out = tmp / "story.md"
        t0 = time.perf_counter()
        r = subprocess.run(cmd + ["write", INSTRUCTION, "--words", str(words), "--model", str(model), "--seed", "3",
                                  "--threads", str(threads), "--json", "--out", str(out)],
                           capture_output=True, text=True, env=env, timeout=3600)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            raise SystemExit(f"{name}: write failed: {r.stderr[-2000:]}")
        res = json.loads(r.stdout)
        return {"command": cmd, "tokens_per_s": res["tokens_per_s"], "generated_tokens": res["generated_tokens"],
                "words": res["words"], "seconds": res["seconds"], "total_seconds": res.get("total_seconds"),
                "wall_seconds": round(wall, 2), "cpu_variant": cpu.get("variant", ""),
                "cpu_features": cpu.get("features", []),
                "text_sha256": hashlib.sha256(out.read_bytes()).hexdigest()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exe", type=Path, default=DEFAULT_EXE, help="the frozen executable (or an AppRun)")
    ap.add_argument("--words", type=int, default=400)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if not args.exe.exists():
        raise SystemExit(f"no frozen app at {args.exe}: python packaging/build.py first")
    model = C.demo_model()
    before = C.machine()
    venv = run_side("venv", [sys.executable, "-m", "longhand"], model, args.words, args.threads)
    frozen = run_side("frozen", [str(args.exe)], model, args.words, args.threads)
    ratio = frozen["tokens_per_s"] / venv["tokens_per_s"] if venv["tokens_per_s"] else 0.0
    data = {"bench": "frozen_ratio", "machine": before, "load_after": list(os.getloadavg()),
            "job": {"instruction": INSTRUCTION, "words": args.words, "threads": args.threads, "seed": 3,
                    "model": model.name},
            "venv": venv, "frozen": frozen, "ratio": round(ratio, 3), "goal": 0.95,
            "same_cpu_backend": venv["cpu_variant"] == frozen["cpu_variant"],
            "same_text": venv["text_sha256"] == frozen["text_sha256"]}
    out = C.out_dir(args.out)
    C.write_json(out / "frozen_ratio.json", data)
    md = [f"# Frozen app vs venv: {ratio:.3f}× (goal ≥ 0.95)", "",
          f"{C.machine_line(before)}; load after: {', '.join(f'{x:.2f}' for x in data['load_after'])}", "",
          f"Job: `longhand write` \"{INSTRUCTION}\" --words {args.words} --seed 3 --threads {args.threads}, "
          f"{model.name}, one run each (venv first).", "",
          "| | tok/s | tokens | words | writing s | total s | CPU backend |", "|---|---|---|---|---|---|---|"]
    for name, side in (("venv", venv), ("frozen", frozen)):
        md.append(f"| {name} | {side['tokens_per_s']:.1f} | {side['generated_tokens']} | {side['words']} | "
                  f"{side['seconds']:.1f} | {side['total_seconds']} | {side['cpu_variant'] or 'one build'} |")
    md += ["", f"Same CPU backend: {data['same_cpu_backend']}; same text: {data['same_text']}."]
    C.write_text(out / "frozen_ratio.md", "\n".join(md) + "\n")
    print(f"frozen/venv = {ratio:.3f} ({frozen['tokens_per_s']:.1f} / {venv['tokens_per_s']:.1f} tok/s); "
          f"CPU backend {venv['cpu_variant'] or 'one build'} / {frozen['cpu_variant'] or 'one build'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
