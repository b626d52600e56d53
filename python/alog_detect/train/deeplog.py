"""deeplog-train: sequences.parquet + vocab.json -> deeplog.pth (+ deeplog.pth.png).

Training pairs are (window, next key) for *every* event of every session, windows built by the
decision rule's own ``session_windows`` (left-padded with PAD), and, with the END key (the
default; ``--no-end-key`` trains the older model without it), one more pair per session: its last
window, target END (= vocab_size), so the model learns where sessions end (docs/detection.md 2.2).
Identical windows are merged into one row whose target is the empirical next-key distribution,
weighted by how often the window occurs: the loss is exactly the mean cross-entropy over all
pairs, at a fraction of the cost on logs as repetitive as HDFS.

Calibration (docs/detection.md 2.3): a seeded ``calibration_fraction`` of the sessions is held out
of training; the probability rule's threshold is the ``target_fpr`` quantile ("lower") of the
held-out sessions' minimum probabilities (events and END), None with fewer than 2 of them.

Reproducible: a fixed seed drives initialisation and shuffling inside a forked RNG, with
deterministic algorithms on one thread; the same inputs and flags give identical weights.

Checkpoint (``torch.save`` of a dict; loads with ``weights_only=True``)::

    format_version 1, kind "deeplog", config {model fields (end_key included) + epochs, batch_size,
    lr, seed, optimizer}, state_dict, vocab_sha256, vocab_size, training {final_loss, losses, seed,
    epochs, data_sha256, n_sessions, n_train_sessions, n_events, n_pairs, n_windows}, calibration {rule,
    prob_threshold, end_threshold, target_fpr, fraction, sessions, seed}, alog_detect_version

A checkpoint written before the END key (no ``end_key``, no ``calibration``) reads as a model
without END, rule "topk", no threshold; one calibrated before the END threshold (no
``end_threshold``) reads as end_threshold None.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .. import __version__, atomic
from ..deeplog_data import SessionSequences, file_sha256, read_sequences
from ..deeplog_rule import (DEFAULT_CALIBRATION_FRACTION, DEFAULT_TARGET_FPR, RULE_PROBABILITY, RULE_TOPK,
                            RULES, calibrate_thresholds, calibration_probabilities, session_windows)
from ..errors import UserError
from ..models.deeplog import DeepLog, DeepLogConfig
from ..vocab import Vocab, load_any_vocab, load_vocab
from . import checkpoint_bytes, read_checkpoint, render_training_curve, training_curve_path

CHECKPOINT_FORMAT_VERSION = 1
CHECKPOINT_KIND = "deeplog"
_MODEL_FIELDS = tuple(f.name for f in dataclasses.fields(DeepLogConfig))
# Model fields a checkpoint may lack (written before they existed), with the value they then mean.
_MODEL_DEFAULTS = {"end_key": False}


@dataclass(frozen=True)
class DeepLogTrainConfig:
    seq: Path
    vocab: Path
    out: Path
    hidden: int = 64
    layers: int = 2
    window: int | None = None  # None: the window sequences.parquet was built for
    top_k: int = 9
    embed_dim: int = 32
    epochs: int = 40
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    progress: bool = True
    end_key: bool = True                 # train the END output (docs/detection.md 2.2)
    calibration_fraction: float = DEFAULT_CALIBRATION_FRACTION   # sessions held out to calibrate
    target_fpr: float = DEFAULT_TARGET_FPR
    rule: str = RULE_TOPK                # the default rule recorded for detectors

    def __post_init__(self):
        for name in ("hidden", "layers", "top_k", "embed_dim", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}",
                                None, "pass a positive value")
        if self.window is not None and self.window < 1:
            raise UserError(f"--window must be >= 1, got {self.window}", None, "pass a positive value")
        if not self.lr > 0:
            raise UserError(f"--lr must be > 0, got {self.lr}", None, "pass a positive learning rate")
        if not 0 <= self.calibration_fraction < 1:
            raise UserError(f"--calibration-fraction must be in [0, 1), got {self.calibration_fraction}", None,
                            f"pass a fraction of the sessions such as {DEFAULT_CALIBRATION_FRACTION} (0: no calibration)")
        if not 0 < self.target_fpr < 1:
            raise UserError(f"--target-fpr must be in (0, 1), got {self.target_fpr}", None,
                            f"pass a false-positive rate such as {DEFAULT_TARGET_FPR}")
        if self.rule not in RULES:
            raise UserError(f"--rule must be one of {', '.join(RULES)}, got {self.rule!r}", None,
                            f"pass --rule {RULE_TOPK} or --rule {RULE_PROBABILITY}")


@dataclass(frozen=True)
class DeepLogTrainResult:
    checkpoint: Path
    curve: Path
    losses: tuple[float, ...]
    n_windows: int
    prob_threshold: float | None = None
    calibration_sessions: int = 0
    end_threshold: float | None = None


@dataclass(frozen=True)
class LoadedDeepLog:
    model: DeepLog            # in eval mode
    config: DeepLogConfig
    checkpoint: dict
    vocab: Vocab | None       # the vocabulary checked against, when one was given

    @property
    def calibration(self) -> dict | None:
        return self.checkpoint.get("calibration")

    @property
    def rule(self) -> str:
        return (self.calibration or {}).get("rule", RULE_TOPK)

    @property
    def prob_threshold(self) -> float | None:
        value = (self.calibration or {}).get("prob_threshold")
        return None if value is None else float(value)

    @property
    def end_threshold(self) -> float | None:
        """The probability rule's threshold for END (None: not calibrated, or no END key)."""
        value = (self.calibration or {}).get("end_threshold")
        return None if value is None else float(value)


