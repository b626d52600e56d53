"""int8 weights (convert-onnx --quantize int8) against the float models: speed, sizes, verdicts.

1. Speed, one thread, batch 1: the DeepLog of bench_deeplog.py (random weights, window 10, embed 32,
   hidden 64, 2 layers, 30 templates), exported as the pipeline exports it, and its int8 file
   (export.quantize.quantize_weights, the same function convert-onnx calls). In interleaved rounds:
   onnxruntime running the float file (the goal's reference) and the int8 file, and the engine
   (onnx_runner, -O2 portable build) on the float file and on the int8 file, held to baseline
   x86-64 (SSE2), to AVX2, and as shipped (the widest form the CPU has). The machine's multiply-add
   ceiling and read bandwidth (cengine/bench/peak.c) beside them. Goal: the engine's int8 window
   >= 3x onnxruntime's float one, by CPU time and by wall clock.
2. Sizes: the files (weights at aligned offsets, as convert-onnx writes them) and the engine's arena,
   float and int8, for that DeepLog, for MSCRED at the paper's channels and at the default
   (device-sized) ones, and for the DeepLog trained
   on each HDFS part below (exported by convert-onnx itself, with and without --quantize int8).
   Goal: files about 4x smaller.
3. Verdicts on HDFS, the protocol of python -m alog_detect.bench.hdfs (its parts, settings and
   training, alog_detect.bench.hdfs.TRAINERS): every test window judged by the float model
   (PyTorch, as in the hdfs section) and by the engine on the int8 file (what a device runs).
   Top-g set agreement per window, verdicts that differ, and session recall and false-positive
   rate per g. Goal: recall and FPR within 0.005 of the float model's.

Writes the `int8` section of docs/results.md (unless --no-write).

    python cengine/bench/bench_int8.py [--windows N] [--rounds N] [--parts 100k,20k,deeplog] [--no-write]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "python"))

import bench_deeplog as bd  # noqa: E402  (the engine section's model, runners, timing and peak)
import cbuild  # noqa: E402

from alog_detect.bench import hdfs  # noqa: E402
from alog_detect.bench.results_md import update_section  # noqa: E402
from alog_detect.models.mscred import EDGE_CHANNELS  # noqa: E402

COMMAND = "python cengine/bench/bench_int8.py"
SECTION = "int8"
SPEED_GOAL = 3.0     # engine int8 window vs onnxruntime's float one
SIZE_GOAL = 4.0      # "about 4x smaller"
QUALITY_GOAL = 0.005  # |recall or FPR, int8 - float|
ENGINE_BATCH = 1024  # windows per onnx_runner call when judging HDFS


# ---- the models ------------------------------------------------------------------------------

def aligned_files(plain: Path, out: Path) -> tuple[Path, Path]:
    """(float, int8) files of an exported graph, weights at aligned offsets as convert-onnx writes them."""
    import onnx

    from alog_detect.export.portable import serialize_aligned
    from alog_detect.export.quantize import quantize_weights

    graph = onnx.load(str(plain))
    quantized, _ = quantize_weights(graph)
    fp32, int8 = out / f"{plain.stem}.fp32.onnx", out / f"{plain.stem}.int8.onnx"
    fp32.write_bytes(serialize_aligned(graph, fp32))
    int8.write_bytes(serialize_aligned(quantized, int8))
    return fp32, int8


def export_edge_mscred(out: Path) -> Path:
    """MSCRED at the default (device-sized) channels, exported like bench_deeplog's."""
    import torch

    from alog_detect.models import MSCRED, MSCREDConfig

    torch.manual_seed(0)
    config = MSCREDConfig(n=bd.MSCRED_N, channels=EDGE_CHANNELS)
    example = torch.zeros(1, config.steps, config.scales, bd.MSCRED_N, bd.MSCRED_N)
    return bd.export(MSCRED(config), example, out / "mscred_edge.onnx", "x", "recon")


# ---- 1. speed --------------------------------------------------------------------------------

SPEED_ROWS = {  # name: (file, --isa, label)
    "engine_fp32": ("fp32", "auto", "engine, float file, as shipped"),
    "int8_baseline": ("int8", "baseline", "engine, int8 file, held to baseline x86-64 (SSE2) by `--isa baseline`"),
    "int8_avx2": ("int8", "avx2", "engine, int8 file, held to AVX2 by `--isa avx2`"),
    "int8": ("int8", "auto", "engine, int8 file, as shipped"),
}


