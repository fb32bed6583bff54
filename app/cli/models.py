"""CLI: ``longhand models list | download ID [--quant Q] | import PATH | remove ID``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from ..core.backends.gpu import probe
from ..core.errors import CancelToken, LonghandError
from ..core.library.catalog import DEFAULT_CONTEXT, load_catalog, recommend
from ..core.library.downloads import DownloadProgress, download_model, progress_line
from ..core.library.installed import import_model, installed_models, remove_model
from ..core.paths import models_dir
from . import command


def _list(args) -> int:
    catalog = load_catalog()
    machine = probe()
    n_ctx = args.ctx or catalog.default_context
    installed = installed_models()
    have = {(m.id, m.quant) for m in installed}
    recs = [recommend(m, machine, n_ctx) for m in catalog.models]
    if args.json:
        out = {
            "machine": {"ram_free": machine.ram_free, "ram_total": machine.ram_total,
                        "gpu_offload_supported": machine.offload_supported,
                        "gpus": [vars(g) for g in machine.gpus], "notes": machine.notes},
            "models_dir": str(models_dir()),
            "context": n_ctx,
            "models": [{
                "id": r.model.id, "name": r.model.name, "format": r.model.format,
                "repo": r.model.repo, "recommended": r.quant.quant if r.quant else None,
                "reason": r.reason,
                "quants": [{"quant": f.quant.quant, "file": f.quant.filename, "size": f.quant.size,
                            "need": f.need, "fit": f.where, "label": f.label,
                            "installed": (r.model.id, f.quant.quant) in have} for f in r.fits],
            } for r in recs],
            "imported": [{"id": m.id, "path": str(m.path), "summary": m.summary}
                         for m in installed if m.source == "import"],
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"This machine: {machine.describe()}")
    print(f"llama.cpp GPU offload (llama_supports_gpu_offload): "
          f"{'yes' if machine.offload_supported else 'no'}")
    for note in machine.notes:
        print(f"note: {note}")
    print(f"Models folder: {models_dir()}   (memory figures for a {n_ctx}-token context)")
    for r in recs:
        m = r.model
        print()
        print(f"{m.name}  [{m.id}]  prompt format {m.format}"
              + (f"  ({m.repo})" if m.repo else ""))
        rec = r.quant.quant if r.quant else "none"
        print(f"  recommended: {rec} - {r.reason}")
        for f in sorted(r.fits, key=lambda f: f.quant.size):
            mark = "*" if r.quant is not None and f.quant.quant == r.quant.quant else " "
            inst = "installed" if (m.id, f.quant.quant) in have else ""
            print(f"  {mark} {f.quant.quant:<7} {f.quant.size / 1e9:6.2f} GB  needs "
                  f"{f.need / 1e9:5.1f} GB  {f.label:<34} {inst}")
    imported = [m for m in installed if m.source == "import"]
    if imported:
        print()
        print("Imported models:")
        for lm in imported:
            print(f"  {lm.id}: {lm.path} ({lm.summary.get('architecture', '?')}, "
                  f"{lm.summary.get('layers', '?')} layers, {lm.quant or '?'})")
    return 0


class _StderrProgress:
    """One updating line on a terminal; a line every few seconds in a log."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.status = ""

    def __call__(self, p: DownloadProgress) -> None:
        now = time.monotonic()
        changed = p.status != self.status
        self.status = p.status
        if not changed and now - self.last < (0.2 if self.tty else 5.0) and p.status != "done":
            return
        self.last = now
        line = progress_line(p) if p.status != "done" else f"{p.filename}: {p.message}"
        if self.tty:
            end = "\n" if p.status in ("done", "retrying") else ""
            print(f"\r{line:<100}", end=end, file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def _download(args) -> int:
    catalog = load_catalog()
    entry = catalog.get(args.id)
    quant = args.quant
    if not quant:
        rec = recommend(entry, probe(), args.ctx or catalog.default_context)
        if rec.quant is None:
            raise LonghandError(rec.reason + " Pass --quant to download one anyway.")
        quant = rec.quant.quant
        print(f"{entry.name}: {quant} (recommended: {rec.reason})", file=sys.stderr)
    cancel = CancelToken()

    def on_sigint(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()

    try:
        signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread
        pass
    result = download_model(entry.id, quant, on_progress=_StderrProgress(), cancel=cancel)
    if args.json:
        print(json.dumps({"id": entry.id, "quant": quant, "path": str(result.path),
                          "sha256": result.sha256, "size": result.size,
                          "downloaded": result.downloaded, "resumed_from": result.resumed_from,
                          "already_present": result.already_present}, indent=2))
    else:
        print(result.path)
    return 0


def _import(args) -> int:
    m = import_model(args.path)
    s = m.summary
    if args.json:
        print(json.dumps({"id": m.id, "path": str(m.path), "format": m.format, "summary": s}, indent=2))
        return 0
    print(f"imported {m.id}: {m.path}")
    print(f"  name:           {m.name}")
    print(f"  architecture:   {s['architecture']}")
    print(f"  quantization:   {s['quantization'] or 'unknown'}")
    print(f"  parameters:     {s['parameters'] / 1e9:.2f} B")
    print(f"  layers:         {s['layers']}")
    print(f"  context length: {s['context_length']} (Longhand sizes the context to each job)")
    print(f"  chat template:  {'yes' if s['chat_template'] else 'no (a base model: completion prompts)'}")
    print(f"  prompt format:  {m.format}")
    return 0


def _remove(args) -> int:
    removed = remove_model(args.id, args.quant)
    for p in removed:
        print(f"removed {p}")
    return 0


def models_cmd(args) -> int:
    action = getattr(args, "models_action", None)
    if action is None:
        args.json = getattr(args, "json", False)
        args.ctx = None
        return _list(args)
    return {"list": _list, "download": _download, "import": _import, "remove": _remove}[action](args)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="models_action", metavar="ACTION")
    ls = sub.add_parser("list", help="the catalog, what fits this machine, what is installed")
    ls.add_argument("--ctx", type=int, help=f"context length to size memory for (default {DEFAULT_CONTEXT})")
    ls.add_argument("--json", action="store_true", help="print JSON")
    dl = sub.add_parser("download", help="download a catalog model (resumes, verifies SHA-256)")
    dl.add_argument("id", help="model id from 'longhand models list'")
    dl.add_argument("--quant", help="quantization, e.g. Q4_K_M (default: the recommended one)")
    dl.add_argument("--ctx", type=int, help="context length the recommendation is sized for")
    dl.add_argument("--json", action="store_true", help="print the result as JSON")
    im = sub.add_parser("import", help="use a .gguf you already have (validated first)")
    im.add_argument("path", help="path of the .gguf file")
    im.add_argument("--json", action="store_true", help="print the result as JSON")
    rm = sub.add_parser("remove", help="delete a downloaded model, or forget an imported one")
    rm.add_argument("id")
    rm.add_argument("--quant", help="only this quantization")


models_cmd.add_arguments = _add_arguments  # type: ignore[attr-defined]
command("models", "list, download, import and remove models")(models_cmd)
