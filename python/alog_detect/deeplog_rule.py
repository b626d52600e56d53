"""The DeepLog decision rule: the one Python implementation, used by training checks, detection,
evaluation and the benchmarks (the C engine implements the same rule; docs/detection.md).

For each event of a session, in line order:

1. The window is the session's last ``window`` *known* keys, left-padded with PAD
   (= ``vocab_size``) while the session has fewer; the first event sees an all-PAD window.
2. The model gives logits ``(outputs,)`` for that window: ``vocab_size`` of them, or
   ``vocab_size + 1`` for a model trained with the END key, whose index ``vocab_size`` is END
   (the same number as PAD: PAD is never a target, END never an input). The top-k set is the
   ``k`` indices with the largest logits, ties broken by the lower index (all indices when
   ``k >= outputs``).
3. Verdict: a key of UNKNOWN (-1, a template unseen in training) is an anomaly (``unseen``,
   with an empty top-k list: the model need not run). Otherwise, by the rule:
   ``topk``: an anomaly when its key is not in the top-k set (``not_in_topk``);
   ``probability``: an anomaly when the model's probability of its key, `probabilities`, is
   below the calibrated threshold ``prob_threshold`` (``low_probability``); else normal (``ok``).
4. A known key is then pushed into the window; UNKNOWN is *not* pushed (the model has no input
   for it, and one strange line should not blind the window to what follows).
5. When the session closes (docs/detection.md 2.2) and the model has the END key, END is judged
   with the window as it stands (`end_window`), by the same rule, except that under the
   probability rule END has its own threshold, ``end_threshold`` (a normal session's END is far
   likelier than its rarest normal event); an anomalous END is an ``early_end``: the session
   stopped where the model did not expect it to.

A session is anomalous when any of its events (or its END) is. No torch here: logits come from
any predictor (PyTorch, onnxruntime) as a numpy array.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

UNKNOWN = -1
REASON_OK = "ok"
REASON_NOT_IN_TOPK = "not_in_topk"
REASON_UNKNOWN = "unseen"
REASON_LOW_PROBABILITY = "low_probability"
REASON_EARLY_END = "early_end"

RULE_TOPK = "topk"
RULE_PROBABILITY = "probability"
RULES = (RULE_TOPK, RULE_PROBABILITY)
# deeplog-train's calibration defaults (docs/detection.md 2.3).
DEFAULT_CALIBRATION_FRACTION = 0.1
DEFAULT_TARGET_FPR = 0.001

Predictor = Callable[[np.ndarray], np.ndarray]  # windows (n, window) int64 -> logits (n, outputs) float


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


def session_windows(keys: Sequence[int], window: int, pad: int, end: bool = False) -> np.ndarray:
    """The window each event of a session is judged with: int64 ``(len(keys), window)``; with
    ``end``, one more row, the window END is judged with when the session closes
    (``(len(keys) + 1, window)``)."""
    state = SessionWindow(window, pad)
    rows = np.empty((len(keys) + bool(end), window), dtype=np.int64)
    for i, key in enumerate(keys):
        rows[i] = state.current()
        state.push(key)
    if end:
        rows[len(keys)] = state.current()
    return rows


def end_window(keys: Sequence[int], window: int, pad: int) -> np.ndarray:
    """The window END is judged with after ``keys``: their last ``window`` known keys,
    left-padded with PAD (what `SessionWindow.current` shows after all were pushed)."""
    return session_windows(keys, window, pad, end=True)[-1]


def session_keys(keys: Sequence[int], pad: int, end: bool = False) -> list[int]:
    """The keys judged for a session: its events' keys, then END (= ``pad``) with ``end``."""
    return list(keys) + ([pad] if end else [])


