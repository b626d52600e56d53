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
