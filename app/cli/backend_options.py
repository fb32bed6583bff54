"""CLI: the backend options, one dialect for every command that talks to a model.

``longhand plan``, ``longhand write`` and ``longhand batch`` take the same options, with the
same names, meanings and defaults:

* ``--backend llama|openai`` — in-process llama.cpp, or an OpenAI-compatible server;
* ``--base-url URL`` — the server (``--base-url`` alone implies ``--backend openai``);
  ``batch`` takes it several times, one per server;
* ``--model PATH`` — the local GGUF (llama); ``--remote-model NAME`` — the model on the server;
* ``--api-key``, ``--format``, ``--ctx``, ``--gpu-layers``, ``--threads``, ``--seed``,
  ``--temperature``.

:func:`resolve_backend` checks the combination once, the same way for every command.
"""

from __future__ import annotations

import argparse

from ..core.backends.base import MAX_CONTEXT
from ..core.errors import LonghandError

BACKENDS = ("llama", "openai")

# the options every model-talking command takes (dest names), for the tests and the docs
BACKEND_DESTS = ("model", "backend", "base_url", "remote_model", "api_key", "format_name", "ctx",
                 "gpu_layers", "threads", "seed", "temperature")


def add_backend_args(p: argparse.ArgumentParser, *, several_servers: bool = False) -> None:
    """Add the backend options to a command's parser (``several_servers``: ``--base-url``
    may be repeated, as ``batch`` spreads its jobs over servers)."""
    g = p.add_argument_group("model")
    g.add_argument("--model", metavar="PATH",
                   help="GGUF model file for --backend llama (default: LONGHAND_MODEL, else the demo model)")
    g.add_argument("--backend", choices=BACKENDS, default=None,
                   help="llama: in-process llama.cpp (default); openai: an OpenAI-compatible server "
                        "(llama-server, vLLM, python -m llama_cpp.server)")
    if several_servers:
        g.add_argument("--base-url", action="append", metavar="URL",
                       help="server URL for --backend openai (e.g. http://127.0.0.1:8080/v1); repeat it "
                            "for several servers; implies --backend openai")
    else:
        g.add_argument("--base-url", metavar="URL",
                       help="server URL for --backend openai (e.g. http://127.0.0.1:8080/v1); implies "
                            "--backend openai")
    g.add_argument("--remote-model", "--model-name", dest="remote_model",
                   help="model name on the server (default: the first it lists)")
    g.add_argument("--api-key", help="API key for the server (or OPENAI_API_KEY)")
    g.add_argument("--format", dest="format_name",
                   help="prompt format: longwriter-llama3, longwriter-glm4, chatml (Qwen), completion, "
                        "chat (a server's own template; default: from the GGUF or the server)")
    g.add_argument("--ctx", type=int, help="context length in tokens, kept for the whole job (default: sized to "
                   f"the job, at most {MAX_CONTEXT}; longer books carry earlier sections as summaries)")
    g.add_argument("--gpu-layers", default="auto", help="llama: layers to offload to the GPU: auto or a number")
    g.add_argument("--threads", type=int, help="llama: CPU threads (default: all cores)")
    g.add_argument("--seed", type=int, help="random seed, for reproducible text")
    g.add_argument("--temperature", type=float, help="sampling temperature (default: per model family)")


def base_urls(args: argparse.Namespace) -> list[str]:
    """The server URLs given (none, one, or several for ``batch``), without repeats."""
    urls = args.base_url
    if urls is None:
        return []
    if isinstance(urls, str):
        urls = [urls]
    return list(dict.fromkeys(u for u in urls if u))


def resolve_backend(args: argparse.Namespace) -> str:
    """Check the backend options and settle ``args.backend``: ``--base-url`` alone means
    openai; a URL with ``--backend llama`` is a contradiction. (openai without a URL is
    refused where the URL is looked for: ``write --project`` may remember one.)"""
    urls = base_urls(args)
    if args.backend is None and urls:
        args.backend = "openai"
    if args.backend == "llama" and urls:
        raise LonghandError("--base-url is for --backend openai; with --backend llama the model runs "
                            "in-process (--model PATH).")
    gpu = getattr(args, "gpu_layers", "auto")
    if gpu != "auto":
        try:
            int(gpu)
        except ValueError:
            raise LonghandError(f"--gpu-layers must be 'auto' or a number (got {gpu!r}).") from None
    return args.backend or "llama"
