"""`alog-detect build-deeplog`: parsed.parquet -> vocab.json + sequences.parquet for DeepLog."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "build-deeplog"
HELP = "build DeepLog's vocabulary (template -> index), per-session key sequences and frontend.json"
ORDER = 30


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parsed", required=True, type=Path, metavar="P", help="parsed.parquet from `alog-detect parse`")
    p.add_argument("--out-dir", required=True, type=Path, metavar="D",
                   help="output directory (vocab.json, sequences.parquet, and frontend.json: the parse's "
                        "mask rules, session rule and header tokens, which convert-onnx carries into the "
                        "model directory)")
    p.add_argument("--template-col", default="template", metavar="COL",
                   help="column holding the template strings (default template)")
    p.add_argument("--window-size", type=int, default=10, metavar="W",
                   help="DeepLog window recorded for deeplog-train (default 10)")


def run(args: argparse.Namespace) -> int:
    from ..deeplog_data import BuildDeepLogConfig, build_deeplog

    result = build_deeplog(BuildDeepLogConfig(parsed=args.parsed, out_dir=args.out_dir,
                                              template_col=args.template_col, window_size=args.window_size))
    skipped = f", {result.n_rows_without_session} rows without a session left out" \
        if result.n_rows_without_session else ""
    defaults = "" if result.frontend_recorded else f" (defaults: {args.parsed} records no front-end settings)"
    print(f"wrote {result.vocab_path} ({result.vocab.size} templates), {result.sequences_path} "
          f"({result.n_sessions} sessions, {result.n_events} events{skipped}) and {result.frontend_path}{defaults}")
    return 0
