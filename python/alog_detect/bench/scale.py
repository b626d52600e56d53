"""Large inputs: each stage's lines/s and peak RSS at several sizes, and both ways of parsing.

For each line count N the built-in sample is generated and taken through the stages the way a
user runs them, each stage one `alog-detect` child process whose wall time and peak resident set
size (``ru_maxrss`` from ``os.wait4``) are measured:

    sample --lines N              the synthetic log
    parse                         Drain3 mines every line (the default)
    parse --mine-lines M          Drain3 mines the first M lines, match mode assigns every line
    build-deeplog                 (from the first parse) vocabulary and session sequences
    deeplog-train --epochs E      DeepLog on the sequences
    detect                        the reference detector over all N lines, the DeepLog checkpoint

The two parses are compared: the share of lines whose group (the set of lines with the same
template) is the same both ways, logparser's grouping accuracy with the full parse as the truth.
Their accuracy against ground truth comes from the 13 loghub 2k sets (raw lines with each set's
log format and logparser's per-dataset depth/st, as in the loghub section), parsed both ways
with the first ``--loghub-mine-lines`` lines mined.

Writes the ``scale`` section of docs/results.md. Defaults finish in about ten minutes on two
cores; ``--lines 5000000`` (or a list such as 200000,1000000,5000000) runs the full size.

    python -m alog_detect.bench.scale [--lines N,...] [--mine-lines M] [--epochs E]
        [--data DIR] [--work DIR] [--results PATH] [--no-write]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import UserError
from .results_md import update_section

REPO = Path(__file__).resolve().parents[3]
DEFAULT_RESULTS = REPO / "docs" / "results.md"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "loghub_2k_corrected"
SECTION = "scale"
COMMAND = "python -m alog_detect.bench.scale"
DEFAULT_LINES = (200_000, 1_000_000)
DEFAULT_MINE_LINES = 50_000
DEFAULT_EPOCHS = 3
LOGHUB_MINE_LINES = 200        # of 2,000 lines
STAGES = ("sample", "parse", "parse --mine-lines", "build-deeplog", "deeplog-train", "detect")


@dataclasses.dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_kb: int


@dataclasses.dataclass(frozen=True)
class SizeRow:
    lines: int
    stages: dict            # stage name -> Measured
    templates_all: int
    templates_sampled: int
    lines_mined: int        # lines Drain3 saw in the sampled parse
    agreement: float        # grouping accuracy of the sampled parse against the full one
    windows: int            # DeepLog's distinct training windows


# Linux counts in a child's ru_maxrss the resident memory of the process it was forked from (the
# high-water mark survives exec), so the stage is forked by this small launcher, not by the
# benchmark (which holds hundreds of MB by the time it measures the larger sizes).
_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{time.perf_counter() - start} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_measured(args: list, stdout=subprocess.DEVNULL) -> Measured:
    """Run one child process; its wall time and peak RSS. A failure is an error with its stderr."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "measured"
        subprocess.run([sys.executable, "-c", _LAUNCHER, report, *map(str, args)], stdout=stdout, stderr=err)
        seconds, peak_kb, code = report.read_text().split() if report.is_file() else ("0", "0", "-1")
        if int(code):
            err.seek(0)
            raise UserError(f"{' '.join(map(str, args[2:4]))} failed (exit {code}): "
                            f"{err.read().decode(errors='replace').strip()[-500:]}", None,
                            "run the command by hand to see why")
    return Measured(float(seconds), int(peak_kb))


def _cli(*args) -> list:
    return [sys.executable, "-m", "alog_detect", *args]


def _env_check() -> None:
    """The children import alog_detect from where this module was imported."""
    package_root = str(Path(__file__).resolve().parents[2])
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if package_root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in paths if p])


