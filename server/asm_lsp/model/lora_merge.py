"""Merge a GGUF LoRA into a GGUF base model, so the server runs one set of weights and no adapter.

A LoRA applied at run time costs decode speed on every token (llama.cpp computes ``B·(A·x)``
beside each adapted matrix). Merged, the adapted matrices hold ``W + scale·B·A`` and the model
decodes at the base model's cost. This module does the merge with the ``gguf`` package (pure
Python + numpy; no torch, no llama.cpp):

* every tensor the LoRA does not touch keeps its bytes (embeddings, norms: identical);
* each adapted tensor is dequantized, ``alpha/r · B @ A`` is added (f16 A and B, summed in
  float64 so the result does not depend on the BLAS library's summation order) and the sum is
  stored as ``target`` (Q8_0 by default: bench/results/merged_weights.md measured what each
  choice costs and how often it answers like the runtime adapter);
* the metadata is the base model's, key for key, plus ``asm_lsp.merge.*`` keys that say what
  was merged (so a merged file names its own origin).

The arithmetic is IEEE float32/float64 in a fixed order, and the one sum whose order a BLAS
library may choose (B·A over r=16 f16 products) is exact in float64, so the same inputs give
the same bytes on any machine (checked here with 1 and 2 threads). The store still
checks the result against the sha256 asm-lora.json records; a different result is not used.

    python -m asm_lsp.model.lora_merge BASE.gguf LORA.gguf OUT.gguf [--target q8_0]

Nothing here imports llama_cpp or LSP code.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import struct
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .store import Progress

#: Bump when the merge arithmetic or the file layout changes: it is part of the cache key and
#: of the recorded expected hash.
RECIPE_VERSION = 1
DEFAULT_TARGET = "q8_0"


class MergeError(Exception):
    """The base and the LoRA cannot be merged (wrong files, shapes that do not fit)."""


@dataclass(frozen=True)
class MergeResult:
    path: Path
    size: int
    sha256: str
    merged_tensors: int
    copied_tensors: int
    seconds: float


def recipe(target: str = DEFAULT_TARGET) -> str:
    """The name of this merge's arithmetic and output type, e.g. ``asm-lsp-merge/1 q8_0``."""
    return f"asm-lsp-merge/{RECIPE_VERSION} {target}"


# ---------------------------------------------------------------- GGUF writing (by hand)
# The layout is small and fixed (magic, version, counts, key/values, tensor infos, aligned
# data); writing it here keeps the base model's key/value bytes verbatim and the output
# byte-for-byte reproducible, whatever gguf.GGUFWriter's version does with ordering.

def _gguf_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _kv_string(key: str, value: str) -> bytes:
    string_type = 8  # GGUFValueType.STRING
    return _gguf_string(key) + struct.pack("<I", string_type) + _gguf_string(value)


def _tensor_info(name: str, dims: tuple[int, ...], ggml_type: int, offset: int) -> bytes:
    return (_gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
            + struct.pack("<IQ", ggml_type, offset))


def _pad(n: int, alignment: int) -> int:
    return (alignment - n % alignment) % alignment


# ---------------------------------------------------------------- GGUF reading (header only)
# gguf.GGUFReader parses every key/value through numpy memmap views: ~15 s for Qwen's 151k-token
# vocabulary on a loaded 2-core machine. The merge needs only the tensor table and a few keys.

_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dims: tuple[int, ...]  # GGUF order: dims[0] is the row length (ne0)
    ggml_type: int
    offset: int  # from the start of the data section

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n


@dataclass(frozen=True)
class GgufHeader:
    version: int
    metadata: dict[str, object]  # scalars and strings; arrays as None (not needed here)
    kv_bytes: bytes  # the key/value section verbatim
    n_kv: int
    tensors: list[TensorInfo]
    alignment: int
    data_start: int


