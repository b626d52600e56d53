"""`alog-detect parse`: mine templates from raw logs (or loghub structured CSVs) into parsed.parquet."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "parse"
HELP = "mine log templates with Drain3: raw logs -> parsed.parquet (+ <name>.templates.json)"
ORDER = 20


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--logs", required=True, nargs="+", metavar="FILE_OR_GLOB",
                   help="log files or quoted globs (sorted matches)")
    p.add_argument("--out", required=True, type=Path, metavar="PARQUET", help="output parquet file")
    p.add_argument("--format", choices=("raw", "loghub-structured"), default="raw",
                   help="raw: one event per line; loghub-structured: a loghub *_structured.csv "
                        "(Content column, LineId as line number)")
    p.add_argument("--config", type=Path, default=None, metavar="MASKING_JSON",
                   help='masking config {"format_version": 1, "rules": [...]} (docs/matching.md); '
                        "default: every mask rule")
    p.add_argument("--log-format", default="", metavar="FORMAT",
                   help="the lines' format in logparser/loghub syntax, e.g. '<Date> <Time> <Level> "
                        "<Component>: <Content>' (docs/matching.md 2.2): <Content> is mined, other fields "
                        "may give the session key and timestamp; 'auto': detect it from the first lines "
                        "(prints the choice); default: none (see --header-tokens). Lines that do not fit "
                        "are mined whole")
    p.add_argument("--session-key", default="none", metavar="RULE",
                   help="session rule (docs/matching.md): 'none' (the whole stream is one session, "
                        "the default), 'prefix:<p>', e.g. prefix:blk_ or prefix:ses_, or 'field:<Name>', "
                        "a field of --log-format, e.g. field:Pid")
    p.add_argument("--timestamp", default="auto", metavar="RULE",
                   help="'line-start' (a date and time at the start of the line, docs/matching.md 6), "
                        "'none', or fields of --log-format such as '<Date> <Time>' read with "
                        "--timestamp-format; default auto: the detected format's fields with "
                        "--log-format auto, else line-start")
    p.add_argument("--timestamp-format", default="auto", metavar="PATTERN",
                   help="strftime-style pattern of the --timestamp fields' text, e.g. "
                        "'%%Y-%%m-%%d %%H:%%M:%%S,%%f' (docs/matching.md 6.1); default auto: the known "
                        "pattern that reads the first lines")
    p.add_argument("--header-tokens", type=int, default=0, metavar="N",
                   help="the first N tokens of each raw line are its header (date, time, host, "
                        "service[pid]:) and are not mined (docs/matching.md 2.1; the built-in sample: 4). "
                        "Session key and timestamp still read the whole line. For loghub-structured input "
                        "the Content column is mined as it is and N is only recorded for detection on raw "
                        "lines. Default 0: the whole line")
    p.add_argument("--depth", type=int, default=4, help="Drain tree depth (>= 3, default 4)")
    p.add_argument("--sim-th", type=float, default=0.4, help="Drain similarity threshold (default 0.4)")
    p.add_argument("--max-children", type=int, default=100, help="Drain max children per node (default 100)")
    p.add_argument("--mining", choices=("drain3", "key-aware"), default="drain3",
                   help="drain3 (default): Drain3's clustering; key-aware: log levels and the session key "
                        "(--session-key prefix:) do not make two messages similar (docs/matching.md 3.2)")
    p.add_argument("--mine-lines", type=int, default=0, metavar="M",
                   help="Drain3 mines only the first M non-blank lines, then every line is assigned by "
                        "match mode against those templates, as the engine assigns it (a line none "
                        "matches is mined as well): faster on large logs (docs/matching.md, 'Mining "
                        "a sample'). Default 0: Drain3 mines every line")


def run(args: argparse.Namespace) -> int:
    from ..parse import ParseConfig, parse_logs

    result = parse_logs(ParseConfig(
        logs=tuple(args.logs), out=args.out, format=args.format, masking_config=args.config,
        session_key=args.session_key, header_tokens=args.header_tokens, log_format=args.log_format,
        timestamp=args.timestamp, timestamp_format=args.timestamp_format, depth=args.depth, sim_th=args.sim_th,
        max_children=args.max_children, mine_lines=args.mine_lines, mining=args.mining))
    for note in result.notes():
        print(note)
    print(f"wrote {result.parquet} ({result.lines} lines, {result.num_templates} templates) "
          f"and {result.templates}")
    return 0
