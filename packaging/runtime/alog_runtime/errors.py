"""The exceptions of alog_runtime: one root, `Error`, so `except alog_runtime.Error` catches all."""

from __future__ import annotations

from typing import Optional


class Error(Exception):
    """The root of every exception alog_runtime raises on purpose."""


class LibraryError(Error):
    """libalog.so is missing, cannot be loaded (another architecture, another C library), or is
    not the library this package speaks to."""


class AlogError(Error):
    """A status code from libalog (alog.h's alog_status), with the file or line it concerns.

    ``status`` is the code, ``status_name`` its name in alog.h (``"ALOG_ERR_MISMATCH"``),
    ``reason`` the library's description of the code (alog_status_str); ``detail`` says what was
    wrong, ``path`` names the file (or None) and ``fix`` how to fix it (or None).
    """

    def __init__(self, status: int, status_name: str, reason: str, detail: str,
                 path: Optional[str] = None, fix: Optional[str] = None):
        self.status = status
        self.status_name = status_name
        self.reason = reason
        self.detail = detail
        self.path = path
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``<path>: <detail> (fix: <fix>)``, the part after ``error: `` in alog-engine's message."""
        text = f"{self.path}: {self.detail}" if self.path else self.detail
        return f"{text} (fix: {self.fix})" if self.fix else text


class ModelDirError(AlogError):
    """The model directory is unusable: missing, malformed, inconsistent hashes, or a model the
    engine cannot load (alog-engine's exit code 3)."""


class DetectorSetupError(AlogError):
    """alog_detector_size or alog_detector_open refused the configuration (alog-engine's exit
    code 3)."""


class RunError(AlogError):
    """A feed call failed: a model run failed (the detector returns that status from then on,
    alog-engine's exit code 4), or the library refused the event (a template index outside the
    vocabulary). ``line`` is the number of the line or event being judged."""

    def __init__(self, status: int, status_name: str, reason: str, detail: str, line: int):
        self.line = line
        super().__init__(status, status_name, reason, detail, f"line {line}")


class ArgumentError(Error, ValueError):
    """A bad argument value: an option out of range, an unknown ISA name, a bad session rule, a
    "line" with a line feed inside it."""


class ArgumentTypeError(Error, TypeError):
    """An argument of the wrong type, for example a line that is neither bytes nor str."""


class ClosedError(Error, ValueError):
    """The detector was closed and cannot be used again."""
