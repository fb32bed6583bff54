"""GPU offload on a real Vulkan device, through Longhand, with the Vulkan build of llama.cpp.

These tests need llama-cpp-python built with GGML_VULKAN=ON and GGML_BACKEND_DL=ON (the wheel
in ../shared/wheels-vulkan, recipe in packaging/VULKAN.md) and a Vulkan device. Without a GPU,
Mesa's lavapipe (``apt-get install mesa-vulkan-drivers``) is a conformant Vulkan driver that
runs on the CPU; ggml-vulkan hides it unless ``GGML_VK_VISIBLE_DEVICES=0`` names it.
``.ci/run`` installs the driver and the wheel into a separate venv and runs this file there
with that variable set; anywhere else the tests skip and say why.

lavapipe is slow (the demo model writes about 1 token/s on it), so every generation here is a
few dozen tokens. Which layers llama.cpp placed where is read from llama.cpp's own log (the KV
cache's "layer N: dev = Vulkan0" lines), not from Longhand's labels.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from longhand.core.backends import ggml


def _has_vulkan_build() -> bool:
    try:
        return any(m.name == "vulkan" for m in ggml.backend_modules(ggml.llama_lib_dir()))
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not _has_vulkan_build(),
    reason="this Python's llama-cpp-python has no Vulkan backend module (the CPU wheel); "
           ".ci/run runs these tests in a venv with ../shared/wheels-vulkan when it exists")

LOGGER = "longhand.core.backends.ggml"


@pytest.fixture(scope="module")
def vulkan():
    rep = ggml.load_backends()
    if not rep.gpus:
        pytest.skip("the Vulkan backend loaded but sees no device: install mesa-vulkan-drivers "
                    "(lavapipe) and set GGML_VK_VISIBLE_DEVICES=0, or run on a machine with a GPU")
    return rep


def _offloaded(lines: list[str]) -> str:
    """llama.cpp's own "offloaded N/M layers to GPU" line, as "N/M"."""
    found = [m.group(1) for ln in lines for m in [re.search(r"offloaded (\d+/\d+) layers to GPU", ln)] if m]
    return found[-1] if found else ""


def _kv_devices(lines: list[str]) -> dict[int, str]:
    """llama.cpp's KV-cache placement lines -> {layer: device}."""
    out: dict[int, str] = {}
    for ln in lines:
        m = re.search(r"llama_kv_cache: layer +(\d+): dev = (\S+)", ln)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def _open(model, layers="auto", n_ctx=1024):
    from longhand.core.backends.llama import LlamaCppBackend
    mark = ggml.log_mark()
    backend = LlamaCppBackend(model, n_ctx=n_ctx, n_gpu_layers=layers, demo=True)
    lines = ggml.log_since(mark)
    backend.offloaded = _offloaded(lines)
    return backend, _kv_devices(lines)


def _greedy(backend, n: int) -> str:
    from longhand.core.backends.base import Prompt, Sampling
    s = Sampling(temperature=0.0, repeat_penalty=1.0, dry_multiplier=0.0)
    g = backend.generate(Prompt(user=["The lighthouse keeper climbed the stairs at dusk, and"], answer=[]),
                         max_tokens=n, sampling=s)
    assert g.generated_tokens == n
    return g.text


def test_backends_load_and_the_device_is_named_with_its_memory(vulkan):
    import llama_cpp
    assert vulkan.dynamic and vulkan.method == "ggml_backend_load_all_from_path"
    assert {"CPU", "Vulkan"} <= set(vulkan.registered)
    assert vulkan.ggml_library.endswith("libggml.so.0")     # the copy libllama links
    assert llama_cpp.llama_supports_gpu_offload()
    gpu = vulkan.gpus[0]
    assert gpu.backend == "Vulkan" and gpu.name.startswith("Vulkan")
    assert gpu.description            # e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
    assert 0 < gpu.free <= gpu.total
    from longhand.core.doctor import collect
    d = collect(words=500, models=False)
    assert d["gpu"]["usable"] and gpu.description in d["gpu"]["summary"]
    vk = next(m for m in d["backends"]["modules"] if m["name"] == "vulkan")
    assert vk["loaded"] and re.fullmatch(r"\d+ devices?", vk["reason"]) and not vk["reason"].startswith("0 ")


