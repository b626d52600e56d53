"""DeepLog window inference, batch 1, one thread: the C engine vs onnxruntime's Python API.

Exports a randomly initialised DeepLog (DeepLogConfig defaults: window 10, embed 32, hidden 64,
2 layers; vocabulary 30 templates) the way the pipeline does, then times
- onnxruntime: InferenceSession.run from Python, intra_op_num_threads=1, one window per call;
- the engine: alog_model_run() on the same window, timed inside onnx_runner (built -O2);
and reports windows per second, the ratio, the arena sizes of DeepLog and MSCRED and the size of
a stripped static host program holding the inference core. Writes the `engine` section of
docs/results.md (unless --no-write).

    python cengine/bench/bench_deeplog.py [--windows N] [--no-write]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "python"))

import cbuild  # noqa: E402  (the tests' build of the engine tools: one recipe for both)
from test_engine_models import export  # noqa: E402

from alog_detect.bench.results_md import update_section  # noqa: E402

COMMAND = "python cengine/bench/bench_deeplog.py"
VOCAB = 30
MSCRED_N = 32


def export_models(out: Path) -> tuple[Path, Path]:
    import torch

    from alog_detect.models import MSCRED, DeepLog, DeepLogConfig, MSCREDConfig

    torch.manual_seed(0)
    config = DeepLogConfig(vocab_size=VOCAB)
    deeplog = export(DeepLog(config), torch.zeros(1, config.window, dtype=torch.long), out / "deeplog.onnx",
                     "keys", "logits")
    mscred_config = MSCREDConfig(n=MSCRED_N)
    example = torch.zeros(1, mscred_config.steps, mscred_config.scales, MSCRED_N, MSCRED_N)
    mscred = export(MSCRED(mscred_config), example, out / "mscred.onnx", "x", "recon")
    return deeplog, mscred


def onnxruntime_rate(model: Path, windows: np.ndarray) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for w in windows[:200]:
        session.run(None, {name: w})
    start = time.perf_counter()
    for w in windows:
        session.run(None, {name: w})
    return len(windows) / (time.perf_counter() - start)


def engine_rate(runner: Path, model: Path, window: np.ndarray, repeat: int, work: Path) -> tuple[float, int]:
    run = cbuild.run_model(runner, model, [window], work, repeat=repeat)
    assert run.returncode == 0, run.stderr
    return 1.0 / run.seconds_per_run, run.arena_size


def static_core_size(out_dir: Path) -> int:
    """Bytes of a stripped, statically linked host program: the inference core plus onnx_runner."""
    program = cbuild.build(out_dir, "onnx_runner_static", [*cbuild.CORE_SOURCES, cbuild.RUNNER_SOURCE],
                           extra_flags=("-Os", "-static", "-s"))
    return program.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        deeplog, mscred = export_models(tmp)
        runner = cbuild.build_runner(tmp)
        rng = np.random.default_rng(0)
        windows = rng.integers(0, VOCAB + 1, (args.windows, 1, 10), dtype=np.int64)
        ort_rate = onnxruntime_rate(deeplog, windows)
        rates = [engine_rate(runner, deeplog, windows[i], args.windows // 5, tmp / f"w{i}")[0] for i in range(5)]
        c_rate = float(np.median(rates))
        _, deeplog_arena = engine_rate(runner, deeplog, windows[0], 1, tmp / "a")
        x = rng.random((1, 5, 3, MSCRED_N, MSCRED_N), dtype=np.float32)
        mscred_run = cbuild.run_model(runner, mscred, [x], tmp / "m")
        assert mscred_run.returncode == 0, mscred_run.stderr
        size = static_core_size(tmp)
    cpu = platform.processor() or platform.machine()
    body = "\n".join([
        "## C engine: DeepLog inference speed and sizes",
        "",
        f"Command: `{COMMAND}` ({cpu}, one thread, batch 1, {args.windows} windows; "
        f"DeepLog window 10, embed 32, hidden 64, 2 layers, {VOCAB} templates).",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| onnxruntime {_ort_version()} (Python API, 1 thread) | {ort_rate:,.0f} windows/s |",
        f"| engine (`alog_model_run`, -O2) | {c_rate:,.0f} windows/s |",
        f"| engine / onnxruntime | {c_rate / ort_rate:.2f}x (goal: 5x) |",
        f"| DeepLog arena (batch 1) | {deeplog_arena:,} bytes |",
        f"| MSCRED arena (batch 1, n={MSCRED_N}, default channels) | {mscred_run.arena_size:,} bytes |",
        f"| stripped static host program (core + onnx_runner, -Os, model excluded) | {size:,} bytes |",
    ])
    print(body)
    if not args.no_write:
        update_section(REPO / "docs" / "results.md", "engine", body)
    return 0


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


if __name__ == "__main__":
    sys.exit(main())
