"""Unit: one rule for the GPU layers of a model — the "auto" layers a load uses and
``longhand doctor`` prints (``gpu.estimate_gpu_layers`` on the GGUF) and the model catalog's
quantization advice (``catalog.assess``) count the same layers for the same file, and the
catalog's estimate for a file not downloaded yet follows the same rules.

Small GGUF files from tests/ggufmaker.py stand in for models (no model needed); budgets just
above ``gpu.VRAM_RESERVE`` make a few hundred KiB of layers a real partial offload.
"""

from __future__ import annotations

import json

import pytest

from ggufmaker import ARR, F32, STR, U32, make_gguf
from longhand.core import doctor
from longhand.core.backends import gpu
from longhand.core.backends.gpu import GpuDevice, Machine, MiB, OffloadSizes, fit_gpu_layers
from longhand.core.library.catalog import assess, load_catalog, offload_sizes, recommend
from longhand.core.library.demo import DEMO_FILE_NAME
from longhand.core.library.gguf import read_gguf

GB = 1_000_000_000
N_CTX = 1024
N_LAYERS = 18
N_EMBD = 64           # 4 heads of 16, 1 KV head: 64 bytes of f16 KV per token and block


def machine(free: int) -> Machine:
    return Machine(ram_free=32 * GB, ram_total=64 * GB, offload_supported=True,
                   gpus=[GpuDevice("Vulkan0", "test GPU", free, free)])


def budgets(lo_mib: int = 536, hi_mib: int = 556, step: int = 64 * 1024) -> range:
    return range(lo_mib * MiB, hi_mib * MiB, step)


def small_model(*, embd_elems: int, block_elems: list[int], output_elems: int = 0,
                arch: str = "gemma3") -> bytes:
    """A GGUF shaped like a transformer: token embeddings, blocks, a final norm and, unless
    ``output_elems`` is 0 (a tied head, as Gemma's), an output head. F32 tensors."""
    meta = [
        ("general.architecture", STR, arch),
        ("general.name", STR, "Small test model"),
        ("general.file_type", U32, 15),                      # Q4_K_M, as the demo's
        (f"{arch}.block_count", U32, len(block_elems)),
        (f"{arch}.context_length", U32, 32768),
        (f"{arch}.embedding_length", U32, N_EMBD),
        (f"{arch}.attention.head_count", U32, 4),
        (f"{arch}.attention.head_count_kv", U32, 1),
        ("tokenizer.ggml.tokens", ARR, (STR, [f"t{i}" for i in range(64)])),
        ("tokenizer.ggml.scores", ARR, (F32, [0.0] * 64)),
    ]
    tensors = [("token_embd.weight", (embd_elems,), 0, embd_elems * 4)]
    for i, n in enumerate(block_elems):
        tensors.append((f"blk.{i}.attn_q.weight", (N_EMBD * N_EMBD,), 0, N_EMBD * N_EMBD * 4))
        tensors.append((f"blk.{i}.ffn_up.weight", (n - N_EMBD * N_EMBD,), 0, (n - N_EMBD * N_EMBD) * 4))
    tensors.append(("output_norm.weight", (N_EMBD,), 0, N_EMBD * 4))
    if output_elems:
        tensors.append(("output.weight", (output_elems,), 0, output_elems * 4))
    return make_gguf(meta, tensors)


def demo_like(scale: int = 1) -> bytes:
    """Gemma 3 270M's layout in small: tied head, token embeddings most of the file, blocks
    of two sizes (the demo's are 3.6 and 4.0 MB)."""
    blocks = [scale * (20480 if i % 3 == 2 else 18432) for i in range(N_LAYERS)]
    return small_model(embd_elems=scale * 640 * 1024, block_elems=blocks)


