"""Backend loading and ``longhand doctor`` on whatever llama.cpp build this Python has (the CPU
wheel in the main test run, the Vulkan one in the GPU run), and a broken GPU module next to it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from longhand.core.backends import ggml

CLI = [sys.executable, "-c", "from longhand.cli import main; raise SystemExit(main())"]


def test_backends_are_loaded_and_the_cpu_is_a_device():
    rep = ggml.load_backends()
    assert not rep.error
    assert "CPU" in rep.registered
    assert any(d.type == "cpu" and d.total > 0 for d in rep.devices)
    assert rep.ggml_library.endswith(("libggml.so.0", "libggml.0.dylib", "ggml.dll"))
    if rep.dynamic:           # a GGML_BACKEND_DL build: every module was tried
        assert rep.method
        assert all(m.loaded or m.reason for m in rep.modules)


def test_doctor_json_reports_versions_backends_devices_cpu_and_models(demo_model):
    import llama_cpp

    import longhand
    env = dict(os.environ, LONGHAND_MODELS_DIR=str(demo_model.parent))
    r = subprocess.run(CLI + ["doctor", "--json", "--words", "2000"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["longhand"] == longhand.__version__ and d["llama_cpp_python"] == llama_cpp.__version__
    assert "CPU" in d["backends"]["loaded"]
    assert d["cpu"]["features"] and d["cpu"]["threads"] >= 1
    assert d["job"] == {"words": 2000, "context": 8192}
    demo = next(m for m in d["models"] if m["path"] == str(demo_model))
    assert demo["quant"] == "Q4_K_M" and demo["pick"] == "Q4_K_M" and demo["pick_reason"]
    assert demo["layers"] == 19 and demo["gpu_layers_reason"]
    if not d["gpu"]["usable"]:
        assert d["gpu"]["summary"].startswith("No GPU: ")
        assert demo["gpu_layers"] == 0
    # the text form says the same for people
    r = subprocess.run(CLI + ["doctor", "--words", "2000"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and d["gpu"]["summary"] in r.stdout and "GPU layers: " in r.stdout


_LOAD_AND_WRITE = textwrap.dedent("""
    import json, sys
    from longhand.core.backends.ggml import load_backends
    from longhand.core.backends.llama import LlamaCppBackend
    from longhand.core.backends.base import Prompt, Sampling
    rep = load_backends()
    b = LlamaCppBackend(sys.argv[1], n_ctx=512, demo=True)
    g = b.generate(Prompt(user=["Rain fell on the"], answer=[]), max_tokens=3, sampling=Sampling(temperature=0.0))
    print(json.dumps({"modules": [[m.name, m.loaded, m.reason] for m in rep.modules],
                      "registered": rep.registered, "device": b.info.device, "notes": b.info.notes,
                      "tokens": g.generated_tokens}))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds a Linux lib folder")
def test_a_broken_gpu_module_never_stops_a_model_loading(demo_model, tmp_path):
    """A copy of this llama.cpp build with a corrupt ``libggml-vulkan.so`` next to it (as a
    broken install or a half-copied app would have): the module is skipped with a reason and
    the model loads and writes on the CPU."""
    lib = tmp_path / "lib"
    shutil.copytree(ggml.llama_lib_dir(), lib)
    (lib / "libggml-vulkan.so").write_bytes(b"\x7fELF this is not a shared library")
    env = dict(os.environ, LLAMA_CPP_LIB_PATH=str(lib))
    r = subprocess.run([sys.executable, "-c", _LOAD_AND_WRITE, str(demo_model)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    vk = next(m for m in out["modules"] if m[0] == "vulkan")
    assert vk[1] is False and vk[2].startswith("loading it failed") or "could not load" in vk[2]
    assert "Vulkan" not in out["registered"] and "CPU" in out["registered"]
    assert out["device"] == "CPU" and out["tokens"] == 3
    assert any(n.startswith("The vulkan backend was not loaded") for n in out["notes"])
