"""One memory unit everywhere a user reads a size: decimal GB (the model manager, doctor, Help >
System and the command line said "24.7 GB free of 25.3 GB" and "23.0 of 23.5 GiB" for the
same RAM)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from longhand.core.backends.gpu import GiB, GpuDevice, Machine
from longhand.core.doctor import render
from longhand.core.units import format_gb

APP = Path(__file__).resolve().parents[2] / "app"
BINARY = re.compile(r"\d\s*[KMGT]iB|\b[KMGT]iB\b")


def test_format_gb():
    assert format_gb(24.7e9) == "24.7 GB"
    assert format_gb(4_920_000_000, 2) == "4.92 GB"
    assert format_gb(GiB) == "1.1 GB"


def _user_strings(tree):
    """String literals that are not docstrings."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


def test_no_binary_units_in_what_the_app_prints():
    offenders = []
    for path in APP.rglob("*.py"):
        for line, text in _user_strings(ast.parse(path.read_text(encoding="utf-8"))):
            if BINARY.search(text):
                offenders.append(f"{path.relative_to(APP)}:{line}: {text!r}")
    assert offenders == []


def test_doctor_and_model_manager_say_the_same_for_the_same_memory():
    ram_free, ram_total = 24_700_000_000, 25_300_000_000
    machine = Machine(ram_free, ram_total, True, [GpuDevice("Vulkan0", "gpu", 7 * GiB, 8 * GiB)])
    manager = machine.describe()          # the model manager's machine line
    d = {"longhand": "0", "python": "3", "platform": "Linux", "frozen": False, "llama_cpp_python": "0.3",
         "llama_cpp_error": None, "backends": {"as_modules": False, "loaded": ["CPU"], "notes": [], "modules": []},
         "devices": [{"name": "Vulkan0", "type": "gpu", "description": "gpu", "free": 7 * GiB, "total": 8 * GiB}],
         "gpu": {"summary": "", "vram_budget": None}, "cpu": {"threads": 2, "logical_cpus": 2, "features": []},
         "memory": {"ram_free": ram_free, "ram_total": ram_total}, "machine_notes": [],
         "job": {"words": 1, "context": 1}, "models": []}
    doctor = render(d)
    assert "24.7 GB free of 25.3 GB" in manager and "RAM: 24.7 GB free of 25.3 GB" in doctor
    assert "7.5 GB free of 8.6 GB" in manager and "7.5 GB free of 8.6 GB" in doctor