def measure_speed(files: dict[str, Path], runner: Path, windows: np.ndarray, rounds: int,
                  work: Path) -> dict[str, bd.Rate]:
    sessions = {kind: bd.onnxruntime_session(path) for kind, path in files.items()}
    samples: dict[str, list] = {"ort_fp32": [], "ort_int8": [], **{name: [] for name in SPEED_ROWS}}
    for r in range(rounds):
        samples["ort_fp32"].append(bd.onnxruntime_round(sessions["fp32"], windows))
        samples["ort_int8"].append(bd.onnxruntime_round(sessions["int8"], windows))
        for name, (kind, isa, _) in SPEED_ROWS.items():
            samples[name].append(bd.engine_round(runner, files[kind], windows[r], len(windows),
                                                 work / f"{name}{r}", isa))
    return {name: bd.median_rate(s) for name, s in samples.items()}


# ---- 2. sizes --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sizes:
    name: str
    fp32_bytes: int
    int8_bytes: int
    fp32_arena: int | None = None
    int8_arena: int | None = None


def arena(runner: Path, model: Path, x: np.ndarray, work: Path) -> int:
    run = cbuild.run_model(runner, model, [x], work)
    assert run.returncode == 0, run.stderr
    return run.arena_size


# ---- 3. HDFS verdicts ------------------------------------------------------------------------

@dataclass(frozen=True)
class PartQuality:
    name: str
    vocab: int
    windows: int
    topk_equal: dict[int, int]           # g -> windows whose top-g sets are equal
    verdicts_differ: dict[int, int]      # g -> events whose verdict differs
    float_: dict[str, object]            # g label -> Confusion (PyTorch, float)
    int8: dict[str, object]              # g label -> Confusion (engine, int8 file)
    sizes: Sizes
    seconds: float


def export_part(part, work: Path) -> tuple[Path, Path]:
    """(float, int8) deeplog.onnx of a trained part, written by convert-onnx's own function."""
    from alog_detect.export import ExportConfig, convert_onnx

    out = {}
    for quantize in ("none", "int8"):
        target = work / f"models-{quantize}"
        convert_onnx(ExportConfig(vocab=part.vocab_path, output_dir=target, deeplog_model=part.checkpoint,
                                  quantize=quantize), say=lambda _line: None)
        out[quantize] = target / "deeplog.onnx"
    return out["none"], out["int8"]


def engine_predictor(runner: Path, model: Path, work: Path):
    def predict(windows: np.ndarray) -> np.ndarray:
        logits = []
        for i in range(0, len(windows), ENGINE_BATCH):
            chunk = np.ascontiguousarray(windows[i:i + ENGINE_BATCH], dtype=np.int64)
            run = cbuild.run_model(runner, model, [chunk], work, batch=len(chunk))
            assert run.returncode == 0, run.stderr
            logits.append(run.outputs[0].reshape(len(chunk), -1))
        return np.concatenate(logits)
    return predict


def measure_part(name: str, data: Path, work: Path, runner: Path, overrides: dict) -> PartQuality:
    from alog_detect.deeplog_rule import UNKNOWN, session_windows, topk
    from alog_detect.train.deeplog import torch_predictor

    part = hdfs.TRAINERS[name](data, work, overrides)
    fp32, int8 = export_part(part, work / name)
    vocab = part.loaded.vocab
    index = vocab.index()
    keys = [[index.get(t, UNKNOWN) for t in templates] for templates in part.test.templates.values()]
    windows = np.concatenate([session_windows(k, hdfs.WINDOW, vocab.size) for k in keys])
    float_predict = torch_predictor(part.loaded.model)
    int8_predict = engine_predictor(runner, int8, work / name / "engine")
    float_logits = np.concatenate([float_predict(windows[i:i + 4096]) for i in range(0, len(windows), 4096)])
    int8_logits = int8_predict(windows)
    events = np.concatenate([np.asarray(k, dtype=np.int64) for k in keys])
    topk_equal, verdicts_differ = {}, {}
    for g in hdfs.TOP_KS:
        a, b = np.sort(topk(float_logits, g), axis=1), np.sort(topk(int8_logits, g), axis=1)
        topk_equal[g] = int((a == b).all(axis=1).sum())
        in_a, in_b = (a == events[:, None]).any(axis=1), (b == events[:, None]).any(axis=1)
        known = events != UNKNOWN
        verdicts_differ[g] = int((known & (in_a != in_b)).sum())
    sizes = Sizes(f"DeepLog trained on {part.name} ({vocab.size} templates)", fp32.stat().st_size,
                  int8.stat().st_size, arena(runner, fp32, windows[:1], work / name / "a1"),
                  arena(runner, int8, windows[:1], work / name / "a2"))
    return PartQuality(part.name, vocab.size, len(windows), topk_equal, verdicts_differ,
                       hdfs.judge_part(part.loaded, part.test, float_predict),
                       hdfs.judge_part(part.loaded, part.test, int8_predict), sizes,
                       time.monotonic() - part.start)


