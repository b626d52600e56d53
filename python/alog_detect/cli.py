"""The `alog-detect` command: a thin shell over the stage functions.

Each sub-command lives in ``alog_detect/commands/<name>.py`` and defines:

* ``NAME`` (the sub-command, e.g. ``"build-deeplog"``), ``HELP`` (one line), ``ORDER`` (sort key),
* ``add_arguments(parser)``,
* ``run(args) -> int``: build one frozen config dataclass, call one library function.

Command modules must stay cheap to import (no torch, onnx or pandas at module level), so that
``alog-detect --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings

from . import __version__
from .errors import EXIT_USER_ERROR, UserError


def _command_modules():
    from . import commands

    mods = [importlib.import_module(f"{commands.__name__}.{m.name}")
            for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    return sorted(mods, key=lambda m: (m.ORDER, m.NAME))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alog-detect",
        description="Log anomaly detection from raw logs to edge devices: template mining (Drain3), "
                    "DeepLog and MSCRED training, ONNX export, C headers, reference detection.",
    )
    parser.add_argument("--version", action="version", version=f"alog-detect {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        with warnings.catch_warnings():
            return int(args._run(args) or 0)
    except UserError as exc:
        print(f"alog-detect: error: {exc.one_line()}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("alog-detect: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
