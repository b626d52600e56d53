"""`python -m alog_runtime` (or `alog-runtime`): alog-engine in Python, over the same library.

    alog-runtime [--models DIR] [--all] [--session-key RULE] [--header-tokens N]
                 [--max-sessions N] [--session-timeout N|Ts] [--rule topk|probability]
                 [--isa auto|avx2|baseline] [FILE|-]

The same options as alog-engine (cengine/src/cli/main.c), except that --models defaults to the
model directory inside the package; the same verdict bytes on standard output, the same exit
codes (0 done, 2 bad command line, 3 unusable model directory or library, 4 input/output or model
failure) and one-line errors of the same form. The input is split into lines as alog-engine's
reader splits it (cengine/src/cli/linereader.c): read(2) whatever is ready, lines of up to
1 MiB + 1 bytes, the head of a longer one; everything decided is written before the program waits
for more input, so it answers line by line behind `tail -F`.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import os
import re
import signal
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Tuple

from . import __version__
from ._capi import ALOG_MAX_LINE, FLUSH_FN, VERDICT_FN, alog_sink, library_path, load_library
from .detector import (DEFAULT_MAX_SESSIONS, ISA_CHOICES, MAX_SESSIONS_LIMIT, MODELS_DIR,
                       CallbackSink, Detector, _context, _from_context, session_rule_ok)
from .errors import AlogError, ArgumentError, LibraryError, ModelDirError, RunError

PROG = "alog-runtime"
EXIT_OK, EXIT_USAGE, EXIT_MODELS, EXIT_IO = 0, 2, 3, 4
READ_CHUNK = 1 << 16
OUTPUT_BUFFER = 1 << 16

USAGE = ("usage: alog-runtime [--models DIR] [--all] [--session-key RULE] [--header-tokens N]\n"
         "                    [--max-sessions N] [--session-timeout N|Ts] [--rule topk|probability]\n"
         "                    [--isa auto|avx2|baseline] [FILE|-]\n")

HELP = """
Reads raw log lines from FILE (or standard input: -, the default) and writes one JSON verdict per
line to standard output, as `alog-engine` and `alog-detect detect` do, with the models of DIR
(the output directory of `alog-detect convert-onnx`; by default the one inside this package).
`python -m alog_runtime` is the same program.

options:
  --models DIR          the model directory (vocab.json, deeplog.onnx, mscred.onnx, metadata);
                        default: the models installed with alog-runtime
  --all                 print every verdict, not only anomalies
  --session-key RULE    instead of the model directory's frontend.json: 'none' (the whole
                        stream is one session) or 'prefix:<p>' (the first key starting
                        with <p>, e.g. prefix:blk_)
  --header-tokens N     instead of frontend.json's: leading tokens of a line not matched
  --max-sessions N      DeepLog sessions kept at once; beyond, the one idle longest is
                        forgotten (default 65536)
  --session-timeout N|Ts  a session closes when idle for more than N lines, or T seconds
                        of the lines' timestamps (e.g. 30s); default: sessions close only
                        when forgotten and at the end of the input. With a model trained
                        with the END key a closing session is judged (reason early_end)
  --rule topk|probability  DeepLog's decision rule (default: the model's): not among the
                        top-k, or a probability below the model's calibrated threshold
  --isa auto|avx2|baseline  vector extensions the models may use: the widest this CPU has
                        (auto, the default), AVX2 at most, or the target's baseline; the
                        verdicts are the same, only the speed differs
  --version             the version, the library and the packaged models' hashes
  --help                this text