def group_agreement(truth_ids, predicted_ids) -> float:
    """logparser's grouping accuracy of `predicted_ids` with `truth_ids` as the groups, over
    integer arrays: a line counts when its two groups hold the same lines."""
    import numpy as np

    truth = np.unique(np.asarray(truth_ids), return_inverse=True)[1].reshape(-1)
    pred = np.unique(np.asarray(predicted_ids), return_inverse=True)[1].reshape(-1)
    if not len(truth):
        return 0.0
    pair = truth.astype(np.int64) * (int(pred.max()) + 1) + pred
    _, pair_inverse, pair_count = np.unique(pair, return_inverse=True, return_counts=True)
    same = (pair_count[pair_inverse.reshape(-1)] == np.bincount(truth)[truth]) & \
           (pair_count[pair_inverse.reshape(-1)] == np.bincount(pred)[pred])
    return float(same.mean())


def _template_ids(parquet: Path):
    import pyarrow.parquet as pq

    return pq.read_table(parquet, columns=["template_id"]).column("template_id").to_numpy()


def measure_size(lines: int, mine_lines: int, epochs: int, work: Path) -> SizeRow:
    import json

    from ..sample import HEADER_TOKENS, SESSION_PREFIX

    work.mkdir(parents=True, exist_ok=True)
    sample, full, sampled = work / "sample", work / "all" / "parsed.parquet", work / "mined" / "parsed.parquet"
    deeplog, models = work / "deeplog", work / "models"
    frontend = ["--session-key", f"prefix:{SESSION_PREFIX}", "--header-tokens", str(HEADER_TOKENS)]
    log = sample / "sample.log"
    stages = {}
    print(f"scale: {lines} lines", file=sys.stderr)
    stages["sample"] = run_measured(_cli("sample", "--out", sample, "--lines", lines))
    stages["parse"] = run_measured(_cli("parse", "--logs", log, "--out", full, *frontend))
    stages["parse --mine-lines"] = run_measured(_cli("parse", "--logs", log, "--out", sampled, *frontend,
                                                     "--mine-lines", mine_lines))
    stages["build-deeplog"] = run_measured(_cli("build-deeplog", "--parsed", full, "--out-dir", deeplog))
    stages["deeplog-train"] = run_measured(_cli("deeplog-train", "--seq", deeplog / "sequences.parquet",
                                                "--vocab", deeplog / "vocab.json", "--out", deeplog / "deeplog.pth",
                                                "--epochs", epochs, "--no-progress"))
    models.mkdir(exist_ok=True)
    for name in ("vocab.json", "frontend.json", "deeplog.pth"):
        shutil.copy(deeplog / name, models / name)
    stages["detect"] = run_measured(_cli("detect", "--models", models, "--logs", log, "--no-progress"))
    read = lambda p: json.loads(Path(p).read_text(encoding="utf-8"))  # noqa: E731
    full_json = read(full.with_name("parsed.templates.json"))
    sampled_json = read(sampled.with_name("parsed.templates.json"))
    checkpoint_windows = _distinct_windows(deeplog / "deeplog.pth")
    row = SizeRow(lines, stages, len(full_json["templates"]), len(sampled_json["templates"]),
                  sampled_json["mining"]["lines_mined"], group_agreement(_template_ids(full), _template_ids(sampled)),
                  checkpoint_windows)
    for path in (sample, full.parent, sampled.parent, deeplog, models):
        shutil.rmtree(path, ignore_errors=True)
    return row


def _distinct_windows(checkpoint: Path) -> int:
    import torch

    return int(torch.load(checkpoint, map_location="cpu", weights_only=False)["training"]["n_windows"])


# ---- accuracy on loghub 2k ----------------------------------------------------------------------

