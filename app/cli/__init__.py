"""CLI: ``longhand`` — headless plan/write on the same engine as the GUI.

``longhand`` with no arguments opens the GUI. Subcommands are registered in ``COMMANDS``
(each module adds its parser and handler), so features can add commands without touching
each other. ``COMMAND_MODULES`` lists those modules; :func:`load_commands` imports them all,
and an import that fails stops the CLI with its error instead of dropping the command.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Callable

from .. import __version__
from ..core.errors import LonghandError

# The modules that register commands (``write`` holds ``plan`` and ``write``).
COMMAND_MODULES = ("write", "models", "export", "batch", "doctor")

# name -> (add_arguments(subparser), handler(args) -> int)
COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]] = {}


def command(name: str, help: str):
    def deco(fn):
        COMMANDS[name] = (fn.add_arguments, fn, help)
        return fn
    return deco


def fail(message: str, code: int = 2) -> int:
    print(f"longhand: error: {message}", file=sys.stderr)
    return code


def load_commands() -> None:
    """Import every command module (each registers itself). No command is optional: a module
    that fails to import raises, it never vanishes from the CLI."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def build_parser() -> argparse.ArgumentParser:
    load_commands()
    parser = argparse.ArgumentParser(
        prog="longhand",
        description="Write very long texts with a local LLM (AgentWrite: plan, then write "
                    "section by section). Without a command, opens the desktop app.")
    parser.add_argument("--version", action="version", version=f"Longhand {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (add_args, _handler, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.command:
        from ..ui.main import main as gui_main
        return gui_main([])
    handler = COMMANDS[args.command][1]
    try:
        return handler(args) or 0
    except LonghandError as e:
        return fail(str(e))
    except KeyboardInterrupt:
        return fail("interrupted", 130)
