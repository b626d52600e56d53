"""The model directory on disk, read and checked as alog-engine reads it.

This is cengine/src/cli/modelfiles.c (model_files_load) and the JSON readers it calls
(cengine/src/detect/modeldir.c) in Python: the same files, the same checks in the same order,
the same status codes and the same one-line messages naming the file and the fix
(docs/engine.md, "Model directory checks"). The consistency of MSCRED's signature rule is left to
the library itself (alog_detector_size), as alog_meta_parse leaves it to the engine's check.
tests/test_runtime.py runs broken directories through both programs and compares their messages.
Python's json reads the text here; where it and the engine's reader could still part is JSON that
no alog-detect file holds: a vocabulary key with escaped digits ("\\u0030"), nesting deeper than
32 levels, a number of 64 characters or more. Such a file may be accepted by one and refused by
the other, or refused with another message.

Files are read whole; the .onnx bytes go into ctypes buffers that stay alive, unmoved, as long as
the models that use them in place.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from . import _capi
from ._capi import (ALOG_ERR_ARENA_TOO_SMALL, ALOG_MSCRED_MAX_SCALES, ALOG_OK, Library,
                    alog_detector_config, alog_message, alog_model)
from .errors import ModelDirError

KINDS = ("deeplog", "mscred")
VOCAB_NAME = "vocab.json"
FRONTEND_NAME = "frontend.json"
META_FORMAT = 2                 # version 1 (no END key, top-k rule, no threshold) still reads
FRONTEND_FORMAT = 2   # version 1 (without log format and timestamp settings) reads too
MASK_RULES = ("uuid", "ip", "hex", "num", "path")
DEFAULT_MASK_RULES = "uuid,ip,hex,num,path"
MAX_FILE_BYTES = 1 << 31
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# alog_status values (alog.h)
INVALID_ARGUMENT, IO, MALFORMED, MISMATCH = 1, 2, 3, 9

REEXPORT = "re-export the model directory with `alog-detect convert-onnx`"
CONVERT_FIX = "pass a directory from `alog-detect convert-onnx --output-dir`"


@dataclass
class Frontend:
    """frontend.json as alog_detector_config takes it (mask rules comma-separated)."""

    mask_rules: str = DEFAULT_MASK_RULES
    session_rule: str = "none"
    header_tokens: int = 0
    log_format: bytes = b""           # the bytes alog_detector_config takes
    timestamp: bytes = b"line-start"
    timestamp_format: bytes = b""


@dataclass
class ModelFiles:
    """A checked model directory: what alog_detector_config needs, and the opened models."""

    directory: str                               # as given: messages name files "<directory>/<name>"
    templates: List[bytes]                       # (V) template bytes, index order
    frontend: Frontend
    config: alog_detector_config                 # the models' metadata (vocabulary and front end
                                                 # are added by the detector, which owns them)
    onnx: Dict[str, Any] = field(default_factory=dict)      # kind -> ctypes buffer of the .onnx
    arenas: Dict[str, Any] = field(default_factory=dict)    # kind -> ctypes buffer (the arena)
    models: Dict[str, Any] = field(default_factory=dict)    # kind -> POINTER(alog_model)


class _Refused(Exception):
    """A check failed: (status, file name or None for the directory, message, fix)."""

    def __init__(self, status: int, name: Optional[str], message: str, fix: str):
        super().__init__(message)
        self.status, self.name, self.message, self.fix = status, name, message, fix


# ---- JSON, read as cengine/src/detect/json.c reads it ------------------------------------------

class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON")      # Python's json accepts NaN and Infinity; JSON does not


class _Object(Dict[str, Any]):
    """A JSON object as the C reader sees it: a repeated key keeps its first value (alog_json_get
    finds the first), and ``members`` counts every member, repeats included (its token count)."""

    members = 0


def _first_wins(pairs: List[Tuple[str, Any]]) -> _Object:
    out = _Object()
    for key, value in pairs:
        out.setdefault(key, value)
    out.members = len(pairs)
    return out


def _parse_json(data: bytes, object_pairs_hook: Any = _first_wins) -> Any:
    """The JSON value of a file's bytes (strict UTF-8, as the C reader); _NotJson when it is none."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant,
                          object_pairs_hook=object_pairs_hook)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _NotJson(str(exc)) from None


