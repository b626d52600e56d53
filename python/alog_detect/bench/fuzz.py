"""Fuzzing the C engine with libFuzzer: the model reader (fuzz_model), the line front end (fuzz_match)
and batching in the detector (fuzz_detector).

Builds the harnesses through SCons (`scons -Q fuzz fuzz=1`: clang, ASan + UBSan, docs/build.md),
seeds a corpus for each, runs each for ``--seconds`` (``-max_total_time``) one after the other, and
reports libFuzzer's final statistics: executions, exec/s, coverage (``cov:`` edges, ``ft:``
features), corpus size, new units and crashes. Every run happens in a temporary working directory:
what libFuzzer writes (the grown corpus, crash-*/leak-*/timeout-* inputs) never lands in the
checkout; crash inputs are copied to a directory outside it, whose path is printed. Writes the
``fuzz`` section of docs/results.md.

    python -m alog_detect.bench.fuzz [--seconds N] [--harness NAME]... [--results FILE] [--no-write]

Seeds: for fuzz_model, small valid .onnx files exported from tiny DeepLog and MSCRED models by the
export pipeline's own functions, float and quantized (int8 weights behind DequantizeLinear), plus
prefixes of each (truncation is the commonest corruption), and quantized models broken in each way
the engine refuses (``--write-seeds DIR`` writes the quantized ones; cengine/fuzz/seeds/model/);
for fuzz_match, inputs in the harness's format (cengine/fuzz/fuzz_match.c: one byte of mask rules
and header tokens, '\\n'-terminated templates, an empty line, then one raw line); for fuzz_detector,
operation strings in its format (cengine/fuzz/fuzz_detector.c: two bytes of settings, then one
byte per event, close or pause) covering each batch, both rules, the timeouts and evictions.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import UserError
from .results_md import update_section
from .scons import HOST, scons

REPO = Path(__file__).resolve().parents[3]
FUZZ_DIR = HOST / "fuzz"
SEEDS_DIR = REPO / "cengine" / "fuzz" / "seeds" / "model"
SCONS_WORDS = ("fuzz", "fuzz=1")
DEFAULT_RESULTS = REPO / "docs" / "results.md"
SECTION = "fuzz"
DEFAULT_SECONDS = 300
SEED = 1             # libFuzzer's -seed: the same run mutates the same way
UNIT_TIMEOUT = 10    # seconds one input may take before libFuzzer reports a hang
ARTIFACT_KINDS = ("crash-", "leak-", "timeout-", "oom-")


# ---- seeds ----------------------------------------------------------------------------------

def _tiny_models() -> dict[str, tuple[object, object, str, str]]:
    """name -> (module, example input, input name, output name). Small enough that each file fits
    -max_len and its arena fits the harness's limit (model_check.h), so mutations reach the planner
    and the runtime rather than stopping at "capacity exceeded"."""
    import torch

    from ..models import MSCRED, DeepLog, DeepLogConfig, MSCREDConfig

    torch.manual_seed(0)
    deeplog = DeepLogConfig(vocab_size=20, window=10, embed_dim=8, hidden=16, layers=2, top_k=5)
    shallow = DeepLogConfig(vocab_size=6, window=4, embed_dim=4, hidden=8, layers=1, top_k=2)
    mscred = MSCREDConfig(n=8, scales=2, steps=2, channels=(2, 3, 4, 4))
    return {
        "deeplog": (DeepLog(deeplog), torch.zeros(1, deeplog.window, dtype=torch.long), "keys", "logits"),
        "deeplog_1layer": (DeepLog(shallow), torch.zeros(1, shallow.window, dtype=torch.long), "keys", "logits"),
        "mscred": (MSCRED(mscred), torch.zeros(1, mscred.steps, mscred.scales, mscred.n, mscred.n), "x", "recon"),
    }


def export_seed_models(out: Path) -> list[Path]:
    """Tiny models exported as convert-onnx exports them (legacy exporter, opset 17, simplified)."""
    import onnx

    from ..export.config import DEFAULT_OPSET
    from ..export.exporters import GraphSignature, export_graph, installed_exporters
    from ..export.portable import simplify

    exporters = installed_exporters()
    paths = []
    for name, (module, example, input_name, output_name) in _tiny_models().items():
        path = out / f"{name}.onnx"
        export_graph(module.eval(), example, path, GraphSignature(input_name, output_name),
                     exporters.choose(), DEFAULT_OPSET, exporters)
        onnx.save(simplify(onnx.load(str(path)), path), str(path))
        paths.append(path)
    return paths


def _break_int8(model, how: str):
    """A copy of a quantized model with its first DequantizeLinear's weights broken `how`."""
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    node = next(n for n in model.graph.node if n.op_type == "DequantizeLinear")
    inits = {t.name: t for t in model.graph.initializer}
    weights, scales = inits[node.input[0]], inits[node.input[1]]
    scale = numpy_helper.to_array(scales).copy()
    if how in ("zero_scale", "negative_scale", "nan_scale", "infinite_scale"):
        scale[-1] = {"zero_scale": 0.0, "negative_scale": -scale[-1], "nan_scale": np.nan,
                     "infinite_scale": np.inf}[how]
    elif how == "scales_too_few":
        scale = scale[:-1]
    if how == "int8_bytes_short":
        weights.raw_data = weights.raw_data[:-1]
    elif how == "nonzero_zero_point":
        zero = np.zeros(scale.shape, np.int8)
        zero[-1] = 1
        model.graph.initializer.append(numpy_helper.from_array(zero, node.input[1] + "_zero_point"))
        node.input.append(node.input[1] + "_zero_point")
    scales.CopyFrom(numpy_helper.from_array(scale.astype(np.float32), scales.name))
    return model


