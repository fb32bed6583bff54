"""packaging/build.py without building: names and icons per OS (Windows and macOS are built
by the release workflow on their runners), the AppDir layout, the runtime attached to the
squashfs image, the frozen entry's ``longhand-gui`` name. The real builds, run as a user runs
them, are in tests/integration/test_packaging.py."""

from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def build():
    return _load("longhand_packaging_build_unit", PACKAGING / "build.py")


def test_windows_paths(build):
    assert build.exe_name("win32") == "Longhand.exe"
    assert build.app_path("win32") == PACKAGING / "dist" / "Longhand" / "Longhand.exe"
    assert build.app_path("win32", "vulkan") == PACKAGING / "dist-vulkan" / "Longhand" / "Longhand.exe"
    ico = build.icon_file("win32")
    assert ico.name == "longhand.ico" and ico.read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert build.archive_path("win32", machine="AMD64").name == "Longhand-0.1.0-windows-x86_64.zip"
    assert build.archive_path("win32", "vulkan", machine="AMD64").name == "Longhand-0.1.0-vulkan-windows-x86_64.zip"


def test_macos_paths(build):
    assert build.exe_name("darwin") == "Longhand"
    assert build.app_path("darwin") == PACKAGING / "dist" / "Longhand.app"
    icns = build.icon_file("darwin")
    assert icns.name == "longhand.icns" and icns.read_bytes()[:4] == b"icns"
    assert build.archive_path("darwin", machine="arm64").name == "Longhand-0.1.0-macos-aarch64.zip"


def test_linux_paths(build):
    assert build.app_path("linux") == PACKAGING / "dist" / "Longhand" / "Longhand"
    assert build.icon_file("linux").name == "longhand.png"
    assert build.archive_path("linux", machine="x86_64").name == "Longhand-0.1.0-linux-x86_64.tar.gz"
    assert build.package_stem("vulkan", plat="linux", machine="x86_64") == "Longhand-0.1.0-vulkan-linux-x86_64"


def test_the_spec_uses_the_same_icons_per_os():
    spec = (PACKAGING / "longhand.spec").read_text()
    assert '"win32": str(RESOURCES / "longhand.ico")' in spec
    assert '"darwin": str(RESOURCES / "longhand.icns")' in spec


def _fake_bundle(tmp_path: Path) -> Path:
    """A stand-in one-folder app with the files build_appdir copies (no PyInstaller run)."""
    src = tmp_path / "dist" / "Longhand"
    src.mkdir(parents=True)
    exe = src / "Longhand"
    exe.write_text("#!/bin/sh\necho \"frozen $(basename \"$0\") $*\"\n")
    exe.chmod(0o755)
    (src / "install-linux.sh").write_text("#!/bin/sh\n")
    return src


