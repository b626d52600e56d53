"""`alog-detect convert-onnx`: checkpoints -> portable, simplified, validated ONNX model directory."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "convert-onnx"
HELP = "export DeepLog/MSCRED checkpoints to a model directory (.onnx + meta + engine vocab.json)"
ORDER = 70


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--deeplog-model", type=Path, metavar="M", help="deeplog.pth from deeplog-train")
    p.add_argument("--mscred-model", type=Path, metavar="M2", help="mscred.pth from mscred-train")
    p.add_argument("--vocab", required=True, type=Path, metavar="V",
                   help="the training vocab.json the models were trained with")
    p.add_argument("--output-dir", required=True, type=Path, metavar="D",
                   help="model directory to write (replaced as a whole, only on success)")
    p.add_argument("--seq-len", type=int, metavar="N",
                   help="DeepLog keys per input (default: the checkpoint's window)")
    p.add_argument("--window-size", "--steps", dest="window_size", type=int, metavar="W",
                   help="MSCRED signature-matrix steps per input (default: the checkpoint's)")
    p.add_argument("--feature-dim", type=int, metavar="F",
                   help="MSCRED matrix side n, a multiple of 8 (default: the checkpoint's)")
    p.add_argument("--opset", type=int, metavar="K",
                   help="ONNX opset (default 17; 18 when only the dynamo exporter exists)")
    p.add_argument("--portable", action=argparse.BooleanOptionalAction, default=True,
                   help="simplify with onnxsim and require one default-domain opset, no shape ops and "
                        "only operators the C engine implements (default: on)")
    p.add_argument("--validate", action="store_true",
                   help="compare PyTorch with onnxruntime (and the C engine's runner when installed) "
                        "on 100 inputs; fail on a mismatch")
    p.add_argument("--quantize", choices=("none", "int8"), default="none",
                   help="int8: store the LSTM/Gemm/Conv weights as int8 with per-output-channel scales "
                        "(standard DequantizeLinear, about 4x smaller files); with --validate, also "
                        "reports how far the int8 model is from the float one (default: none)")
    p.add_argument("--validation-report", type=Path, metavar="FILE",
                   help="with --validate: where to write the validation figures as JSON (default: "
                        "<output-dir>.validation.json, beside the model directory)")
    p.add_argument("--deeplog-data", type=Path, metavar="S",
                   help="sequences.parquet for real validation windows (default: found beside --vocab)")
    p.add_argument("--mscred-data", type=Path, metavar="DIR",
                   help="build-mscred directory for real validation windows (default: found beside "
                        "the checkpoint or --vocab)")


def run(args: argparse.Namespace) -> int:
    from ..export import ExportConfig, convert_onnx

    config = ExportConfig(vocab=args.vocab, output_dir=args.output_dir, deeplog_model=args.deeplog_model,
                          mscred_model=args.mscred_model, seq_len=args.seq_len,
                          window_size=args.window_size, feature_dim=args.feature_dim, opset=args.opset,
                          portable=args.portable, validate=args.validate, quantize=args.quantize,
                          deeplog_data=args.deeplog_data, mscred_data=args.mscred_data,
                          validation_report=args.validation_report)
    result = convert_onnx(config)
    for model in result.models:
        print(f"wrote {model.onnx} (ops: {', '.join(model.ops)}) and {model.meta.name}")
    print(f"wrote {result.vocab}")
    return 0
