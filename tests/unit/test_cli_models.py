"""Tests: ``longhand models list | download | import | remove`` (real CLI, stand-in hub)."""

from __future__ import annotations

import json

from longhand.cli import main


def test_list_shows_catalog_recommendation_and_why(models, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "This machine: RAM" in out
    assert "llama_supports_gpu_offload" in out
    assert "[longwriter-llama3.1-8b]" in out and "[longwriter-glm4-9b]" in out and "[demo]" in out
    assert out.count("recommended: ") == 5
    assert "prompt format longwriter-glm4" in out
    assert str(models) in out


def test_list_json(models, capsys):
    assert main(["models", "list", "--json", "--ctx", "8192"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["context"] == 8192
    ids = [m["id"] for m in data["models"]]
    assert ids == ["longwriter-glm4-9b", "longwriter-llama3.1-8b", "longwriter-qwen2.5-7b", "longwriter-zero-32b", "demo"]
    for m in data["models"]:
        assert m["reason"]
        if m["recommended"]:
            assert m["recommended"] in [q["quant"] for q in m["quants"]]
    assert isinstance(data["machine"]["gpu_offload_supported"], bool)
