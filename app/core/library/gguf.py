"""Core: a pure-Python reader for GGUF headers and metadata (no llama.cpp needed).

Used to validate a model file before it is accepted (import, after a download) and to size
GPU offload and memory needs from the model's own numbers (layers, heads, embedding size,
per-layer tensor bytes). It reads the header, the key/value metadata (arrays included) and
the tensor table, and checks that every tensor's data lies inside the file, so a truncated
download is caught here with a clear message rather than as a crash inside llama.cpp.

File layout (GGUF v2/v3, little-endian; v1 used 32-bit counts)::

    "GGUF" | u32 version | u64 tensor_count | u64 kv_count
    kv_count x  (string key, u32 value_type, value)
    tensor_count x (string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset)
    padding to general.alignment (default 32), then the tensor data
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelError

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# GGUF metadata value types
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL, _STRING, _ARRAY, \
    _UINT64, _INT64, _FLOAT64 = range(13)
_SCALAR = {_UINT8: "B", _INT8: "b", _UINT16: "H", _INT16: "h", _UINT32: "I", _INT32: "i",
           _FLOAT32: "f", _BOOL: "?", _UINT64: "Q", _INT64: "q", _FLOAT64: "d"}

# ggml tensor types: id -> (name, elements per block, bytes per block). From ggml.h.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
}

# general.file_type (llama_ftype) -> the quantization name users see in file names
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE",
}

# Sanity limits: anything beyond these is a corrupt header, not a real model.
_MAX_TENSORS = 1_000_000
_MAX_KV = 100_000
_MAX_DIMS = 4


@dataclass
class GGUFArray:
    """A long metadata array kept as a summary (the tokenizer's 100k+ tokens, merges...)."""

    item_type: int
    count: int
    head: list = field(default_factory=list)   # the first few items

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"<array of {self.count} items>"


@dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int                # relative to the start of the data section
    nbytes: int | None         # None for a tensor type this reader does not know

    @property
    def type_name(self) -> str:
        return GGML_TYPES.get(self.ggml_type, (f"type{self.ggml_type}",))[0]

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class GGUFInfo:
    path: Path
    version: int
    tensor_count: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo]
    data_offset: int
    file_size: int
    byte_order: str = "<"

    # -- the numbers the app needs ---------------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    def _arch(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    @property
    def name(self) -> str:
        return str(self.metadata.get("general.name") or self.path.stem)

    @property
    def block_count(self) -> int:
        return int(self._arch("block_count", 0) or 0)

    @property
    def context_length(self) -> int:
        return int(self._arch("context_length", 0) or 0)

    @property
    def embedding_length(self) -> int:
        return int(self._arch("embedding_length", 0) or 0)

    @property
    def head_count(self) -> int:
        return _first_int(self._arch("attention.head_count", 0))

    @property
    def head_count_kv(self) -> int:
        return _first_int(self._arch("attention.head_count_kv", 0)) or self.head_count

    @property
    def key_length(self) -> int:
        k = int(self._arch("attention.key_length", 0) or 0)
        if k:
            return k
        return self.embedding_length // self.head_count if self.head_count else 0

    @property
    def value_length(self) -> int:
        v = int(self._arch("attention.value_length", 0) or 0)
        return v or self.key_length

    @property
    def sliding_window(self) -> int:
        return int(self._arch("attention.sliding_window", 0) or 0)

    @property
    def chat_template(self) -> str:
        return str(self.metadata.get("tokenizer.chat_template", "") or "")

    @property
    def quantization(self) -> str:
        ft = self.metadata.get("general.file_type")
        if isinstance(ft, int) and ft in FILE_TYPES:
            return FILE_TYPES[ft]
        return ""

    @property
    def parameter_count(self) -> int:
        return sum(t.n_elements for t in self.tensors)

    def kv_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        """KV cache bytes per token of context over all layers (f16 cache by default)."""
        per_layer = self.head_count_kv * (self.key_length + self.value_length) * bytes_per_value
        return per_layer * self.block_count

    def kv_cache_bytes(self, n_ctx: int, bytes_per_value: int = 2) -> int:
        return self.kv_bytes_per_token(bytes_per_value) * n_ctx

    def layer_bytes(self) -> list[int]:
        """Bytes of weights in each repeating block (``blk.N.*``), in block order."""
        sizes = [0] * self.block_count
        for t in self.tensors:
            if t.name.startswith("blk."):
                try:
                    i = int(t.name.split(".")[1])
                except (IndexError, ValueError):
                    continue
                if 0 <= i < len(sizes):
                    sizes[i] += t.nbytes or 0
        return sizes

    def non_layer_bytes(self) -> int:
        """Bytes outside the blocks (token embeddings, output head, final norm)."""
        return sum(t.nbytes or 0 for t in self.tensors if not t.name.startswith("blk."))

    def summary(self) -> dict[str, Any]:
        """What the user sees when importing a model."""
        return {
            "file": self.path.name,
            "name": self.name,
            "architecture": self.architecture,
            "quantization": self.quantization,
            "parameters": self.parameter_count,
            "layers": self.block_count,
            "context_length": self.context_length,
            "embedding_length": self.embedding_length,
            "head_count": self.head_count,
            "head_count_kv": self.head_count_kv,
            "chat_template": bool(self.chat_template),
            "tensors": self.tensor_count,
            "gguf_version": self.version,
            "size_bytes": self.file_size,
        }


