"""The detector: raw log lines in, verdicts out, through libalog's detector API (alog.h).

    from alog_runtime import Detector

    with Detector() as detector:                      # the models inside the package
        for verdict in detector.feed_many(open("app.log", "rb")):
            if verdict.anomaly:
                print(verdict.to_json().decode())

Verdicts are the ones `alog-engine` prints for the same lines (docs/detection.md), in the same
order; ``Verdict.to_json()`` gives its exact bytes, written by the library itself.
"""

from __future__ import annotations

import ctypes
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Literal, Optional, Tuple, Union

from . import _capi
from ._capi import (ALOG_ERR_IO, ALOG_ISA_AVX2, ALOG_OK, VERDICT_FN, FLUSH_FN, Library, alog_detector,
                    alog_event, alog_message, alog_sink, alog_verdict, load_library)
from ._modeldir import ModelFiles, load_model_files, string_bytes
from .errors import (ArgumentError, ArgumentTypeError, ClosedError, DetectorSetupError,
                     ModelDirError, RunError)

DEFAULT_MAX_SESSIONS = 65536
MAX_SESSIONS_LIMIT = 1 << 24
TOPK_CACHE_ENTRIES = 16384          # as alog-engine: windows whose top-k is remembered
ISA_CHOICES = {"auto": ~0 & 0xFFFFFFFF, "avx2": ALOG_ISA_AVX2, "baseline": 0}
MODELS_DIR = Path(__file__).resolve().parent / "models"

Line = Union[bytes, bytearray, memoryview, str]
ModelName = Literal["deeplog", "mscred"]
Reason = Literal["ok", "not_in_topk", "low_probability", "unseen", "early_end", "residual"]
RULES = {"topk": _capi.ALOG_RULE_TOPK, "probability": _capi.ALOG_RULE_PROBABILITY}


# ---- verdicts -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """One verdict, the fields of the engine's JSON object in its order (docs/detection.md)."""

    model: ModelName             # "deeplog" or "mscred"
    session: Optional[str]       # DeepLog: the session key ("all", "<nokey>", ...); MSCRED: None
    line: int                    # the line's number among all lines fed (1-based)
    template: int                # the template index, -1 when unseen (and for MSCRED)
    topk: Tuple[int, ...]        # DeepLog's top-k, largest logit first; () when unseen and for MSCRED
    score: Optional[int]         # MSCRED: residual cells over the threshold; DeepLog: None
    anomaly: bool
    reason: Reason               # "ok", "not_in_topk", "unseen" or "residual"

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object, keys in the engine's order (``topk`` a list)."""
        return {"model": self.model, "session": self.session, "line": self.line,
                "template": self.template, "topk": list(self.topk), "score": self.score,
                "anomaly": self.anomaly, "reason": self.reason}

    def to_json(self) -> bytes:
        """The engine's JSON line for this verdict, without its line feed: written by libalog's
        alog_verdict_write, so byte for byte what `alog-engine` prints."""
        return _write_json(load_library(), self)


def _verdict_from_c(v: alog_verdict) -> Verdict:
    session = None
    if v.session:
        session = ctypes.string_at(v.session, v.session_len).decode("utf-8", "surrogateescape")
    return Verdict(
        model="deeplog" if v.model == _capi.ALOG_MODEL_DEEPLOG else "mscred",
        session=session,
        line=v.line,
        template=v.template_index,
        topk=tuple(v.topk[:v.topk_len]) if v.topk_len else (),
        score=v.score if v.has_score else None,
        anomaly=bool(v.anomaly),
        reason=v.reason.decode("ascii"),
    )


class CallbackSink:
    """What a callback from the library appends to, through its void *ctx. An exception raised
    inside a callback cannot cross the C frames under it (ctypes would print and drop it, with
    the verdict): it is kept in ``failure`` and raised again once the C call has returned."""

    def __init__(self) -> None:
        self.items: List[Any] = []
        self.failure: Optional[BaseException] = None

    def raise_failure(self) -> None:
        failure, self.failure = self.failure, None
        if failure is not None:
            raise failure


def _context(obj: Any) -> Tuple[ctypes.py_object, int]:
    """A callback context for `obj`: the holder (keep it alive) and its address for void *ctx."""
    holder = ctypes.py_object(obj)
    return holder, ctypes.addressof(holder)


def _from_context(ctx: int) -> Any:
    return ctypes.cast(ctx, ctypes.POINTER(ctypes.py_object)).contents.value


