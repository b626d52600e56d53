"""`alog-detect deeplog-train`: train DeepLog on CPU, seeded; writes the checkpoint and its curve."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..deeplog_rule import DEFAULT_CALIBRATION_FRACTION, DEFAULT_TARGET_FPR, RULE_TOPK, RULES

NAME = "deeplog-train"
HELP = "train DeepLog (LSTM next-key model) -> deeplog.pth and deeplog.pth.png"
ORDER = 50


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seq", required=True, type=Path, metavar="S", help="sequences.parquet from build-deeplog")
    p.add_argument("--vocab", required=True, type=Path, metavar="V", help="vocab.json from build-deeplog")
    p.add_argument("--out", required=True, type=Path, metavar="M", help="checkpoint to write (deeplog.pth)")
    p.add_argument("--hidden", type=int, default=64, help="LSTM hidden size (default 64)")
    p.add_argument("--layers", type=int, default=2, help="LSTM layers (default 2)")
    p.add_argument("--embed-dim", type=int, default=32, help="key embedding size (default 32)")
    p.add_argument("--window", type=int, default=None,
                   help="window h (default: the --window-size the sequences were built with)")
    p.add_argument("--top-k", type=int, default=9, help="top-k g recorded for detection (default 9)")
    p.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    p.add_argument("--batch-size", type=int, default=64, help="distinct windows per batch (default 64)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 0.003)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-end-key", action="store_true",
                   help="train without the END output (the older model: no END verdict when a session closes)")
    p.add_argument("--calibration-fraction", type=float, default=DEFAULT_CALIBRATION_FRACTION, metavar="F",
                   help="fraction of the sessions held out (seeded by --seed) to calibrate the probability "
                        f"rule's threshold (default {DEFAULT_CALIBRATION_FRACTION}; 0: none)")
    p.add_argument("--target-fpr", type=float, default=DEFAULT_TARGET_FPR, metavar="A",
                   help="false-positive rate on the held-out sessions the thresholds are set for, half to "
                        f"the events' threshold and half to END's (default {DEFAULT_TARGET_FPR})")
    p.add_argument("--rule", choices=RULES, default=RULE_TOPK,
                   help="the decision rule detectors use by default with this model (default topk)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..train.deeplog import DeepLogTrainConfig, train_deeplog

    config = DeepLogTrainConfig(seq=args.seq, vocab=args.vocab, out=args.out, hidden=args.hidden,
                                layers=args.layers, embed_dim=args.embed_dim, window=args.window,
                                top_k=args.top_k, epochs=args.epochs, batch_size=args.batch_size,
                                lr=args.lr, seed=args.seed, progress=not args.no_progress,
                                end_key=not args.no_end_key, calibration_fraction=args.calibration_fraction,
                                target_fpr=args.target_fpr, rule=args.rule)
    result = train_deeplog(config)
    print(f"wrote {result.checkpoint} (final loss {result.losses[-1]:.4f} after {len(result.losses)} "
          f"epochs, {result.n_windows} distinct windows) and {result.curve}")
    if result.prob_threshold is None:
        print(f"no probability threshold: {result.calibration_sessions} session(s) held out, at least 2 are "
              "needed (the probability rule is unavailable with this model; raise --calibration-fraction)")
    else:
        end = "" if result.end_threshold is None else f", END threshold {result.end_threshold!r}"
        print(f"probability threshold {result.prob_threshold!r}{end} (target FPR {args.target_fpr} on "
              f"{result.calibration_sessions} held-out sessions)")
    return 0
