"""The portable profile: simplify with onnxsim, then prove the graph is one the C engine can run.

Portable means: exactly one opset import, of the default ONNX domain, at the chosen version;
every node in the default domain; constants folded (onnxsim); no shape computation left
(Shape/ConstantOfShape/Expand and friends: every shape but the batch is static); weights stored
as initializers inside the file; and every operator listed in ``data/supported_ops.json``.
A portable file also stores every weight at an offset that is a multiple of 16
(``serialize_aligned``), so that the engine reads it in place: from flash, on a microcontroller.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from ..errors import UserError

SUPPORTED_OPS_FILE = "supported_ops.json"
DEFAULT_DOMAINS = ("", "ai.onnx")
# Ops that compute shapes at run time: with static windows they mean a model computes a size
# from a tensor (x.shape, zeros_like(x) on a dynamic batch) instead of from its config.
SHAPE_FAMILY = ("Shape", "ConstantOfShape", "Expand", "Size", "Range", "NonZero")


def supported_ops_path() -> Path:
    return Path(str(resources.files("alog_detect") / "data" / SUPPORTED_OPS_FILE))


def load_supported_ops(path: Path | None = None) -> frozenset[str]:
    """The engine's operator list (read by the engine's tests too; docs/formats.md)."""
    path = path or supported_ops_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        ops = doc["ops"]
        if doc.get("format_version") != 1 or not all(isinstance(op, str) for op in ops):
            raise ValueError("expected format_version 1 and a list of operator names")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"unreadable supported-operator list ({exc})", path,
                        "restore it from the repository") from None
    return frozenset(ops)


def simplify(model, path: Path):
    """Fold constants and drop dead nodes; onnxsim checks the result against the original."""
    import onnxsim

    try:
        simplified, ok = onnxsim.simplify(model)
    except Exception as exc:  # onnxsim raises bare RuntimeErrors from its C++ core
        raise UserError(f"onnxsim could not simplify the exported graph ({exc})", path,
                        "export with --no-portable to keep the unsimplified graph") from None
    if not ok:
        raise UserError("onnxsim's simplified graph does not match the exported one", path,
                        "export with --no-portable to keep the unsimplified graph")
    return simplified


def op_types(model) -> list[str]:
    return sorted({node.op_type for node in model.graph.node})


def check_portable(model, opset: int, supported: frozenset[str], path: Path) -> None:
    """Raise a UserError naming the first thing that makes ``model`` non-portable."""
    _check_opset_imports(model, opset, path)
    for node in model.graph.node:
        _check_node(node, supported, path)
    _check_initializers(model, path)


def _check_opset_imports(model, opset: int, path: Path) -> None:
    imports = [(imp.domain, imp.version) for imp in model.opset_import]
    if len(imports) != 1 or imports[0][0] not in DEFAULT_DOMAINS or imports[0][1] != opset:
        raise UserError(f"graph imports opsets {imports}, the portable profile allows only the "
                        f"default domain at opset {opset}", path,
                        "remove custom-domain operators from the model, or use --no-portable")


def _check_node(node, supported: frozenset[str], path: Path) -> None:
    where = f"operator {node.op_type} (node {node.name or '<unnamed>'!r})"
    if node.domain not in DEFAULT_DOMAINS:
        raise UserError(f"{where} is in domain {node.domain!r}; the engine runs only the default "
                        "ONNX domain", path, "rewrite the model without it, or use --no-portable")
    if node.op_type in SHAPE_FAMILY:
        raise UserError(f"{where} computes a shape at run time; with a static window every size "
                        "but the batch must be a constant", path,
                        "build sizes from the model config, not from tensor.shape or zeros_like")
    if node.op_type not in supported:
        raise UserError(f"{where} is not implemented by the C engine ({SUPPORTED_OPS_FILE})", path,
                        "avoid it in the model, or implement it in cengine/src/ops/ and add it "
                        f"to python/alog_detect/data/{SUPPORTED_OPS_FILE}")


def _check_initializers(model, path: Path) -> None:
    from onnx import TensorProto

    for init in model.graph.initializer:
        if init.data_location == TensorProto.EXTERNAL:
            raise UserError(f"initializer {init.name!r} is stored outside the .onnx file", path,
                            "export without external data (models under 2 GB fit in one file)")


# ---- weights at aligned offsets ------------------------------------------------------------------

# Offsets of the weights in the file are multiples of this: the engine reads a weight in place
# (no copy into the arena: on a microcontroller it stays in flash) when its bytes are aligned for
# their type, and generated model arrays (codegen's alog_model_data.c) start on 16 bytes too.
WEIGHT_ALIGNMENT = 16
_ALIGN_ROUNDS = 1000  # each round fixes one weight; enclosing lengths may take a second round


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes, start: int, end: int):
    """(field number, payload start, payload end) of each length-delimited field in data[start:end]."""
    pos = start
    while pos < end:
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield key >> 3, pos, pos + length
            pos += length
        else:
            raise ValueError(f"wire type {wire} in a serialized model")


def raw_data_offsets(data: bytes) -> list[int | None]:
    """For each graph initializer of the serialized ModelProto, in order: where its raw_data
    bytes start in the file (None for a tensor stored in typed fields)."""
    offsets = []
    for number, start, end in _fields(data, 0, len(data)):
        if number != 7:  # ModelProto.graph
            continue
        for g_number, g_start, g_end in _fields(data, start, end):
            if g_number == 5:  # GraphProto.initializer
                raw = [s for n, s, _ in _fields(data, g_start, g_end) if n == 9]  # raw_data
                offsets.append(raw[0] if raw else None)
    return offsets


def _encoded_size(text: str) -> int:
    """Bytes of a string field holding `text` (tag, length, bytes; nothing when empty)."""
    size = len(text.encode("utf-8"))
    return 0 if size == 0 else 1 + len(_varint_bytes(size)) + size


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def serialize_aligned(model, path: Path) -> bytes:
    """The model's bytes with every initializer's raw_data at a multiple of WEIGHT_ALIGNMENT,
    made by padding doc_string fields (which the engine and onnxruntime ignore) with spaces: the
    one before the first initializer is the model's doc_string, which precedes the graph; before
    any other, the previous initializer's doc_string, which follows that initializer's data."""
    for _ in range(_ALIGN_ROUNDS):
        data = model.SerializeToString()
        misaligned = [(i, offset) for i, offset in enumerate(raw_data_offsets(data))
                      if offset is not None and offset % WEIGHT_ALIGNMENT]
        if not misaligned:
            return data
        index, offset = misaligned[0]
        carrier = model if index == 0 else model.graph.initializer[index - 1]
        shift = -offset % WEIGHT_ALIGNMENT
        before = _encoded_size(carrier.doc_string)
        padding = 1
        while (_encoded_size(carrier.doc_string + " " * padding) - before) % WEIGHT_ALIGNMENT != shift:
            padding += 1
        carrier.doc_string += " " * padding
    raise UserError(f"could not align the weights to {WEIGHT_ALIGNMENT} bytes", path,
                    "report this model: its serialization does not settle")