def string_bytes(text: str) -> bytes:
    """The bytes a JSON string stands for, as alog_json_string decodes it: UTF-8, except that a
    lone surrogate U+DC80..U+DCFF is the byte it escapes and any other lone surrogate is written
    in its 3-byte form (Python's json has already joined the valid surrogate pairs)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    out = bytearray()
    for char in text:
        point = ord(char)
        if 0xDC80 <= point <= 0xDCFF:
            out.append(point - 0xDC00)
        else:
            out += char.encode("utf-8", "surrogatepass")
    return bytes(out)


def _is_int(value: Any, lo: int, hi: int) -> bool:
    """An integer number token in [lo, hi] (not true/false, no fraction or exponent)."""
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---- vocab.json ---------------------------------------------------------------------------------

_INDEX_KEY = re.compile(r"0|[1-9][0-9]*\Z")


def parse_vocab(data: bytes) -> List[bytes]:
    """An engine vocabulary {"0": "<template>", ...}: the template bytes in index order
    (alog_vocab_parse: keys exactly 0..V-1 in canonical decimal, string values)."""
    try:
        pairs = _parse_json(data, object_pairs_hook=list)
    except _NotJson:
        raise _Refused(MALFORMED, VOCAB_NAME, "not a JSON vocabulary", "") from None
    if not isinstance(pairs, list) or not pairs or not all(isinstance(p, tuple) for p in pairs):
        raise _Refused(MALFORMED, VOCAB_NAME, "a vocabulary must be a non-empty JSON object", "")
    size = len(pairs)
    templates: List[Optional[bytes]] = [None] * size
    for key, value in pairs:
        index = int(key) if _INDEX_KEY.match(key) else -1
        if not 0 <= index < size or not isinstance(value, str):
            raise _Refused(MALFORMED, VOCAB_NAME,
                           "engine vocabulary must map decimal indices to template strings", "")
        if templates[index] is not None:
            raise _Refused(MALFORMED, VOCAB_NAME,
                           "vocabulary indices must be exactly 0..V-1 without gaps or repeats", "")
        templates[index] = string_bytes(value)
    return [t for t in templates if t is not None]


_ESCAPES = {b'"': b'\\"', b"\\": b"\\\\", b"\n": b"\\n", b"\r": b"\\r", b"\t": b"\\t",
            b"\b": b"\\b", b"\f": b"\\f"}
_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"\\]')


def _escape(match: "re.Match[bytes]") -> bytes:
    char = match.group()
    return _ESCAPES.get(char, b"\\u%04x" % char[0])


def vocab_canonical_sha256(templates: List[bytes]) -> str:
    """The vocabulary's hash (docs/formats.md): SHA-256 of json.dumps(templates,
    ensure_ascii=False, separators=(",", ":")), written from the template bytes as
    alog_vocab_write_canonical writes it."""
    text = b"[" + b",".join(b'"' + _NEEDS_ESCAPE.sub(_escape, t) + b'"' for t in templates) + b"]"
    return hashlib.sha256(text).hexdigest()


# ---- <kind>.onnx.meta.json ----------------------------------------------------------------------

class _Malformed(Exception):
    pass


def _u32(section: Any, key: str, lo: int, hi: int) -> int:
    value: Any = section.get(key) if isinstance(section, dict) else None
    if not _is_int(value, lo, hi):
        raise _Malformed(key)
    return int(value)


def _sha256_field(obj: Any, key: str) -> str:
    """A string of exactly 64 bytes (as get_sha256 takes it; compared with hex digests later)."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str) or len(string_bytes(value)) != 64:
        raise _Malformed(key)
    return value


