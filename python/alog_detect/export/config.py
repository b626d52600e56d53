"""The convert-onnx configuration and the names of the model directory's files (no torch here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

DEEPLOG_ONNX = "deeplog.onnx"
MSCRED_ONNX = "mscred.onnx"
META_SUFFIX = ".meta.json"
ENGINE_VOCAB = "vocab.json"
# `--validate` writes its figures beside the model directory (not inside it: they depend on the
# machine's PyTorch and onnxruntime builds, and a bundle must be the same bytes everywhere).
VALIDATION_SUFFIX = ".validation.json"
VALIDATION_FORMAT_VERSION = 1
VALIDATION_KIND = "validation"

# The portable profile's opset: the newest one the legacy exporter, onnxsim and the engine's
# reference kernels all agree on. The dynamo exporter cannot go below 18, so it defaults to 18.
DEFAULT_OPSET = 17
VALIDATION_SAMPLES = 100
# convert-onnx --quantize: float32 weights, or int8 weights with per-channel scales (quantize.py)
QUANTIZE_CHOICES = ("none", "int8")


@dataclass(frozen=True)
class ExportConfig:
    """What `alog-detect convert-onnx` was asked to do.

    Shape parameters left as None take the value the checkpoint recorded:
    ``seq_len`` is DeepLog's window (keys per input); ``window_size`` is MSCRED's temporal window
    (signature-matrix steps per input); ``feature_dim`` is MSCRED's matrix side ``n``.
    Validation data left as None is looked for beside the vocabulary and the checkpoints, and used
    only when its SHA-256 is the one the checkpoint recorded for its training data.
    """

    vocab: Path
    output_dir: Path
    deeplog_model: Path | None = None
    mscred_model: Path | None = None
    seq_len: int | None = None
    window_size: int | None = None
    feature_dim: int | None = None
    opset: int | None = None
    deeplog_data: Path | None = None   # sequences.parquet for real validation windows
    mscred_data: Path | None = None    # build-mscred output directory, likewise
    portable: bool = True
    validate: bool = False
    quantize: str = "none"             # "none" or "int8" (export/quantize.py)
    validation_report: Path | None = None  # None: validation_path(output_dir)

    def __post_init__(self):
        if self.deeplog_model is None and self.mscred_model is None:
            raise UserError("nothing to export", None, "pass --deeplog-model, --mscred-model or both")
        for flag, value in (("--seq-len", self.seq_len), ("--window-size", self.window_size),
                            ("--feature-dim", self.feature_dim)):
            if value is not None and value < 1:
                raise UserError(f"{flag} must be >= 1, got {value}", None, f"pass a positive {flag}")
        if self.quantize not in QUANTIZE_CHOICES:
            raise UserError(f"--quantize {self.quantize} is not a quantization", None,
                            f"pass --quantize {' or '.join(QUANTIZE_CHOICES)}")
        if self.feature_dim is not None and self.feature_dim % 8:
            raise UserError(f"--feature-dim must be a multiple of 8 (MSCRED's encoder halves it "
                            f"three times), got {self.feature_dim}", None,
                            "round it up to a multiple of 8")


def validation_path(output_dir: Path) -> Path:
    """Where `--validate` writes its figures by default: ``<output_dir>.validation.json``."""
    output_dir = Path(output_dir)
    return output_dir.parent / (output_dir.name + VALIDATION_SUFFIX)
