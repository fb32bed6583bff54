"""Packaging variants: the .deb of the CPU build, and the Vulkan variant of the frozen app
(which runs only where this Python has the Vulkan build of llama-cpp-python, as in the GPU run
of .ci/run): it loads its backends from the bundle, offloads where a Vulkan device is, and
starts and writes on the CPU where there is no driver or a crashing one.

Builds are reused when their inputs did not change (``build.py --if-changed``), like
tests/integration/test_packaging.py does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from longhand.core.backends import ggml
from longhand.core.engine.writer import LengthControl

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="builds the Linux app")]


def _build_module():
    spec = importlib.util.spec_from_file_location("longhand_packaging_build_gpu", PACKAGING / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _variant() -> str:
    mods = ggml.backend_modules(ggml.llama_lib_dir())
    return "vulkan" if any(m.name == "vulkan" for m in mods) else "cpu"


def _env(tmp: Path, models: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LONGHAND_MODEL", "LLAMA_CPP_LIB_PATH", "PYTHONPATH", "LONGHAND_VRAM_BUDGET")}
    env.update(HOME=str(tmp / "home"), XDG_CONFIG_HOME=str(tmp / "config"), XDG_DATA_HOME=str(tmp / "data"),
               XDG_STATE_HOME=str(tmp / "state"), XDG_CACHE_HOME=str(tmp / "cache"),
               LONGHAND_MODELS_DIR=str(models or tmp / "no-models"))
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    return env


@pytest.fixture(scope="module")
def built():
    mod = _build_module()
    variant = _variant()
    info = mod.build(if_changed=True, variant=variant)
    return mod, variant, mod.app_dir(variant) / "Longhand", info


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_deb_holds_the_app_the_menu_entry_and_the_dependencies(built, tmp_path):
    mod, variant, exe, info = built
    deb = mod.build_deb(variant, out_dir=tmp_path)
    name = "longhand" if variant == "cpu" else f"longhand-{variant}"
    assert deb.name == f"{name}_{info['version']}_amd64.deb"
    control = subprocess.run(["dpkg-deb", "--field", str(deb)], capture_output=True, text=True, check=True).stdout
    assert f"Package: {name}\n" in control and f"Version: {info['version']}\n" in control
    assert "libxcb-cursor0" in control and "libxkbcommon-x11-0" in control
    if variant == "vulkan":
        assert "Recommends: libvulkan1, mesa-vulkan-drivers" in control
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "./opt/longhand/Longhand\n" in listing
    assert "./usr/bin/longhand -> /opt/longhand/Longhand" in listing
    assert "./usr/bin/longhand-gui -> /opt/longhand/Longhand" in listing     # always the window
    assert "./usr/share/applications/longhand.desktop" in listing
    assert "./usr/share/icons/hicolor/256x256/apps/longhand.png" in listing
    assert "./opt/longhand/_internal/llama_cpp/lib/libllama.so" in listing
    out = tmp_path / "x"
    subprocess.run(["dpkg-deb", "--extract", str(deb), str(out)], check=True)
    desktop = (out / "usr/share/applications/longhand.desktop").read_text()
    assert "\nExec=/opt/longhand/Longhand %f\n" in desktop and "\nIcon=longhand\n" in desktop
    # the packaged executable is the build, and runs from where the package puts it
    r = subprocess.run([str(out / "opt/longhand/Longhand"), "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == f"Longhand {info['version']}"


def _frozen_doctor(exe: Path, env: dict) -> dict:
    r = subprocess.run([str(exe), "doctor", "--json", "--words", "500"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


vulkan_only = pytest.mark.skipif(_variant() != "vulkan",
                                 reason="the Vulkan variant is built from a Python with the Vulkan wheel "
                                        "(.ci/run's GPU venv)")


@vulkan_only
def test_vulkan_bundle_carries_the_backend_modules_not_the_loader(built):
    _, _, exe, info = built
    lib = exe.parent / "_internal" / "llama_cpp" / "lib"
    names = {p.name for p in lib.iterdir()}
    assert {"libggml-vulkan.so", "libggml-cpu.so", "libggml.so.0", "libllama.so"} <= names
    assert not [p for p in exe.parent.rglob("libvulkan.so*")]      # the system's loader is used
    assert info["variant"] == "vulkan" and info["gpu_backends"] == ["vulkan"]


@vulkan_only
def test_frozen_vulkan_app_offloads_where_there_is_a_device(built, demo_model, tmp_path):
    _, _, exe, _ = built
    env = _env(tmp_path, demo_model.parent)
    env["GGML_VK_VISIBLE_DEVICES"] = "0"
    d = _frozen_doctor(exe, env)
    assert d["frozen"] and d["backends"]["as_modules"]
    assert set(d["backends"]["loaded"]) == {"Vulkan", "CPU"}
    assert d["gpu"]["usable"] and any(x["type"] == "gpu" for x in d["devices"])
    demo = next(m for m in d["models"] if m["path"] == str(demo_model))
    assert demo["gpu_layers"] == demo["layers"] == 19


@vulkan_only
def test_frozen_vulkan_app_writes_on_the_cpu_without_a_vulkan_driver(built, demo_model, tmp_path):
    _, _, exe, _ = built
    env = _env(tmp_path, demo_model.parent)
    env["VK_ICD_FILENAMES"] = str(tmp_path / "no-such-driver.json")     # a loader with no driver
    d = _frozen_doctor(exe, env)
    assert not d["gpu"]["usable"] and d["gpu"]["summary"].startswith("No GPU: ")
    # a minute on an idle 2-core machine; the timeout leaves room for a machine busy with other jobs
    r = subprocess.run([str(exe), "write", "Write a 60-word note about rain.", "--words", "60", "--json"],
                       env=env, capture_output=True, text=True, timeout=2400)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    # a one-section job lands between LengthControl.short and hard_cap of its target, at a full
    # sentence (when no sentence ends past 92 %, an earlier one: 48 of 60 words seen)
    lc = LengthControl()
    assert out["device"] == "CPU" and lc.short * 60 <= out["words"] <= lc.hard_cap * 60


@vulkan_only
@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler to make a crashing Vulkan driver")
def test_frozen_vulkan_app_survives_a_crashing_driver(built, demo_model, tmp_path):
    """The child-process check runs the frozen executable itself (LONGHAND_GGML_PROBE)."""
    _, _, exe, _ = built
    src = tmp_path / "crash.c"
    src.write_text("#include <signal.h>\n"
                   "int vk_icdNegotiateLoaderICDInterfaceVersion(unsigned *v) { raise(SIGSEGV); return 0; }\n"
                   "void *vk_icdGetInstanceProcAddr(void *i, const char *n) { raise(SIGSEGV); return 0; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(tmp_path / "libcrash.so"), str(src)], check=True)
    (tmp_path / "crash.json").write_text(json.dumps(
        {"file_format_version": "1.0.0", "ICD": {"library_path": str(tmp_path / "libcrash.so"), "api_version": "1.3.0"}}))
    env = _env(tmp_path, demo_model.parent)
    env.update(VK_ICD_FILENAMES=str(tmp_path / "crash.json"), GGML_VK_VISIBLE_DEVICES="0")
    d = _frozen_doctor(exe, env)
    vk = next(m for m in d["backends"]["modules"] if m["name"] == "vulkan")
    assert not vk["loaded"] and "crashed a test process (signal 11)" in vk["reason"]
    assert d["backends"]["loaded"] == ["CPU"]
