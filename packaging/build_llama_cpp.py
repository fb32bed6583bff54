"""Packaging: build the llama-cpp-python wheel the desktop app bundles, from its PyPI source.

    python packaging/build_llama_cpp.py --variant cpu      # every x86-64 level, picked at run time
    python packaging/build_llama_cpp.py --variant vulkan   # the same + the Vulkan module
    python packaging/build_llama_cpp.py --variant metal    # macOS (Apple silicon)

Both Linux/Windows variants build ggml's backends as loadable modules (``GGML_BACKEND_DL``)
with one CPU module per x86-64 level (``GGML_CPU_ALL_VARIANTS``: ``libggml-cpu-x64.so``,
``-sse42``, ``-sandybridge``, ``-haswell``, ``-skylakex``, ``-icelake``, ``-alderlake``,
``-zen4``, ``-sapphirerapids`` ...). At run time ggml scores each module against the CPU and
loads the best one (``app/core/backends/ggml.py``; ``longhand doctor`` says which), so one
bundle runs on an x86-64 CPU without AVX2 and uses AVX-512 where there is some.

llama-cpp-python's own CMakeLists installs ``ggml-cpu`` but not the per-level modules: the
source is unpacked and that one install rule added (:func:`patch_install_variants`).
``--build-dir`` keeps CMake's build folder, so a second run only rebuilds what changed.
Needs a C/C++ compiler, CMake and, for Vulkan, ``glslc`` and the Vulkan headers (see
``packaging/VULKAN.md``; Debian 12's headers also need the guard described there).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSION = "0.3.36"
X86_LEVELS = ("x64", "sse42", "sandybridge", "ivybridge", "piledriver", "haswell", "skylakex", "cannonlake",
              "cascadelake", "icelake", "cooperlake", "zen4", "alderlake", "sapphirerapids")
COMMON = ("-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF "
          "-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF")
CMAKE_ARGS = {
    "cpu": f"-DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON {COMMON}",
    "vulkan": f"-DGGML_VULKAN=ON -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON {COMMON}",
    "metal": f"-DGGML_METAL=ON {COMMON}",
}
MARK = "# GGML_CPU_ALL_VARIANTS: one CPU backend module per x86-64 level (Longhand packaging)"
ANCHOR = "    llama_cpp_python_install_target(ggml-vulkan)\n"


def patch_install_variants(cmakelists: Path) -> bool:
    """Add the install rule for the per-level CPU modules; False when it is already there."""
    text = cmakelists.read_text(encoding="utf-8")
    if MARK in text:
        return False
    if text.count(ANCHOR) != 1:
        raise SystemExit(f"{cmakelists}: no single '{ANCHOR.strip()}' to add the CPU variants after")
    names = " ".join(X86_LEVELS)
    rule = (f"    {MARK}\n    foreach(variant {names})\n"
            "        llama_cpp_python_install_target(ggml-cpu-${variant})\n    endforeach()\n")
    cmakelists.write_text(text.replace(ANCHOR, ANCHOR + rule), encoding="utf-8")
    return True


def source(work: Path, version: str = VERSION) -> Path:
    """The unpacked sdist (downloaded with pip once), patched."""
    src = work / f"llama_cpp_python-{version}"
    if not src.is_dir():
        sdist = work / f"llama_cpp_python-{version}.tar.gz"
        if not sdist.exists():
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                            f"llama-cpp-python=={version}", "-d", str(work)], check=True)
        with tarfile.open(sdist) as tar:
            tar.extractall(work)
    patch_install_variants(src / "CMakeLists.txt")
    return src


def build_wheel(variant: str, out: Path, work: Path, version: str = VERSION, jobs: int | None = None) -> Path:
    src = source(work, version)
    env = dict(os.environ)
    env["CMAKE_ARGS"] = CMAKE_ARGS[variant] + (" " + env["CMAKE_ARGS"] if env.get("CMAKE_ARGS") else "")
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(jobs or os.cpu_count() or 2))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", str(src), "-w", str(out),
                    "-C", f"build-dir={work / ('cmake-' + variant)}"], check=True, env=env)
    wheel = max(out.glob(f"llama_cpp_python-{version}-*.whl"), key=lambda p: p.stat().st_mtime)
    print(f"{wheel} ({variant}) in {time.perf_counter() - t0:.0f} s")
    return wheel


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=sorted(CMAKE_ARGS), default="cpu")
    ap.add_argument("--version", default=VERSION, help=f"llama-cpp-python version (default {VERSION})")
    ap.add_argument("--out", type=Path, default=HERE / "build-llama" / "wheels")
    ap.add_argument("--build-dir", type=Path, default=HERE / "build-llama",
                    help="sdist, source and CMake build folders (kept between runs)")
    ap.add_argument("--jobs", type=int, help="parallel compile jobs (default: all cores)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.build_dir.mkdir(parents=True, exist_ok=True)
    build_wheel(args.variant, args.out, args.build_dir, args.version, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