def _parse_deeplog_rule(config: alog_detector_config, section: Dict[str, Any]) -> None:
    """Version 2's decision fields (docs/detection.md 2.2, 2.3), as parse_deeplog_rule reads them."""
    end_key = section.get("end_key")
    if not isinstance(end_key, bool):
        raise _Malformed("end_key")
    config.end_key = int(end_key)
    if _u32(section, "outputs", 1, (1 << 24) + 1) != config.vocab_size + config.end_key:
        raise _Malformed("outputs")
    rule = section.get("rule")
    if rule not in ("topk", "probability") or not isinstance(rule, str):
        raise _Malformed("rule")
    config.rule = _capi.ALOG_RULE_PROBABILITY if rule == "probability" else _capi.ALOG_RULE_TOPK
    if "prob_threshold" not in section:
        raise _Malformed("prob_threshold")
    config.prob_threshold = _threshold(section, "prob_threshold")
    # end_threshold came later in format 2: a file without it reads as null.
    config.end_threshold = _threshold(section, "end_threshold")
    # No calibrated threshold: a model that names the probability rule cannot run.
    if rule == "probability" and math.isnan(config.prob_threshold):
        raise _Malformed("prob_threshold")
    if rule == "probability" and end_key and math.isnan(config.end_threshold):
        raise _Malformed("end_threshold")


def _threshold(section: Dict[str, Any], key: str) -> float:
    """A finite number, or null (or absent): NaN."""
    value = section.get(key)
    if value is None:
        return math.nan
    if not _is_number(value):
        raise _Malformed(key)
    try:
        number = float(value)
    except OverflowError:
        raise _Malformed(key) from None
    if not math.isfinite(number):
        raise _Malformed(key)
    return number


def _parse_deeplog(config: alog_detector_config, section: Dict[str, Any], version: int) -> None:
    config.window = _u32(section, "seq_len", 1, 4096)
    config.top_k = _u32(section, "top_k", 1, 1 << 20)
    config.vocab_size = _u32(section, "vocab_size", 1, 1 << 24)
    config.end_key = 0
    config.rule = _capi.ALOG_RULE_TOPK
    config.prob_threshold = math.nan
    config.end_threshold = math.nan
    if version >= 2:
        _parse_deeplog_rule(config, section)
    config.has_deeplog = 1


def _parse_mscred(config: alog_detector_config, section: Dict[str, Any], lib: Library) -> None:
    spec = config.signature
    ctypes.memset(ctypes.addressof(spec), 0, ctypes.sizeof(spec))
    spec.num_templates = _u32(section, "num_templates", 1, 1 << 24)
    spec.n = _u32(section, "n", 8, 4096)
    spec.step = _u32(section, "step", 1, 1 << 20)
    spec.steps = _u32(section, "steps", 1, 1024)
    sizes = section.get("window_sizes")
    if not isinstance(sizes, list) or not 0 < len(sizes) <= ALOG_MSCRED_MAX_SCALES:
        raise _Malformed("window_sizes")
    spec.scales = len(sizes)
    for i, size in enumerate(sizes):
        if not _is_int(size, 1, 1 << 20):
            raise _Malformed("window_sizes")
        spec.window_sizes[i] = size
    bucket = section.get("bucket")
    unit = bucket.get("unit") if isinstance(bucket, dict) else None
    if unit not in ("seconds", "lines"):
        raise _Malformed("bucket")
    spec.bucket_by_seconds = 1 if unit == "seconds" else 0
    spec.bucket_size = _u32(bucket, "size", 1, (1 << 31) - 1)
    cell = section.get("cell_threshold")
    if not _is_number(cell):
        raise _Malformed("cell_threshold")
    # the calibration stores a float32 value: the double, rounded as C's (float) rounds it
    try:
        config.cell_threshold = float(cell)      # type: ignore[arg-type] # a number, checked above
    except OverflowError:                        # an integer past any double: no threshold
        raise _Malformed("cell_threshold") from None
    threshold = section.get("anomaly_threshold")
    if not _is_int(threshold, INT64_MIN, INT64_MAX):
        raise _Malformed("anomaly_threshold")
    config.anomaly_threshold = threshold
    spec.norm = _u32(section, "norm", 1, 1 << 24)
    # Under the lines rule no bucket holds more than its size, and that is the norm.
    if not spec.bucket_by_seconds and spec.norm != spec.bucket_size:
        raise _Malformed("norm")
    if not _signature_spec_ok(config, lib):
        raise _Malformed("signature")
    config.has_mscred = 1


