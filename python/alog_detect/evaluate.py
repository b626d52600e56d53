"""evaluate: verdict JSON lines + labels -> precision, recall, F1 and TP/FP/FN/TN.

Two kinds of labels, told apart by the CSV header:

* Session labels (loghub ``BlockId,Label`` or ``session,label``; ``Normal``/``Anomaly``, also
  ``0``/``1``). A session is predicted anomalous when any of its verdicts is anomalous. Every
  labelled session is counted; one with no verdict at all counts as predicted normal. Verdict
  sessions missing from the labels are not counted (their number is reported).
* Window labels for per-line ground truth (``first_line,last_line`` 1-based inclusive, optional
  ``label`` column). A window is predicted anomalous when an anomalous verdict's ``line`` falls in
  it. Without a ``label`` column (e.g. ``sample_windows.csv``, ``first_line,last_line,kind``) every
  listed window is an anomaly and the lines between them, up to the last line seen in the verdicts
  or labels, are cut into normal windows of ``tile`` lines (default: the median length of the
  listed windows), so false positives and true negatives are counted on comparable units.

Metrics with a zero denominator are 0.0. Output: one JSON object (``format_version`` 1).
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from . import atomic
from .errors import UserError

METRICS_FORMAT_VERSION = 1
_ANOMALY = {"anomaly": True, "1": True, "true": True, "abnormal": True,
            "normal": False, "0": False, "false": False}
_SESSION_COLUMNS = (("BlockId", "Label"), ("session", "label"))


@dataclass(frozen=True)
class EvaluateConfig:
    verdicts: Path          # "-" reads standard input
    labels: Path
    out: Path | None = None
    model: str | None = None  # only verdicts of this model (default: all)
    tile: int | None = None   # window labels without a label column: normal window length


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict:
        return {"precision": round(self.precision, 6), "recall": round(self.recall, 6),
                "f1": round(self.f1, 6), "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


def confusion(predicted: Iterable[bool], actual: Iterable[bool]) -> Confusion:
    counts = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    for p, a in zip(predicted, actual, strict=True):
        counts[(bool(p), bool(a))] += 1
    return Confusion(tp=counts[(True, True)], fp=counts[(True, False)],
                     fn=counts[(False, True)], tn=counts[(False, False)])


def session_confusion(anomalous_sessions: set[str], labels: Mapping[str, bool]) -> Confusion:
    """Labelled sessions are the population; those not in ``anomalous_sessions`` are normal."""
    return confusion((s in anomalous_sessions for s in labels), labels.values())


# ---- reading ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    model: str
    session: str | None
    line: int | None
    anomaly: bool


def _verdict_text(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("verdicts file not found", path, "run `alog-detect detect` first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read verdicts ({exc})", path, "pass the output of `alog-detect detect`") from None


def read_verdicts(path: str | Path, model: str | None = None) -> list[Verdict]:
    path = Path(path)
    fix = "pass the JSON lines written by `alog-detect detect`"
    out = []
    for n, text in enumerate(_verdict_text(path).splitlines(), 1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
            v = Verdict(str(obj["model"]), obj["session"], obj["line"], obj["anomaly"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UserError(f"line {n}: not a verdict ({type(exc).__name__}: {exc})", path, fix) from None
        if not isinstance(v.anomaly, bool):
            raise UserError(f"line {n}: 'anomaly' must be true or false", path, fix)
        if model is None or v.model == model:
            out.append(v)
    return out


@dataclass(frozen=True)
class SessionLabels:
    labels: dict[str, bool]


@dataclass(frozen=True)
class WindowLabels:
    windows: tuple[tuple[int, int], ...]
    anomalous: tuple[bool, ...] | None  # None: every listed window is an anomaly


def _label_value(text: str, path: Path, row: int) -> bool:
    value = _ANOMALY.get(text.strip().lower())
    if value is None:
        raise UserError(f"row {row}: label {text!r} is neither Normal nor Anomaly", path,
                        "use Normal/Anomaly (or 0/1) in the label column")
    return value


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError("labels file not found", path, "pass a labels CSV") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read labels ({exc})", path, "pass a UTF-8 labels CSV") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if not rows:
        raise UserError("labels file is empty", path, "pass a labels CSV with a header row")
    return [h.strip() for h in rows[0]], rows[1:]


def _int_cell(text: str, path: Path, row: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"row {row}: {text!r} is not a line number", path,
                        "first_line and last_line must be integers") from None


def read_labels(path: str | Path) -> SessionLabels | WindowLabels:
    path = Path(path)
    header, rows = _read_rows(path)
    for key_col, label_col in _SESSION_COLUMNS:
        if key_col in header and label_col in header:
            k, lab = header.index(key_col), header.index(label_col)
            return SessionLabels({r[k]: _label_value(r[lab], path, n) for n, r in enumerate(rows, 2)})
    if "first_line" in header and "last_line" in header:
        f, last = header.index("first_line"), header.index("last_line")
        windows = tuple((_int_cell(r[f], path, n), _int_cell(r[last], path, n)) for n, r in enumerate(rows, 2))
        anomalous = None
        if "label" in header:
            lab = header.index("label")
            anomalous = tuple(_label_value(r[lab], path, n) for n, r in enumerate(rows, 2))
        return WindowLabels(windows, anomalous)
    raise UserError(f"unrecognised labels header {','.join(header)!r}", path,
                    "use BlockId,Label or session,label (sessions) or first_line,last_line[,label] (windows)")


# ---- scoring ---------------------------------------------------------------------------------

def _complement_tiles(windows: list[tuple[int, int]], last_line: int, tile: int) -> list[tuple[int, int]]:
    """Cut the lines 1..last_line outside ``windows`` into runs of at most ``tile`` lines."""
    tiles, line = [], 1
    for first, last in sorted(windows) + [(last_line + 1, last_line + 1)]:
        while line < first:
            end = min(first - 1, line + tile - 1)
            tiles.append((line, end))
            line = end + 1
        line = max(line, last + 1)
    return tiles


def window_confusion(verdicts: list[Verdict], labels: WindowLabels, tile: int | None) -> tuple[Confusion, int]:
    anomalous_lines = sorted(v.line for v in verdicts if v.anomaly and v.line is not None)

    def hit(first: int, last: int) -> bool:
        i = bisect.bisect_left(anomalous_lines, first)
        return i < len(anomalous_lines) and anomalous_lines[i] <= last

    windows, actual = list(labels.windows), labels.anomalous
    if actual is None:
        if tile is None:
            tile = max(1, int(statistics.median(l - f + 1 for f, l in windows))) if windows else 1
        last_line = max([v.line for v in verdicts if v.line is not None] + [l for _, l in windows] + [0])
        normal = _complement_tiles(windows, last_line, tile)
        actual = [True] * len(windows) + [False] * len(normal)
        windows = windows + normal
    return confusion((hit(f, l) for f, l in windows), actual), tile or 0


def evaluate(config: EvaluateConfig) -> dict:
    verdicts = read_verdicts(config.verdicts, config.model)
    labels = read_labels(config.labels)
    result = {"format_version": METRICS_FORMAT_VERSION, "verdicts": str(config.verdicts),
              "labels": str(config.labels), "model": config.model,
              "models": sorted({v.model for v in verdicts}), "n_verdicts": len(verdicts)}
    if isinstance(labels, SessionLabels):
        anomalous = {v.session for v in verdicts if v.anomaly and v.session is not None}
        seen = {v.session for v in verdicts if v.session is not None}
        result.update(level="session", n_labelled=len(labels.labels),
                      unlabelled_sessions=len(seen - labels.labels.keys()),
                      **session_confusion(anomalous, labels.labels).as_dict())
    else:
        matrix, tile = window_confusion(verdicts, labels, config.tile)
        result.update(level="window", n_labelled=len(labels.windows),
                      tile=tile if labels.anomalous is None else None, **matrix.as_dict())
    if config.out is not None:
        atomic.write_json(config.out, result)
    return result