def topk(logits: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest logits along the last axis, largest first, ties -> lower index."""
    # A stable sort of the negated logits keeps equal values in index order.
    return np.argsort(-np.asarray(logits), axis=-1, kind="stable")[..., :k]


def probabilities(logits: np.ndarray, keys: Sequence[int]) -> np.ndarray:
    """The model's probability of each row's key, float64 ``(n,)`` (NaN for UNKNOWN keys), exactly
    as docs/detection.md 2.3 computes it, so that the C engine gets the same bits:

        m = max(l); e_i = exp((double) l_i - m); s = e_0 + e_1 + ... (in index order); p = e_t / s

    ``exp`` is the C library's (`math.exp`), not numpy's vectorised one, whose last bit depends on
    the CPU's vector extensions (a calibrated threshold must not depend on the machine); the
    engine's own exp is within 1 ulp of it. The sum is sequential (`np.cumsum`), not numpy's
    pairwise sum.
    """
    logits = np.asarray(logits)
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    n = len(keys)
    if n == 0:
        return np.empty(0, dtype=np.float64)
    wide = logits.astype(np.float64).reshape(n, -1)
    shifted = wide - wide.max(axis=1, keepdims=True)
    e = np.fromiter(map(math.exp, shifted.ravel().tolist()), dtype=np.float64,
                    count=shifted.size).reshape(shifted.shape)
    total = np.cumsum(e, axis=1)[:, -1]
    known = keys != UNKNOWN
    out = np.full(n, np.nan, dtype=np.float64)
    rows = np.flatnonzero(known)
    out[rows] = e[rows, keys[rows]] / total[rows]
    return out


@dataclass(frozen=True)
class Verdicts:
    """Verdicts for a run of events: ``topk`` (n, k) int64, ``anomaly`` (n,) bool, ``reasons``;
    ``probability`` (n,) float64 under the probability rule (NaN for UNKNOWN), else None.

    ``topk`` rows of UNKNOWN events hold what the model said but are not part of the verdict:
    ``topk_lists()`` gives the verdicts' lists, empty for those events. From `judge_sessions`
    with ``end``, the last row is the session's END."""

    topk: np.ndarray
    anomaly: np.ndarray
    reasons: tuple[str, ...]
    probability: np.ndarray | None = None

    def topk_lists(self) -> list[list[int]]:
        return [[] if r == REASON_UNKNOWN else row for r, row in zip(self.reasons, self.topk.tolist())]


def _check_threshold(name: str, threshold: float | None) -> None:
    if threshold is None or not math.isfinite(threshold):
        raise ValueError(f"the probability rule needs a finite {name}, not {threshold!r}")


def check_rule(rule: str, threshold: float | None, end_threshold: float | None = None,
               end: bool = False) -> None:
    """``end``: END is judged too (then the probability rule also needs ``end_threshold``)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r} (known: {', '.join(RULES)})")
    if rule == RULE_PROBABILITY:
        _check_threshold("threshold", threshold)
        if end:
            _check_threshold("end_threshold", end_threshold)


def judge(logits: np.ndarray, keys: Sequence[int], k: int, rule: str = RULE_TOPK,
          threshold: float | None = None, end: Sequence[bool] | np.ndarray | None = None,
          end_threshold: float | None = None) -> Verdicts:
    """Apply steps 2-3 to ``logits`` (n, outputs) and the events' keys (n,). ``end`` (n,) bool
    marks the rows that judge END (key = vocab_size = PAD): their anomaly reason is
    ``early_end``. Under the probability rule, events are judged against ``threshold``
    (`prob_threshold`) and END rows against ``end_threshold``."""
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    ends = np.zeros(len(keys), dtype=bool) if end is None else np.asarray(end, dtype=bool).reshape(-1)
    check_rule(rule, threshold, end_threshold, bool(ends.any()))
    top = topk(logits, k)
    unknown = keys == UNKNOWN
    if rule == RULE_TOPK:
        normal = (top == keys[:, None]).any(axis=1)
        miss, prob = REASON_NOT_IN_TOPK, None
    else:
        prob = probabilities(logits, keys)
        limit = np.where(ends, end_threshold, threshold) if ends.any() else threshold
        normal = ~(prob < limit) | unknown
        miss = REASON_LOW_PROBABILITY
    anomaly = unknown | ~normal
    reasons = tuple(REASON_UNKNOWN if u else (REASON_OK if ok else (REASON_EARLY_END if e else miss))
                    for u, ok, e in zip(unknown.tolist(), normal.tolist(), ends.tolist()))
    return Verdicts(top, anomaly, reasons, prob)


def judge_end(logits: np.ndarray, k: int, rule: str = RULE_TOPK, end_threshold: float | None = None) -> Verdicts:
    """The END verdicts of closing sessions from their END windows' logits (n, vocab_size + 1);
    ``end_threshold``: the probability rule's threshold for END."""
    logits = np.asarray(logits)
    n = logits.shape[0]
    return judge(logits, np.full(n, logits.shape[-1] - 1, dtype=np.int64), k, rule, end_threshold,
                 np.ones(n, dtype=bool), end_threshold)


def session_logits(predict: Predictor, sessions: Iterable[Sequence[int]], window: int, pad: int,
                   end: bool = False, batch_size: int = 4096) -> list[np.ndarray]:
    """The logits of every window of every session (with ``end``, its END window last), predicted
    in batches of stacked windows and split back per session; the answer does not depend on
    ``batch_size``. Run the model once, then `judge` the rows under any rule or top-k."""
    sessions = [list(s) for s in sessions]
    windows = [session_windows(s, window, pad, end) for s in sessions]
    stacked = np.concatenate(windows) if windows else np.empty((0, window), dtype=np.int64)
    logits = [predict(stacked[i:i + batch_size]) for i in range(0, len(stacked), batch_size)]
    logits = np.concatenate(logits) if logits else np.empty((0, pad + bool(end)), dtype=np.float32)
    out, start = [], 0
    for rows in windows:
        out.append(logits[start:start + len(rows)])
        start += len(rows)
    return out


def judge_session(logits: np.ndarray, keys: Sequence[int], k: int, pad: int, rule: str = RULE_TOPK,
                  threshold: float | None = None, end: bool = False,
                  end_threshold: float | None = None) -> Verdicts:
    """One session's verdicts from its `session_logits` (with ``end``, the last row is END)."""
    marks = [False] * len(keys) + ([True] if end else [])
    return judge(logits, session_keys(keys, pad, end), k, rule, threshold, marks, end_threshold)


def judge_sessions(predict: Predictor, sessions: Iterable[Sequence[int]], window: int, pad: int,
                   k: int, batch_size: int = 4096, *, rule: str = RULE_TOPK,
                   threshold: float | None = None, end: bool = False,
                   end_threshold: float | None = None) -> list[Verdicts]:
    """Verdicts for every event of every session (keys already mapped, UNKNOWN = -1); with ``end``
    (a model trained with the END key, closed sessions) each session's last verdict is its END.

    Windows of all sessions are stacked and predicted in batches; results are split back per
    session, so the answer does not depend on ``batch_size``.
    """
    sessions = [list(s) for s in sessions]
    logits = session_logits(predict, sessions, window, pad, end, batch_size)
    return [judge_session(rows, keys, k, pad, rule, threshold, end, end_threshold)
            for rows, keys in zip(logits, sessions)]


def session_probabilities(logits: np.ndarray, keys: Sequence[int], pad: int, end: bool = False) -> tuple[float, float]:
    """``(events, end)``: the smallest probability among a session's known events (+inf when
    none) and, with ``end`` (its END row last in ``logits``), the probability of its END (NaN
    without). Under the probability rule the session is anomalous iff ``events < prob_threshold``
    or ``end < end_threshold``."""
    p = probabilities(logits, session_keys(keys, pad, end))
    events = p[:len(keys)]
    events = events[~np.isnan(events)]
    return (float(events.min()) if len(events) else math.inf), (float(p[-1]) if end else math.nan)


def calibration_probabilities(predict: Predictor, sessions: Iterable[Sequence[int]], window: int, pad: int,
                              end: bool = False, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """`session_probabilities` of every session: float64 ``(n,)`` event minima and END
    probabilities (empty without ``end``)."""
    sessions = [list(s) for s in sessions]
    logits = session_logits(predict, sessions, window, pad, end, batch_size)
    pairs = [session_probabilities(rows, keys, pad, end) for rows, keys in zip(logits, sessions)]
    events = np.array([e for e, _ in pairs], dtype=np.float64)
    ends = np.array([x for _, x in pairs] if end else [], dtype=np.float64)
    return events, ends


def calibrate_threshold(mins: Sequence[float], target_fpr: float) -> float | None:
    """A threshold from held-out normal sessions' probabilities: the ``target_fpr`` quantile,
    numpy's "lower" method (one of the values itself); None with fewer than 2 sessions.
    A held-out session is then anomalous under the strict rule ``p < threshold`` in at most a
    ``target_fpr`` fraction of them."""
    mins = np.asarray(mins, dtype=np.float64)
    if len(mins) < 2:
        return None
    return float(np.quantile(mins, target_fpr, method="lower"))


def calibrate_thresholds(events: Sequence[float], ends: Sequence[float] | None,
                         target_fpr: float) -> tuple[float | None, float | None]:
    """``(prob_threshold, end_threshold)`` (docs/detection.md 2.3): with END probabilities
    (a model with the END key), each is the `calibrate_threshold` of its values at
    ``target_fpr / 2``, so that the two share the session-level budget; without (``ends`` None),
    ``prob_threshold`` takes the whole ``target_fpr`` and ``end_threshold`` is None."""
    if ends is None:
        return calibrate_threshold(events, target_fpr), None
    return calibrate_threshold(events, target_fpr / 2), calibrate_threshold(ends, target_fpr / 2)


def session_is_anomalous(verdicts: Verdicts) -> bool:
    return bool(verdicts.anomaly.any())