# Quantized models (convert-onnx --quantize int8) with bad weights, which the engine refuses at load.
BROKEN_INT8 = ("zero_scale", "negative_scale", "nan_scale", "infinite_scale", "scales_too_few",
               "int8_bytes_short", "nonzero_zero_point")


def int8_seed_models(out: Path, float_models: list[Path]) -> list[Path]:
    """Each tiny model with int8 weights behind DequantizeLinear (the export's own quantizer), and
    the first one broken in each way of BROKEN_INT8."""
    import onnx

    from ..export.portable import serialize_aligned
    from ..export.quantize import quantize_weights

    paths = []
    for path in float_models:
        model, _ = quantize_weights(onnx.load(str(path)))
        paths.append(out / f"{path.stem}_int8.onnx")
        paths[-1].write_bytes(serialize_aligned(model, paths[-1]))
    first, _ = quantize_weights(onnx.load(str(float_models[0])))
    for how in BROKEN_INT8:
        paths.append(out / f"{float_models[0].stem}_int8_{how}.onnx")
        paths[-1].write_bytes(_break_int8(first, how).SerializeToString())
    return paths


def write_int8_seeds(out: Path) -> list[Path]:
    """The int8 seeds, written into `out` (cengine/fuzz/seeds/model/ holds them for the tests and
    for libFuzzer runs by hand)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        float_models = export_seed_models(Path(work))
        return int8_seed_models(out, float_models)


def model_seeds(corpus: Path) -> list[Path]:
    """Each tiny model and four of its prefixes (a quarter, a half, three quarters, all but a byte),
    float and with int8 weights, and int8 models broken in each way the engine refuses."""
    seeds = []
    float_models = export_seed_models(corpus)
    int8_models = int8_seed_models(corpus, float_models)
    seeds += int8_models[len(float_models):]
    for model in float_models + int8_models[:len(float_models)]:
        data = model.read_bytes()
        seeds.append(model)
        for cut in sorted({len(data) // 4, len(data) // 2, 3 * len(data) // 4, len(data) - 1}):
            prefix = corpus / f"{model.stem}.prefix{cut}.onnx"
            prefix.write_bytes(data[:cut])
            seeds.append(prefix)
    return seeds


# Bits of the first byte (cengine/src/match/match.h ALOG_MASK_*, docs/matching.md's rule order).
MASK_BITS = {"uuid": 1, "ip": 2, "hex": 4, "num": 8, "path": 16}
ALL_RULES = tuple(MASK_BITS)


@dataclass(frozen=True)
class MatchSeed:
    name: str
    rules: tuple[str, ...]
    header_tokens: int       # 0..7: the harness keeps three bits for it
    templates: tuple[bytes, ...]
    line: bytes
    expected: int            # the template the Python reference picks (-1: unmatched)
    # (log format, session rule, timestamp, timestamp format): the harness's settings line
    settings: tuple[str, str, str, str] | None = None

    def encode(self) -> bytes:
        first = sum(MASK_BITS[r] for r in self.rules) | (self.header_tokens << 5)
        settings = b"" if self.settings is None else (
            b"\x01" + b"\x1f".join(s.encode() for s in self.settings) + b"\n")
        return bytes([first]) + b"".join(t + b"\n" for t in self.templates) + b"\n" + settings + self.line


MATCH_SEEDS = (
    MatchSeed("hdfs", ALL_RULES, 5,
              (b"Receiving block blk_<NUM> src: /<IP> dest: /<IP>",
               b"PacketResponder <NUM> for block blk_<NUM> terminating", b"<*> for block <*> <*>"),
              b"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
              b"blk_-1608999687919862906 terminating", 1),
    MatchSeed("sshd", ALL_RULES, 5,
              (b"ses_<NUM> Accepted password for <*> from <IP> port <NUM> ssh2", b"ses_<NUM> Connection closed"),
              b"Jan 1 00:00:01 host1 sshd[123]: ses_42 Accepted password for alice from 10.1.2.3 port 22 ssh2", 0),
    MatchSeed("uuid_hex_path", ("uuid", "hex", "path"), 0,
              (b"job <HEX> wrote <HEX> to <PATH>", b"job <*> failed"),
              b"job 123e4567-e89b-12d3-a456-426614174000 wrote 0xdeadBEEF to /var/log/app.log", 0),
    MatchSeed("unmatched_binary", (), 2, (b"open <*>", b"close <*>"),
              b"\x00\x01 \xff\xfe open \xc3\x28 file\x00name \r", -1),
    MatchSeed("no_templates", ALL_RULES, 0, (), b"2024-01-01T00:00:00Z blk_7 10.0.0.1:80 -12.5 0x1F", -1),
    MatchSeed("hdfs_format", ALL_RULES, 0,
              (b"PacketResponder <NUM> for block blk_<NUM> terminating",),
              b"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
              b"blk_-1608999687919862906 terminating", 0,
              ("<Date> <Time> <Pid> <Level> <Component>: <Content>", "field:Pid", "<Date> <Time>",
               "%y%m%d %H%M%S")),
    MatchSeed("mac_format_group", ALL_RULES, 0, (b"Thermal pressure state: <NUM>",),
              b"Jul  1 09:01:05 calvisitor-10 com.apple.CDScheduler[43] (0x1): Thermal pressure state: 1", 0,
              (r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>", "field:<PID>",
               "<Month> <Date> <Time>", "%b %d %H:%M:%S")),
)


def match_seeds(corpus: Path) -> list[Path]:
    paths = []
    for seed in MATCH_SEEDS:
        path = corpus / f"{seed.name}.in"
        path.write_bytes(seed.encode())
        paths.append(path)
    return paths


def detector_seeds(corpus: Path) -> list[Path]:
    """fuzz_detector inputs: byte 0 the batch (2 + low 3 bits mod 7) and the rule (top bit), byte
    1 the sessions kept (low 3 bits + 1), no cache (8), a timeout in lines (16) or seconds (32); then
    one operation a byte: low 4 bits 0 close, 1 pause, else an event of key (bits mod 5) - 1, bit 4
    its time, top 3 bits the session."""
    course = bytes([0x03, 0x24, 0x45, 0x06, 0x27, 0x48, 0x09, 0x2a, 0x4b, 0x0c])  # keys 0,1,2,3 per session
    seeds = {
        "batch2_topk": bytes([0x00, 0x07]) + course * 4,
        "batch8_probability": bytes([0x86, 0x07]) + course * 4 + bytes([0x01, 0x20]),
        "evictions_no_cache": bytes([0x03, 0x08]) + bytes(range(2, 250, 7)),
        "timeout_lines_pauses": bytes([0x05, 0x93]) + (course + bytes([0x01])) * 3,
        "timeout_seconds_closes": bytes([0x84, 0x23]) + (course + bytes([0x00, 0x40])) * 3,
    }
    paths = []
    for name, data in seeds.items():
        path = corpus / f"{name}.in"
        path.write_bytes(data)
        paths.append(path)
    return paths


@dataclass(frozen=True)
class Harness:
    name: str
    what: str
    max_len: int                              # libFuzzer -max_len (bytes)
    seeds: Callable[[Path], list[Path]]       # writes the seed corpus into a directory


HARNESSES = (
    Harness("fuzz_model", "model reader, planner, runtime on every input that loads", 65536, model_seeds),
    Harness("fuzz_match", "line front end: matcher, session key, timestamp, header, masking", 4096, match_seeds),
    Harness("fuzz_detector", "batching: a detector holding windows N at a time against one at a time "
            "(events, closes, pauses, timeouts, evictions, both rules)", 256, detector_seeds),
)


# ---- build and run --------------------------------------------------------------------------

def build_harnesses(names: list[str]) -> dict[str, Path]:
    scons(SCONS_WORDS, "install clang (libFuzzer ships with it) and build for target=host")
    built = {name: FUZZ_DIR / name for name in names}
    missing = [str(p) for p in built.values() if not p.is_file()]
    if missing:
        raise UserError(f"scons built no {', '.join(missing)}", REPO / "cengine" / "fuzz",
                        "each harness is cengine/fuzz/<name>.c (docs/build.md)")
    return built


@dataclass(frozen=True)
class FuzzStats:
    harness: str
    seeds: int
    seconds: float          # wall clock of the whole run
    executions: int
    exec_per_sec: int
    cov: int                # covered edges (libFuzzer's cov:)
    ft: int                 # features: edges with hit-count buckets (ft:)
    corpus_units: int
    corpus_size: str        # as libFuzzer prints it (b/Kb/Mb, rounded)
    new_units: int
    peak_rss_mb: int
    crashes: tuple[str, ...]  # the artifacts libFuzzer wrote (it stops at the first)
    summary: str            # the sanitizer's first report line when it crashed


_STAT = re.compile(r"^stat::(\w+):\s+(\d+)\s*$", re.M)
_STATUS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/(\d+(?:b|Kb|Mb))\b", re.M)


def parse_stats(harness: str, seeds: int, seconds: float, log: str, crashes: tuple[str, ...]) -> FuzzStats:
    """libFuzzer's output (-print_final_stats=1): the stat:: block and its last status line."""
    stats = {k: int(v) for k, v in _STAT.findall(log)}
    status = _STATUS.findall(log)
    if "number_of_executed_units" not in stats or not status:
        tail = "\n".join(log.strip().splitlines()[-5:])
        raise UserError(f"{harness}: no libFuzzer statistics in its output (last lines: {tail})", None,
                        "run the harness by hand to see why")
    _, cov, ft, units, size = status[-1]
    return FuzzStats(harness, seeds, seconds, stats["number_of_executed_units"], stats["average_exec_per_sec"],
                     int(cov), int(ft), int(units), size, stats.get("new_units_added", 0),
                     stats.get("peak_rss_mb", 0), crashes, _first_report(log))


