"""Tests: the pure-Python GGUF reader on the real demo model and on made-up/broken files."""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ggufmaker import ARR, STR, U32, make_gguf, tiny_llama
from longhand.core.errors import ModelError
from longhand.core.library.gguf import GGML_TYPES, read_gguf, validate_model_file


def test_type_table_matches_ggml():
    import llama_cpp
    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    lib.ggml_type_size.restype = ctypes.c_size_t
    lib.ggml_type_size.argtypes = [ctypes.c_int]
    lib.ggml_blck_size.restype = ctypes.c_int64
    lib.ggml_blck_size.argtypes = [ctypes.c_int]
    for t, (name, blck, size) in GGML_TYPES.items():
        assert (lib.ggml_blck_size(t), lib.ggml_type_size(t)) == (blck, size), name


def test_synthetic_model_with_arrays_and_template(tmp_path):
    p = tmp_path / "tiny.gguf"
    p.write_bytes(tiny_llama(n_layers=3, template="{% for m in messages %}{{ m }}{% endfor %}"))
    info = validate_model_file(p)
    assert info.architecture == "llama" and info.block_count == 3
    assert info.context_length == 1048576        # what the file claims; the app sizes its own
    assert info.head_count_kv == 2 and info.key_length == 16
    assert info.chat_template.startswith("{% for m")
    assert info.get("general.tags") == ["a", "b"]
    assert info.get("nested") == [[1, 2], [3]]
    assert info.get("tokenizer.ggml.tokens").count == 200
    assert info.get("tokenizer.ggml.tokens").head[:2] == ["tok0", "tok1"]
    assert info.kv_bytes_per_token() == 3 * 2 * (16 + 16) * 2
    assert len(info.layer_bytes()) == 3 and len(set(info.layer_bytes())) == 1
    s = info.summary()
    assert s["layers"] == 3 and s["chat_template"] is True and s["quantization"] == "F32"


def test_big_endian_file(tmp_path):
    meta = [("general.architecture", STR, "llama"), ("llama.block_count", U32, 1)]
    p = tmp_path / "be.gguf"
    p.write_bytes(make_gguf(meta, [("blk.0.w", (8,), 0, 32)], order=">"))
    info = read_gguf(p)
    assert info.byte_order == ">" and info.block_count == 1


@pytest.mark.parametrize("cut", [5, 12, 30, 200, 2000, -1])
def test_truncated_files_are_rejected_clearly(tmp_path, cut):
    data = tiny_llama()
    p = tmp_path / "cut.gguf"
    p.write_bytes(data[:cut] if cut > 0 else data[:-100])
    with pytest.raises(ModelError) as e:
        read_gguf(p)
    assert "truncated" in str(e.value) and "cut.gguf" in str(e.value)


def test_empty_random_and_other_formats(tmp_path):
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        read_gguf(empty)
    rnd = tmp_path / "random.gguf"
    rnd.write_bytes(os.urandom(4096).replace(b"GGUF", b"XXXX"))
    with pytest.raises(ModelError, match="not a GGUF model file"):
        read_gguf(rnd)
    html = tmp_path / "page.gguf"
    html.write_bytes(b"<!DOCTYPE html><html>Not found</html>")
    with pytest.raises(ModelError, match="error page"):
        read_gguf(html)
    with pytest.raises(ModelError, match="not found"):
        read_gguf(tmp_path / "missing.gguf")
    with pytest.raises(ModelError, match="Not a file"):
        read_gguf(tmp_path)


def test_corrupt_headers(tmp_path):
    p = tmp_path / "bad.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 99, 1, 1))
    with pytest.raises(ModelError, match="version 99"):
        read_gguf(p)
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 1))
    with pytest.raises(ModelError, match="corrupt"):
        read_gguf(p)
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 3) + b"key"
                  + struct.pack("<I", 77))
    with pytest.raises(ModelError, match="unknown metadata type"):
        read_gguf(p)


def test_validate_rejects_files_that_are_not_models(tmp_path):
    p = tmp_path / "vocab.gguf"
    p.write_bytes(make_gguf([("general.architecture", STR, "llama")], []))
    with pytest.raises(ModelError, match="no tensors"):
        validate_model_file(p)
    p.write_bytes(make_gguf([("tokenizer.ggml.tokens", ARR, (STR, ["a"]))], [("w", (4,), 0, 16)]))
    with pytest.raises(ModelError, match="general.architecture"):
        validate_model_file(p)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_raise_model_error_and_nothing_else(tmp_path, data):
    """Cut or flip bytes anywhere in a valid file: the reader answers or raises ModelError."""
    raw = bytearray(tiny_llama(n_layers=1, n_embd=16))
    header_end = 1400
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    else:
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, min(header_end, len(raw) - 1)))
            raw[i] = data.draw(st.integers(0, 255))
    p = tmp_path / "fuzz.gguf"
    p.write_bytes(bytes(raw))
    try:
        read_gguf(p)
    except ModelError as e:
        assert str(e)
