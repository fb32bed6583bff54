"""Core: the model catalog (``models/catalog.json``) and which quantization to recommend.

The catalog lists the models the app offers: their Hugging Face repo, one GGUF file per
quantization with its size, the shape numbers that size the KV cache, and the prompt format of
the family. :func:`recommend` picks, like LM Studio, the best quantization this machine can
run — entirely on the GPU when one fits, else in RAM — and says why in a sentence.

GPU layers are counted by :func:`~longhand.core.backends.gpu.fit_gpu_layers`, the function
that sizes the "auto" GPU layers when a model loads (and that ``longhand doctor`` prints): on
the file's own GGUF figures when it is installed, else on sizes estimated from the catalog
(scaled from another installed quantization of the model when there is one).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..backends.base import MAX_CONTEXT
from ..backends.gpu import GiB, Machine, OffloadSizes, fit_gpu_layers, vram_reserve
from ..errors import LonghandError
from ..paths import models_dir
from ..units import format_gb

log = logging.getLogger(__name__)

# Best quality first. Unknown names sort after these.
QUALITY_ORDER = ["F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_0", "Q4_K_M", "Q4_K_S",
                 "IQ4_XS", "IQ4_NL", "Q4_0", "Q3_K_L", "Q3_K_M", "IQ3_M", "Q3_K_S", "IQ3_XS",
                 "Q2_K", "IQ2_M", "IQ2_XS"]
# On the CPU every generated token reads the whole file: past Q5_K_M, each extra gigabyte
# costs speed for a quality gain that is hard to notice, so the CPU recommendation stops there.
CPU_BEST = "Q5_K_M"
# Below this, quality drops visibly: a partial offload of a 4-bit file beats all layers of a
# 2- or 3-bit one on the GPU.
QUALITY_FLOOR = "Q4_0"
# llama.cpp's compute buffers, the tokenizer and the app itself, on top of weights + KV cache.
RUNTIME_OVERHEAD = GiB // 2
DEFAULT_CONTEXT = MAX_CONTEXT      # memory figures are for a LongWriter job's full context


class CatalogError(LonghandError):
    """The catalog is unreadable, or the user named a model or quantization it does not have."""


def quality_rank(quant: str) -> int:
    q = quant.upper()
    return QUALITY_ORDER.index(q) if q in QUALITY_ORDER else len(QUALITY_ORDER)


@dataclass
class QuantFile:
    quant: str
    filename: str
    size: int                   # bytes (from the catalog; the hub's figure wins at download)


@dataclass
class CatalogModel:
    id: str
    name: str
    description: str
    family: str
    format: str                 # prompt format name (core.backends.formats.FORMATS)
    repo: str
    revision: str
    quants: list[QuantFile]
    context: int
    layers: int
    head_count_kv: int
    head_dim: int
    default_quant: str
    source: str = "hub"         # "hub" or "package" (the demo model)
    package: str = ""
    parameters: str = ""

    def quant(self, name: str | None) -> QuantFile:
        if not name:
            name = self.default_quant
        for q in self.quants:
            if q.quant.upper() == name.upper():
                return q
        raise CatalogError(f"{self.name} has no {name} file; choose one of "
                           f"{', '.join(q.quant for q in self.quants)}.")

    def kv_cache_bytes(self, n_ctx: int) -> int:
        """f16 K and V for every layer and token of context."""
        return self.layers * self.head_count_kv * self.head_dim * 2 * 2 * n_ctx

    def local_path(self, quant: str | None = None, directory: Path | None = None) -> Path:
        return (directory or models_dir()) / self.quant(quant).filename


@dataclass
class Catalog:
    models: list[CatalogModel]
    default_context: int = DEFAULT_CONTEXT

    def get(self, model_id: str) -> CatalogModel:
        key = model_id.lower()
        for m in self.models:
            if m.id.lower() == key:
                return m
        raise CatalogError(f"No model {model_id!r} in the catalog; known: "
                           f"{', '.join(m.id for m in self.models)}.")

    def find_file(self, filename: str) -> tuple[CatalogModel, QuantFile] | None:
        for m in self.models:
            for q in m.quants:
                if q.filename == filename:
                    return m, q
        return None


def load_catalog(path: str | os.PathLike | None = None) -> Catalog:
    """The catalog shipped in ``longhand.models`` (or the JSON file at ``path``)."""
    try:
        if path is None:
            text = resources.files("longhand.models").joinpath("catalog.json").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        data = json.loads(text)
        models = []
        for m in data["models"]:
            arch = m["architecture"]
            quants = [QuantFile(q["quant"], m["file_pattern"].format(quant=q["quant"]),
                                int(round(float(q["size_gb"]) * 1e9))) for q in m["quants"]]
            models.append(CatalogModel(
                id=m["id"], name=m["name"], description=m.get("description", ""),
                family=m["family"], format=m["format"], repo=m.get("repo", ""),
                revision=m.get("revision", "main"), quants=quants, context=int(m["context"]),
                layers=int(arch["layers"]), head_count_kv=int(arch["head_count_kv"]),
                head_dim=int(arch["head_dim"]), default_quant=m.get("default_quant", quants[0].quant),
                source=m.get("source", "hub"), package=m.get("package", ""),
                parameters=m.get("parameters", "")))
        return Catalog(models, int(data.get("default_context", DEFAULT_CONTEXT)))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CatalogError(f"The model catalog is unreadable: {e}") from e


# ---------------------------------------------------------------------------------------
# Fitting quantizations to this machine

@dataclass
class Fit:
    """How one quantization fits this machine."""

    quant: QuantFile
    need: int                   # bytes: weights + KV cache + runtime overhead
    where: str                  # "gpu" (all layers), "partial", "cpu", "none"
    gpu_layers: int = 0
    total_layers: int = 0
    gpu_bytes: int = 0          # bytes planned on the GPU (weights + KV of the offloaded layers)
    basis: str = "catalog"      # where the sizes come from: "gguf" (the installed file),
                                # "sibling" (scaled from another installed quant), "catalog"

    @property
    def label(self) -> str:
        return {"gpu": "full GPU offload", "cpu": "fits in RAM", "none": "too large",
                "partial": f"partial GPU offload ({self.gpu_layers}/{self.total_layers} layers)"}[self.where]


@dataclass
class Recommendation:
    model: CatalogModel
    quant: QuantFile | None
    reason: str
    fits: list[Fit] = field(default_factory=list)
    n_ctx: int = DEFAULT_CONTEXT

    def fit(self, quant: str) -> Fit:
        for f in self.fits:
            if f.quant.quant == quant:
                return f
        raise KeyError(quant)


@functools.lru_cache(maxsize=64)
def _gguf_sizes(path: str, size: int, mtime_ns: int) -> OffloadSizes:
    from .gguf import read_gguf
    return OffloadSizes.from_gguf(read_gguf(path))


def _installed_sizes(path: Path) -> OffloadSizes | None:
    """The exact sizes of an installed file (None when it is absent or unreadable)."""
    try:
        st = path.stat()
        if not path.is_file() or st.st_size == 0:
            return None
        return _gguf_sizes(str(path), st.st_size, st.st_mtime_ns)
    except Exception as e:   # a corrupt or foreign file: fall back to the catalog's figures
        log.debug("cannot size %s from its GGUF: %s", path, e)
        return None


def offload_sizes(model: CatalogModel, quant: QuantFile,
                  directory: Path | None = None) -> tuple[OffloadSizes, str]:
    """(sizes, basis) of ``quant`` for :func:`~longhand.core.backends.gpu.fit_gpu_layers`.

    - ``"gguf"``: the file is installed; its tensor table gives the exact sizes, the figures
      ``longhand doctor`` and the "auto" GPU layers use.
    - ``"sibling"``: another quantization of the model is installed; its layout (blocks,
      output layer, token embeddings, KV cache) is scaled to this file's size. This matters
      for small models with large vocabularies, whose embeddings are most of the file.
    - ``"catalog"``: nothing installed; blocks hold nearly all the weights, the token
      embeddings and the output layer are about one block each, and the KV cache comes from
      the catalog's shape numbers.
    """
    directory = directory or models_dir()
    exact = _installed_sizes(model.local_path(quant.quant, directory))
    if exact is not None:
        return exact, "gguf"
    for q in sorted(model.quants, key=lambda q: abs(q.size - quant.size)):
        if q is quant:
            continue
        path = model.local_path(q.quant, directory)
        sib = _installed_sizes(path)
        if sib is not None and sib.blocks:
            scale = quant.size / path.stat().st_size
            return OffloadSizes(blocks=[int(b * scale) for b in sib.blocks],
                                output=int(sib.output * scale), kv_per_token=sib.kv_per_token,
                                input=int(sib.input * scale)), "sibling"
    per_block = quant.size // (model.layers + 2)
    return OffloadSizes(blocks=[per_block] * model.layers, output=per_block,
                        kv_per_token=model.kv_cache_bytes(1) // model.layers,
                        input=per_block), "catalog"


def assess(model: CatalogModel, quant: QuantFile, machine: Machine, n_ctx: int,
           directory: Path | None = None) -> Fit:
    """Where ``quant`` of ``model`` runs on ``machine`` at a context of ``n_ctx`` tokens."""
    kv = model.kv_cache_bytes(n_ctx)
    need = quant.size + kv + RUNTIME_OVERHEAD
    total_layers = model.layers + 1
    if machine.has_gpu:
        sizes, basis = offload_sizes(model, quant, directory)
        total_layers = sizes.total_layers
        layers = fit_gpu_layers(sizes, n_ctx, machine.vram_free)
        on_gpu = sizes.gpu_bytes(layers, n_ctx)
        if layers >= total_layers:
            return Fit(quant, need, "gpu", layers, total_layers, on_gpu, basis)
        if need - on_gpu <= machine.ram_free:
            return Fit(quant, need, "partial" if layers else "cpu", layers, total_layers,
                       on_gpu, basis)
        return Fit(quant, need, "none", 0, total_layers, 0, basis)
    if need <= machine.ram_free:
        return Fit(quant, need, "cpu", 0, total_layers)
    return Fit(quant, need, "none", 0, total_layers)


def recommend(model: CatalogModel, machine: Machine, n_ctx: int = DEFAULT_CONTEXT,
              directory: Path | None = None) -> Recommendation:
    """The best quantization of ``model`` for ``machine`` at a context of ``n_ctx`` tokens
    (``directory``: the models folder holding installed files, by default the user's)."""
    n_ctx = min(n_ctx, model.context)
    fits = sorted((assess(model, q, machine, n_ctx, directory) for q in model.quants),
                  key=lambda f: quality_rank(f.quant.quant))
    kv = model.kv_cache_bytes(n_ctx)
    ctx = f"{n_ctx // 1024}k-token context"

    def needs(f: Fit) -> str:
        return f"{format_gb(f.need)} ({format_gb(f.quant.size)} model + {format_gb(kv)} {ctx} cache + runtime)"

    full = [f for f in fits if f.where == "gpu"
            and quality_rank(f.quant.quant) <= quality_rank(QUALITY_FLOOR)]
    if full:
        best = full[0]
        reason = (f"{best.quant.quant} is the best quality that fits entirely in GPU memory: "
                  f"needs {format_gb(best.gpu_bytes)} of {format_gb(machine.vram_free)} free VRAM "
                  f"(weights and {ctx} cache; {format_gb(vram_reserve(machine.vram_free))} kept "
                  f"free for llama.cpp's buffers), all {best.total_layers} layers offloaded.")
        return Recommendation(model, best.quant, reason, fits, n_ctx)
    runnable = [f for f in fits if f.where in ("partial", "cpu")]
    if runnable:
        # With a GPU, more layers on it beat more bits: stop at the family's default (Q4_K_M).
        cap = model.default_quant if machine.has_gpu else CPU_BEST
        sensible = [f for f in runnable if quality_rank(f.quant.quant) >= quality_rank(cap)]
        best = (sensible or runnable)[0]
        if best.where == "partial":
            where = (f"runs with {best.gpu_layers}/{best.total_layers} layers on the GPU "
                     f"({format_gb(machine.vram_free)} free VRAM) and the rest on the CPU")
        else:
            where = "runs on the CPU"
        reason = f"{best.quant.quant} {where}: needs {needs(best)}, {format_gb(machine.ram_free)} RAM free."
        bigger = [f.quant.quant for f in runnable if quality_rank(f.quant.quant) < quality_rank(best.quant.quant)]
        if bigger:
            reason += (f" {', '.join(bigger)} fit too, but every token read from system memory "
                       "reads the whole file, so they write slower for a quality gain that is "
                       "hard to notice.")
        return Recommendation(model, best.quant, reason, fits, n_ctx)
    smallest = min(fits, key=lambda f: f.need)
    reason = (f"Not enough free memory: even {smallest.quant.quant} needs {needs(smallest)} and "
              f"{format_gb(machine.ram_free)} RAM is free. Close other programs or use a shorter context.")
    return Recommendation(model, None, reason, fits, n_ctx)
