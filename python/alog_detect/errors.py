"""User-facing errors: one line, naming the file and the fix, exit code 2."""

from __future__ import annotations

from pathlib import Path

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem with the user's input that they can fix.

    Rendered by the CLI as one line: ``alog-detect: error: <path>: <message> (fix: <fix>)``.
    """

    def __init__(self, message: str, path: str | Path | None = None, fix: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.message
        if self.path:
            text = f"{self.path}: {text}"
        if self.fix:
            text = f"{text} (fix: {self.fix})"
        return " ".join(text.split())