# ---- data ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Dataset:
    windows: torch.Tensor   # (U, window) int64, unique windows
    targets: torch.Tensor   # (U, outputs) float32, next-key distribution per window (END last)
    weights: torch.Tensor   # (U,) float32, how many pairs each window stands for
    n_pairs: int            # training pairs: events, plus one END pair per session with the END key
    n_events: int


def _check_sequences(seqs: SessionSequences, vocab: Vocab, config: DeepLogTrainConfig) -> None:
    if seqs.vocab_sha256 != vocab.sha256:
        raise UserError(f"sequences were built with another vocabulary (sha256 {seqs.vocab_sha256[:12]}"
                        f", {config.vocab} has {vocab.sha256[:12]})", config.seq,
                        "pass the vocab.json written beside it by the same `alog-detect build-deeplog`")
    if not any(seqs.keys):
        raise UserError("no session has any event", config.seq, "rebuild it from non-empty logs")


# Events turned into windows at a time: memory follows the distinct windows, not the events.
DATASET_CHUNK_EVENTS = 1 << 18


def _dataset(sessions: list[list[int]], window: int, vocab_size: int, end_key: bool) -> _Dataset:
    """The distinct windows (sorted as np.unique sorts them) with their next-key counts, gathered
    a chunk of sessions at a time; with ``end_key``, each session's last window counts END
    (= vocab_size) once."""
    outputs = vocab_size + (1 if end_key else 0)
    seen: dict[bytes, int] = {}
    rows: list[np.ndarray] = []
    counts = np.zeros((0, outputs), dtype=np.float64)
    n_pairs = 0

    def add(windows: list[np.ndarray], targets: list) -> None:
        nonlocal counts
        chunk, inverse = np.unique(np.concatenate(windows), axis=0, return_inverse=True)
        ids = np.empty(len(chunk), dtype=np.int64)
        for i, row in enumerate(chunk):
            ids[i] = seen.setdefault(row.tobytes(), len(seen))
            if ids[i] == len(rows):
                rows.append(row)
        if len(rows) > len(counts):
            counts = np.concatenate([counts, np.zeros((len(rows) - len(counts), outputs))])
        np.add.at(counts, (ids[inverse.reshape(-1)], np.concatenate(targets)), 1.0)

    windows: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    pending = 0
    for keys in sessions:
        if not keys:
            continue
        windows.append(session_windows(keys, window, vocab_size, end=end_key))
        targets.append(np.asarray(list(keys) + ([vocab_size] if end_key else []), dtype=np.int64))
        pending += len(keys) + (1 if end_key else 0)
        if pending >= DATASET_CHUNK_EVENTS:
            add(windows, targets)
            n_pairs, pending, windows, targets = n_pairs + pending, 0, [], []
    if windows:
        add(windows, targets)
        n_pairs += pending
    unique, order = np.unique(np.stack(rows), axis=0, return_inverse=True)
    counts_sorted = np.zeros((len(unique), outputs), dtype=np.float64)
    counts_sorted[order.reshape(-1)] = counts
    counts = counts_sorted
    weights = counts.sum(axis=1)
    return _Dataset(torch.from_numpy(unique), torch.from_numpy((counts / weights[:, None]).astype(np.float32)),
                    torch.from_numpy(weights.astype(np.float32)), n_pairs,
                    n_pairs - (sum(1 for keys in sessions if keys) if end_key else 0))


