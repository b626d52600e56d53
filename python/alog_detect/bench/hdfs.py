"""DeepLog on HDFS: DeepLog's own session files (the issue-13 protocol), the whole chain from raw
text, and the published HDFS_100k protocol (kept as a documented negative result).

Every part trains two models on the same training sessions with deeplog-train (the protocol fixes
window h=10 and g=9): the END-key model with deeplog-train's defaults (a seeded 10% of the
training sessions held out to calibrate the probability rule's two thresholds, events' and END's,
at half the target FPR 0.001 each) and
today's model without the END key (all training sessions). Rows: today's top-k rule (no session
end), the reference ``+ short`` rule, and the END-key model under top-k and under the probability
rule, every session closed at its end (end of input) and its END judged (docs/detection.md 2.2, 2.3).

1. DeepLog's own files (``HDFS_deeplog_sessions``, keys = loghub's HDFS templates ``E<k>``): train
   on a seeded 80% of ``hdfs_train`` (numpy ``default_rng(--split-seed 0).permutation``);
   test-normal = the other 20% plus the 7,000 normal sessions of logdeep's
   ``HDFS_logdeep_robustlog/robust_log_{train,valid}.csv`` (label 0; their key numbering is
   checked against DeepLog's files at every run); test-abnormal = all of ``hdfs_test_abnormal``
   and, as a second row, robustlog's 7,000 anomalies. Recall, FPR, TP/FP/FN/TN and, labelled as an
   extrapolation, the F1 the measured recall and FPR would give on the paper's 553,366 normal and
   16,838 abnormal test sessions. Goal (the paper): recall >= 0.963 at FPR <= 0.0015.
2. Raw text (HDFS_20k.log, the first 20k lines): ``parse`` (session key ``prefix:blk_``, header
   of 5 tokens: date, time, pid, level, component) ->
   ``build-deeplog`` on the Normal blocks of the chronologically first half -> ``deeplog-train``
   -> the decision rules on every line of every block of the second half -> session metrics
   against ``anomaly_label_HDFS_20k.csv``.
3. HDFS_100k (deep-loglizer's split of the first 100k lines of HDFS_v1): train on the Normal
   sessions with ``DeepLoglizerSplit=train`` (keys from ``TemplateIdSequence``, named by their
   templates), test on every ``test`` session; session level. Published F1: deep-loglizer 0.944,
   LogAI 0.981, the DeepLog paper 0.96 (full HDFS). Also measured, from the same data: how many
   test anomalies have exactly the event sequence of a Normal training session (no model that
   accepts its training data can flag them), and the F1 of a test-set oracle that labels each
   distinct sequence by its majority label (an upper bound for any detector that sees only the
   sequence; it is not a model).

All parts go through the pipeline's own stage functions. Writes the ``hdfs`` section of
docs/results.md.

    python -m alog_detect.bench.hdfs [--data DIR] [--work-dir DIR] [--parts deeplog,20k,100k]
        [--epochs N] [--hidden N] [--seed N] [--target-fpr A] [--calibration-fraction F]
        [--split-seed N] [--no-write]
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..deeplog_data import (BuildDeepLogConfig, build_deeplog, encode_sessions, group_sessions,
                            read_parsed_columns, vocab_from_sessions, write_sequences)
from ..deeplog_rule import (RULE_PROBABILITY, RULE_TOPK, UNKNOWN, judge_session, judge_sessions,
                            session_is_anomalous, session_keys, session_logits, session_probabilities, topk)
from ..errors import UserError
from ..evaluate import Confusion, session_confusion
from ..vocab import save_vocab
from .results_md import update_section

REPO = Path(__file__).resolve().parents[3]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_WORK = REPO / "build" / "bench" / "hdfs"
DEFAULT_RESULTS = REPO / "docs" / "results.md"
SECTION = "hdfs"
COMMAND = "python -m alog_detect.bench.hdfs"
WINDOW = 10
TOP_KS = (9, 10)
# `081109 203615 148 INFO dfs.DataNode$PacketResponder: <message>`: mine the message only.
HDFS_HEADER_TOKENS = 5

# Not our rule: what wuyifan18/DeepLog's predict() does to a session shorter than h+1 keys (it pads
# the session with a label no model can predict, so every such session is flagged). Reported beside
# our rule because the published recall on HDFS owes much to it; complete sessions only.
SHORT_VARIANT = "+ short"


# The benchmark trains with deeplog-train's defaults, except what the protocol fixes and the
# command line overrides; the report prints the settings recorded in the checkpoint.
PROTOCOL = {"window": WINDOW, "top_k": TOP_KS[0], "progress": False}
# Today's model, trained beside each END-key model on the same sessions: no END output, no
# sessions held out for calibration (it has no probability rule to calibrate).
NO_END_MODEL = {"end_key": False, "calibration_fraction": 0.0}
BATCH = 1 << 22  # windows per predictor call: the distinct windows among them are run once


@dataclass(frozen=True)
class Labelled:
    """Sessions to test: their templates in order, and whether each is an anomaly."""

    templates: dict[str, list[str]]
    labels: dict[str, bool]


@dataclass(frozen=True)
class TrainedPart:
    """A part's model, trained on its training sessions, and the sessions it is tested on: what
    the other benchmarks reuse (bench_int8 judges the same sessions with other predictors)."""

    name: str
    n_train_sessions: int
    test: Labelled
    loaded: object        # train.deeplog's loaded checkpoint (.model, .vocab, .checkpoint)
    checkpoint: Path      # deeplog.pth
    vocab_path: Path      # vocab.json beside it
    start: float          # time.monotonic() when the part began
    notes: tuple[str, ...] = ()
    second: Labelled | None = None  # another abnormal set with the same normals (DeepLog's files)
    sequences: Path | None = None   # sequences.parquet it was trained from


@dataclass(frozen=True)
class Row:
    """One model and decision rule on one test population."""

    model: str            # how the model was trained ("no END key" / "END key")
    rule: str             # the decision rule and its setting
    confusion: Confusion
    abnormal: str = ""    # which abnormal set (parts with a second one)
    reference: bool = False  # not a streaming rule: shown to explain published figures


@dataclass(frozen=True)
class PartResult:
    name: str
    n_train_sessions: int
    n_test_sessions: int
    n_test_anomalies: int
    vocab_size: int
    rows: tuple[Row, ...]
    seconds: float
    config: dict
    notes: tuple[str, ...] = ()


# ---- shared: train, then judge every test session --------------------------------------------

def _train(vocab_path: Path, seq_path: Path, out: Path, overrides: dict):
    from ..train.deeplog import DeepLogTrainConfig, load_deeplog_checkpoint, train_deeplog

    train_deeplog(DeepLogTrainConfig(seq=seq_path, vocab=vocab_path, out=out, **{**PROTOCOL, **overrides}))
    return load_deeplog_checkpoint(out, vocab_path)


def judge_part(loaded, test: Labelled, predict=None) -> dict[str, Confusion]:
    """Session confusions per g (and the ``+ short`` variant) with ``predict`` (windows -> logits;
    default: the PyTorch model), top-k without session ends: what cengine/bench/bench_int8.py
    compares between the float and the int8 model."""
    from ..train.deeplog import torch_predictor

    predict = predict or torch_predictor(loaded.model)
    vocab = loaded.vocab
    index = vocab.index()
    names = list(test.templates)
    keys = [[index.get(t, UNKNOWN) for t in test.templates[s]] for s in names]
    labels = {s: test.labels[s] for s in names}
    out = {}
    for k in TOP_KS:
        verdicts = judge_sessions(predict, keys, WINDOW, vocab.size, k)
        anomalous = {s for s, v in zip(names, verdicts) if session_is_anomalous(v)}
        out[str(k)] = session_confusion(anomalous, labels)
        if k == TOP_KS[0]:
            short = {s for s, kk in zip(names, keys) if len(kk) < WINDOW + 1}
            out[f"{k} {SHORT_VARIANT}"] = session_confusion(anomalous | short, labels)
    return out


def _train_on_sessions(train: dict[str, list[str]], work: Path, overrides: dict):
    """Sessions held in memory -> vocab.json + sequences.parquet (build-deeplog's formats) -> model;
    returns (loaded, checkpoint path, vocab path)."""
    vocab = vocab_from_sessions(train)
    # Event positions stand in for line numbers: session files have none.
    positions = {s: list(range(1, len(t) + 1)) for s, t in train.items()}
    save_vocab(work / "vocab.json", vocab)
    write_sequences(work / "sequences.parquet", encode_sessions(train, positions, vocab, WINDOW))
    loaded = _train(work / "vocab.json", work / "sequences.parquet", work / "deeplog.pth", overrides)
    return loaded, work / "deeplog.pth", work / "vocab.json"


def unique_windows(predict):
    """``predict`` run once per distinct window (HDFS repeats windows a lot); same logits."""
    def run(windows: np.ndarray) -> np.ndarray:
        distinct, inverse = np.unique(windows, axis=0, return_inverse=True)
        return predict(distinct)[inverse.reshape(-1)]
    return run


def _keys(loaded, test: Labelled) -> tuple[list[str], list[list[int]]]:
    index = loaded.vocab.index()
    names = list(test.templates)
    return names, [[index.get(t, UNKNOWN) for t in test.templates[s]] for s in names]


def _union(populations: dict[str, Labelled]) -> Labelled:
    return Labelled({s: t for p in populations.values() for s, t in p.templates.items()},
                    {s: a for p in populations.values() for s, a in p.labels.items()})


def _short(test: Labelled) -> set[str]:
    return {s for s, t in test.templates.items() if len(t) < WINDOW + 1}


def _rows(model: str, rules: list[tuple[str, set[str], bool]], populations: dict[str, Labelled]) -> list[Row]:
    return [Row(model, rule, session_confusion(anomalous & set(pop.labels), pop.labels), name, reference)
            for rule, anomalous, reference in rules for name, pop in populations.items()]


def no_end_rows(loaded, populations: dict[str, Labelled], k: int = TOP_KS[0]) -> list[Row]:
    """A model without the END key, today's rule: top-k, sessions never judged at their end (and
    the ``+ short`` reference)."""
    from ..train.deeplog import torch_predictor

    union = _union(populations)
    names, keys = _keys(loaded, union)
    verdicts = judge_sessions(unique_windows(torch_predictor(loaded.model)), keys, WINDOW, loaded.vocab.size, k,
                              batch_size=BATCH)
    flagged = {s for s, v in zip(names, verdicts) if session_is_anomalous(v)}
    return _rows("no END key", [(f"top-k g={k}", flagged, False),
                                (f"top-k g={k} {SHORT_VARIANT}", flagged | _short(union), True)], populations)


def _threshold_label(loaded) -> str:
    cal = loaded.calibration
    return (f"probability p < {loaded.prob_threshold:.3g}, END p < {loaded.end_threshold:.3g} (calibrated: "
            f"target FPR {cal['target_fpr']}, half each, on {cal['sessions']} held-out training sessions)")


def held_out_sessions(loaded, sequences: Path) -> list[list[int]]:
    """The training sessions deeplog-train held out to calibrate ``loaded`` (its seeded split of
    the non-empty sessions of ``sequences``), as keys."""
    from ..deeplog_data import read_sequences
    from ..train.deeplog import split_sessions

    calibration = loaded.calibration or {}
    if not calibration.get("sessions"):
        return []
    sessions = [list(keys) for keys in read_sequences(sequences, lines=False).keys if len(keys)]
    _, held = split_sessions(len(sessions), calibration["fraction"], calibration["seed"])
    return [sessions[i] for i in held]


def tune_top_k(loaded, held: list[list[int]], target_fpr: float) -> int | None:
    """The smallest g whose top-k rule (END judged at session close) flags at most
    ``floor(target_fpr * len(held))`` of the held-out normal training sessions ``held``: a setting
    chosen on training data only. None without held-out sessions."""
    from ..train.deeplog import torch_predictor

    if not held:
        return None
    pad = loaded.vocab.size
    logits = session_logits(unique_windows(torch_predictor(loaded.model)), held, WINDOW, pad, end=True,
                            batch_size=BATCH)
    needed = []  # per session: the smallest g that judges all its events and its END normal
    for rows, keys in zip(logits, held):
        ranking = topk(rows, rows.shape[1])
        targets = np.asarray(session_keys(keys, pad, end=True))
        needed.append(int((ranking == targets[:, None]).argmax(axis=1).max()) + 1)
    allowed = int(target_fpr * len(needed))
    return sorted(needed)[len(needed) - 1 - allowed]


def end_rows(loaded, populations: dict[str, Labelled], k: int = TOP_KS[0],
             tuned_k: int | None = None, held: int = 0) -> tuple[list[Row], list[str]]:
    """A model with the END key, every session closed at its end (end of input): top-k and, when
    the checkpoint has a calibrated threshold, the probability rule. Also notes: how many false
    positives only their END flagged, and (with a second abnormal set: DeepLog's files) what limits
    the probability rule."""
    from ..train.deeplog import torch_predictor

    pad = loaded.vocab.size
    union = _union(populations)
    names, keys = _keys(loaded, union)
    logits = session_logits(unique_windows(torch_predictor(loaded.model)), keys, WINDOW, pad, end=True,
                            batch_size=BATCH)
    rules = [(f"top-k g={k}, END judged at session close", {"rule": RULE_TOPK, "k": k})]
    if tuned_k is not None:
        target = loaded.calibration["target_fpr"]
        rules.append((f"top-k g={tuned_k}, END judged at session close (g tuned: the smallest that flags at most "
                      f"{int(target * held)} of the {held} held-out training sessions, target FPR {target})",
                      {"rule": RULE_TOPK, "k": tuned_k}))
    if loaded.prob_threshold is not None and loaded.end_threshold is not None:
        rules.append((_threshold_label(loaded), {"rule": RULE_PROBABILITY, "threshold": loaded.prob_threshold,
                                                 "end_threshold": loaded.end_threshold, "k": k}))
    judged, notes = [], []
    for label, rule in rules:
        verdicts = [judge_session(rows, kk, pad=pad, end=True, **rule) for rows, kk in zip(logits, keys)]
        flagged = {s for s, v in zip(names, verdicts) if session_is_anomalous(v)}
        end_only = [s for s, v in zip(names, verdicts) if v.anomaly[-1] and not v.anomaly[:-1].any()]
        fp_end = sum(1 for s in end_only if not union.labels[s])
        fp = sum(1 for s in flagged if not union.labels[s])
        notes.append(f"END key, {label.split(' (')[0]}: {fp_end} of its {fp} false positives and "
                     f"{len(end_only) - fp_end} of its {len(flagged) - fp} true positives are flagged only by "
                     "their END verdict.")
        judged.append((label, flagged, False))
    if len(populations) > 1:
        minima = {}  # per session: (its smallest event probability, its END's)
        for s, rows, kk in zip(names, logits, keys):
            events, end = session_probabilities(rows, kk, pad, end=True)
            # A template unseen in training flags its session whatever the thresholds.
            minima[s] = (0.0 if UNKNOWN in kk else events, end)
        notes.append(_limit_note(minima, union, populations, loaded.calibration))
    return _rows("END key", judged, populations), notes


def best_thresholds(normal: np.ndarray, allowed: int) -> list[tuple[float, float]]:
    """Every pair (events' threshold, END's) that flags at most ``allowed`` of the ``normal``
    sessions ((n, 2): each one's smallest event probability and its END's) and cannot be raised
    without flagging more: for END thresholds at each of the ``allowed + 1`` lowest END
    probabilities, the largest events' threshold that still fits."""
    pairs = []
    for end in np.sort(normal[:, 1])[:allowed + 1]:
        by_end = normal[:, 1] < end
        rest = np.sort(normal[~by_end, 0])
        room = allowed - int(by_end.sum())
        pairs.append((float(rest[room]) if room < len(rest) else math.inf, float(end)))
    return pairs


def _limit_note(minima: dict[str, tuple[float, float]], union: Labelled, populations: dict[str, Labelled],
                calibration: dict | None) -> str:
    """The best any two thresholds (events', END's) could do on this test set (it uses the test
    labels: a diagnostic of the model's ranking, not a setting), and where the anomalies it misses
    lie."""
    normal = np.array([m for s, m in minima.items() if not union.labels[s]], dtype=np.float64)
    allowed = int(PAPER_FPR * len(normal))
    name, pop = next(iter(populations.items()))
    abnormal = [s for s, a in pop.labels.items() if a]

    def caught(pair):
        return [s for s in abnormal if minima[s][0] < pair[0] or minima[s][1] < pair[1]]

    best = max(best_thresholds(normal, allowed), key=lambda pair: len(caught(pair)))
    hit = set(caught(best))
    missed = [s for s in abnormal if s not in hit]
    short = [s for s in missed if len(union.templates[s]) < WINDOW + 1]
    unseen = int((normal[:, 0] == 0.0).sum())
    events = np.sort(normal[:, 0])
    lowest = ", ".join(f"{m:.1e}" for m in events[events > 0][:5])
    ends = ", ".join(f"{m:.1e}" for m in np.sort(normal[:, 1])[:3])
    where = (f"{len(short):,} are sessions shorter than h+1 = {WINDOW + 1} keys, which end too early (median END "
             f"probability {np.median([minima[s][1] for s in short]):.1e}, median smallest event probability "
             f"{np.median([minima[s][0] for s in short]):.1e})" if short
             else f"none is shorter than h+1 = {WINDOW + 1} keys")
    return (f"What limits the probability rule (a diagnostic that uses the test labels, not a setting): "
            f"the best two thresholds that keep the FPR <= {PAPER_FPR} on this test set (at most {allowed} of "
            f"{len(normal):,} normal sessions below them; events p < {best[0]:.2e}, END p < {best[1]:.2e}) would "
            f"catch {len(hit):,} of the {len(abnormal):,} sessions of {name} (recall {len(hit) / len(abnormal):.4f}). "
            f"Of the {len(missed):,} it misses, {where}; the rarest normal sessions (a rare but normal step) reach "
            f"smallest event probabilities of {lowest}"
            + (f" ({unseen} more hold a template unseen in training)" if unseen else "")
            + f", and the lowest END probabilities of normal sessions are {ends}. "
            + _calibration_remark(calibration))


def _calibration_remark(calibration: dict | None) -> str:
    if not calibration or calibration.get("prob_threshold") is None:
        return ""
    n, q = calibration["sessions"], calibration["target_fpr"] / 2
    if int(np.floor(q * (n - 1))) > 0:
        return ""
    return (f"With {n} held-out sessions, the quantile {q} is their lowest value: the calibration cannot "
            f"see a tail that thin (it would need about {int(np.ceil(1 / q)):,} held-out sessions), so the "
            "threshold depends on which sessions were held out.")


def _populations(part: TrainedPart) -> dict[str, Labelled]:
    return {"": part.test} if part.second is None else {"hdfs_test_abnormal": part.test,
                                                         "robustlog anomalies": part.second}


def _result(part: TrainedPart, rows: list[Row], config: dict | None = None) -> PartResult:
    test, loaded = part.test, part.loaded
    return PartResult(part.name, part.n_train_sessions, len(test.labels), sum(test.labels.values()),
                      loaded.vocab.size, tuple(rows), time.monotonic() - part.start,
                      config or loaded.checkpoint["config"], part.notes)


def run_part(trainer, data: Path, work: Path, overrides: dict) -> PartResult:
    """Train the part's END-key model (deeplog-train's defaults) and, on the same training data,
    today's model without it (all training sessions, no calibration); judge both."""
    part = trainer(data, work, overrides)
    populations = _populations(part)
    no_end = _train(part.vocab_path, part.sequences, part.checkpoint.with_name("deeplog_no_end.pth"),
                    {**overrides, **NO_END_MODEL})
    held = held_out_sessions(part.loaded, part.sequences)
    tuned = tune_top_k(part.loaded, held, part.loaded.calibration["target_fpr"]) if held else None
    rows, notes = end_rows(part.loaded, populations, tuned_k=tuned, held=len(held))
    return replace(_result(part, no_end_rows(no_end, populations) + rows), notes=(*part.notes, *notes))


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise UserError("benchmark data not found", path, "pass --data with the shared data directory")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---- part 1: HDFS_100k -----------------------------------------------------------------------

def load_100k(data: Path) -> tuple[dict[str, list[str]], Labelled]:
    """(train: Normal sessions of the train split, test: every test session)."""
    template_of = {r["TemplateId"]: r["EventTemplate"]
                   for r in _read_csv(data / "HDFS" / "HDFS_100k_templates_derived.csv")}
    train, test, labels = {}, {}, {}
    for row in _read_csv(data / "HDFS" / "HDFS_100k_sessions.csv"):
        templates = [template_of[t] for t in row["TemplateIdSequence"].split()]
        if row["DeepLoglizerSplit"] == "train":
            if row["Label"] == "Normal":
                train[row["BlockId"]] = templates
        else:
            test[row["BlockId"]] = templates
            labels[row["BlockId"]] = row["Label"] == "Anomaly"
    return train, Labelled(test, labels)


def _ceiling(train: dict[str, list[str]], test: Labelled) -> tuple[int, Confusion]:
    """(test anomalies whose sequence is a Normal training sequence, the test-set oracle)."""
    normal = {tuple(t) for t in train.values()}
    hidden = sum(1 for s, t in test.templates.items() if test.labels[s] and tuple(t) in normal)
    votes: dict[tuple, collections.Counter] = collections.defaultdict(collections.Counter)
    for s, t in test.templates.items():
        votes[tuple(t)][test.labels[s]] += 1
    flagged = {s for s, t in test.templates.items() if votes[tuple(t)][True] > votes[tuple(t)][False]}
    return hidden, session_confusion(flagged, test.labels)


def train_100k(data: Path, work: Path, overrides: dict) -> TrainedPart:
    start = time.monotonic()
    train, test = load_100k(data)
    loaded, checkpoint, vocab = _train_on_sessions(train, work / "100k", overrides)
    notes = (_ceiling_note("HDFS_100k", train, test, 100_000),)
    return TrainedPart("HDFS_100k (deep-loglizer split)", len(train), test, loaded, checkpoint, vocab, start,
                       notes, sequences=checkpoint.with_name("sequences.parquet"))


def _ceiling_note(name: str, train: dict[str, list[str]], test: Labelled, last_line: int) -> str:
    hidden, oracle = _ceiling(train, test)
    return (f"{name}: {hidden} of the {sum(test.labels.values())} test anomalies have exactly the event "
            f"sequence of a Normal training session (labels come from the full HDFS_v1, sequences stop at "
            f"line {last_line:,}), so no model that accepts its own training data can flag them. A test-set "
            "oracle that labels each distinct sequence by its majority label (an upper bound for any "
            f"detector that sees only the sequence; not a model) reaches precision {oracle.precision:.4f}, "
            f"recall {oracle.recall:.4f}, F1 {oracle.f1:.4f} (TP {oracle.tp}, FP {oracle.fp}, FN {oracle.fn}, "
            f"TN {oracle.tn}).")


# ---- part 2: raw HDFS_20k.log ----------------------------------------------------------------

def _write_parsed_subset(parsed: Path, sessions: set[str], out: Path) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from .. import atomic

    table = pq.read_table(parsed)
    keep = pc.is_in(table["session"], value_set=pa.array(sorted(sessions), type=pa.string()))
    with atomic.atomic_path(out) as tmp:
        pq.write_table(table.filter(keep), tmp)


def train_20k(data: Path, work: Path, overrides: dict) -> TrainedPart:
    from ..parse import ParseConfig, parse_logs

    start = time.monotonic()
    labels = {r["BlockId"]: r["Label"] == "Anomaly"
              for r in _read_csv(data / "HDFS" / "anomaly_label_HDFS_20k.csv")}
    part = work / "20k"
    parsed = part / "parsed.parquet"
    parse_logs(ParseConfig(logs=(str(data / "HDFS" / "HDFS_20k.log"),), out=parsed,
                           session_key="prefix:blk_", header_tokens=HDFS_HEADER_TOKENS, progress=False))
    cols = read_parsed_columns(parsed, ["session", "template", "line_no"], fix="re-run the benchmark")
    by_session, _, _ = group_sessions(cols["session"], cols["template"], cols["line_no"])
    order = [s for s in by_session if s in labels]  # first appearance = chronological
    first_half, second_half = order[:len(order) // 2], order[len(order) // 2:]
    train_sessions = {s for s in first_half if not labels[s]}
    _write_parsed_subset(parsed, train_sessions, part / "train_parsed.parquet")
    built = build_deeplog(BuildDeepLogConfig(parsed=part / "train_parsed.parquet", out_dir=part / "deeplog",
                                             window_size=WINDOW))
    loaded = _train(built.vocab_path, built.sequences_path, part / "deeplog.pth", overrides)
    test = Labelled({s: by_session[s] for s in second_half}, {s: labels[s] for s in second_half})
    notes = (f"Raw text: `parse` found {len(set(cols['template']))} templates in HDFS_20k.log; "
             f"{len(order)} labelled blocks, split by first appearance. "
             + _ceiling_note("HDFS_20k", {s: by_session[s] for s in train_sessions}, test, 20_000),)
    return TrainedPart("HDFS_20k.log raw text (chronological halves)", len(train_sessions), test, loaded,
                       part / "deeplog.pth", built.vocab_path, start, notes, sequences=built.sequences_path)


# ---- part 3: DeepLog's own session files, with logdeep's robustlog sessions -------------------

DEEPLOG_DIR = "HDFS_deeplog_sessions"
ROBUSTLOG_DIR = "HDFS_logdeep_robustlog"
ROBUSTLOG_FILES = ("robust_log_train.csv", "robust_log_valid.csv")
SPLIT_SEED = 0          # numpy default_rng(SPLIT_SEED).permutation picks the training 80%
TRAIN_FRACTION = 0.8
# The DeepLog paper's HDFS test set and result (Du et al. 2017, table 3 and figure 6).
PAPER_NORMAL, PAPER_ABNORMAL, PAPER_RECALL, PAPER_FPR = 553_366, 16_838, 0.963, 0.0015


@dataclass(frozen=True)
class DeepLogFiles:
    """DeepLog's sessions and logdeep's robustlog sessions as loghub key numbers (``k`` is the
    template ``E<k>``), in file order."""

    train: list[tuple[int, ...]]            # hdfs_train (all normal)
    abnormal: list[tuple[int, ...]]         # hdfs_test_abnormal
    robust_normal: list[tuple[int, ...]]    # robust_log_{train,valid}.csv, label 0
    robust_abnormal: list[tuple[int, ...]]  # label 1


def _key_line(text: str, path: Path, line_no: int) -> tuple[int, ...]:
    try:
        keys = tuple(int(k) for k in text.split())
    except ValueError:
        raise UserError(f"line {line_no}: a session is a space-separated list of integer keys, got "
                        f"{text[:60]!r}", path, "pass DeepLog's / logdeep's HDFS session files") from None
    if not keys:
        raise UserError(f"line {line_no}: empty session", path, "pass DeepLog's / logdeep's HDFS session files")
    return keys


def _read_key_sessions(path: Path) -> list[tuple[int, ...]]:
    if not path.is_file():
        raise UserError("benchmark data not found", path, "pass --data with the shared data directory")
    return [_key_line(line, path, i) for i, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]


def _read_robustlog(path: Path) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """(normal, abnormal) sessions of one robustlog CSV (columns ``Sequence``, ``label`` 0/1)."""
    normal, abnormal = [], []
    for i, row in enumerate(_read_csv(path), 2):
        if row.get("label") not in ("0", "1") or row.get("Sequence") is None:
            raise UserError(f"line {i}: expected columns Sequence and label (0 or 1), got {row}", path,
                            "pass logdeep's robust_log_*.csv")
        (abnormal if row["label"] == "1" else normal).append(_key_line(row["Sequence"], path, i))
    return normal, abnormal


def load_deeplog_files(data: Path) -> DeepLogFiles:
    robust_normal, robust_abnormal = [], []
    for name in ROBUSTLOG_FILES:
        n, a = _read_robustlog(data / ROBUSTLOG_DIR / name)
        robust_normal += n
        robust_abnormal += a
    return DeepLogFiles(_read_key_sessions(data / DEEPLOG_DIR / "hdfs_train"),
                        _read_key_sessions(data / DEEPLOG_DIR / "hdfs_test_abnormal"),
                        robust_normal, robust_abnormal)


def split_train(n: int, seed: int = SPLIT_SEED) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices), both in file order: a seeded fixed 80% / 20%."""
    order = np.random.default_rng(seed).permutation(n)
    cut = int(n * TRAIN_FRACTION)
    return sorted(order[:cut].tolist()), sorted(order[cut:].tolist())


def numbering_note(files: DeepLogFiles, path: Path) -> str:
    """Show that robustlog numbers keys as DeepLog's files do; refuse the data when it does not.

    Two independent views: whole sessions (a session of one file found verbatim in the other;
    with another numbering almost none would be), and each key's share of all events."""
    train, abnormal = set(files.train), set(files.abnormal)
    normal_in = sum(s in train for s in files.robust_normal)
    abnormal_in = sum(s in abnormal for s in files.robust_abnormal)
    crossed = (sum(s in abnormal for s in files.robust_normal), sum(s in train for s in files.robust_abnormal))

    def shares(sessions):
        counts = collections.Counter(k for s in sessions for k in s)
        total = sum(counts.values())
        return {k: c / total for k, c in counts.items()}

    a, b = shares(files.train), shares(files.robust_normal)
    gap = max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in a.keys() | b.keys())
    if 2 * normal_in < len(files.robust_normal) or 2 * abnormal_in < len(files.robust_abnormal):
        raise UserError(f"robustlog's key numbering does not match DeepLog's files: only {normal_in} of "
                        f"{len(files.robust_normal)} normal sessions occur in hdfs_train and {abnormal_in} of "
                        f"{len(files.robust_abnormal)} anomalies in hdfs_test_abnormal", path,
                        "pass logdeep's robust_log_*.csv built from the same HDFS_v1 templates")
    return (f"Key numbering: {normal_in:,} of robustlog's {len(files.robust_normal):,} normal sessions occur "
            f"verbatim in hdfs_train and {abnormal_in:,} of its {len(files.robust_abnormal):,} anomalies in "
            f"hdfs_test_abnormal ({crossed[0]} normal session(s) in hdfs_test_abnormal, {crossed[1]} "
            f"anomalies in hdfs_train); each key's share of all events differs by at most {gap:.4f} between "
            "hdfs_train and robustlog's normal sessions. So both number keys alike (checked at every run; "
            "the benchmark refuses data where fewer than half the sessions match).")


