"""The reference detector: raw lines -> DeepLog and MSCRED verdicts, one JSON object per line.

The rules (sessions, windows, top-k, buckets, signature matrices, scores, the order of verdicts)
are written out in docs/detection.md; the C engine reproduces this verdict stream byte for byte.

A model directory holds ``vocab.json`` and DeepLog, MSCRED or both, each either exported
(``<kind>.onnx`` + ``<kind>.onnx.meta.json``, run by onnxruntime on one thread) or as a training
checkpoint (``<kind>.pth``, run by PyTorch); either way the detector sees a plain function from a
batch of inputs to a batch of outputs, so both go through the same code below. Its ``frontend.json``
(``alog_detect.frontend``: mask rules, session rule, header tokens), when present, says how lines
are matched and keyed; without it the defaults apply; `DetectConfig` options override single settings.

DeepLog keeps the windows of at most ``max_sessions`` sessions, forgetting the one idle longest
when a new one arrives (docs/detection.md, 2.1), so memory stays bounded over an endless stream,
as it does in the engine; of a line longer than the matcher takes, only its head is kept.
Sessions also close when idle longer than ``session_timeout`` (lines or seconds) and at the end
of the input (`Detector.finish`); with a model trained with the END key each close is judged
(docs/detection.md 2.2). The decision rule is top-k or the calibrated probability rule (2.3).

Input is read in chunks (whatever the file or pipe has ready, so ``tail -F | alog-detect detect``
answers line by line); every line of a chunk is decided first, then the models run once per chunk
on all the windows it produced. Batching does not change any verdict: a window is fixed before
the model runs, and model outputs do not feed back into windows or buckets.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TextIO

import numpy as np

from .deeplog_rule import (REASON_OK, REASON_UNKNOWN, RULE_PROBABILITY, RULE_TOPK, RULES, SessionWindow,
                           judge)
from .errors import UserError
from .frontend import FRONTEND_NAME, Frontend, load_model_frontend
from .export.config import META_SUFFIX
from .export.meta import read_model_meta
from .matching import UNKNOWN
from .masking import tokenize
from .mscred_data import Bucketer, SignatureSpec, SignatureStream, residual_scores
from .sessions import LINE_HEAD_BYTES, TIMESTAMP_NONE, SessionRule, line_head
from .vocab import Vocab, load_any_vocab

VOCAB_NAME = "vocab.json"
READ_CHUNK = 1 << 16
# One byte more than the rules read, so that a cut line is still longer than the matcher takes.
LINE_KEEP_BYTES = LINE_HEAD_BYTES + 1

DEFAULT_MAX_SESSIONS = 65536
END_SESSION_NAME_BYTES = 48     # an END verdict names its session by at most this much (docs/detection.md 2.2)
MAX_SESSIONS_LIMIT = 1 << 24    # alog-engine's bound for --max-sessions

REASON_RESIDUAL = "residual"

Runner = Callable[[np.ndarray], np.ndarray]  # a batch of model inputs -> a batch of outputs


# ---- models --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DeepLogModel:
    run: Runner          # int64 (batch, window) -> float32 logits (batch, outputs)
    window: int
    top_k: int
    vocab_size: int      # also PAD, the key that fills a short window, and END as an output
    end_key: bool = False              # an output for END (index vocab_size): closes are judged
    rule: str = RULE_TOPK              # the model's default rule
    prob_threshold: float | None = None   # the probability rule's threshold for events
    source: Path | None = None         # the metadata file or checkpoint it was read from
    end_threshold: float | None = None    # ... and for END (a model with the END key)

    @property
    def outputs(self) -> int:
        return self.vocab_size + (1 if self.end_key else 0)


@dataclasses.dataclass(frozen=True)
class MSCREDModel:
    run: Runner          # float32 (batch, steps, scales, n, n) -> float32 (batch, scales, n, n)
    spec: SignatureSpec
    cell_threshold: float
    anomaly_threshold: int


@dataclasses.dataclass(frozen=True)
class Models:
    vocab: Vocab
    deeplog: DeepLogModel | None
    mscred: MSCREDModel | None
    frontend: Frontend = Frontend()   # how the vocabulary's templates were mined from raw lines


def onnx_runner(path: Path) -> Runner:
    return _onnx_runner(path)[0]


def _onnx_runner(path: Path) -> tuple[Runner, object]:
    """The runner and the onnxruntime session's first output's last dimension (None if dynamic)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad graphs
        raise UserError(f"onnxruntime cannot load the model ({type(exc).__name__})", path,
                        "re-export the model directory with `alog-detect convert-onnx`") from None
    name = session.get_inputs()[0].name
    width = session.get_outputs()[0].shape[-1] if session.get_outputs()[0].shape else None
    return (lambda batch: session.run(None, {name: batch})[0]), width


