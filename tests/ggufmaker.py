"""Tests: write small GGUF files (header, metadata, tensor table, data) for the reader's tests."""

from __future__ import annotations

import struct

# metadata value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
_FMT = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
        U64: "Q", I64: "q", F64: "d"}


def _s(text: str, order: str = "<") -> bytes:
    b = text.encode()
    return struct.pack(order + "Q", len(b)) + b


def _value(vtype: int, v, order: str) -> bytes:
    if vtype == STR:
        return _s(v, order)
    if vtype == ARR:
        itype, items = v
        out = struct.pack(order + "IQ", itype, len(items))
        return out + b"".join(_value(itype, x, order) for x in items)
    return struct.pack(order + _FMT[vtype], v)


def make_gguf(metadata: list[tuple[str, int, object]], tensors: list[tuple[str, tuple, int, int]],
              *, version: int = 3, alignment: int = 32, order: str = "<") -> bytes:
    """``metadata``: (key, type, value); ``tensors``: (name, shape, ggml_type, nbytes)."""
    out = bytearray(b"GGUF")
    out += struct.pack(order + "IQQ", version, len(tensors), len(metadata))
    for key, vtype, v in metadata:
        out += _s(key, order) + struct.pack(order + "I", vtype) + _value(vtype, v, order)
    offset = 0
    layout = []
    for name, shape, gtype, nbytes in tensors:
        out += _s(name, order) + struct.pack(order + "I", len(shape))
        out += b"".join(struct.pack(order + "Q", d) for d in shape)
        out += struct.pack(order + "IQ", gtype, offset)
        layout.append((offset, nbytes))
        offset += ((nbytes + alignment - 1) // alignment) * alignment
    out += b"\0" * ((-len(out)) % alignment)
    data = bytearray(offset)
    for i, (off, n) in enumerate(layout):
        data[off:off + n] = bytes([i % 251 + 1]) * n
    return bytes(out + data)


def tiny_llama(n_layers: int = 2, n_embd: int = 64, template: str = "{{ messages }}",
               name: str = "Tiny LongWriter", arch: str = "llama") -> bytes:
    """A small but complete llama-shaped GGUF (F32 tensors) with the usual metadata."""
    meta = [
        ("general.architecture", STR, arch),
        ("general.name", STR, name),
        ("general.file_type", U32, 0),
        (f"{arch}.block_count", U32, n_layers),
        (f"{arch}.context_length", U32, 1048576),
        (f"{arch}.embedding_length", U32, n_embd),
        (f"{arch}.attention.head_count", U32, 4),
        (f"{arch}.attention.head_count_kv", U32, 2),
        ("tokenizer.ggml.tokens", ARR, (STR, [f"tok{i}" for i in range(200)])),
        ("tokenizer.ggml.scores", ARR, (F32, [float(i) for i in range(200)])),
        ("tokenizer.chat_template", STR, template),
        ("general.tags", ARR, (STR, ["a", "b"])),
        ("nested", ARR, (ARR, [(U8, [1, 2]), (U8, [3])])),
    ]
    tensors = [("token_embd.weight", (n_embd, 200), 0, n_embd * 200 * 4)]
    for i in range(n_layers):
        tensors.append((f"blk.{i}.attn_q.weight", (n_embd, n_embd), 0, n_embd * n_embd * 4))
        tensors.append((f"blk.{i}.ffn_up.weight", (n_embd, 2 * n_embd), 0, 2 * n_embd * n_embd * 4))
    tensors.append(("output.weight", (n_embd, 200), 0, n_embd * 200 * 4))
    return make_gguf(meta, tensors)
