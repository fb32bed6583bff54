"""Packaging: build the one-folder desktop app with PyInstaller.

    python packaging/build.py                   # CPU variant -> packaging/dist/Longhand/Longhand
    python packaging/build.py --variant vulkan  # Vulkan variant -> packaging/dist-vulkan/Longhand/
    python packaging/build.py --with-demo       # also bundle the demo model's data (+253 MB)
    python packaging/build.py --if-changed      # reuse the last build when no input changed
    python packaging/build.py --deb             # and a Debian package next to it (dpkg-deb)

The variant bundles the llama-cpp-python of the Python that runs this script, and checks that
it matches: ``cpu`` wants a build without GPU backend modules (the default wheel), ``vulkan``
one with ``libggml-vulkan`` as a module (``GGML_BACKEND_DL=ON``; how to build it:
``packaging/VULKAN.md``). Run the Vulkan variant from a venv holding that wheel, e.g.
``/path/to/venv-vulkan/bin/python packaging/build.py --variant vulkan``.

Writes ``BUILD-INFO.json`` (version, variant, backends, input hash, build seconds, bundle size)
into the bundle and, on Linux, copies ``install-linux.sh`` into it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VARIANTS = ("cpu", "vulkan")
DIST = HERE / "dist"
WORK = HERE / "build"
APP_DIR = DIST / "Longhand"
INFO = APP_DIR / "BUILD-INFO.json"


def dist_dir(variant: str = "cpu") -> Path:
    return DIST if variant == "cpu" else HERE / f"dist-{variant}"


def work_dir(variant: str = "cpu") -> Path:
    return WORK if variant == "cpu" else HERE / f"build-{variant}"


def app_dir(variant: str = "cpu") -> Path:
    return dist_dir(variant) / "Longhand"


def llama_backend_files() -> list[str]:
    """The files of the installed llama-cpp-python's lib folder."""
    import importlib.util
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.origin:
        raise SystemExit("llama-cpp-python is not installed in this Python")
    lib = Path(spec.origin).parent / "lib"
    return sorted(p.name for p in lib.iterdir()) if lib.is_dir() else []


def check_variant(variant: str) -> list[str]:
    """Fail unless this Python's llama-cpp-python is the build the variant bundles; returns the
    GPU backend modules found (e.g. ["vulkan"])."""
    files = llama_backend_files()
    gpu = sorted({m.group(1) for f in files
                  for m in [re.match(r"^(?:lib)?ggml-([a-z0-9]+)\.(?:so|dll|dylib)$", f)]
                  if m and m.group(1) not in ("base", "cpu", "blas", "rpc")})
    if variant == "vulkan" and "vulkan" not in gpu:
        raise SystemExit("--variant vulkan needs llama-cpp-python built with GGML_VULKAN=ON and "
                         "GGML_BACKEND_DL=ON in this Python (no libggml-vulkan found); see "
                         "packaging/VULKAN.md, or run this script with the Python of the venv "
                         "that holds that wheel.")
    if variant == "cpu" and gpu:
        raise SystemExit(f"--variant cpu, but this Python's llama-cpp-python has GPU backends "
                         f"({', '.join(gpu)}); use --variant {gpu[0]} or a Python with the CPU wheel.")
    return gpu


def input_hash(with_demo: bool, variant: str = "cpu") -> str:
    """Hash of everything that goes into the bundle from this repo, and of the toolchain."""
    h = hashlib.sha256()
    files = [HERE / "longhand.spec", HERE / "longhand_entry.py", HERE / "install-linux.sh"]
    files += sorted((HERE / "hooks").rglob("*.py"))
    for folder in ("app", "resources", "models"):
        files += sorted(p for p in (ROOT / folder).rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts)
    for p in files:
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    # and of the Python environment: a changed dependency (e.g. another PySide6) means a rebuild
    from importlib.metadata import distributions
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in distributions())
    h.update(f"{sys.version}|{with_demo}|{variant}|{'|'.join(dists)}".encode())
    return h.hexdigest()


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build(with_demo: bool = False, if_changed: bool = False, clean: bool = False,
          variant: str = "cpu") -> dict:
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; choose {', '.join(VARIANTS)}")
    gpu = check_variant(variant)
    target, info_path = app_dir(variant), app_dir(variant) / "BUILD-INFO.json"
    digest = input_hash(with_demo, variant)
    if if_changed and info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("input_hash") == digest and (target / exe_name()).exists():
            info["reused"] = True
            return info
    env = dict(os.environ)
    env["LONGHAND_BUNDLE_DEMO"] = "1" if with_demo else "0"
    env["LONGHAND_BUILD_WORK"] = str(work_dir(variant))
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(dist_dir(variant)), "--workpath", str(work_dir(variant)),
           str(HERE / "longhand.spec")]
    if clean:
        cmd.insert(3, "--clean")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - t0
    if sys.platform.startswith("linux"):
        shutil.copy2(HERE / "install-linux.sh", target / "install-linux.sh")
    lib = target / "_internal" / "llama_cpp" / "lib"
    info = {
        "version": _version(),
        "variant": variant,
        "gpu_backends": gpu,
        "llama_cpp_libraries": sorted(p.name for p in lib.iterdir()) if lib.is_dir() else [],
        "platform": f"{platform.system()}-{platform.machine()}",
        "input_hash": digest,
        "with_demo": with_demo,
        "build_seconds": round(seconds, 1),
        "bundle_bytes": folder_size(target),
        "reused": False,
    }
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    return info


# ---------------------------------------------------------------------------------------
# A Debian package (dpkg-deb): /opt/longhand, /usr/bin/longhand, menu entry and icons