def _read_meta(onnx_path: Path, kind: str, vocab: Vocab) -> dict:
    return read_model_meta(onnx_path, kind, vocab.sha256)[kind]


def _deeplog_from_onnx(path: Path, vocab: Vocab) -> DeepLogModel:
    meta_path = path.with_name(path.name + META_SUFFIX)
    meta = _read_meta(path, "deeplog", vocab)
    try:
        window, top_k, size = int(meta["seq_len"]), int(meta["top_k"]), int(meta["vocab_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"deeplog metadata lacks {exc}", meta_path,
                        "re-export the model directory with `alog-detect convert-onnx`") from None
    run, width = _onnx_runner(path)
    if width != meta["outputs"]:
        raise UserError(f"{path.name} gives {width!r} logits per input, the metadata's outputs is {meta['outputs']}",
                        meta_path, "re-export the model directory with `alog-detect convert-onnx`")
    return DeepLogModel(run, window, top_k, size, meta["end_key"], meta["rule"], meta["prob_threshold"], meta_path,
                        meta["end_threshold"])


def _mscred_from_onnx(path: Path, vocab: Vocab) -> MSCREDModel:
    meta = _read_meta(path, "mscred", vocab)
    try:
        spec = SignatureSpec.from_dict(meta)
        cell, anomaly = float(meta["cell_threshold"]), int(meta["anomaly_threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"malformed mscred metadata ({exc})", path.with_name(path.name + META_SUFFIX),
                        "re-export the model directory with `alog-detect convert-onnx`") from None
    return MSCREDModel(onnx_runner(path), spec, cell, anomaly)


def _deeplog_from_checkpoint(path: Path, vocab_path: Path) -> DeepLogModel:
    from .train.deeplog import load_deeplog_checkpoint, torch_predictor

    loaded = load_deeplog_checkpoint(path, vocab_path)
    cfg = loaded.config
    return DeepLogModel(torch_predictor(loaded.model), cfg.window, cfg.top_k, cfg.vocab_size, cfg.end_key,
                        loaded.rule, loaded.prob_threshold, path, loaded.end_threshold)


def _mscred_from_checkpoint(path: Path, vocab: Vocab, vocab_path: Path) -> MSCREDModel:
    from .train.mscred import load_mscred_checkpoint, torch_reconstructor

    loaded = load_mscred_checkpoint(path)
    if loaded.vocab_sha256 != vocab.sha256:
        raise UserError(f"{path.name} was trained on signatures over another template list than "
                        f"{vocab_path}", path,
                        f"rebuild the signatures with `alog-detect build-mscred --vocab {vocab_path}` and retrain")
    return MSCREDModel(torch_reconstructor(loaded.model), loaded.spec, loaded.cell_threshold,
                       loaded.anomaly_threshold)


def load_models(models_dir: str | Path) -> Models:
    """The models of a directory; exported ONNX graphs win over checkpoints of the same kind."""
    models_dir = Path(models_dir)
    fix = ("pass a directory from `alog-detect convert-onnx --output-dir`, or one holding vocab.json "
           "with deeplog.pth and/or mscred.pth")
    if not models_dir.is_dir():
        raise UserError("model directory not found", models_dir, fix)
    vocab_path = models_dir / VOCAB_NAME
    if not vocab_path.is_file():
        raise UserError(f"model directory has no {VOCAB_NAME}", models_dir, fix)
    vocab = load_any_vocab(vocab_path)

    deeplog = mscred = None
    if (models_dir / "deeplog.onnx").is_file():
        deeplog = _deeplog_from_onnx(models_dir / "deeplog.onnx", vocab)
    elif (models_dir / "deeplog.pth").is_file():
        deeplog = _deeplog_from_checkpoint(models_dir / "deeplog.pth", vocab_path)
    if (models_dir / "mscred.onnx").is_file():
        mscred = _mscred_from_onnx(models_dir / "mscred.onnx", vocab)
    elif (models_dir / "mscred.pth").is_file():
        mscred = _mscred_from_checkpoint(models_dir / "mscred.pth", vocab, vocab_path)
    if deeplog is None and mscred is None:
        raise UserError("model directory holds no model (deeplog.onnx, mscred.onnx, deeplog.pth, mscred.pth)",
                        models_dir, fix)
    if deeplog is not None and deeplog.vocab_size != vocab.size:
        raise UserError(f"DeepLog predicts {deeplog.vocab_size} keys, {VOCAB_NAME} has {vocab.size}",
                        models_dir, fix)
    if mscred is not None and mscred.spec.num_templates != vocab.size:
        raise UserError(f"MSCRED counts {mscred.spec.num_templates} templates, {VOCAB_NAME} has {vocab.size}",
                        models_dir, fix)
    return Models(vocab, deeplog, mscred, load_model_frontend(models_dir) or Frontend())


# ---- verdicts ------------------------------------------------------------------------------------

def verdict_json(model: str, session: str | None, line: int, template: int, topk: Sequence[int],
                 score: int | None, anomaly: bool, reason: str) -> str:
    """One verdict as compact JSON, keys in the documented order."""
    return json.dumps({"model": model, "session": session, "line": line, "template": template,
                       "topk": list(topk), "score": score, "anomaly": anomaly, "reason": reason},
                      separators=(",", ":"))


@dataclasses.dataclass
class _Pending:
    """A verdict in stream order, waiting for the batch's model outputs (``row`` into them)."""

    model: str
    session: str | None
    line: int
    template: int
    row: int             # -1: decided without the model (an unseen line)
    end: bool = False    # the END verdict of a closing session (template = vocab_size)


# ---- sessions ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Session:
    """A kept session: its window, the line of its last known event and the detector's clock then
    (None while the clock has no value)."""

    window: SessionWindow
    last_line: int = 0
    stamp: float | None = None


class SessionTable:
    """The DeepLog sessions (at most ``capacity``), least recently fed a known event first.

    A session's place is refreshed only by `feed`, which the detector calls for events with a
    known template; when a new session arrives with the table full, the first one (idle longest)
    is forgotten (and closed: `feed` returns it), and if it comes back it starts again from an
    all-PAD window. Feeding order is line order, so ``last_line`` and ``stamp`` never decrease
    from the first session to the last, and the idle-time closes scan from the front.
    alog-engine's session table (cengine/src/detect/session.c) keeps exactly this order.
    """

    def __init__(self, capacity: int, window: int, pad: int):
        if capacity < 1:
            raise ValueError(f"a session table holds at least one session, not {capacity}")
        self.capacity = capacity
        self._window = window
        self._pad = pad
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def feed(self, session: str, line: int, stamp: float | None) -> tuple[Session, tuple[str, Session] | None]:
        """The session fed a known event at ``line`` (its window not yet pushed), made the most
        recently used, and the session evicted to make room for it, if any."""
        evicted = None
        found = self._sessions.get(session)
        if found is not None:
            self._sessions.move_to_end(session)
        else:
            if len(self._sessions) >= self.capacity:
                evicted = self._sessions.popitem(last=False)
            found = self._sessions[session] = Session(SessionWindow(self._window, self._pad))
        found.last_line, found.stamp = line, stamp
        return found, evicted

    def stamp_unstamped(self, clock: float) -> None:
        """The clock's first value: the stamp of every session fed before it had one."""
        for entry in self._sessions.values():
            if entry.stamp is None:
                entry.stamp = clock

    def close_idle_lines(self, line: int, timeout: int) -> list[tuple[str, Session]]:
        """Close, idle longest first, every session with ``line - last_line > timeout``."""
        closed = []
        while self._sessions:
            key, entry = next(iter(self._sessions.items()))
            if not line - entry.last_line > timeout:
                break
            closed.append(self._sessions.popitem(last=False))
        return closed

    def close_idle_seconds(self, clock: float, timeout: float) -> list[tuple[str, Session]]:
        """Close, idle longest first, every session with ``clock - stamp > timeout`` (float64)."""
        closed = []
        while self._sessions:
            key, entry = next(iter(self._sessions.items()))
            if entry.stamp is None or not clock - entry.stamp > timeout:
                break
            closed.append(self._sessions.popitem(last=False))
        return closed

    def close(self, session: str) -> Session | None:
        return self._sessions.pop(session, None)

    def close_all(self) -> list[tuple[str, Session]]:
        """Close every session, idle longest first."""
        closed = list(self._sessions.items())
        self._sessions.clear()
        return closed

    def kept(self) -> list[str]:
        """The sessions kept, idle longest first."""
        return list(self._sessions)


# ---- session timeouts ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SessionTimeout:
    """``--session-timeout``: idle for more than ``lines`` lines, or more than ``seconds`` seconds."""

    lines: int | None = None
    seconds: float | None = None

    def __str__(self) -> str:
        return str(self.lines) if self.lines is not None else f"{self.seconds!r}s"


# A whole number of lines, or a decimal number of seconds followed by "s" (as C's strtod reads
# decimals: digits with an optional point and exponent); no sign, no spaces.
_TIMEOUT_LINES = re.compile(r"[0-9]+")
_TIMEOUT_SECONDS = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?s")
TIMEOUT_LINES_LIMIT = (1 << 64) - 1


def parse_session_timeout(text: str | None) -> SessionTimeout | None:
    """``N`` (lines, 1 <= N < 2^64) or ``Ts`` (seconds, T > 0 and finite); None for None."""
    if text is None:
        return None
    text = str(text)
    bad = UserError(f"--session-timeout must be a whole number of lines above 0 or a number of seconds above "
                    f"0 such as 30s, not {text!r}", None, "pass for example --session-timeout 1000 or 30s")
    if _TIMEOUT_LINES.fullmatch(text):
        lines = int(text)
        if not 1 <= lines <= TIMEOUT_LINES_LIMIT:
            raise bad
        return SessionTimeout(lines=lines)
    if _TIMEOUT_SECONDS.fullmatch(text):
        seconds = float(text[:-1])
        if not (seconds > 0 and math.isfinite(seconds)):
            raise bad
        return SessionTimeout(seconds=seconds)
    raise bad


def check_timeout_frontend(timeout: SessionTimeout | None, frontend: Frontend, where: Path | None) -> None:
    """A timeout in seconds needs timestamps: refused when the front end reads none."""
    if timeout is not None and timeout.seconds is not None and frontend.timestamp.template == TIMESTAMP_NONE:
        raise UserError(f"--session-timeout {timeout}: the front end reads no timestamps; give a line count",
                        where, "pass --session-timeout N (lines), or use a front end that reads timestamps")


# ---- the detector --------------------------------------------------------------------------------

def _deeplog_rule(model: DeepLogModel | None, rule: str | None) -> tuple[str, float | None, float | None]:
    """The rule in force and its thresholds for events and END: ``rule``, or the model's own."""
    if rule is not None and rule not in RULES:
        raise UserError(f"--rule must be {' or '.join(RULES)}, not {rule!r}", None,
                        f"pass --rule {RULE_TOPK} or --rule {RULE_PROBABILITY}")
    if model is None:
        return rule or RULE_TOPK, None, None
    rule = rule or model.rule
    if rule == RULE_PROBABILITY and model.prob_threshold is None:
        raise UserError("--rule probability, but the model has no calibrated prob_threshold", model.source,
                        "use --rule topk, or retrain with `alog-detect deeplog-train` (--calibration-fraction) "
                        "and re-export")
    if rule == RULE_PROBABILITY and model.end_key and model.end_threshold is None:
        raise UserError("--rule probability, but the model has no calibrated end_threshold", model.source,
                        "use --rule topk, or retrain with `alog-detect deeplog-train` and re-export")
    if rule != RULE_PROBABILITY:
        return rule, None, None
    return rule, model.prob_threshold, model.end_threshold


@dataclasses.dataclass(frozen=True)
class DetectConfig:
    models: Path
    logs: tuple[str, ...]          # files, or "-" for standard input
    all_verdicts: bool = False     # False: anomalies only
    # Front-end settings; None takes the model directory's frontend.json (or its defaults).
    session_key: str | None = None
    header_tokens: int | None = None
    masking_config: Path | None = None
    max_sessions: int = DEFAULT_MAX_SESSIONS   # DeepLog sessions kept at once
    session_timeout: str | None = None         # "N" lines or "Ts" seconds (docs/detection.md 2.2)
    rule: str | None = None                    # "topk" or "probability"; None: the model's
    # A progress bar on stderr: None on when stderr is a terminal and the files are long (never
    # for standard input), True always, False never.
    progress: bool | None = None


class Detector:
    """Stateful over a stream: feed chunks of consecutive raw lines, get verdict JSON lines back;
    `finish` at the end of the input closes the sessions still kept."""

    def __init__(self, models: Models, session_rule: SessionRule | None = None, all_verdicts: bool = False,
                 max_sessions: int = DEFAULT_MAX_SESSIONS, session_timeout: SessionTimeout | None = None,
                 rule: str | None = None):
        """``session_rule`` None: the one in ``models.frontend``; ``rule`` None: the model's."""
        if session_rule is not None:
            models = dataclasses.replace(models, frontend=dataclasses.replace(models.frontend,
                                                                              session_rule=session_rule))
        self.models = models
        self.frontend = models.frontend
        self.session_rule = models.frontend.session_rule
        # A log format, a field session key or a field timestamp read the line's fields: split it once.
        self._split = models.frontend.log_format is not None
        self.all_verdicts = all_verdicts
        self.matcher = models.frontend.matcher(models.vocab.templates)
        self.line = 0                                   # 1-based number of the last line read
        deeplog = models.deeplog
        self.rule, self.threshold, self.end_threshold = _deeplog_rule(deeplog, rule)
        self.session_timeout = session_timeout
        check_timeout_frontend(session_timeout, self.frontend, None)
        self.sessions = SessionTable(max_sessions, deeplog.window, deeplog.vocab_size) if deeplog else None
        mscred = models.mscred
        self._bucketer = Bucketer(mscred.spec) if mscred else None
        self._signatures = SignatureStream(mscred.spec) if mscred else None
        self._timed = bool(mscred) and mscred.spec.bucket.unit == "seconds"
        self._timeout_lines = session_timeout.lines if session_timeout and deeplog else None
        self._timeout_seconds = session_timeout.seconds if session_timeout and deeplog else None
        self.clock: float | None = None                 # the largest timestamp read (seconds timeout)

    def feed(self, lines: Iterable[bytes]) -> list[str]:
        """Decide ``lines`` (raw, without their line feed) and return the verdicts to print."""
        pending: list[_Pending] = []
        deeplog_inputs: list[list[int]] = []
        mscred_inputs: list[np.ndarray] = []
        for raw in lines:
            self.line += 1
            if self._timeout_lines is not None:
                self._close(self.sessions.close_idle_lines(self.line, self._timeout_lines), pending, deeplog_inputs)
            if not tokenize(line_head(raw)):          # a blank line carries no event
                continue
            view = self.frontend.view(raw) if self._split else None
            template = self.matcher.match(raw) if view is None else self.matcher.match_content(view.data, view.content)
            stamp = self.frontend.seconds(raw, view) if self._timed or self._timeout_seconds is not None else None
            if self._timeout_seconds is not None and stamp is not None:
                self._tick(stamp, pending, deeplog_inputs)
            mscred_before, mscred_after = self._count(template, stamp, mscred_inputs)
            pending.extend(mscred_before)
            if self.models.deeplog is not None:
                self._deeplog_event(raw, view, template, pending, deeplog_inputs)
            pending.extend(mscred_after)
        return self._render(pending, deeplog_inputs, mscred_inputs)

    def finish(self) -> list[str]:
        """The end of the input: close every session still kept, idle longest first, and return
        their END verdicts (none without the END key). The detector may be fed again after."""
        pending: list[_Pending] = []
        inputs: list[list[int]] = []
        if self.sessions is not None:
            self._close(self.sessions.close_all(), pending, inputs)
        return self._render(pending, inputs, [])

    def close_session(self, session: str) -> list[str]:
        """Close one session now (what a caller that knows it ended does); its END verdict, if any."""
        pending: list[_Pending] = []
        inputs: list[list[int]] = []
        entry = self.sessions.close(session) if self.sessions is not None else None
        if entry is not None:
            self._close([(session, entry)], pending, inputs)
        return self._render(pending, inputs, [])

    def _tick(self, stamp: float, pending: list[_Pending], inputs: list[list[int]]) -> None:
        """A timestamp read: move the clock, then close the sessions idle too long."""
        if self.clock is None:
            self.clock = stamp
            self.sessions.stamp_unstamped(stamp)
        elif stamp > self.clock:
            self.clock = stamp
        self._close(self.sessions.close_idle_seconds(self.clock, self._timeout_seconds), pending, inputs)

    def _close(self, closed: list[tuple[str, Session]], pending: list[_Pending], inputs: list[list[int]]) -> None:
        """The END verdicts of closed sessions, when the model has the END key."""
        model = self.models.deeplog
        if not model.end_key:
            return
        for key, entry in closed:
            inputs.append(entry.window.current())
            pending.append(_Pending("deeplog", key[:END_SESSION_NAME_BYTES], entry.last_line, model.vocab_size,
                                    len(inputs) - 1, end=True))

    def _deeplog_event(self, raw: bytes, view, template: int, pending: list[_Pending],
                       inputs: list[list[int]]) -> None:
        session = self.frontend.session(raw, view)
        if template == UNKNOWN:
            pending.append(_Pending("deeplog", session, self.line, UNKNOWN, -1))
            return
        entry, evicted = self.sessions.feed(session, self.line, self.clock)
        if evicted is not None:
            self._close([evicted], pending, inputs)
        inputs.append(entry.window.current())
        entry.window.push(template)
        pending.append(_Pending("deeplog", session, self.line, template, len(inputs) - 1))

    def _count(self, template: int, stamp: float | None,
               inputs: list[np.ndarray]) -> tuple[list[_Pending], list[_Pending]]:
        """Count the event for MSCRED; the verdicts its buckets produce before / after DeepLog's."""
        if self._bucketer is None or template == UNKNOWN:
            return [], []
        stamp = stamp if self._timed else None
        verdicts = []
        for closed in self._bucketer.add(template, self.line, stamp):
            if self._signatures.push(closed) is None:
                continue
            model_input = self._signatures.model_input()
            if model_input is not None:
                inputs.append(model_input)
                verdicts.append(_Pending("mscred", None, closed.last_line, -1, len(inputs) - 1))
        return (verdicts, []) if self._timed else ([], verdicts)

    def _render(self, pending: list[_Pending], deeplog_inputs: list[list[int]],
                mscred_inputs: list[np.ndarray]) -> list[str]:
        deeplog = self._deeplog_outcomes(deeplog_inputs, pending)
        mscred = self._mscred_outcomes(mscred_inputs)
        out = []
        for p in pending:
            if p.model == "mscred":
                score, anomaly = mscred[p.row]
                topk, reason = [], REASON_RESIDUAL if anomaly else REASON_OK
            elif p.row < 0:
                score, anomaly, topk, reason = None, True, [], REASON_UNKNOWN
            else:
                topk, anomaly, reason = deeplog[p.row]
                score = None
            if anomaly or self.all_verdicts:
                out.append(verdict_json(p.model, p.session, p.line, p.template, topk, score, anomaly, reason))
        return out

    def _deeplog_outcomes(self, inputs: list[list[int]], pending: list[_Pending]) -> list[tuple[list[int], bool, str]]:
        if not inputs:
            return []
        model = self.models.deeplog
        logits = model.run(np.asarray(inputs, dtype=np.int64))
        rows = [p for p in pending if p.model == "deeplog" and p.row >= 0]
        verdicts = judge(logits, [p.template for p in rows], model.top_k, self.rule, self.threshold,
                         [p.end for p in rows], self.end_threshold)
        return [(top, bool(a), reason) for top, a, reason in
                zip(verdicts.topk.tolist(), verdicts.anomaly.tolist(), verdicts.reasons)]

    def _mscred_outcomes(self, inputs: list[np.ndarray]) -> list[tuple[int, bool]]:
        if not inputs:
            return []
        model = self.models.mscred
        batch = np.stack(inputs)
        scores = residual_scores(model.run(batch), batch[:, -1], model.cell_threshold)
        return [(int(s), int(s) > model.anomaly_threshold) for s in scores.tolist()]


# ---- input ---------------------------------------------------------------------------------------

def read_chunks(fd: int, size: int = READ_CHUNK, keep: int = LINE_KEEP_BYTES) -> Iterator[list[bytes]]:
    """Complete lines (without the line feed) as they arrive; a last line without one at EOF too.

    ``os.read`` returns what is ready instead of waiting for a full buffer, so a pipe fed line by
    line yields line by line. Of a line longer than ``keep`` bytes only the first ``keep`` are
    kept; the rest is dropped as it streams past, so memory stays bounded whatever the input.
    """
    rest = b""          # the line under way, cut at keep bytes
    while True:
        data = os.read(fd, size)
        if not data:
            break
        *ended, tail = data.split(b"\n")
        if ended:
            ended[0] = rest + ended[0][:keep - len(rest)]
            yield [line[:keep] for line in ended]
            rest = tail[:keep]
        elif len(rest) < keep:
            rest += tail[:keep - len(rest)]
    if rest:
        yield [rest]


def _check_config(config: DetectConfig) -> None:
    cap = config.max_sessions
    if isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_SESSIONS_LIMIT:
        raise UserError(f"--max-sessions must be a whole number from 1 to {MAX_SESSIONS_LIMIT}, not {cap!r}",
                        None, f"pass a session count such as the default {DEFAULT_MAX_SESSIONS}")
    parse_session_timeout(config.session_timeout)
    if config.rule is not None and config.rule not in RULES:
        raise UserError(f"--rule must be {' or '.join(RULES)}, not {config.rule!r}", None,
                        f"pass --rule {RULE_TOPK} or --rule {RULE_PROBABILITY}")
    if not config.logs:
        raise UserError("no input", None, "pass --logs FILE... or --logs - for standard input")
    for log in config.logs:
        if log != "-" and not Path(log).is_file():
            raise UserError("no such log file", log, "give an existing file, or - for standard input")


def _chunks(log: str) -> Iterator[list[bytes]]:
    if log == "-":
        yield from read_chunks(sys.stdin.fileno())
        return
    fd = os.open(log, os.O_RDONLY)
    try:
        yield from read_chunks(fd, 1 << 20)
    finally:
        os.close(fd)


def detect(config: DetectConfig, out: TextIO | None = None) -> int:
    """Run the detector over ``config.logs`` (one stream, files in order); returns verdicts written."""
    out = out or sys.stdout
    _check_config(config)
    models = load_models(config.models)
    frontend = models.frontend.with_options(masking_config=config.masking_config, session_key=config.session_key,
                                            header_tokens=config.header_tokens)
    timeout = parse_session_timeout(config.session_timeout)
    check_timeout_frontend(timeout, frontend, Path(config.models) / FRONTEND_NAME)
    detector = Detector(dataclasses.replace(models, frontend=frontend), all_verdicts=config.all_verdicts,
                        max_sessions=config.max_sessions, session_timeout=timeout, rule=config.rule)
    written = 0

    def write(verdicts: list[str]) -> int:
        if verdicts:
            out.write("\n".join(verdicts) + "\n")
            out.flush()
        return len(verdicts)

    with _progress_bar(config) as bar:
        for log in config.logs:
            for lines in _chunks(log):
                written += write(detector.feed(lines))
                bar.update(len(lines))
    # The end of the input (all files, or standard input): the sessions still kept close.
    return written + write(detector.finish())


def _progress_bar(config: DetectConfig):
    """A tqdm bar over the lines read (as parse's): counted first when the input is files."""
    from tqdm import tqdm

    from .parse import PROGRESS_MIN_LINES, _count_lines

    enabled, total = config.progress, None
    files = [log for log in config.logs if log != "-"]
    if enabled is not False and len(files) == len(config.logs) and (enabled or sys.stderr.isatty()):
        total = _count_lines(files)
        enabled = enabled or total >= PROGRESS_MIN_LINES
    return tqdm(total=total, disable=not enabled, file=sys.stderr, unit=" lines", desc="detect", mininterval=0.5)