def fpr(c) -> float:
    return c.fp / (c.fp + c.tn) if c.fp + c.tn else 0.0


# ---- report ----------------------------------------------------------------------------------

def report(args, rates: dict[str, bd.Rate], sizes: list[Sizes], parts: list[PartQuality],
           peak: dict[str, float], config, seconds: float) -> str:
    ort = rates["ort_fp32"]
    best = rates["int8"]
    cpu = platform.processor() or platform.machine()
    speed_ok = best.cpu >= SPEED_GOAL * ort.cpu and best.wall >= SPEED_GOAL * ort.wall
    rows = [f"| onnxruntime {bd._ort_version()} (Python API, 1 thread), float file | {ort.wall:,.0f} | "
            f"{ort.cpu:,.0f} | {1e6 / ort.cpu:.1f} | 1.00x |",
            f"| onnxruntime, int8 file (it folds the weights back to float at load) | {rates['ort_int8'].wall:,.0f} "
            f"| {rates['ort_int8'].cpu:,.0f} | {1e6 / rates['ort_int8'].cpu:.1f} "
            f"| {rates['ort_int8'].wall / ort.wall:.2f}x wall, {rates['ort_int8'].cpu / ort.cpu:.2f}x CPU |"]
    for name, (_, _, label) in SPEED_ROWS.items():
        r = rates[name]
        rows.append(f"| {label} | {r.wall:,.0f} | {r.cpu:,.0f} | {1e6 / r.cpu:.1f} "
                    f"| {r.wall / ort.wall:.2f}x wall, {r.cpu / ort.cpu:.2f}x CPU |")
    macs = bd.multiply_adds(config)
    need_us = 1e6 / (SPEED_GOAL * ort.cpu)
    products = {k: g for k, g in peak.items() if not k.startswith("read")}
    separate = max((g for k, g in products.items() if k.endswith("mul_add")), default=float("nan"))
    ceiling = ", ".join(f"{k.replace('_', ' ')} {g:.0f}" for k, g in products.items()) or "not measured here"
    bandwidth = peak.get("read_128k_gb_s")
    us = 1e6 / best.cpu
    floor_us = macs / separate / 1e3
    verdict = (f"The {SPEED_GOAL:.0f}x goal is {'reached' if speed_ok else 'not reached'}: the int8 window "
               f"takes {us:.1f} us of CPU, {best.cpu / ort.cpu:.2f}x onnxruntime's float one "
               f"({best.wall / ort.wall:.2f}x by wall clock); {SPEED_GOAL:.0f}x needs {need_us:.1f} us.")
    float_reads = config.window * config.layers * 4 * config.hidden * config.hidden * 4
    int8_reads = float_reads // 4
    float_us = 1e6 / rates["engine_fp32"].cpu

    def read_us(nbytes: int) -> str:
        return f", {nbytes / bandwidth / 1e3:.1f} us" if bandwidth else ""

    verdict += (f" What bounds it: a window is {macs:,} multiply-adds. The engine keeps the reference "
                "order without FMA (the same bits on every target), and from an int8 panel it makes each "
                "weight the float DequantizeLinear makes, (float)q x scale, in registers before its "
                "multiply: per weight a widening, a conversion and a second multiply beside the float "
                "kernel's multiply and add. At this core's ceiling for separate multiplies and adds "
                f"(`peak.c`, register-only loops, G multiply-adds/s: {ceiling}), the float products alone "
                f"take at least {floor_us:.1f} us and the scale multiplies add half as much again "
                f"({1.5 * floor_us:.1f} us before the conversions). What int8 saves is weight reads: the "
                f"recurrent matrix R of a layer goes from {4 * config.hidden * config.hidden * 4 // 1024} "
                f"to {4 * config.hidden * config.hidden // 1024} KiB (it now fits L1), "
                f"{float_reads / 1e6:.2f} -> {int8_reads / 1e6:.2f} MB per window"
                + (f" ({float_reads / bandwidth / 1e3:.1f} -> {int8_reads / bandwidth / 1e3:.1f} us at the "
                   f"{bandwidth:.0f} GB/s this core reads from a 128 KiB buffer)" if bandwidth else "")
                + f". Here the added arithmetic outweighs the saved reads: the int8 window runs at "
                f"{macs / us / 1e3:.1f} G multiply-adds/s, the float file at {macs / float_us / 1e3:.1f} "
                f"({float_us:.1f} us, {rates['engine_fp32'].cpu / ort.cpu:.2f}x onnxruntime). "
                f"{SPEED_GOAL:.0f}x onnxruntime would need {macs / need_us / 1e3:.0f} G multiply-adds/s "
                f"sustained, {macs / need_us / 1e3 / separate * 100:.0f}% of the widest separate "
                "ceiling before the scale multiplies and conversions.")
    size_rows = []
    for s in sizes:
        arena = (f" | {s.fp32_arena:,} | {s.int8_arena:,}" if s.fp32_arena is not None else " | | ")
        size_rows.append(f"| {s.name} | {s.fp32_bytes:,} | {s.int8_bytes:,} | "
                         f"{s.fp32_bytes / s.int8_bytes:.2f}x{arena} |")
    ratios = [s.fp32_bytes / s.int8_bytes for s in sizes]
    size_verdict = (f"Files are {min(ratios):.2f}x to {max(ratios):.2f}x smaller (goal: about "
                    f"{SIZE_GOAL:.0f}x). Only the weights the engine multiplies by (LSTM W and R, Gemm B, "
                    "Conv and ConvTranspose W) become int8, with one float scale per output channel; "
                    "biases, the embedding, the scales and the graph stay float, so the smaller a model's "
                    "weight matrices are against the rest (DeepLog's: 4H x (E + H) per layer at H = 64), "
                    "the further it stays from 4x. The arena is the engine's for batch 1 (packed "
                    "weights included: int8 panels for the int8 file).")
    edge = next((s for s in sizes if "default channels" in s.name), None)
    if edge is not None:
        goals = (edge.fp32_bytes <= 2e6, edge.int8_bytes <= 0.5e6, edge.fp32_arena <= 4e6)
        size_verdict += (f" The default MSCRED (issue 14, item 3: <= 2 MB float, <= 0.5 MB int8, arena <= 4 MB): "
                         f"{edge.fp32_bytes / 1e6:.2f} MB float, {edge.int8_bytes / 1e6:.2f} MB int8, arena "
                         f"{edge.fp32_arena / 1e6:.2f} MB float / {edge.int8_arena / 1e6:.2f} MB int8 at "
                         f"n = {bd.MSCRED_N}: " + ("met" if all(goals) else "not met")
                         + " (the arena grows with n squared, the files do not).")
    quality_rows, worst = [], 0.0
    for p in parts:
        for g, label in [(g, str(g)) for g in hdfs.TOP_KS]:
            f, q = p.float_[label], p.int8[label]
            dr, df = q.recall - f.recall, fpr(q) - fpr(f)
            worst = max(worst, abs(dr), abs(df))
            quality_rows.append(
                f"| {p.name} | {p.vocab} | {g} | {p.windows:,} | {p.topk_equal[g] / p.windows:.4f} "
                f"({p.windows - p.topk_equal[g]:,} differ) | {p.verdicts_differ[g]:,} "
                f"| {f.recall:.4f} / {q.recall:.4f} ({dr:+.4f}) | {fpr(f):.4f} / {fpr(q):.4f} ({df:+.4f}) "
                f"| {f.f1:.4f} / {q.f1:.4f} |")
    quality_verdict = (f"Largest |change| in recall or FPR: {worst:.4f} (goal <= {QUALITY_GOAL}): "
                       + ("met." if worst <= QUALITY_GOAL else "not met."))
    return "\n".join([
        "## int8 weights: DeepLog speed, model sizes, verdicts on HDFS",
        "",
        f"Command: `{COMMAND}` ({seconds:.0f} s in all; {cpu}, one thread; speed: batch 1, {args.windows} "
        f"windows per round, median of {args.rounds} interleaved rounds on a shared machine; DeepLog window "
        f"{config.window}, embed {config.embed_dim}, hidden {config.hidden}, {config.layers} layers, "
        f"{bd.VOCAB} templates, as in the engine section). int8: `convert-onnx --quantize int8` "
        "(symmetric, per output channel, standard DequantizeLinear; python/alog_detect/export/quantize.py).",
        "",
        "| DeepLog windows per second | wall clock | CPU time | us per window (CPU) | vs onnxruntime, float file |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        verdict,
        "",
        "| model | float file bytes | int8 file bytes | smaller by | float arena | int8 arena |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *size_rows,
        "",
        size_verdict,
        "",
        "Verdicts on HDFS: the protocol of the `hdfs` section (`python -m alog_detect.bench.hdfs`: the "
        "same parts, splits, training settings and decision rule; full data, no reduced option). Every "
        "test window judged by the float model (PyTorch, as in that section) and by the engine running "
        "the int8 file (`onnx_runner`, what a device runs). Top-g agreement: windows whose top-g sets are "
        "equal; verdicts that differ: events of known templates in one top-g set but not the other. "
        "Recall, FPR and F1 at session level, float / int8 (change).",
        "",
        "| data | keys | g | windows | top-g sets equal | verdicts differ | recall | FPR | F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *quality_rows,
        "",
        quality_verdict,
    ])


