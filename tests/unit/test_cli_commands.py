"""CLI: every documented command is registered, and a command whose module fails to import
stops the CLI with that error instead of vanishing from it."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

import longhand.cli as cli

ROOT = pathlib.Path(__file__).resolve().parents[2]


def documented_commands() -> set[str]:
    """``longhand NAME`` in code (spans and blocks) of the README and the user guide."""
    names = set()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs" / "user").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        code = re.findall(r"`([^`\n]+)`", text) + re.findall(r"```.*?\n(.*?)```", text, re.S)
        for snippet in code:
            names.update(re.findall(r"(?:^|[\s$(])longhand ([a-z][a-z-]*)\b", snippet, re.M))
    return names


def test_the_docs_name_the_commands():
    assert {"plan", "write", "models", "export", "batch", "doctor"} <= documented_commands()


def test_every_documented_command_is_registered():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert documented_commands() <= set(sub.choices)
    assert documented_commands() <= set(cli.COMMANDS)


def test_every_documented_command_is_in_the_installed_help():
    """The real entry point, in a fresh interpreter: ``longhand --help`` lists them all."""
    out = subprocess.run([sys.executable, "-c", "from longhand.cli import main; raise SystemExit(main(['--help']))"],
                         capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^    ([a-z][a-z-]*)\s", out, re.M))
    assert documented_commands() <= listed, out


@pytest.mark.parametrize("module", cli.COMMAND_MODULES)
def test_a_command_module_that_fails_to_import_fails_loudly(module, monkeypatch):
    monkeypatch.setitem(sys.modules, f"longhand.cli.{module}", None)   # import raises ImportError
    with pytest.raises(ImportError, match=module):
        cli.main(["--help"])
    with pytest.raises(ImportError, match=module):
        cli.build_parser()
