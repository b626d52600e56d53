"""`convert-onnx --validate`: the exported graph must compute what the PyTorch model computes.

PyTorch is the reference; every other party runs the written .onnx file on the same inputs, in
batches of 1 and of more than 1, and must agree on the raw outputs and on the decision the
detector takes from them (DeepLog's top-k set, MSCRED's anomaly flag).

Outputs agree when every element differs by at most ``TOLERANCE`` (1e-5) in absolute value. That is
meaningful because the outputs stay small: MSCRED's inputs are signature cells normalised to [0, 1]
(docs/detection.md), and DeepLog's logits are a few tens at most. The report also prints the
largest |output|, since float32 rounding grows with the magnitude.

Parties share one signature, ``run(model_path, feeds) -> list of outputs`` with ``feeds`` a dict
``{input_name: ndarray}`` (onnxruntime's ``InferenceSession.run`` convention). Besides
onnxruntime, a third party joins when one is installed: a module ``alog_detect.export.engine_runner``
defining ``run`` (and ``unavailable()``, a one-line reason when it cannot run, else None), or
the callable named by ``$ALOG_ENGINE_RUNNER`` as ``package.module:function``.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import UserError

TOLERANCE = 1e-5
SINGLE_INPUTS = 10   # the first inputs run one by one (batch 1), the rest batched
BATCH_SIZE = 16
ENGINE_RUNNER_MODULE = "alog_detect.export.engine_runner"
ENGINE_RUNNER_ENV = "ALOG_ENGINE_RUNNER"

Runner = Callable[[str, dict], Sequence[np.ndarray]]


@dataclass(frozen=True)
class Party:
    name: str
    run: Runner


@dataclass(frozen=True)
class Decision:
    """What the detector decides from a batch: ``decide(inputs, outputs)`` -> one row per input.
    ``borderline(inputs, outputs, margin)`` -> bool per input: the decision could go either way if
    the outputs moved by up to ``margin`` (a score within it of its threshold, two logits within it
    of each other at the top-k boundary). Where the reference is that close, a party whose outputs
    are within the tolerance may decide otherwise without being wrong: such inputs are counted,
    not failed."""

    name: str
    decide: Callable[[np.ndarray, np.ndarray], np.ndarray]
    borderline: Callable[[np.ndarray, np.ndarray, float], np.ndarray] | None = None


@dataclass(frozen=True)
class ValidationInputs:
    arrays: np.ndarray    # (count, ...) in the graph's input dtype, real inputs first
    real: int
    source: str           # where the real ones came from, or why there are none


@dataclass(frozen=True)
class PartyResult:
    party: str
    max_abs_diff: float      # the number held to TOLERANCE
    max_output: float        # max |reference|, to read the first
    decisions_equal: int
    count: int
    borderline: int = 0      # decisions that differ where the reference is within the difference of flipping

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= TOLERANCE and self.decisions_equal + self.borderline == self.count


@dataclass(frozen=True)
class ValidationReport:
    kind: str
    decision: str
    inputs: ValidationInputs
    results: tuple[PartyResult, ...]
    reference: str = "PyTorch"

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def to_json(self, onnx_name: str) -> dict:
        """The figures `validation_report_json` records for this model."""
        return {"kind": self.kind, "onnx": onnx_name, "reference": self.reference, "decision": self.decision,
                "inputs": len(self.inputs.arrays), "real": self.inputs.real, "source": self.inputs.source,
                "parties": [{"party": r.party, "max_abs_diff": r.max_abs_diff, "max_output": r.max_output,
                             "decisions_equal": r.decisions_equal, "borderline": r.borderline,
                             "count": r.count, "ok": r.ok}
                            for r in self.results]}

    def lines(self, verdict: bool = True) -> list[str]:
        """The report; verdict=False for a comparison that measures rather than checks."""
        n, real = len(self.inputs.arrays), self.inputs.real
        head = (f"{'validate' if verdict else 'compare'} {self.kind} against {self.reference}: "
                f"{n} inputs ({real} real from {self.inputs.source}, {n - real} random), batch 1 "
                f"and {BATCH_SIZE}")
        return [head] + [
            f"  {r.party}: max |diff| {r.max_abs_diff:.2e}"
            + (f" (limit {TOLERANCE:.0e})" if verdict else "")
            + f" at |output| <= {r.max_output:.3g}, {self.decision} {r.decisions_equal}/{r.count} identical"
            + (f" ({r.borderline} other{'s' if r.borderline > 1 else ''} at the threshold within the difference)"
               if r.borderline else "")
            + (f": {'ok' if r.ok else 'MISMATCH'}" if verdict else "")
            for r in self.results]


def validation_report_json(reports: Sequence[tuple[str, ValidationReport]], notes: Sequence[str],
                           agreements: Mapping[str, ValidationReport] | None = None) -> dict:
    """The validation file (``<model dir>.validation.json``, docs/formats.md): every model's
    figures against its reference (PyTorch; onnxruntime on the file for an int8 model), why a
    party did not take part (``notes``), and for an int8 model how far it is from the float one
    (``agreements`` by onnx name, measured, not checked)."""
    from .config import VALIDATION_FORMAT_VERSION, VALIDATION_KIND

    agreements = agreements or {}

    def model(onnx_name: str, report: ValidationReport) -> dict:
        entry = report.to_json(onnx_name)
        if onnx_name in agreements:
            entry["float_agreement"] = agreements[onnx_name].to_json(onnx_name)["parties"]
        return entry

    return {"format_version": VALIDATION_FORMAT_VERSION, "kind": VALIDATION_KIND, "reference": "pytorch",
            "tolerance": TOLERANCE, "batch_sizes": [1, BATCH_SIZE], "notes": list(notes),
            "models": [model(onnx_name, report) for onnx_name, report in reports]}


def onnxruntime_party() -> Party:
    import onnxruntime as ort

    sessions: dict[str, object] = {}

    def run(model_path: str, feeds: dict) -> list[np.ndarray]:
        if model_path not in sessions:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1  # the machine is shared; one thread is plenty here
            sessions[model_path] = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        return sessions[model_path].run(None, feeds)

    return Party("onnxruntime", run)


def engine_parties(say: Callable[[str], None] = print) -> list[Party]:
    """The C engine's runner, when one is installed (see the module doc). When the module's
    ``unavailable()`` gives a reason (its program is not built), ``say`` it and go on without it."""
    parties = []
    if importlib.util.find_spec(ENGINE_RUNNER_MODULE) is not None:
        missing = _import_callable(f"{ENGINE_RUNNER_MODULE}:unavailable")()
        if missing:
            say(missing)
        else:
            parties.append(Party("engine", _import_callable(f"{ENGINE_RUNNER_MODULE}:run")))
    spec = os.environ.get(ENGINE_RUNNER_ENV)
    if spec:
        parties.append(Party(spec, _import_callable(spec)))
    return parties


def _import_callable(spec: str) -> Runner:
    module_name, _, attr = spec.partition(":")
    fix = f"set {ENGINE_RUNNER_ENV} to package.module:function, a run(model_path, feeds) callable"
    try:
        return getattr(importlib.import_module(module_name), attr or "run")
    except (ImportError, AttributeError, ValueError) as exc:
        raise UserError(f"cannot load the engine runner {spec!r} ({exc})", None, fix) from None


def _batches(count: int) -> list[slice]:
    singles = [slice(i, i + 1) for i in range(min(SINGLE_INPUTS, count))]
    rest = range(len(singles), count, BATCH_SIZE)
    return singles + [slice(i, min(i + BATCH_SIZE, count)) for i in rest]


def _outputs(run: Runner, model_path: str, input_name: str, arrays: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(run(model_path, {input_name: arrays[b]})[0])
                           for b in _batches(len(arrays))])


def validate_graph(kind: str, model_path: Path, input_name: str, reference: Runner,
                   inputs: ValidationInputs, decision: Decision, parties: Sequence[Party],
                   reference_name: str = "PyTorch") -> ValidationReport:
    """Compare every party with ``reference`` (called ``reference_name`` in the report) on
    ``inputs``."""
    x = inputs.arrays
    want = _outputs(reference, str(model_path), input_name, x)
    want_decisions = decision.decide(x, want)
    results = []
    for party in parties:
        got = _outputs(party.run, str(model_path), input_name, x)
        if got.shape != want.shape:
            raise UserError(f"{party.name} returned shape {got.shape}, PyTorch {want.shape}", model_path,
                            "the graph's output shape is wrong: export again without changing it")
        same = np.all(decision.decide(x, got) == want_decisions, axis=tuple(range(1, want_decisions.ndim)))
        result = _compare(party.name, want, got, int(same.sum()))
        if not same.all() and decision.borderline is not None and result.max_abs_diff <= TOLERANCE:
            # only where the reference itself is that close to deciding otherwise
            excused = ~same & decision.borderline(x, want, result.max_abs_diff)
            result = dataclasses.replace(result, borderline=int(excused.sum()))
        results.append(result)
    return ValidationReport(kind, decision.name, inputs, tuple(results), reference_name)


def _compare(party: str, want: np.ndarray, got: np.ndarray, decisions_equal: int) -> PartyResult:
    want, got = want.astype(np.float64), got.astype(np.float64)
    diff = np.abs(got - want).reshape(len(want), -1)
    return PartyResult(party, float(diff.max()), float(np.abs(want).max()), decisions_equal, len(want))
