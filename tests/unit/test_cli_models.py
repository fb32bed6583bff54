"""Tests: ``longhand models list | download | import | remove`` (real CLI, stand-in hub)."""

from __future__ import annotations

import json

import pytest

from hubserver import FakeHub
from longhand.cli import main


@pytest.fixture
def models(tmp_path, monkeypatch):
    d = tmp_path / "models"
    monkeypatch.setenv("LONGHAND_MODELS_DIR", str(d))
    return d


@pytest.fixture
def hub(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.stop()


def test_list_shows_catalog_recommendation_and_why(models, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "This machine: RAM" in out
    assert "llama_supports_gpu_offload" in out
    assert "[longwriter-llama3.1-8b]" in out and "[longwriter-glm4-9b]" in out and "[demo]" in out
    assert out.count("recommended: ") == 3
    assert "prompt format longwriter-glm4" in out
    assert str(models) in out


def test_list_json(models, capsys):
    assert main(["models", "list", "--json", "--ctx", "8192"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["context"] == 8192
    ids = [m["id"] for m in data["models"]]
    assert ids == ["longwriter-glm4-9b", "longwriter-llama3.1-8b", "demo"]
    for m in data["models"]:
        assert m["reason"]
        if m["recommended"]:
            assert m["recommended"] in [q["quant"] for q in m["quants"]]
    assert isinstance(data["machine"]["gpu_offload_supported"], bool)