def _collect_chunk(ctx: int, data: int, length: int) -> int:
    sink: CallbackSink = _from_context(ctx)
    try:
        sink.items.append(ctypes.string_at(data, length))
        return 0
    except BaseException as exc:  # noqa: B036 - kept and raised after the C call
        sink.failure = exc
        return 1


def _collect_verdict(ctx: int, verdict: Any) -> None:
    sink: CallbackSink = _from_context(ctx)
    try:
        sink.items.append(_verdict_from_c(verdict.contents))
    except BaseException as exc:  # noqa: B036 - kept and raised after the C call
        sink.failure = exc


_COLLECT_CHUNK = FLUSH_FN(_collect_chunk)
_COLLECT_VERDICT = VERDICT_FN(_collect_verdict)


def _write_json(lib: Library, verdict: Verdict) -> bytes:
    """alog_verdict_write of the verdict's fields into a sink whose bytes come back here."""
    c = alog_verdict()
    c.model = _capi.ALOG_MODEL_DEEPLOG if verdict.model == "deeplog" else _capi.ALOG_MODEL_MSCRED
    if verdict.session is not None:
        session = string_bytes(verdict.session)
        session_buffer = ctypes.create_string_buffer(session, len(session))
        c.session = ctypes.addressof(session_buffer)
        c.session_len = len(session)
    c.line = verdict.line
    c.template_index = verdict.template
    topk = (ctypes.c_int32 * len(verdict.topk))(*verdict.topk)
    c.topk = topk
    c.topk_len = len(verdict.topk)
    c.has_score = verdict.score is not None
    c.score = verdict.score or 0
    c.anomaly = bool(verdict.anomaly)
    c.reason = verdict.reason.encode("ascii")
    chunks = CallbackSink()
    keep_alive, ctx = _context(chunks)
    buffer = ctypes.create_string_buffer(4096)
    sink = alog_sink()
    lib.alog_sink_init(ctypes.byref(sink), buffer, len(buffer), _COLLECT_CHUNK, ctx)
    lib.alog_verdict_write(ctypes.byref(sink), ctypes.byref(c))
    lib.alog_sink_flush(ctypes.byref(sink))
    chunks.raise_failure()
    line = b"".join(chunks.items)
    return line[:-1] if line.endswith(b"\n") else line


# ---- the detector -------------------------------------------------------------------------------

def _line_bytes(line: Line) -> bytes:
    if isinstance(line, bytes):
        return line
    if isinstance(line, (bytearray, memoryview)):
        return bytes(line)
    if isinstance(line, str):
        return string_bytes(line) if _has_surrogates(line) else line.encode("utf-8")
    raise ArgumentTypeError(f"a line is bytes or str, not {type(line).__name__}")


def session_rule_ok(lib: Library, rule: object) -> bool:
    """A session rule as alog_detector_config takes it: "none", "prefix:<p>" (printable ASCII) or
    "field:<Name>" (a field of the log format: the detector checks that)."""
    return (isinstance(rule, str) and rule.isascii() and "\0" not in rule and
            lib.alog_session_rule_check(rule.encode("ascii")) == ALOG_OK)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