def loghub_accuracy(data: Path, mine_lines: int, work: Path) -> list[dict]:
    """Per loghub 2k set: grouping accuracy and templates of the raw lines with the set's log
    format, Drain3 over every line and over the first `mine_lines` (then match mode)."""
    from ..known_formats import LOGHUB_FORMATS
    from ..parse import ParseConfig, parse_logs
    from .loghub import (DEFAULT_SETTINGS, LOGPARSER_DRAIN_SETTINGS, RAW_DATA, _ground_truth, _parsed_groups,
                         grouping_accuracy)

    rows = []
    for structured in sorted(data.glob("*/*_structured_corrected.csv")):
        name = structured.parent.name
        raw = structured.parents[1].parent / RAW_DATA / name / f"{name}_2k.log"
        fmt = LOGHUB_FORMATS.get(name)
        if not raw.is_file() or not fmt:
            continue
        truth = _ground_truth(structured)
        ids = sorted(truth)
        depth, st = LOGPARSER_DRAIN_SETTINGS.get(name, DEFAULT_SETTINGS)
        row = {"dataset": name, "depth": depth, "st": st}
        for key, mine in (("all", 0), ("mined", mine_lines)):
            out = work / f"{name}-{key}.parquet"
            start = time.perf_counter()
            result = parse_logs(ParseConfig(logs=(str(raw),), out=out, depth=depth, sim_th=st, log_format=fmt,
                                            progress=False, mine_lines=mine))
            seconds = time.perf_counter() - start
            groups = _parsed_groups(result.parquet)
            row[key] = (grouping_accuracy([truth[i] for i in ids], [groups.get(i) for i in ids]),
                        result.num_templates, result.lines_mined, seconds)
        rows.append(row)
    return rows


# ---- the section --------------------------------------------------------------------------------

def _mb(kb: int) -> str:
    return f"{kb / 1024:,.0f}"


