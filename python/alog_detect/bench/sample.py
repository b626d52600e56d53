"""Detection quality of the default pipeline on the built-in sample, rebuilt from the repo alone.

Generates the sample as SCons does (60,000 lines, seed 1), then runs the stages SCons runs, with
its defaults (site_scons/alog_options.py) and through the same library functions, in a temporary
directory: parse -> build-deeplog -> build-mscred. Then:

1. DeepLog, for each (top_k, epochs) setting: deeplog-train -> convert-onnx (DeepLog only) ->
   the reference detector over sample.log -> session-level metrics against sample_labels.csv.
2. MSCRED with the SCons defaults, at the default (device-sized) channels and at the paper's:
   mscred-train -> convert-onnx (MSCRED only) -> the detector -> window-level metrics against
   sample_windows.csv, as ``alog-detect evaluate --labels sample_windows.csv --model mscred
   --delay D`` computes them, D the lines the scored matrices span (the largest signature window
   times the bucket's lines: an anomaly stays in them that long after it ended); the same without
   the delay; each mix kind's recall; the score timeline's numbers (score quantiles of the verdicts
   in normal stretches and in anomalies, the thresholds); and the exported file's size.

Writes the ``sample`` section of docs/results.md.

    python -m alog_detect.bench.sample [--lines N] [--settings K:E,...] [--results PATH] [--no-write]

With ``--protocol``, instead: the DeepLog protocol of issue 13 -- the SCons defaults (top_k,
epochs, ...) over generator seeds x training seeds (default 1,2,3 x 0,1,2), session-level precision,
recall and F1 (mean and worst) and each anomaly kind's recall, in the ``sample-protocol`` section.

    python -m alog_detect.bench.sample --protocol [--seeds 1,2,3] [--train-seeds 0,1,2] [--lines N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..deeplog_rule import RULES
from ..errors import UserError
from ..evaluate import Confusion
from .results_md import update_section

REPO = Path(__file__).resolve().parents[3]
DEFAULT_RESULTS = REPO / "docs" / "results.md"
SECTION = "sample"
PROTOCOL_SECTION = "sample-protocol"
PROTOCOL_SEEDS = (1, 2, 3)          # generator seeds (SCons generates seed 1)
PROTOCOL_TRAIN_SEEDS = (0, 1, 2)    # deeplog-train --seed (its default: 0)
MSCRED_SEEDS = (2, 3)               # other generator seeds the MSCRED rows (default channels) also use
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
    return {"rule": alog_options.RULE_DEFAULT,
            "parse": {**alog_options.SAMPLE_FRONTEND, "sim_th": alog_options.SIM_TH_DEFAULT},
            "deeplog": {k: integers[k] for k in ("hidden", "layers", "window", "top_k", "epochs")},
            "mscred_epochs": integers["mscred_epochs"],
            "mscred_step": integers["mscred_step"],
            "mscred_bucket": str(alog_options.parse_mscred_bucket(alog_options.MSCRED_BUCKET_DEFAULT)),
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
    kinds: dict | None = None       # evaluate's per-kind recall
    rule: str | None = field(default=None, kw_only=True)  # the decision rule detect used (None: the model's)


@dataclass(frozen=True)
class MSCREDRow(Row):
    windows: int = 0                # windows scored (listed anomalies + normal tiles)
    undelayed: Confusion | None = None  # the same verdicts scored with --delay 0
    timeline: dict | None = None


def mscred_delay(defaults: dict) -> int:
    """Lines the scored matrices span: the largest signature window times the bucket's lines."""
    unit, _, size = defaults["mscred_bucket"].partition(":")
    if unit != "lines":
        raise UserError(f"mscred_bucket {defaults['mscred_bucket']}: the window evaluation counts lines",
                        None, "use a lines:N bucket")
    return max(defaults["mscred_windows"]) * int(size)


