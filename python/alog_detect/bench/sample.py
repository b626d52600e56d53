"""Detection quality of the default pipeline on the built-in sample, rebuilt from the repo alone.

Generates the sample as SCons does (60,000 lines, seed 1), then runs the stages SCons runs, with
its defaults (site_scons/alog_options.py) and through the same library functions, in a temporary
directory: parse -> build-deeplog -> build-mscred. Then:

1. DeepLog, for each (top_k, epochs) setting: deeplog-train -> convert-onnx (DeepLog only) ->
   the reference detector over sample.log -> session-level metrics against sample_labels.csv.
2. MSCRED with the SCons defaults, at the default (device-sized) channels and at the paper's:
   mscred-train -> convert-onnx (MSCRED only) -> the detector -> window-level metrics against
   sample_windows.csv, as ``alog-detect evaluate --labels sample_windows.csv --model mscred``
   computes them, and the exported file's size.

Writes the ``sample`` section of docs/results.md.

    python -m alog_detect.bench.sample [--lines N] [--settings K:E,...] [--results PATH] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..evaluate import Confusion
from .results_md import update_section

REPO = Path(__file__).resolve().parents[3]
DEFAULT_RESULTS = REPO / "docs" / "results.md"
SECTION = "sample"
COMMAND = "python -m alog_detect.bench.sample"
# (top_k, epochs): around the SCons defaults (5, 30), and the paper's top-k 9.
DEFAULT_SETTINGS = ((9, 3), (9, 30), (5, 15), (5, 30), (5, 50), (6, 30), (4, 30), (3, 30))


def scons_defaults() -> dict:
    """The build's defaults, read from site_scons/alog_options.py so the two cannot drift apart."""
    site = str(REPO / "site_scons")
    sys.path.insert(0, site)
    try:
        import alog_options
    finally:
        sys.path.remove(site)
    integers = {name: spec[1] for name, spec in alog_options.INTEGER_OPTIONS.items()}
    return {"parse": {**alog_options.SAMPLE_FRONTEND, "sim_th": alog_options.SIM_TH_DEFAULT},
            "deeplog": {k: integers[k] for k in ("hidden", "layers", "window", "top_k", "epochs")},
            "mscred_epochs": integers["mscred_epochs"],
            "mscred_channels": [alog_options.parse_mscred_channels(alog_options.MSCRED_CHANNELS_DEFAULT),
                                alog_options.parse_mscred_channels(alog_options.MSCRED_CHANNELS_PAPER)],
            "mscred_windows": alog_options.parse_mscred_windows(alog_options.MSCRED_WINDOWS_DEFAULT)}


@dataclass(frozen=True)
class Prepared:
    """The stage outputs every setting shares."""

    sample: object          # sample.SampleResult
    vocab: Path
    sequences: Path
    signatures_dir: Path
    n_templates: int


@dataclass(frozen=True)
class Row:
    label: str
    confusion: Confusion
    train_seconds: float


def prepare(work: Path, lines: int, defaults: dict) -> Prepared:
    from ..deeplog_data import BuildDeepLogConfig, build_deeplog
    from ..mscred_data import BuildMSCREDConfig, build_mscred
    from ..parse import ParseConfig, parse_logs
    from ..sample import SampleConfig, generate_sample

    sample = generate_sample(SampleConfig(out_dir=work / "sample", lines=lines))
    parsed = work / "parsed" / "parsed.parquet"
    parse_logs(ParseConfig(logs=(str(sample.log),), out=parsed, progress=False, **defaults["parse"]))
    built = build_deeplog(BuildDeepLogConfig(parsed=parsed, out_dir=work / "deeplog",
                                             window_size=defaults["deeplog"]["window"]))
    build_mscred(BuildMSCREDConfig(parsed=parsed, vocab=built.vocab_path, out_dir=work / "mscred",
                                   window_sizes=defaults["mscred_windows"]))
    return Prepared(sample, built.vocab_path, built.sequences_path, work / "mscred", built.vocab.size)


