"""`alog-detect detect`: the reference detector, raw log lines -> JSON verdicts (docs/detection.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "detect"
HELP = "flag anomalies in raw log lines with DeepLog and MSCRED; one JSON verdict per line"
ORDER = 80


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", required=True, type=Path, metavar="DIR",
                   help="model directory: vocab.json plus deeplog.onnx/mscred.onnx with their .meta.json "
                        "(convert-onnx), or deeplog.pth/mscred.pth")
    p.add_argument("--logs", required=True, nargs="+", metavar="FILE",
                   help="log files, read as one stream in the order given; - reads standard input "
                        "(works behind tail -F)")
    p.add_argument("--all", action="store_true", dest="all_verdicts",
                   help="print every verdict, not only anomalies")
    p.add_argument("--session-key", default="none", metavar="RULE",
                   help="session rule used when parsing the training logs: 'none' (one session) or "
                        "'prefix:<p>' such as prefix:blk_ (default none)")


def run(args: argparse.Namespace) -> int:
    from ..detect import DetectConfig, detect

    detect(DetectConfig(models=args.models, logs=tuple(args.logs), all_verdicts=args.all_verdicts,
                        session_key=args.session_key))
    return 0
