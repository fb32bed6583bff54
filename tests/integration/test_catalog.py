"""Tests: the model catalog, the quantization recommendation and the GPU-layer estimate."""

from __future__ import annotations

import psutil
import pytest

from longhand.core.backends import gpu
from longhand.core.backends.gpu import GiB, GpuDevice, estimate_gpu_layers
from longhand.core.engine.prompts import FORMATS
from longhand.core.library.catalog import CatalogError, Machine, load_catalog, recommend
from longhand.core.library.gguf import read_gguf

GB = 1_000_000_000


def cpu_machine(ram_free: float) -> Machine:
    return Machine(ram_free=int(ram_free * GB), ram_total=int(64 * GB), offload_supported=False)


def gpu_machine(vram_free_gib: float, ram_free: float = 32) -> Machine:
    dev = GpuDevice("CUDA0", "test GPU", int(vram_free_gib * GiB), int(vram_free_gib * GiB))
    return Machine(ram_free=int(ram_free * GB), ram_total=int(64 * GB), offload_supported=True,
                   gpus=[dev])


def test_catalog_lists_the_longwriter_models():
    cat = load_catalog()
    llama = cat.get("longwriter-llama3.1-8b")
    assert llama.repo == "bartowski/LongWriter-llama3.1-8b-GGUF"
    assert llama.quant("Q4_K_M").filename == "LongWriter-llama3.1-8b-Q4_K_M.gguf"
    assert llama.quant("q4_k_m").size == 4_920_000_000
    assert {q.quant for q in llama.quants} >= {"Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "IQ4_XS", "Q3_K_M"}
    glm = cat.get("LongWriter-glm4-9b")
    assert glm.repo == "QuantFactory/LongWriter-glm4-9b-GGUF"
    assert glm.quant("Q4_K_M").filename == "LongWriter-glm4-9b.Q4_K_M.gguf"
    assert glm.quant("Q4_K_M").size == 6_250_000_000
    assert {q.quant for q in glm.quants} >= {"Q4_K_M", "Q5_K_M", "Q8_0"}
    demo = cat.get("demo")
    assert demo.source == "package" and demo.format == "completion"
    for m in cat.models:
        assert m.format in FORMATS
        assert m.context == 32768
    assert (llama.format, glm.format) == ("longwriter-llama3", "longwriter-glm4")


def test_kv_cache_sizes_match_the_reference_figures():
    cat = load_catalog()
    assert cat.get("longwriter-llama3.1-8b").kv_cache_bytes(32768) == 4 * GiB
    assert cat.get("longwriter-glm4-9b").kv_cache_bytes(32768) == int(1.25 * GiB)


def test_demo_catalog_entry_matches_its_gguf(demo_model):
    demo = load_catalog().get("demo")
    info = read_gguf(demo_model)
    assert demo.quant(None).filename == demo_model.name
    assert (demo.layers, demo.head_count_kv, demo.head_dim) == (info.block_count,
                                                               info.head_count_kv, info.key_length)
    assert demo.kv_cache_bytes(4096) == info.kv_cache_bytes(4096)


def test_unknown_model_and_quant_are_clear_errors():
    cat = load_catalog()
    with pytest.raises(CatalogError, match="No model 'gpt-5'"):
        cat.get("gpt-5")
    with pytest.raises(CatalogError, match="no Q7_K file; choose one of"):
        cat.get("longwriter-glm4-9b").quant("Q7_K")


def test_cpu_recommendation_says_why():
    llama = load_catalog().get("longwriter-llama3.1-8b")
    big = recommend(llama, cpu_machine(24))
    assert big.quant.quant == "Q5_K_M"
    assert "runs on the CPU" in big.reason and "24.0 GB RAM free" in big.reason
    assert "Q8_0, Q6_K fit too" in big.reason
    # 9 GB free: Q4_K_M needs 4.92 + 4.29 (KV) + 0.54 = 9.75 GB, IQ4_XS 9.28 GB, Q3_K_M 8.85 GB
    small = recommend(llama, cpu_machine(9))
    assert small.quant.quant == "Q3_K_M"
    assert small.fit("Q4_K_M").where == "none" and small.fit("Q3_K_M").where == "cpu"
    # a shorter context frees the KV cache: Q4_K_M fits again
    short = recommend(llama, cpu_machine(9), n_ctx=8192)
    assert short.quant.quant == "Q5_K_M" and short.fit("Q4_K_M").where == "cpu"
    none = recommend(llama, cpu_machine(2))
    assert none.quant is None and "Not enough free memory" in none.reason


def test_gpu_recommendation_prefers_full_offload():
    glm = load_catalog().get("longwriter-glm4-9b")
    r = recommend(glm, gpu_machine(24))
    assert r.quant.quant == "Q8_0" and "entirely in GPU memory" in r.reason
    r = recommend(glm, gpu_machine(8))
    assert r.quant.quant == "Q4_K_M" and r.fit("Q4_K_M").where == "gpu"
    assert r.fit("Q8_0").where == "partial"
    assert "all 41 layers" in r.reason
    # Llama's 4 GiB KV cache at 32k does not leave room for a 4-bit file on 8 GiB: a partial
    # offload of Q4_K_M beats a 2-bit file that fits entirely.
    llama = load_catalog().get("longwriter-llama3.1-8b")
    r = recommend(llama, gpu_machine(8))
    assert r.quant.quant == "Q4_K_M" and r.fit("Q4_K_M").where == "partial"
    assert r.fit("Q2_K").where == "gpu"
    assert f"{r.fit('Q4_K_M').gpu_layers}/33 layers on the GPU" in r.reason


def test_probe_reports_this_machine():
    m = gpu.probe()
    assert 0 < m.ram_free <= m.ram_total == psutil.virtual_memory().total
    import llama_cpp
    assert m.offload_supported == bool(llama_cpp.llama_supports_gpu_offload())
    if not m.offload_supported:
        assert m.gpus == [] and not m.has_gpu
        assert "no GPU offload" in m.describe()


def test_gpu_layers_fit_free_vram(demo_model):
    info = read_gguf(demo_model)
    n_ctx = 8192
    per_layer = [w + info.kv_bytes_per_token() // info.block_count * n_ctx for w in info.layer_bytes()]
    reserve = gpu.vram_reserve
    assert estimate_gpu_layers(info, n_ctx, 0) == 0
    assert estimate_gpu_layers(info, n_ctx, 4 * GiB) == info.block_count + 1   # everything
    # just enough for exactly five blocks after the reserve
    for k in (1, 5, 12):
        budget = sum(per_layer[:k]) + 1000
        free = budget
        while free - reserve(free) < budget:   # invert the reserve
            free += 1 << 16
        assert estimate_gpu_layers(info, n_ctx, free) == k
    # more context, fewer layers in the same memory
    free = 600 * 2**20
    assert estimate_gpu_layers(info, 32768, free) < estimate_gpu_layers(info, 2048, free)
    with pytest.raises(ValueError):
        estimate_gpu_layers(info, 0, free)


def test_auto_gpu_layers_on_this_build(demo_model):
    layers, why = gpu.auto_gpu_layers(demo_model, 4096)
    if not gpu.offload_supported():
        assert layers == 0 and "cannot offload" in why
    else:  # pragma: no cover - GPU builds
        assert 0 <= layers <= read_gguf(demo_model).block_count + 1 and why
    big = gpu.Machine(8 * GB, 16 * GB, True, [GpuDevice("g", "g", 4 * GiB, 4 * GiB)])
    assert gpu.auto_gpu_layers(demo_model, 4096, big) == (19, "All 19 layers fit in GPU memory (4.3 GB free).")
    small = gpu.Machine(8 * GB, 16 * GB, True, [GpuDevice("g", "g", 700 * 2**20, 700 * 2**20)])
    layers, why = gpu.auto_gpu_layers(demo_model, 32768, small)
    assert 0 < layers < 19 and f"{layers}/19 layers fit" in why
    none = gpu.Machine(8 * GB, 16 * GB, True, [])
    assert gpu.auto_gpu_layers(demo_model, 4096, none) == (0, "No GPU found; running on the CPU.")
