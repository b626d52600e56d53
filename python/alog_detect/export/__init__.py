"""convert-onnx: trained checkpoints -> the model directory the engine and the detector read.

``convert_onnx(ExportConfig)`` is the one implementation (the CLI and SCons call it). Stages:
``exporters`` (which torch exporter, which opset), ``portable`` (onnxsim, the engine's operator
list), ``quantize`` (--quantize int8: int8 weights behind DequantizeLinear), ``meta`` (the versioned meta files), ``validate`` (PyTorch vs onnxruntime, and the C
engine when a runner is installed); ``deeplog`` and ``mscred`` say what each model needs.
Importing this package does not import torch.
"""

from .config import ExportConfig

__all__ = ["ExportConfig", "convert_onnx"]


def convert_onnx(config: ExportConfig, say=print):
    from .pipeline import convert_onnx as run

    return run(config, say)
