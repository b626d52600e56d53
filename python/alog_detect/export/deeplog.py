"""DeepLog's export plan: input ``keys`` int64 (batch, seq_len), output ``logits`` (batch, outputs):
V, or V + 1 for a model with the END key (docs/detection.md 2.2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..deeplog_data import read_sequences
from ..deeplog_rule import session_windows, topk
from ..vocab import Vocab
from .config import DEEPLOG_ONNX, ExportConfig
from .exporters import GraphSignature
from .plan import ModelPlan, find_training_data, real_count, spread, training_block
from .validate import Decision, ValidationInputs

SIGNATURE = GraphSignature("keys", "logits")
SEQUENCES_NAME = "sequences.parquet"


def plan_deeplog(config: ExportConfig, vocab: Vocab) -> ModelPlan:
    import torch

    from ..train.deeplog import load_deeplog_checkpoint

    path = Path(config.deeplog_model)
    loaded = load_deeplog_checkpoint(path, config.vocab)
    cfg = loaded.config
    # The LSTM runs any length, so the exported window may differ from the trained one.
    seq_len = config.seq_len or cfg.window
    calibration = loaded.calibration
    section = {"seq_len": seq_len, "trained_window": cfg.window, "top_k": cfg.top_k,
               "vocab_size": cfg.vocab_size, "pad_index": cfg.pad_index, "num_keys": cfg.vocab_size + 1,
               "end_key": cfg.end_key, "outputs": cfg.outputs, "rule": loaded.rule,
               "prob_threshold": loaded.prob_threshold, "end_threshold": loaded.end_threshold,
               "calibration": None if calibration is None else
               {"target_fpr": calibration["target_fpr"], "sessions": calibration["sessions"],
                "seed": calibration["seed"]}}
    data = _training_data(config, path, loaded.checkpoint)

    def validation_inputs(total: int) -> ValidationInputs:
        return _inputs(data, seq_len, cfg.pad_index, total)

    def borderline(x, logits, margin):
        # the k-th and (k+1)-th largest logits within 2 margins: the set can change
        top = -np.sort(-np.asarray(logits, dtype=np.float64), axis=1)
        if top.shape[1] <= cfg.top_k:
            return np.zeros(len(top), dtype=bool)
        return top[:, cfg.top_k - 1] - top[:, cfg.top_k] <= 2 * margin

    return ModelPlan(
        kind="deeplog", onnx_name=DEEPLOG_ONNX, checkpoint=path, model=loaded.model,
        example=torch.zeros((2, seq_len), dtype=torch.int64), signature=SIGNATURE, section=section,
        training=training_block(path, loaded.checkpoint),
        decision=Decision(f"top-{cfg.top_k} sets", lambda x, logits: np.sort(topk(logits, cfg.top_k), axis=1),
                          borderline),
        validation_inputs=validation_inputs)


def _training_data(config: ExportConfig, checkpoint: Path, ckpt: dict) -> Path | None:
    if config.deeplog_data is not None:
        return Path(config.deeplog_data)
    # build-deeplog writes sequences.parquet beside vocab.json; accept it only if it is the file
    # the checkpoint was trained on.
    candidates = [Path(config.vocab).with_name(SEQUENCES_NAME), checkpoint.with_name(SEQUENCES_NAME)]
    return find_training_data(candidates, ckpt.get("training", {}).get("data_sha256"))


def _inputs(data: Path | None, seq_len: int, pad: int, total: int) -> ValidationInputs:
    real = np.empty((0, seq_len), dtype=np.int64)
    source = "none: no sequences.parquet found beside the vocabulary or checkpoint (--deeplog-data)"
    if data is not None:
        seqs = read_sequences(data)
        windows = [session_windows(keys, seq_len, pad) for keys in seqs.keys if keys]
        if windows:
            real = spread(np.concatenate(windows), real_count(total))
        source = data.name
    rng = np.random.default_rng(0)
    random = rng.integers(0, pad + 1, size=(total - len(real), seq_len), dtype=np.int64)
    return ValidationInputs(np.concatenate([real, random]), len(real), source)