def test_auto_layers_offload_the_whole_demo_model_and_write_the_cpu_text(vulkan, demo_model, caplog):
    from longhand.core.library.gguf import read_gguf
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    n_layer = read_gguf(demo_model).block_count
    gpu, placed = _open(demo_model)
    try:
        assert gpu.info.device == f"GPU ({n_layer + 1}/{n_layer + 1} layers)"
        assert any(f"All {n_layer + 1} layers fit" in n for n in gpu.info.notes)
        # llama.cpp put every layer's KV cache on the Vulkan device
        assert gpu.offloaded == f"{n_layer + 1}/{n_layer + 1}"
        assert set(placed) == set(range(n_layer)) and set(placed.values()) == {"Vulkan0"}
        on_gpu = _greedy(gpu, 12)
    finally:
        gpu.close()
    cpu, placed = _open(demo_model, layers=0)
    try:
        assert cpu.info.device == "CPU" and set(placed.values()) == {"CPU"}
        assert cpu.offloaded == f"0/{n_layer + 1}"
        assert _greedy(cpu, 12) == on_gpu      # the same greedy text on both backends
    finally:
        cpu.close()


def test_a_memory_budget_forces_a_partial_offload(vulkan, demo_model, monkeypatch, caplog):
    from longhand.core.backends.gpu import MiB, estimate_gpu_layers
    from longhand.core.library.gguf import read_gguf
    info = read_gguf(demo_model)
    total = info.block_count + 1
    budget = next(b for b in range(520, 1024, 2) if 3 < estimate_gpu_layers(info, 1024, b * MiB) < total - 2)
    want = estimate_gpu_layers(info, 1024, budget * MiB)      # the output layer + want - 1 blocks
    monkeypatch.setenv("LONGHAND_VRAM_BUDGET", f"{budget}M")
    backend, placed = _open(demo_model)
    try:
        assert any(f"{want}/{total} layers fit" in n for n in backend.info.notes), backend.info.notes
        on_gpu = sorted(k for k, v in placed.items() if v == "Vulkan0")
        # llama.cpp fills the device from the end: the output layer, then the last want - 1 blocks
        assert on_gpu == list(range(info.block_count - (want - 1), info.block_count))
        assert {v for k, v in placed.items() if k not in on_gpu} == {"CPU"}
        assert backend.info.device == f"GPU ({want}/{total} layers)"
        assert backend.offloaded == f"{want}/{total}"
        _greedy(backend, 4)
    finally:
        backend.close()


def test_the_engine_writes_a_text_on_the_device_that_lands_on_target(vulkan, demo_model):
    from longhand.core.engine.plan import Section
    from longhand.core.engine.writer import AgentWriter, Job
    from longhand.core.text.wordcount import count_words
    backend, placed = _open(demo_model, n_ctx=2048)
    try:
        assert set(placed.values()) == {"Vulkan0"}
        job = Job("Write a 50-word note about rain.", 50,
                  [Section(main_point="Rain on the roof of a small house at night.", target_words=50,
                           title="Rain")])
        stats = AgentWriter(backend, seed=3).write(job)
    finally:
        backend.close()
    words = count_words(job.sections[0].text)
    assert 0.9 * 50 <= words <= 1.12 * 50, (words, job.sections[0].text)
    assert stats.generated_tokens > 40


_OOM_SCRIPT = textwrap.dedent("""
    import json, sys
    from longhand.core.backends.llama import LlamaCppBackend
    from longhand.core.backends.base import Prompt, Sampling
    b = LlamaCppBackend(sys.argv[1], n_ctx=1024, n_gpu_layers=int(sys.argv[2]), demo=True)
    g = b.generate(Prompt(user=["Rain fell on the"], answer=[]), max_tokens=3,
                   sampling=Sampling(temperature=0.0))
    print(json.dumps({"device": b.info.device, "notes": b.info.notes, "tokens": g.generated_tokens}))
""")


