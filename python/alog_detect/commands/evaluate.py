"""`alog-detect evaluate`: precision, recall, F1 and TP/FP/FN/TN of verdicts against labels."""

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


def run(args: argparse.Namespace) -> int:
    from ..evaluate import EvaluateConfig, evaluate

    result = evaluate(EvaluateConfig(verdicts=args.verdicts, labels=args.labels, out=args.out,
                                     model=args.model, tile=args.tile))
    print(json.dumps(result))
    return 0
