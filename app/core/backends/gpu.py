"""Core: what this machine can hold — free RAM, GPUs and their free memory — and how many
layers of a model to offload to the GPU ("auto" GPU layers, as koboldcpp and
text-generation-webui do it: from the GGUF's own per-layer sizes and KV-cache shape).

GPUs are found through ggml's device registry (the same list llama.cpp offloads to), so the
answer is right for CUDA, Metal, Vulkan or ROCm builds alike; a CPU-only llama-cpp-python build
lists no GPU, and ``nvidia-smi`` is then asked only to tell the user that a GPU exists but this
build cannot use it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from ..units import format_gb

log = logging.getLogger(__name__)

GiB = 1024 ** 3
MiB = 1024 ** 2
# Kept free on the GPU for llama.cpp's compute buffers, the driver and the desktop.
VRAM_RESERVE = 512 * MiB
VRAM_RESERVE_FRACTION = 0.05


@dataclass
class GpuDevice:
    name: str
    description: str
    free: int
    total: int
    integrated: bool = False


@dataclass
class Machine:
    """A snapshot of the memory this machine offers to a model."""

    ram_free: int
    ram_total: int
    offload_supported: bool          # can this llama-cpp-python build offload at all?
    gpus: list[GpuDevice] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gpu_backends: list[str] = field(default_factory=list)   # GPU backends loaded (Vulkan, CUDA...)

    @property
    def vram_free(self) -> int:
        return sum(g.free for g in self.gpus if not g.integrated)

    @property
    def vram_total(self) -> int:
        return sum(g.total for g in self.gpus if not g.integrated)

    @property
    def has_gpu(self) -> bool:
        return self.offload_supported and any(not g.integrated for g in self.gpus)

    def describe(self) -> str:
        ram = f"RAM {format_gb(self.ram_free)} free of {format_gb(self.ram_total)}"
        if self.has_gpu:
            names = ", ".join(g.name for g in self.gpus if not g.integrated)
            return f"{ram}; GPU {names}: {format_gb(self.vram_free)} free of {format_gb(self.vram_total)}"
        return f"{ram}; no GPU offload ({self.no_gpu_reason()})"

    def no_gpu_reason(self) -> str:
        if self.gpu_backends and not self.gpus:
            return f"the {', '.join(self.gpu_backends)} backend found no GPU"
        if not self.offload_supported:
            return "CPU-only llama.cpp build"
        return "no GPU found"


def offload_supported() -> bool:
    """``llama_supports_gpu_offload()`` of the installed llama-cpp-python build, after its
    backends are loaded (a GGML_BACKEND_DL build reports False until then)."""
    try:
        from .ggml import load_backends
        if load_backends().error:
            return False
        import llama_cpp
        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception as e:  # pragma: no cover - install problem
        log.debug("llama_cpp unavailable: %s", e)
        return False


def parse_size(text: str) -> int:
    """``"300M"``, ``"1.5G"``, ``"2GiB"``, ``"123456"`` (bytes) -> bytes."""
    t = text.strip().upper().replace("IB", "").replace("B", "")
    mult = {"K": 1024, "M": MiB, "G": GiB, "T": 1024 * GiB}
    if t and t[-1] in mult:
        return int(float(t[:-1]) * mult[t[-1]])
    return int(float(t))


def vram_budget() -> int | None:
    """``LONGHAND_VRAM_BUDGET`` (e.g. ``300M``, ``4G``): the most GPU memory Longhand may plan
    to use, whatever the device reports free (to leave room for other programs, or to test a
    partial offload). None when unset."""
    raw = os.environ.get("LONGHAND_VRAM_BUDGET", "").strip()
    if not raw:
        return None
    try:
        return max(0, parse_size(raw))
    except ValueError:
        log.warning("LONGHAND_VRAM_BUDGET=%r is not a size (e.g. 300M, 4G); ignored", raw)
        return None


def ggml_devices() -> list[GpuDevice]:
    """GPU devices in ggml's registry (what llama.cpp can offload to), with free memory."""
    try:
        from .ggml import load_backends
        rep = load_backends()
    except Exception as e:  # pragma: no cover
        log.debug("ggml device registry unavailable: %s", e)
        return []
    return [GpuDevice(name=d.name, description=d.description, free=d.free, total=d.total,
                      integrated=(d.type == "igpu")) for d in rep.gpus]