exit codes: 0 done, 2 bad command line, 3 bad model directory or libalog.so, 4 input/output or
model failure (docs/runtime.md)
"""

_TAKES_VALUE = ("--models", "--session-key", "--header-tokens", "--max-sessions", "--isa",
                "--session-timeout", "--rule")
# --session-timeout as alog-engine's parse_timeout reads it: a whole number of lines (strtoull,
# starting with a digit), or seconds (strtod, starting with a digit or '.') and an 's'.
_TIMEOUT_LINES = re.compile(r"[0-9]+\Z")
_TIMEOUT_SECONDS = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?s\Z")
_TIMEOUT_ERROR = "--session-timeout needs a whole number of lines above 0 or seconds above 0 such as 30s"
# strtoul's view of a whole number: leading white space, an optional '+', decimal digits.
_WHOLE_NUMBER = re.compile(r"[ \t\n\v\f\r]*\+?([0-9]+)\Z")


@dataclass
class Options:
    models: Optional[str] = None
    input: str = "-"
    session_key: Optional[str] = None
    header_tokens: Optional[int] = None
    all: bool = False
    max_sessions: int = DEFAULT_MAX_SESSIONS
    isa: str = "auto"
    timeout_lines: Optional[int] = None
    timeout_seconds: Optional[float] = None
    rule: Optional[str] = None


class _Exit(Exception):
    def __init__(self, code: int):
        self.code = code


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.stderr.flush()


def _usage_error(what: str, arg: Optional[str] = None) -> _Exit:
    sys.stderr.write(f"{PROG}: error: {what}{': ' + arg if arg is not None else ''}\n{USAGE}")
    sys.stderr.flush()
    return _Exit(EXIT_USAGE)


def _whole_number(text: str, lo: int, hi: int) -> Optional[int]:
    match = None if text.startswith("-") else _WHOLE_NUMBER.match(text)
    value = int(match.group(1)) if match else -1
    return value if lo <= value <= hi else None


def _parse_timeout(o: Options, text: str) -> None:
    if _TIMEOUT_LINES.match(text):
        lines = int(text)
        if not 0 < lines < 1 << 64:
            raise _usage_error(_TIMEOUT_ERROR, text)
        o.timeout_lines, o.timeout_seconds = lines, None
    elif _TIMEOUT_SECONDS.match(text):
        seconds = float(text[:-1])
        if not (math.isfinite(seconds) and seconds > 0):
            raise _usage_error(_TIMEOUT_ERROR, text)
        o.timeout_lines, o.timeout_seconds = None, seconds
    else:
        raise _usage_error(_TIMEOUT_ERROR, text)


def parse_args(argv: List[str]) -> Options:
    """alog-engine's command line; raises _Exit after --help, --version or a usage error."""
    o = Options()
    have_input = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--help", "-h"):
            sys.stdout.write(USAGE + HELP)
            raise _Exit(EXIT_OK)
        if a == "--version":
            sys.stdout.write(version_text())
            raise _Exit(EXIT_OK)
        if a == "--all":
            o.all = True
        elif a in _TAKES_VALUE:
            if i + 1 >= len(argv):
                raise _usage_error("option needs a value", a)
            i += 1
            value = argv[i]
            if a == "--models":
                o.models = value
            elif a == "--session-key":
                o.session_key = value
            elif a == "--header-tokens":
                number = _whole_number(value, 0, 0xFFFFFFFF)
                if number is None:
                    raise _usage_error("--header-tokens needs a whole number from 0 to 4294967295",
                                       value)
                o.header_tokens = number
            elif a == "--session-timeout":
                _parse_timeout(o, value)
            elif a == "--rule":
                if value not in ("topk", "probability"):
                    raise _usage_error("--rule must be topk or probability", value)
                o.rule = value
            elif a == "--isa":
                if value not in ISA_CHOICES:
                    raise _usage_error("--isa must be auto, avx2 or baseline", value)
                o.isa = value
            else:
                number = _whole_number(value, 1, MAX_SESSIONS_LIMIT)
                if number is None:
                    raise _usage_error("--max-sessions needs a whole number from 1 to 16777216",
                                       value)
                o.max_sessions = number
        elif a.startswith("-") and a != "-":
            raise _usage_error("unknown option", a)
        elif have_input:
            raise _usage_error("one input only (a file, or - for standard input)", a)
        else:
            o.input = a
            have_input = True
        i += 1
    return o


def version_text() -> str:
    """The version, the library this package loads and the hashes of its packaged models."""
    lines = [f"{PROG} {__version__}", f"library  {library_path()}"]
    if MODELS_DIR.is_dir():
        lines.append(f"models   {MODELS_DIR}")
        for name in ("vocab.json", "deeplog.onnx", "mscred.onnx"):
            path = MODELS_DIR / name
            if path.is_file():
                lines.append(f"  {name:<13} sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}")
    else:
        lines.append("models   none inside the package (pass --models DIR)")
    return "\n".join(lines) + "\n"


# ---- input: alog-engine's line reader ------------------------------------------------------------

class _ReadError(Exception):
    def __init__(self, error: OSError):
        self.error = error


def read_lines(fd: int, before_wait: Callable[[], None], limit: int = ALOG_MAX_LINE + 1,
               chunk: int = READ_CHUNK) -> Iterator[Tuple[bytes, bool]]:
    """(line, overlong) for each line of fd: the bytes before each LF (a last line without one is
    a line too); a line longer than `limit` comes as its first `limit` bytes with overlong set,
    the rest of it read and dropped. before_wait() is called before every read, which may block.
    A failed read raises _ReadError."""
    buffer = bytearray()
    dropping = False        # inside the remainder of an overlong line
    eof = False
    while True:
        start = 0
        while True:
            newline = buffer.find(b"\n", start)
            if dropping:
                if newline < 0:
                    start = len(buffer)
                    break
                start, dropping = newline + 1, False
                continue
            if 0 <= newline and newline - start <= limit:
                yield bytes(buffer[start:newline]), False
                start = newline + 1
            elif len(buffer) - start > limit:
                yield bytes(buffer[start:start + limit]), True
                start += limit
                dropping = True
            else:
                break
        del buffer[:start]
        if eof:
            if buffer and not dropping:
                yield bytes(buffer), False
            return
        before_wait()
        try:
            data = os.read(fd, chunk)
        except InterruptedError:        # pragma: no cover - Python retries EINTR itself (PEP 475)
            continue
        except OSError as exc:
            raise _ReadError(exc) from None
        if data:
            buffer += data
        else:
            eof = True


