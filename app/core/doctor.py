"""Core: ``longhand doctor`` — what this installation can run, and why.

One report for the CLI (``longhand doctor [--json]``), the GUI (Help > System) and bug
reports: Longhand and llama.cpp versions, the compute backends this llama.cpp build has and
which of them loaded, each device with its free/total memory, the CPU features llama.cpp uses,
and for each installed model the quantization Longhand would pick and the layers it would
offload at a job's context, with the reason. A machine without a usable GPU is told so in one
plain sentence (``gpu.summary``).
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path

from .. import __version__
from .backends.factory import context_for_target
from .units import format_gb

DEFAULT_JOB_WORDS = 10000


def _gb(n: int) -> str:
    return format_gb(n)


def parse_system_info(text: str) -> dict[str, list[str]]:
    """``llama_print_system_info()`` -> {backend: [features that are on]}.

    The text looks like ``CPU : SSE3 = 1 | AVX = 1 | AVX512 = 0 | ... | Vulkan : ...``.
    """
    out: dict[str, list[str]] = {}
    current = ""
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        if " : " in part:
            current, part = (x.strip() for x in part.split(" : ", 1))
            out.setdefault(current, [])
        if "=" in part:
            name, value = (x.strip() for x in part.split("=", 1))
            if value not in ("0", "") and current:
                out[current].append(name)
    return out


def _llama_info() -> dict:
    info = {"llama_cpp_python": None, "system_info": "", "supports_gpu_offload": False,
            "supports_mmap": None}
    try:
        import llama_cpp
        info["llama_cpp_python"] = getattr(llama_cpp, "__version__", "?")
        info["system_info"] = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
        info["supports_gpu_offload"] = bool(llama_cpp.llama_supports_gpu_offload())
        info["supports_mmap"] = bool(llama_cpp.llama_supports_mmap())
    except Exception as e:
        info["error"] = str(e)
    return info


def gpu_summary(rep, offload: bool, nvidia_seen: list[str]) -> tuple[bool, str]:
    """(usable GPU?, one plain sentence)."""
    if rep.error:
        return False, f"No GPU: llama.cpp itself did not load ({rep.error})."
    gpus = rep.gpus
    if gpus and offload:
        names = "; ".join(f"{d.name} ({d.description}), {_gb(d.free)} free of {_gb(d.total)}"
                          for d in gpus)
        return True, f"GPU offload available: {names}."
    gpu_modules = [m for m in rep.modules if m.name not in ("cpu",) and not m.name.startswith("cpu")]
    seen = f" A GPU is present ({', '.join(nvidia_seen)}) but cannot be used by this build." if nvidia_seen else ""
    if not gpu_modules and not any(b.lower() not in ("cpu", "blas", "rpc") for b in rep.registered):
        return False, ("No GPU: this llama.cpp build is CPU-only (backends: "
                       f"{', '.join(rep.registered) or 'none'}); Longhand writes on the CPU. "
                       "For GPU offload install the Vulkan, CUDA or Metal build (README, "
                       f"\"GPU offload\").{seen}")
    failed = [m for m in gpu_modules if not m.loaded]
    if failed and not any(m.loaded for m in gpu_modules):
        why = "; ".join(f"{m.name}: {m.reason or 'not loaded'}" for m in failed)
        return False, f"No GPU: the GPU backend did not load ({why}); Longhand writes on the CPU.{seen}"
    loaded = ", ".join(m.name for m in gpu_modules if m.loaded) or ", ".join(
        b for b in rep.registered if b.lower() != "cpu")
    return False, (f"No GPU: the {loaded} backend loaded but found no usable device (no GPU "
                   "driver for it on this machine; Mesa's lavapipe software device is only used "
                   "when GGML_VK_VISIBLE_DEVICES names it). Longhand writes on the CPU." + seen)


def _model_entries(machine, n_ctx: int) -> list[dict]:
    from .backends.gpu import auto_gpu_layers
    from .library.catalog import load_catalog, recommend
    from .library.demo import demo_model_path
    from .library.gguf import read_gguf
    from .library.installed import installed_models
    catalog = load_catalog()
    models = list(installed_models())
    demo = demo_model_path(assemble=False)
    if demo is not None and not any(m.path == demo for m in models):
        from .library.installed import LocalModel
        models.append(LocalModel("gemma3-270m-demo", "demo model", demo, "Q4_K_M", "demo",
                                 demo.stat().st_size))
    out = []
    for m in models:
        e: dict = {"id": m.id, "name": m.name, "path": str(m.path), "source": m.source,
                   "size": m.size, "quant": m.quant}
        try:
            info = read_gguf(m.path)
            e["quant"] = info.quantization or m.quant
            e["layers"] = info.block_count + 1
        except Exception as err:
            e["error"] = f"unreadable: {err}"
            out.append(e)
            continue
        entry = catalog.find_file(m.path.name)
        if entry is not None and m.source != "import":
            cat_model = entry[0]
            ctx = min(n_ctx, cat_model.context)
            rec = recommend(cat_model, machine, ctx)
            e["pick"] = rec.quant.quant if rec.quant else None
            e["pick_reason"] = rec.reason
            if rec.quant:
                # the catalog counts layers with gpu.fit_gpu_layers, on this file's own GGUF
                # figures when the pick is the installed file ("gguf"): then the same number
                # as "gpu_layers" below
                fit = rec.fit(rec.quant.quant)
                e["pick_gpu_layers"] = fit.gpu_layers
                e["pick_sizes_from"] = fit.basis
            if rec.quant and rec.quant.quant.upper() != (e["quant"] or "").upper():
                e["pick_reason"] += (f" (installed: {e['quant']}; download {rec.quant.quant} "
                                     "from the model manager to use it)")
        else:
            ctx = n_ctx
            e["pick"] = e["quant"]
            e["pick_reason"] = "An imported file: Longhand runs it as it is."
        e["context"] = ctx
        try:
            layers, why = auto_gpu_layers(m.path, ctx, machine)
        except Exception as err:
            layers, why = 0, f"could not size it: {err}"
        e["gpu_layers"] = layers
        e["gpu_layers_reason"] = why
        out.append(e)
    return out


def collect(words: int = DEFAULT_JOB_WORDS, n_ctx: int | None = None, models: bool = True) -> dict:
    """Everything ``longhand doctor`` reports, as plain data (JSON-ready)."""
    from .backends.ggml import load_backends
    from .backends.gpu import nvidia_smi_gpus, probe, vram_budget
    rep = load_backends()
    llama = _llama_info()
    machine = probe()
    ctx = n_ctx or context_for_target(words)
    nvidia = [g.name for g in nvidia_smi_gpus()] if not rep.gpus else []
    usable, summary = gpu_summary(rep, llama["supports_gpu_offload"], nvidia)
    features = parse_system_info(llama.get("system_info", ""))
    threads = int(os.environ.get("LONGHAND_THREADS", 0) or 0) or max(1, os.cpu_count() or 1)
    data = {
        "longhand": __version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "frozen": bool(getattr(sys, "frozen", False)),
        "llama_cpp_python": llama.get("llama_cpp_python"),
        "llama_cpp_error": llama.get("error") or rep.error or None,
        "backends": {
            "library_dir": rep.lib_dir,
            "ggml_library": rep.ggml_library,
            "as_modules": rep.dynamic,
            "modules": [asdict(m) for m in rep.modules],
            "loaded": rep.registered,
            "gpu_offload_supported": llama["supports_gpu_offload"],
            "notes": rep.notes,
        },
        "devices": [asdict(d) for d in rep.devices],
        "gpu": {"usable": usable, "summary": summary,
                "vram_budget": vram_budget(),
                "visible_devices_env": {k: os.environ[k] for k in
                                        ("GGML_VK_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES",
                                         "LONGHAND_GPU") if k in os.environ}},
        "cpu": {"features": features.get("CPU", []), "threads": threads,
                "variant": rep.cpu_variant, "variants": rep.cpu_variants, "variant_how": rep.cpu_variant_how,
                "logical_cpus": os.cpu_count(), "system_info": llama.get("system_info", "")},
        "memory": {"ram_free": machine.ram_free, "ram_total": machine.ram_total},
        "machine_notes": machine.notes,
        "job": {"words": words, "context": ctx},
        "models": _model_entries(machine, ctx) if models else [],
    }
    return data


def cpu_variant_line(c: dict) -> str:
    """Which of llama.cpp's CPU backends runs here, in one line."""
    from .backends.ggml import CPU_VARIANTS
    variants = c.get("variants") or []
    if not variants:
        return "CPU backend: one build, no per-level variants (it runs on CPUs with the features above)"
    name = c.get("variant") or ""
    if not name:
        return f"CPU backend: none of the {len(variants)} variants loaded ({', '.join(variants)})"
    what = CPU_VARIANTS.get(name, "")
    return (f"CPU backend: {name}" + (f" ({what})" if what else "")
            + f", {c.get('variant_how') or 'chosen'}; {len(variants)} variants in this build")