def prepare(work: Path, lines: int, defaults: dict, seed: int = 1, mscred: bool = True) -> Prepared:
    from ..deeplog_data import BuildDeepLogConfig, build_deeplog
    from ..mscred_data import BuildMSCREDConfig, build_mscred
    from ..parse import ParseConfig, parse_logs
    from ..sample import SampleConfig, generate_sample

    sample = generate_sample(SampleConfig(out_dir=work / "sample", lines=lines, seed=seed))
    parsed = work / "parsed" / "parsed.parquet"
    parse_logs(ParseConfig(logs=(str(sample.log),), out=parsed, progress=False, **defaults["parse"]))
    built = build_deeplog(BuildDeepLogConfig(parsed=parsed, out_dir=work / "deeplog",
                                             window_size=defaults["deeplog"]["window"]))
    if mscred:
        build_mscred(BuildMSCREDConfig(parsed=parsed, vocab=built.vocab_path, out_dir=work / "mscred",
                                       window_sizes=defaults["mscred_windows"], step=defaults["mscred_step"],
                                       bucket=defaults["mscred_bucket"]))
    return Prepared(sample, built.vocab_path, built.sequences_path, work / "mscred", built.vocab.size)


def _confusion(metrics: dict) -> Confusion:
    return Confusion(metrics["tp"], metrics["fp"], metrics["fn"], metrics["tn"])


def _detect(models: Path, prep: Prepared, all_verdicts: bool = False, rule: str | None = None) -> Path:
    """The reference detector over sample.log (``rule`` None: the model's); its verdicts file."""
    from ..detect import DetectConfig, detect

    verdicts = models / f"verdicts{'' if rule is None else '-' + rule}.jsonl"
    with open(verdicts, "w", encoding="utf-8") as out:
        detect(DetectConfig(models=models, logs=(str(prep.sample.log),), all_verdicts=all_verdicts, rule=rule), out)
    return verdicts


def _evaluate(verdicts: Path, labels: Path, model: str, delay: int = 0) -> dict:
    from ..evaluate import EvaluateConfig, evaluate

    return evaluate(EvaluateConfig(verdicts=verdicts, labels=labels, model=model, delay=delay))


def run_deeplog(work: Path, prep: Prepared, defaults: dict, top_k: int, epochs: int, seed: int = 0,
                rules: tuple[str, ...] | None = None) -> Row | list[Row]:
    """Train and export one DeepLog; its row under the default rule, or (``rules``) one row per rule."""
    from ..export import ExportConfig, convert_onnx
    from ..train.deeplog import DeepLogTrainConfig, train_deeplog

    run_dir = work / f"deeplog_k{top_k}_e{epochs}_s{seed}"
    checkpoint = run_dir / "deeplog.pth"
    params = {**defaults["deeplog"], "top_k": top_k, "epochs": epochs}
    start = time.monotonic()
    train_deeplog(DeepLogTrainConfig(seq=prep.sequences, vocab=prep.vocab, out=checkpoint,
                                     progress=False, seed=seed, rule=defaults["rule"], **params))
    seconds = time.monotonic() - start
    convert_onnx(ExportConfig(vocab=prep.vocab, output_dir=run_dir / "models", deeplog_model=checkpoint,
                              portable=True), say=lambda _: None)
    rows = []
    for rule in rules or (None,):
        metrics = _evaluate(_detect(run_dir / "models", prep, rule=rule), prep.sample.labels, "deeplog")
        rows.append(Row(f"{top_k} | {epochs}", _confusion(metrics), seconds, metrics["kinds"], rule=rule))
    return rows if rules else rows[0]


def _quantiles(values: list[int]) -> dict:
    import numpy as np

    if not values:
        return {"n": 0}
    q = np.quantile(np.asarray(values, dtype=np.float64), (0.1, 0.5, 0.9, 0.99), method="lower")
    return {"n": len(values), "min": int(min(values)), "p10": int(q[0]), "p50": int(q[1]), "p90": int(q[2]),
            "p99": int(q[3]), "max": int(max(values))}


def score_timeline(verdicts: Path, windows: Path, delay: int) -> dict:
    """The MSCRED verdicts' scores: inside the listed anomalies, in the `delay` lines after one, and
    elsewhere (normal stretches)."""
    import json as _json

    from ..evaluate import read_labels

    listed = read_labels(windows).windows
    inside, after, normal, first = [], [], [], None
    with open(verdicts, encoding="utf-8") as f:
        for text in f:
            v = _json.loads(text)
            if v["model"] != "mscred":
                continue
            line, score = v["line"], v["score"]
            first = line if first is None else min(first, line)
            if any(a <= line <= b for a, b in listed):
                inside.append(score)
            elif any(b < line <= b + delay for _, b in listed):
                after.append(score)
            else:
                normal.append(score)
    return {"inside": _quantiles(inside), "after": _quantiles(after), "normal": _quantiles(normal),
            "first_verdict_line": first}


