"""Side by side with the alternatives: DeepLog and MSCRED inferences per second, batch 1 and 64,
one thread, on the same ONNX files and inputs.

Peers, each timed inside its own process where it has one (the ratio is then the inference alone):

- engine: the host build as shipped (`scons tools`: -O2 portable, the widest vector form the CPU
  has picked at open) and held to its baseline form (`alog_model_limit_isa`, onnx_runner
  `--isa baseline`: SSE2 on x86-64), `alog_model_run` timed by onnx_runner
  (cengine/tests/drivers/onnx_runner.c);
- onnxruntime, Python API: `InferenceSession.run`, one intra-op and one inter-op thread, timed
  in Python (what a Python caller pays);
- onnxruntime, C API: cengine/bench/ort_driver.c over the wheel's libonnxruntime.so, the same
  session settings, input and output tensors over the driver's buffers, `Run()` timed in C;
- emx-onnx-cgen: the C it generates for the file (`--input-dim batch=B`: one program per batch
  size), compiled by the same compiler with the engine's code-generation flags (-std=c99 -O2
  -ffp-contract=off; not its warning flags, which the generated code does not pass), timed by
  cengine/bench/emx_driver.c.

Each (model, batch, peer) is measured in several interleaved rounds (every round measures every
peer, in a rotated order, so a load on the shared machine falls on all of them); a measurement
repeats the inference for about --seconds. Reported: the median and the spread (lowest-highest)
of the rounds, the agreement of each peer's outputs with onnxruntime's on the same input (max
|diff|), and sizes: stripped alog-engine and libalog.so against libonnxruntime.so and the
emx-generated object code. A peer that is not installed gets a row saying so; one that cannot
compile or run a model gets a row with its error. Writes the ``peers`` section of docs/results.md.

    python -m alog_detect.bench.peers [--rounds N] [--seconds S] [--no-write]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from .results_md import update_section
from .scons import BUILD, REPO, scons

DEFAULT_RESULTS = REPO / "docs" / "results.md"
SECTION = "peers"
COMMAND = "python -m alog_detect.bench.peers"
BATCHES = (1, 64)
VOCAB = 30          # DeepLog's templates, as cengine/bench/bench_deeplog.py
MSCRED_N = 16       # MSCRED's matrix side, the smaller of cengine/bench/bench_mscred.py's
ENGINE_FLAGS = ("-std=c99", "-O2", "-ffp-contract=off")   # the engine's code generation (alog_flags.py)
BENCH = REPO / "cengine" / "bench"
ENGINE = "engine"
PEERS = (ENGINE, "engine-baseline", "ort-python", "ort-c", "emx")
LABELS = {
    ENGINE: "alog engine, as shipped",
    "engine-baseline": "alog engine, held to baseline (`--isa baseline`)",
    "ort-python": "onnxruntime {ort}, Python API",
    "ort-c": "onnxruntime {ort}, C API (ort_driver.c)",
    "emx": "emx-onnx-cgen {emx} C, gcc -O2",
}
NOT_INSTALLED = "not installed"


# ---- the models and their inputs ----------------------------------------------------------------

@dataclass(frozen=True)
class Model:
    name: str              # deeplog / mscred
    path: Path
    input_name: str
    output_name: str
    input_dtype: str       # int64 / float32
    item_shape: tuple      # one input's shape without the batch axis
    output_item_shape: tuple

    def inputs(self, batch: int) -> np.ndarray:
        rng = np.random.default_rng(batch)
        if self.input_dtype == "int64":
            return rng.integers(0, VOCAB + 1, (batch, *self.item_shape), dtype=np.int64)
        # MSCRED's inputs are signature cells normalised to [0, 1] (docs/detection.md).
        return rng.random((batch, *self.item_shape), dtype=np.float32)


def export_models(out: Path) -> list[Model]:
    """Randomly initialised models of the default architecture, exported with the pipeline's recipe
    (alog_detect.export: legacy exporter, opset 17, dynamic batch, onnxsim, aligned weights)."""
    import onnx
    import torch

    from ..export.config import DEFAULT_OPSET
    from ..export.exporters import GraphSignature, export_graph, installed_exporters
    from ..export.portable import serialize_aligned, simplify
    from ..models import MSCRED, DeepLog, DeepLogConfig, MSCREDConfig

    exporters = installed_exporters()
    torch.manual_seed(0)
    from ..models.mscred import PAPER_CHANNELS

    deeplog_config = DeepLogConfig(vocab_size=VOCAB)
    mscred_config = MSCREDConfig(n=MSCRED_N, channels=PAPER_CHANNELS)
    specs = [
        ("deeplog", DeepLog(deeplog_config), torch.zeros(1, deeplog_config.window, dtype=torch.long),
         "keys", "logits", "int64", (deeplog_config.window,), (VOCAB,)),
        ("mscred", MSCRED(mscred_config),
         torch.zeros(1, mscred_config.steps, mscred_config.scales, MSCRED_N, MSCRED_N), "x", "recon", "float32",
         (mscred_config.steps, mscred_config.scales, MSCRED_N, MSCRED_N),
         (mscred_config.scales, MSCRED_N, MSCRED_N)),
    ]
    models = []
    for name, module, example, input_name, output_name, dtype, item, out_item in specs:
        path = out / f"{name}.onnx"
        export_graph(module.eval(), example, path, GraphSignature(input_name, output_name),
                     exporters.choose(), DEFAULT_OPSET, exporters)
        path.write_bytes(serialize_aligned(simplify(onnx.load(str(path)), path), path))
        models.append(Model(name, path, input_name, output_name, dtype, item, out_item))
    return models


# ---- peers ---------------------------------------------------------------------------------------

@dataclass
class Runner:
    """How to time one (model, batch) with one peer: ``run(repeat, out)`` -> seconds per inference
    batch, writing the outputs to ``out`` (float32 raw) when given. ``error``: why it cannot run."""
    run: object = None
    error: str | None = None


def _first_line(text: str) -> str:
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    return (lines[-1] if lines else "no message")[:300]


def _json_out(proc: subprocess.CompletedProcess, what: str) -> dict:
    if proc.returncode != 0:
        raise RuntimeError(f"{what} exited {proc.returncode}: {_first_line(proc.stderr)}")
    return json.loads(proc.stdout)


def engine_runner(onnx_runner: Path, model: Model, batch: int, x: Path, isa: str) -> Runner:
    def run(repeat: int, out: Path | None) -> float:
        args = [str(onnx_runner), str(model.path), "--batch", str(batch), "--repeat", str(repeat),
                "--isa", isa, "-i", str(x)]
        if out is not None:
            args += ["-o", str(out.parent / f"{out.stem}.d")]
            (out.parent / f"{out.stem}.d").mkdir(exist_ok=True)
        meta = _json_out(subprocess.run(args, capture_output=True, text=True), "onnx_runner")
        if out is not None:
            shutil.copy(out.parent / f"{out.stem}.d" / "0.bin", out)
        return float(meta["seconds_per_run"])
    return Runner(run)


def ort_python_runner(model: Model, batch: int) -> Runner:
    try:
        import onnxruntime as ort
    except ImportError:
        return Runner(error=NOT_INSTALLED)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model.path), options, providers=["CPUExecutionProvider"])
    x = model.inputs(batch)
    feed = {model.input_name: x}

    def run(repeat: int, out: Path | None) -> float:
        for _ in range(2):
            result = session.run(None, feed)
        start = time.perf_counter()
        for _ in range(repeat):
            result = session.run(None, feed)
        seconds = (time.perf_counter() - start) / repeat
        if out is not None:
            np.ascontiguousarray(result[0], dtype=np.float32).tofile(out)
        return seconds
    return Runner(run)


def onnxruntime_library() -> Path | None:
    """The libonnxruntime.so the onnxruntime wheel ships (onnxruntime/capi/)."""
    try:
        import onnxruntime
    except ImportError:
        return None
    found = sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so*")))
    return Path(found[0]) if found else None


def ort_c_runner(driver: Path | str | None, library: Path | None, model: Model, batch: int, x: Path) -> Runner:
    if library is None:
        return Runner(error=NOT_INSTALLED)
    if not isinstance(driver, Path):
        return Runner(error=driver or "ort_driver.c did not build")
    dtype = "int64" if model.input_dtype == "int64" else "float"
    shape = ",".join(map(str, (batch, *model.item_shape)))
    out_shape = ",".join(map(str, (batch, *model.output_item_shape)))

    def run(repeat: int, out: Path | None) -> float:
        args = [str(driver), str(library), str(model.path), "--input", f"{model.input_name}:{dtype}:{shape}",
                "--output", f"{model.output_name}:{out_shape}", "--repeat", str(repeat), "-i", str(x)]
        if out is not None:
            args += ["-o", str(out)]
        return float(_json_out(subprocess.run(args, capture_output=True, text=True), "ort_driver")["seconds_per_run"])
    return Runner(run)


def emx_command() -> list[str] | None:
    exe = shutil.which("emx-onnx-cgen")
    if exe:
        return [exe]
    try:
        import emx_onnx_cgen  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "emx_onnx_cgen.cli"]


@dataclass
class EmxBuild:
    runner: Runner
    object_bytes: int | None = None      # .text + .data + .rodata of the generated code
    weight_file_bytes: int | None = None  # what it loads at start (model.bin)
    inline_weights: bool = False


def _object_size(obj: Path) -> int:
    """Bytes of code and initialised data (`size -A`: .text, .data, .rodata and their kin)."""
    proc = subprocess.run(["size", "-A", str(obj)], capture_output=True, text=True, check=True)
    total = 0
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].startswith((".text", ".data", ".rodata")) and fields[1].isdigit():
            total += int(fields[1])
    return total


def emx_build(command: list[str] | None, cc: str, model: Model, batch: int, x: Path, work: Path) -> EmxBuild:
    if command is None:
        return EmxBuild(Runner(error=NOT_INSTALLED))
    work.mkdir(parents=True, exist_ok=True)
    source = work / "model.c"
    gen = subprocess.run([*command, "compile", str(model.path), str(source), "--input-dim", f"batch={batch}",
                          "--model-name", "model", "--color", "never"], capture_output=True, text=True)
    if gen.returncode != 0 or not source.is_file():
        return EmxBuild(Runner(error=f"cannot generate C: {_first_line(gen.stderr + gen.stdout)}"))
    weights = work / "model.bin"
    in_bytes = int(np.prod((batch, *model.item_shape))) * (8 if model.input_dtype == "int64" else 4)
    out_bytes = int(np.prod((batch, *model.output_item_shape))) * 4
    obj = work / "model.o"
    compiled = subprocess.run([cc, *ENGINE_FLAGS, "-c", str(source), "-o", str(obj)], capture_output=True, text=True)
    if compiled.returncode != 0:
        return EmxBuild(Runner(error=f"cannot compile its C: {_first_line(compiled.stderr)}"))
    program = work / "emx_driver"
    defines = [f"-DEMX_SOURCE=\"{source}\"", f"-DEMX_IN_BYTES={in_bytes}", f"-DEMX_OUT_BYTES={out_bytes}"]
    if weights.is_file():
        defines.append("-DEMX_WEIGHTS")
    linked = subprocess.run([cc, *ENGINE_FLAGS, *defines, str(BENCH / "emx_driver.c"), "-o", str(program), "-lm"],
                            capture_output=True, text=True)
    if linked.returncode != 0:
        return EmxBuild(Runner(error=f"cannot compile its C: {_first_line(linked.stderr)}"))

    def run(repeat: int, out: Path | None) -> float:
        args = [str(program), *([str(weights)] if weights.is_file() else []), "--repeat", str(repeat), "-i", str(x)]
        if out is not None:
            args += ["-o", str(out)]
        return float(_json_out(subprocess.run(args, capture_output=True, text=True), "emx_driver")["seconds_per_run"])
    return EmxBuild(Runner(run), _object_size(obj), weights.stat().st_size if weights.is_file() else 0,
                    not weights.is_file())


def build_ort_driver(cc: str, work: Path) -> Path | str:
    """cengine/bench/ort_driver.c with the engine's own strict flags; a string is why it failed."""
    site = str(REPO / "site_scons" / "site_tools")
    sys.path.insert(0, site)
    try:
        import alog_flags
    finally:
        sys.path.remove(site)
    program = work / "ort_driver"
    api = _ort_api_version()
    proc = subprocess.run([cc, *alog_flags.LANGUAGE_FLAGS, "-O2", f"-DORT_API_VERSION_USED={api}",
                           str(BENCH / "ort_driver.c"), "-o", str(program), "-ldl"], capture_output=True, text=True)
    return program if proc.returncode == 0 else f"ort_driver.c did not build: {_first_line(proc.stderr)}"