def main(argv: list[str] | None = None) -> int:
    from alog_detect.models import DeepLogConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parts", default="100k,20k,deeplog", help="HDFS parts (bench.hdfs --parts)")
    parser.add_argument("--data", type=Path, default=hdfs.DEFAULT_DATA)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        deeplog, mscred = bd.export_models(tmp)
        files = dict(zip(("fp32", "int8"), aligned_files(deeplog, tmp)))
        mscred_files = aligned_files(mscred, tmp)
        edge_files = aligned_files(export_edge_mscred(tmp), tmp)
        runner = cbuild.build(tmp, "onnx_runner", [*cbuild.CORE_SOURCES, cbuild.RUNNER_SOURCE])
        rng = np.random.default_rng(0)
        windows = rng.integers(0, bd.VOCAB + 1, (args.windows, 1, 10), dtype=np.int64)
        rates = measure_speed(files, runner, windows, args.rounds, tmp)
        x = rng.random((1, 5, 3, bd.MSCRED_N, bd.MSCRED_N), dtype=np.float32)
        sizes = [Sizes(f"DeepLog of the speed table ({bd.VOCAB} templates)", files["fp32"].stat().st_size,
                       files["int8"].stat().st_size, arena(runner, files["fp32"], windows[0], tmp / "a1"),
                       arena(runner, files["int8"], windows[0], tmp / "a2")),
                 Sizes(f"MSCRED, the paper's channels 32,64,128,256 (n={bd.MSCRED_N}; the weights do not "
                       "depend on n, the arena does)",
                       mscred_files[0].stat().st_size, mscred_files[1].stat().st_size,
                       arena(runner, mscred_files[0], x, tmp / "a3"), arena(runner, mscred_files[1], x, tmp / "a4")),
                 Sizes(f"MSCRED, the default channels {','.join(map(str, EDGE_CHANNELS))} (n={bd.MSCRED_N})",
                       edge_files[0].stat().st_size, edge_files[1].stat().st_size,
                       arena(runner, edge_files[0], x, tmp / "a5"), arena(runner, edge_files[1], x, tmp / "a6"))]
        peak = bd.core_peak(tmp)
        parts = [measure_part(name, args.data, tmp / "hdfs", runner, {}) for name in args.parts.split(",")]
        sizes += [p.sizes for p in parts]
    body = report(args, rates, sizes, parts, peak, DeepLogConfig(vocab_size=bd.VOCAB), time.monotonic() - start)
    print(body)
    if not args.no_write:
        update_section(REPO / "docs" / "results.md", SECTION, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
