"""Tests: the model catalog, the quantization recommendation and the GPU-layer estimate."""

from __future__ import annotations

import pytest

from longhand.core.backends import gpu
from longhand.core.backends.gpu import GiB, GpuDevice, estimate_gpu_layers
from longhand.core.library.catalog import load_catalog
from longhand.core.library.gguf import read_gguf

GB = 1_000_000_000


def test_demo_catalog_entry_matches_its_gguf(demo_model):
    demo = load_catalog().get("demo")
    info = read_gguf(demo_model)
    assert demo.quant(None).filename == demo_model.name
    assert (demo.layers, demo.head_count_kv, demo.head_dim) == (info.block_count,
                                                               info.head_count_kv, info.key_length)
    assert demo.kv_cache_bytes(4096) == info.kv_cache_bytes(4096)


def test_gpu_layers_fit_free_vram(demo_model):
    info = read_gguf(demo_model)
    n_ctx = 8192
    per_layer = [w + info.kv_bytes_per_token() // info.block_count * n_ctx for w in info.layer_bytes()]
    reserve = gpu.vram_reserve
    assert estimate_gpu_layers(info, n_ctx, 0) == 0
    assert estimate_gpu_layers(info, n_ctx, 4 * GiB) == info.block_count + 1   # everything
    # llama.cpp's order: the output layer first (norm + head; a tied head stays with the
    # embeddings), then blocks from the last one. Just enough for exactly k layers:
    head = sum(t.nbytes or 0 for t in info.tensors if not t.name.startswith(("blk.", "token_embd")))
    for k in (1, 5, 12):
        budget = head + sum(per_layer[::-1][:k - 1]) + 1000
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
