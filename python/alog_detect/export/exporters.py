"""Which torch ONNX exporter runs, at which opset, and the one call into it.

torch 2.9+ defaults to the dynamo exporter; its graphs for our LSTM differ from the legacy
TorchScript exporter's, and it needs onnxscript and opset >= 18. So we ask for the legacy exporter
explicitly (``dynamo=False``) where it exists; a torch too old to know the ``dynamo`` keyword
always uses the legacy one; a torch that no longer has the legacy exporter gets the dynamo one
with explicit ``dynamic_shapes``. Every path keeps the batch axis dynamic and every other axis
static, so shape constraints on the window ("Constraints violated (L['x'].size()[1])") cannot arise.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .config import DEFAULT_OPSET

LEGACY = "legacy"
DYNAMO = "dynamo"
BATCH_AXIS = "batch"

# Opset 13 is where Squeeze/Unsqueeze/Split/ReduceSum take their axes as inputs, the semantics the
# engine implements; 20 is the legacy exporter's last opset; 18 is the dynamo exporter's first.
LEGACY_OPSETS = range(13, 21)
DYNAMO_OPSETS = range(18, 24)


@dataclass(frozen=True)
class TorchExporters:
    """What the installed torch offers."""

    has_dynamo_keyword: bool
    has_legacy: bool
    torch_version: str

    def choose(self) -> str:
        return LEGACY if self.has_legacy else DYNAMO

    def describe(self, exporter: str, opset: int) -> str:
        if exporter == DYNAMO:
            how = "dynamo exporter (torch.export, dynamo=True; this torch has no legacy exporter)"
        elif self.has_dynamo_keyword:
            how = "legacy TorchScript exporter (dynamo=False; its DeprecationWarning is expected)"
        else:
            how = "legacy TorchScript exporter (this torch predates the dynamo keyword)"
        return f"exporter: {how}, torch {self.torch_version}, opset {opset}"


def installed_exporters() -> TorchExporters:
    import torch

    has_keyword = "dynamo" in inspect.signature(torch.onnx.export).parameters
    # torch < 2.9 keeps the legacy exporter in torch.onnx.utils, 2.9+ in torchscript_exporter.
    legacy_modules = ("torch.onnx._internal.torchscript_exporter", "torch.onnx.utils")
    has_legacy = not has_keyword or any(_module_exists(m) for m in legacy_modules)
    return TorchExporters(has_keyword, has_legacy, torch.__version__)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def resolve_opset(exporter: str, requested: int | None, path: Path | None = None) -> int:
    """The opset to export at; an opset this exporter cannot honour is a UserError about ``path``."""
    allowed = DYNAMO_OPSETS if exporter == DYNAMO else LEGACY_OPSETS
    opset = requested if requested is not None else max(DEFAULT_OPSET, allowed.start)
    if opset not in allowed:
        raise UserError(f"--opset {opset} cannot be honoured by the {exporter} exporter "
                        f"(it supports {allowed.start}..{allowed.stop - 1})", path,
                        f"pass --opset {max(DEFAULT_OPSET, allowed.start)} or leave --opset out")
    return opset


def require_exporter_packages(exporter: str, path: Path | None = None) -> None:
    if exporter == DYNAMO and not _module_exists("onnxscript"):
        raise UserError("the dynamo ONNX exporter (the only one this torch has) needs the onnxscript "
                        "package, which is not installed", path,
                        "pip install onnxscript, or install a torch that still has the legacy "
                        "exporter (torch==2.13.0 from constraints.txt)")


@dataclass(frozen=True)
class GraphSignature:
    """One input and one output; axis 0 of both is the dynamic batch."""

    input_name: str
    output_name: str


def export_graph(model, example, path: Path, signature: GraphSignature, exporter: str, opset: int,
                 exporters: TorchExporters) -> None:
    """Write ``model`` traced on ``example`` to ``path``; torch's own chatter is silenced (the
    caller reports the exporter once, see TorchExporters.describe)."""
    import torch

    names = {"input_names": [signature.input_name], "output_names": [signature.output_name]}
    with _quiet_torch():
        if exporter == DYNAMO:
            batch = torch.export.Dim(BATCH_AXIS)
            torch.onnx.export(model, (example,), str(path), dynamo=True, opset_version=opset,
                              dynamic_shapes={signature.input_name: {0: batch}}, external_data=False,
                              verbose=False, **names)
            return
        dynamic_axes = {signature.input_name: {0: BATCH_AXIS}, signature.output_name: {0: BATCH_AXIS}}
        legacy = {"dynamo": False} if exporters.has_dynamo_keyword else {}
        torch.onnx.export(model, (example,), str(path), opset_version=opset,
                          dynamic_axes=dynamic_axes, **names, **legacy)


@contextlib.contextmanager
def _quiet_torch():
    # The legacy exporter warns DeprecationWarning and TracerWarnings about the (static) window;
    # the dynamo exporter logs registry notes. None of it is actionable for the user.
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