def _signature_spec_ok(config: alog_detector_config, lib: Library) -> bool:
    """The library's own check of the signature rule (alog_signature_spec_check, reached through
    the public alog_detector_size with a config holding MSCRED alone). In that config everything
    else is valid, so ALOG_ERR_INVALID_ARGUMENT can only come from the signature rule; a table too
    large (ALOG_ERR_LIMIT) is left for the detector's own setup to report, as alog-engine does."""
    probe = alog_detector_config()
    probe.vocab_size = config.signature.num_templates
    probe.has_mscred = 1
    probe.signature = config.signature
    probe.cell_threshold = config.cell_threshold
    probe.anomaly_threshold = config.anomaly_threshold
    size = ctypes.c_size_t(0)
    return lib.alog_detector_size(ctypes.byref(size), ctypes.byref(probe), None) != INVALID_ARGUMENT


def parse_meta(config: alog_detector_config, kind: str, data: bytes, lib: Library) -> Tuple[str, str]:
    """<kind>.onnx.meta.json: the kind's part of the config, and the hashes it records
    (onnx sha256, vocab sha256), with alog_meta_parse's checks and messages."""
    name = f"{kind}.onnx.meta.json"
    try:
        meta = _parse_json(data)
    except _NotJson:
        meta = None
    if not isinstance(meta, dict):
        raise _Refused(MALFORMED, name, "not a model metadata file", REEXPORT)
    section = meta.get(kind)
    if meta.get("kind") != kind or not isinstance(section, dict):
        raise _Refused(MALFORMED, name, f"not {kind} metadata", REEXPORT)
    if not _is_int(meta.get("format_version"), INT64_MIN, INT64_MAX):
        raise _Refused(MALFORMED, name, "metadata lacks an integer format_version", REEXPORT)
    version = meta["format_version"]
    if not 1 <= version <= META_FORMAT:
        raise _Refused(MALFORMED, name, f"metadata format_version {version} is not 1 or 2 "
                       f"(this engine reads both)", REEXPORT)
    try:
        onnx_sha256 = _sha256_field(meta, "sha256")
        vocab_sha256 = _sha256_field(meta.get("vocab"), "sha256")
    except _Malformed:
        raise _Refused(MALFORMED, name, "metadata lacks sha256 or vocab.sha256", REEXPORT) from None
    try:
        if kind == "deeplog":
            _parse_deeplog(config, section, version)
        else:
            _parse_mscred(config, section, lib)
    except _Malformed:
        raise _Refused(MALFORMED, name, f"malformed {kind} metadata", REEXPORT) from None
    return onnx_sha256, vocab_sha256


# ---- frontend.json ------------------------------------------------------------------------------

_FRONTEND_KEYS_V1 = ("format_version", "kind", "mask_rules", "session_rule", "header_tokens")
_FRONTEND_KEYS = ("format_version", "kind", "log_format", "log_format_source", "mask_rules", "session_rule",
                  "header_tokens", "timestamp", "timestamp_format")
_MASK_RULES_CAPACITY = 64       # alog_frontend_text.mask_rules
_SESSION_RULE_CAPACITY = 255    # alog_frontend_text.session_rule, without its terminator
# alog_frontend_text's other strings, without their terminators
_TEXT_CAPACITY = {"log_format": 512, "log_format_source": 64, "timestamp": 128, "timestamp_format": 64}


