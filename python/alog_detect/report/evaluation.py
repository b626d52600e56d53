"""The figures the build report shows about the models' quality, computed once per model directory.

``evaluate_build`` runs the reference detector (``alog-detect detect --all``) over the build's logs
and writes, into ``out_dir``:

* ``verdicts.jsonl``: every verdict (the MSCRED score timeline is read from it);
* ``metrics.json``: ``alog-detect evaluate``'s figures for each model that has labels (DeepLog
  against session labels, MSCRED against window labels), ``null`` and the reason where none;
* ``topk.json``: DeepLog's top-k accuracy (the share of events whose key is among the model's k
  most likely, k = 1..K) on the windows it was trained on and, when the build runs on the built-in
  sample, on held-out windows: a fresh sample of the same generator with another seed, which
  training never saw (its sessions labelled Normal). Logs given by the user have no held-out part
  (training uses every session of them): ``heldout`` is then ``null`` with the reason.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import UserError

METRICS_NAME = "metrics.json"
TOPK_NAME = "topk.json"
VERDICTS_NAME = "verdicts.jsonl"
FORMAT_VERSION = 1
NO_LABELS = "no labels"
MAX_K = 10               # accuracy at k = 1 .. max(MAX_K, the model's top_k)
PREDICT_BATCH = 4096


@dataclass(frozen=True)
class HeldOutSample:
    """A fresh built-in sample that training never saw: same generator, another seed."""
    lines: int
    seed: int


@dataclass(frozen=True)
class EvaluationConfig:
    models: Path                          # the model directory (convert-onnx --output-dir)
    logs: tuple[str, ...]                 # the logs the models were trained on, in order
    out_dir: Path
    sequences: Path | None = None         # build-deeplog's sequences.parquet: the training windows
    session_labels: Path | None = None    # session,label CSV (DeepLog)
    window_labels: Path | None = None     # first_line,last_line CSV (MSCRED)
    heldout: HeldOutSample | None = None  # only for the built-in sample


@dataclass(frozen=True)
class EvaluationResult:
    verdicts: Path
    metrics: Path
    topk: Path


def evaluate_build(config: EvaluationConfig) -> EvaluationResult:
    from ..detect import DetectConfig, detect, load_models

    models = load_models(config.models)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    verdicts = out / VERDICTS_NAME
    with atomic.atomic_path(verdicts) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        detect(DetectConfig(models=Path(config.models), logs=tuple(config.logs), all_verdicts=True), stream)
    metrics = {"format_version": FORMAT_VERSION, "kind": "report-metrics",
               "deeplog": _metrics(verdicts, "deeplog", models.deeplog is not None, config.session_labels),
               "mscred": _metrics(verdicts, "mscred", models.mscred is not None, config.window_labels,
                                  mscred_delay(models.mscred.spec) if models.mscred is not None else 0)}
    atomic.write_json(out / METRICS_NAME, metrics)
    atomic.write_json(out / TOPK_NAME, _topk(models, config))
    return EvaluationResult(verdicts, out / METRICS_NAME, out / TOPK_NAME)


def mscred_delay(spec) -> int:
    """The lines an MSCRED verdict's scored matrices span (the largest signature window, in buckets of
    lines): an anomaly stays in them that long after it ended. 0 under a seconds bucket."""
    return max(spec.window_sizes) * spec.bucket.size if spec.bucket.unit == "lines" else 0


def _metrics(verdicts: Path, model: str, present: bool, labels: Path | None, delay: int = 0) -> dict:
    """``alog-detect evaluate``'s output for ``model``, or why there is none. ``delay``: evaluate's
    --delay, used with window labels that list anomalies only (sample_windows.csv)."""
    from ..evaluate import EvaluateConfig, WindowLabels, evaluate, read_labels

    if not present:
        return {"available": False, "reason": f"no {model} model in the model directory"}
    if labels is None:
        return {"available": False, "reason": NO_LABELS}
    read = read_labels(Path(labels))
    if not (isinstance(read, WindowLabels) and read.anomalous is None):
        delay = 0
    result = evaluate(EvaluateConfig(verdicts=verdicts, labels=Path(labels), model=model, delay=delay))
    # Paths as given, relative to where the build runs: the file must not depend on the machine.
    return {"available": True, **result, "verdicts": VERDICTS_NAME, "labels": Path(labels).name}


# ---- DeepLog top-k accuracy ----------------------------------------------------------------------

def ranks(logits: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The 0-based rank of each true key among its logits, ties broken by the lower index (the
    decision rule's top-k order, alog_detect.deeplog_rule.topk): the key is in the top k iff its
    rank < k."""
    logits = np.asarray(logits, dtype=np.float32)
    truth = logits[np.arange(len(keys)), keys][:, None]
    index = np.arange(logits.shape[1])[None, :]
    ahead = (logits > truth) | ((logits == truth) & (index < keys[:, None]))
    return ahead.sum(axis=1)