def run_mscred(work: Path, prep: Prepared, defaults: dict, channels: tuple[int, ...], seed: int = 1) -> MSCREDRow:
    """``seed``: the generator seed of ``prep``'s sample (shown in the row)."""
    from ..export import ExportConfig, convert_onnx
    from ..train.mscred import MSCREDTrainConfig, train_mscred

    named = ",".join(map(str, channels))
    run_dir = work / f"mscred_run_{named.replace(',', '_')}"
    checkpoint = run_dir / "mscred.pth"
    start = time.monotonic()
    trained = train_mscred(MSCREDTrainConfig(data=prep.signatures_dir, out=checkpoint,
                                             epochs=defaults["mscred_epochs"], channels=tuple(channels),
                                             progress=False))
    seconds = time.monotonic() - start
    convert_onnx(ExportConfig(vocab=prep.vocab, output_dir=run_dir / "models", mscred_model=checkpoint,
                              portable=True), say=lambda _: None)
    verdicts = _detect(run_dir / "models", prep, all_verdicts=True)
    delay = mscred_delay(defaults)
    metrics = _evaluate(verdicts, prep.sample.windows, "mscred", delay)
    undelayed = _evaluate(verdicts, prep.sample.windows, "mscred")
    role = "default" if tuple(channels) == tuple(defaults["mscred_channels"][0]) else "paper's"
    size = (run_dir / "models" / "mscred.onnx").stat().st_size
    cal = trained.calibration
    timeline = {**score_timeline(verdicts, prep.sample.windows, delay), "anomaly_threshold": cal.anomaly_threshold,
                "cell_threshold": cal.cell_threshold, "valid_inputs": len(cal.valid_scores)}
    return MSCREDRow(f"{seed} | {','.join(map(str, defaults['mscred_windows']))} | {named} ({role}) | {size:,} "
                     f"| {defaults['mscred_epochs']}", _confusion(metrics), seconds, metrics["kinds"],
                     metrics["n_windows"], _confusion(undelayed), timeline)


# ---- report ----------------------------------------------------------------------------------

_HEADER = "| precision | recall | F1 | TP | FP | FN | TN | training seconds |"
_ALIGN = "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"


def _row(r: Row) -> str:
    c = r.confusion
    return (f"| {r.label} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.tp} | {c.fp} | {c.fn} "
            f"| {c.tn} | {r.train_seconds:.1f} |")


def _kind_table(rows: list[Row], first: str) -> list[str]:
    """Each kind's recall ("detected / anomalies = recall") per row."""
    kinds = list(dict.fromkeys(k for r in rows for k in (r.kinds or {})))
    if not kinds:
        return []
    out = [f"| {first} | " + " | ".join(kinds) + " |",
           "| " + " | ".join("---" for _ in range(first.count("|") + 1)) + " | "
           + " | ".join("---:" for _ in kinds) + " |"]
    for r in rows:
        cells = []
        for k in kinds:
            v = (r.kinds or {}).get(k)
            cells.append(f"{v['detected']}/{v['anomalies']} = {v['recall']:.3f}" if v else "-")
        out.append(f"| {r.label} | " + " | ".join(cells) + " |")
    return out


