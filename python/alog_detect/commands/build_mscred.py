"""`alog-detect build-mscred`: parsed.parquet -> multi-scale signature matrices for MSCRED."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._args import int_list

NAME = "build-mscred"
HELP = "turn per-template count series into MSCRED's multi-scale signature matrices"
ORDER = 40


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parsed", required=True, type=Path, metavar="P", help="parsed.parquet from `alog-detect parse`")
    p.add_argument("--out-dir", required=True, type=Path, metavar="D",
                   help="output directory (signatures.npz, signatures.json)")
    p.add_argument("--window-sizes", type=int_list, default=(10, 30, 60), metavar="W1,W2,..",
                   help="signature scales in buckets (default 10,30,60)")
    p.add_argument("--step", type=int, default=10, help="buckets between two signatures (default 10)")
    p.add_argument("--steps", type=int, default=5, help="signatures per model input (default 5)")
    p.add_argument("--bucket", default="lines:20", metavar="lines:N|seconds:N",
                   help="bucket every N counted lines or N seconds of timestamps (default lines:20)")
    p.add_argument("--vocab", type=Path, metavar="V",
                   help="DeepLog's vocab.json: use its template indices (default: build the same way, "
                        "by descending count then template text)")
    p.add_argument("--template-col", default="template", help="column holding the template strings")


def run(args: argparse.Namespace) -> int:
    from ..mscred_data import BuildMSCREDConfig, build_mscred

    config = BuildMSCREDConfig(parsed=args.parsed, out_dir=args.out_dir, window_sizes=args.window_sizes,
                               step=args.step, steps=args.steps, bucket=args.bucket, vocab=args.vocab,
                               template_col=args.template_col)
    result = build_mscred(config)
    meta, spec = result.meta, result.spec
    print(f"wrote {args.out_dir}: {meta['num_signatures']} signatures of {spec.scales}x{spec.n}x{spec.n} "
          f"({spec.num_templates} templates, {meta['num_buckets']} buckets, {meta['num_inputs']} model "
          f"inputs, {meta['ignored_rows']} rows ignored)")
    return 0
