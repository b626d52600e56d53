"""The log an example firmware replays, as C: ``example_input.c`` (templates/example_input.c.j2)
holds the first lines of a log as bytes, for a board without a file system
(cengine/examples/firmware/board_mps2.c).

``input_bytes`` is the one definition of "the first N lines", so the check compares the image's
verdicts with the host engine's on exactly the bytes the image holds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .. import __version__, atomic
from ..errors import UserError

TEMPLATE = "example_input.c.j2"
DEFAULT_LINES = 200


@dataclasses.dataclass(frozen=True)
class InputConfig:
    log: Path                         # raw log lines, or "SESSION INDEX" lines with events
    out: Path                         # the example_input.c to write
    lines: int | None = DEFAULT_LINES  # the first N lines (None: every line)
    events: bool = False
    root: Path = Path(".")            # the banner names the log relative to this directory


def input_bytes(log: Path, lines: int | None) -> bytes:
    """The first `lines` lines of `log` with their line ends (all of it for None)."""
    try:
        data = Path(log).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read the input log ({exc.strerror})", log,
                        "give an existing log file") from None
    if lines is None:
        return data
    if lines < 0:
        raise UserError(f"a line count of {lines}", log, "give 0 or more lines")
    end = 0
    for _ in range(lines):
        lf = data.find(b"\n", end)
        if lf < 0:
            return data  # fewer lines than asked for: all of them
        end = lf + 1
    return data[:end]


def render_input(config: InputConfig) -> Path:
    """Write config.out: the first config.lines lines of config.log as example_input.c."""
    from ..codegen import _relative, environment
    from ..deeplog_data import file_sha256

    data = input_bytes(config.log, config.lines)
    context = {
        "output": Path(config.out).name, "template": TEMPLATE, "version": __version__,
        "inputs": [{"path": _relative(Path(config.log), Path(config.root)),
                    "sha256": file_sha256(Path(config.log))}],
        "events": config.events, "data": data, "size": len(data),
        "line_count": data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1),
    }
    text = environment().get_template(TEMPLATE).render(context)
    return atomic.write_text(config.out, text)