def parse_frontend(data: bytes, lib: Library) -> Frontend:
    """frontend.json with alog_frontend_parse's checks: exactly its keys (version 2's nine, or
    version 1's five), each checked, then the settings together (alog_frontend_check)."""
    name = FRONTEND_NAME

    def refuse(message: str) -> _Refused:
        return _Refused(MALFORMED, name, message, REEXPORT)

    try:
        settings = _parse_json(data)
    except _NotJson:
        settings = None
    if not isinstance(settings, _Object):
        raise refuse("not a front-end settings file")
    if settings.get("kind") != "frontend":
        raise refuse('not front-end settings (kind "frontend" expected)')
    version = settings.get("format_version")
    if not _is_int(version, INT64_MIN, INT64_MAX) or version not in (1, FRONTEND_FORMAT):
        raise refuse("front-end settings format_version is not 1 or 2 (this engine reads both)")
    keys = _FRONTEND_KEYS_V1 if version == 1 else _FRONTEND_KEYS
    if any(key not in settings for key in keys):
        raise refuse("front-end settings lack a required field")
    if settings.members != len(keys):
        raise refuse("front-end settings have an unknown field")
    rules = settings["mask_rules"]
    joined = ""
    if not isinstance(rules, list):
        raise refuse("mask_rules must list names from uuid, ip, hex, num, path")
    for rule in rules:
        if rule not in MASK_RULES or len(joined) + len(rule) + 2 > _MASK_RULES_CAPACITY:
            raise refuse("mask_rules must list names from uuid, ip, hex, num, path")
        joined = f"{joined},{rule}" if joined else rule
    session_rule = settings["session_rule"]
    rule_bytes = string_bytes(session_rule) if isinstance(session_rule, str) else None
    if rule_bytes is None or len(rule_bytes) > _SESSION_RULE_CAPACITY or b"\0" in rule_bytes or \
            lib.alog_session_rule_check(rule_bytes) != ALOG_OK:
        raise refuse("session_rule must be 'none', 'prefix:<p>' or 'field:<Name>'")
    if not _is_int(settings["header_tokens"], 0, 0xFFFFFFFF):
        raise refuse("header_tokens must be an integer 0..4294967295")
    texts = {"log_format": b"", "log_format_source": b"none", "timestamp": b"line-start", "timestamp_format": b""}
    if version != 1:
        for key, capacity in _TEXT_CAPACITY.items():
            value = settings[key]
            raw = string_bytes(value) if isinstance(value, str) else None
            if raw is None or len(raw) > capacity or b"\0" in raw:
                raise refuse("log_format, log_format_source, timestamp and timestamp_format must be strings "
                             "(at most 512, 64, 128 and 64 bytes)")
            texts[key] = raw
    message = alog_message()
    if lib.alog_frontend_check(texts["log_format"], rule_bytes, settings["header_tokens"], texts["timestamp"],
                               texts["timestamp_format"], ctypes.byref(message)) != ALOG_OK:
        reason = message.text.decode("utf-8", "replace")
        reason = reason[len("detector: "):] if reason.startswith("detector: ") else reason
        raise refuse(f"front-end settings: {reason}")
    return Frontend(joined, session_rule, settings["header_tokens"], texts["log_format"], texts["timestamp"],
                    texts["timestamp_format"])


# ---- the directory ------------------------------------------------------------------------------

def _open_sized(directory: str, name: str) -> Tuple[io.BufferedReader, int]:
    """The open file and its size (at most MAX_FILE_BYTES)."""
    try:
        f = open(Path(directory) / name, "rb")
    except OSError as exc:
        raise _Refused(IO, name, exc.strerror or "cannot read the file", "check the file") from None
    size = f.seek(0, 2)
    f.seek(0)
    if size > MAX_FILE_BYTES:
        f.close()
        raise _Refused(IO, name, "cannot read the file", "check the file")
    return f, size


def _read(directory: str, name: str) -> bytes:
    f, size = _open_sized(directory, name)
    with f:
        try:
            data = f.read()
        except OSError:
            data = b""
    if len(data) != size:
        raise _Refused(IO, name, "cannot read the file", "check the file")
    return data


def _read_buffer(directory: str, name: str) -> Tuple[Any, int]:
    """The file read straight into a ctypes buffer (one spare byte, as the engine reads it, so
    that an empty file is still a buffer), and its length."""
    f, size = _open_sized(directory, name)
    buffer = ctypes.create_string_buffer(size + 1)
    with f:
        try:
            got = f.readinto(memoryview(buffer).cast("B")[:size])
        except OSError:
            got = -1
    if got != size:
        raise _Refused(IO, name, "cannot read the file", "check the file")
    return buffer, size