def format_markdown(sizes: list[SizeRow], accuracy: list[dict], mine_lines: int, epochs: int,
                    loghub_mine_lines: int, note: str = "") -> str:
    out = [
        "## Large inputs: lines/s and peak memory per stage (issue 12, item 5)",
        "",
        f"Produced by `{COMMAND} --lines {','.join(str(s.lines) for s in sizes)}` on "
        f"{os.cpu_count()} cores (Python {platform.python_version()}). Each stage is one `alog-detect` child "
        "process on the built-in sample of N lines (`--session-key prefix:ses_ --header-tokens 4`); lines/s is N "
        "over the child's wall time, peak RSS its `ru_maxrss` (the child forked by a small launcher, so that "
        "the benchmark's own memory is not counted). `parse` mines every line with Drain3; "
        f"`parse --mine-lines {mine_lines}` mines the first {mine_lines:,} lines and assigns every line by match "
        "mode (docs/matching.md 3.1). `build-deeplog` reads the first parse's output; `deeplog-train` runs "
        f"{epochs} epochs over the distinct windows; `detect` is the reference detector over all N lines with the "
        "DeepLog checkpoint (PyTorch, one thread), anomalies written to /dev/null. No stage holds every line: "
        "parse reads and writes row groups of 65,536 lines, build-deeplog reads batches of as many rows and "
        "keeps each session's keys and line numbers as compact arrays (12 bytes an event), `deeplog-train` "
        "keeps every session's key sequence and the distinct windows, detect keeps at most 65,536 sessions' "
        "windows, and `sample` writes the log as it simulates it (two passes over the same random numbers), "
        "keeping the sessions' ids and labels. What still grows with N is in the line under the table.",
        "",
        "| N | stage | lines/s | seconds | peak RSS (MB) |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for size in sizes:
        for stage in STAGES:
            m = size.stages[stage]
            out.append(f"| {size.lines:,} | {stage} | {size.lines / m.seconds:,.0f} | {m.seconds:,.1f} | "
                       f"{_mb(m.peak_rss_kb)} |")
    if len(sizes) > 1:
        low, high = sizes[0], sizes[-1]
        growth = ", ".join(f"{stage} {high.stages[stage].peak_rss_kb / low.stages[stage].peak_rss_kb:.1f}x"
                           for stage in STAGES)
        out += ["", f"Peak RSS at {high.lines:,} lines over peak RSS at {low.lines:,} "
                f"({high.lines / low.lines:.0f}x the lines): {growth}."]
    out += ["", "Both parses of the same N: templates, lines Drain3 saw, and how many lines are grouped alike "
            "(grouping accuracy of `--mine-lines` with the full parse as the truth).", "",
            "| N | templates, all lines mined | templates, first lines mined | lines Drain3 saw | groups alike | "
            "parse speed-up | DeepLog distinct windows |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in sizes:
        speedup = size.stages["parse"].seconds / size.stages["parse --mine-lines"].seconds
        out.append(f"| {size.lines:,} | {size.templates_all} | {size.templates_sampled} | {size.lines_mined:,} | "
                   f"{size.agreement:.4f} | {speedup:.2f}x | {size.windows:,} |")
    out += ["", f"Against ground truth: the loghub 2k sets (raw lines, each set's log format, logparser's "
            f"depth/st as in the loghub section), Drain3 over all 2,000 lines and over the first "
            f"{loghub_mine_lines} (`--mine-lines {loghub_mine_lines}`, then match mode). Grouping accuracy, "
            "templates in parentheses.", ""]
    if accuracy:
        out += ["| dataset | depth | st | all lines mined | first lines mined | lines Drain3 saw |",
                "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in accuracy:
            out.append(f"| {r['dataset']} | {r['depth']} | {r['st']} | {r['all'][0]:.3f} ({r['all'][1]}) | "
                       f"{r['mined'][0]:.3f} ({r['mined'][1]}) | {r['mined'][2]:,} |")
        mean = lambda key: sum(r[key][0] for r in accuracy) / len(accuracy)  # noqa: E731
        out.append(f"| **mean** | | | **{mean('all'):.3f}** | **{mean('mined'):.3f}** | |")
    else:
        out.append("(no loghub 2k data found: pass --data DIR)")
    if note:
        out += ["", note]
    return "\n".join(out) + "\n"


def run_benchmark(lines: tuple[int, ...], mine_lines: int, epochs: int, data: Path | None,
                  work: Path | None, loghub_mine_lines: int = LOGHUB_MINE_LINES) -> tuple[list[SizeRow], list[dict]]:
    _env_check()
    with tempfile.TemporaryDirectory(prefix="alog-scale-", dir=work) as tmp:
        sizes = [measure_size(n, mine_lines, epochs, Path(tmp) / str(n)) for n in lines]
        accuracy = (loghub_accuracy(data, loghub_mine_lines, Path(tmp) / "loghub")
                    if data is not None and data.is_dir() else [])
    return sizes, accuracy


def _positive_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part.replace("_", "")) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated line counts, got {text!r}") from None
    if not values or min(values) < 1000:
        raise argparse.ArgumentTypeError(f"line counts must be at least 1000 (the sample's minimum), got {text!r}")
    return values


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=_positive_list, default=DEFAULT_LINES, metavar="N,...",
                   help="sample sizes (default 200000,1000000; the full size: 5000000)")
    p.add_argument("--mine-lines", type=_positive, default=DEFAULT_MINE_LINES, metavar="M",
                   help=f"parse --mine-lines for the second parse (default {DEFAULT_MINE_LINES})")
    p.add_argument("--loghub-mine-lines", type=_positive, default=LOGHUB_MINE_LINES, metavar="M",
                   help=f"lines mined of each 2,000-line loghub set (default {LOGHUB_MINE_LINES})")
    p.add_argument("--epochs", type=_positive, default=DEFAULT_EPOCHS, help=f"deeplog-train epochs (default {DEFAULT_EPOCHS})")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="loghub_2k_corrected directory")
    p.add_argument("--work", type=Path, default=None, help="where the temporary files go (default: the system's)")
    p.add_argument("--note", default="", help="a sentence added under the tables")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    p.add_argument("--no-write", action="store_true", help="print the section only")
    args = p.parse_args(argv)
    try:
        sizes, accuracy = run_benchmark(args.lines, args.mine_lines, args.epochs, args.data, args.work,
                                        args.loghub_mine_lines)
    except UserError as exc:
        print(f"{COMMAND}: error: {exc.one_line()}", file=sys.stderr)
        return 2
    text = format_markdown(sizes, accuracy, args.mine_lines, args.epochs, args.loghub_mine_lines, args.note)
    print(text)
    if not args.no_write:
        update_section(args.results, SECTION, text)
        print(f"wrote the {SECTION} section of {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
