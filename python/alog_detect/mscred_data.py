"""MSCRED's input: per-template count series turned into multi-scale signature matrices.

One implementation serves training (``build_mscred`` over a parsed file) and detection (the
``SignatureStream`` fed line by line); the C engine follows the same rules, written out in
``docs/detection.md`` ("MSCRED"):

* counted events are lines whose template has an index in the vocabulary; other lines are ignored;
* ``lines:L`` closes a bucket after every L counted events; ``seconds:S`` puts an event into bucket
  ``floor(timestamp / S)`` and closes the open bucket when a later bucket starts (empty buckets in a
  gap are closed too; a gap longer than one model input's span restarts the series);
* ``norm`` scales the matrices to [0, 1]: the bucket size under ``lines:L`` (no bucket holds more
  events), the largest bucket total of the training data under ``seconds:S`` (a detection-time
  bucket may hold more: its cells may then exceed 1); ``max(w) * norm * norm < 2**24``;
* after bucket ``b`` (0-based since the start or restart) closes, if ``b >= max(w) - 1`` and
  ``(b - (max(w) - 1)) % step == 0``, one signature is computed: for each scale ``w``,
  ``M[i, j] = float32(sum of x_i * x_j over buckets b-w+1..b) / float32(w * norm * norm)`` (the
  sum in exact integers, the divisor exact in float32), in an ``n x n`` matrix (``n`` = template
  count rounded up to a multiple of 8, >= 8);
* the model input is the last ``steps`` signatures, oldest first.

Output of ``build_mscred``: ``signatures.npz`` (plain arrays, loadable with
``np.load(allow_pickle=False)``) and ``signatures.json`` (the rule and the template list):

* ``signatures``: float32 ``(count, scales, n, n)``, every signature in stream order;
* ``segment``: int64 ``(count,)``, incremented at each restart (a model input never spans two);
* ``end_line``: int64 ``(count,)``, the ``line_no`` of the last counted event of the end bucket;
* ``signatures.json``: ``format_version``, ``kind`` ("mscred-signatures"), ``spec`` (num_templates,
  n, window_sizes, step, steps, bucket {unit, size}, norm), ``templates`` (index order),
  ``templates_sha256`` (``alog_detect.vocab.vocab_sha256``), ``vocab_sha256`` (of ``--vocab`` or
  null), ``parsed_sha256``, ``num_buckets``, ``num_signatures``, ``num_inputs``, ``ignored_rows``.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import math
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from . import atomic
from .errors import UserError
from .jsonfile import read_versioned_json
from .vocab import Vocab, load_vocab

# 2: matrices divided by w * norm * norm (version 1 divided by w alone; its models are unusable here).
FORMAT_VERSION = 2
KIND = "mscred-signatures"
NPZ_NAME = "signatures.npz"
JSON_NAME = "signatures.json"
BUCKET_UNITS = ("lines", "seconds")
# Every integer below 2**24 is exact in float32: the divisor w * norm * norm must be one of them.
EXACT_FLOAT32_LIMIT = 1 << 24
# Fixed zip member time, so that the same inputs give the same bytes (numpy's savez stamps "now").
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


# ---- the rule ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class BucketRule:
    """How counted events are grouped into buckets: every ``size`` events, or ``size`` seconds."""

    unit: str
    size: int

    def __post_init__(self):
        if self.unit not in BUCKET_UNITS:
            raise ValueError(f"bucket unit must be one of {', '.join(BUCKET_UNITS)}, got {self.unit!r}")
        if not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"bucket size must be a positive integer, got {self.size!r}")

    @classmethod
    def parse(cls, text: str) -> "BucketRule":
        unit, sep, size = text.partition(":")
        if not sep or not size.strip().isdigit():
            raise ValueError(f"bucket rule must look like lines:20 or seconds:10, got {text!r}")
        return cls(unit.strip(), int(size))

    def __str__(self) -> str:
        return f"{self.unit}:{self.size}"


def padded_side(num_templates: int) -> int:
    """The matrix side: the template count rounded up to a multiple of 8, at least 8."""
    return max(8, -(-num_templates // 8) * 8)


@dataclasses.dataclass(frozen=True)
class SignatureSpec:
    """Everything that fixes the signature matrices for a given template count."""

    num_templates: int
    window_sizes: tuple[int, ...] = (10, 30, 60)
    step: int = 10
    steps: int = 5
    bucket: BucketRule = BucketRule("lines", 20)
    # The matrix side when it is not the default padding (an export at a larger --feature-dim).
    side: int | None = None
    # The count that scales cells to [0, 1] (module doc): implied by lines:N; under seconds:N
    # measured by build-mscred, None until then (no signature can be computed without it).
    norm: int | None = None

    def __post_init__(self):
        if self.num_templates < 1:
            raise ValueError("at least one template is needed")
        if self.side is not None and (self.side % 8 or self.side < self.num_templates):
            raise ValueError(f"matrix side {self.side} must be a multiple of 8 and hold "
                             f"{self.num_templates} templates")
        if not self.window_sizes or min(self.window_sizes) < 1:
            raise ValueError(f"window sizes must be positive, got {self.window_sizes}")
        if len(set(self.window_sizes)) != len(self.window_sizes):
            raise ValueError(f"window sizes must be distinct, got {self.window_sizes}")
        if self.step < 1 or self.steps < 1:
            raise ValueError("step and steps must be >= 1")
        self._check_norm()

    def _check_norm(self) -> None:
        if self.bucket.unit == "lines":
            if self.norm is None:
                object.__setattr__(self, "norm", self.bucket.size)
            elif self.norm != self.bucket.size:
                raise ValueError(f"norm must be the bucket size {self.bucket.size} under {self.bucket}, "
                                 f"got {self.norm}")
        if self.norm is None:
            return
        if not isinstance(self.norm, int) or self.norm < 1:
            raise ValueError(f"norm must be a positive integer, got {self.norm!r}")
        divisor = self.history * self.norm * self.norm
        if divisor >= EXACT_FLOAT32_LIMIT:
            raise ValueError(f"signature divisor max(window) * norm^2 = {self.history} * {self.norm}^2 = "
                             f"{divisor} is not below 2^24, so it is not exact in float32")

    @property
    def n(self) -> int:
        return self.side or padded_side(self.num_templates)

    @property
    def scales(self) -> int:
        return len(self.window_sizes)

    @property
    def history(self) -> int:
        """Buckets one signature looks back over."""
        return max(self.window_sizes)

    @property
    def span(self) -> int:
        """Buckets one model input covers; a time gap longer than this restarts the series."""
        return self.history + (self.steps - 1) * self.step

    def to_dict(self) -> dict:
        return {"num_templates": self.num_templates, "n": self.n, "window_sizes": list(self.window_sizes),
                "step": self.step, "steps": self.steps,
                "bucket": {"unit": self.bucket.unit, "size": self.bucket.size}, "norm": self.norm}

    @classmethod
    def from_dict(cls, d: dict) -> "SignatureSpec":
        return cls(num_templates=int(d["num_templates"]), window_sizes=tuple(int(w) for w in d["window_sizes"]),
                   step=int(d["step"]), steps=int(d["steps"]),
                   bucket=BucketRule(str(d["bucket"]["unit"]), int(d["bucket"]["size"])),
                   side=int(d["n"]) if "n" in d else None, norm=int(d["norm"]))


def signature_matrices(counts: np.ndarray, window_sizes: Sequence[int], n: int, norm: int) -> np.ndarray:
    """The signature matrices ending at the last row of ``counts``.

    ``counts``: integer ``(buckets, templates)``, oldest first, at least ``max(window_sizes)`` rows.
    Returns float32 ``(scales, n, n)``: for each ``w``, the exact integer sum of outer products of the
    last ``w`` rows, converted to float32 and divided by ``float32(w * norm * norm)`` (one rounding
    each, as in C; ``SignatureSpec`` keeps the divisor below 2^24, so it is exact).
    """
    counts = np.asarray(counts, dtype=np.int64)
    t = counts.shape[1]
    out = np.zeros((len(window_sizes), n, n), dtype=np.float32)
    for s, w in enumerate(window_sizes):
        recent = counts[-w:]
        out[s, :t, :t] = (recent.T @ recent).astype(np.float32) / np.float32(w * norm * norm)
    return out


def residual_scores(recon: np.ndarray, last: np.ndarray, cell_threshold: float) -> np.ndarray:
    """MSCRED's score per input: how many cells of ``|recon - last|`` exceed ``cell_threshold``.

    ``recon``, ``last``: ``(batch, scales, n, n)``; all arithmetic in float32, the comparison strict
    (``docs/detection.md``). Returns int64 ``(batch,)``; an input is anomalous when its score is
    strictly greater than the calibrated anomaly threshold.
    """
    residual = np.abs(np.asarray(recon, dtype=np.float32) - np.asarray(last, dtype=np.float32))
    return (residual > np.float32(cell_threshold)).sum(axis=(1, 2, 3), dtype=np.int64)


# ---- streaming ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ClosedBucket:
    counts: np.ndarray      # int64 (templates,)
    last_line: int          # input line number of the last counted event so far
    # Not a bucket but a marker: a gap too long to fill, the series starts again after it.
    restart: bool = False


class Bucketer:
    """Groups counted events ``(template index, line, timestamp)`` into complete buckets."""

    def __init__(self, spec: SignatureSpec):
        self.spec = spec
        self._counts = np.zeros(spec.num_templates, dtype=np.int64)
        self._events = 0          # events in the open bucket (lines rule)
        self._bucket = None       # id of the open bucket (seconds rule), None before the first event
        self._last_line = 0

    def add(self, index: int, line: int, timestamp: float | None = None) -> list[ClosedBucket]:
        """Count one event; return the buckets this event closed, oldest first.

        Under the seconds rule the returned buckets close *before* the event is counted (it belongs
        to a later bucket); under the lines rule the event itself completes the bucket.
        """
        if self.spec.bucket.unit == "lines":
            return self._add_by_lines(index, line)
        return self._add_by_time(index, line, timestamp)

    def _take(self, restart: bool = False) -> ClosedBucket:
        closed = ClosedBucket(self._counts, self._last_line, restart)
        self._counts = np.zeros(self.spec.num_templates, dtype=np.int64)
        return closed

    def _add_by_lines(self, index: int, line: int) -> list[ClosedBucket]:
        self._counts[index] += 1
        self._events += 1
        self._last_line = line
        if self._events < self.spec.bucket.size:
            return []
        self._events = 0
        return [self._take()]

    def _add_by_time(self, index: int, line: int, timestamp: float | None) -> list[ClosedBucket]:
        closed: list[ClosedBucket] = []
        if timestamp is not None and math.isfinite(timestamp):
            bucket = math.floor(timestamp / self.spec.bucket.size)
            if self._bucket is None:
                self._bucket = bucket
            elif bucket > self._bucket:
                closed = self._close_until(bucket)
        if self._bucket is None:       # no timestamped event yet: nothing to count it in
            return closed
        self._counts[index] += 1
        self._last_line = line
        return closed

    def _close_until(self, bucket: int) -> list[ClosedBucket]:
        gap = bucket - self._bucket
        closed = [self._take()]
        if gap > self.spec.span:
            # Filling a long silence would only produce all-zero inputs: start the series again.
            closed.append(ClosedBucket(np.zeros(0, dtype=np.int64), self._last_line, restart=True))
        else:
            closed.extend(ClosedBucket(np.zeros_like(self._counts), self._last_line) for _ in range(gap - 1))
        self._bucket = bucket
        return closed


class SignatureStream:
    """Turns complete buckets into model inputs (``steps`` signatures, oldest first)."""

    def __init__(self, spec: SignatureSpec):
        if spec.norm is None:
            raise ValueError(f"signatures over {spec.bucket} buckets need the norm measured on the "
                             "training data")
        self.spec = spec
        self._restart()

    def _restart(self) -> None:
        self._recent: collections.deque[np.ndarray] = collections.deque(maxlen=self.spec.history)
        self._signatures: collections.deque[np.ndarray] = collections.deque(maxlen=self.spec.steps)
        self._index = -1

    def push(self, bucket: ClosedBucket) -> np.ndarray | None:
        """Take one closed bucket; return its signature, float32 ``(scales, n, n)``, if it ends one."""
        if bucket.restart:
            self._restart()
            return None
        self._recent.append(bucket.counts)
        self._index += 1
        first = self.spec.history - 1
        if self._index < first or (self._index - first) % self.spec.step:
            return None
        spec = self.spec
        signature = signature_matrices(np.stack(self._recent), spec.window_sizes, spec.n, spec.norm)
        self._signatures.append(signature)
        return signature

    def model_input(self) -> np.ndarray | None:
        """The last ``steps`` signatures, float32 ``(steps, scales, n, n)``, once there are that many."""
        if len(self._signatures) < self.spec.steps:
            return None
        return np.stack(self._signatures)


# ---- build-mscred --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class BuildMSCREDConfig:
    parsed: Path
    out_dir: Path
    window_sizes: tuple[int, ...] = (10, 30, 60)
    step: int = 10
    steps: int = 5
    bucket: str = "lines:20"
    vocab: Path | None = None
    template_col: str = "template"


@dataclasses.dataclass(frozen=True)
class SignatureSet:
    """The contents of signatures.npz + signatures.json."""

    spec: SignatureSpec
    templates: tuple[str, ...]
    signatures: np.ndarray    # float32 (count, scales, n, n)
    segment: np.ndarray       # int64 (count,)
    end_line: np.ndarray      # int64 (count,)
    meta: dict

    def input_ends(self) -> np.ndarray:
        """Indices k of the signatures that end a complete model input (k-steps+1..k, one segment)."""
        steps = self.spec.steps
        k = np.arange(steps - 1, len(self.signatures))
        return k[self.segment[k - steps + 1] == self.segment[k]]

    def inputs(self, ends: np.ndarray) -> np.ndarray:
        """float32 ``(len(ends), steps, scales, n, n)``: the model inputs ending at ``ends``."""
        offsets = np.arange(-self.spec.steps + 1, 1)
        return self.signatures[np.asarray(ends)[:, None] + offsets[None, :]]


def inputs_from_events(spec: SignatureSpec, events: int) -> int:
    """Model inputs that `events` counted events make under a `lines:N` bucket rule (in one
    segment: the lines rule never restarts), by the rule of the module doc."""
    if spec.bucket.unit != "lines":
        raise ValueError("only the lines rule fixes the inputs by the event count")
    buckets = events // spec.bucket.size
    signatures = 0 if buckets < spec.history else (buckets - spec.history) // spec.step + 1
    return max(0, signatures - spec.steps + 1)


def events_for_inputs(spec: SignatureSpec, inputs: int) -> int:
    """The fewest counted events that make `inputs` model inputs under a `lines:N` rule."""
    signatures = inputs + spec.steps - 1
    return (spec.history + (signatures - 1) * spec.step) * spec.bucket.size


def close_buckets(spec: SignatureSpec, events) -> list[ClosedBucket]:
    """The buckets (and restart markers) that ``events`` (``(index, line, timestamp)``) close, in order."""
    bucketer = Bucketer(spec)
    return [closed for index, line, timestamp in events for closed in bucketer.add(index, line, timestamp)]


def largest_bucket_total(buckets: Sequence[ClosedBucket]) -> int:
    """The norm of ``seconds`` buckets. Every series starts with the bucket its first event opened,
    so any closed bucket makes this at least 1; without one there is no signature to scale."""
    return max((int(b.counts.sum()) for b in buckets if not b.restart), default=1)


def signatures_of(spec: SignatureSpec,
                  buckets: Sequence[ClosedBucket]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Run the streaming rule over closed ``buckets``.

    Returns (signatures, segment, end_line, number of closed buckets).
    """
    stream = SignatureStream(spec)
    signatures, segments, end_lines = [], [], []
    segment = count = 0
    for closed in buckets:
        segment += closed.restart
        count += not closed.restart
        signature = stream.push(closed)
        if signature is not None:
            signatures.append(signature)
            segments.append(segment)
            end_lines.append(closed.last_line)
    shape = (len(signatures), spec.scales, spec.n, spec.n)
    stacked = np.stack(signatures) if signatures else np.zeros(shape, dtype=np.float32)
    return stacked, np.asarray(segments, dtype=np.int64), np.asarray(end_lines, dtype=np.int64), count


