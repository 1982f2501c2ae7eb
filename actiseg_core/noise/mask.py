"""Mask annotation noise: Alg. 2 of paper 003 (Section III-B), and its severity statistics (Fig. 3(b)).

Kernel sizes are in pixels of the label map they are applied to; the paper's k in {9, 15, 21} means pixels of
ActionVOS's 854x480 annotations, and the same k is far more severe at a lower resolution. That is why every use of
a kernel should report the severity beside it: the mIoU / cIoU of the noisy masks against the clean ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from actiseg_core.errors import ActiSegError


def validate_kernel(kernel: int) -> int:
    """Alg. 2's square kernel must have a centre pixel: odd and >= 1 (k = 1 leaves the masks unchanged)."""
    if isinstance(kernel, bool) or not isinstance(kernel, (int, np.integer)) or kernel < 1 or kernel % 2 == 0:
        raise ActiSegError(f"dilation kernel must be an odd integer >= 1, got {kernel!r}")
    return int(kernel)


def dilate_label_map(label_map: np.ndarray, object_order: Sequence[int], kernel: int) -> np.ndarray:
    """Alg. 2 of paper 003: separate per-object masks, dilate each with a k x k square, recombine first-hit.

    Every pixel takes the FIRST object of ``object_order`` whose dilated mask covers it, so a pixel of object B that
    lies inside the dilation of an earlier object A becomes A, exactly as in the algorithm; pixels no dilated mask
    covers are 0, and objects absent from ``object_order`` are dropped. ActiSeg's fixed order is ascending palette
    index (``sorted(objects)``), which in ActionVOS's layout is the objects' names in sorted order.

    Instead of N binary dilations, one grey-scale dilation does it: painting object ``order[r]`` with the value
    ``N - r`` makes the window maximum the earliest object whose mask reaches the pixel, which is the first hit.
    """
    kernel = validate_kernel(kernel)
    if label_map.dtype != np.uint8 or label_map.ndim != 2:
        raise ValueError(f"label map must be 2-D uint8, got {label_map.dtype} {label_map.shape}")
    order = [int(i) for i in object_order]
    if len(set(order)) != len(order) or any(not 1 <= i <= 255 for i in order):
        raise ValueError(f"object order must list distinct palette indices 1..255, got {order}")
    rank = np.zeros(256, dtype=np.uint8)
    rank[order] = np.arange(len(order), 0, -1, dtype=np.uint8)
    dilated = cv2.dilate(rank[label_map], np.ones((kernel, kernel), dtype=np.uint8))
    index = np.zeros(256, dtype=np.uint8)
    index[len(order) - np.arange(len(order))] = order
    return index[dilated]


def mask_severity(clean: np.ndarray, noisy: np.ndarray, objects: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Per object of ``objects``: (I, U) of its noisy mask [noisy == k] against its clean mask [clean == k]."""
    if clean.shape != noisy.shape:
        raise ValueError(f"clean {clean.shape} and noisy {noisy.shape} label maps differ in size")
    clean_area = np.bincount(clean.ravel(), minlength=256)
    noisy_area = np.bincount(noisy.ravel(), minlength=256)
    inter = np.bincount(clean[clean == noisy], minlength=256)
    return {int(k): (int(inter[k]), int(clean_area[k] + noisy_area[k] - inter[k])) for k in objects}


@dataclass
class Severity:
    """mIoU (mean of per-object-per-frame IoU) and cIoU (sum I / sum U) of noisy vs clean masks.

    An object visible in neither map (U = 0) is skipped, as the ActionVOS metrics skip it.
    """

    ious: list[float] = field(default_factory=list)
    inter: int = 0
    union: int = 0

    def add(self, inter: int, union: int) -> None:
        if union:
            self.ious.append(inter / union)
            self.inter += inter
            self.union += union

    @property
    def miou(self) -> float:
        return math.fsum(self.ious) / len(self.ious) if self.ious else math.nan

    @property
    def ciou(self) -> float:
        return self.inter / self.union if self.union else math.nan

    def to_json(self) -> dict[str, float | int | None]:
        def finite(value: float) -> float | None:
            return None if math.isnan(value) else value

        return {"mIoU": finite(self.miou), "cIoU": finite(self.ciou), "entries": len(self.ious)}


SEVERITY_GROUPS = ("all", "positive", "negative")


@dataclass
class SeverityStats:
    """Severity over a split, for all objects and separately for active (positive) and inactive ones."""

    groups: dict[str, Severity] = field(default_factory=lambda: {g: Severity() for g in SEVERITY_GROUPS})

    def add_frame(self, clean: np.ndarray, noisy: np.ndarray, positive: Mapping[int, bool]) -> None:
        """Add one frame; ``positive`` maps each annotated object of the sequence to its active flag."""
        for index, (inter, union) in mask_severity(clean, noisy, list(positive)).items():
            self.groups["all"].add(inter, union)
            self.groups["positive" if positive[index] else "negative"].add(inter, union)

    def to_json(self) -> dict[str, dict[str, float | int | None]]:
        return {name: severity.to_json() for name, severity in self.groups.items()}
