"""`alog-detect evaluate`: precision, recall, F1 and TP/FP/FN/TN of verdicts against labels: a table
(with each anomaly kind's recall when the labels have a kind column), or JSON with --json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "evaluate"
HELP = "score verdict JSON lines against session labels or per-line window labels"
ORDER = 90


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verdicts", required=True, type=Path, metavar="V",
                   help="verdict JSON lines from `alog-detect detect` (- for standard input)")
    p.add_argument("--labels", required=True, type=Path, metavar="L",
                   help="BlockId,Label / session,label CSV, or first_line,last_line[,label] windows")
    p.add_argument("--out", type=Path, metavar="M", help="also write the metrics JSON here")
    p.add_argument("--model", choices=("deeplog", "mscred"), help="only this model's verdicts (default all)")
    p.add_argument("--tile", type=int, metavar="N",
                   help="window labels without a label column: normal window length in lines "
                        "(default: median labelled window length)")
    p.add_argument("--delay", type=int, default=0, metavar="N",
                   help="window labels without a label column: an anomalous verdict up to N lines after "
                        "a listed window still detects it (default 0)")
    p.add_argument("--kinds", type=_kind_list, default=(), metavar="K,K",
                   help="anomaly kinds the labels' kind column may use besides the built-in sample's")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object (for scripts)")


def _kind_list(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(","))
    if not all(kinds):
        raise argparse.ArgumentTypeError(f"{text!r}: expected kinds separated by commas, e.g. disk_full,oom")
    return kinds


def run(args: argparse.Namespace) -> int:
    from ..evaluate import EvaluateConfig, evaluate, format_table

    result = evaluate(EvaluateConfig(verdicts=args.verdicts, labels=args.labels, out=args.out,
                                     model=args.model, tile=args.tile, delay=args.delay, kinds=args.kinds))
    print(json.dumps(result) if args.json else format_table(result))
    return 0
