"""Training stages, one module per model (each imports torch: import lazily from commands).

``alog_detect.train.deeplog``: ``train_deeplog``, ``load_deeplog_checkpoint``.
Shared here: the training-curve PNG written beside every checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence


def training_curve_path(checkpoint: str | Path) -> Path:
    """``model.pth`` -> ``model.pth.png``."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + ".png")


def render_training_curve(png: Path, losses: Sequence[float], title: str, ylabel: str = "loss") -> None:
    """Plot the per-epoch loss to ``png`` (an already-temporary path; the caller renames it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    try:
        ax.plot(range(1, len(losses) + 1), list(losses), marker="o", markersize=3)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        # No timestamp or software version in the PNG, so equal trainings give equal bytes.
        fig.savefig(png, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)


def checkpoint_bytes(ckpt: dict) -> bytes:
    """torch.save of `ckpt`, through memory: torch.save names the archive inside after the file
    it writes, and a temporary file's random name would make equal trainings differ in bytes."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(ckpt, buf)
    return buf.getvalue()


def read_checkpoint(path: Path, kind: str, format_version: int, required: set[str], fix: str) -> dict:
    """Load a checkpoint dict safely (``weights_only``) and check its kind, version and keys;
    anything else (missing, corrupt, foreign, too new) is a UserError naming ``path``."""
    import torch

    from ..errors import UserError

    if not path.is_file():
        raise UserError("checkpoint not found", path, fix)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise UserError(f"not a readable checkpoint ({type(exc).__name__})", path, fix) from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != kind:
        found = ckpt.get("kind") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise UserError(f"not a {kind} checkpoint (kind {found!r})", path, fix)
    if ckpt.get("format_version") != format_version:
        raise UserError(f"checkpoint format_version {ckpt.get('format_version')!r} is not {format_version}",
                        path, "retrain with this alog-detect")
    missing = required - ckpt.keys()
    if missing:
        raise UserError(f"checkpoint lacks {', '.join(sorted(missing))}", path, fix)
    return ckpt
