"""ctypes declarations of cengine/include/alog.h, and the loading of libalog.so.

Every structure here mirrors its C definition member for member (tests/test_runtime.py compares
sizeof and offsetof with what the C compiler says), and every function this package calls has its
argtypes and restype declared, so ctypes never guesses a width. Only alog.h's public API is used.

The library is the libalog.so next to this file (the wheel ships it there); the environment
variable ALOG_RUNTIME_LIBRARY may name another one (development, tests).
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_int, c_int32,
                    c_int64, c_size_t, c_uint, c_uint32, c_uint64, c_void_p)
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import LibraryError

LIBRARY_ENV = "ALOG_RUNTIME_LIBRARY"
LIBRARY_NAME = "libalog.so"

# ---- constants (alog.h) -------------------------------------------------------------------------

ALOG_VERSION_STRING = "0.1.0"
ALOG_MESSAGE_LEN = 192
ALOG_MAX_RANK = 8
ALOG_MSCRED_MAX_SCALES = 8
ALOG_MAX_LINE = 1 << 20
ALOG_ISA_AVX2 = 1
ALOG_ISA_AVX512 = 2
ALOG_MODEL_DEEPLOG = 0
ALOG_MODEL_MSCRED = 1
ALOG_RULE_TOPK = 0
ALOG_RULE_PROBABILITY = 1

ALOG_OK = 0
ALOG_ERR_IO = 2
ALOG_ERR_ARENA_TOO_SMALL = 7
# alog_status in enum order: the value is the index.
STATUS_NAMES: Tuple[str, ...] = (
    "ALOG_OK",
    "ALOG_ERR_INVALID_ARGUMENT",
    "ALOG_ERR_IO",
    "ALOG_ERR_MALFORMED",
    "ALOG_ERR_UNSUPPORTED_OP",
    "ALOG_ERR_UNSUPPORTED_ATTR",
    "ALOG_ERR_SHAPE",
    "ALOG_ERR_ARENA_TOO_SMALL",
    "ALOG_ERR_LIMIT",
    "ALOG_ERR_MISMATCH",
)
assert STATUS_NAMES[ALOG_ERR_ARENA_TOO_SMALL] == "ALOG_ERR_ARENA_TOO_SMALL"


def status_name(status: int) -> str:
    return STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else f"alog_status {status}"


# ---- structures ---------------------------------------------------------------------------------

class alog_message(Structure):
    _fields_ = [("text", c_char * ALOG_MESSAGE_LEN)]


class alog_model(Structure):
    """Opaque: only pointers to it are used."""


class alog_detector(Structure):
    """Opaque: only pointers to it are used."""


class alog_signature_spec(Structure):
    _fields_ = [
        ("num_templates", c_uint32),
        ("n", c_uint32),
        ("scales", c_uint32),
        ("window_sizes", c_uint32 * ALOG_MSCRED_MAX_SCALES),
        ("step", c_uint32),
        ("steps", c_uint32),
        ("bucket_by_seconds", c_int),
        ("bucket_size", c_uint32),
        ("norm", c_uint32),
    ]


class alog_detector_config(Structure):
    _fields_ = [
        ("vocab_size", c_uint32),
        ("templates", POINTER(c_char_p)),
        ("template_lengths", POINTER(c_size_t)),
        ("mask_rules", c_char_p),
        ("session_rule", c_char_p),
        ("header_tokens", c_uint32),
        ("log_format", c_char_p),
        ("timestamp", c_char_p),
        ("timestamp_format", c_char_p),
        ("has_deeplog", c_int),
        ("window", c_uint32),
        ("top_k", c_uint32),
        ("max_sessions", c_uint32),
        ("cache_entries", c_uint32),
        ("batch", c_uint32),              # 0/1: no batching; N: DeepLog opened with batch N
        ("end_key", c_int),
        ("rule", c_int),                  # alog_rule
        ("prob_threshold", c_double),
        ("end_threshold", c_double),
        ("session_timeout_lines", c_uint64),
        ("session_timeout_seconds", c_double),
        ("has_mscred", c_int),
        ("signature", alog_signature_spec),
        ("cell_threshold", ctypes.c_float),
        ("anomaly_threshold", c_int64),
    ]


class alog_verdict(Structure):
    _fields_ = [
        ("model", c_int),                 # alog_model_kind
        ("session", c_void_p),            # (session_len) bytes, not terminated; NULL for MSCRED
        ("session_len", c_size_t),
        ("line", c_uint64),
        ("template_index", c_int32),
        ("topk", POINTER(c_int32)),       # (topk_len)
        ("topk_len", c_uint32),
        ("has_score", c_int),
        ("score", c_int64),
        ("anomaly", c_int),
        ("reason", c_char_p),
    ]


VERDICT_FN = CFUNCTYPE(None, c_void_p, POINTER(alog_verdict))
FLUSH_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)


class alog_sink(Structure):
    _fields_ = [
        ("buf", c_void_p),
        ("cap", c_size_t),
        ("len", c_size_t),
        ("flush", FLUSH_FN),
        ("ctx", c_void_p),
        ("failed", c_int),
    ]


class alog_event(Structure):
    _fields_ = [
        ("session", c_char_p),            # (session_len) bytes; NULL: the one session "all"
        ("session_len", c_size_t),
        ("template_index", c_int32),
        ("has_time", c_int),
        ("seconds", c_double),
    ]


STRUCTURES: Tuple[type, ...] = (alog_message, alog_signature_spec, alog_detector_config,
                                alog_verdict, alog_sink, alog_event)

# ---- functions ----------------------------------------------------------------------------------

_status = c_int
_model_p = POINTER(alog_model)
_detector_p = POINTER(alog_detector)
_message_p = POINTER(alog_message)

PROTOTYPES: Dict[str, Tuple[Any, List[Any]]] = {
    "alog_status_str": (c_char_p, [_status]),
    "alog_model_arena_size": (_status, [POINTER(c_size_t), c_void_p, c_size_t, c_void_p, c_size_t,
                                        c_int64, _message_p]),
    "alog_model_open": (_status, [POINTER(_model_p), c_void_p, c_size_t, c_void_p, c_size_t,
                                  c_int64, _message_p]),
    "alog_model_isa": (c_uint, [_model_p]),
    "alog_model_limit_isa": (c_uint, [_model_p, c_uint]),
    "alog_session_rule_check": (_status, [c_char_p]),
    "alog_frontend_check": (_status, [c_char_p, c_char_p, c_uint32, c_char_p, c_char_p, _message_p]),
    "alog_detector_size": (_status, [POINTER(c_size_t), POINTER(alog_detector_config), _message_p]),
    "alog_detector_open": (_status, [POINTER(_detector_p), c_void_p, c_size_t,
                                     POINTER(alog_detector_config), _model_p, _model_p,
                                     _message_p]),
    "alog_detector_feed_line": (_status, [_detector_p, c_char_p, c_size_t, VERDICT_FN, c_void_p]),
    "alog_detector_feed_line_head": (_status, [_detector_p, c_char_p, c_size_t, VERDICT_FN,
                                               c_void_p]),
    "alog_detector_feed_event": (_status, [_detector_p, POINTER(alog_event), VERDICT_FN, c_void_p]),
    "alog_detector_close_session": (_status, [_detector_p, c_char_p, c_size_t, VERDICT_FN,
                                              c_void_p]),
    "alog_detector_finish": (_status, [_detector_p, VERDICT_FN, c_void_p]),
    "alog_detector_flush": (_status, [_detector_p, VERDICT_FN, c_void_p]),
    "alog_detector_error": (c_char_p, [_detector_p]),
    "alog_sink_init": (None, [POINTER(alog_sink), c_void_p, c_size_t, FLUSH_FN, c_void_p]),
    "alog_sink_flush": (_status, [POINTER(alog_sink)]),
    "alog_verdict_write": (None, [POINTER(alog_sink), POINTER(alog_verdict)]),
}


class Library:
    """libalog.so with every function of PROTOTYPES declared; ``lib.alog_model_open(...)``."""

    path: Path
    # PROTOTYPES' functions, as ctypes calls them (results: ctypes converts c_int, c_uint and
    # c_char_p to int and bytes)
    alog_status_str: Callable[..., Optional[bytes]]
    alog_model_arena_size: Callable[..., int]
    alog_model_open: Callable[..., int]
    alog_model_isa: Callable[..., int]
    alog_model_limit_isa: Callable[..., int]
    alog_session_rule_check: Callable[..., int]
    alog_frontend_check: Callable[..., int]
    alog_detector_size: Callable[..., int]
    alog_detector_open: Callable[..., int]
    alog_detector_feed_line: Callable[..., int]
    alog_detector_feed_line_head: Callable[..., int]
    alog_detector_feed_event: Callable[..., int]
    alog_detector_close_session: Callable[..., int]
    alog_detector_finish: Callable[..., int]
    alog_detector_flush: Callable[..., int]
    alog_detector_error: Callable[..., Optional[bytes]]
    alog_sink_init: Callable[..., None]
    alog_sink_flush: Callable[..., int]
    alog_verdict_write: Callable[..., None]

    def __init__(self, path: Path):
        self.path = path
        try:
            self._dll = ctypes.CDLL(str(path))
        except OSError as exc:
            raise LibraryError(_load_failure(path, str(exc))) from None
        for name, (restype, argtypes) in PROTOTYPES.items():
            try:
                function = getattr(self._dll, name)
            except AttributeError:
                raise LibraryError(f"{path}: not the alog library this package needs (no {name}) "
                                   f"(fix: use the libalog.so of alog-runtime "
                                   f"{ALOG_VERSION_STRING})") from None
            function.restype = restype
            function.argtypes = argtypes
            setattr(self, name, function)

    def status_str(self, status: int) -> str:
        return (self.alog_status_str(status) or b"").decode("ascii", "replace")


assert set(Library.__annotations__) == {"path", *PROTOTYPES}, "declare each function of PROTOTYPES"


def _load_failure(path: Path, reason: str) -> str:
    if not path.exists():
        what = "not found"
        fix = ("reinstall the alog-runtime wheel built for this platform"
               if os.environ.get(LIBRARY_ENV) is None
               else f"point {LIBRARY_ENV} at an existing libalog.so, or unset it")
    else:
        what = f"cannot be loaded: {reason}"
        fix = (f"install the alog-runtime wheel built for this machine "
               f"({platform.system()} {platform.machine()})")
    return f"{path}: {what} (fix: {fix})"


def library_path() -> Path:
    """Where the library is looked for: $ALOG_RUNTIME_LIBRARY, else next to this file."""
    override = os.environ.get(LIBRARY_ENV)
    return Path(override) if override else Path(__file__).resolve().parent / LIBRARY_NAME


@functools.lru_cache(maxsize=None)
def _load(path: Path) -> Library:
    return Library(path)


def load_library(path: Optional[Path] = None) -> Library:
    """The library at ``path`` (default: library_path()), loaded once per path."""
    return _load(Path(path) if path is not None else library_path())
