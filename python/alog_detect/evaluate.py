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
  listed windows), so false positives and true negatives are counted on comparable units. With
  ``delay`` D > 0 (``--delay``), an anomalous verdict up to D lines after a listed window's last
  line also detects that window (a detector that judges the last lines of the stream, as MSCRED
  does, still sees an anomaly for a while after it ended), and those D lines belong to no normal
  window.

Either kind of labels may carry a ``kind`` column: the anomaly's kind on every anomalous row
(for the built-in sample ``alog_detect.sample.SEQUENCE_KINDS`` for sessions, ``MIX_KINDS`` for
windows), empty on normal rows. Then the result also holds the recall of each kind. A kind outside
the known ones (the sample's, plus ``kinds``: ``--kinds``) is an error, as is a missing kind on
an anomaly or a kind on a normal row.

Metrics with a zero denominator are 0.0. Output: one JSON object (``format_version`` 1), which
``format_table`` renders for a reader (``alog-detect evaluate`` prints that; ``--json`` the object).
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
from .sample import MIX_KINDS, SEQUENCE_KINDS

METRICS_FORMAT_VERSION = 1
_ANOMALY = {"anomaly": True, "1": True, "true": True, "abnormal": True,
            "normal": False, "0": False, "false": False}
_SESSION_COLUMNS = (("BlockId", "Label"), ("session", "label"))
KIND_COLUMN = "kind"
# The kinds every labels file may use without --kinds: the built-in sample's.
KNOWN_KINDS = SEQUENCE_KINDS + MIX_KINDS


@dataclass(frozen=True)
class EvaluateConfig:
    verdicts: Path          # "-" reads standard input
    labels: Path
    out: Path | None = None
    model: str | None = None  # only verdicts of this model (default: all)
    tile: int | None = None   # window labels without a label column: normal window length
    delay: int = 0            # window labels without a label column: lines after a window that still count
    kinds: tuple[str, ...] = ()  # anomaly kinds accepted besides KNOWN_KINDS

    def __post_init__(self):
        if self.tile is not None and self.tile < 1:
            raise UserError(f"--tile must be at least 1, got {self.tile}", None, "pass a positive line count")
        if self.delay < 0:
            raise UserError(f"--delay must be 0 or more, got {self.delay}", None, "pass a line count >= 0")


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
    kinds: dict[str, str] | None = None     # session -> anomaly kind ("" when normal); None: no column


@dataclass(frozen=True)
class WindowLabels:
    windows: tuple[tuple[int, int], ...]
    anomalous: tuple[bool, ...] | None  # None: every listed window is an anomaly
    kinds: tuple[str, ...] | None = None  # each window's anomaly kind ("" when normal); None: no column


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


def _cell(row: list[str], column: int, path: Path, n: int) -> str:
    if column >= len(row):
        raise UserError(f"row {n}: {len(row)} fields, the header has more", path,
                        "give every row as many fields as the header")
    return row[column]


def _kinds(header: list[str], rows: list[list[str]], anomalous: list[bool], path: Path,
           known: tuple[str, ...]) -> tuple[str, ...] | None:
    """The kind column's values, checked: a known kind on each anomaly, nothing on normal rows."""
    if KIND_COLUMN not in header:
        return None
    column = header.index(KIND_COLUMN)
    kinds = []
    for n, (row, anomaly) in enumerate(zip(rows, anomalous), 2):
        kind = _cell(row, column, path, n).strip()
        if anomaly and not kind:
            raise UserError(f"row {n}: an anomaly without a kind", path,
                            "give every anomalous row its kind, or drop the kind column")
        if not anomaly and kind:
            raise UserError(f"row {n}: a normal row with kind {kind!r}", path, "leave kind empty on normal rows")
        if kind and kind not in known:
            raise UserError(f"row {n}: unknown anomaly kind {kind!r} (known: {', '.join(known)})", path,
                            "correct the kind, or name your own kinds with --kinds KIND,KIND,...")
        kinds.append(kind)
    return tuple(kinds)


def read_labels(path: str | Path, kinds: tuple[str, ...] = ()) -> SessionLabels | WindowLabels:
    """``kinds``: anomaly kinds accepted besides KNOWN_KINDS."""
    path = Path(path)
    header, rows = _read_rows(path)
    known = KNOWN_KINDS + tuple(k for k in kinds if k not in KNOWN_KINDS)
    for key_col, label_col in _SESSION_COLUMNS:
        if key_col in header and label_col in header:
            k, lab = header.index(key_col), header.index(label_col)
            values = [_label_value(_cell(r, lab, path, n), path, n) for n, r in enumerate(rows, 2)]
            keys = [_cell(r, k, path, n) for n, r in enumerate(rows, 2)]
            kind = _kinds(header, rows, values, path, known)
            return SessionLabels(dict(zip(keys, values)), None if kind is None else dict(zip(keys, kind)))
    if "first_line" in header and "last_line" in header:
        f, last = header.index("first_line"), header.index("last_line")
        windows = tuple((_int_cell(_cell(r, f, path, n), path, n), _int_cell(_cell(r, last, path, n), path, n))
                        for n, r in enumerate(rows, 2))
        anomalous = None
        if "label" in header:
            lab = header.index("label")
            anomalous = tuple(_label_value(_cell(r, lab, path, n), path, n) for n, r in enumerate(rows, 2))
        kind = _kinds(header, rows, list(anomalous) if anomalous is not None else [True] * len(rows), path, known)
        return WindowLabels(windows, anomalous, kind)
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


@dataclass(frozen=True)
class WindowOutcome:
    confusion: Confusion
    tile: int                                # 0 when the labels list every window
    windows: tuple[tuple[int, int], ...]     # every scored window, the listed ones first
    actual: tuple[bool, ...]
    predicted: tuple[bool, ...]


def window_outcome(verdicts: list[Verdict], labels: WindowLabels, tile: int | None,
                   delay: int = 0) -> WindowOutcome:
    anomalous_lines = sorted(v.line for v in verdicts if v.anomaly and v.line is not None)

    def hit(first: int, last: int) -> bool:
        i = bisect.bisect_left(anomalous_lines, first)
        return i < len(anomalous_lines) and anomalous_lines[i] <= last

    windows, actual = list(labels.windows), labels.anomalous
    scored = windows
    if actual is None:
        if tile is None:
            tile = max(1, int(statistics.median(l - f + 1 for f, l in windows))) if windows else 1
        # A listed window is judged with the `delay` lines after it; normal windows tile the rest.
        scored = [(f, l + delay) for f, l in windows]
        last_line = max([v.line for v in verdicts if v.line is not None] + [l for _, l in scored] + [0])
        normal = _complement_tiles(scored, last_line, tile)
        actual = [True] * len(windows) + [False] * len(normal)
        windows, scored = windows + normal, scored + normal
    predicted = tuple(hit(f, l) for f, l in scored)
    return WindowOutcome(confusion(predicted, actual), tile or 0, tuple(windows), tuple(actual), predicted)


def window_confusion(verdicts: list[Verdict], labels: WindowLabels, tile: int | None,
                     delay: int = 0) -> tuple[Confusion, int]:
    outcome = window_outcome(verdicts, labels, tile, delay)
    return outcome.confusion, outcome.tile


def kind_recall(kinds: Iterable[str], detected: Iterable[bool], known: tuple[str, ...]) -> dict:
    """{kind: {"anomalies", "detected", "recall"}} over the anomalous rows (kind non-empty), in the
    order of ``known`` then first appearance."""
    counts: dict[str, list[int]] = {}
    for kind, hit in zip(kinds, detected, strict=True):
        if kind:
            c = counts.setdefault(kind, [0, 0])
            c[0] += 1
            c[1] += bool(hit)
    order = [k for k in known if k in counts] + [k for k in counts if k not in known]
    return {k: {"anomalies": counts[k][0], "detected": counts[k][1],
                "recall": round(counts[k][1] / counts[k][0], 6)} for k in order}


def evaluate(config: EvaluateConfig) -> dict:
    labels = read_labels(config.labels, config.kinds)
    if config.delay and not (isinstance(labels, WindowLabels) and labels.anomalous is None):
        raise UserError("--delay applies to window labels that list anomalies only "
                        "(first_line,last_line[,kind], no label column)", config.labels, "drop --delay")
    verdicts = read_verdicts(config.verdicts, config.model)
    known = KNOWN_KINDS + tuple(k for k in config.kinds if k not in KNOWN_KINDS)
    result = {"format_version": METRICS_FORMAT_VERSION, "verdicts": str(config.verdicts),
              "labels": str(config.labels), "model": config.model,
              "models": sorted({v.model for v in verdicts}), "n_verdicts": len(verdicts)}
    if isinstance(labels, SessionLabels):
        anomalous = {v.session for v in verdicts if v.anomaly and v.session is not None}
        seen = {v.session for v in verdicts if v.session is not None}
        result.update(level="session", n_labelled=len(labels.labels),
                      unlabelled_sessions=len(seen - labels.labels.keys()),
                      **session_confusion(anomalous, labels.labels).as_dict())
        result["kinds"] = None if labels.kinds is None else kind_recall(
            labels.kinds.values(), (s in anomalous for s in labels.kinds), known)
    else:
        outcome = window_outcome(verdicts, labels, config.tile, config.delay)
        listing = labels.anomalous is None
        result.update(level="window", n_labelled=len(labels.windows), n_windows=len(outcome.windows),
                      tile=outcome.tile if listing else None, delay=config.delay if listing else None,
                      **outcome.confusion.as_dict())
        result["kinds"] = None if labels.kinds is None else kind_recall(
            labels.kinds, outcome.predicted[:len(labels.kinds)], known)
    if config.out is not None:
        atomic.write_json(config.out, result)
    return result


def format_table(result: dict) -> str:
    """``evaluate``'s result for a reader: what was scored, the confusion table, the metrics and, when
    the labels carry kinds, each kind's recall."""
    unit = "sessions" if result["level"] == "session" else "windows"
    if result["level"] == "session":
        scope = f"{result['n_labelled']:,} labelled sessions"
        if result["unlabelled_sessions"]:
            scope += f" ({result['unlabelled_sessions']:,} sessions with verdicts have no label: not counted)"
    else:
        scope = f"{result['n_windows']:,} windows"
        if result["tile"] is not None:
            scope += (f": {result['n_labelled']:,} listed anomalies, the other lines cut into normal windows "
                      f"of {result['tile']:,} lines")
            if result["delay"]:
                scope += f"; verdicts up to {result['delay']:,} lines after an anomaly count for it"
    model = result["model"] or ", ".join(result["models"]) or "none"
    tp, fp, fn, tn = (result[k] for k in ("tp", "fp", "fn", "tn"))
    width = max(len(f"{x:,}") for x in (tp, fp, fn, tn, tp + fn, fp + tn)) + 2
    cells = [["", "anomaly", "normal"], ["flagged", f"{tp:,}", f"{fp:,}"], ["not flagged", f"{fn:,}", f"{tn:,}"],
             ["total", f"{tp + fn:,}", f"{fp + tn:,}"]]
    first = max(len(r[0]) for r in cells) + 2
    col = max(width, len("anomaly") + 2)
    lines = [f"{result['labels']}: {scope}", f"verdicts: {result['verdicts']} ({result['n_verdicts']:,}, model {model})",
             "", f"{unit} by label (columns) and by verdict (rows):"]
    lines += [r[0].ljust(first) + r[1].rjust(col) + r[2].rjust(col) for r in cells]
    lines += ["", f"precision {result['precision']:.3f}  recall {result['recall']:.3f}  F1 {result['f1']:.3f}"]
    if result.get("kinds"):
        kw = max(len("kind"), *(len(k) for k in result["kinds"])) + 2
        lines += ["", "kind".ljust(kw) + "anomalies".rjust(11) + "detected".rjust(10) + "recall".rjust(8)]
        lines += [k.ljust(kw) + f"{v['anomalies']:,}".rjust(11) + f"{v['detected']:,}".rjust(10)
                  + f"{v['recall']:.3f}".rjust(8) for k, v in result["kinds"].items()]
    return "\n".join(lines)
