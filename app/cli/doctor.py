"""CLI: ``longhand doctor [--json] [--words N | --ctx N]`` — what this install can run, and why."""

from __future__ import annotations

import json

from . import command


def doctor(args) -> int:
    from ..core.doctor import collect, render
    data = collect(words=args.words, n_ctx=args.ctx)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(render(data))
    return 0


def _add(p) -> None:
    from ..core.doctor import DEFAULT_JOB_WORDS
    p.add_argument("--json", action="store_true", help="machine-readable output (for scripts and bug reports)")
    p.add_argument("--words", type=int, default=DEFAULT_JOB_WORDS,
                   help=f"size the models for a job of this many words (default {DEFAULT_JOB_WORDS})")
    p.add_argument("--ctx", type=int, default=None, help="size the models for this context instead")


doctor.add_arguments = _add  # type: ignore[attr-defined]
command("doctor", "versions, compute backends, GPUs, and what each installed model would use")(doctor)