def write_catalog(tmp_path, quants: dict[str, int], *, file_pattern: str) -> object:
    """A one-model catalog (``load_catalog(path)``): the demo's shape, these quant sizes."""
    data = {"models": [{
        "id": "small", "name": "Small", "family": "gemma3", "format": "completion",
        "repo": "test/small", "file_pattern": file_pattern, "context": 32768,
        "architecture": {"layers": N_LAYERS, "embedding_length": N_EMBD, "head_count": 4,
                         "head_count_kv": 1, "head_dim": N_EMBD // 4},
        "quants": [{"quant": q, "size_gb": size / 1e9} for q, size in quants.items()],
        "default_quant": next(iter(quants)),
    }]}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    return load_catalog(path).get("small")


def test_the_catalog_counts_an_installed_files_layers_as_doctor_does(models):
    """The demo catalog entry and an installed file of its name: for every VRAM budget from
    "not one layer" to "all of them", the quantization advice, the "auto" GPU layers and
    ``longhand doctor``'s model entry give the same count (they once gave 2/19 and 5/19)."""
    models.mkdir()
    path = models / DEMO_FILE_NAME
    path.write_bytes(demo_like())
    info = read_gguf(path)
    demo = load_catalog().get("demo")
    seen = set()
    for free in budgets():
        m = machine(free)
        exact = gpu.estimate_gpu_layers(info, N_CTX, free)
        fit = assess(demo, demo.quants[0], m, N_CTX)
        assert (fit.basis, fit.gpu_layers, fit.total_layers) == ("gguf", exact, N_LAYERS + 1), free
        assert fit.where == ("gpu" if exact == N_LAYERS + 1 else "partial" if exact else "cpu")
        assert fit.gpu_bytes == OffloadSizes.from_gguf(info).gpu_bytes(exact, N_CTX)
        assert gpu.auto_gpu_layers(path, N_CTX, m)[0] == exact
        seen.add(exact)
    assert {0, 1, N_LAYERS + 1} <= seen and len(seen) > N_LAYERS // 2   # none, partial, all

    for free in (538 * MiB, 541 * MiB, 542 * MiB, 600 * MiB):
        exact = gpu.estimate_gpu_layers(info, N_CTX, free)
        [entry] = [e for e in doctor._model_entries(machine(free), N_CTX) if e["path"] == str(path)]
        assert entry["pick"] == "Q4_K_M" and entry["pick_sizes_from"] == "gguf"
        assert entry["gpu_layers"] == entry["pick_gpu_layers"] == exact, free
        if 0 < exact <= N_LAYERS:
            assert f"{exact}/{N_LAYERS + 1} layers on the GPU" in entry["pick_reason"]


def test_the_estimate_for_a_file_not_downloaded_follows_the_same_rules(tmp_path):
    """Without the file the catalog knows only its size; on a file laid out as the estimate
    assumes (token embeddings, output head and every block the same size) it counts exactly
    the layers the GGUF gives: same reserve, same KV cache, same order."""
    block = 40960
    data = small_model(embd_elems=block, block_elems=[block] * N_LAYERS, output_elems=block - N_EMBD)
    model = write_catalog(tmp_path, {"Q4_K_M": (N_LAYERS + 2) * block * 4}, file_pattern="small-{quant}.gguf")
    installed, empty = tmp_path / "installed", tmp_path / "empty"
    installed.mkdir()
    empty.mkdir()
    (installed / "small-Q4_K_M.gguf").write_bytes(data)
    q = model.quants[0]
    exact_sizes, basis = offload_sizes(model, q, installed)
    guess, guess_basis = offload_sizes(model, q, empty)
    assert (basis, guess_basis) == ("gguf", "catalog")
    assert guess.kv_per_token == exact_sizes.kv_per_token == 64
    assert guess.blocks == exact_sizes.blocks and guess.output == exact_sizes.output
    seen = set()
    for free in budgets():
        a = assess(model, q, machine(free), N_CTX, installed)
        b = assess(model, q, machine(free), N_CTX, empty)
        assert (a.gpu_layers, a.where, a.gpu_bytes) == (b.gpu_layers, b.where, b.gpu_bytes), free
        seen.add(a.gpu_layers)
    assert {0, N_LAYERS + 1} <= seen and len(seen) > N_LAYERS // 2


def test_another_installed_quant_sizes_the_one_not_downloaded(tmp_path):
    """With Q4 installed, Q8 (twice the bytes, the same layout) is sized from Q4's GGUF
    scaled up: within one layer of Q8's own figures at every budget. The catalog's figures
    alone, which cannot know that the embeddings are most of this file, are further off."""
    q4, q8 = demo_like(1), demo_like(2)
    model = write_catalog(tmp_path, {"Q4_K_M": len(q4), "Q8_0": len(q8)}, file_pattern="small-{quant}.gguf")
    only_q4, only_q8, none = tmp_path / "q4", tmp_path / "q8", tmp_path / "none"
    for d in (only_q4, only_q8, none):
        d.mkdir()
    (only_q4 / "small-Q4_K_M.gguf").write_bytes(q4)
    (only_q8 / "small-Q8_0.gguf").write_bytes(q8)
    q8_entry = model.quant("Q8_0")
    assert offload_sizes(model, q8_entry, only_q4)[1] == "sibling"
    off_sibling = off_catalog = 0
    for free in budgets(536, 570):
        exact = assess(model, q8_entry, machine(free), N_CTX, only_q8)
        scaled = assess(model, q8_entry, machine(free), N_CTX, only_q4)
        guess = assess(model, q8_entry, machine(free), N_CTX, none)
        assert (exact.basis, scaled.basis, guess.basis) == ("gguf", "sibling", "catalog")
        assert abs(scaled.gpu_layers - exact.gpu_layers) <= 1, free
        off_sibling += abs(scaled.gpu_layers - exact.gpu_layers)
        off_catalog += abs(guess.gpu_layers - exact.gpu_layers)
    assert off_sibling < off_catalog


def test_a_corrupt_installed_file_falls_back_to_the_catalogs_figures(tmp_path):
    model = write_catalog(tmp_path, {"Q4_K_M": 3 * MiB}, file_pattern="small-{quant}.gguf")
    (tmp_path / "small-Q4_K_M.gguf").write_bytes(b"GGUF" + b"\0" * 20)
    sizes, basis = offload_sizes(model, model.quants[0], tmp_path)
    assert basis == "catalog" and len(sizes.blocks) == N_LAYERS
    r = recommend(model, machine(8 * 1024 * MiB), N_CTX, tmp_path)
    assert r.quant is not None and r.fit("Q4_K_M").where == "gpu"


def test_fit_gpu_layers_fills_from_the_output_layer_then_the_last_blocks():
    reserve = gpu.vram_reserve
    sizes = OffloadSizes(blocks=[300, 200, 100], output=50, kv_per_token=1, input=10 ** 9)
    base = int(gpu.VRAM_RESERVE / (1 - gpu.VRAM_RESERVE_FRACTION)) - 100   # leaves nothing

    def free_for(room: int) -> int:      # the least free VRAM that leaves ``room`` bytes after the reserve
        f = base
        while f - reserve(f) < room:
            f += 1
        return f

    assert fit_gpu_layers(sizes, 10, 0) == 0
    assert fit_gpu_layers(sizes, 10, free_for(49)) == 0
    assert fit_gpu_layers(sizes, 10, free_for(50)) == 1             # the output layer alone
    assert fit_gpu_layers(sizes, 10, free_for(50 + 110)) == 2       # + the last block (100 + KV 10)
    assert fit_gpu_layers(sizes, 10, free_for(50 + 110 + 209)) == 2
    assert fit_gpu_layers(sizes, 10, free_for(50 + 110 + 210)) == 3
    assert fit_gpu_layers(sizes, 10, free_for(50 + 110 + 210 + 310)) == 4 == sizes.total_layers
    assert sizes.gpu_bytes(0, 10) == 0 and sizes.gpu_bytes(2, 10) == 160
    assert sizes.gpu_bytes(4, 10) == 50 + 600 + 30                   # token embeddings stay in RAM
    with pytest.raises(ValueError):
        fit_gpu_layers(sizes, 0, base)