# ---- output: the library's JSON writer into a buffer that goes to fd 1 ---------------------------

class Output(CallbackSink):
    """alog_sink over standard output: verdicts written by alog_verdict_write, the buffer handed
    to os.write when full and before every wait for input."""

    def __init__(self, all_verdicts: bool):
        super().__init__()
        self.lib = load_library()
        self.all = all_verdicts
        self.broken_pipe = False        # the reader went away: stop quietly, as alog-engine does
        self.error: Optional[OSError] = None
        self._buffer = ctypes.create_string_buffer(OUTPUT_BUFFER)
        self._holder, ctx = _context(self)
        self.sink = alog_sink()
        self.lib.alog_sink_init(ctypes.byref(self.sink), self._buffer, OUTPUT_BUFFER,
                                _WRITE_STDOUT, ctx)

    def flush(self) -> None:
        self.lib.alog_sink_flush(ctypes.byref(self.sink))
        self.raise_failure()


def _write_stdout(ctx: int, data: int, length: int) -> int:
    out: Output = _from_context(ctx)
    try:
        view = memoryview(ctypes.string_at(data, length))
        while view:
            view = view[os.write(1, view):]
    except BrokenPipeError:
        out.broken_pipe = True
        return 1
    except OSError as exc:
        out.error = exc
        return 1
    except BaseException as exc:  # noqa: B036 - kept and raised after the C call
        out.failure = exc
        return 1
    return 0


def _emit_verdict(ctx: int, verdict: Any) -> None:
    out: Output = _from_context(ctx)
    try:
        if out.all or verdict.contents.anomaly:
            out.lib.alog_verdict_write(ctypes.byref(out.sink), verdict)
    except BaseException as exc:  # noqa: B036 - kept and raised after the C call
        out.failure = exc


_WRITE_STDOUT = FLUSH_FN(_write_stdout)
_EMIT_VERDICT = VERDICT_FN(_emit_verdict)


def run_stream(detector: Detector, fd: int, name: str, out: Output) -> int:
    read_error: Optional[OSError] = None
    failure: Optional[RunError] = None
    lines = read_lines(fd, out.flush)
    try:
        while not out.broken_pipe:
            line, overlong = next(lines)
            detector._feed_raw(line, len(line), overlong, _EMIT_VERDICT, out)
    except StopIteration:
        # the end of the input closes every session still kept (docs/detection.md 2.2)
        try:
            if not out.broken_pipe:
                detector._finish(_EMIT_VERDICT, out)
        except RunError as exc:
            failure = exc
    except _ReadError as exc:
        read_error = exc.error
    except RunError as exc:
        failure = exc
    out.flush()
    if out.broken_pipe:
        return EXIT_OK
    if failure is not None:
        _error(failure.one_line())
        return EXIT_IO
    if read_error is not None or out.sink.failed:
        error = read_error or out.error
        _error(f"{name if read_error is not None else 'standard output'}: "
               f"{error.strerror if error is not None else 'write failed'}")
        return EXIT_IO
    return EXIT_OK


def _open_input(path: str) -> int:
    if path == "-":
        return 0
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as exc:
        _error(f"{path}: {exc.strerror} (fix: give an existing file, or - for standard input)")
        return -1


def run(argv: List[str]) -> int:
    try:
        o = parse_args(argv)
    except _Exit as done:
        return done.code
    try:
        lib = load_library()
    except LibraryError as exc:
        _error(str(exc))
        return EXIT_MODELS
    if o.session_key is not None and not session_rule_ok(lib, o.session_key):
        return _usage_error("--session-key must be 'none' or 'prefix:<p>' (printable ASCII)",
                            o.session_key).code
    try:
        detector = Detector(o.models, max_sessions=o.max_sessions, isa=o.isa,
                            session_key=o.session_key, header_tokens=o.header_tokens, rule=o.rule,
                            session_timeout_lines=o.timeout_lines,
                            session_timeout_seconds=o.timeout_seconds)
    except ArgumentError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except (ModelDirError, AlogError) as exc:
        _error(exc.one_line())
        return EXIT_MODELS
    with detector:
        fd = _open_input(o.input)
        if fd < 0:
            return EXIT_IO
        try:
            return run_stream(detector, fd, o.input, Output(o.all))
        finally:
            if fd > 0:
                os.close(fd)


def main(argv: Optional[List[str]] = None) -> int:
    # Ctrl-C ends the program as it ends alog-engine (by the signal), not with a traceback; a
    # closed standard output is EPIPE from os.write (Python ignores SIGPIPE), handled there.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except BrokenPipeError:             # --help or --version into a closed pipe
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
