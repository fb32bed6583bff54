"""Packaging: build the one-folder desktop app with PyInstaller.

    python packaging/build.py                   # CPU variant -> packaging/dist/Longhand/Longhand
    python packaging/build.py --variant vulkan  # Vulkan variant -> packaging/dist-vulkan/Longhand/
    python packaging/build.py --with-demo       # also bundle the demo model's data (+253 MB)
    python packaging/build.py --if-changed      # reuse the last build when no input changed
    python packaging/build.py --deb             # and a Debian package next to it (dpkg-deb)
    python packaging/build.py --appimage        # and Longhand.AppDir + its squashfs image
                                                #   (+ the .AppImage with --appimage-runtime FILE)
    python packaging/build.py --tarball         # and the portable .tar.gz (install-linux.sh inside)
    python packaging/build.py --archive         # the release archive of this OS (.zip on Windows/macOS)
    python packaging/build.py --record F.json   # and the build's figures (seconds, bytes) in F.json

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
VARIANTS = ("cpu", "vulkan", "metal")
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


def check_variant(variant: str, files: list[str] | None = None) -> list[str]:
    """Fail unless this Python's llama-cpp-python is the build the variant bundles; returns the
    GPU backend modules found (e.g. ["vulkan"]). ``metal`` (macOS) links its backend in."""
    files = llama_backend_files() if files is None else files
    gpu = sorted({m.group(1) for f in files
                  for m in [re.match(r"^(?:lib)?ggml-([a-z0-9]+)\.(?:so|dll|dylib)$", f)]
                  if m and m.group(1) not in ("base", "cpu", "blas", "rpc")})
    if variant == "vulkan" and "vulkan" not in gpu:
        raise SystemExit("--variant vulkan needs llama-cpp-python built with GGML_VULKAN=ON and "
                         "GGML_BACKEND_DL=ON in this Python (no libggml-vulkan found); see "
                         "packaging/VULKAN.md, or run this script with the Python of the venv "
                         "that holds that wheel.")
    if variant == "metal" and "metal" not in gpu:
        raise SystemExit("--variant metal needs llama-cpp-python built with GGML_METAL=ON (macOS; "
                         "packaging/build_llama_cpp.py --variant metal)")
    if variant == "cpu" and gpu:
        raise SystemExit(f"--variant cpu, but this Python's llama-cpp-python has GPU backends "
                         f"({', '.join(gpu)}); use --variant {gpu[0]} or a Python with the CPU wheel.")
    return gpu


# X11 helper libraries Qt's xcb plugin loads that a fresh desktop often lacks (Debian 12 has
# neither libxcb-icccm4 nor libxcb-keysyms1). The bundle carries them, so the build machine must
# have them: PyInstaller copies the ones it finds and silently leaves out the others, and the
# window of such a build would not open on those desktops. The rest (libxcb, libX11, EGL, GL,
# fontconfig) every X11 desktop has; the app names their packages when one is missing.
CARRIED_X11 = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-image.so.0", "libxcb-keysyms.so.1",
               "libxcb-render-util.so.0", "libxcb-util.so.1")


def _qtlibs():
    """app/core/qtlibs.py, loaded by path (stdlib only: works before the app is installed)."""
    import importlib.util
    name = "longhand_build_qtlibs"
    if name not in sys.modules:           # its dataclasses look their module up there
        spec = importlib.util.spec_from_file_location(name, ROOT / "app" / "core" / "qtlibs.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def x11_gaps_on_build_machine(resolve=None) -> list[str]:
    """The :data:`CARRIED_X11` libraries Qt's xcb plugin needs that this machine cannot load
    (``resolve``: soname -> the loader's error, '' when it loads)."""
    rep = _qtlibs().check(resolve)
    return sorted({m.soname for m in rep.missing} & set(CARRIED_X11))


def x11_gaps_in_bundle(bundle: Path) -> list[str]:
    """The :data:`CARRIED_X11` libraries the bundled xcb plugin needs (``qtlibs.check`` walks its
    libraries from the bundle's Qt folder) that the bundle does not hold."""
    files = {p.name for p in bundle.rglob("*.so*") if p.is_file()}
    plugin = next((p for p in bundle.rglob("libqxcb.so") if p.is_file()), None)
    if plugin is None:
        return []
    rep = _qtlibs().check(lambda name: "" if name in files else "not in the bundle",
                          dirs=(plugin.parents[2] / "lib", plugin))      # (Qt/plugins/platforms)
    return sorted({m.soname for m in rep.missing} & set(CARRIED_X11))


def _x11_gaps_message(gaps: list[str], where: str) -> str:
    cmds = _qtlibs().install_commands(gaps)
    return (f"{where} lacks X11 libraries Qt's xcb plugin needs and the bundle must carry: "
            f"{', '.join(gaps)}. Install them on the build machine and build again:\n"
            + "\n".join(f"  {label}: {line}" for _key, label, line in cmds))


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
    if sys.platform.startswith("linux"):
        gaps = x11_gaps_on_build_machine()
        if gaps:
            raise SystemExit(_x11_gaps_message(gaps, "This build machine"))
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
        gaps = x11_gaps_in_bundle(target)
        if gaps:
            raise SystemExit(_x11_gaps_message(gaps, f"The bundle in {target}"))
    lib = target / "_internal" / "llama_cpp" / "lib"
    info = {
        "version": _version(),
        "variant": variant,
        "gpu_backends": gpu,
        "llama_cpp_libraries": sorted(p.name for p in lib.iterdir()) if lib.is_dir() else [],
        # one CPU module per x86-64 level (packaging/build_llama_cpp.py), or [] for one build
        "cpu_variants": sorted(m.group(1) for p in (lib.iterdir() if lib.is_dir() else [])
                               for m in [re.match(r"^(?:lib)?ggml-cpu-([a-z0-9_]+)\.(?:so|dll|dylib)$", p.name)]
                               if m),
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
    os.symlink("/opt/longhand/Longhand", stage / "usr" / "bin" / "longhand-gui")   # always the window
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

# ---------------------------------------------------------------------------------------
# Every other Linux: an AppImage (AppDir + squashfs + the AppImage runtime) and a portable
# .tar.gz with a per-user install script. Both carry the same one-folder bundle.

APPIMAGE_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
APPSTREAM_ID = "io.github.longhand.Longhand"
APPRUN = """#!/bin/sh
# AppImage entry point: run the Longhand bundle inside this AppDir. The AppImage runtime sets
# APPDIR to where it mounted the image; an extracted AppDir (--appimage-extract) works too.
HERE="${APPDIR:-$(dirname "$(readlink -f "$0")")}"
case "$(basename "${ARGV0:-$0}")" in
    longhand-gui*) exec "$HERE/usr/bin/longhand-gui" "$@" ;;
esac
exec "$HERE/usr/lib/longhand/Longhand" "$@"
"""


def package_stem(variant: str = "cpu", version: str | None = None, plat: str | None = None,
                 machine: str | None = None) -> str:
    """``Longhand-0.1.0-linux-x86_64`` (``-vulkan`` before the OS for that variant)."""
    plat = plat or sys.platform
    machine = (machine or platform.machine()).lower()
    os_name = {"win32": "windows", "darwin": "macos"}.get(plat, "linux")
    arch = APPIMAGE_ARCH.get(machine, machine)
    tag = "" if variant == "cpu" else f"-{variant}"
    return f"Longhand-{version or _version()}{tag}-{os_name}-{arch}"


def _desktop_entry(exec_line: str) -> str:
    text = (ROOT / "resources" / "longhand.desktop").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^Exec=.*$", f"Exec={exec_line}", text)
    return re.sub(r"(?m)^Icon=.*$", "Icon=longhand", text)


def _install_icons(share: Path) -> None:
    res = ROOT / "resources"
    for png in sorted((res / "icons").glob("longhand-*.png")):
        size = png.stem.split("-")[-1]
        dest = share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "longhand.png"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, dest)
    (share / "icons" / "hicolor" / "scalable" / "apps").mkdir(parents=True, exist_ok=True)
    shutil.copy2(res / "longhand.svg", share / "icons" / "hicolor" / "scalable" / "apps" / "longhand.svg")


def _appstream(version: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<component type="desktop-application">
  <id>{APPSTREAM_ID}</id>
  <metadata_license>CC0-1.0</metadata_license>
  <project_license>MIT</project_license>
  <name>Longhand</name>
  <summary>Write novels and long texts with a local AI model</summary>
  <description>
    <p>Longhand plans a long text, then writes it section by section with a local LongWriter
    model through llama.cpp. It works offline once a model is downloaded.</p>
  </description>
  <launchable type="desktop-id">longhand.desktop</launchable>
  <categories><category>Office</category><category>WordProcessor</category></categories>
  <releases><release version="{version}"/></releases>
</component>
"""


def build_appdir(variant: str = "cpu", out_dir: Path | None = None) -> Path:
    """``Longhand.AppDir``: AppRun, the desktop entry and icon at the top (as the AppImage
    format wants), the bundle in usr/lib/longhand, usr/bin links, usr/share for desktops."""
    src = app_dir(variant)
    if not (src / "Longhand").exists():
        raise SystemExit(f"no Linux build in {src}; run packaging/build.py --variant {variant} first")
    appdir = (out_dir or dist_dir(variant)) / "Longhand.AppDir"
    if appdir.exists():
        shutil.rmtree(appdir)
    lib = appdir / "usr" / "lib" / "longhand"
    lib.parent.mkdir(parents=True)
    shutil.copytree(src, lib, symlinks=True)
    (lib / "install-linux.sh").unlink(missing_ok=True)       # an AppImage is not installed
    (appdir / "usr" / "bin").mkdir(parents=True)
    for name in ("longhand", "longhand-gui"):
        os.symlink("../lib/longhand/Longhand", appdir / "usr" / "bin" / name)
    share = appdir / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    desktop = _desktop_entry("longhand %f")
    (share / "applications" / "longhand.desktop").write_text(desktop, encoding="utf-8")
    _install_icons(share)
    (share / "metainfo").mkdir(parents=True)
    (share / "metainfo" / f"{APPSTREAM_ID}.appdata.xml").write_text(_appstream(_version()), encoding="utf-8")
    # the AppImage format: AppRun, <name>.desktop and its icon at the top, .DirIcon
    (appdir / "AppRun").write_text(APPRUN, encoding="utf-8")
    (appdir / "AppRun").chmod(0o755)
    (appdir / "longhand.desktop").write_text(desktop, encoding="utf-8")
    shutil.copy2(ROOT / "resources" / "icons" / "longhand-256.png", appdir / "longhand.png")
    os.symlink("longhand.png", appdir / ".DirIcon")
    return appdir


def build_squashfs(appdir: Path, out: Path) -> Path:
    """The AppImage's file system image (zstd, as the AppImage runtime reads it)."""
    tool = shutil.which("mksquashfs")
    if tool is None:
        raise SystemExit("mksquashfs not found (Debian/Ubuntu: apt install squashfs-tools; "
                         "Fedora: dnf install squashfs-tools; Arch: pacman -S squashfs-tools)")
    out.unlink(missing_ok=True)
    subprocess.run([tool, str(appdir), str(out), "-root-owned", "-noappend", "-comp", "zstd",
                    "-b", "1M", "-quiet", "-no-progress"], check=True, stdout=subprocess.DEVNULL)
    return out


def attach_runtime(squashfs: Path, runtime: Path, out: Path) -> Path:
    """runtime + squashfs = the AppImage (the runtime finds the image at its own ELF end)."""
    head = runtime.read_bytes()
    if not head.startswith(b"\x7fELF"):
        raise SystemExit(f"{runtime} is not an AppImage runtime (not an ELF executable); get it "
                         "from https://github.com/AppImage/type2-runtime/releases")
    with out.open("wb") as f:
        f.write(head)
        with squashfs.open("rb") as s:
            shutil.copyfileobj(s, f, 1 << 20)
    out.chmod(0o755)
    return out


def build_appimage(variant: str = "cpu", runtime: Path | None = None) -> dict:
    """AppDir, its squashfs image and, with ``runtime`` (the AppImage project's type2 runtime:
    it cannot be fetched here; the release workflow downloads it), the ``.AppImage``."""
    out_dir = dist_dir(variant)
    stem = package_stem(variant, plat="linux")
    t0 = time.perf_counter()
    appdir = build_appdir(variant)
    t1 = time.perf_counter()
    sqfs = build_squashfs(appdir, out_dir / f"{stem}.squashfs")
    t2 = time.perf_counter()
    info = {"appdir": str(appdir), "appdir_bytes": folder_size(appdir), "appdir_seconds": round(t1 - t0, 1),
            "squashfs": str(sqfs), "squashfs_bytes": sqfs.stat().st_size, "squashfs_seconds": round(t2 - t1, 1),
            "appimage": None, "appimage_bytes": None}
    if runtime is not None:
        image = attach_runtime(sqfs, runtime, out_dir / f"{stem}.AppImage")
        info.update(appimage=str(image), appimage_bytes=image.stat().st_size)
    return info


def build_tarball(variant: str = "cpu") -> dict:
    """``Longhand-<version>-linux-x86_64.tar.gz``: the bundle in a versioned folder, with
    ``install-linux.sh`` inside (menu entry and icons into ~/.local/share, no root)."""
    import tarfile
    src = app_dir(variant)
    if not (src / "Longhand").exists() or not (src / "install-linux.sh").exists():
        raise SystemExit(f"no Linux build in {src}; run packaging/build.py --variant {variant} first")
    stem = package_stem(variant, plat="linux")
    out = dist_dir(variant) / f"{stem}.tar.gz"
    t0 = time.perf_counter()
    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(src, arcname=stem, filter=lambda ti: _tar_owner(ti))
    return {"tarball": str(out), "tarball_bytes": out.stat().st_size,
            "tarball_seconds": round(time.perf_counter() - t0, 1)}


def _tar_owner(ti):
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


# ---------------------------------------------------------------------------------------
# Windows and macOS (built by the release workflow on their runners): names and icons

def app_path(plat: str | None = None, variant: str = "cpu") -> Path:
    """What a user starts: Longhand.exe, Longhand.app, or the Linux executable."""
    plat = plat or sys.platform
    if plat == "darwin":
        return dist_dir(variant) / "Longhand.app"
    return app_dir(variant) / exe_name(plat)


def icon_file(plat: str | None = None) -> Path:
    """The icon the executable carries: .ico on Windows, .icns in the macOS .app; Linux
    desktops take the PNGs of the desktop entry."""
    plat = plat or sys.platform
    name = {"win32": "longhand.ico", "darwin": "longhand.icns"}.get(plat, "longhand.png")
    return ROOT / "resources" / name


def archive_path(plat: str | None = None, variant: str = "cpu", machine: str | None = None) -> Path:
    """The file the release attaches for Windows (.zip of the folder) and macOS (.zip of the .app)."""
    plat = plat or sys.platform
    ext = ".zip" if plat in ("win32", "darwin") else ".tar.gz"
    return dist_dir(variant) / (package_stem(variant, plat=plat, machine=machine) + ext)


def build_archive(variant: str = "cpu") -> Path:
    """Windows: zip the one-folder app; macOS: zip the .app with ``ditto`` (keeps the
    framework symlinks and signatures); Linux: the .tar.gz of :func:`build_tarball`."""
    plat = sys.platform
    out = archive_path(plat, variant)
    if plat == "darwin":
        subprocess.run(["ditto", "-c", "-k", "--keepParent", str(app_path(plat, variant)), str(out)], check=True)
    elif plat == "win32":
        shutil.make_archive(str(out.with_suffix("")), "zip", root_dir=dist_dir(variant), base_dir="Longhand")
    else:
        return Path(build_tarball(variant)["tarball"])
    return out


def _relative(value: str) -> str:
    """A path inside the repository as a repository path (records carry no local folders)."""
    try:
        return Path(value).relative_to(ROOT).as_posix() if os.path.isabs(value) else value
    except ValueError:
        return value


def write_record(path: Path, info: dict) -> None:
    """The build's own figures (seconds, bytes) as JSON: the documentation quotes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = {k: (_relative(v) if isinstance(v, str) else v) for k, v in info.items() if not k.endswith("input_hash")}
    path.write_text(json.dumps(keep, indent=2) + "\n", encoding="utf-8")



def exe_name(plat: str | None = None) -> str:
    return "Longhand.exe" if (plat or sys.platform) == "win32" else "Longhand"


def _version() -> str:
    ns: dict = {}
    exec((ROOT / "app" / "__init__.py").read_text(), ns)
    return ns["__version__"]


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--with-demo", action="store_true", help="bundle the demo model's data (+253 MB)")
    ap.add_argument("--if-changed", action="store_true", help="skip the build if no input changed")
    ap.add_argument("--clean", action="store_true", help="empty PyInstaller's cache first")
    ap.add_argument("--variant", choices=VARIANTS, default="cpu",
                    help="which llama.cpp to bundle: cpu (default wheel), vulkan (see VULKAN.md) or "
                         "metal (macOS); packaging/build_llama_cpp.py builds each")
    ap.add_argument("--deb", action="store_true", help="also build a .deb with dpkg-deb (Linux)")
    ap.add_argument("--appimage", action="store_true",
                    help="also build the AppDir and its squashfs image, and the AppImage with --appimage-runtime")
    ap.add_argument("--appimage-runtime", type=Path, default=os.environ.get("APPIMAGE_RUNTIME") or None,
                    help="the AppImage type2 runtime (runtime-x86_64) to attach (default: $APPIMAGE_RUNTIME)")
    ap.add_argument("--tarball", action="store_true", help="also build the portable .tar.gz (Linux)")
    ap.add_argument("--archive", action="store_true",
                    help="the release archive of this OS: .zip (Windows, macOS) or .tar.gz (Linux)")
    ap.add_argument("--record", type=Path, help="write the build's figures (seconds, bytes) to this JSON file")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    info = build(with_demo=args.with_demo, if_changed=args.if_changed, clean=args.clean,
                 variant=args.variant)
    state = "reused" if info.get("reused") else f"built in {info['build_seconds']} s"
    print(f"{app_dir(args.variant) / exe_name()}: {args.variant} variant, {state}, "
          f"bundle {info['bundle_bytes'] / 1e6:.1f} MB")
    record = dict(info)
    if args.deb:
        t0 = time.perf_counter()
        deb = build_deb(args.variant)
        record.update(deb=str(deb), deb_bytes=deb.stat().st_size, deb_seconds=round(time.perf_counter() - t0, 1))
        print(f"{deb}: {deb.stat().st_size / 1e6:.1f} MB")
    if args.appimage:
        ai = build_appimage(args.variant, runtime=args.appimage_runtime)
        record.update(ai)
        print(f"{ai['appdir']}: {ai['appdir_bytes'] / 1e6:.1f} MB in {ai['appdir_seconds']} s")
        print(f"{ai['squashfs']}: {ai['squashfs_bytes'] / 1e6:.1f} MB in {ai['squashfs_seconds']} s")
        if ai["appimage"]:
            print(f"{ai['appimage']}: {ai['appimage_bytes'] / 1e6:.1f} MB")
        else:
            print("no AppImage runtime given (--appimage-runtime): AppDir and squashfs image only")
    if args.tarball or (args.archive and sys.platform.startswith("linux")):
        tb = build_tarball(args.variant)
        record.update(tb)
        print(f"{tb['tarball']}: {tb['tarball_bytes'] / 1e6:.1f} MB in {tb['tarball_seconds']} s")
    elif args.archive:
        out = build_archive(args.variant)
        record.update(archive=str(out), archive_bytes=out.stat().st_size)
        print(f"{out}: {out.stat().st_size / 1e6:.1f} MB")
    if args.record:
        record["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]   # a shared machine's times
        write_record(args.record, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
