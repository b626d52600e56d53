"""``<model>.onnx.meta.json``: what a detector, the code generator and the engine need to know
about one exported graph (docs/formats.md, "Model metadata"). No timestamps, no absolute paths:
the same inputs give the same bytes."""

from __future__ import annotations

import platform

from pathlib import Path

from .. import __version__
from ..deeplog_data import file_sha256
from ..errors import UserError
from ..jsonfile import read_versioned_json
from ..vocab import Vocab
from .config import ENGINE_VOCAB, META_SUFFIX

META_FORMAT_VERSION = 1
REEXPORT = "re-export the model directory with `alog-detect convert-onnx`"


def read_model_meta(onnx_path: Path, kind: str, vocab_sha256: str) -> dict:
    """The metadata beside ``onnx_path``, checked against what it describes: its kind and version,
    its ``kind`` section, the vocabulary it was exported for and the .onnx file's SHA-256. The one
    reader for every consumer (the detector, the code generator)."""
    onnx_path = Path(onnx_path)
    path = onnx_path.with_name(onnx_path.name + META_SUFFIX)
    meta = read_versioned_json(path, kind, META_FORMAT_VERSION, REEXPORT)
    if not isinstance(meta.get(kind), dict):
        raise UserError(f"metadata has no {kind!r} section", path, REEXPORT)
    if not isinstance(meta.get("vocab"), dict) or meta["vocab"].get("sha256") != vocab_sha256:
        raise UserError(f"{onnx_path.name} was exported for another vocabulary than {ENGINE_VOCAB}", path,
                        REEXPORT)
    if meta.get("sha256") != file_sha256(onnx_path):
        raise UserError(f"{onnx_path.name} is not the file this metadata describes (SHA-256 differs)", path,
                        REEXPORT)
    return meta


def _value_info(value) -> dict:
    from onnx import helper

    tensor = value.type.tensor_type
    shape = [dim.dim_param if dim.HasField("dim_param") else dim.dim_value for dim in tensor.shape.dim]
    return {"name": value.name, "dtype": helper.tensor_dtype_to_np_dtype(tensor.elem_type).name,
            "shape": shape}


def _dynamic_axes(values: list[dict]) -> dict:
    """``{tensor: {axis: name}}`` for every symbolic dimension (axis as a string, JSON keys)."""
    return {v["name"]: {str(i): d for i, d in enumerate(v["shape"]) if isinstance(d, str)}
            for v in values if any(isinstance(d, str) for d in v["shape"])}


def producers(exporter: str) -> dict:
    import onnx
    import onnxsim
    import torch

    return {"alog_detect": __version__, "torch": torch.__version__, "exporter": exporter,
            "onnx": onnx.__version__, "onnxsim": onnxsim.__version__,
            "python": platform.python_version()}


def build_meta(plan, graph, onnx_path, *, opset: int, ops: list[str], portable: bool,
               vocab: Vocab, producer: dict, quantization: dict | None = None) -> dict:
    """``graph`` is the ModelProto written to ``onnx_path`` (after simplification, if any);
    ``quantization``: what --quantize int8 did (QuantizeReport.to_dict()), None for float weights."""
    inputs = [_value_info(v) for v in graph.graph.input]
    outputs = [_value_info(v) for v in graph.graph.output]
    return {
        "format_version": META_FORMAT_VERSION,
        "kind": plan.kind,
        "file": onnx_path.name,
        "sha256": file_sha256(onnx_path),
        "opset": opset,
        "portable": portable,
        "quantization": quantization,
        "inputs": inputs,
        "outputs": outputs,
        "dynamic_axes": _dynamic_axes(inputs + outputs),
        "ops": ops,
        "vocab": {"file": ENGINE_VOCAB, "size": vocab.size, "sha256": vocab.sha256},
        plan.kind: plan.section,
        "training": plan.training,
        "producer": producer,
    }
