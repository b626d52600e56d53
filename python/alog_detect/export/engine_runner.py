"""The C engine as a `convert-onnx --validate` party, through its `onnx_runner` program.

validate.py finds this module by name (``ENGINE_RUNNER_MODULE``) and runs ``run(model_path,
feeds)`` beside onnxruntime. The program is the one `scons tools` builds into this checkout's
``build/host/tools/onnx_runner``, or the one named by ``$ALOG_ONNX_RUNNER``. Nothing is built from
here: an export must not start a C build, so without the program ``unavailable()`` says how to
build it and validation goes on with onnxruntime alone.

onnx_runner's files (cengine/tests/drivers/onnx_runner.c): one raw little-endian file per graph
input, in graph order; output k comes back as ``OUTDIR/k.bin``; stdout is one JSON object with
the arena size, each output's ONNX dtype and shape, and the seconds per run. ``run_model`` is the
one implementation of that format (the tests and benchmarks drive the runner through it too).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

RUNNER_ENV = "ALOG_ONNX_RUNNER"
CHECKOUT = Path(__file__).resolve().parents[3]
BUILT_RUNNER = CHECKOUT / "build" / "host" / "tools" / "onnx_runner"
BUILD_COMMAND = "scons tools"
EXIT_LOAD_ERROR = 1  # onnx_runner: the model failed to load (the reason is on stderr)
RUN_TIMEOUT = 600    # seconds; a validation batch takes milliseconds, so this only stops a hang
ONNX_TO_NUMPY = {1: np.float32, 7: np.int64}


# ---- the runner's file format ---------------------------------------------------------------

@dataclass(frozen=True)
class EngineRun:
    returncode: int
    stderr: str
    outputs: list[np.ndarray]
    arena_size: int
    seconds_per_run: float
    isa: int = 0  # the ALOG_ISA_* bits the run used (alog.h: 0 the baseline, 1 AVX2, 2 AVX-512F)


def run_model(runner: Path, model: Path, inputs: list[np.ndarray], work: Path, *, batch: int = 1,
              repeat: int = 1, isa: str = "auto") -> EngineRun:
    """Runs `model` on `inputs` (graph order) in the engine; outputs are empty when it failed.
    isa: "auto" (the widest the CPU has), "avx2" (AVX2 at most) or "baseline" (the target's
    baseline vectors only)."""
    work.mkdir(parents=True, exist_ok=True)
    args = [str(runner), str(model), "--batch", str(batch), "--repeat", str(repeat), "--isa", isa,
            "-o", str(work)]
    for i, array in enumerate(inputs):
        path = work / f"in{i}.bin"
        np.ascontiguousarray(array).tofile(path)
        args += ["-i", str(path)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if proc.returncode != 0:
        return EngineRun(proc.returncode, proc.stderr, [], 0, 0.0)
    meta = json.loads(proc.stdout)
    outputs = [np.fromfile(work / f"{k}.bin", dtype=ONNX_TO_NUMPY[o["dtype"]]).reshape(o["shape"])
               for k, o in enumerate(meta["outputs"])]
    return EngineRun(0, proc.stderr, outputs, meta["arena_size"], meta["seconds_per_run"], meta["isa"])


# ---- the validation party -------------------------------------------------------------------

def runner_path() -> Path:
    configured = os.environ.get(RUNNER_ENV)
    return Path(configured) if configured else BUILT_RUNNER


def unavailable() -> str | None:
    """One line saying why the engine cannot take part in validation, or None when it can."""
    path = runner_path()
    if path.is_file() and os.access(path, os.X_OK):
        return None
    where = f"${RUNNER_ENV} names {path}, which" if os.environ.get(RUNNER_ENV) else str(path)
    return (f"engine: not built ({where} is not an executable onnx_runner); validating with onnxruntime "
            f"only; build it with `{BUILD_COMMAND}`")


def run(model_path: str, feeds: dict) -> list[np.ndarray]:
    """validate.py's party signature: onnxruntime's ``run(None, feeds)`` on the engine."""
    missing = unavailable()
    if missing:
        raise UserError(missing, runner_path(), f"run `{BUILD_COMMAND}` or set {RUNNER_ENV}")
    inputs = [feeds[name] for name in _input_order(model_path, feeds)]
    # Axis 0 of every exported input is the dynamic batch (export.exporters.BATCH_AXIS).
    batch = int(np.shape(inputs[0])[0]) if inputs and np.ndim(inputs[0]) else 1
    with tempfile.TemporaryDirectory(prefix="alog-engine-run-") as work:
        result = run_model(runner_path(), Path(model_path), inputs, Path(work), batch=batch)
    if result.returncode != 0:
        # Named by the runner: the model is still in export's temporary directory at this point.
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"the C engine cannot run {Path(model_path).name} (exit status {result.returncode}: "
                        f"{reason})", runner_path(),
                        f"rebuild the engine with `{BUILD_COMMAND}`; if it still fails, the engine "
                        "does not support this graph (see the reason)")
    return result.outputs


def _input_order(model_path: str, feeds: dict) -> list[str]:
    """onnx_runner takes inputs by position: a single feed needs no graph, several follow it."""
    if len(feeds) <= 1:
        return list(feeds)
    import onnx

    graph = onnx.load(model_path, load_external_data=False).graph
    weights = {t.name for t in graph.initializer}
    return [i.name for i in graph.input if i.name not in weights]