def _first_report(log: str) -> str:
    """The first line about a failure: UBSan's "file:line:col: runtime error: ...", or
    "==pid==ERROR: AddressSanitizer/LeakSanitizer: ..." or "==pid== ERROR: libFuzzer: ..." (timeouts)."""
    for line in log.splitlines():
        if "runtime error: " in line or "ERROR: " in line:
            return re.sub(r"^==\d+== ?", "", line).strip()
    return ""


def run_harness(harness: Harness, binary: Path, seconds: int, work: Path) -> FuzzStats:
    """Seeds ``work/corpus`` and fuzzes for ``seconds`` with ``work`` as the working directory."""
    corpus, artifacts = work / "corpus", work / "artifacts"
    corpus.mkdir(parents=True)
    artifacts.mkdir()
    seeds = harness.seeds(corpus)
    cmd = [str(binary), str(corpus), f"-max_total_time={seconds}", f"-seed={SEED}", f"-max_len={harness.max_len}",
           f"-timeout={UNIT_TIMEOUT}", "-print_final_stats=1", f"-artifact_prefix={artifacts}/"]
    start = time.monotonic()
    with open(work / "libfuzzer.log", "w+") as log:
        # A crash ends the run early; a generous margin covers a slow shared machine.
        subprocess.run(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 600)
        log.seek(0)
        text = log.read()
    crashes = tuple(sorted(p.name for p in artifacts.iterdir() if p.name.startswith(ARTIFACT_KINDS)))
    return parse_stats(harness.name, len(seeds), time.monotonic() - start, text, crashes)