def _detect_and_evaluate(models: Path, prep: Prepared, labels: Path, model: str) -> Confusion:
    """The reference detector over sample.log, then `evaluate` on its verdicts."""
    from ..detect import DetectConfig, detect
    from ..evaluate import EvaluateConfig, evaluate

    verdicts = models / "verdicts.jsonl"
    with open(verdicts, "w", encoding="utf-8") as out:
        detect(DetectConfig(models=models, logs=(str(prep.sample.log),)), out)
    metrics = evaluate(EvaluateConfig(verdicts=verdicts, labels=labels, model=model))
    return Confusion(metrics["tp"], metrics["fp"], metrics["fn"], metrics["tn"])


def run_deeplog(work: Path, prep: Prepared, defaults: dict, top_k: int, epochs: int) -> Row:
    from ..export import ExportConfig, convert_onnx
    from ..train.deeplog import DeepLogTrainConfig, train_deeplog

    run_dir = work / f"deeplog_k{top_k}_e{epochs}"
    checkpoint = run_dir / "deeplog.pth"
    params = {**defaults["deeplog"], "top_k": top_k, "epochs": epochs}
    start = time.monotonic()
    train_deeplog(DeepLogTrainConfig(seq=prep.sequences, vocab=prep.vocab, out=checkpoint,
                                     progress=False, **params))
    seconds = time.monotonic() - start
    convert_onnx(ExportConfig(vocab=prep.vocab, output_dir=run_dir / "models", deeplog_model=checkpoint,
                              portable=True), say=lambda _: None)
    confusion = _detect_and_evaluate(run_dir / "models", prep, prep.sample.labels, "deeplog")
    return Row(f"{top_k} | {epochs}", confusion, seconds)


def run_mscred(work: Path, prep: Prepared, defaults: dict, channels: tuple[int, ...]) -> Row:
    from ..export import ExportConfig, convert_onnx
    from ..train.mscred import MSCREDTrainConfig, train_mscred

    named = ",".join(map(str, channels))
    run_dir = work / f"mscred_run_{named.replace(',', '_')}"
    checkpoint = run_dir / "mscred.pth"
    start = time.monotonic()
    train_mscred(MSCREDTrainConfig(data=prep.signatures_dir, out=checkpoint, epochs=defaults["mscred_epochs"],
                                   channels=tuple(channels), progress=False))
    seconds = time.monotonic() - start
    convert_onnx(ExportConfig(vocab=prep.vocab, output_dir=run_dir / "models", mscred_model=checkpoint,
                              portable=True), say=lambda _: None)
    confusion = _detect_and_evaluate(run_dir / "models", prep, prep.sample.windows, "mscred")
    role = "default" if tuple(channels) == tuple(defaults["mscred_channels"][0]) else "paper's"
    size = (run_dir / "models" / "mscred.onnx").stat().st_size
    return Row(f"{','.join(map(str, defaults['mscred_windows']))} | {named} ({role}) | {size:,} "
               f"| {defaults['mscred_epochs']}", confusion, seconds)


# ---- report ----------------------------------------------------------------------------------

_HEADER = "| precision | recall | F1 | TP | FP | FN | TN | training seconds |"
_ALIGN = "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"


def _row(r: Row) -> str:
    c = r.confusion
    return (f"| {r.label} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.tp} | {c.fp} | {c.fn} "
            f"| {c.tn} | {r.train_seconds:.1f} |")


