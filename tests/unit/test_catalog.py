"""Tests: the model catalog, the quantization recommendation and the GPU-layer estimate."""

from __future__ import annotations

import psutil
import pytest

from longhand.core.backends import gpu
from longhand.core.backends.formats import FORMATS
from longhand.core.backends.gpu import GiB, GpuDevice, Machine
from longhand.core.library.catalog import CatalogError, load_catalog, recommend

GB = 1_000_000_000


def cpu_machine(ram_free: float) -> Machine:
    return Machine(ram_free=int(ram_free * GB), ram_total=int(64 * GB), offload_supported=False)


def gpu_machine(vram_free_gib: float, ram_free: float = 32) -> Machine:
    dev = GpuDevice("CUDA0", "test GPU", int(vram_free_gib * GiB), int(vram_free_gib * GiB))
    return Machine(ram_free=int(ram_free * GB), ram_total=int(64 * GB), offload_supported=True,
                   gpus=[dev])


def test_catalog_entries_are_usable():
    """Every entry can be found, downloaded and prompted: checks, not a copy of catalog.json."""
    cat = load_catalog()
    assert len([m for m in cat.models if m.source == "hub"]) >= 2    # real models, not only the demo
    for m in cat.models:
        assert cat.get(m.id.upper()) is m                        # ids are case-insensitive
        assert m.format in FORMATS, m.id                         # a prompt format we have
        assert m.quant(None).quant == m.default_quant            # the default quant exists
        assert m.quant(m.default_quant.lower()) is m.quant(m.default_quant)
        assert len({q.filename for q in m.quants}) == len(m.quants)
        assert all(q.filename.endswith(".gguf") and q.size > 0 for q in m.quants), m.id
        assert m.layers > 0 and m.head_count_kv > 0 and m.head_dim > 0 and m.context >= 4096
        if m.source == "hub":
            assert "/" in m.repo and m.revision
        else:
            assert m.source == "package" and m.package


def test_kv_cache_sizes_match_the_reference_figures():
    cat = load_catalog()
    assert cat.get("longwriter-llama3.1-8b").kv_cache_bytes(32768) == 4 * GiB
    assert cat.get("longwriter-glm4-9b").kv_cache_bytes(32768) == int(1.25 * GiB)


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