def keep_crashes(work: Path, stats: FuzzStats) -> Path | None:
    """Copies crash inputs out of the temporary directory (never into the checkout)."""
    if not stats.crashes:
        return None
    keep = Path(tempfile.mkdtemp(prefix=f"alog-{stats.harness}-crashes-"))
    for name in stats.crashes:
        shutil.copy2(work / "artifacts" / name, keep / name)
    return keep


# ---- report ---------------------------------------------------------------------------------

HEADER = ("| harness | what it exercises | seeds | seconds | executions | exec/s | cov | ft | corpus (files / size) "
          "| new units | peak RSS MB | crashes |\n"
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")


def table(stats: list[FuzzStats]) -> str:
    what = {h.name: h.what for h in HARNESSES}
    rows = [f"| `{s.harness}` | {what.get(s.harness, '')} | {s.seeds} | {s.seconds:.0f} | {s.executions:,} | "
            f"{s.exec_per_sec:,} | {s.cov:,} | {s.ft:,} | {s.corpus_units:,} / {s.corpus_size} | {s.new_units:,} | "
            f"{s.peak_rss_mb} | {len(s.crashes)} |" for s in stats]
    return "\n".join([HEADER, *rows])


def command_line(seconds: int, names: list[str]) -> str:
    niceness = os.nice(0)  # reports the current niceness: the figures depend on it on a shared machine
    words = ([f"nice -n {niceness}"] if niceness else []) + ["python -m alog_detect.bench.fuzz", f"--seconds {seconds}"]
    if [h.name for h in HARNESSES] != names:
        words += [f"--harness {n}" for n in names]
    return " ".join(words)


def clang_version() -> str:
    proc = subprocess.run(["clang", "--version"], capture_output=True, text=True)
    return proc.stdout.splitlines()[0].strip() if proc.returncode == 0 and proc.stdout else "clang (version unknown)"


def section(stats: list[FuzzStats], command: str) -> str:
    crashed = [s for s in stats if s.crashes]
    verdict = ("No crash, sanitizer report or hang." if not crashed else
               "Crashes: " + "; ".join(f"`{s.harness}` after {s.seconds:.0f} s: {s.summary or ', '.join(s.crashes)}"
                                       for s in crashed) + " (the script prints where it kept each crash input).")
    return "\n".join([
        "## C engine: fuzzing (libFuzzer)",
        "",
        f"Command: `{command}` ({clang_version()}, libFuzzer with ASan + UBSan, {platform.machine()}, "
        f"harnesses one after the other on a shared machine; libFuzzer flags `-seed={SEED} "
        f"-timeout={UNIT_TIMEOUT} -max_len=<per harness> -print_final_stats=1`).",
        "",
        "Seeds: `fuzz_model` gets tiny DeepLog (2 layers and 1 layer) and MSCRED models exported like "
        "`convert-onnx` exports them, float and with int8 weights (`--quantize int8`), plus four "
        "prefixes of each, and int8 models broken in each way the engine refuses at load (scales "
        "zero, negative, NaN, infinite or too few, int8 bytes short, a zero point); `fuzz_match` gets template/line inputs "
        "(HDFS and sshd lines with their headers, UUID/hex/path masking, invalid UTF-8 with NUL bytes, no "
        "templates); `fuzz_detector` gets operation strings (each batch from 2 to 8, both rules, "
        "timeouts in lines and seconds, evictions without the cache) and traps when the batched "
        "detector's verdicts differ from the one-window-at-a-time detector's. `cov` counts covered edges, `ft` libFuzzer's features (edges with hit counts); "
        "corpus is the final in-memory corpus. libFuzzer stops at its first crash, so a crash count "
        "is 0 or 1 per run.",
        "",
        table(stats),
        "",
        verdict,
    ])


def fuzz(seconds: int, names: list[str], say: Callable[[str], None] = print) -> list[FuzzStats]:
    chosen = [h for h in HARNESSES if h.name in names]
    binaries = build_harnesses([h.name for h in chosen])
    results = []
    for harness in chosen:
        say(f"{harness.name}: fuzzing for {seconds} s ...")
        with tempfile.TemporaryDirectory(prefix=f"alog-{harness.name}-") as work:
            stats = run_harness(harness, binaries[harness.name], seconds, Path(work))
            kept = keep_crashes(Path(work), stats)
        if kept:
            say(f"{harness.name}: CRASH ({stats.summary or 'see the inputs'}); inputs kept in {kept} "
                f"(reproduce: {binaries[harness.name]} {kept}/{stats.crashes[0]})")
        results.append(stats)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alog_detect.bench.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=DEFAULT_SECONDS, help="libFuzzer time per harness")
    parser.add_argument("--harness", action="append", choices=[h.name for h in HARNESSES],
                        help="run only this harness (repeatable; default: all)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="results file to update")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--write-seeds", type=Path, metavar="DIR",
                        help="write the int8 model seeds (good and broken) into DIR and exit "
                             f"(the repository keeps them in {SEEDS_DIR.relative_to(REPO)})")
    args = parser.parse_args(argv)
    if args.write_seeds:
        for path in write_int8_seeds(args.write_seeds):
            print(f"wrote {path}")
        return 0
    if args.seconds < 1:
        parser.error("--seconds must be >= 1")
    names = args.harness or [h.name for h in HARNESSES]
    try:
        stats = fuzz(args.seconds, names)
    except UserError as exc:
        print(f"fuzz: error: {exc.one_line()}", file=sys.stderr)
        return 2
    body = section(stats, command_line(args.seconds, names))
    print(table(stats))
    if not args.no_write:
        print(f"wrote the {SECTION} section of {update_section(args.results, SECTION, body)}")
    return 1 if any(s.crashes for s in stats) else 0


if __name__ == "__main__":
    sys.exit(main())