@pytest.mark.parametrize("cap_mib, device", [(40, "GPU (9/19 layers)"), (8, "CPU")])
def test_out_of_device_memory_falls_back_to_fewer_layers_then_the_cpu(vulkan, demo_model, tmp_path, cap_mib, device):
    """ggml-vulkan's GGML_VK_FORCE_MAX_BUFFER_SIZE caps what the device hands out: allocations
    past it fail with ErrorOutOfDeviceMemory, as on a GPU that is full. 40 MiB holds 9 layers'
    weights (8 blocks and the output layer: 31 MB) but not all 19 (68 MB); 8 MiB holds neither. (A separate process: ggml
    reads the cap when it sets the device up.)"""
    env = dict(os.environ, GGML_VK_FORCE_MAX_BUFFER_SIZE=str(cap_mib * 1024 * 1024))
    r = subprocess.run([sys.executable, "-c", _OOM_SCRIPT, str(demo_model), "19"], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["device"] == device and out["tokens"] == 3
    first = out["notes"][0]
    assert first.startswith("Loading gemma-3-270m-q4_k_m.gguf with 19 layers on the GPU failed (out of GPU memory: ")
    assert "failed to allocate Vulkan0 buffer" in first and first.endswith("retrying with 9 layers on the GPU.")
    if device == "CPU":
        assert out["notes"][1].endswith("running on the CPU instead.")
    else:
        assert len(out["notes"]) == 1


def _doctor(env: dict) -> dict:
    r = subprocess.run([sys.executable, "-c", "from longhand.cli import main; raise SystemExit(main())",
                        "doctor", "--json", "--words", "500"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def test_doctor_without_a_visible_device_says_no_gpu(vulkan):
    env = {k: v for k, v in os.environ.items() if k != "GGML_VK_VISIBLE_DEVICES"}
    d = _doctor(env)
    assert d["backends"]["loaded"] and "Vulkan" in d["backends"]["loaded"]
    assert not d["gpu"]["usable"]
    assert d["gpu"]["summary"].startswith("No GPU: the vulkan backend loaded but found no usable device")
    assert [x["type"] for x in d["devices"]] == ["cpu"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to make a crashing Vulkan driver")
def test_a_crashing_vulkan_driver_costs_the_gpu_not_the_app(vulkan, demo_model, tmp_path):
    """A Vulkan driver (ICD) that segfaults when the loader calls it: the child-process check
    catches it, Longhand runs on the CPU and says why."""
    src = tmp_path / "crash.c"
    src.write_text("#include <signal.h>\n"
                   "int vk_icdNegotiateLoaderICDInterfaceVersion(unsigned *v) { raise(SIGSEGV); return 0; }\n"
                   "void *vk_icdGetInstanceProcAddr(void *i, const char *n) { raise(SIGSEGV); return 0; }\n")
    lib = tmp_path / "libcrash_icd.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    icd = tmp_path / "crash.json"
    icd.write_text(json.dumps({"file_format_version": "1.0.0",
                               "ICD": {"library_path": str(lib), "api_version": "1.3.0"}}))
    env = dict(os.environ, VK_ICD_FILENAMES=str(icd))
    d = _doctor(env)
    vk = next(m for m in d["backends"]["modules"] if m["name"] == "vulkan")
    assert not vk["loaded"] and "crashed a test process (signal 11)" in vk["reason"]
    assert d["backends"]["loaded"] == ["CPU"] and not d["gpu"]["usable"]
    assert d["gpu"]["summary"].startswith("No GPU: the GPU backend did not load")
    # the same driver without the check takes the whole process down: the check is what saves it
    env["LONGHAND_BACKEND_PROBE"] = "off"
    r = subprocess.run([sys.executable, "-c", "from longhand.core.backends.ggml import load_backends; load_backends()"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == -11
    # and with the check a model still loads and writes, on the CPU
    env.pop("LONGHAND_BACKEND_PROBE")
    r = subprocess.run([sys.executable, "-c", _OOM_SCRIPT, str(demo_model), "-1"], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["device"] == "CPU" and out["tokens"] == 3
    assert any("The vulkan backend was not loaded: loading it crashed" in n for n in out["notes"])


def test_lib_dir_is_the_installed_wheel():
    assert Path(ggml.llama_lib_dir(), "libggml-vulkan.so").is_file()