def _first_int(v: Any) -> int:
    """Per-layer head counts are arrays in some models: use the first (largest is not needed)."""
    if isinstance(v, list):
        return int(v[0]) if v else 0
    if isinstance(v, GGUFArray):
        return int(v.head[0]) if v.head else 0
    return int(v or 0)


class _Reader:
    """Bounds-checked reads over the file's bytes; running past the end means truncation."""

    def __init__(self, buf, size: int, name: str, order: str = "<") -> None:
        self.buf = buf
        self.size = size
        self.pos = 0
        self.name = name
        self.order = order

    def truncated(self, what: str) -> ModelError:
        return ModelError(f"{self.name} is truncated: it ends at byte {self.size:,} while reading "
                          f"{what}. The file is incomplete (an interrupted download or copy?); "
                          "download or copy it again.")

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.size:
            raise self.truncated(what)
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt: str, what: str):
        s = struct.Struct(self.order + fmt)
        if self.pos + s.size > self.size:
            raise self.truncated(what)
        v = s.unpack_from(self.buf, self.pos)
        self.pos += s.size
        return v[0] if len(v) == 1 else v

    def string(self, what: str, count_fmt: str = "Q") -> str:
        n = self.unpack(count_fmt, what)
        if n > self.size - self.pos:
            if n > 1 << 32:  # an absurd length is corruption, not truncation
                raise ModelError(f"{self.name} is corrupt: a string length of {n:,} bytes in {what}.")
            raise self.truncated(what)
        return bytes(self.take(n, what)).decode("utf-8", "replace")

    def skip_strings(self, count: int, what: str, count_fmt: str = "Q") -> None:
        s = struct.Struct(self.order + count_fmt)
        for _ in range(count):
            if self.pos + s.size > self.size:
                raise self.truncated(what)
            n = s.unpack_from(self.buf, self.pos)[0]
            self.pos += s.size + n
            if self.pos > self.size:
                raise self.truncated(what)


def existing_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path, or a ModelError saying it is missing or not a file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(f"Model file not found: {p}")
    if not p.is_file():
        raise ModelError(f"Not a file: {p}")
    return p


def read_gguf(path: str | os.PathLike, *, max_array: int = 64) -> GGUFInfo:
    """Read a GGUF file's header, metadata and tensor table.

    Arrays longer than ``max_array`` items are kept as :class:`GGUFArray` summaries. Raises
    :class:`ModelError` with a message for the user on anything that is not a whole, valid
    GGUF file: missing, empty, another format, truncated, corrupt.
    """
    p = existing_file(path)
    try:
        size = p.stat().st_size
        if size == 0:
            raise ModelError(f"{p.name} is empty (0 bytes): it is not a GGUF model file.")
        with p.open("rb") as f:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return _parse(p, mm, size, max_array)
    except ModelError:
        raise
    except (OSError, ValueError) as e:
        raise ModelError(f"Cannot read {p.name}: {getattr(e, 'strerror', None) or e}") from e


