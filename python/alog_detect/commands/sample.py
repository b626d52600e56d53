"""`alog-detect sample`: write the built-in synthetic device log and its anomaly labels."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "sample"
HELP = ("write the built-in synthetic device log (sample.log) with session and window anomaly labels and each "
        "line's true event")
ORDER = 10


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="output directory (sample.log, sample_labels.csv, sample_windows.csv, sample_events.csv)")
    p.add_argument("--lines", type=int, default=60_000, metavar="N", help="number of log lines (default 60000)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")


def run(args: argparse.Namespace) -> int:
    from ..sample import SampleConfig, generate_sample

    result = generate_sample(SampleConfig(out_dir=args.out, lines=args.lines, seed=args.seed))
    print(f"wrote {result.log} ({result.lines} lines, {result.sessions} labelled sessions, "
          f"{result.anomalous_sessions} anomalous, {result.unfinished_sessions} still running at the end "
          f"and not labelled), {result.labels}, {result.windows} "
          f"({result.mix_windows} mix windows), {result.events} (each line's true event)")
    return 0