def _named(prefix: str, sessions: list[tuple[int, ...]], template_of: dict[int, str], path: Path) -> dict:
    out = {}
    for i, keys in enumerate(sessions):
        try:
            out[f"{prefix}{i}"] = [template_of[k] for k in keys]
        except KeyError as exc:
            raise UserError(f"session {i + 1} has key {exc.args[0]}, which is no loghub HDFS template "
                            f"(E1..E{len(template_of)})", path, "pass DeepLog's HDFS session files") from None
    return out


def train_deeplog_files(data: Path, work: Path, overrides: dict, split_seed: int = SPLIT_SEED) -> TrainedPart:
    """Train on the seeded 80% of hdfs_train. ``test``: the held-out 20% and robustlog's normal
    sessions (label 0) against hdfs_test_abnormal; ``second``: the same normals against robustlog's
    anomalies."""
    start = time.monotonic()
    templates = data / "loghub_2k" / "HDFS" / "HDFS_templates.csv"
    template_of = {int(r["EventId"][1:]): r["EventTemplate"] for r in _read_csv(templates)}
    files = load_deeplog_files(data)
    note = numbering_note(files, data / ROBUSTLOG_DIR)
    kept, held = split_train(len(files.train), split_seed)
    named = _named("n", files.train, template_of, data / DEEPLOG_DIR / "hdfs_train")
    train = {f"n{i}": named[f"n{i}"] for i in kept}
    normals = {**{f"n{i}": named[f"n{i}"] for i in held},
               **_named("rn", files.robust_normal, template_of, data / ROBUSTLOG_DIR)}
    abnormal = _named("a", files.abnormal, template_of, data / DEEPLOG_DIR / "hdfs_test_abnormal")
    robust_abnormal = _named("ra", files.robust_abnormal, template_of, data / ROBUSTLOG_DIR)
    test = Labelled({**normals, **abnormal}, {**dict.fromkeys(normals, False), **dict.fromkeys(abnormal, True)})
    second = Labelled({**normals, **robust_abnormal},
                      {**dict.fromkeys(normals, False), **dict.fromkeys(robust_abnormal, True)})
    loaded, checkpoint, vocab = _train_on_sessions(train, work / "deeplog_files", overrides)
    notes = (f"Split: hdfs_train's {len(files.train):,} sessions, numpy `default_rng({split_seed}).permutation`: "
             f"the first {len(kept):,} train, the other {len(held):,} are test-normal with robustlog's "
             f"{len(files.robust_normal):,} normal sessions ({len(normals):,} in all).", note)
    return TrainedPart("DeepLog's HDFS files + robustlog", len(train), test, loaded, checkpoint, vocab, start,
                       notes, second, checkpoint.with_name("sequences.parquet"))