# What the bundle needs from the system: libc, OpenGL/EGL, fonts, D-Bus, and the X11 libraries
# Qt's xcb platform plugin loads (Qt's list for Qt 6.5+; PyInstaller may bundle some of them).
DEB_DEPENDS = ["libc6 (>= 2.31)", "libegl1", "libgl1", "libfontconfig1", "libdbus-1-3",
               "libxkbcommon0", "libxkbcommon-x11-0", "libxcb-cursor0", "libxcb-icccm4",
               "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0", "libxcb-render-util0",
               "libxcb-shape0", "libxcb-xfixes0", "libxcb-xkb1"]


def build_deb(variant: str = "cpu", out_dir: Path | None = None) -> Path:
    """Wrap the built one-folder app in ``longhand[-vulkan]_<version>_<arch>.deb``."""
    src = app_dir(variant)
    if not (src / exe_name()).exists():
        raise SystemExit(f"no build in {src}; run packaging/build.py --variant {variant} first")
    if shutil.which("dpkg-deb") is None:
        raise SystemExit("dpkg-deb not found (Debian/Ubuntu: it is part of dpkg)")
    version = _version()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    name = "longhand" if variant == "cpu" else f"longhand-{variant}"
    other = "longhand-vulkan" if variant == "cpu" else "longhand"
    stage = work_dir(variant) / "deb" / name
    if stage.exists():
        shutil.rmtree(stage)
    opt = stage / "opt" / "longhand"
    shutil.copytree(src, opt, symlinks=True)
    (opt / "install-linux.sh").unlink(missing_ok=True)      # the package manager installs it
    (stage / "usr" / "bin").mkdir(parents=True)
    os.symlink("/opt/longhand/Longhand", stage / "usr" / "bin" / "longhand")
    res = ROOT / "resources"
    apps = stage / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    desktop = (res / "longhand.desktop").read_text(encoding="utf-8")
    desktop = re.sub(r"(?m)^Exec=.*$", "Exec=/opt/longhand/Longhand %f", desktop)
    desktop = re.sub(r"(?m)^Icon=.*$", "Icon=longhand", desktop)
    (apps / "longhand.desktop").write_text(desktop, encoding="utf-8")
    icons = stage / "usr" / "share" / "icons" / "hicolor"
    for png in sorted((res / "icons").glob("longhand-*.png")):
        size = png.stem.split("-")[-1]
        dest = icons / f"{size}x{size}" / "apps" / "longhand.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, dest)
    (icons / "scalable" / "apps").mkdir(parents=True, exist_ok=True)
    shutil.copy2(res / "longhand.svg", icons / "scalable" / "apps" / "longhand.svg")
    debian = stage / "DEBIAN"
    debian.mkdir()
    size_kb = folder_size(stage) // 1024
    recommends = "libvulkan1, mesa-vulkan-drivers" if variant == "vulkan" else ""
    control = [f"Package: {name}", f"Version: {version}", f"Architecture: {arch}",
               "Maintainer: Longhand developers <longhand@users.noreply.github.com>",
               f"Installed-Size: {size_kb}", f"Depends: {', '.join(DEB_DEPENDS)}"]
    if recommends:
        control.append(f"Recommends: {recommends}")
    control += [f"Conflicts: {other}", f"Replaces: {other}", "Section: editors", "Priority: optional",
                "Homepage: https://github.com/longhand/longhand",
                "Description: write novels and long texts with a local AI model",
                " Longhand plans a long text, then writes it section by section with a local",
                " LongWriter model (llama.cpp" + (", GPU offload through Vulkan" if variant == "vulkan"
                                                  else ", CPU build") + "). Offline; models are",
                " downloaded from the model manager on first start."]
    (debian / "control").write_text("\n".join(control) + "\n", encoding="utf-8")
    script = ("#!/bin/sh\nset -e\n"
              "if command -v update-desktop-database >/dev/null 2>&1; then\n"
              "    update-desktop-database -q /usr/share/applications || true\nfi\n"
              "if command -v gtk-update-icon-cache >/dev/null 2>&1; then\n"
              "    gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true\nfi\n"
              "exit 0\n")
    for hook in ("postinst", "postrm"):
        (debian / hook).write_text(script, encoding="utf-8")
        (debian / hook).chmod(0o755)
    out_dir = out_dir or dist_dir(variant)
    deb = out_dir / f"{name}_{version}_{arch}.deb"
    # gzip: every dpkg reads it, and it packs 250 MB in seconds (xz took over 10 minutes here)
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(stage), str(deb)],
                   check=True, stdout=subprocess.DEVNULL)
    return deb


def exe_name() -> str:
    return "Longhand.exe" if sys.platform == "win32" else "Longhand"


def _version() -> str:
    ns: dict = {}
    exec((ROOT / "app" / "__init__.py").read_text(), ns)
    return ns["__version__"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--with-demo", action="store_true", help="bundle the demo model's data (+253 MB)")
    ap.add_argument("--if-changed", action="store_true", help="skip the build if no input changed")
    ap.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    ap.add_argument("--variant", choices=VARIANTS, default="cpu",
                    help="which llama.cpp to bundle: cpu (default wheel) or vulkan (see VULKAN.md)")
    ap.add_argument("--deb", action="store_true", help="also build a .deb with dpkg-deb (Linux)")
    args = ap.parse_args(argv)
    info = build(with_demo=args.with_demo, if_changed=args.if_changed, clean=args.clean,
                 variant=args.variant)
    state = "reused" if info.get("reused") else f"built in {info['build_seconds']} s"
    print(f"{app_dir(args.variant) / exe_name()}: {args.variant} variant, {state}, "
          f"bundle {info['bundle_bytes'] / 1e6:.1f} MB")
    if args.deb:
        deb = build_deb(args.variant)
        print(f"{deb}: {deb.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