def render(d: dict) -> str:
    """The report as text, for people."""
    lines = [f"Longhand {d['longhand']}  (Python {d['python']}, {d['platform']}"
             + (", frozen app" if d["frozen"] else "") + ")"]
    lines.append(f"llama-cpp-python {d['llama_cpp_python'] or 'not available'}")
    if d.get("llama_cpp_error"):
        lines.append(f"  problem: {d['llama_cpp_error']}")
    b = d["backends"]
    kind = "as loadable modules" if b["as_modules"] else "linked in"
    lines.append(f"Backends ({kind}): loaded {', '.join(b['loaded']) or 'none'}")
    for m in b["modules"]:
        if m["name"].startswith("cpu-"):
            continue                      # the CPU variants: one line below ("CPU backend: ...")
        state = "loaded" if m["loaded"] else "NOT loaded"
        lines.append(f"  {m['name']:<8} {state}" + (f" - {m['reason']}" if m["reason"] else "")
                     + f"  [{Path(m['path']).name}]")
    for n in b["notes"]:
        lines.append(f"  note: {n}")
    lines.append("Devices:")
    for dev in d["devices"]:
        lines.append(f"  {dev['name']:<10} {dev['type']:<5} {dev['description']}: "
                     f"{_gb(dev['free'])} free of {_gb(dev['total'])}")
    if not d["devices"]:
        lines.append("  none")
    lines.append(d["gpu"]["summary"])
    if d["gpu"]["vram_budget"] is not None:
        lines.append(f"  GPU memory budget (LONGHAND_VRAM_BUDGET): {_gb(d['gpu']['vram_budget'])}")
    c = d["cpu"]
    lines.append(f"CPU: {c['threads']} threads of {c['logical_cpus']}; features in use: "
                 f"{' '.join(c['features']) or 'unknown'}")
    lines.append("  " + cpu_variant_line(c))
    mem = d["memory"]
    lines.append(f"RAM: {_gb(mem['ram_free'])} free of {_gb(mem['ram_total'])}")
    for n in d["machine_notes"]:
        lines.append(f"note: {n}")
    job = d["job"]
    lines.append(f"Installed models, for a {job['words']}-word job ({job['context']}-token context):")
    if not d["models"]:
        lines.append("  none installed (open the model manager, or 'longhand models download ID')")
    for m in d["models"]:
        lines.append(f"  {m['id']}  {Path(m['path']).name}  ({m.get('quant') or '?'})")
        if m.get("error"):
            lines.append(f"    {m['error']}")
            continue
        lines.append(f"    quantization: {m['pick'] or 'none fits'} - {m['pick_reason']}")
        lines.append(f"    GPU layers: {m['gpu_layers']}/{m['layers']} - {m['gpu_layers_reason']}")
    return "\n".join(lines)