def _parse(p: Path, mm, size: int, max_array: int) -> GGUFInfo:
    name = p.name
    if size < 4 or mm[:4] != GGUF_MAGIC:
        raise ModelError(f"{name} is not a GGUF model file{_not_gguf_hint(bytes(mm[:4]))}: "
                         "it does not start with 'GGUF'.")
    r = _Reader(mm, size, name)
    r.pos = 4
    version = r.unpack("I", "the version")
    if version > 0xFFFF:  # written on a big-endian machine
        r.order = ">"
        r.pos = 4
        version = r.unpack("I", "the version")
    if version not in (1, 2, 3):
        raise ModelError(f"{name} has GGUF version {version}, which this app does not know "
                         "(supported: 1 to 3). The file may be corrupt or newer than the app.")
    count_fmt = "I" if version == 1 else "Q"
    n_tensors = r.unpack(count_fmt, "the tensor count")
    n_kv = r.unpack(count_fmt, "the metadata count")
    if n_tensors > _MAX_TENSORS or n_kv > _MAX_KV:
        raise ModelError(f"{name} is corrupt: its header claims {n_tensors:,} tensors and "
                         f"{n_kv:,} metadata entries.")

    meta: dict[str, Any] = {}
    for i in range(n_kv):
        key = r.string(f"metadata key #{i + 1}", count_fmt)
        vtype = r.unpack("I", f"the type of '{key}'")
        meta[key] = _value(r, vtype, key, count_fmt, max_array)

    tensors = [_tensor(r, i, count_fmt) for i in range(n_tensors)]

    align = meta.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(align, int) or align <= 0 or align & (align - 1):
        raise ModelError(f"{name} is corrupt: bad general.alignment {align!r}.")
    data_offset = ((r.pos + align - 1) // align) * align
    info = GGUFInfo(p, version, n_tensors, meta, tensors, data_offset, size, r.order)
    _check_data(info)
    return info


def _not_gguf_hint(head: bytes) -> str:
    """What a file that is not GGUF seems to be, from its first bytes ("" when unknown)."""
    if head[:2] == b"PK":
        return " (it is a zip archive)"
    if head.startswith(b"<") or head.startswith(b"{"):
        return " (it is a text/HTML/JSON file, maybe an error page saved instead of the model)"
    if head.startswith(b"ggjt") or head.startswith(b"ggml") or head.startswith(b"tjgg"):
        return " (it is an old GGML/GGJT model; convert it to GGUF)"
    return ""


def _tensor(r: _Reader, i: int, count_fmt: str) -> TensorInfo:
    """Tensor ``i``'s entry in the header: name, shape, type, offset (and its bytes, for a
    known type)."""
    tname = r.string(f"the name of tensor #{i + 1}", count_fmt)
    n_dims = r.unpack("I", f"tensor '{tname}'")
    if n_dims > _MAX_DIMS:
        raise ModelError(f"{r.name} is corrupt: tensor '{tname}' has {n_dims} dimensions.")
    shape = tuple(r.unpack(count_fmt, f"tensor '{tname}'") for _ in range(n_dims))
    gtype = r.unpack("I", f"tensor '{tname}'")
    offset = r.unpack("Q", f"tensor '{tname}'")
    nbytes = None
    if gtype in GGML_TYPES:
        _, blck, tsize = GGML_TYPES[gtype]
        n = 1
        for d in shape:
            n *= d
        nbytes = (n // blck) * tsize if blck else None
    return TensorInfo(tname, shape, gtype, offset, nbytes)


def _value(r: _Reader, vtype: int, key: str, count_fmt: str, max_array: int) -> Any:
    if vtype in _SCALAR:
        return r.unpack(_SCALAR[vtype], f"the value of '{key}'")
    if vtype == _STRING:
        return r.string(f"the value of '{key}'", count_fmt)
    if vtype == _ARRAY:
        itype = r.unpack("I", f"the array '{key}'")
        count = r.unpack(count_fmt, f"the array '{key}'")
        if count > r.size:  # each item takes at least one byte
            raise ModelError(f"{r.name} is corrupt: the array '{key}' claims {count:,} items.")
        if count <= max_array:
            return [_value(r, itype, key, count_fmt, max_array) for _ in range(count)]
        head = [_value(r, itype, key, count_fmt, max_array) for _ in range(4)]
        rest = count - 4
        if itype in _SCALAR:
            r.take(rest * struct.calcsize(_SCALAR[itype]), f"the array '{key}'")
        elif itype == _STRING:
            r.skip_strings(rest, f"the array '{key}'", count_fmt)
        else:
            for _ in range(rest):
                _value(r, itype, key, count_fmt, max_array)
        return GGUFArray(itype, count, head)
    raise ModelError(f"{r.name} is corrupt: unknown metadata type {vtype} for '{key}'.")


def _check_data(info: GGUFInfo) -> None:
    """Every tensor's bytes must lie inside the file; otherwise it was cut short."""
    data_size = info.file_size - info.data_offset
    end = 0
    for t in info.tensors:
        t_end = t.offset + (t.nbytes or 1)
        end = max(end, t_end)
    if info.tensors and end > data_size:
        missing = end - max(0, data_size)
        raise ModelError(
            f"{info.path.name} is truncated: its tensors need {info.data_offset + end:,} bytes but "
            f"the file has {info.file_size:,} ({missing:,} missing). The download or copy did not "
            "finish; download or copy it again.")
    # Fill in the sizes of tensors of unknown types from the gaps between offsets.
    ordered = sorted(info.tensors, key=lambda t: t.offset)
    for a, b in zip(ordered, ordered[1:] + [None]):
        if a.nbytes is None:
            a.nbytes = (b.offset if b is not None else data_size) - a.offset


def validate_model_file(path: str | os.PathLike) -> GGUFInfo:
    """Read and check a model file for use by llama.cpp: a whole GGUF with an architecture."""
    info = read_gguf(path)
    if not info.architecture:
        raise ModelError(f"{info.path.name} has no 'general.architecture' in its metadata: "
                         "it is not a model llama.cpp can run (a LoRA adapter or a vocab-only file?).")
    if not info.tensors:
        raise ModelError(f"{info.path.name} holds no tensors: it is not a complete model.")
    if not info.block_count:
        raise ModelError(f"{info.path.name} does not say how many layers it has "
                         f"('{info.architecture}.block_count' is missing).")
    return info
