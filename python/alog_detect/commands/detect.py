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
                        "(convert-onnx), or deeplog.pth/mscred.pth; its frontend.json, when present, gives "
                        "the session rule, mask rules and header tokens the templates were mined with "
                        "(the three options below override it one setting at a time)")
    p.add_argument("--logs", required=True, nargs="+", metavar="FILE",
                   help="log files, read as one stream in the order given; - reads standard input "
                        "(works behind tail -F)")
    p.add_argument("--all", action="store_true", dest="all_verdicts",
                   help="print every verdict, not only anomalies")
    p.add_argument("--session-key", default=None, metavar="RULE",
                   help="session rule, overriding frontend.json: 'none' (one session) or 'prefix:<p>' "
                        "such as prefix:blk_ (default: frontend.json's, else none)")
    p.add_argument("--header-tokens", type=int, default=None, metavar="N",
                   help="tokens of each line's header, not matched (parse --header-tokens), overriding "
                        "frontend.json (default: frontend.json's, else 0)")
    p.add_argument("--config", type=Path, default=None, metavar="MASKING_JSON",
                   help="masking config as for parse, overriding frontend.json's mask rules "
                        "(default: frontend.json's, else every rule)")
    p.add_argument("--max-sessions", type=int, default=None, metavar="N",
                   help="DeepLog sessions kept at once, as alog-engine --max-sessions: when a new one "
                        "arrives beyond N, the one idle longest is forgotten (default 65536)")
    p.add_argument("--session-timeout", default=None, metavar="N|Ts",
                   help="close a DeepLog session idle for more than N lines, or T seconds (such as 30s; the "
                        "front end must read timestamps); with a model trained with the END key a close is "
                        "judged (docs/detection.md 2.2; default: close only on eviction and at the end)")
    p.add_argument("--rule", default=None, metavar="topk|probability",
                   help="DeepLog's decision rule: the top-k set, or the calibrated probability threshold "
                        "(docs/detection.md 2.3; default: the model's)")

    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (default: one on stderr when it is a terminal and the files are long)")


def run(args: argparse.Namespace) -> int:
    from ..detect import DEFAULT_MAX_SESSIONS, DetectConfig, detect

    detect(DetectConfig(models=args.models, logs=tuple(args.logs), all_verdicts=args.all_verdicts,
                        session_key=args.session_key, header_tokens=args.header_tokens,
                        masking_config=args.config,
                        max_sessions=DEFAULT_MAX_SESSIONS if args.max_sessions is None else args.max_sessions,
                        session_timeout=args.session_timeout, rule=args.rule,
                        progress=False if args.no_progress else None))
    return 0