def _section(prep: Prepared, defaults: dict, deeplog: list[Row], mscred: list[Row],
             command: str, seconds: float) -> str:
    import torch

    s = prep.sample
    dl = defaults["deeplog"]
    parse = defaults["parse"]
    lines = [
        "## The default pipeline on the built-in sample",
        "",
        f"Command: `{command}` ({seconds:.0f} s in all; torch {torch.__version__}, CPU). Everything is "
        "rebuilt in a temporary directory through the stage functions the SCons builders call.",
        "",
        f"Data: the built-in sample, {s.lines:,} lines (seed 1, as `scons` generates it), "
        f"{s.sessions:,} sessions of which {s.anomalous_sessions:,} anomalous; `parse` with "
        f"session_key {parse['session_key']}, header_tokens {parse['header_tokens']}, sim_th "
        f"{parse['sim_th']} found {prep.n_templates} templates.",
        "",
        f"DeepLog: window {dl['window']}, hidden {dl['hidden']}, layers {dl['layers']}, other settings "
        f"`deeplog-train`'s defaults; SCons defaults top_k {dl['top_k']}, epochs {dl['epochs']}. Each "
        "model is exported (`convert-onnx`), run by the reference detector (`detect`) over sample.log "
        "and scored at session level against sample_labels.csv (`evaluate`; a session is anomalous "
        "when any of its verdicts is).",
        "",
        "| top_k | epochs " + _HEADER,
        "| ---: | ---: " + _ALIGN,
        *(_row(r) for r in deeplog),
    ]
    if mscred:
        lines += [
            "",
            f"MSCRED (SCons defaults: mscred_windows "
            f"{','.join(map(str, defaults['mscred_windows']))}, mscred_epochs {defaults['mscred_epochs']}; "
            "the default channels, sized for devices, and the paper's, `mscred_channels=`): "
            "window level against sample_windows.csv, as `alog-detect evaluate --labels "
            "sample_windows.csv --model mscred` computes it (every listed window is an anomaly; the lines "
            "between them are cut into normal windows of the listed windows' median length). "
            f"mscred.onnx bytes: the file convert-onnx wrote (float32, matrix side n = {prep.n_templates} "
            "templates padded to a multiple of 8).",
            "",
            "| signature windows | channels | mscred.onnx bytes | epochs " + _HEADER,
            "| --- | --- | ---: | ---: " + _ALIGN,
            *(_row(r) for r in mscred),
        ]
    return "\n".join(lines)


def _settings(text: str) -> tuple[tuple[int, int], ...]:
    try:
        pairs = tuple(tuple(int(x, 10) for x in part.split(":")) for part in text.split(","))
    except ValueError:
        pairs = ()
    if not pairs or any(len(p) != 2 or min(p) < 1 for p in pairs):
        raise argparse.ArgumentTypeError(f"{text!r}: expected TOP_K:EPOCHS pairs separated by commas, "
                                         "e.g. 5:30,9:3")
    return pairs


def main(argv: list[str] | None = None) -> int:
    from ..sample import SampleConfig

    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=SampleConfig.lines, help="sample lines (SCons: %(default)s)")
    p.add_argument("--settings", type=_settings, default=DEFAULT_SETTINGS,
                   help="DeepLog TOP_K:EPOCHS pairs, comma-separated (default: "
                        + ",".join(f"{k}:{e}" for k, e in DEFAULT_SETTINGS) + ")")
    p.add_argument("--no-mscred", action="store_true", help="skip the MSCRED rows")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="the results file to update")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    args = p.parse_args(argv)
    start = time.monotonic()
    defaults = scons_defaults()
    try:
        with tempfile.TemporaryDirectory(prefix="alog-bench-sample-") as tmp:
            work = Path(tmp)
            prep = prepare(work, args.lines, defaults)
            deeplog = []
            for top_k, epochs in args.settings:
                deeplog.append(run_deeplog(work, prep, defaults, top_k, epochs))
                print(json.dumps({"model": "deeplog", "top_k": top_k, "epochs": epochs,
                                  **deeplog[-1].confusion.as_dict(),
                                  "train_seconds": round(deeplog[-1].train_seconds, 1)}), flush=True)
            mscred = [] if args.no_mscred else [run_mscred(work, prep, defaults, channels)
                                                for channels in defaults["mscred_channels"]]
    except UserError as exc:
        print(f"{COMMAND}: error: {exc.one_line()}", file=sys.stderr)
        return 2
    for row in mscred:
        print(json.dumps({"model": "mscred", "setting": row.label, **row.confusion.as_dict(),
                          "train_seconds": round(row.train_seconds, 1)}))
    command = " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])])
    section = _section(prep, defaults, deeplog, mscred, command, time.monotonic() - start)
    print(section)
    if not args.no_write:
        update_section(args.results, SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
