"""Packaging: build the one-folder desktop app with PyInstaller.

    python packaging/build.py              # -> packaging/dist/Longhand/Longhand
    python packaging/build.py --with-demo  # also bundle the demo model's data (+253 MB)
    python packaging/build.py --if-changed # reuse the last build when no input changed

Writes ``packaging/dist/Longhand/BUILD-INFO.json`` (version, input hash, build seconds,
bundle size) and, on Linux, copies ``install-linux.sh`` into the bundle.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DIST = HERE / "dist"
WORK = HERE / "build"
APP_DIR = DIST / "Longhand"
INFO = APP_DIR / "BUILD-INFO.json"


def input_hash(with_demo: bool) -> str:
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
    h.update(f"{sys.version}|{with_demo}|{'|'.join(dists)}".encode())
    return h.hexdigest()


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build(with_demo: bool = False, if_changed: bool = False, clean: bool = False) -> dict:
    digest = input_hash(with_demo)
    if if_changed and INFO.exists():
        info = json.loads(INFO.read_text())
        if info.get("input_hash") == digest and (APP_DIR / exe_name()).exists():
            info["reused"] = True
            return info
    env = dict(os.environ)
    env["LONGHAND_BUNDLE_DEMO"] = "1" if with_demo else "0"
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(DIST), "--workpath", str(WORK), str(HERE / "longhand.spec")]
    if clean:
        cmd.insert(3, "--clean")
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - t0
    if sys.platform.startswith("linux"):
        shutil.copy2(HERE / "install-linux.sh", APP_DIR / "install-linux.sh")
    info = {
        "version": _version(),
        "platform": f"{platform.system()}-{platform.machine()}",
        "input_hash": digest,
        "with_demo": with_demo,
        "build_seconds": round(seconds, 1),
        "bundle_bytes": folder_size(APP_DIR),
        "reused": False,
    }
    INFO.write_text(json.dumps(info, indent=2) + "\n")
    return info


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
    args = ap.parse_args(argv)
    info = build(with_demo=args.with_demo, if_changed=args.if_changed, clean=args.clean)
    state = "reused" if info.get("reused") else f"built in {info['build_seconds']} s"
    print(f"{APP_DIR / exe_name()}: {state}, bundle {info['bundle_bytes'] / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
