"""Unit: the pieces of backend loading and ``longhand doctor`` that need no model and no GPU."""

from __future__ import annotations

import pytest

from longhand.core.backends import ggml
from longhand.core.backends.ggml import BackendModule, BackendsReport, Device
from longhand.core.backends.gpu import GiB, MiB, parse_size, vram_budget
from longhand.core.backends.llama import _fallback_note, offload_ladder
from longhand.core.doctor import gpu_summary, parse_system_info, render


def _touch(folder, *names):
    for n in names:
        (folder / n).write_bytes(b"")
    return folder


def test_linked_cpu_wheel_has_no_backend_modules(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    _touch(tmp_path, "libggml.so", "libggml.so.0", "libggml.so.0.25.3", "libggml-base.so",
           "libggml-base.so.0", "libggml-cpu.so", "libggml-cpu.so.0", "libggml-cpu.so.0.25.3",
           "libllama.so", "libllama.so.0")
    assert ggml.backend_modules(tmp_path) == []
    assert ggml.ggml_library_path(tmp_path).name == "libggml.so.0"


def test_backend_dl_wheel_lists_cpu_and_vulkan_modules(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    _touch(tmp_path, "libggml.so", "libggml.so.0", "libggml-base.so", "libggml-base.so.0",
           "libggml-cpu.so", "libggml-vulkan.so", "libllama.so")
    mods = ggml.backend_modules(tmp_path)
    assert [m.name for m in mods] == ["cpu", "vulkan"]
    assert [ggml.is_gpu_module(m.name) for m in mods] == [False, True]


def test_cpu_variant_modules_are_not_gpu_modules(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    _touch(tmp_path, "libggml.so.0", "libggml-cpu-haswell.so", "libggml-cpu-skylakex.so", "libggml-cuda.so")
    mods = {m.name: ggml.is_gpu_module(m.name) for m in ggml.backend_modules(tmp_path)}
    assert mods == {"cpu-haswell": False, "cpu-skylakex": False, "cuda": True}
    assert ggml._backend_name("cpu-haswell") == "cpu"


def test_missing_ggml_library_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    _touch(tmp_path, "libllama.so")
    with pytest.raises(OSError, match="no ggml library in"):
        ggml.ggml_library_path(tmp_path)


def test_offload_ladder_halves_then_uses_the_cpu():
    assert offload_ladder(19) == [19, 9, 0]
    assert offload_ladder(1) == [1, 0]
    assert offload_ladder(0) == [0]


def test_fallback_note_quotes_ggml_when_it_ran_out_of_device_memory():
    lines = ["ggml_vulkan: Failed to allocate pinned memory (whatever)",
             "alloc_tensor_range: failed to allocate Vulkan0 buffer of size 68329984",
             "llama_model_load: error loading model"]
    note = _fallback_note("m.gguf", 19, 9, lines)
    assert note == ("Loading m.gguf with 19 layers on the GPU failed (out of GPU memory: "
                    "alloc_tensor_range: failed to allocate Vulkan0 buffer of size 68329984); "
                    "retrying with 9 layers on the GPU.")
    assert _fallback_note("m.gguf", 9, 0, []).endswith(
        "(out of GPU memory, or a GPU driver problem); running on the CPU instead.")


def test_sizes_and_the_vram_budget(monkeypatch):
    assert parse_size("300M") == 300 * MiB
    assert parse_size("1.5G") == int(1.5 * GiB)
    assert parse_size("2GiB") == 2 * GiB
    assert parse_size("4096") == 4096
    monkeypatch.delenv("LONGHAND_VRAM_BUDGET", raising=False)
    assert vram_budget() is None
    monkeypatch.setenv("LONGHAND_VRAM_BUDGET", "600M")
    assert vram_budget() == 600 * MiB
    monkeypatch.setenv("LONGHAND_VRAM_BUDGET", "lots")
    assert vram_budget() is None


def test_system_info_features_per_backend():
    text = ("CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 0 | LLAMAFILE = 1 | OPENMP = 1 | "
            "REPACK = 1 | Vulkan : FP16 = 1 | ")
    assert parse_system_info(text) == {"CPU": ["SSE3", "AVX", "AVX2", "LLAMAFILE", "OPENMP", "REPACK"],
                                       "Vulkan": ["FP16"]}


CPU_DEV = Device("CPU", "AMD EPYC", "cpu", 20 * GiB, 24 * GiB, "CPU")


def test_no_gpu_is_said_plainly_for_a_cpu_only_build():
    rep = BackendsReport(registered=["CPU"], devices=[CPU_DEV])
    usable, text = gpu_summary(rep, False, [])
    assert not usable
    assert text.startswith("No GPU: this llama.cpp build is CPU-only (backends: CPU); Longhand writes on the CPU.")
    _, text = gpu_summary(rep, False, ["NVIDIA RTX 4070"])
    assert "A GPU is present (NVIDIA RTX 4070) but cannot be used by this build." in text


def test_no_gpu_when_the_vulkan_backend_finds_no_device():
    rep = BackendsReport(dynamic=True, registered=["Vulkan", "CPU"], devices=[CPU_DEV],
                         modules=[BackendModule("cpu", "/x/libggml-cpu.so", True),
                                  BackendModule("vulkan", "/x/libggml-vulkan.so", True, "0 devices")])
    usable, text = gpu_summary(rep, False, [])
    assert not usable and text.startswith("No GPU: the vulkan backend loaded but found no usable device")


def test_no_gpu_when_the_vulkan_backend_did_not_load():
    rep = BackendsReport(dynamic=True, registered=["CPU"], devices=[CPU_DEV],
                         modules=[BackendModule("cpu", "/x/libggml-cpu.so", True),
                                  BackendModule("vulkan", "/x/libggml-vulkan.so", False,
                                                "loading it crashed a test process (signal 11)")])
    usable, text = gpu_summary(rep, False, [])
    assert not usable
    assert text == ("No GPU: the GPU backend did not load (vulkan: loading it crashed a test process "
                    "(signal 11)); Longhand writes on the CPU.")


def test_a_gpu_is_named_with_its_memory():
    gpu = Device("Vulkan0", "AMD Radeon RX 7600", "gpu", 7 * GiB, 8 * GiB, "Vulkan")   # 7.5 and 8.6 GB
    rep = BackendsReport(dynamic=True, registered=["Vulkan", "CPU"], devices=[gpu, CPU_DEV])
    usable, text = gpu_summary(rep, True, [])
    assert usable and text == "GPU offload available: Vulkan0 (AMD Radeon RX 7600), 7.5 GB free of 8.6 GB."


def test_render_shows_every_part_of_the_report():
    d = {"longhand": "0.1.0", "python": "3.11.7", "platform": "Linux 6 x86_64", "frozen": True,
         "llama_cpp_python": "0.3.36", "llama_cpp_error": None,
         "backends": {"as_modules": True, "loaded": ["Vulkan", "CPU"], "notes": [],
                      "modules": [{"name": "vulkan", "path": "/x/libggml-vulkan.so", "loaded": True,
                                   "reason": "1 device"}]},
         "devices": [{"name": "Vulkan0", "type": "gpu", "description": "llvmpipe", "free": 10**9, "total": 2 * 10**9}],
         "gpu": {"summary": "GPU offload available: Vulkan0 (llvmpipe), 1.0 GB free of 2.0 GB.",
                 "vram_budget": None},
         "cpu": {"threads": 2, "logical_cpus": 2, "features": ["AVX2", "FMA"]},
         "memory": {"ram_free": 10 * 10**9, "ram_total": 16 * 10**9}, "machine_notes": [],
         "job": {"words": 10000, "context": 20480},
         "models": [{"id": "demo", "path": "/m/gemma.gguf", "quant": "Q4_K_M", "pick": "Q4_K_M",
                     "pick_reason": "fits", "gpu_layers": 19, "layers": 19,
                     "gpu_layers_reason": "All 19 layers fit in GPU memory (1.0 GB free)."}]}
    text = render(d)
    for part in ("Longhand 0.1.0", "frozen app", "llama-cpp-python 0.3.36",
                 "Backends (as loadable modules): loaded Vulkan, CPU", "vulkan   loaded - 1 device",
                 "Vulkan0    gpu   llvmpipe: 1.0 GB free of 2.0 GB", "RAM: 10.0 GB free of 16.0 GB", "GPU offload available",
                 "features in use: AVX2 FMA", "10000-word job (20480-token context)",
                 "quantization: Q4_K_M - fits", "GPU layers: 19/19 - All 19 layers fit"):
        assert part in text, part


def test_the_frozen_app_never_tells_the_user_to_pip_install(tmp_path, monkeypatch):
    import sys

    from longhand.core.backends import factory
    from longhand.core.errors import ModelError
    monkeypatch.setenv("LONGHAND_MODELS_DIR", str(tmp_path))
    monkeypatch.delenv("LONGHAND_MODEL", raising=False)
    monkeypatch.setattr(factory, "demo_model_path", lambda *a, **k: None)
    with pytest.raises(ModelError) as source:
        factory.resolve_model_path()
    assert "pip install 'longhand[demo]'" in str(source.value)       # a pip install may say pip
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(ModelError) as frozen:
        factory.resolve_model_path()
    assert "pip" not in str(frozen.value) and "File → Models…" in str(frozen.value)
