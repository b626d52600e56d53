"""DeepLog (Du et al., CCS 2017): an LSTM over windows of log keys that predicts the next key.

Key space: ``0 .. vocab_size-1`` are templates; ``vocab_size`` is PAD, which fills a session's
window before it has ``window`` keys of its own (so every event of a session gets a verdict).
Input ``keys``: int64 ``(batch, window)``; output ``logits``: float32 ``(batch, outputs)``, where
``outputs`` is ``vocab_size``, or ``vocab_size + 1`` for a model with the END key (``end_key``):
output ``vocab_size`` is then END, the end of the session (docs/detection.md 2.2). PAD is never a
target and END never an input, so they share the number.

Written for export: batch-first LSTM with no explicit initial state (ONNX defaults it to zeros),
last step taken by index, so the simplified graph is Gather, Transpose, LSTM, Squeeze, Gemm.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class DeepLogConfig:
    vocab_size: int
    window: int = 10
    embed_dim: int = 32
    hidden: int = 64
    layers: int = 2
    top_k: int = 9
    end_key: bool = False

    def __post_init__(self):
        for name in ("vocab_size", "window", "embed_dim", "hidden", "layers", "top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def pad_index(self) -> int:
        return self.vocab_size

    @property
    def end_index(self) -> int | None:
        """The END output's index (= vocab_size), None without the END key."""
        return self.vocab_size if self.end_key else None

    @property
    def outputs(self) -> int:
        return self.vocab_size + (1 if self.end_key else 0)


class DeepLog(nn.Module):
    def __init__(self, config: DeepLogConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size + 1, config.embed_dim)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden, num_layers=config.layers, batch_first=True)
        self.head = nn.Linear(config.hidden, config.outputs)

    def forward(self, keys: torch.Tensor) -> torch.Tensor:  # keys: (batch, window) int64
        x = self.embed(keys)             # (batch, window, embed_dim)
        out, _ = self.lstm(x)            # (batch, window, hidden)
        return self.head(out[:, -1, :])  # (batch, outputs)
