"""`alog-detect mscred-train`: signature matrices -> mscred.pth (+ training curve), calibrated."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._args import int_list

NAME = "mscred-train"
HELP = "train MSCRED on build-mscred's signatures and calibrate its thresholds on a validation slice"
ORDER = 60


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, type=Path, metavar="D", help="output directory of `alog-detect build-mscred`")
    p.add_argument("--out", required=True, type=Path, metavar="M", help="checkpoint to write (mscred.pth; "
                   "the training curve goes to M.png)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--batch-size", type=int, default=16, help="inputs per batch (default 16)")
    # models.mscred.EDGE_CHANNELS, spelled out: a command imports no torch (tests hold them equal)
    p.add_argument("--channels", type=int_list, default=(8, 16, 32, 64), metavar="C1,C2,C3,C4",
                   help="encoder channels per level (default 8,16,32,64, sized for devices; the paper's: "
                        "32,64,128,256)")
    p.add_argument("--valid-fraction", type=float, default=0.2,
                   help="latest fraction of inputs held out for calibration; must be normal (default 0.2)")
    p.add_argument("--cell-quantile", type=float, default=0.999,
                   help="quantile of validation residuals used as the cell threshold (default 0.999)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..train.mscred import MSCREDTrainConfig, train_mscred

    config = MSCREDTrainConfig(data=args.data, out=args.out, epochs=args.epochs, lr=args.lr, seed=args.seed,
                               batch_size=args.batch_size, channels=args.channels,
                               valid_fraction=args.valid_fraction, cell_quantile=args.cell_quantile,
                               progress=not args.no_progress)
    result = train_mscred(config)
    cal = result.calibration
    print(f"wrote {result.checkpoint} and {result.curve}: {result.train_inputs} training inputs, "
          f"final MSE {result.train_losses[-1]:.4g} (valid {result.valid_losses[-1]:.4g}); "
          f"cell threshold {cal.cell_threshold:.6g}, anomaly threshold {cal.anomaly_threshold} cells")
    return 0