def extrapolate_f1(recall: float, fpr: float, normal: int = PAPER_NORMAL, abnormal: int = PAPER_ABNORMAL) -> float:
    """The F1 that ``recall`` and ``fpr`` would give on a test set of ``normal`` normal and
    ``abnormal`` abnormal sessions (the paper's by default): an extrapolation, not a measurement."""
    tp, fp = recall * abnormal, fpr * normal
    precision = tp / (tp + fp) if tp + fp else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def fpr_of(c: Confusion) -> float:
    return c.fp / (c.fp + c.tn) if c.fp + c.tn else 0.0


def goal_met(c: Confusion) -> bool:
    return c.recall >= PAPER_RECALL and fpr_of(c) <= PAPER_FPR


# The parts by their --parts name: each trains its model and names its test sessions.
TRAINERS = {"100k": train_100k, "20k": train_20k, "deeplog": train_deeplog_files}


# ---- report ----------------------------------------------------------------------------------

def _rule_label(row: Row) -> str:
    return f"{row.rule} (reference, not streaming)" if row.reference else row.rule


def _sessions_table(results: list[PartResult]) -> str:
    rows = ["| data | train sessions | test sessions (anomalies) | keys | model | rule | precision | recall | F1 "
            "| TP | FP | FN | TN | seconds |",
            "| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        for row in r.rows:
            c = row.confusion
            rows.append(f"| {r.name} | {r.n_train_sessions} | {r.n_test_sessions} ({r.n_test_anomalies}) "
                        f"| {r.vocab_size} | {row.model} | {_rule_label(row)} | {c.precision:.4f} | {c.recall:.4f} "
                        f"| {c.f1:.4f} | {c.tp} | {c.fp} | {c.fn} | {c.tn} | {r.seconds:.0f} |")
    return "\n".join(rows)


def _files_table(result: PartResult) -> str:
    rows = ["| test-abnormal | model | rule | recall | FPR | TP | FP | FN | TN | F1 extrapolated to the paper's "
            "test set | goal met |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in result.rows:
        c = row.confusion
        rows.append(f"| {row.abnormal} | {row.model} | {_rule_label(row)} | {c.recall:.4f} | {fpr_of(c):.5f} "
                    f"| {c.tp} | {c.fp} | {c.fn} | {c.tn} | {extrapolate_f1(c.recall, fpr_of(c)):.4f} "
                    f"| {'yes' if goal_met(c) and not row.reference else 'no'} |")
    rows.append(f"| DeepLog paper (as published) | | top-k g=9 | {PAPER_RECALL:.4f} | {PAPER_FPR:.5f} | | | | "
                f"| {extrapolate_f1(PAPER_RECALL, PAPER_FPR):.4f} | |")
    return "\n".join(rows)


def _paragraphs(notes: tuple[str, ...]) -> list[str]:
    return [line for note in notes for line in ("", note)]


def _is_files(result: PartResult) -> bool:
    return any(row.abnormal for row in result.rows)


def _section(results: list[PartResult], command: str, seconds: float) -> str:
    import torch

    config = results[0].config
    settings = ", ".join(f"{k} {v}" for k, v in config.items() if k != "vocab_size")
    lines = [
        "## DeepLog on HDFS",
        "",
        f"Command: `{command}` ({seconds:.0f} s in all; torch {torch.__version__}, CPU, one thread; the "
        "seconds column includes training).",
        "",
        f"Settings (as recorded in the checkpoints): {settings}; batches count distinct windows; "
        "windows left-padded so every event is judged; a template unseen in training is an anomaly; "
        "a session is anomalous when any of its events is.",
    ]
    for r in (r for r in results if _is_files(r)):
        normals = r.rows[0].confusion.fp + r.rows[0].confusion.tn
        lines += [
            "", f"### {r.name}", "",
            f"{r.n_train_sessions:,} training sessions, {normals:,} test-normal sessions ({r.seconds:.0f} s). "
            f"Goal: recall >= {PAPER_RECALL} at FPR <= {PAPER_FPR} with a streaming rule (the paper's figures); "
            f"one false positive moves the FPR by {1 / normals:.6f}. The extrapolated F1 is *not measured*: "
            f"it is the F1 the measured recall and FPR would give on the paper's {PAPER_NORMAL:,} normal and "
            f"{PAPER_ABNORMAL:,} abnormal test sessions (TP = recall x {PAPER_ABNORMAL:,}, FP = FPR x "
            f"{PAPER_NORMAL:,}); the paper's own row is computed the same way.",
            "", _files_table(r), *_paragraphs(r.notes),
        ]
    others = [r for r in results if not _is_files(r)]
    if others:
        lines += ["", "### HDFS_100k and HDFS_20k", "", _sessions_table(others), "",
                  "Published F1 on HDFS: deep-loglizer 0.944, LogAI 0.981, DeepLog paper 0.96 (full HDFS).",
                  "",
                  "Both files are the first lines of HDFS_v1: a block whose events continue after the last line "
                  "is cut, and closing it at the end of the input judges its END as if it had ended there "
                  "(the notes count the false positives flagged only by their END); training sessions can be cut "
                  "the same way, so the END-key model also learns some cut endings as normal."]
        for r in others:
            lines += _paragraphs(r.notes)
    lines += [
        "",
        f"Rules `top-k g={TOP_KS[0]} {SHORT_VARIANT}` are *not* a streaming rule: they add what "
        "wuyifan18/DeepLog's `predict()` does to sessions shorter than h+1 keys (it pads them with a "
        "label no model predicts, so every such session is flagged). That needs to know a session "
        "has ended; it is shown as a reference to explain published recall.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data directory")
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK, help="intermediate files")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="the results file to update")
    p.add_argument("--epochs", type=int, help="override deeplog-train's default")
    p.add_argument("--hidden", type=int, help="override deeplog-train's default")
    p.add_argument("--seed", type=int, help="override deeplog-train's default (training seed)")
    p.add_argument("--target-fpr", type=float, help="override deeplog-train's default (calibration)")
    p.add_argument("--calibration-fraction", type=float, help="override deeplog-train's default")
    p.add_argument("--split-seed", type=int, default=SPLIT_SEED,
                   help=f"seed of the 80%%/20%% split of DeepLog's hdfs_train (default {SPLIT_SEED})")
    p.add_argument("--parts", default="deeplog,20k,100k", help="comma-separated parts to run")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/results.md alone")
    args = p.parse_args(argv)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("hidden", args.hidden), ("seed", args.seed),
                                   ("target_fpr", args.target_fpr),
                                   ("calibration_fraction", args.calibration_fraction)) if v is not None}
    trainers = {**TRAINERS, "deeplog": lambda *a: train_deeplog_files(*a, split_seed=args.split_seed)}
    start = time.monotonic()
    try:
        names = args.parts.split(",")
        unknown = [n for n in names if n not in trainers]
        if unknown:
            raise UserError(f"no part {unknown[0]!r}", None, f"pass --parts from {', '.join(TRAINERS)}")
        results = [run_part(trainers[name], args.data, args.work_dir, overrides) for name in names]
    except UserError as exc:
        print(f"{COMMAND}: error: {exc.one_line()}", file=sys.stderr)
        return 2
    for r in results:
        for row in r.rows:
            c = row.confusion
            print(json.dumps({"data": r.name, "abnormal": row.abnormal, "model": row.model, "rule": row.rule,
                              **c.as_dict(), "fpr": round(fpr_of(c), 6),
                              **({"f1_extrapolated": round(extrapolate_f1(c.recall, fpr_of(c)), 6)}
                                 if row.abnormal else {}),
                              "seconds": round(r.seconds, 1)}))
        for note in r.notes:
            print(note)
    if not args.no_write:
        command = " ".join([COMMAND, *(argv if argv is not None else sys.argv[1:])])
        update_section(args.results, SECTION, _section(results, command, time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