def test_appdir_layout(build, tmp_path, monkeypatch):
    src = _fake_bundle(tmp_path)
    monkeypatch.setattr(build, "app_dir", lambda variant="cpu": src)
    appdir = build.build_appdir("cpu", out_dir=tmp_path)
    assert os.access(appdir / "AppRun", os.X_OK)
    assert (appdir / "usr" / "lib" / "longhand" / "Longhand").is_file()
    assert not (appdir / "usr" / "lib" / "longhand" / "install-linux.sh").exists()
    assert os.readlink(appdir / ".DirIcon") == "longhand.png" and (appdir / "longhand.png").is_file()
    for name in ("longhand", "longhand-gui"):
        assert os.readlink(appdir / "usr" / "bin" / name) == "../lib/longhand/Longhand"
    for desktop in (appdir / "longhand.desktop", appdir / "usr" / "share" / "applications" / "longhand.desktop"):
        cp = configparser.ConfigParser(interpolation=None)
        cp.optionxform = str
        cp.read(desktop, encoding="utf-8")
        assert cp["Desktop Entry"]["Exec"] == "longhand %f"
        assert cp["Desktop Entry"]["Icon"] == "longhand"
    for size in (16, 32, 48, 64, 128, 256, 512):
        assert (appdir / "usr" / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "longhand.png").is_file()
    assert (appdir / "usr" / "share" / "metainfo" / "io.github.longhand.Longhand.appdata.xml").is_file()
    if shutil.which("desktop-file-validate"):
        r = subprocess.run(["desktop-file-validate", str(appdir / "longhand.desktop")], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    # AppRun runs the bundle, with its arguments; from anywhere
    r = subprocess.run([str(appdir / "AppRun"), "--version"], capture_output=True, text=True, cwd="/")
    assert r.stdout.strip() == "frozen Longhand --version"
    r = subprocess.run([str(appdir / "AppRun"), "x"], capture_output=True, text=True,
                       env=dict(os.environ, ARGV0="/home/u/longhand-gui"))
    assert r.stdout.strip() == "frozen longhand-gui x"


def test_attach_runtime(build, tmp_path):
    runtime = tmp_path / "runtime-x86_64"
    runtime.write_bytes(b"\x7fELF" + b"\x02" * 1000)
    sqfs = tmp_path / "image.squashfs"
    sqfs.write_bytes(b"hsqs" + os.urandom(5000))
    image = build.attach_runtime(sqfs, runtime, tmp_path / "Longhand.AppImage")
    data = image.read_bytes()
    assert data == runtime.read_bytes() + sqfs.read_bytes()
    assert image.stat().st_mode & stat.S_IXUSR
    not_elf = tmp_path / "runtime.html"
    not_elf.write_text("<html>Not Found</html>")
    with pytest.raises(SystemExit, match="not an AppImage runtime"):
        build.attach_runtime(sqfs, not_elf, tmp_path / "x.AppImage")


def test_frozen_entry_opens_the_window_as_longhand_gui():
    entry = _load("longhand_entry_unit", PACKAGING / "longhand_entry.py")
    assert entry.started_as_gui("/usr/bin/longhand-gui")
    assert entry.started_as_gui("longhand-gui")
    assert not entry.started_as_gui("/opt/longhand/Longhand")
    assert not entry.started_as_gui("longhand")
    # the plain name: a window only without a command
    assert entry._gui_projects([]) == [] and entry._gui_projects(["a.longhand"]) == ["a.longhand"]
    assert entry._gui_projects(["write", "x"]) is None


LINUX_VARIANTS_WHEEL = ["libggml-base.so", "libggml-base.so.0", "libggml-cpu-haswell.so", "libggml-cpu-x64.so",
                        "libggml-cpu-skylakex.so", "libggml.so", "libggml.so.0", "libllama.so"]


def test_check_variant_per_wheel(build):
    assert build.check_variant("cpu", LINUX_VARIANTS_WHEEL) == []
    assert build.check_variant("cpu", ["libggml-cpu.so", "libggml-cpu.so.0", "libllama.so"]) == []
    assert build.check_variant("vulkan", LINUX_VARIANTS_WHEEL + ["libggml-vulkan.so"]) == ["vulkan"]
    with pytest.raises(SystemExit, match="GPU backends"):
        build.check_variant("cpu", LINUX_VARIANTS_WHEEL + ["libggml-vulkan.so"])
    with pytest.raises(SystemExit, match="GGML_VULKAN"):
        build.check_variant("vulkan", LINUX_VARIANTS_WHEEL)
    # Windows: the same modules as DLLs; macOS: Metal linked in
    assert build.check_variant("cpu", ["ggml-base.dll", "ggml-cpu-haswell.dll", "ggml-cpu-x64.dll", "llama.dll"]) == []
    assert build.check_variant("vulkan", ["ggml-vulkan.dll", "ggml-cpu-x64.dll", "llama.dll"]) == ["vulkan"]
    metal = ["libggml-base.dylib", "libggml-blas.dylib", "libggml-cpu.dylib", "libggml-metal.dylib", "libllama.dylib"]
    assert build.check_variant("metal", metal) == ["metal"]
    with pytest.raises(SystemExit, match="GGML_METAL"):
        build.check_variant("metal", LINUX_VARIANTS_WHEEL)


def test_llama_cpp_recipe_installs_every_cpu_variant(tmp_path):
    recipe = _load("longhand_build_llama_unit", PACKAGING / "build_llama_cpp.py")
    cm = tmp_path / "CMakeLists.txt"
    cm.write_text("    llama_cpp_python_install_target(ggml-cpu)\n    llama_cpp_python_install_target(ggml-vulkan)\n"
                  "    if (WIN32)\n")
    assert recipe.patch_install_variants(cm) is True
    text = cm.read_text()
    assert "llama_cpp_python_install_target(ggml-cpu-${variant})" in text
    assert text.index("foreach(variant x64 sse42") > text.index("ggml-vulkan)")
    assert recipe.patch_install_variants(cm) is False and cm.read_text() == text     # once
    for variant in ("cpu", "vulkan"):
        assert "-DGGML_BACKEND_DL=ON" in recipe.CMAKE_ARGS[variant]
        assert "-DGGML_CPU_ALL_VARIANTS=ON" in recipe.CMAKE_ARGS[variant]
        assert "-DGGML_NATIVE=OFF" in recipe.CMAKE_ARGS[variant]
    # the names ggml gives its x86 variants, in the vendored CMakeLists when the source is here
    vendored = PACKAGING / "build-llama" / "llama_cpp_python-0.3.36" / "vendor" / "llama.cpp" / "ggml" / "src" / "CMakeLists.txt"
    if vendored.exists():
        import re
        block = vendored.read_text().split("if (GGML_CPU_ALL_VARIANTS)", 1)[1]
        block = block.split('if (GGML_SYSTEM_ARCH STREQUAL "x86")', 1)[1].split("elseif", 1)[0]
        assert set(re.findall(r"ggml_add_cpu_backend_variant\((\w+)", block)) == set(recipe.X86_LEVELS)
    cm.write_text("nothing to anchor on\n")
    with pytest.raises(SystemExit):
        recipe.patch_install_variants(cm)


def test_the_documented_sizes_are_the_builds_own_figures():
    """docs/user/packages.md's table is sizes_table.py's output on the build records copied to
    tests/data/packaging (the benchmarks' own copies are never read by a test)."""
    import json
    import re
    tables = _load("longhand_sizes_table_unit", PACKAGING / "sizes_table.py")
    doc = (ROOT / "docs" / "user" / "packages.md").read_text(encoding="utf-8")
    block = re.search(re.escape(tables.START) + r"\n(.*?)\n?" + re.escape(tables.END), doc, re.S)
    assert block, "no sizes markers in docs/user/packages.md"
    records = [ROOT / "tests" / "data" / "packaging" / f"packaging_{v}.json" for v in ("cpu", "vulkan")]
    records = [json.loads(p.read_text()) for p in records if p.exists()]
    assert records, "no build record in tests/data/packaging (packaging/build.py --record, then copy)"
    assert block.group(1).strip() == tables.table(records)
    for r in records:
        assert r["squashfs_bytes"] < r["appdir_bytes"] and r["tarball_bytes"] < r["bundle_bytes"]


def test_sizes_table_formats_mb_and_seconds():
    tables = _load("longhand_sizes_table_unit2", PACKAGING / "sizes_table.py")
    text = tables.table([{"variant": "cpu", "bundle_bytes": 262_700_000, "build_seconds": 81.4,
                          "squashfs_bytes": 100_671_488, "squashfs_seconds": 60.3}])
    assert "| one-folder bundle (PyInstaller) | 262.7 MB, 81 s |" in text
    assert "| squashfs image (the AppImage without its runtime) | 100.7 MB, 60 s |" in text
    assert ".tar.gz" not in text



@pytest.fixture
def qxcb(build):
    found = build._qtlibs().qt_dirs()
    if found is None:
        pytest.skip("PySide6's xcb plugin is not installed here")
    return found[1]


def test_build_stops_on_a_machine_without_the_x11_libraries_the_bundle_carries(build, qxcb, monkeypatch):
    """PyInstaller silently leaves out a library the build machine lacks, and the AppImage made
    there would not open on a desktop without it: the build names the packages instead."""
    lacking = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libEGL.so.1"}

    def resolve(name):
        return f"{name}: cannot open shared object file: No such file or directory" if name in lacking else ""

    assert build.x11_gaps_on_build_machine(resolve) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert build.x11_gaps_on_build_machine(lambda name: "") == []
    qtlibs = build._qtlibs()
    monkeypatch.setattr(qtlibs, "dlopen_error", resolve)
    monkeypatch.setattr(build, "_qtlibs", lambda: qtlibs)
    monkeypatch.setattr(build.sys, "platform", "linux")
    ran = []
    monkeypatch.setattr(build.subprocess, "run", lambda *a, **k: ran.append(a))
    with pytest.raises(SystemExit, match=r"(?s)libxcb-icccm\.so\.4, libxcb-keysyms\.so\.1\..*"
                                         r"sudo apt install libxcb-icccm4 libxcb-keysyms1\n"):
        build.build(variant="cpu")
    assert ran == []                      # stopped before PyInstaller


def test_bundle_check_finds_the_x11_libraries_the_bundled_plugin_needs(build, qxcb, tmp_path):
    bundle = tmp_path / "Longhand" / "_internal"
    plugins = bundle / "PySide6" / "Qt" / "plugins" / "platforms"
    plugins.mkdir(parents=True)
    shutil.copy2(qxcb, plugins / "libqxcb.so")
    needs = set(build._qtlibs().needed(qxcb)) & set(build.CARRIED_X11)
    assert {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"} <= needs
    assert build.x11_gaps_in_bundle(tmp_path / "Longhand") == sorted(needs)
    for name in needs - {"libxcb-keysyms.so.1"}:
        (bundle / name).write_bytes(b"")  # carried (an empty file needs nothing more)
    assert build.x11_gaps_in_bundle(tmp_path / "Longhand") == ["libxcb-keysyms.so.1"]
    (bundle / "libxcb-keysyms.so.1").write_bytes(b"")
    assert build.x11_gaps_in_bundle(tmp_path / "Longhand") == []
