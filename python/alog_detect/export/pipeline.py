"""convert_onnx: checkpoints + vocabulary -> a model directory (docs/formats.md, "Model directory").

Everything that can be checked before exporting is checked first (vocabulary, checkpoints, their
agreement, opset, exporter packages); the directory is then built beside its destination and
renamed into place only when every model exported, passed the portable checks and (with
``validate``) agreed with PyTorch. A failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import atomic
from ..errors import UserError
from ..frontend import FRONTEND_NAME, Frontend, read_frontend, write_frontend
from ..vocab import Vocab, load_any_vocab, save_engine_vocab
from .config import ENGINE_VOCAB, META_SUFFIX, VALIDATION_SAMPLES, ExportConfig, validation_path
from .exporters import (TorchExporters, export_graph, installed_exporters, require_exporter_packages,
                        resolve_opset)
from .meta import build_meta, producers
from .plan import ModelPlan
from .portable import check_portable, load_supported_ops, op_types, serialize_aligned, simplify
from .quantize import QuantizeReport, quantize_weights
from .validate import (Party, ValidationReport, engine_parties, onnxruntime_party, validate_graph,
                       validation_report_json)


@dataclass(frozen=True)
class ExportedModel:
    kind: str
    onnx: Path
    meta: Path
    ops: tuple[str, ...]
    quantized: QuantizeReport | None = None


@dataclass(frozen=True)
class ExportSettings:
    """Decisions shared by every model of one convert_onnx call."""

    exporters: TorchExporters
    exporter: str
    opset: int
    portable: bool
    quantize: str
    supported: frozenset[str]
    vocab: Vocab
    output_dir: Path


@dataclass(frozen=True)
class ExportResult:
    settings: ExportSettings
    models: tuple[ExportedModel, ...]
    reports: tuple[ValidationReport, ...]
    # --quantize int8 --validate: each quantized model (onnxruntime on the file) against PyTorch's
    # float model, a measure of what quantization changed, not a pass/fail check
    agreements: tuple[ValidationReport, ...] = ()

    @property
    def vocab(self) -> Path:
        return self.settings.output_dir / ENGINE_VOCAB


def _plans(config: ExportConfig, vocab: Vocab) -> list[ModelPlan]:
    plans = []
    if config.deeplog_model is not None:
        from .deeplog import plan_deeplog

        plans.append(plan_deeplog(config, vocab))
    if config.mscred_model is not None:
        from .mscred import plan_mscred

        plans.append(plan_mscred(config, vocab))
    return plans


def _check_output_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise UserError("output path exists and is not a directory", path,
                        "pass a directory path to --output-dir")


def _export(plan: ModelPlan, run: ExportSettings, workdir: Path) -> tuple[object, Path, QuantizeReport | None]:
    """Export, simplify, check and (``run.quantize``) quantize one model into ``workdir``;
    returns (ModelProto, its path, what quantization did)."""
    import onnx

    path = workdir / plan.onnx_name
    shown = run.output_dir / plan.onnx_name  # errors name the final path, not the temporary one
    try:
        export_graph(plan.model, plan.example, path, plan.signature, run.exporter, run.opset, run.exporters)
    except Exception as exc:  # torch raises many types; the user needs the first line and the doc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UserError(f"torch.onnx.export ({run.exporter} exporter, opset {run.opset}) failed: "
                        f"{type(exc).__name__}: {first}", plan.checkpoint,
                        "see docs/troubleshooting.md, 'ONNX export errors'") from None
    graph = onnx.load(str(path))
    quantized = None
    if run.portable:
        graph = simplify(graph, shown)
        check_portable(graph, run.opset, run.supported, shown)
    if run.quantize == "int8":  # after onnxsim, which would fold the DequantizeLinear nodes away
        graph, quantized = quantize_weights(graph)
        if run.portable:
            check_portable(graph, run.opset, run.supported, shown)
    if run.portable:
        # Weights at aligned offsets: a device reads them in place (serialize_aligned).
        path.write_bytes(serialize_aligned(graph, shown))
    elif quantized is not None:
        path.write_bytes(graph.SerializeToString())
    onnx.checker.check_model(graph, full_check=True)
    return graph, path, quantized


def _validate(plan: ModelPlan, onnx_path: Path, parties: list[Party],
              quantized: bool) -> tuple[ValidationReport, ValidationReport | None]:
    """The check, and for a quantized model the agreement with the float one. A float model:
    every party against PyTorch. A quantized one computes another function than PyTorch's float
    model: the engine (and any other party) against onnxruntime, both on the quantized file; and,
    reported only, onnxruntime on that file against the float model."""
    import numpy as np
    import torch

    def reference(_model_path: str, feeds: dict) -> list[np.ndarray]:
        with torch.inference_mode():
            return [plan.model(torch.from_numpy(feeds[plan.signature.input_name])).numpy()]

    inputs = plan.validation_inputs(VALIDATION_SAMPLES)
    name = plan.signature.input_name
    if not quantized:
        return validate_graph(plan.kind, onnx_path, name, reference, inputs, plan.decision, parties), None
    ort = next(p for p in parties if p.name == "onnxruntime")
    others = [p for p in parties if p is not ort]
    check = validate_graph(plan.kind, onnx_path, name, ort.run, inputs, plan.decision, others,
                           reference_name="onnxruntime on the int8 file")
    agreement = validate_graph(plan.kind, onnx_path, name, reference, inputs, plan.decision,
                               [Party("int8 file (onnxruntime)", ort.run)],
                               reference_name="the float model (PyTorch)")
    return check, agreement


def _fail_validation(report: ValidationReport, run: ExportSettings, onnx_name: str) -> None:
    bad = [r for r in report.results if not r.ok]
    detail = "; ".join(f"{r.party}: max |diff| {r.max_abs_diff:.2e} at |output| <= {r.max_output:.3g}, "
                       f"{report.decision} {r.decisions_equal}/{r.count} identical"
                       + (f", {r.borderline} at the threshold" if r.borderline else "") for r in bad)
    raise UserError(f"validation failed, the exported graph disagrees with PyTorch ({detail})",
                    run.output_dir / onnx_name,
                    "nothing was written; see docs/troubleshooting.md, 'Validation mismatches'")


@contextlib.contextmanager
def _one_torch_thread():
    # These models are small: with two or more threads, torch spends its time spinning up and
    # waiting for workers (20x slower validation on a busy machine), so export and validate on one.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _frontend_beside(vocab_path: Path, say: Callable[[str], None]) -> Frontend:
    """The line front end's settings (masking, session rule, header) that build-deeplog wrote next to
    the vocabulary: the detectors must read lines exactly as parse did, so they travel with the
    models. A vocabulary without them was mined with the defaults (or by hand): say so."""
    path = vocab_path.with_name(FRONTEND_NAME)
    if path.is_file():
        return read_frontend(path)
    say(f"frontend: no {FRONTEND_NAME} beside {vocab_path}; the model directory records the default "
        "front-end settings")
    return Frontend()


def convert_onnx(config: ExportConfig, say: Callable[[str], None] = print) -> ExportResult:
    """Write the model directory ``config.output_dir``; ``say`` receives the report lines."""
    with _one_torch_thread():
        return _convert(config, say)


def _convert(config: ExportConfig, say: Callable[[str], None]) -> ExportResult:
    vocab = load_any_vocab(config.vocab)
    frontend = _frontend_beside(Path(config.vocab), say)
    plans = _plans(config, vocab)
    exporters = installed_exporters()
    exporter = exporters.choose()
    opset = resolve_opset(exporter, config.opset, plans[0].checkpoint)
    require_exporter_packages(exporter, plans[0].checkpoint)
    _check_output_dir(Path(config.output_dir))
    run = ExportSettings(exporters, exporter, opset, config.portable, config.quantize,
               load_supported_ops() if config.portable else frozenset(), vocab, Path(config.output_dir))
    producer = producers(exporter)

    exported, reports, agreements, notes = [], [], {}, []

    def note(line: str) -> None:
        # The file keeps no absolute path: this checkout's top is written as "."
        from .engine_runner import CHECKOUT

        notes.append(line.replace(f"{CHECKOUT}/", "./"))
        say(line)

    with atomic.atomic_dir(run.output_dir) as workdir:
        say(exporters.describe(exporter, opset))
        parties = [onnxruntime_party(), *engine_parties(note)] if config.validate else []
        for plan in plans:
            graph, path, quantized = _export(plan, run, workdir)
            ops = op_types(graph)
            meta = build_meta(plan, graph, path, opset=opset, ops=ops, portable=config.portable,
                              vocab=vocab, producer=producer,
                              quantization=quantized.to_dict() if quantized else None)
            atomic.write_json(path.with_name(path.name + META_SUFFIX), meta)
            exported.append(ExportedModel(plan.kind, run.output_dir / path.name,
                                          run.output_dir / (path.name + META_SUFFIX), tuple(ops),
                                          quantized))
            if quantized is not None:
                say(f"quantize {plan.kind}: {quantized.tensors} weight tensors to int8, "
                    f"{quantized.float_bytes:,} -> {quantized.int8_bytes:,} bytes")
            if config.validate:
                report, agreement = _validate(plan, path, parties, quantized is not None)
                for line in report.lines():
                    say(line)
                if agreement is not None:
                    for line in agreement.lines(verdict=False):
                        say(line)
                    agreements[path.name] = agreement
                if not report.ok:
                    _fail_validation(report, run, plan.onnx_name)
                reports.append(report)
        save_engine_vocab(workdir / ENGINE_VOCAB, vocab)
        write_frontend(workdir / FRONTEND_NAME, frontend)
    if config.validate:
        report_path = config.validation_report or validation_path(run.output_dir)
        atomic.write_json(report_path, validation_report_json(
            [(m.onnx.name, r) for m, r in zip(exported, reports)], notes, agreements))
        say(f"validation figures: {report_path}")
    return ExportResult(run, tuple(exported), tuple(reports), tuple(agreements.values()))
