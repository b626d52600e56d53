"""`alog-detect runtime-wheel`: the device-side alog_runtime wheel for one platform."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "runtime-wheel"
HELP = "build the alog_runtime wheel (ctypes over a libalog.so, with a model directory inside)"
ORDER = 100


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..package.wheel import host_platform_tag

    p.add_argument("--library", required=True, type=Path, metavar="SO",
                   help="the target's libalog.so (build/<target>/lib/libalog.so)")
    p.add_argument("--models", required=True, type=Path, metavar="M",
                   help="the model directory to ship (`alog-detect convert-onnx --output-dir`)")
    p.add_argument("--platform-tag", default=host_platform_tag(), metavar="TAG",
                   help="wheel platform tag, e.g. manylinux_2_17_aarch64 (default: this machine's, "
                        "%(default)s)")
    p.add_argument("--out-dir", required=True, type=Path, metavar="D", help="where the wheel goes")
    p.add_argument("--source-date-epoch", type=int, metavar="S",
                   help="timestamp of every file in the wheel (default: $SOURCE_DATE_EPOCH, else "
                        "1980-01-01)")


def run(args: argparse.Namespace) -> int:
    from ..package.wheel import RuntimeWheelConfig, build_runtime_wheel

    wheel = build_runtime_wheel(RuntimeWheelConfig(library=args.library, models=args.models,
                                                   platform_tag=args.platform_tag,
                                                   out_dir=args.out_dir,
                                                   source_date_epoch=args.source_date_epoch))
    print(wheel)
    return 0
