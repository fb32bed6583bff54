"""Architecture rules: app/core never imports Qt; test doubles stay out of app/; tests never
read the benchmarks' results."""

import ast
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_core_sources_do_not_import_qt():
    offenders = []
    for path in (ROOT / "app" / "core").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_importing_all_of_core_loads_no_qt():
    code = ("import pkgutil, importlib, sys, longhand.core as c\n"
            "for m in pkgutil.iter_modules(c.__path__):\n"
            "    importlib.import_module('longhand.core.' + m.name)\n"
            "import longhand.cli\n"
            "print(sorted(k for k in sys.modules if k.startswith(('PySide6', 'PyQt'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_test_doubles_in_app():
    for path in (ROOT / "app").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "class Fake" not in text and "class Mock" not in text and "class Scripted" not in text, path


# The benchmarks' results folder as a path, with a slash or a backslash, or built from its two
# names with pathlib's / or os.path.join; not the index script bench/results_index.py. The
# examples below are glued from parts so that this file passes its own test.
BENCH_RESULTS = re.compile(rb"bench[\"']?\s*[/\\\\,]\s*[\"']?results\b")


def test_no_file_under_tests_mentions_the_bench_results():
    """Benchmark outputs change with every run and only the latest is kept: a test that needs
    one reads a copy in tests/data/ (tests/data/README.md), never the results folder itself."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and BENCH_RESULTS.search(path.read_bytes()):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_bench_results_pattern_catches_every_spelling():
    b, r = b"bench", b"results"
    for text in (b + b"/" + r + b"/x.json", b'ROOT / "' + b + b'" / "' + r + b'"',
                 b"os.path.join('" + b + b"', '" + r + b"')", b + b"\\" + r):
        assert BENCH_RESULTS.search(text), text
    for text in (b"bench/results_index.py", b"benchmark results", b"bench/prompts"):
        assert not BENCH_RESULTS.search(text), text