class _Cursor:
    def __init__(self, f) -> None:
        self.f = f

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise MergeError("file ends inside the GGUF header")
        return data

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.read(self.unpack("<Q")).decode("utf-8", errors="replace")

    def value(self, value_type: int):
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            item_type, count = self.unpack("<I"), self.unpack("<Q")
            if item_type in _SCALAR:
                self.f.seek(count * struct.calcsize(_SCALAR[item_type]), os.SEEK_CUR)
            else:
                for _ in range(count):
                    self.value(item_type)
            return None
        if value_type not in _SCALAR:
            raise MergeError(f"unknown GGUF value type {value_type}")
        return self.unpack(_SCALAR[value_type])


def read_header(path: Path) -> GgufHeader:
    """The key/values and tensor table of a GGUF v2+ file."""
    with path.open("rb") as f:
        cursor = _Cursor(f)
        if cursor.read(4) != b"GGUF":
            raise MergeError(f"{path} is not a GGUF file")
        version = cursor.unpack("<I")
        if version < 2:
            raise MergeError(f"{path} is GGUF v{version}; only v2 and later are supported")
        n_tensors, n_kv = cursor.unpack("<Q"), cursor.unpack("<Q")
        kv_start = f.tell()
        metadata: dict[str, object] = {}
        for _ in range(n_kv):
            key = cursor.string()
            metadata[key] = cursor.value(cursor.unpack("<I"))
        kv_end = f.tell()
        tensors = []
        for _ in range(n_tensors):
            name = cursor.string()
            dims = tuple(cursor.unpack("<Q") for _ in range(cursor.unpack("<I")))
            tensors.append(TensorInfo(name, dims, cursor.unpack("<I"), cursor.unpack("<Q")))
        alignment = int(metadata.get("general.alignment") or 32)
        end = f.tell()
        f.seek(kv_start)
        kv_bytes = f.read(kv_end - kv_start)
    return GgufHeader(version, metadata, kv_bytes, n_kv, tensors, alignment, end + _pad(end, alignment))