def build_signatures(spec: SignatureSpec, events) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``signatures_of`` the buckets that ``events`` close (``spec.norm`` must be known)."""
    return signatures_of(spec, close_buckets(spec, events))


def _read_events(config: BuildMSCREDConfig, unit: str) -> tuple[list[str], list[int], list]:
    from .deeplog_data import read_parsed_columns

    columns = [config.template_col, "line_no"] + (["timestamp"] if unit == "seconds" else [])
    cols = read_parsed_columns(
        config.parsed, columns, fix="re-run `alog-detect parse` to produce it",
        column_fixes={config.template_col: "name the column holding the template strings with --template-col"})
    templates = cols[config.template_col]
    if any(not isinstance(t, str) for t in templates):
        raise UserError(f"column {config.template_col!r} must hold template strings (no nulls)",
                        config.parsed, "name a column of template strings with --template-col, or re-run parse")
    return templates, cols["line_no"], cols.get("timestamp") or [None] * len(templates)


def _spec_from_config(config: BuildMSCREDConfig, num_templates: int) -> SignatureSpec:
    try:
        return SignatureSpec(num_templates, tuple(config.window_sizes), config.step, config.steps,
                             BucketRule.parse(config.bucket))
    except ValueError as exc:
        raise UserError(str(exc), None,
                        "pass --window-sizes like 10,30,60, --step/--steps >= 1, --bucket lines:N or seconds:N "
                        "with max(window) * N^2 below 2^24") from None


def _with_measured_norm(spec: SignatureSpec, buckets: Sequence[ClosedBucket], parsed: Path) -> SignatureSpec:
    try:
        return dataclasses.replace(spec, norm=largest_bucket_total(buckets))
    except ValueError as exc:
        raise UserError(f"{exc}: the busiest {spec.bucket} bucket holds too many lines", parsed,
                        "pass a shorter --bucket seconds:N, or smaller --window-sizes") from None


def build_mscred(config: BuildMSCREDConfig) -> SignatureSet:
    """parsed.parquet -> signatures.npz + signatures.json in ``config.out_dir``."""
    from .deeplog_data import file_sha256

    unit = config.bucket.partition(":")[0].strip()
    templates, lines, timestamps = _read_events(config, unit)
    if not templates:
        raise UserError("the parsed file has no rows", config.parsed, "parse a non-empty log")
    vocab = load_vocab(config.vocab) if config.vocab else Vocab.from_counts(collections.Counter(templates))
    spec = _spec_from_config(config, vocab.size)
    index = vocab.index()
    events = [(index[t], line, ts) for t, line, ts in zip(templates, lines, timestamps) if t in index]
    closed = close_buckets(spec, events)
    if spec.norm is None:
        spec = _with_measured_norm(spec, closed, config.parsed)
    signatures, segment, end_line, buckets = signatures_of(spec, closed)
    sigset = SignatureSet(spec, vocab.templates, signatures, segment, end_line, meta={})
    num_inputs = len(sigset.input_ends())
    if num_inputs == 0:
        raise UserError(f"{len(events)} counted lines make {buckets} buckets and {len(signatures)} "
                        f"signatures: not one model input of {spec.steps} signatures "
                        f"({spec.span} buckets)", config.parsed,
                        "give more log lines, or smaller --window-sizes / --step / --steps / --bucket")
    meta = {"format_version": FORMAT_VERSION, "kind": KIND, "spec": spec.to_dict(),
            "templates": list(vocab.templates), "templates_sha256": vocab.sha256,
            "vocab_sha256": vocab.sha256 if config.vocab else None,
            "parsed_sha256": file_sha256(config.parsed), "num_buckets": buckets,
            "num_signatures": len(signatures), "num_inputs": num_inputs,
            "ignored_rows": len(templates) - len(events)}
    sigset = dataclasses.replace(sigset, meta=meta)
    save_signatures(config.out_dir, sigset)
    return sigset


# ---- files ---------------------------------------------------------------------------------------

def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH), member.getvalue(),
                        compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def save_signatures(out_dir: str | Path, sigset: SignatureSet) -> None:
    out = Path(out_dir)
    npz = _npz_bytes({"signatures": sigset.signatures, "segment": sigset.segment, "end_line": sigset.end_line})
    text = json.dumps(sigset.meta, indent=2, ensure_ascii=False) + "\n"
    # Both files or neither: the renames happen only once both are fully written.
    with atomic.atomic_path(out / NPZ_NAME) as npz_tmp, atomic.atomic_path(out / JSON_NAME) as json_tmp:
        npz_tmp.write_bytes(npz)
        json_tmp.write_text(text, encoding="utf-8")


def load_signatures(data_dir: str | Path) -> SignatureSet:
    """Read a build-mscred output directory; every problem is a UserError naming the file."""
    data_dir = Path(data_dir)
    fix = "re-run `alog-detect build-mscred --out-dir` for this directory"
    meta_path, npz_path = data_dir / JSON_NAME, data_dir / NPZ_NAME
    meta = read_versioned_json(meta_path, KIND, FORMAT_VERSION, fix)
    try:
        spec = SignatureSpec.from_dict(meta["spec"])
        templates = tuple(meta["templates"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"malformed signatures metadata ({exc})", meta_path, fix) from None
    if len(templates) != spec.num_templates:
        raise UserError("template list and num_templates disagree", meta_path, fix)
    try:
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("signatures", "segment", "end_line")}
    except FileNotFoundError:
        raise UserError("file not found", npz_path, fix) from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise UserError(f"not a signatures archive ({exc})", npz_path, fix) from None
    expected = (len(arrays["segment"]), spec.scales, spec.n, spec.n)
    if arrays["signatures"].shape != expected or arrays["signatures"].dtype != np.float32:
        raise UserError(f"signatures have shape {arrays['signatures'].shape}, expected {expected} float32",
                        npz_path, fix)
    return SignatureSet(spec, templates, arrays["signatures"], arrays["segment"], arrays["end_line"], meta)
