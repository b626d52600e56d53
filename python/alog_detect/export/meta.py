"""``<model>.onnx.meta.json``: what a detector, the code generator and the engine need to know
about one exported graph (docs/formats.md, "Model metadata"). No timestamps, no absolute paths:
the same inputs give the same bytes."""

from __future__ import annotations

import math
import platform
from pathlib import Path

from .. import __version__
from ..deeplog_data import file_sha256
from ..errors import UserError
from ..jsonfile import read_json_of_kind
from ..vocab import Vocab
from .config import ENGINE_VOCAB, META_SUFFIX

# 2: the deeplog section gained end_key, outputs, rule, prob_threshold, end_threshold and calibration
# (issue 13; a version-2 file without end_threshold reads as null).
META_FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
REEXPORT = "re-export the model directory with `alog-detect convert-onnx`"
DEEPLOG_RULES = ("topk", "probability")


def deeplog_fields(section: dict, version: int, path: Path) -> dict:
    """The deeplog section with its issue-13 fields checked, or, from a version-1 file, filled in
    with what a version-1 model is: no END key, ``vocab_size`` outputs, rule topk, no threshold.
    A missing ``end_threshold`` (files written before it) reads as null."""
    section = dict(section)
    try:
        size = int(section["vocab_size"])
    except (KeyError, TypeError, ValueError):
        raise UserError("deeplog metadata has no vocab_size", path, REEXPORT) from None
    if version == 1:
        section.update(end_key=False, outputs=size, rule="topk", prob_threshold=None, end_threshold=None,
                       calibration=None)
        return section
    end_key, outputs = section.get("end_key"), section.get("outputs")
    rule, threshold = section.get("rule"), section.get("prob_threshold")
    if not isinstance(end_key, bool):
        raise UserError(f"deeplog metadata: end_key must be true or false, not {end_key!r}", path, REEXPORT)
    if isinstance(outputs, bool) or not isinstance(outputs, int) or outputs != size + end_key:
        raise UserError(f"deeplog metadata: outputs is {outputs!r}, the model has {size + end_key} "
                        f"(vocab_size {size}{' + END' if end_key else ''})", path, REEXPORT)
    if rule not in DEEPLOG_RULES:
        raise UserError(f"deeplog metadata: rule must be one of {', '.join(DEEPLOG_RULES)}, not {rule!r}", path,
                        REEXPORT)
    end_threshold = section.get("end_threshold")
    for name, value in (("prob_threshold", threshold), ("end_threshold", end_threshold)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise UserError(f"deeplog metadata: {name} must be a number or null, not {value!r}", path, REEXPORT)
    if rule == "probability" and threshold is None:
        raise UserError("deeplog metadata: rule probability with a null prob_threshold", path, REEXPORT)
    if rule == "probability" and end_key and end_threshold is None:
        raise UserError("deeplog metadata: rule probability with the END key and a null end_threshold", path,
                        REEXPORT)
    section["prob_threshold"] = None if threshold is None else float(threshold)
    section["end_threshold"] = None if end_threshold is None else float(end_threshold)
    return section


def read_model_meta(onnx_path: Path, kind: str, vocab_sha256: str) -> dict:
    """The metadata beside ``onnx_path``, checked against what it describes: its kind and version,
    its ``kind`` section, the vocabulary it was exported for and the .onnx file's SHA-256. The one
    reader for every consumer (the detector, the code generator). Versions 1 and 2 read; a
    version-1 deeplog section comes back with version 2's fields filled in (`deeplog_fields`)."""
    onnx_path = Path(onnx_path)
    path = onnx_path.with_name(onnx_path.name + META_SUFFIX)
    meta = read_json_of_kind(path, kind, REEXPORT)
    version = meta.get("format_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise UserError(f"format_version {version!r} is not supported (this alog-detect reads "
                        f"{' and '.join(map(str, READABLE_VERSIONS))})", path, REEXPORT)
    if not isinstance(meta.get(kind), dict):
        raise UserError(f"metadata has no {kind!r} section", path, REEXPORT)
    if not isinstance(meta.get("vocab"), dict) or meta["vocab"].get("sha256") != vocab_sha256:
        raise UserError(f"{onnx_path.name} was exported for another vocabulary than {ENGINE_VOCAB}", path,
                        REEXPORT)
    if meta.get("sha256") != file_sha256(onnx_path):
        raise UserError(f"{onnx_path.name} is not the file this metadata describes (SHA-256 differs)", path,
                        REEXPORT)
    if kind == "deeplog":
        meta = {**meta, "deeplog": deeplog_fields(meta["deeplog"], version, path)}
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
