"""Each benchmark owns one marked section of docs/results.md and rewrites only that section.

A section is the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``; a missing section
is appended, a missing file is created with a title.
"""

from __future__ import annotations

from pathlib import Path

from .. import atomic
from ..errors import UserError

TITLE = "# Results\n\nEvery table below is written by the script named in its section; none is typed by hand.\n"


def update_section(path: str | Path, name: str, body: str) -> Path:
    path = Path(path)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else TITLE
    head, found, rest = text.partition(begin)
    if found:
        _, closed, tail = rest.partition(end)
        if not closed:
            raise UserError(f"{begin} has no matching {end}", path, f"restore the line {end}")
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    return atomic.write_text(path, text)