# ---- training --------------------------------------------------------------------------------

@contextlib.contextmanager
def _reproducible(seed: int) -> Iterator[torch.Generator]:
    """Seeded, deterministic, single-threaded; restores the caller's torch settings after."""
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        try:
            yield torch.Generator().manual_seed(seed)
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)


def _run_epochs(model: DeepLog, data: _Dataset, config: DeepLogTrainConfig,
                generator: torch.Generator) -> list[float]:
    from tqdm import tqdm

    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses = []
    bar = tqdm(range(config.epochs), desc="deeplog-train", unit="epoch", disable=not config.progress)
    for _ in bar:
        model.train()
        order = torch.randperm(len(data.windows), generator=generator)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            w = data.weights[idx]
            per_row = F.cross_entropy(model(data.windows[idx]), data.targets[idx], reduction="none")
            loss = (per_row * w).sum() / w.sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * float(w.sum())
        losses.append(total / data.n_pairs)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    model.eval()
    return losses


def split_sessions(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (sorted) of the sessions trained on and held out for calibration: a seeded
    ``floor(fraction * n)`` of the ``n`` sessions, chosen by a permutation of numpy's default
    generator seeded with ``seed``."""
    held = int(np.floor(fraction * n))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[held:]), np.sort(order[:held])


def calibrate(model: DeepLog, sessions: list[list[int]], target_fpr: float) -> tuple[float | None, float | None]:
    """The probability rule's ``(prob_threshold, end_threshold)`` from held-out normal sessions
    (docs/detection.md 2.3); ``end_threshold`` is None for a model without the END key."""
    cfg = model.config
    events, ends = calibration_probabilities(torch_predictor(model), sessions, cfg.window, cfg.pad_index,
                                             end=cfg.end_key)
    return calibrate_thresholds(events, ends if cfg.end_key else None, target_fpr)


def _checkpoint(model: DeepLog, config: DeepLogTrainConfig, vocab: Vocab, losses: list[float],
                seqs: SessionSequences, data: _Dataset, n_train: int, calibration: dict) -> dict:
    hyper = {"epochs": config.epochs, "batch_size": config.batch_size, "lr": config.lr,
             "seed": config.seed, "optimizer": "adam"}
    return {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "kind": CHECKPOINT_KIND,
        "config": {**dataclasses.asdict(model.config), **hyper},
        "state_dict": model.state_dict(),
        "vocab_sha256": vocab.sha256,
        "vocab_size": vocab.size,
        "training": {"final_loss": losses[-1], "losses": list(losses), "seed": config.seed,
                     "epochs": config.epochs, "data_sha256": file_sha256(config.seq),
                     "n_sessions": len(seqs.sessions), "n_train_sessions": n_train,
                     "n_events": data.n_events, "n_pairs": data.n_pairs, "n_windows": len(data.windows)},
        "calibration": calibration,
        "alog_detect_version": __version__,
    }


def train_deeplog(config: DeepLogTrainConfig) -> DeepLogTrainResult:
    vocab = load_vocab(config.vocab)
    seqs = read_sequences(config.seq, lines=False)
    _check_sequences(seqs, vocab, config)
    model_config = DeepLogConfig(vocab_size=vocab.size, window=config.window or seqs.window_size,
                                 embed_dim=config.embed_dim, hidden=config.hidden,
                                 layers=config.layers, top_k=config.top_k, end_key=config.end_key)
    sessions = [list(keys) for keys in seqs.keys if len(keys)]
    train_ids, held_ids = split_sessions(len(sessions), config.calibration_fraction, config.seed)
    data = _dataset([sessions[i] for i in train_ids], model_config.window, vocab.size, config.end_key)
    with _reproducible(config.seed) as generator:
        model = DeepLog(model_config)
        losses = _run_epochs(model, data, config, generator)
    with _reproducible(config.seed):
        threshold, end_threshold = calibrate(model, [sessions[i] for i in held_ids], config.target_fpr)
    if config.rule == RULE_PROBABILITY and threshold is None:
        raise UserError(f"--rule {RULE_PROBABILITY} needs a calibrated threshold, and {len(held_ids)} "
                        f"session(s) were held out (at least 2 are needed)", config.seq,
                        "raise --calibration-fraction, give more sessions, or use --rule topk")
    calibration = {"rule": config.rule, "prob_threshold": threshold, "end_threshold": end_threshold,
                   "target_fpr": config.target_fpr,
                   "fraction": config.calibration_fraction, "sessions": int(len(held_ids)),
                   "seed": config.seed}
    ckpt = _checkpoint(model, config, vocab, losses, seqs, data, int(len(train_ids)), calibration)

    curve = training_curve_path(config.out)
    with atomic.atomic_path(config.out) as ckpt_tmp, atomic.atomic_path(curve) as curve_tmp:
        render_training_curve(curve_tmp, losses, f"DeepLog ({vocab.size} keys, window "
                                                  f"{model_config.window}, {data.n_events} events)",
                              "cross-entropy")
        ckpt_tmp.write_bytes(checkpoint_bytes(ckpt))
    return DeepLogTrainResult(Path(config.out), curve, tuple(losses), len(data.windows), threshold,
                              int(len(held_ids)), end_threshold)


# ---- loading ---------------------------------------------------------------------------------

def _check_vocab(ckpt: dict, path: Path, vocab_path: Path) -> Vocab:
    vocab = load_any_vocab(vocab_path)
    if vocab.size != ckpt["vocab_size"] or vocab.sha256 != ckpt["vocab_sha256"]:
        raise UserError(
            f"checkpoint {path} was trained with another vocabulary (size {ckpt['vocab_size']}, "
            f"sha256 {ckpt['vocab_sha256'][:12]}) than {vocab_path} (size {vocab.size}, "
            f"sha256 {vocab.sha256[:12]})", vocab_path,
            "pass the vocab.json the model was trained with, or retrain with "
            f"`alog-detect deeplog-train --vocab {vocab_path}`")
    return vocab


def load_deeplog_checkpoint(path: str | Path, vocab_path: str | Path | None = None) -> LoadedDeepLog:
    """Load a DeepLog checkpoint (eval mode); with ``vocab_path`` (either vocabulary format),
    refuse it unless it is the vocabulary the model was trained with."""
    path = Path(path)
    ckpt = read_checkpoint(path, CHECKPOINT_KIND, CHECKPOINT_FORMAT_VERSION,
                           {"config", "state_dict", "vocab_sha256", "vocab_size"},
                           "pass a deeplog.pth written by `alog-detect deeplog-train`, or retrain")
    vocab = _check_vocab(ckpt, path, Path(vocab_path)) if vocab_path is not None else None
    try:
        fields = {f: ckpt["config"][f] for f in _MODEL_FIELDS if f not in _MODEL_DEFAULTS}
        fields.update({f: ckpt["config"].get(f, default) for f, default in _MODEL_DEFAULTS.items()})
        config = DeepLogConfig(**fields)
        model = DeepLog(config)
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UserError(f"checkpoint does not describe a DeepLog model ({exc})", path,
                        "retrain with `alog-detect deeplog-train`") from None
    model.eval()
    return LoadedDeepLog(model, config, ckpt, vocab)


def torch_predictor(model: DeepLog):
    """The decision rule's predictor for a PyTorch model: windows (n, w) -> logits (n, outputs)."""
    def predict(windows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(np.ascontiguousarray(windows, dtype=np.int64))).numpy()
    return predict