def _tensor_array(path: Path, header: GgufHeader, tensor: TensorInfo, gguf):
    """A tensor's stored bytes (quantized types) or values, numpy-shaped as gguf.quants expects."""
    import numpy as np

    qtype = gguf.GGMLQuantizationType(tensor.ggml_type)
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n_bytes = tensor.n_elements // block_size * type_size
    shape = tuple(reversed(tensor.dims))  # numpy order: rows first
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=header.data_start + tensor.offset, shape=(n_bytes,))
    if qtype == gguf.GGMLQuantizationType.F32:
        return raw.view(np.float32).reshape(shape)
    if qtype == gguf.GGMLQuantizationType.F16:
        return raw.view(np.float16).reshape(shape)
    return raw.reshape(*shape[:-1], shape[-1] // block_size * type_size)


# ---------------------------------------------------------------- the merge

def _lora_pairs(lora: GgufHeader) -> dict[str, tuple[TensorInfo, TensorInfo]]:
    """``base tensor name -> (lora_a, lora_b)`` of a GGUF LoRA."""
    a_tensors, b_tensors = {}, {}
    for tensor in lora.tensors:
        if tensor.name.endswith(".lora_a"):
            a_tensors[tensor.name[: -len(".lora_a")]] = tensor
        elif tensor.name.endswith(".lora_b"):
            b_tensors[tensor.name[: -len(".lora_b")]] = tensor
    if set(a_tensors) != set(b_tensors):
        odd = sorted(set(a_tensors) ^ set(b_tensors))[:3]
        raise MergeError(f"LoRA has lora_a without lora_b (or the reverse) for {odd}")
    return {name: (a_tensors[name], b_tensors[name]) for name in a_tensors}


def merged_matrix(base_values, lora_a, lora_b, scale: float):
    """``base + scale · B @ A`` as float32; A is (r, n_in), B is (n_out, r), base (n_out, n_in).

    f16 products are exact in float64 and r (16) such products sum exactly there in all but
    pathological cases, so the result does not depend on the summation order.
    """
    import numpy as np

    delta = np.matmul(lora_b.astype(np.float64), lora_a.astype(np.float64))
    delta *= scale
    delta += base_values
    return delta.astype(np.float32)


def _target_types(target: str, gguf) -> Callable[[object], object]:
    """``base tensor type -> merged tensor type`` for a ``target`` name.

    ``same``: the base tensor's own type where numpy can quantize it (Q5_0, Q8_0, F16 ...),
    else Q8_0 (the K-quants have no numpy quantizer).
    """
    if target == "same":
        return lambda base_type: base_type if _quantizes(base_type, gguf) else gguf.GGMLQuantizationType.Q8_0
    try:
        fixed = gguf.GGMLQuantizationType[target.upper()]
    except KeyError:
        raise MergeError(f"unknown target type {target!r}; use q8_0, same, f16 or f32") from None
    return lambda _base_type: fixed


def _quantizes(qtype, gguf) -> bool:
    if qtype in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
        return True
    traits = gguf.quants._type_traits.get(qtype)
    return traits is not None and "quantize_blocks" in vars(traits)


def merge_lora(
    base: Path,
    lora: Path,
    out: Path,
    target: str = DEFAULT_TARGET,
    progress: Progress | None = None,
    extra_metadata: dict[str, str] | None = None,
    threads: int = 2,
) -> MergeResult:
    """Write ``out``: ``base`` with ``lora`` merged in. Atomic (temp file + rename); returns its sha256.

    ``target``: GGML type name for the merged tensors (``q8_0``, ``f16``, ``f32`` or another type
    the ``gguf`` package quantizes in numpy), or ``same`` (see :func:`_target_types`).
    ``progress(message, fraction)`` is called after each tensor is written. ``threads``: tensors
    computed at once.
    """
    try:
        import gguf
        import numpy as np
    except ImportError as e:
        raise MergeError(f"merging needs the gguf and numpy packages ({e}); "
                         "run `pip install 'asm-lsp-aarch64[model]'`") from e
    started = time.monotonic()
    target_for = _target_types(target, gguf)
    base_header, lora_header = read_header(base), read_header(lora)
    if lora_header.metadata.get("general.type") not in (None, "adapter") or \
            lora_header.metadata.get("adapter.type") not in (None, "lora"):
        raise MergeError(f"{lora} is not a GGUF LoRA adapter (general.type/adapter.type)")
    base_arch = base_header.metadata.get("general.architecture")
    lora_arch = lora_header.metadata.get("general.architecture")
    if base_arch and lora_arch and base_arch != lora_arch:
        raise MergeError(f"LoRA {lora.name} is for {lora_arch}, the base model {base.name} is {base_arch}")
    alpha = float(lora_header.metadata.get("adapter.lora.alpha") or 0.0)
    pairs = _lora_pairs(lora_header)
    if not pairs:
        raise MergeError(f"{lora} has no lora_a/lora_b tensors: not a GGUF LoRA adapter")
    missing = sorted(set(pairs) - {t.name for t in base_header.tensors})
    if missing:
        raise MergeError(f"LoRA adapts tensors the base model lacks: {missing[:3]}")

    # Sizes first (tensor infos carry data offsets): the merged tensors may change type.
    plan = []  # (tensor, new type, n_bytes)
    for tensor in base_header.tensors:
        new_type = gguf.GGMLQuantizationType(tensor.ggml_type)
        if tensor.name in pairs:
            new_type = target_for(new_type)
        block_size, type_size = gguf.GGML_QUANT_SIZES[new_type]
        if tensor.dims[0] % block_size:
            raise MergeError(f"{tensor.name}: rows of {tensor.dims[0]} do not split into {new_type.name} blocks")
        plan.append((tensor, int(new_type), tensor.n_elements // block_size * type_size))

    ours = {"asm_lsp.merge.recipe": recipe(target), **(extra_metadata or {})}
    kv_bytes = base_header.kv_bytes + b"".join(_kv_string(k, v) for k, v in ours.items())
    infos, offset = [], 0
    for tensor, ggml_type, n_bytes in plan:
        infos.append(_tensor_info(tensor.name, tensor.dims, ggml_type, offset))
        offset += n_bytes + _pad(n_bytes, base_header.alignment)
    head = b"GGUF" + struct.pack("<IQQ", base_header.version, len(plan), base_header.n_kv + len(ours))
    head += kv_bytes + b"".join(infos)
    head += b"\0" * _pad(len(head), base_header.alignment)

    def tensor_bytes(tensor: TensorInfo, ggml_type: int) -> bytes | memoryview:
        stored = _tensor_array(base, base_header, tensor, gguf)
        if tensor.name not in pairs:
            return memoryview(np.ascontiguousarray(stored)).cast("B")
        info_a, info_b = pairs[tensor.name]
        a = _tensor_array(lora, lora_header, info_a, gguf)
        b = _tensor_array(lora, lora_header, info_b, gguf)
        rank = info_b.dims[0]  # llama.cpp: scale = alpha / b->ne[0]
        scale = alpha / rank if alpha else 1.0
        values = gguf.quants.dequantize(stored, gguf.GGMLQuantizationType(tensor.ggml_type))
        if b.shape[0] != values.shape[0] or a.shape[1] != values.shape[1] or a.shape[0] != rank:
            raise MergeError(f"{tensor.name}: LoRA shapes A{a.shape} B{b.shape} do not fit {values.shape}")
        merged = merged_matrix(values, a, b, scale)
        return np.ascontiguousarray(gguf.quants.quantize(merged, gguf.GGMLQuantizationType(ggml_type))).tobytes()

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out.name + ".", suffix=".part", dir=out.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    total = sum(n for _, _, n in plan) or 1
    written = 0
    try:
        with os.fdopen(fd, "wb") as sink:
            def emit(data: bytes | memoryview) -> None:
                digest.update(data)
                sink.write(data)

            emit(head)
            # Tensors are independent and numpy lets go of the GIL in the heavy parts: compute a
            # few ahead on ``threads`` workers and write them in order (the bytes are the same).
            workers = max(1, threads)
            with ThreadPoolExecutor(workers, thread_name_prefix="asm-lsp-merge") as pool:
                pending: deque = deque()
                for index, (tensor, ggml_type, n_bytes) in enumerate(plan):
                    pending.append((index, tensor.name, n_bytes, pool.submit(tensor_bytes, tensor, ggml_type)))
                    while pending and (len(pending) > 2 * workers or index + 1 == len(plan)):
                        done_index, name, done_bytes, future = pending.popleft()
                        data = future.result()
                        if len(data) != done_bytes:
                            raise MergeError(f"{name}: {len(data)} bytes, planned {done_bytes}")
                        emit(data)
                        emit(b"\0" * _pad(done_bytes, base_header.alignment))
                        written += done_bytes
                        if progress is not None:
                            progress(f"merging the adapter into the model: tensor {done_index + 1}/{len(plan)}",
                                     written / total)
            sink.flush()
            os.fsync(sink.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    merged_count = sum(1 for t, _, _ in plan if t.name in pairs)
    return MergeResult(out, out.stat().st_size, digest.hexdigest(), merged_count, len(plan) - merged_count,
                       round(time.monotonic() - started, 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asm_lsp.model.lora_merge", description=__doc__.split("\n\n")[0])
    parser.add_argument("base", type=Path, help="base model GGUF")
    parser.add_argument("lora", type=Path, help="LoRA adapter GGUF (llama.cpp convert_lora_to_gguf.py)")
    parser.add_argument("out", type=Path, help="merged GGUF to write")
    parser.add_argument("--target", default=DEFAULT_TARGET, help="type of the merged tensors (default q8_0)")
    args = parser.parse_args(argv)
    try:
        result = merge_lora(args.base, args.lora, args.out, args.target,
                            progress=lambda m, f: print(f"\r{m} ({100 * (f or 0):.0f}%)", end="", file=sys.stderr))
    except MergeError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    print(f"{result.path} {result.size:,} bytes sha256 {result.sha256} "
          f"({result.merged_tensors} merged, {result.copied_tensors} copied, {result.seconds} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
