"""Tests: the pure-Python GGUF reader on the real demo model and on made-up/broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from longhand.core.errors import ModelError
from longhand.core.library.gguf import GGUFArray, read_gguf


def test_demo_model_metadata(demo_model):
    info = read_gguf(demo_model)
    assert info.version == 3
    assert info.architecture == "gemma3"
    assert info.block_count == 18
    assert info.context_length == 32768
    assert info.embedding_length == 640
    assert info.head_count == 4 and info.head_count_kv == 1
    assert info.key_length == 256 and info.sliding_window == 512
    assert info.chat_template == ""
    assert info.quantization == "Q4_K_M"
    assert info.tensor_count == len(info.tensors) == 236
    # every tensor's size is known and together with the header they fill the file exactly
    assert all(t.nbytes for t in info.tensors)
    assert info.data_offset + sum(t.nbytes for t in info.tensors) == Path(demo_model).stat().st_size
    tokens = info.get("tokenizer.ggml.tokens")
    assert isinstance(tokens, GGUFArray) and tokens.count == 262144
    assert sum(info.layer_bytes()) + info.non_layer_bytes() == sum(t.nbytes for t in info.tensors)


def test_metadata_matches_llama_cpp(demo_model):
    """What llama.cpp itself reads from the file (vocab-only load: cheap)."""
    import llama_cpp
    llm = llama_cpp.Llama(str(demo_model), vocab_only=True, verbose=False)
    try:
        meta = llm.metadata
    finally:
        llm.close()
    info = read_gguf(demo_model)
    assert len(meta) > 20
    for key, value in meta.items():
        ours = info.metadata[key]
        if isinstance(ours, (list, GGUFArray)):
            continue
        if isinstance(ours, bool):
            assert value == str(ours).lower(), key
        elif isinstance(ours, float):
            assert float(value) == pytest.approx(ours, rel=1e-6), key
        else:
            assert str(value) == str(ours), key


def test_truncated_real_model_is_rejected(tmp_path, demo_model):
    p = tmp_path / "half.gguf"
    with open(demo_model, "rb") as src, open(p, "wb") as dst:
        dst.write(src.read(Path(demo_model).stat().st_size // 2))
    with pytest.raises(ModelError, match="truncated"):
        read_gguf(p)
