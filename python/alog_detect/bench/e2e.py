"""End to end: raw lines per second, `alog-engine` vs `alog-detect detect`, on HDFS_20k.

Both read the same raw file with the same model directory (session key ``prefix:blk_``, every
verdict printed) and must print identical verdict streams. The engine is the generic one of
``scons tools`` (built without a generated model header, so that it accepts the models trained
here; the bundle's binary is bound to the pipeline's own models); each command is run ``--repeat`` times
and its best wall-clock and CPU (user + system) times are kept. Two model directories: DeepLog
alone, and DeepLog + MSCRED, both trained here with the default architectures (few epochs: the
speed does not depend on how well they are trained). Then the engine with DeepLog alone at each
``--batch`` of ``--batches`` (windows missing the top-k cache run N at a time; the same verdicts,
checked): the figures its default batch is chosen from. Writes the ``e2e`` section of
docs/results.md.

    python -m alog_detect.bench.e2e [--engine PATH] [--data FILE] [--work-dir DIR] [--repeat N]
                                    [--epochs N] [--batches 1,8,...] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from .results_md import update_section
from .scons import HOST, scons

REPO = Path(__file__).resolve().parents[3]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "HDFS" / "HDFS_20k.log"
DEFAULT_WORK = REPO / "build" / "bench" / "e2e"
DEFAULT_RESULTS = REPO / "docs" / "results.md"
SECTION = "e2e"
COMMAND = "python -m alog_detect.bench.e2e"
SESSION_KEY = "prefix:blk_"
GOAL = 50.0
GOAL_WITH_MSCRED = 20.0  # issue 14: with the default, device-sized MSCRED
BATCHES = (1, 4, 16, 64, 256)


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds, best of the runs
    cpu: float   # user + system seconds of the child, best of the runs


def _alog(*args) -> None:
    proc = subprocess.run([sys.executable, "-m", "alog_detect", *map(str, args)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise UserError(f"alog-detect {args[0]} failed: {proc.stderr.strip()}", None,
                        "run the stage by hand to see why")


def build_engine() -> Path:
    """The generic alog-engine of `scons tools` (no model header, so it accepts the models trained
    here; the bundle's binary is bound to the pipeline's own models)."""
    scons(("tools",), "install gcc (apt-get install gcc), or pass --engine")
    return HOST / "tools" / "alog-engine"


def train_models(log: Path, work: Path, epochs: int) -> dict[str, Path]:
    """Model directories for the two configurations (reused when already there)."""
    both, deeplog_only = work / "models", work / "models_deeplog"
    if not (both / "mscred.onnx").is_file():
        parsed, dl, ms = work / "parsed.parquet", work / "deeplog_data", work / "mscred_data"
        _alog("parse", "--logs", log, "--out", parsed, "--session-key", SESSION_KEY)
        _alog("build-deeplog", "--parsed", parsed, "--out-dir", dl)
        _alog("deeplog-train", "--seq", dl / "sequences.parquet", "--vocab", dl / "vocab.json",
              "--out", work / "deeplog.pth", "--epochs", epochs, "--no-progress")
        _alog("build-mscred", "--parsed", parsed, "--out-dir", ms, "--vocab", dl / "vocab.json")
        _alog("mscred-train", "--data", ms, "--out", work / "mscred.pth", "--epochs", epochs,
              "--no-progress")
        _alog("convert-onnx", "--deeplog-model", work / "deeplog.pth", "--mscred-model",
              work / "mscred.pth", "--vocab", dl / "vocab.json", "--output-dir", both)
    if deeplog_only.exists():
        shutil.rmtree(deeplog_only)
    deeplog_only.mkdir()
    for name in ("vocab.json", "deeplog.onnx", "deeplog.onnx.meta.json"):
        shutil.copy2(both / name, deeplog_only / name)
    meta = json.loads((both / "mscred.onnx.meta.json").read_text())["mscred"]
    channels = ",".join(map(str, meta["channels"]))
    return {"DeepLog": deeplog_only, f"DeepLog + MSCRED (channels {channels}, n={meta['n']})": both}


def timed(cmd: list[str], repeat: int) -> tuple[Timing, bytes]:
    best_wall = best_cpu = float("inf")
    out = b""
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise UserError(f"{Path(cmd[0]).name} exited {proc.returncode}: "
                            f"{proc.stderr.decode(errors='replace').strip()}", None,
                            "run the command by hand to see why")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu, out = min(best_wall, wall), min(best_cpu, cpu), proc.stdout
    return Timing(best_wall, best_cpu), out


@dataclass(frozen=True)
class Row:
    models: str
    verdicts: int
    engine: Timing
    python: Timing
    engine_startup: Timing  # the same command on an empty input
    python_startup: Timing


def commands(engine: Path, models: Path, log: Path, batch: int | None = None) -> tuple[list[str], list[str]]:
    batched = ["--batch", str(batch)] if batch is not None else []
    return ([str(engine), "--models", str(models), "--session-key", SESSION_KEY, "--all", *batched, str(log)],
            [sys.executable, "-m", "alog_detect", "detect", "--models", str(models), "--logs", str(log),
             "--session-key", SESSION_KEY, "--all"])


def measure(name: str, engine: Path, models: Path, log: Path, empty: Path, repeat: int) -> tuple[Row, bytes]:
    engine_cmd, python_cmd = commands(engine, models, log)
    engine_time, engine_out = timed(engine_cmd, repeat)
    python_time, python_out = timed(python_cmd, repeat)
    if engine_out != python_out:
        raise UserError("alog-engine and alog-detect detect printed different verdicts", models,
                        "run tests/test_verdict_parity.py to find the first difference")
    engine_idle, python_idle = (timed(cmd, repeat)[0] for cmd in commands(engine, models, empty))
    return Row(name, engine_out.count(b"\n"), engine_time, python_time, engine_idle, python_idle), python_out


def model_windows(stream: bytes, window: int, pad: int, end_key: int) -> int:
    """Windows the engine's DeepLog runs on: the distinct windows judged in `stream` (the
    reference's verdicts), each the session's window (deeplog_rule.SessionWindow) when its key
    is judged; an END verdict (template `end_key`) closes the session. The top-k cache (16,384
    entries, more than these) answers every other verdict."""
    from ..deeplog_rule import SessionWindow

    sessions: dict[str, SessionWindow] = {}
    seen = set()
    for line in stream.splitlines():
        v = json.loads(line)
        if v["model"] != "deeplog" or v["template"] is None or v["template"] < 0:
            continue
        state = sessions.setdefault(v["session"], SessionWindow(window, pad))
        seen.add(tuple(state.current()))
        if v["template"] == end_key:
            del sessions[v["session"]]
        else:
            state.push(v["template"])
    return len(seen)


def measure_batches(engine: Path, models: Path, log: Path, expected: bytes, batches: tuple[int, ...],
                    repeat: int) -> list[tuple[int, Timing]]:
    """The engine at each --batch: (batch, best times), in interleaved rounds (each round runs
    every batch once, so a busy moment of the shared machine weighs on all of them); each run
    must print `expected` (the reference's stream)."""
    best = {b: Timing(float("inf"), float("inf")) for b in batches}
    for _ in range(repeat):
        for batch in batches:
            timing, out = timed(commands(engine, models, log, batch)[0], 1)
            if out != expected:
                raise UserError(f"alog-engine --batch {batch} printed other verdicts than alog-detect detect",
                                models, "run tests/test_verdict_parity.py -k batch to find the first difference")
            best[batch] = Timing(min(best[batch].wall, timing.wall), min(best[batch].cpu, timing.cpu))
    return [(b, best[b]) for b in batches]


def model_seconds_per_window(model: Path, window: int, vocab: int, batches: tuple[int, ...], work: Path,
                             repeat: int) -> dict[int, float]:
    """The DeepLog model alone (onnx_runner, alog_model_run in a loop): seconds per window at each
    batch, the best of `repeat` interleaved rounds of ~20,000 windows each."""
    from ..export.engine_runner import run_model

    runner = HOST / "tools" / "onnx_runner"
    rng = np.random.default_rng(0)
    best = {b: float("inf") for b in batches}
    for _ in range(repeat):
        for batch in batches:
            keys = rng.integers(0, vocab, size=(batch, window)).astype(np.int64)
            run = run_model(runner, model, [keys], work / "runner", batch=batch, repeat=max(1, 20000 // batch))
            if run.returncode != 0:
                raise UserError(f"onnx_runner failed on {model.name}: {run.stderr.strip()}", model,
                                "run `scons tools` and retry")
            best[batch] = min(best[batch], run.seconds_per_run / batch)
    return best


@dataclass(frozen=True)
class Bounds:
    """Where the engine's CPU time goes, from the figures measured here."""
    windows: int            # DeepLog windows the model runs (distinct windows of the stream)
    window_seconds: float   # the DeepLog model alone, per window at batch 1
    best_window_seconds: float  # ... at the cheapest batch measured
    mscred_inputs: int      # MSCRED verdicts: one model run each


def render_bounds(rows: list[Row], b: Bounds, lines: int) -> str:
    deeplog, both = rows[0], rows[1]
    model = b.windows * b.window_seconds
    rest = deeplog.engine.cpu - deeplog.engine_startup.cpu - model
    mscred = both.engine.cpu - deeplog.engine.cpu  # its model runs, signature matrices, start-up
    need_50 = deeplog.python.cpu / GOAL
    need_20 = both.python.cpu / GOAL_WITH_MSCRED
    return "\n".join([
        "", "What bounds it (from the figures above, and DeepLog alone in onnx_runner below): with "
        f"DeepLog the engine spent {deeplog.engine.cpu * 1e3:.1f} ms of CPU: start-up "
        f"{deeplog.engine_startup.cpu * 1e3:.1f} ms; the model {b.windows:,} windows x "
        f"{b.window_seconds * 1e6:.1f} us = {model * 1e3:.1f} ms; the rest (reading, matching, "
        f"sessions, the top-k cache, writing {deeplog.verdicts:,} verdicts) about {rest * 1e3:.1f} ms, "
        f"{rest / lines * 1e9:.0f} ns a line. 1,000,000 lines/s means {lines / 1e6 * 1e3:.0f} ms for "
        f"these {lines:,} lines, and {GOAL:.0f}x alog-detect detect means {need_50 * 1e3:.1f} ms; "
        f"the model alone needs {model * 1e3:.1f} ms at batch 1 and {b.windows * b.best_window_seconds * 1e3:.1f} ms "
        f"at the cheapest batch measured, which leaves {(lines / 1e6 - model) * 1e3:.1f} ms and "
        f"{(need_50 - model) * 1e3:.1f} ms for everything else. With MSCRED the engine spent "
        f"{mscred * 1e3:.1f} ms more (its {b.mscred_inputs:,} inputs, {mscred / max(b.mscred_inputs, 1) * 1e3:.2f} ms "
        f"each with their signature matrices) of {both.engine.cpu * 1e3:.1f} ms; "
        f"{GOAL_WITH_MSCRED:.0f}x alog-detect detect means "
        f"{need_20 * 1e3:.1f} ms in all, so MSCRED's convolutions (the same multiply-adds in the "
        "same order on every target) bound that goal, not the front end."])


def render_batches(rows: list[tuple[int, Timing]], per_window: dict[int, float], lines: int, verdicts: int,
                   windows: int) -> str:
    base = rows[0][1] if rows else None
    out = ["", f"#### alog-engine --batch N, DeepLog alone ({lines} lines)", "",
           "Windows missing the top-k cache are held back and run N at a time (the same verdicts, "
           "checked against alog-detect detect on every run). Interleaved rounds, best of each; CPU "
           "relative to the first row. The held windows run when N are held, when 32 N + 16 "
           "verdicts wait behind them, before a read that may wait (never on a file) and at the end "
           "(all N rows of the model, used or not). Model alone: `alog_model_run` at batch N in "
           "onnx_runner, per window. "
           f"Of the {verdicts:,} verdicts, {windows:,} need the model (distinct windows); the top-k "
           "cache answers the rest.", "",
           "| --batch | lines/s CPU / wall | CPU s | CPU vs first row | model alone, us per window |",
           "| ---: | ---: | ---: | ---: | ---: |"]
    for batch, t in rows:
        out.append(f"| {batch} | {_rate(lines, t.cpu)} / {_rate(lines, t.wall)} | {t.cpu:.3f} | "
                   f"{_ratio(t.cpu, base.cpu)} | {per_window[batch] * 1e6:.1f} |")
    return "\n".join(out)


def _rate(lines: int, seconds: float) -> str:
    return f"{lines / seconds:,.0f}" if seconds > 0 else "n/a"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3g}x" if b > 0 else "n/a"


def render(rows: list[Row], lines: int, log: Path, repeat: int) -> str:
    out = [f"### End to end: raw lines per second on {log.name} ({lines} lines)", "",
           f"Command: `{COMMAND}`. Session key `{SESSION_KEY}`, every verdict printed (`--all`); "
           f"both print identical verdict streams (checked on every run). Best of {repeat} runs; "
           "CPU = user + system time of the process, wall = elapsed (the machine is shared, so "
           "CPU is the steadier figure). Start-up = the same command on an empty input (loading "
           "the models, and for Python its imports); steady = lines / (CPU - start-up CPU). "
           f"Goal: alog-engine >= {GOAL:.0f}x alog-detect detect with DeepLog, >= "
           f"{GOAL_WITH_MSCRED:.0f}x with DeepLog + the default MSCRED. Models: `mscred-train` and "
           "`deeplog-train` defaults, a few epochs (speed does not depend on training).", "",
           "| models | verdicts | alog-engine lines/s CPU / wall / steady | alog-detect detect "
           "lines/s CPU / wall / steady | start-up CPU s (engine / detect) | speed-up CPU / wall "
           "/ steady |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        e_steady, p_steady = r.engine.cpu - r.engine_startup.cpu, r.python.cpu - r.python_startup.cpu
        out.append(f"| {r.models} | {r.verdicts} | {_rate(lines, r.engine.cpu)} / "
                   f"{_rate(lines, r.engine.wall)} / {_rate(lines, e_steady)} | "
                   f"{_rate(lines, r.python.cpu)} / {_rate(lines, r.python.wall)} / "
                   f"{_rate(lines, p_steady)} | {r.engine_startup.cpu:.3f} / "
                   f"{r.python_startup.cpu:.3f} | {_ratio(r.python.cpu, r.engine.cpu)} / "
                   f"{_ratio(r.python.wall, r.engine.wall)} / {_ratio(p_steady, e_steady)} |")
    out += ["", f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; alog-detect detect runs onnxruntime on one thread, in "
            "batches per input chunk; alog-engine runs the windows its per-window top-k cache "
            "misses at its default --batch (below)."]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m alog_detect.bench.e2e", description=__doc__.split("\n")[0])
    p.add_argument("--engine", type=Path, help="an alog-engine built without a model header "
                   "(default: compile one into the work directory)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="raw log (HDFS_20k.log)")
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batches", type=lambda text: tuple(int(b) for b in text.split(",")), default=BATCHES,
                   help="the engine's --batch values measured with DeepLog alone (comma-separated)")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    p.add_argument("--no-write", action="store_true", help="print the table only")
    args = p.parse_args(argv)
    try:
        if not args.data.is_file():
            raise UserError("raw log not found", args.data, "pass --data HDFS_20k.log")
        args.work_dir.mkdir(parents=True, exist_ok=True)
        engine = args.engine or build_engine()
        lines = args.data.read_bytes().count(b"\n")
        empty = args.work_dir / "empty.log"
        empty.write_bytes(b"")
        model_dirs = train_models(args.data, args.work_dir, args.epochs)
        measured = [measure(name, engine, models, args.data, empty, args.repeat)
                    for name, models in model_dirs.items()]
        rows = [row for row, _ in measured]
        deeplog = model_dirs["DeepLog"]
        meta = json.loads((deeplog / "deeplog.onnx.meta.json").read_text())["deeplog"]
        batches = measure_batches(engine, deeplog, args.data, measured[0][1], args.batches, args.repeat)
        per_window = model_seconds_per_window(deeplog / "deeplog.onnx", meta["seq_len"], meta["vocab_size"],
                                              args.batches, args.work_dir, args.repeat)
        windows = model_windows(measured[0][1], meta["seq_len"], meta["pad_index"], meta["vocab_size"])
        bounds = Bounds(windows, per_window[batches[0][0]], min(per_window.values()),
                        measured[1][1].count(b'"model":"mscred"'))
        table = (render(rows, lines, args.data, args.repeat) + "\n" + render_bounds(rows, bounds, lines) + "\n"
                 + render_batches(batches, per_window, lines, rows[0].verdicts, windows))
        print(table)
        if not args.no_write:
            update_section(args.results, SECTION, table)
    except UserError as exc:
        print(f"e2e: error: {exc.one_line()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