def accuracy_at(rank: np.ndarray, k_max: int) -> list[float]:
    return [round(float(np.mean(rank < k)), 6) if len(rank) else 0.0 for k in range(1, k_max + 1)]


def _predict(run, windows: np.ndarray) -> np.ndarray:
    return np.concatenate([run(windows[i:i + PREDICT_BATCH]) for i in range(0, len(windows), PREDICT_BATCH)])


def _training_windows(sequences: Path, window: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    from ..deeplog_data import read_sequences
    from ..deeplog_rule import session_windows

    seqs = read_sequences(sequences)
    keyed = [np.asarray(k, dtype=np.int64) for k in seqs.keys if len(k)]
    if not keyed:
        return np.zeros((0, window), np.int64), np.zeros(0, np.int64)
    return (np.concatenate([session_windows(k.tolist(), window, pad) for k in keyed]),
            np.concatenate(keyed))


def _heldout_windows(models, sample: HeldOutSample) -> tuple[np.ndarray, np.ndarray, str]:
    """The windows of a fresh sample's Normal sessions, matched as the detector matches lines."""
    from ..deeplog_rule import UNKNOWN, SessionWindow
    from ..evaluate import SessionLabels, read_labels
    from ..sample import SampleConfig, generate_sample

    deeplog = models.deeplog
    with tempfile.TemporaryDirectory(prefix="alog-report-heldout-") as tmp:
        result = generate_sample(SampleConfig(out_dir=Path(tmp), lines=sample.lines, seed=sample.seed))
        labels = read_labels(result.labels)
        raw_lines = result.log.read_bytes().splitlines()
    normal = {s for s, anomalous in labels.labels.items() if not anomalous} \
        if isinstance(labels, SessionLabels) else set()
    matcher, rule = models.frontend.matcher(models.vocab.templates), models.frontend.session_rule
    states: dict[str, SessionWindow] = {}
    windows, keys, unseen = [], [], 0
    for raw in raw_lines:
        session = rule.key(raw)
        if session not in normal:
            continue
        key = matcher.match(raw)
        if key == UNKNOWN:
            unseen += 1
            continue
        state = states.setdefault(session, SessionWindow(deeplog.window, deeplog.vocab_size))
        windows.append(state.current())
        keys.append(key)
        state.push(key)
    source = (f"a fresh built-in sample ({sample.lines:,} lines, seed {sample.seed}) that training never "
              f"saw: the {len(states):,} sessions labelled Normal"
              + (f" ({unseen} events of templates unseen in training left out)" if unseen else ""))
    return (np.asarray(windows, dtype=np.int64).reshape(-1, deeplog.window),
            np.asarray(keys, dtype=np.int64), source)


def _topk(models, config: EvaluationConfig) -> dict:
    deeplog = models.deeplog
    if deeplog is None:
        return {"format_version": FORMAT_VERSION, "kind": "deeplog-topk", "available": False,
                "reason": "no deeplog model in the model directory"}
    k_max = max(MAX_K, deeplog.top_k)
    result = {"format_version": FORMAT_VERSION, "kind": "deeplog-topk", "available": True,
              "top_k": deeplog.top_k, "k": list(range(1, k_max + 1))}
    if config.sequences is not None:
        windows, keys = _training_windows(Path(config.sequences), deeplog.window, deeplog.vocab_size)
        result["training"] = {"windows": int(len(keys)), "source": "every event of every training session",
                              "accuracy": accuracy_at(ranks(_predict(deeplog.run, windows), keys), k_max)
                              if len(keys) else accuracy_at(np.zeros(0), k_max)}
    else:
        result["training"] = None
    if config.heldout is None:
        result["heldout"] = None
        result["heldout_reason"] = ("no held-out windows: these logs are not the built-in sample, and "
                                    "training used every session of them")
    else:
        windows, keys, source = _heldout_windows(models, config.heldout)
        if not len(keys):
            raise UserError("the held-out sample gave no window to score", None,
                            "raise the held-out sample's line count")
        result["heldout"] = {"windows": int(len(keys)), "source": source,
                             "accuracy": accuracy_at(ranks(_predict(deeplog.run, windows), keys), k_max)}
    return result

