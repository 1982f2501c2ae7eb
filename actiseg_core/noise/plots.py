"""The two figures of the noise report, rendered off-screen to PNG bytes (no display, no pyplot state)."""

from __future__ import annotations

from io import BytesIO

import numpy as np
from matplotlib.figure import Figure


def _png(figure: Figure, caption: str) -> bytes:
    """PNG bytes of ``figure``, captioned with the data it was computed on (a figure read alone must say it)."""
    figure.suptitle(caption, fontsize=9)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return buffer.getvalue()


def severity_plot(kernels: list[int], miou: list[float], ciou: list[float], resolution: str, caption: str) -> bytes:
    """Fig. 3(b) of paper 003: mIoU and cIoU (%) of noisy vs clean annotations per dilation kernel."""
    figure = Figure(figsize=(5, 3.5))
    axes = figure.subplots()
    x = np.arange(len(kernels))
    for offset, (label, values) in zip((-0.2, 0.2), (("mIoU", miou), ("cIoU", ciou)), strict=True):
        bars = axes.bar(x + offset, [100 * v for v in values], width=0.4, label=label)
        axes.bar_label(bars, fmt="%.1f", fontsize=8)
    axes.set_xticks(x, [f"{k}x{k}" for k in kernels])
    axes.set_xlabel(f"dilation kernel (pixels of {resolution} label maps)")
    axes.set_ylabel("IoU with clean annotations (%)")
    axes.set_ylim(0, 115)
    axes.legend(loc="upper center", ncol=2)
    return _png(figure, caption)


def category_plot(shift: dict[str, dict[str, float]], caption: str) -> bytes:
    """Fig. 2 of paper 003: share (%) of each major class among the prompts, clean and per noise rate."""
    labels = list(next(iter(shift.values())))
    figure = Figure(figsize=(max(6.0, 0.6 * len(labels) * len(shift) / 2), 4))
    axes = figure.subplots()
    x = np.arange(len(labels))
    width = 0.8 / len(shift)
    for i, (condition, shares) in enumerate(shift.items()):
        axes.bar(x + (i - (len(shift) - 1) / 2) * width, [100 * shares[k] for k in labels], width, label=condition)
    axes.set_xticks(x, labels, rotation=45, ha="right")
    axes.set_ylabel("share of object prompts (%)")
    axes.legend()
    return _png(figure, caption)