def gpu_backends_loaded() -> list[str]:
    """The GPU backends in ggml's registry (e.g. ["Vulkan"]), whether or not they found a device."""
    try:
        from .ggml import load_backends
        return [b for b in load_backends().registered if b.lower() not in ("cpu", "blas", "rpc")]
    except Exception:  # pragma: no cover
        return []


def gpu_modules_not_loaded() -> list[tuple[str, str]]:
    """(name, why) of the GPU backend modules this build has but could not load."""
    try:
        from .ggml import is_gpu_module, load_backends
        return [(m.name, m.reason) for m in load_backends().modules
                if is_gpu_module(m.name) and not m.loaded]
    except Exception:  # pragma: no cover
        return []


def nvidia_smi_gpus() -> list[GpuDevice]:
    """NVIDIA GPUs seen by the driver (whether or not llama.cpp was built for them)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.free,memory.total",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True,
                             timeout=5, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [x.strip() for x in line.split(",")]
        if len(parts) == 3:
            try:
                gpus.append(GpuDevice(parts[0], parts[0], int(parts[1]) * MiB, int(parts[2]) * MiB))
            except ValueError:
                continue
    return gpus


def probe() -> Machine:
    """Measure free RAM and GPU memory now."""
    import psutil
    vm = psutil.virtual_memory()
    supported = offload_supported()
    gpus = ggml_devices() if supported else []
    m = Machine(ram_free=int(vm.available), ram_total=int(vm.total), offload_supported=supported,
                gpus=gpus, gpu_backends=gpu_backends_loaded())
    budget = vram_budget()
    if budget is not None and m.gpus:
        left = budget
        for g in m.gpus:              # the budget is spread over the devices in order
            g.free = min(g.free, left)
            left -= g.free
        m.notes.append(f"GPU memory budget LONGHAND_VRAM_BUDGET={os.environ['LONGHAND_VRAM_BUDGET']} "
                       f"({format_gb(budget, 2)}) applies.")
    if not supported and not m.gpu_backends:
        seen = nvidia_smi_gpus()
        if seen:
            m.notes.append(f"A GPU is present ({seen[0].name}) but this llama-cpp-python build "
                           "cannot use it; install the Vulkan or CUDA build (see README, "
                           "\"GPU offload\").")
    return m


# ---------------------------------------------------------------------------------------
# GPU layers that fit

def vram_reserve(free_vram: int) -> int:
    return VRAM_RESERVE + int(free_vram * VRAM_RESERVE_FRACTION)


@dataclass
class OffloadSizes:
    """A model's memory in the units llama.cpp's ``n_gpu_layers`` counts, for
    :func:`fit_gpu_layers`: the output layer (output head and final norm; a tied head stays
    with the token embeddings in system memory), each block's weights, and the f16 KV cache
    each block keeps for every token of context. Read exactly from a GGUF
    (:meth:`from_gguf`), or estimated from the model catalog's figures for a file not
    downloaded yet (``library.catalog``): the same rules either way."""

    blocks: list[int]          # weight bytes of each block, in block order
    output: int                # the output layer's bytes
    kv_per_token: int          # f16 KV cache bytes per token of context, per block
    input: int = 0             # token embeddings: always in system memory

    @classmethod
    def from_gguf(cls, info) -> OffloadSizes:
        """Exact sizes from a :class:`~longhand.core.library.gguf.GGUFInfo`'s tensor table."""
        n_layer = info.block_count
        rest = [t for t in info.tensors if not t.name.startswith("blk.")]
        return cls(blocks=info.layer_bytes(),
                   output=sum(t.nbytes or 0 for t in rest if not t.name.startswith("token_embd")),
                   kv_per_token=info.kv_bytes_per_token() // n_layer if n_layer > 0 else 0,
                   input=sum(t.nbytes or 0 for t in rest if t.name.startswith("token_embd")))

    @property
    def total_layers(self) -> int:
        """llama.cpp's count: the blocks and the output layer."""
        return len(self.blocks) + 1

    def gpu_bytes(self, layers: int, n_ctx: int) -> int:
        """Bytes on the GPU with ``n_gpu_layers = layers``: the output layer, then the last
        ``layers - 1`` blocks with their KV cache."""
        if layers <= 0:
            return 0
        n = min(layers - 1, len(self.blocks))
        on_gpu = self.blocks[len(self.blocks) - n:] if n else []
        return self.output + sum(on_gpu) + n * self.kv_per_token * n_ctx