def _timeline_table(rows: list[MSCREDRow]) -> list[str]:
    out = ["| sample seed | channels | verdicts | n | min | p10 | median | p90 | p99 | max | anomaly_threshold |",
           "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        t = r.timeline
        for key, where in (("normal", "normal stretches"), ("inside", "inside an anomaly"),
                           ("after", "within the delay after one")):
            q = t[key]
            cells = [q.get(k, "-") for k in ("min", "p10", "p50", "p90", "p99", "max")]
            out.append(f"| {' | '.join(r.label.split(' | ')[:3:2])} | {where} | {q['n']} | "
                       + " | ".join(str(c) for c in cells) + f" | {t['anomaly_threshold']} |")
    return out


def _section(prep: Prepared, defaults: dict, deeplog: list[Row], mscred: list[MSCREDRow],
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
    kinds = _kind_table(deeplog, "top_k | epochs")
    if kinds:
        lines += ["", "Recall per anomaly kind (sample_labels.csv's kind column; detected / anomalies):", "",
                  *kinds]
    if mscred:
        delay = mscred_delay(defaults)
        lines += [
            "",
            f"MSCRED (SCons defaults: mscred_windows "
            f"{','.join(map(str, defaults['mscred_windows']))}, mscred_step {defaults['mscred_step']}, "
            f"mscred_bucket {defaults['mscred_bucket']}, mscred_epochs {defaults['mscred_epochs']}; "
            "the default channels, sized for devices, and the paper's, `mscred_channels=`): "
            f"window level against the sample's {prep.sample.mix_windows} mix anomalies (sample_windows.csv; "
            "seed 1 as `scons` makes it, and the default channels on the samples of the other generator seeds "
            "too), "
            f"as `alog-detect evaluate --labels sample_windows.csv --model mscred --delay {delay}` computes "
            "it: every listed window is an anomaly, detected when an anomalous verdict falls in it or in the "
            f"{delay:,} lines after it (the largest signature window, {max(defaults['mscred_windows'])} "
            "buckets, still holds it that long: the matrices a verdict scores span those lines); the other "
            "lines are cut into normal windows of the listed windows' median length (those before "
            f"MSCRED's first verdict, at line {mscred[0].timeline['first_verdict_line']:,}, hold none). "
            "\"F1, no delay\": the "
            "same verdicts without `--delay` (a verdict just after an anomaly then counts as a false "
            "alarm in the next normal window). MSCRED trains on the whole sample, anomalies included, and "
            "calibrates on its last fifth, which holds none. "
            f"mscred.onnx bytes: the file convert-onnx wrote (float32, matrix side n = {prep.n_templates} "
            "templates padded to a multiple of 8).",
            "",
            "| sample seed | signature windows | channels | mscred.onnx bytes | epochs | windows " + _HEADER[:-len(
                " training seconds |")] + " F1, no delay | training seconds |",
            "| ---: | --- | --- | ---: | ---: | ---: " + _ALIGN + " ---: |",
            *(_mscred_row(r) for r in mscred),
            "",
            "Recall per mix kind:",
            "",
            *_kind_table(mscred, "sample seed | signature windows | channels | mscred.onnx bytes | epochs"),
            "",
            "The score timeline (`alog-detect detect --all`): an MSCRED verdict's score is the number of "
            "residual cells above cell_threshold; it is an anomaly above anomaly_threshold (the largest "
            f"score on the held-out last fifth). Quantiles of the scores of the verdicts in normal "
            f"stretches, inside the listed anomalies, and in the {delay:,} lines after one:",
            "",
            *_timeline_table(mscred),
        ]
    return "\n".join(lines)


def _mscred_row(r: MSCREDRow) -> str:
    c = r.confusion
    return (f"| {r.label} | {r.windows} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.tp} | {c.fp} "
            f"| {c.fn} | {c.tn} | {r.undelayed.f1:.3f} | {r.train_seconds:.1f} |")


# ---- the protocol: SCons defaults over generator seeds x training seeds ---------------------------

@dataclass(frozen=True)
class ProtocolRun:
    gen_seed: int
    train_seed: int
    sessions: int
    anomalous: int
    templates: int
    row: Row


def run_protocol(work: Path, lines: int, defaults: dict, gen_seeds: tuple[int, ...],
                 train_seeds: tuple[int, ...]) -> list[ProtocolRun]:
    """For each generator seed: the sample, parse, build-deeplog; for each training seed: deeplog-train
    with the SCons defaults, convert-onnx, detect, evaluate (session level, per kind)."""
    import shutil

    dl = defaults["deeplog"]
    runs = []
    for gen_seed in gen_seeds:
        gen_dir = work / f"gen{gen_seed}"
        prep = prepare(gen_dir, lines, defaults, seed=gen_seed, mscred=False)
        for train_seed in train_seeds:
            for row in run_deeplog(gen_dir, prep, defaults, dl["top_k"], dl["epochs"], seed=train_seed,
                                   rules=RULES):
                runs.append(ProtocolRun(gen_seed, train_seed, prep.sample.sessions, prep.sample.anomalous_sessions,
                                        prep.n_templates, row))
                print(json.dumps({"protocol": "sample", "gen_seed": gen_seed, "train_seed": train_seed,
                                  "rule": row.rule, **row.confusion.as_dict(), "kinds": row.kinds,
                                  "train_seconds": round(row.train_seconds, 1)}), flush=True)
        shutil.rmtree(gen_dir)
    return runs


def protocol_summary(runs: list[ProtocolRun]) -> dict:
    """Mean and worst (lowest) precision, recall, F1 and per-kind recall over the runs."""
    def stats(values: list[float]) -> dict:
        return {"mean": sum(values) / len(values), "worst": min(values)}

    out = {m: stats([getattr(r.row.confusion, m) for r in runs]) for m in ("precision", "recall", "f1")}
    kinds = list(dict.fromkeys(k for r in runs for k in (r.row.kinds or {})))
    out["kinds"] = {k: stats([r.row.kinds[k]["recall"] for r in runs if r.row.kinds and k in r.row.kinds])
                    for k in kinds}
    return out


# Issue 13's goal for this protocol.
GOAL_MEAN_F1, GOAL_WORST_F1 = 0.90, 0.85


def _protocol_section(runs: list[ProtocolRun], defaults: dict, lines: int, command: str, seconds: float) -> str:
    import torch

    dl, parse = defaults["deeplog"], defaults["parse"]
    rules = list(dict.fromkeys(r.row.rule for r in runs))
    summaries = {rule: protocol_summary([r for r in runs if r.row.rule == rule]) for rule in rules}
    kinds = list(dict.fromkeys(k for s in summaries.values() for k in s["kinds"]))
    gen_seeds = list(dict.fromkeys(r.gen_seed for r in runs))
    train_seeds = list(dict.fromkeys(r.train_seed for r in runs))
    lines_out = [
        "## DeepLog on the built-in sample: the protocol (generator seeds x training seeds)",
        "",
        f"Command: `{command}` ({seconds:.0f} s in all; torch {torch.__version__}, CPU). Everything is "
        "rebuilt in a temporary directory through the stage functions the SCons builders call.",
        "",
        f"The `scons` defaults throughout: the built-in sample of {lines:,} lines for each generator seed "
        f"({', '.join(map(str, gen_seeds))}; `scons` itself uses 1); `parse` with session_key "
        f"{parse['session_key']}, header_tokens {parse['header_tokens']}, sim_th {parse['sim_th']}; DeepLog "
        f"window {dl['window']}, hidden {dl['hidden']}, layers {dl['layers']}, top_k {dl['top_k']}, epochs "
        f"{dl['epochs']}, the END key and the calibrated thresholds of `deeplog-train`'s defaults, trained "
        f"with each `deeplog-train --seed` ({', '.join(map(str, train_seeds))}); exported (`convert-onnx`), "
        "run by the reference detector over sample.log (every session still kept closes at the end of the "
        "input and its END is judged) once per decision rule (`--rule`), and scored at session level "
        "against sample_labels.csv by `alog-detect evaluate` (a session is anomalous when any of its "
        "verdicts is; recall per kind from the labels' kind column; sessions still running at the "
        "sample's last line are not labelled).",
    ]
    for rule in rules:
        summary = summaries[rule]
        met = summary["f1"]["mean"] >= GOAL_MEAN_F1 and summary["f1"]["worst"] >= GOAL_WORST_F1
        lines_out += [
            "",
            f"### Rule `{rule}`" + (" (the default, `rule=` in SCons)" if rule == defaults["rule"] else ""),
            "",
            "| generator seed | training seed | sessions | anomalous | templates | precision | recall | F1 | TP | FP "
            "| FN | TN | " + " | ".join(f"recall {k}" for k in kinds) + " | training seconds |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
            + " | ".join("---:" for _ in kinds) + " | ---: |",
        ]
        for r in (r for r in runs if r.row.rule == rule):
            c = r.row.confusion
            kind_cells = [f"{r.row.kinds[k]['recall']:.3f}" if r.row.kinds and k in r.row.kinds else "-"
                          for k in kinds]
            lines_out.append(f"| {r.gen_seed} | {r.train_seed} | {r.sessions:,} | {r.anomalous:,} | {r.templates} "
                             f"| {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.tp} | {c.fp} | {c.fn} | {c.tn} | "
                             + " | ".join(kind_cells) + f" | {r.row.train_seconds:.1f} |")
        for which in ("mean", "worst"):
            cells = [f"{summary[m][which]:.3f}" for m in ("precision", "recall", "f1")]
            kind_cells = [f"{summary['kinds'][k][which]:.3f}" if k in summary["kinds"] else "-" for k in kinds]
            lines_out.append(f"| **{which}** | | | | | " + " | ".join(cells) + " | | | | | "
                             + " | ".join(kind_cells) + " | |")
        lines_out += [
            "",
            f"Goal (issue 13): mean F1 >= {GOAL_MEAN_F1:.2f}, worst >= {GOAL_WORST_F1:.2f}: "
            + ("met." if met else f"not met (mean {summary['f1']['mean']:.3f}, worst {summary['f1']['worst']:.3f})."),
        ]
    if len(rules) > 1:
        best = max(rules, key=lambda rule: (summaries[rule]["f1"]["mean"], summaries[rule]["f1"]["worst"]))
        lines_out += ["", f"Higher mean F1 here: `{best}` ("
                      + ", ".join(f"`{rule}` {summaries[rule]['f1']['mean']:.3f}" for rule in rules) + ")."]
    return "\n".join(lines_out)


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(x, 10) for x in text.split(","))
    except ValueError:
        seeds = ()
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: expected distinct non-negative integers separated by "
                                         "commas, e.g. 1,2,3")
    return seeds


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
    p.add_argument("--no-paper-mscred", action="store_true", help="skip the MSCRED row at the paper's channels")
    p.add_argument("--mscred-seeds", type=_seeds, default=MSCRED_SEEDS,
                   help="more generator seeds for MSCRED at the default channels (default %(default)s)")
    p.add_argument("--protocol", action="store_true",
                   help="run the protocol instead (SCons defaults over --seeds x --train-seeds) and write "
                        f"the {PROTOCOL_SECTION} section")
    p.add_argument("--seeds", type=_seeds, default=PROTOCOL_SEEDS,
                   help="--protocol: generator seeds (default %(default)s)")
    p.add_argument("--train-seeds", type=_seeds, default=PROTOCOL_TRAIN_SEEDS,
                   help="--protocol: deeplog-train seeds (default %(default)s)")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="the results file to update")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    args = p.parse_args(argv)
    start = time.monotonic()
    defaults = scons_defaults()
    command = " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])])
    if args.protocol:
        try:
            with tempfile.TemporaryDirectory(prefix="alog-bench-protocol-") as tmp:
                runs = run_protocol(Path(tmp), args.lines, defaults, args.seeds, args.train_seeds)
        except UserError as exc:
            print(f"{COMMAND}: error: {exc.one_line()}", file=sys.stderr)
            return 2
        section = _protocol_section(runs, defaults, args.lines, command, time.monotonic() - start)
        print(section)
        if not args.no_write:
            update_section(args.results, PROTOCOL_SECTION, section)
        return 0
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
            channel_sets = defaults["mscred_channels"][:1 if args.no_paper_mscred else 2]
            mscred = [] if args.no_mscred else [run_mscred(work, prep, defaults, channels)
                                                for channels in channel_sets]
            for seed in () if args.no_mscred else [s for s in args.mscred_seeds if s != 1]:
                other = prepare(work / f"gen{seed}", args.lines, defaults, seed=seed)
                mscred.append(run_mscred(work / f"gen{seed}", other, defaults, defaults["mscred_channels"][0], seed))
    except UserError as exc:
        print(f"{COMMAND}: error: {exc.one_line()}", file=sys.stderr)
        return 2
    for row in mscred:
        print(json.dumps({"model": "mscred", "setting": row.label, "windows": row.windows,
                          **row.confusion.as_dict(), "f1_no_delay": round(row.undelayed.f1, 6),
                          "kinds": row.kinds, "timeline": row.timeline,
                          "train_seconds": round(row.train_seconds, 1)}))
    section = _section(prep, defaults, deeplog, mscred, command, time.monotonic() - start)
    print(section)
    if not args.no_write:
        update_section(args.results, SECTION, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
