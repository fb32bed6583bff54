"""Tests: ``longhand models list | download | import | remove`` (real CLI, stand-in hub)."""

from __future__ import annotations

import json
import os

import pytest

from longhand.cli import main


def test_download_with_progress_then_remove(models, hub, capsys):
    data = os.urandom(3_000_000)
    hub.add("QuantFactory/LongWriter-glm4-9b-GGUF", "LongWriter-glm4-9b.Q2_K.gguf", data)
    assert main(["models", "download", "longwriter-glm4-9b", "--quant", "Q2_K"]) == 0
    cap = capsys.readouterr()
    path = models / "LongWriter-glm4-9b.Q2_K.gguf"
    assert cap.out.strip() == str(path)
    assert path.read_bytes() == data
    assert "downloaded and verified" in cap.err
    # again: nothing fetched
    assert main(["models", "download", "longwriter-glm4-9b", "--quant", "Q2_K", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["already_present"] is True and res["downloaded"] == 0
    assert main(["models", "list"]) == 0
    assert "installed" in capsys.readouterr().out
    assert main(["models", "remove", "longwriter-glm4-9b"]) == 0
    assert f"removed {path}" in capsys.readouterr().out
    assert not path.exists()
    assert main(["models", "remove", "longwriter-glm4-9b"]) == 2
    assert "is not downloaded" in capsys.readouterr().err


def test_download_errors_are_messages_not_tracebacks(models, hub, capsys, monkeypatch):
    assert main(["models", "download", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("longhand: error: No model 'no-such-model'") and "Traceback" not in err
    assert main(["models", "download", "longwriter-llama3.1-8b", "--quant", "Q4_K_M"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "Traceback" not in err
    hub.add("bartowski/LongWriter-llama3.1-8b-GGUF", "LongWriter-llama3.1-8b-Q2_K.gguf", b"x" * 1000)
    from longhand.core.library import downloads
    monkeypatch.setattr(downloads, "free_space", lambda p: 10)
    assert main(["models", "download", "longwriter-llama3.1-8b", "--quant", "Q2_K"]) == 2
    assert "Not enough disk space" in capsys.readouterr().err


def test_import_valid_model_shows_metadata(models, demo_model, capsys):
    assert main(["models", "import", str(demo_model)]) == 0
    out = capsys.readouterr().out
    assert "imported gemma-3-270m-q4_k_m" in out
    assert "architecture:   gemma3" in out
    assert "layers:         18" in out
    assert "context length: 32768" in out
    assert "chat template:  no" in out
    assert "quantization:   Q4_K_M" in out
    assert main(["models", "list"]) == 0
    assert "Imported models:" in capsys.readouterr().out
    assert main(["models", "remove", "gemma-3-270m-q4_k_m"]) == 0
    capsys.readouterr()
    assert demo_model.exists()      # forgetting an import never deletes the user's file
    assert main(["models", "list"]) == 0
    assert "Imported models:" not in capsys.readouterr().out


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (os.urandom(5000).replace(b"GGUF", b"...."), "is not a GGUF model file"),
    ("truncate", "is truncated"),
])
def test_import_rejects_bad_files(models, tmp_path, demo_model, capsys, content, message):
    p = tmp_path / "bad.gguf"
    if content == "truncate":
        with open(demo_model, "rb") as f:
            content = f.read(3_000_000)
    p.write_bytes(content)
    assert main(["models", "import", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("longhand: error: bad.gguf") and message in err
    assert "Traceback" not in err
    assert not (models / "library.json").exists()


def test_import_of_an_installed_catalog_file_says_so(models, demo_model, capsys):
    models.mkdir(parents=True)
    copy = models / demo_model.name
    try:
        os.link(demo_model, copy)        # no 250 MB copy when on the same disk
    except OSError:
        copy.write_bytes(demo_model.read_bytes())
    assert main(["models", "import", str(copy)]) == 2
    assert "already installed as demo (Q4_K_M)" in capsys.readouterr().err
