"""llama.cpp's CPU backend per x86-64 level, loaded and writing (the llama-cpp-python of
packaging/build_llama_cpp.py: GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS).

* doctor reports the variant ggml picked for this CPU (the best it can run);
* LONGHAND_CPU_VARIANT=x64 forces the x86-64 baseline, which has no AVX instruction at all
  (objdump), and it writes;
* on a CPU without AVX2 for real — this machine's Python run under ``qemu-x86_64 -cpu
  Nehalem`` (SSE4.2, no AVX), whose CPUID has no AVX and whose decoder faults on it — the
  backends load, a baseline variant is picked, and the demo model writes. (The one-module
  AVX2 wheel dies there with an illegal instruction.)

Skipped with a wheel that has one CPU backend.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from longhand.core.backends.ggml import backend_modules, llama_lib_dir

LIB = llama_lib_dir()
VARIANTS = sorted(m.name[4:] for m in backend_modules(LIB) if m.name.startswith("cpu-"))
pytestmark = pytest.mark.skipif(not VARIANTS, reason="this llama-cpp-python has one CPU backend, no variants")
HOST_FLAGS = next((ln.split(":", 1)[1].split() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("flags")), [])


def _env(tmp: Path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LONGHAND_CPU_VARIANT", "LONGHAND_MODEL")}
    env.update(HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / "c"), XDG_STATE_HOME=str(tmp / "s"),
               XDG_DATA_HOME=str(tmp / "d"), **extra)
    return env


def _doctor(tmp: Path, **extra) -> dict:
    r = subprocess.run([sys.executable, "-m", "longhand", "doctor", "--json"], capture_output=True, text=True,
                       timeout=300, env=_env(tmp, **extra))
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def test_doctor_reports_the_best_variant_for_this_cpu(tmp_path):
    cpu = _doctor(tmp_path)["cpu"]
    assert set(cpu["variants"]) == set(VARIANTS)
    assert cpu["variant"] in VARIANTS and cpu["variant_how"] == "best for this CPU"
    if "avx2" in HOST_FLAGS:
        assert "AVX2" in cpu["features"]
        assert cpu["variant"] not in ("x64", "sse42", "sandybridge", "ivybridge", "piledriver")
    if "avx512f" not in HOST_FLAGS:
        assert "AVX512" not in cpu["features"]
    text = subprocess.run([sys.executable, "-m", "longhand", "doctor"], capture_output=True, text=True,
                          timeout=300, env=_env(tmp_path)).stdout
    assert f"CPU backend: {cpu['variant']} (" in text and "best for this CPU" in text


def test_the_baseline_has_no_avx_at_all():
    if shutil.which("objdump") is None:
        pytest.skip("objdump not installed")
    asm = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(LIB / "libggml-cpu-x64.so")],
                         capture_output=True, text=True, check=True).stdout
    assert "%ymm" not in asm and "%zmm" not in asm and "vfmadd" not in asm
    assert "%xmm" in asm                  # SSE2: the x86-64 baseline


def test_the_forced_baseline_loads_and_writes(tmp_path, demo_model):
    cpu = _doctor(tmp_path, LONGHAND_CPU_VARIANT="x64")["cpu"]
    assert cpu["variant"] == "x64" and cpu["variant_how"] == "forced by LONGHAND_CPU_VARIANT"
    assert not {"AVX", "AVX2", "FMA", "F16C", "AVX512"} & set(cpu["features"]), cpu["features"]
    r = subprocess.run([sys.executable, "-m", "longhand", "write", "Write a 150-word note about a lighthouse.",
                        "--model", str(demo_model), "--seed", "3", "--threads", "1", "--json"],
                       capture_output=True, text=True, timeout=900, env=_env(tmp_path, LONGHAND_CPU_VARIANT="x64"))
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    assert out["generated_tokens"] > 0 and out["words"] > 50


def test_a_variant_this_cpu_cannot_run_is_refused(tmp_path):
    if "avx512f" in HOST_FLAGS or "skylakex" not in VARIANTS:
        pytest.skip("this CPU has AVX-512")
    d = _doctor(tmp_path, LONGHAND_CPU_VARIANT="skylakex")
    assert d["cpu"]["variant"] != "skylakex" and d["cpu"]["variant_how"] == "best for this CPU"
    assert any("refused" in n for n in d["backends"]["notes"])


@pytest.mark.slow
def test_a_cpu_without_avx2_writes(tmp_path, demo_model):
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.skip("qemu-user not installed (Debian: apt install qemu-user)")
    code = textwrap.dedent(f"""
        from longhand.core.backends import ggml
        rep = ggml.load_backends()
        print("variant", rep.cpu_variant, flush=True)
        import llama_cpp
        llm = llama_cpp.Llama({str(demo_model)!r}, n_ctx=256, n_threads=1, verbose=False)
        out = llm("The lighthouse keeper", max_tokens=8, temperature=0)
        print("text", repr(out["choices"][0]["text"]), flush=True)
    """)
    env = _env(tmp_path)
    r = subprocess.run([qemu, "-cpu", "Nehalem", sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=1800, env=env)
    (tmp_path / "qemu.txt").write_text(r.stdout + r.stderr)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert "variant sse42" in r.stdout         # Nehalem: SSE4.2, no AVX
    text = r.stdout.split("text ", 1)[1]
    assert len(text.strip("'\n ")) > 3