def fit_gpu_layers(sizes: OffloadSizes, n_ctx: int, free_vram: int) -> int:
    """How many layers of a model of these ``sizes`` fit in ``free_vram`` bytes with a context
    of ``n_ctx`` tokens, counted as llama.cpp's ``n_gpu_layers`` counts. The one rule for
    both the "auto" GPU layers of an installed file and the quantization advice of the model
    catalog (files not downloaded yet).

    llama.cpp fills the GPU from the end: ``n_gpu_layers = 1`` is the output layer alone,
    ``n`` is the output layer plus the last ``n - 1`` blocks, ``block_count + 1`` is
    everything (checked on a Vulkan device: tests/integration/test_gpu_vulkan.py). Each block
    costs its weights plus its share of the f16 KV cache; :func:`vram_reserve` is kept free
    for llama.cpp's compute buffers, the driver and the desktop. Returns 0..block_count+1.
    """
    if n_ctx <= 0:
        raise ValueError("n_ctx must be the job's context size, not 0")
    if free_vram <= 0 or not sizes.blocks:
        return 0
    budget = free_vram - vram_reserve(free_vram)
    kv_per_layer = sizes.kv_per_token * n_ctx
    if sizes.output > budget:
        return 0
    budget -= sizes.output
    layers = 1
    for weights in reversed(sizes.blocks):
        cost = weights + kv_per_layer
        if cost > budget:
            break
        budget -= cost
        layers += 1
    return layers


def estimate_gpu_layers(info, n_ctx: int, free_vram: int) -> int:
    """How many layers of the model ``info`` (a :class:`~.gguf.GGUFInfo`) fit in ``free_vram``
    bytes with a context of ``n_ctx`` tokens (:func:`fit_gpu_layers` on the GGUF's exact
    sizes). Returns 0..block_count+1."""
    return fit_gpu_layers(OffloadSizes.from_gguf(info), n_ctx, free_vram)


def auto_gpu_layers(path: str | os.PathLike, n_ctx: int, machine: Machine | None = None) -> tuple[int, str]:
    """The "auto" setting: (layers to offload, why) for this model, context and machine."""
    from ..library.gguf import read_gguf
    m = machine or probe()
    if not m.offload_supported and m.gpu_backends:
        return 0, (f"The {', '.join(m.gpu_backends)} backend found no GPU on this machine; "
                   "running on the CPU.")
    if not m.offload_supported:
        failed = gpu_modules_not_loaded()
        if failed:
            name, why = failed[0]
            return 0, f"The {name} backend did not load ({why}); running on the CPU."
        return 0, "This llama-cpp-python build cannot offload to a GPU; running on the CPU."
    if not m.has_gpu:
        return 0, "No GPU found; running on the CPU."
    info = read_gguf(path)
    n = estimate_gpu_layers(info, n_ctx, m.vram_free)
    total = info.block_count + 1
    if n >= total:
        return n, f"All {total} layers fit in GPU memory ({format_gb(m.vram_free)} free)."
    if n == 0:
        return 0, (f"Not one layer fits in the free GPU memory ({format_gb(m.vram_free)}) with a "
                   f"{n_ctx}-token context; running on the CPU.")
    return n, (f"{n}/{total} layers fit in GPU memory ({format_gb(m.vram_free)} free) with a "
               f"{n_ctx}-token context; the rest run on the CPU.")
