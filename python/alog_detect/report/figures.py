"""The report's charts: matplotlib (Agg) drawn to PNG bytes, inlined as data: URIs by the page.

PNG rather than SVG: no namespace URL in the page, and with ``metadata={"Software": None}`` the
same figures give the same bytes.
"""

from __future__ import annotations

import base64
import io
from typing import Sequence

WIDTH, HEIGHT, DPI = 7.5, 3.2, 100


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _data_uri(fig) -> str:
    plt = _pyplot()
    buf = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(buf, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def training_curves(deeplog: Sequence[float] | None, mscred_train: Sequence[float] | None,
                    mscred_valid: Sequence[float] | None) -> str:
    """DeepLog's loss per epoch beside MSCRED's training and validation loss."""
    plt = _pyplot()
    panels = [p for p in ("deeplog", "mscred") if (deeplog if p == "deeplog" else mscred_train)]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(WIDTH, HEIGHT), dpi=DPI, squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if panel == "deeplog":
            ax.plot(range(1, len(deeplog) + 1), deeplog, marker="o", markersize=3, label="training")
            ax.set_title("DeepLog")
            ax.set_ylabel("cross-entropy")
        else:
            ax.plot(range(1, len(mscred_train) + 1), mscred_train, marker="o", markersize=3, label="training")
            if mscred_valid:
                ax.plot(range(1, len(mscred_valid) + 1), mscred_valid, marker="s", markersize=3,
                        label="validation (held-out inputs)")
            ax.set_title("MSCRED")
            ax.set_ylabel("mean squared error")
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return _data_uri(fig)


def topk_curve(k: Sequence[int], series: dict[str, Sequence[float]], top_k: int) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
    for label, values in series.items():
        ax.plot(k, values, marker="o", markersize=3, label=label)
    ax.axvline(top_k, color="grey", linestyle="--", linewidth=1, label=f"the model's top_k = {top_k}")
    ax.set_xlabel("k")
    ax.set_ylabel("next key in the top k")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(list(k))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _data_uri(fig)


def score_timeline(lines: Sequence[int], scores: Sequence[int], anomalies: Sequence[bool], threshold: int,
                   windows: Sequence[tuple[int, int]]) -> str:
    """MSCRED's score (residual cells past the cell threshold) per input, by the log line that
    closed it; the anomaly threshold; the labelled windows shaded."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH, HEIGHT + 0.4), dpi=DPI)
    for i, (first, last) in enumerate(windows):
        ax.axvspan(first, last, color="tab:orange", alpha=0.25, label="labelled anomaly window" if i == 0 else None)
    ax.plot(lines, scores, color="tab:blue", linewidth=1, label="score")
    flagged = [(x, y) for x, y, a in zip(lines, scores, anomalies) if a]
    if flagged:
        ax.scatter([x for x, _ in flagged], [y for _, y in flagged], color="tab:red", s=12, zorder=3,
                   label="anomaly (score > threshold)")
    ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1, label=f"threshold = {threshold}")
    ax.set_xlabel("log line")
    ax.set_ylabel("residual cells over the cell threshold")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    return _data_uri(fig)
