"""Architecture rules: app/core never imports Qt; test doubles stay out of app/; the arrows
between core packages run one way (backends never import the engine); tests never read the
benchmarks' results."""

import ast
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
APP = ROOT / "app"


def _module_name(path: pathlib.Path) -> str:
    parts = ["longhand", *path.relative_to(APP).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path):
    """(line, imported module, names) for every ``from X import ...`` / ``import X`` in a file,
    nested ones included, relative imports resolved against the ``longhand`` package."""
    module = _module_name(path) if path.is_relative_to(APP) else ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target, [alias.name for alias in node.names]


def _app_sources():
    return sorted(APP.rglob("*.py"))


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


# What a core package (or module) must never import: the arrows run the other way.
FORBIDDEN = {
    # the engine drives the backends; they (and the wire formats both use, in
    # backends.formats) know nothing of the engine
    "backends": ("engine", "projects", "export", "data"),
    # the model library: the catalog, downloads, installed models; atomic writes come from
    # core.fileio, not from projects
    "library": ("engine", "projects", "export", "data"),
    # text measures are the bottom layer
    "text": ("engine", "backends", "library", "projects", "export", "data", "fileio"),
    # the one atomic-write helper only knows the errors
    "fileio": ("engine", "backends", "library", "projects", "export", "data", "text"),
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_core_arrows_run_one_way(package):
    home = APP / "core" / package
    paths = sorted(home.rglob("*.py")) if home.is_dir() else [home.with_suffix(".py")]
    banned = tuple(f"longhand.core.{name}" for name in FORBIDDEN[package])
    offenders = [f"{path.relative_to(ROOT)}:{line}: {target}"
                 for path in paths
                 for line, target, names in _imports(path)
                 if target in banned or target.startswith(tuple(b + "." for b in banned))
                 or (target == "longhand.core" and any(f"{target}.{name}" in banned for name in names))]
    assert offenders == []


def test_no_private_names_imported_across_modules():
    """A name another module needs is public in its home module: no ``from x import _name``
    in app/ or bench/ (tests may still reach a private helper to test it)."""
    offenders = [f"{path.relative_to(ROOT)}:{line}: {name} from {target}"
                 for path in [*_app_sources(), *sorted((ROOT / "bench").rglob("*.py"))]
                 for line, target, names in _imports(path)
                 if target.startswith("longhand")
                 for name in names if name.startswith("_") and not name.startswith("__")]
    assert offenders == []


def _defined_names(path: pathlib.Path) -> set[str]:
    """Names a module defines itself at top level (functions, classes, assignments, also under
    ``if``/``try``), not the names it imports."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        for sub in ([node] if not isinstance(node, (ast.If, ast.Try)) else list(ast.walk(node))):
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def test_no_re_export_shims():
    """Every ``from longhand.x import name`` (app, tests, bench) names the module that defines
    ``name``: no module passes on what it imported (events through ``writer``, ``models_dir``
    through ``demo``, errors through ``backends.base``...), and no ``# noqa: F401`` re-export."""
    modules = {_module_name(p): p for p in _app_sources()}
    defined = {name: _defined_names(path) for name, path in modules.items()}
    data_packages = {"longhand.resources", "longhand.models"}      # mapped from resources/, models/
    sources = [*_app_sources(), *sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "bench").rglob("*.py"))]
    offenders = []
    for path in sources:
        lines = path.read_text(encoding="utf-8").splitlines()
        for line, target, names in _imports(path):
            if target not in modules:
                continue
            if "noqa: F401" in lines[line - 1]:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: a re-export (noqa: F401)")
            for name in names:
                submodule = f"{target}.{name}"
                if name != "*" and name not in defined[target] and submodule not in {*modules, *data_packages}:
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {name} is not defined in {target}")
    assert offenders == [], "\n".join(offenders)


# The GUI parts that still take the whole MainWindow (importing it for their type hints, and
# calling into it). New parts get a narrow interface instead, as file_actions has (FileHost):
# this list only shrinks.
TAKE_THE_WHOLE_WINDOW = {"engine_controls", "job_controller", "novel"}


def test_gui_parts_do_not_reach_back_into_the_window():
    importers = {path.stem for path in (APP / "ui").glob("*.py")
                 for _line, target, names in _imports(path)
                 if target == "longhand.ui.window" or (target == "longhand.ui" and "window" in names)}
    assert importers - {"main"} <= TAKE_THE_WHOLE_WINDOW      # main only builds the window
    assert not importers & {"file_actions", "training_export"}


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