def _read_checked(files: ModelFiles, lib: Library) -> None:
    directory = Path(files.directory)
    text = files.directory
    if not directory.is_dir():
        raise _Refused(IO, None, "model directory not found", CONVERT_FIX)
    if not (directory / VOCAB_NAME).is_file():
        raise _Refused(IO, None, "model directory has no vocab.json", CONVERT_FIX)
    vocab_json = _read(text, VOCAB_NAME)
    try:
        files.templates = parse_vocab(vocab_json)
    except _Refused as refused:
        refused.fix = "pass the vocab.json of a model directory (`alog-detect convert-onnx`)"
        raise
    vocab_sha256 = vocab_canonical_sha256(files.templates)
    config = files.config
    for kind in KINDS:
        onnx_name, meta_name = f"{kind}.onnx", f"{kind}.onnx.meta.json"
        if not (directory / onnx_name).is_file():
            continue
        onnx, length = _read_buffer(text, onnx_name)
        if not (directory / meta_name).is_file():
            raise _Refused(MALFORMED, meta_name, "model metadata not found", REEXPORT)
        onnx_sha256, meta_vocab_sha256 = parse_meta(config, kind, _read(text, meta_name), lib)
        if meta_vocab_sha256 != vocab_sha256:
            raise _Refused(MISMATCH, meta_name,
                           f"{onnx_name} was exported for another vocabulary than vocab.json",
                           REEXPORT)
        if onnx_sha256 != hashlib.sha256(memoryview(onnx).cast("B")[:length]).hexdigest():
            raise _Refused(MISMATCH, meta_name,
                           f"{onnx_name} is not the file this metadata describes (SHA-256 differs)",
                           REEXPORT)
        files.onnx[kind] = onnx
    if not files.onnx:
        raise _Refused(IO, None, "model directory holds no exported model (deeplog.onnx, mscred.onnx)",
                       "export it with `alog-detect convert-onnx` (the engine runs ONNX only)")
    size = len(files.templates)
    if config.has_deeplog and config.vocab_size != size:
        raise _Refused(MISMATCH, None, f"DeepLog predicts {config.vocab_size} keys, vocab.json has {size}",
                       CONVERT_FIX)
    if config.has_mscred and config.signature.num_templates != size:
        raise _Refused(MISMATCH, None,
                       f"MSCRED counts {config.signature.num_templates} templates, vocab.json has {size}",
                       CONVERT_FIX)
    if (directory / FRONTEND_NAME).is_file():
        files.frontend = parse_frontend(_read(text, FRONTEND_NAME), lib)
    config.vocab_size = size


def _open_model(files: ModelFiles, kind: str, lib: Library) -> None:
    """Measure in a work buffer of the size a first call asks for, then open in exactly the size
    measured, with the model bytes where they stay (alog.h: the size holds at any address)."""
    onnx = files.onnx[kind]
    length = len(onnx) - 1
    message = alog_message()
    work_len, need = ctypes.c_size_t(0), ctypes.c_size_t(0)
    status = lib.alog_model_arena_size(ctypes.byref(work_len), None, 0, onnx, length, 1,
                                       ctypes.byref(message))
    if status == ALOG_ERR_ARENA_TOO_SMALL:
        work = ctypes.create_string_buffer(work_len.value)
        status = lib.alog_model_arena_size(ctypes.byref(need), work, work_len.value, onnx, length,
                                           1, ctypes.byref(message))
        del work
        if status == ALOG_OK:
            arena = files.arenas[kind] = ctypes.create_string_buffer(need.value)
            model = ctypes.POINTER(alog_model)()
            status = lib.alog_model_open(ctypes.byref(model), arena, need.value, onnx, length, 1,
                                         ctypes.byref(message))
            if status == ALOG_OK:
                files.models[kind] = model
                return
    detail = message.text.decode("utf-8", "replace") or "no detail"
    raise _Refused(status, f"{kind}.onnx",
                   f"the engine cannot load this model: {detail} ({lib.status_str(status)})", REEXPORT)


def load_model_files(lib: Library, directory: str) -> ModelFiles:
    """Read and check ``directory``, then open its models: alog-engine's model_files_load.
    Raises ModelDirError naming the file, what is wrong and the fix."""
    files = ModelFiles(directory=directory, templates=[], frontend=Frontend(),
                       config=alog_detector_config())
    try:
        _read_checked(files, lib)
        for kind in KINDS:
            if kind in files.onnx:
                _open_model(files, kind, lib)
    except _Refused as refused:
        path = directory if refused.name is None else f"{directory}/{refused.name}"
        raise ModelDirError(refused.status, _capi.status_name(refused.status),
                            lib.status_str(refused.status), refused.message, path,
                            refused.fix) from None
    return files
