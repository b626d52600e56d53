"""What one model's export needs, whatever its kind (built by export/deeplog.py, export/mscred.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..deeplog_data import file_sha256
from .exporters import GraphSignature
from .validate import Decision, ValidationInputs

REAL_SHARE = 0.5  # at most this share of the validation inputs are real windows


@dataclass(frozen=True)
class ModelPlan:
    kind: str
    onnx_name: str
    checkpoint: Path
    model: object                  # torch.nn.Module in eval mode, at the export shape
    example: object                # torch.Tensor, batch 2, used only for tracing
    signature: GraphSignature
    section: dict                  # the kind's block in the meta file (what a detector needs)
    training: dict                 # hyperparameters and training summary from the checkpoint
    decision: Decision
    validation_inputs: Callable[[int], ValidationInputs]


def training_block(checkpoint: Path, ckpt: dict) -> dict:
    """Hyperparameters and the scalar training summary (per-epoch lists stay in the checkpoint)."""
    summary = {k: v for k, v in ckpt.get("training", {}).items() if not isinstance(v, (list, tuple))}
    return {"checkpoint": checkpoint.name, "checkpoint_sha256": file_sha256(checkpoint),
            "hyperparameters": ckpt.get("config", {}), "summary": summary,
            "alog_detect_version": ckpt.get("alog_detect_version")}


def find_training_data(candidates, expected_sha256: str | None):
    """The first candidate file whose SHA-256 is the one the checkpoint recorded for its data."""
    for path in candidates:
        if path is not None and path.is_file() and expected_sha256 and file_sha256(path) == expected_sha256:
            return path
    return None


def spread(rows: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` distinct rows, evenly spread over ``rows`` (deterministic)."""
    unique = np.unique(rows, axis=0) if len(rows) else rows
    if len(unique) <= count:
        return unique
    return unique[np.linspace(0, len(unique) - 1, count).round().astype(np.int64)]


def real_count(total: int) -> int:
    return int(total * REAL_SHARE)
