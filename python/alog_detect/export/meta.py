"""``<model>.onnx.meta.json``: what a detector, the code generator and the engine need to know
about one exported graph (docs/formats.md, "Model metadata"). No timestamps, no absolute paths:
the same inputs give the same bytes."""

from __future__ import annotations

import platform

from .. import __version__
from ..deeplog_data import file_sha256
from ..vocab import Vocab
from .config import ENGINE_VOCAB

META_FORMAT_VERSION = 1


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
               vocab: Vocab, producer: dict) -> dict:
    """``graph`` is the ModelProto written to ``onnx_path`` (after simplification, if any)."""
    inputs = [_value_info(v) for v in graph.graph.input]
    outputs = [_value_info(v) for v in graph.graph.output]
    return {
        "format_version": META_FORMAT_VERSION,
        "kind": plan.kind,
        "file": onnx_path.name,
        "sha256": file_sha256(onnx_path),
        "opset": opset,
        "portable": portable,
        "inputs": inputs,
        "outputs": outputs,
        "dynamic_axes": _dynamic_axes(inputs + outputs),
        "ops": ops,
        "vocab": {"file": ENGINE_VOCAB, "size": vocab.size, "sha256": vocab.sha256},
        plan.kind: plan.section,
        "training": plan.training,
        "producer": producer,
    }