class Detector:
    """DeepLog and MSCRED over a stream of raw log lines, with the models of a model directory.

    ``models_dir``: a directory from `alog-detect convert-onnx --output-dir` (vocab.json,
    frontend.json, deeplog.onnx and/or mscred.onnx with their .meta.json); None: the one inside
    this package (``alog_runtime/models/``). It is checked as `alog-engine` checks it, and a
    problem raises ModelDirError naming the file and the fix.

    ``session_key`` (``"none"`` or ``"prefix:<p>"``) and ``header_tokens`` override the directory's
    frontend.json, as alog-engine's --session-key and --header-tokens do. ``max_sessions``: DeepLog
    sessions kept at once (1 to 16777216). ``isa``: ``"auto"``, ``"avx2"`` or ``"baseline"``, the
    vector extensions the models may use (the verdicts are the same). ``rule``: ``"topk"`` or
    ``"probability"``, DeepLog's decision rule (None: the model's; docs/detection.md 2.3).
    ``session_timeout_lines`` / ``session_timeout_seconds`` (at most one): a session closes when
    idle for more lines, or seconds of the lines' timestamps, than this (alog-engine's
    --session-timeout N|Ts; docs/detection.md 2.2).

    Verdicts are decided as lines arrive: every verdict a line causes is returned by the call that
    feeds it. Sessions also close: ``close_session(key)`` closes one (a program that knows a
    session ended), ``finish()`` all of them at the end of the input, as alog-engine does at the
    end of its input; with a model trained with the END key each close is judged (one verdict,
    template V, reason "early_end" or "ok").

    Not thread-safe: feed one detector from one thread at a time. ``close()`` (or leaving a
    ``with`` block) releases its memory; a closed detector raises ClosedError.
    """

    def __init__(self, models_dir: Union[str, "os.PathLike[str]", None] = None, *,
                 max_sessions: int = DEFAULT_MAX_SESSIONS, isa: str = "auto",
                 session_key: Optional[str] = None, header_tokens: Optional[int] = None,
                 rule: Optional[str] = None, session_timeout_lines: Optional[int] = None,
                 session_timeout_seconds: Optional[float] = None):
        self._state: Optional[_OpenDetector] = None
        self._lines = 0
        if rule is not None and rule not in RULES:
            raise ArgumentError(f"rule must be topk or probability, not {rule!r}")
        if session_timeout_lines is not None and (isinstance(session_timeout_lines, bool) or
                                                  not isinstance(session_timeout_lines, int) or
                                                  not 1 <= session_timeout_lines < 1 << 64):
            raise ArgumentError(f"session_timeout_lines must be a whole number above 0, not "
                                f"{session_timeout_lines!r}")
        if session_timeout_seconds is not None and (
                isinstance(session_timeout_seconds, bool) or
                not isinstance(session_timeout_seconds, (int, float)) or
                not math.isfinite(session_timeout_seconds) or not session_timeout_seconds > 0):
            raise ArgumentError(f"session_timeout_seconds must be a finite number above 0, not "
                                f"{session_timeout_seconds!r}")
        if session_timeout_lines is not None and session_timeout_seconds is not None:
            raise ArgumentError("a session timeout is in lines or in seconds, not both")
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or \
                not 1 <= max_sessions <= MAX_SESSIONS_LIMIT:
            raise ArgumentError(f"max_sessions must be a whole number from 1 to {MAX_SESSIONS_LIMIT}, "
                                f"not {max_sessions!r}")
        if isa not in ISA_CHOICES:
            raise ArgumentError(f"isa must be auto, avx2 or baseline, not {isa!r}")
        if header_tokens is not None and (isinstance(header_tokens, bool) or
                                          not isinstance(header_tokens, int) or
                                          not 0 <= header_tokens <= 0xFFFFFFFF):
            raise ArgumentError(f"header_tokens must be a whole number from 0 to 4294967295, "
                                f"not {header_tokens!r}")
        lib = self._lib = load_library()
        if session_key is not None and not session_rule_ok(lib, session_key):
            raise ArgumentError(f"session_key must be 'none', 'prefix:<p>' (printable ASCII) or "
                                f"'field:<Name>', not {session_key!r}")
        if models_dir is None and not MODELS_DIR.is_dir():
            raise ModelDirError(ALOG_ERR_IO, _capi.status_name(ALOG_ERR_IO),
                                lib.status_str(ALOG_ERR_IO), "model directory not found",
                                str(MODELS_DIR), "this alog-runtime was installed without models: "
                                "pass a model directory (models_dir=..., or --models DIR)")
        self.models_dir = os.fspath(MODELS_DIR if models_dir is None else models_dir)
        files = load_model_files(lib, self.models_dir)
        for model in files.models.values():
            lib.alog_model_limit_isa(model, ISA_CHOICES[isa])
        c = files.config
        if rule is not None:
            c.rule = RULES[rule]
        if rule == "probability" and c.has_deeplog and not math.isfinite(c.prob_threshold):
            raise ArgumentError(f"{os.path.join(self.models_dir, 'deeplog.onnx.meta.json')}: the "
                                f"probability rule needs a calibrated prob_threshold, and this model "
                                f"has none (fix: use the topk rule, or retrain with deeplog-train "
                                f"and re-export)")
        if rule == "probability" and c.has_deeplog and c.end_key and not math.isfinite(c.end_threshold):
            raise ArgumentError(f"{os.path.join(self.models_dir, 'deeplog.onnx.meta.json')}: the "
                                f"probability rule needs a calibrated end_threshold for the END key, and "
                                f"this model has none (fix: use the topk rule, or retrain with "
                                f"deeplog-train and re-export)")
        if session_timeout_seconds is not None and files.frontend.timestamp == b"none":
            raise ArgumentError(f"{os.path.join(self.models_dir, 'frontend.json')}: a session timeout "
                                f"in seconds, but this front end reads no timestamps (timestamp none); "
                                f"give a line count")
        c.session_timeout_lines = session_timeout_lines or 0
        c.session_timeout_seconds = float(session_timeout_seconds or 0)
        self._state = self._open(files, session_key, header_tokens, max_sessions)

    def _open(self, files: ModelFiles, session_key: Optional[str], header_tokens: Optional[int],
              max_sessions: int) -> "_OpenDetector":
        """The detector in a buffer of exactly alog_detector_size() bytes, over the open models;
        the config's tables and strings are kept with it: the library uses them in place."""
        lib = self._lib
        c = files.config
        count = len(files.templates)
        state = _OpenDetector(
            files=files,
            templates=(ctypes.c_char_p * count)(*files.templates),
            template_lengths=(ctypes.c_size_t * count)(*map(len, files.templates)),
            mask_rules=files.frontend.mask_rules.encode("ascii"),
            session_rule=(session_key if session_key is not None
                          else files.frontend.session_rule).encode("ascii"),
            log_format=files.frontend.log_format, timestamp=files.frontend.timestamp,
            timestamp_format=files.frontend.timestamp_format)
        c.templates = state.templates
        c.template_lengths = state.template_lengths
        c.mask_rules = state.mask_rules
        c.session_rule = state.session_rule
        c.log_format = state.log_format
        c.timestamp = state.timestamp
        c.timestamp_format = state.timestamp_format
        c.header_tokens = files.frontend.header_tokens if header_tokens is None else header_tokens
        c.max_sessions = max_sessions
        c.cache_entries = TOPK_CACHE_ENTRIES
        message = alog_message()
        need = ctypes.c_size_t(0)
        status = lib.alog_detector_size(ctypes.byref(need), ctypes.byref(c), ctypes.byref(message))
        if status == ALOG_OK:
            state.memory = ctypes.create_string_buffer(need.value)
            status = lib.alog_detector_open(ctypes.byref(state.detector), state.memory, need.value,
                                            ctypes.byref(c), files.models.get("deeplog"),
                                            files.models.get("mscred"), ctypes.byref(message))
        if status != ALOG_OK:
            detail = message.text.decode("utf-8", "replace") or "detector setup"
            raise DetectorSetupError(status, _capi.status_name(status), lib.status_str(status),
                                     f"{detail} ({lib.status_str(status)})")
        return state

    # ---- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Release the detector, its models and their memory. Calling it again does nothing."""
        self._state = None

    @property
    def closed(self) -> bool:
        return self._state is None

    def __enter__(self) -> "Detector":
        self._live()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _live(self) -> "_OpenDetector":
        if self._state is None:
            raise ClosedError("this detector is closed")
        return self._state

    # ---- what it holds ------------------------------------------------------------------------

    @property
    def models(self) -> Tuple[str, ...]:
        """The models this detector runs: ("deeplog",), ("mscred",) or both."""
        state = self._live()
        return tuple(kind for kind in ("deeplog", "mscred") if kind in state.files.models)

    @property
    def session_rule(self) -> str:
        """The session rule in use (frontend.json's, or the session_key override)."""
        return self._live().session_rule.decode("ascii")

    @property
    def lines_fed(self) -> int:
        """How many lines (and events) were judged: the next one is number lines_fed + 1."""
        return self._lines

    # ---- feeding ------------------------------------------------------------------------------

    def feed(self, line: Line) -> List[Verdict]:
        """One raw log line (bytes, or str: UTF-8, lone surrogates as surrogateescape bytes);
        one trailing LF and then one CR are not part of it. Returns the verdicts it caused, in
        stream order: none for a blank line, DeepLog's for an event, MSCRED's when a bucket closes.
        A line over 1 MiB is unseen, its session key taken from its first 1 MiB + 1 bytes, as
        alog-engine judges it. A line with a LF before its end is refused (ArgumentError): feed
        lines one at a time, as a file's lines are."""
        data = _line_bytes(line)
        if data.find(b"\n", 0, len(data) - 1) >= 0:
            raise ArgumentError("a line must not hold a line feed before its end: feed each line "
                                "of a text separately (feed_many(text.splitlines()))")
        verdicts = CallbackSink()
        self._feed_raw(data, len(data), False, _COLLECT_VERDICT, verdicts)
        return verdicts.items

    def feed_many(self, lines: Iterable[Line]) -> Iterator[Verdict]:
        """The verdicts of many lines, in order, as they are decided: for example the lines of a
        file opened in binary mode (``open(path, "rb")``: text mode would translate line ends)."""
        for line in lines:
            yield from self.feed(line)

    def feed_event(self, session: Union[str, bytes, None], template_index: int,
                   seconds: Optional[float] = None) -> List[Verdict]:
        """One event whose template index is already known (0..V-1, or -1 outside the
        vocabulary), for programs that log template indices: the next line number, judged as a
        matched line (alog_detector_feed_event). ``session`` None is the one session "all";
        ``seconds`` (since 1970-01-01 UTC) is what MSCRED's seconds buckets need."""
        if isinstance(template_index, bool) or not isinstance(template_index, int):
            raise ArgumentTypeError(f"template_index is an int, not {type(template_index).__name__}")
        key = self._session_key(session)
        state = self._live()
        size = len(state.files.templates)
        if not -1 <= template_index < size:
            raise ArgumentError(f"template_index must be -1 (outside the vocabulary) or "
                                f"0..{size - 1}, not {template_index}")
        event = alog_event()
        event.session = key
        event.session_len = len(key) if key is not None else 0
        event.template_index = template_index
        if seconds is not None:
            event.has_time = 1
            event.seconds = float(seconds)
        verdicts = CallbackSink()
        keep_alive, ctx = _context(verdicts)
        status = self._lib.alog_detector_feed_event(state.detector, ctypes.byref(event),
                                                    _COLLECT_VERDICT, ctx)
        verdicts.raise_failure()
        self._check(state, status)
        return verdicts.items

    def close_session(self, session: Union[str, bytes, None]) -> List[Verdict]:
        """Close one session (alog_detector_close_session): with the END key its END verdict
        (template V, reason "early_end" or "ok", the line of its last known event); then its
        window is forgotten. A session not kept gives nothing. None: the one session "all"."""
        key = self._session_key(session)
        state = self._live()
        verdicts = CallbackSink()
        keep_alive, ctx = _context(verdicts)
        status = self._lib.alog_detector_close_session(state.detector, key,
                                                       len(key) if key is not None else 0,
                                                       _COLLECT_VERDICT, ctx)
        verdicts.raise_failure()
        self._check_close(state, status)
        return verdicts.items

    def finish(self) -> List[Verdict]:
        """The end of the input (alog_detector_finish): closes every session still kept, idle
        longest first, each as close_session() does. Feeding may go on afterwards."""
        return self._finish(_COLLECT_VERDICT, CallbackSink()).items

    def _finish(self, emit: Any, sink: CallbackSink) -> CallbackSink:
        state = self._live()
        keep_alive, ctx = _context(sink)
        status = self._lib.alog_detector_finish(state.detector, emit, ctx)
        sink.raise_failure()
        self._check_close(state, status)
        return sink

    @staticmethod
    def _session_key(session: Union[str, bytes, None]) -> Optional[bytes]:
        if session is None:
            return None
        if isinstance(session, str):
            return string_bytes(session)
        if isinstance(session, bytes):
            return session
        raise ArgumentTypeError(f"session is str, bytes or None, not {type(session).__name__}")

    def _check_close(self, state: "_OpenDetector", status: int) -> None:
        """A close takes no line number; a failed model run is raised as a feed's would be."""
        if status != ALOG_OK:
            self._check(state, status)

    def _feed_raw(self, data: bytes, length: int, head_only: bool, emit: Any,
                  sink: CallbackSink) -> None:
        """Feed data[:length] as one line (head_only: the head of a longer line, as alog-engine's
        reader passes it); each verdict goes to emit(ctx of `sink`, verdict)."""
        state = self._live()
        keep_alive, ctx = _context(sink)
        feed = (self._lib.alog_detector_feed_line_head if head_only
                else self._lib.alog_detector_feed_line)
        status = feed(state.detector, data, length, emit, ctx)
        sink.raise_failure()
        self._check(state, status)

    def _check(self, state: "_OpenDetector", status: int) -> None:
        """Count a fed line, or raise a failed feed as alog-engine reports it:
        ``line N: <status>[: <reason>]``."""
        if status == ALOG_OK:
            self._lines += 1
            return
        lib = self._lib
        reason = lib.status_str(status)
        error = (lib.alog_detector_error(state.detector) or b"").decode("utf-8", "replace")
        raise RunError(status, _capi.status_name(status), reason,
                       f"{reason}: {error}" if error else reason, self._lines + 1)


@dataclass
class _OpenDetector:
    """An open detector and everything the library uses in place while it is open: the model
    files, buffers and arenas, the config's tables and strings, the detector's memory. close()
    drops it whole."""

    files: ModelFiles
    templates: Any                      # (V) c_char_p, the template bytes
    template_lengths: Any               # (V) size_t
    mask_rules: bytes
    session_rule: bytes
    log_format: bytes = b""
    timestamp: bytes = b"line-start"
    timestamp_format: bytes = b""
    memory: Any = None                  # alog_detector_size() bytes
    detector: Any = field(default_factory=lambda: ctypes.POINTER(alog_detector)())
