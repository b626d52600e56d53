"""The portable profile: simplify with onnxsim, then prove the graph is one the C engine can run.

Portable means: exactly one opset import, of the default ONNX domain, at the chosen version;
every node in the default domain; constants folded (onnxsim); no shape computation left
(Shape/ConstantOfShape/Expand and friends: every shape but the batch is static); weights stored
as initializers inside the file; and every operator listed in ``data/supported_ops.json``.
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