def _ort_api_version() -> int:
    """onnxruntime's C API version is its minor version (1.32 -> 32)."""
    import onnxruntime

    return int(onnxruntime.__version__.split(".")[1])


# ---- measuring -----------------------------------------------------------------------------------

@dataclass
class Cell:
    """One (model, batch, peer): inferences per second of every round, or why there are none."""
    rates: list[float] = field(default_factory=list)
    error: str | None = None
    max_abs_diff: float | None = None
    repeat: int = 1

    @property
    def median(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None


def _calibrate(runner: Runner, seconds: float) -> int:
    once = runner.run(1, None)
    return max(1, min(100000, int(round(seconds / max(once, 1e-7)))))


def measure(models: list[Model], runners: dict, rounds: int, seconds: float, work: Path,
            say=print) -> dict:
    cells = {key: Cell() for key in runners}
    for key, runner in runners.items():
        if runner.error:
            cells[key].error = runner.error
    # Calibrate, and take the outputs on the same input once (agreement).
    for key, runner in runners.items():
        if runner.error:
            continue
        model, batch, peer = key
        try:
            cells[key].repeat = _calibrate(runner, seconds)
            out = work / f"out-{model}-{batch}-{peer}.bin"
            runner.run(1, out)
        except (RuntimeError, OSError, ValueError) as exc:
            cells[key].error = str(exc)
    for (model, batch, peer), cell in cells.items():
        reference = work / f"out-{model}-{batch}-ort-python.bin"
        mine = work / f"out-{model}-{batch}-{peer}.bin"
        if cell.error is None and reference.is_file() and mine.is_file():
            a, b = np.fromfile(reference, np.float32), np.fromfile(mine, np.float32)
            cell.max_abs_diff = float(np.abs(a.astype(np.float64) - b).max()) if a.shape == b.shape else float("inf")
    order = [key for key in runners if cells[key].error is None]
    for r in range(rounds):
        shift = r % max(1, len(PEERS))
        for model in models:
            for batch in BATCHES:
                peers = PEERS[shift:] + PEERS[:shift]
                for peer in peers:
                    key = (model.name, batch, peer)
                    if key not in order or cells[key].error:
                        continue
                    try:
                        per_run = runners[key].run(cells[key].repeat, None)
                        cells[key].rates.append(batch / per_run)
                    except (RuntimeError, OSError, ValueError) as exc:
                        cells[key].error = str(exc)
        say(f"round {r + 1}/{rounds} done")
    return cells


# ---- sizes ---------------------------------------------------------------------------------------

def _stripped(path: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        subprocess.run(["strip", "-o", str(copy), str(path)], check=True, capture_output=True)
        return copy.stat().st_size


# ---- the section ---------------------------------------------------------------------------------

def _rate(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:,.2f}"


def _versions() -> dict:
    versions = {}
    for name, module in (("ort", "onnxruntime"), ("emx", "emx_onnx_cgen")):
        try:
            from importlib.metadata import version

            versions[name] = version(module.replace("_", "-"))
        except Exception:  # not installed: its rows say so
            versions[name] = "(not installed)"
    return versions


def goal(cells: dict, models: list[Model]) -> list[str]:
    """Per model and batch: is the shipped engine ahead of (batch 1) / not behind (batch 64) every
    peer, by median, in this run."""
    lines = []
    for model in models:
        for batch in BATCHES:
            ours = cells[(model.name, batch, ENGINE)].median
            others = {peer: cells[(model.name, batch, peer)].median for peer in PEERS
                      if peer not in (ENGINE, "engine-baseline") and cells[(model.name, batch, peer)].median}
            if ours is None:
                lines.append(f"{model.name}, batch {batch}: the engine did not run")
                continue
            behind = {p: v for p, v in others.items() if (v >= ours if batch == 1 else v > ours)}
            word = "ahead of every peer" if batch == 1 else "not behind any peer"
            if behind:
                best = max(behind, key=behind.get)
                lines.append(f"{model.name}, batch {batch}: **not met**: the engine {_rate(ours)}/s; "
                             + ", ".join(f"{p_name(p)} {_rate(v)}/s" for p, v in sorted(behind.items()))
                             + f" (the fastest, {p_name(best)}, at {behind[best] / ours:.2f}x the engine)")
            else:
                lines.append(f"{model.name}, batch {batch}: **met**, {word} ({_rate(ours)}/s, next "
                             f"{_rate(max(others.values())) if others else 'none'}/s)")
    return lines


def batching_note(cells: dict, models: list[Model]) -> str:
    """What batching buys each runtime, from this run's medians."""
    def gain(model: Model, peer: str) -> str:
        one, many = cells[(model.name, 1, peer)].median, cells[(model.name, BATCHES[-1], peer)].median
        return f"{many / one:.2f}x" if one and many else "n/a"
    parts = "; ".join(f"{m.name}: the engine {gain(m, ENGINE)}, onnxruntime's C API {gain(m, 'ort-c')}, "
                      f"emx-onnx-cgen {gain(m, 'emx')}" for m in models)
    return (f"Inferences per second at batch {BATCHES[-1]} over batch 1 ({parts}). The engine computes "
            "every output's sum in one fixed order and never fuses a multiply and an add "
            "(-ffp-contract=off), so that every target computes the same bits; onnxruntime fuses "
            "them and blocks its products for the cache, which pays off most on a batch. "
            "emx-onnx-cgen's C is plain loop nests (performance is its stated non-goal).")


def p_name(peer: str) -> str:
    return {"ort-python": "onnxruntime's Python API", "ort-c": "onnxruntime's C API", "emx": "emx-onnx-cgen's C",
            ENGINE: "the engine", "engine-baseline": "the baseline engine"}[peer]


def render(cells: dict, models: list[Model], sizes: list[tuple[str, int | str]], args, versions: dict,
           elapsed: float) -> str:
    labels = {p: LABELS[p].format(**versions) for p in PEERS}
    rows = []
    for model in models:
        for batch in BATCHES:
            ours = cells[(model.name, batch, ENGINE)].median
            for peer in PEERS:
                cell = cells[(model.name, batch, peer)]
                if cell.error:
                    rows.append(f"| {model.name} | {batch} | {labels[peer]} | {cell.error} | | | |")
                    continue
                spread = f"{_rate(min(cell.rates))} - {_rate(max(cell.rates))}" if cell.rates else ""
                ratio = f"{cell.median / ours:.2f}x" if ours and cell.median else ""
                diff = ("reference" if peer == "ort-python" else
                        "" if cell.max_abs_diff is None else f"{cell.max_abs_diff:.1e}")
                rows.append(f"| {model.name} | {batch} | {labels[peer]} | {_rate(cell.median)} | {spread} | "
                            f"{ratio} | {diff} |")
    cpu = platform.processor() or platform.machine()
    return "\n".join([
        "## Side by side: the engine, onnxruntime and emx-onnx-cgen",
        "",
        f"Command: `{COMMAND}` ({elapsed:.0f} s in all; {cpu}, {os.cpu_count()} cores shared with other "
        f"work, so every figure is the median of {args.rounds} interleaved rounds, each peer's "
        f"inference repeated for about {args.seconds} s per round, with the spread of the rounds "
        "beside it). One thread everywhere; fp32; the same ONNX files and the same inputs for every "
        f"peer: DeepLog of the default architecture (window 10, embed 32, hidden 64, 2 layers, {VOCAB} "
        f"templates) and MSCRED of the paper's architecture at n = {MSCRED_N} (channels 32, 64, 128, "
        "256, 5 steps, 3 scales), randomly initialised and exported with the pipeline's recipe.",
        "",
        "Peers: the engine as shipped (`scons tools`: -O2 portable, the widest vector form the CPU "
        "has, picked at open) and held to its baseline form (`alog_model_limit_isa`: SSE2), timed "
        "around `alog_model_run` by onnx_runner; onnxruntime's Python API (`InferenceSession.run`, "
        "one intra-op thread, timed in Python: the call overhead a Python caller pays is in it); "
        "onnxruntime's C API from `cengine/bench/ort_driver.c` over the wheel's libonnxruntime.so "
        "(the wheel has no headers: the driver declares `OrtGetApiBase` and the `OrtApi` table's "
        "layout itself), same settings, `Run()` timed in C on tensors over the driver's buffers; "
        "the C that emx-onnx-cgen generates for the same file (`--input-dim batch=B`, one program "
        "per batch size), compiled by the same gcc with the engine's code-generation flags "
        f"({' '.join(ENGINE_FLAGS)}; not its -Wall -Wextra -Werror -pedantic, which the generated "
        "code does not pass) and timed by `cengine/bench/emx_driver.c`. Agreement: max |diff| of "
        "each peer's outputs from onnxruntime's (Python API) on the same input.",
        "",
        "| model | batch | peer | inferences/s (median) | spread (lowest - highest) | vs engine | max abs diff vs onnxruntime |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        "Goal: the engine (as shipped) ahead of every peer at batch 1 and not behind any at batch 64, "
        "by median, in this run:",
        "",
        *(f"- {line}" for line in goal(cells, models)),
        "",
        batching_note(cells, models),
        "",
        "| size | bytes |",
        "| --- | ---: |",
        *(f"| {name} | {value:,} |" if isinstance(value, int) else f"| {name} | {value} |" for name, value in sizes),
    ]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default %(default)s)")
    p.add_argument("--seconds", type=float, default=0.5,
                   help="how long one measurement repeats the inference (default %(default)s)")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    p.add_argument("--no-write", action="store_true", help="print the section only")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0:
        p.error("--rounds must be >= 1 and --seconds > 0")
    start = time.monotonic()
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        print(f"{COMMAND}: error: no C compiler (fix: apt-get install gcc, or ./setup.sh)", file=sys.stderr)
        return 2
    try:
        scons(("tools", "lib"), "build the engine by hand: scons tools lib")
    except UserError as exc:
        print(f"{COMMAND}: error: {exc.one_line()}", file=sys.stderr)
        return 2
    host = BUILD / "host"
    versions = _versions()
    with tempfile.TemporaryDirectory(prefix="alog-bench-peers-") as tmp:
        work = Path(tmp)
        models = export_models(work)
        library = onnxruntime_library()
        driver = build_ort_driver(cc, work) if library is not None else None
        emx = emx_command()
        runners, emx_sizes = {}, {}
        for model in models:
            for batch in BATCHES:
                x = work / f"in-{model.name}-{batch}.bin"
                np.ascontiguousarray(model.inputs(batch)).tofile(x)
                runners[(model.name, batch, ENGINE)] = engine_runner(host / "tools" / "onnx_runner", model, batch, x,
                                                                    "auto")
                runners[(model.name, batch, "engine-baseline")] = engine_runner(host / "tools" / "onnx_runner",
                                                                               model, batch, x, "baseline")
                runners[(model.name, batch, "ort-python")] = ort_python_runner(model, batch)
                runners[(model.name, batch, "ort-c")] = ort_c_runner(driver, library, model, batch, x)
                built = emx_build(emx, cc, model, batch, x, work / f"emx-{model.name}-{batch}")
                runners[(model.name, batch, "emx")] = built.runner
                emx_sizes[(model.name, batch)] = built
                print(f"prepared {model.name} batch {batch}", flush=True)
        cells = measure(models, runners, args.rounds, args.seconds, work, say=lambda s: print(s, flush=True))
    sizes: list[tuple[str, int | str]] = [
        ("`alog-engine`, host, stripped (the whole Linux front end; model excluded)", _stripped(host / "tools" / "alog-engine")),
        ("`libalog.so`, host, stripped", _stripped(host / "lib" / "libalog.so")),
        (f"`{library.name}` from the onnxruntime wheel (as shipped)" if library else "libonnxruntime.so",
         library.stat().st_size if library else NOT_INSTALLED)]
    for model in models:
        built = emx_sizes[(model.name, 1)]
        if built.object_bytes is None:
            sizes.append((f"emx-onnx-cgen object code, {model.name} (batch 1)", built.runner.error))
        else:
            sizes.append((f"emx-onnx-cgen object code, {model.name} (batch 1; .text + .data + .rodata"
                          + (", weights inline" if built.inline_weights else
                             f", plus {built.weight_file_bytes:,} bytes of weights it loads from model.bin") + ")",
                          built.object_bytes))
    body = render(cells, models, sizes, args, versions, time.monotonic() - start)
    print(body)
    if not args.no_write:
        update_section(args.results, SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
