"""The DeepLog decision rule: the one Python implementation, used by training checks, detection,
evaluation and the benchmarks (the C engine implements the same rule; docs/detection.md).

For each event of a session, in line order:

1. The window is the session's last ``window`` *known* keys, left-padded with PAD
   (= ``vocab_size``) while the session has fewer; the first event sees an all-PAD window.
2. The model gives logits ``(vocab_size,)`` for that window. The top-k set is the ``k`` indices
   with the largest logits, ties broken by the lower index (all indices when ``k >= vocab_size``).
3. Verdict: a key of UNKNOWN (-1, a template unseen in training) is an anomaly (``unseen``,
   with an empty top-k list: the model need not run); otherwise the event is an anomaly when its key is not in the top-k set
   (``not_in_topk``), else normal (``ok``).
4. A known key is then pushed into the window; UNKNOWN is *not* pushed (the model has no input
   for it, and one strange line should not blind the window to what follows).

A session is anomalous when any of its events is. No torch here: logits come from any predictor
(PyTorch, onnxruntime) as a numpy array.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

UNKNOWN = -1
REASON_OK = "ok"
REASON_NOT_IN_TOPK = "not_in_topk"
REASON_UNKNOWN = "unseen"

Predictor = Callable[[np.ndarray], np.ndarray]  # windows (n, window) int64 -> logits (n, V) float


class SessionWindow:
    """One session's window: the last ``window`` known keys, left-padded with PAD."""

    def __init__(self, window: int, pad: int):
        self.window = window
        self.pad = pad
        self._keys: deque[int] = deque(maxlen=window)

    def current(self) -> list[int]:
        return [self.pad] * (self.window - len(self._keys)) + list(self._keys)

    def push(self, key: int) -> None:
        if key != UNKNOWN:
            self._keys.append(key)


def session_windows(keys: Sequence[int], window: int, pad: int) -> np.ndarray:
    """The window each event of a session is judged with: int64 ``(len(keys), window)``."""
    state = SessionWindow(window, pad)
    rows = np.empty((len(keys), window), dtype=np.int64)
    for i, key in enumerate(keys):
        rows[i] = state.current()
        state.push(key)
    return rows


def topk(logits: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest logits along the last axis, largest first, ties -> lower index."""
    # A stable sort of the negated logits keeps equal values in index order.
    return np.argsort(-np.asarray(logits), axis=-1, kind="stable")[..., :k]


@dataclass(frozen=True)
class Verdicts:
    """Verdicts for a run of events: ``topk`` (n, k) int64, ``anomaly`` (n,) bool, ``reasons``.

    ``topk`` rows of UNKNOWN events hold what the model said but are not part of the verdict:
    ``topk_lists()`` gives the verdicts' lists, empty for those events."""

    topk: np.ndarray
    anomaly: np.ndarray
    reasons: tuple[str, ...]

    def topk_lists(self) -> list[list[int]]:
        return [[] if r == REASON_UNKNOWN else row for r, row in zip(self.reasons, self.topk.tolist())]


def judge(logits: np.ndarray, keys: Sequence[int], k: int) -> Verdicts:
    """Apply steps 2-3 to ``logits`` (n, V) and the events' keys (n,)."""
    keys = np.asarray(keys, dtype=np.int64)
    top = topk(logits, k)
    unknown = keys == UNKNOWN
    in_top = (top == keys[:, None]).any(axis=1)
    anomaly = unknown | ~in_top
    reasons = tuple(REASON_UNKNOWN if u else (REASON_OK if t else REASON_NOT_IN_TOPK)
                    for u, t in zip(unknown.tolist(), in_top.tolist()))
    return Verdicts(top, anomaly, reasons)


def judge_sessions(predict: Predictor, sessions: Iterable[Sequence[int]], window: int, pad: int,
                   k: int, batch_size: int = 4096) -> list[Verdicts]:
    """Verdicts for every event of every session (keys already mapped, UNKNOWN = -1).

    Windows of all sessions are stacked and predicted in batches; results are split back per
    session, so the answer does not depend on ``batch_size``.
    """
    sessions = [list(s) for s in sessions]
    windows = [session_windows(s, window, pad) for s in sessions]
    stacked = np.concatenate(windows) if windows else np.empty((0, window), dtype=np.int64)
    logits = [predict(stacked[i:i + batch_size]) for i in range(0, len(stacked), batch_size)]
    logits = np.concatenate(logits) if logits else np.empty((0, pad), dtype=np.float32)
    out, start = [], 0
    for keys in sessions:
        end = start + len(keys)
        out.append(judge(logits[start:end], keys, k))
        start = end
    return out


def session_is_anomalous(verdicts: Verdicts) -> bool:
    return bool(verdicts.anomaly.any())
