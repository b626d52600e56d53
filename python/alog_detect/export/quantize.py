"""Weight-only int8 quantization of an exported graph: ``convert-onnx --quantize int8``.

Every weight an LSTM, Gemm, Conv or ConvTranspose multiplies by (LSTM W and R, Gemm B stored
(N, K), the convolutions' W) becomes an int8 initializer with one float32 scale per output channel, and a
standard ``DequantizeLinear`` (opset 13+, ``axis`` = the output channels' axis) turns it back into
the float tensor the operator reads. Symmetric: ``scale = max |w| / 127`` per channel, ``q =
round(w / scale)`` in [-127, 127], no zero point. Biases, embeddings and everything else stay
float32.

The file is plain ONNX: onnxruntime runs it as it is (it folds the DequantizeLinear nodes into
float weights when it loads the model). The C engine recognises the pattern and keeps the int8
weights, converting each to ``(float)q * scale`` in registers, the very float DequantizeLinear
computes (cengine/src/ops/dequantize_linear.c): the engine still agrees with onnxruntime on the
quantized file, and the weights stream from memory in a quarter of the bytes. The model itself
differs from the float one by the rounding of its weights; ``convert-onnx --validate`` reports by
how much (docs/formats.md, "Quantized models").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

QMAX = 127  # symmetric: -127..127, so that -q is always representable
QUANTIZED_SUFFIX = "_quantized"
SCALE_SUFFIX = "_scale"


@dataclass(frozen=True)
class QuantizeReport:
    """What quantize_weights changed: tensors, and their bytes before and after."""

    tensors: int
    float_bytes: int   # the float32 weights that were replaced
    int8_bytes: int    # their int8 values plus their float32 scales

    def to_dict(self) -> dict:
        return {"scheme": "int8 weight-only, symmetric, per output channel", "tensors": self.tensors,
                "float_bytes": self.float_bytes, "int8_bytes": self.int8_bytes}


def weight_axis(node, index: int) -> int | None:
    """The output-channel axis of input ``index`` of ``node`` when it is a weight the engine packs,
    else None."""
    op = node.op_type
    if op == "LSTM" and index in (1, 2):  # W (dirs, 4H, I), R (dirs, 4H, H)
        return 1
    if op == "Conv" and index == 1:  # W (M, C/group, k...)
        return 0
    if op == "ConvTranspose" and index == 1:  # W (C, M/group, k...)
        return 1
    if op == "Gemm" and index == 1:  # B (N, K) with transB, as PyTorch's Linear exports it
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        # A (K, N) B stays float: onnxruntime rewrites DequantizeLinear -> Gemm on such a weight
        # into its MatMulNBits kernel, which computes another function (3e-3 apart, measured), and
        # the Python detector runs onnxruntime. The engine itself runs either layout.
        return 0 if trans_b else None
    return None


def quantize_array(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(q int8, scale float32 of w.shape[axis]): w ~ q * scale along ``axis``."""
    w = np.asarray(w, dtype=np.float32)
    others = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.max(np.abs(w), axis=others) if others else np.abs(w)
    scale = (amax / np.float32(QMAX)).astype(np.float32)
    scale[~(scale > 0)] = np.float32(1.0)  # an all-zero channel: any positive scale gives q = 0
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.rint(w / scale.reshape(shape)), -QMAX, QMAX).astype(np.int8)
    return q, scale


def dequantize_array(q: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    """The float32 tensor DequantizeLinear makes: (float)q * scale, one rounding."""
    shape = [1] * q.ndim
    shape[axis] = -1
    return (q.astype(np.float32) * scale.reshape(shape).astype(np.float32)).astype(np.float32)


def _uses(model) -> dict[str, list[tuple[object, int]]]:
    uses: dict[str, list[tuple[object, int]]] = {}
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name:
                uses.setdefault(name, []).append((node, i))
    return uses


def _fresh(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def quantize_weights(model):
    """A copy of ``model`` with its packed weights quantized (module doc), and a QuantizeReport.
    An initializer is quantized when every use of it is such a weight, at one axis; graph inputs
    and outputs are left alone."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    uses = _uses(model)
    boundary = {v.name for v in [*graph.input, *graph.output]}
    taken = {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output} | boundary
    kept, dequantize, tensors, float_bytes, int8_bytes = [], [], 0, 0, 0
    for init in graph.initializer:
        axes = {weight_axis(node, i) for node, i in uses.get(init.name, [])}
        if (init.data_type != TensorProto.FLOAT or init.name in boundary or len(axes) != 1
                or None in axes or len(init.dims) <= max(axes)):
            kept.append(init)
            continue
        (axis,) = axes
        q, scale = quantize_array(numpy_helper.to_array(init), axis)
        q_name = _fresh(init.name + QUANTIZED_SUFFIX, taken)
        s_name = _fresh(init.name + SCALE_SUFFIX, taken)
        kept += [numpy_helper.from_array(q, q_name), numpy_helper.from_array(scale, s_name)]
        dequantize.append(helper.make_node("DequantizeLinear", [q_name, s_name], [init.name],
                                           name=_fresh(init.name + "_dequantize", taken), axis=axis))
        tensors += 1
        float_bytes += 4 * q.size
        int8_bytes += q.size + 4 * scale.size
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = dequantize + list(graph.node)  # every DequantizeLinear reads initializers only
    del graph.node[:]
    graph.node.extend(nodes)
    return model, QuantizeReport(tensors, float_bytes, int8_bytes)
