"""Mask annotation noise: Alg. 2 of paper 003 (Section III-B), and its severity statistics (Fig. 3(b)).

Two modes (:data:`actiseg_core.noise.modes.MASK_NOISE_MODES`):

- ``"official"`` (the default): what the authors' released generator does
  (``dataset/generate_annotations_mask_noise.py`` of ``mylwx/ActiSeg-NL``, commit ``cf7dd38``). Only the ACTIVE
  (positive) objects are dilated; they are pasted first-hit in object order, then the inactive objects are pasted
  UNDILATED into the pixels still free, so a dilated active object wins every overlap, over inactive objects'
  pixels too.
- ``"all_objects"``: our earlier reading of Alg. 2, an extension: every object is dilated and recombined first-hit.

Kernel sizes are in pixels of the label map they are applied to; the paper's k in {9, 15, 21} means pixels of
ActionVOS's 854x480 annotations, and the same k is far more severe at a lower resolution. That is why every use of
a kernel should report the severity beside it: the mIoU / cIoU of the noisy masks against the clean ones.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from actiseg_core.errors import ActiSegError
from actiseg_core.noise.modes import ALL_OBJECTS, DEFAULT_MASK_NOISE_MODE, validate_mask_mode


def validate_kernel(kernel: int) -> int:
    """Alg. 2's square kernel must have a centre pixel: odd and >= 1 (k = 1 leaves the masks unchanged)."""
    if isinstance(kernel, bool) or not isinstance(kernel, (int, np.integer)) or kernel < 1 or kernel % 2 == 0:
        raise ActiSegError(f"dilation kernel must be an odd integer >= 1, got {kernel!r}")
    return int(kernel)


def _first_hit_dilation(label_map: np.ndarray, order: list[int], kernel: int) -> np.ndarray:
    """Dilate the objects of ``order`` with a k x k square and recombine first-hit; other pixels become 0.

    Instead of N binary dilations, one grey-scale dilation does it: painting object ``order[r]`` with the value
    ``N - r`` makes the window maximum the earliest object whose mask reaches the pixel, which is the first hit.
    """
    rank = np.zeros(256, dtype=np.uint8)
    rank[order] = np.arange(len(order), 0, -1, dtype=np.uint8)
    dilated = cv2.dilate(rank[label_map], np.ones((kernel, kernel), dtype=np.uint8))
    index = np.zeros(256, dtype=np.uint8)
    index[len(order) - np.arange(len(order))] = order
    return index[dilated]


def dilate_label_map(
    label_map: np.ndarray,
    object_order: Sequence[int],
    kernel: int,
    *,
    active: Collection[int] | None = None,
    mode: str = DEFAULT_MASK_NOISE_MODE,
) -> np.ndarray:
    """Alg. 2 of paper 003 on one label map: the noisy label map, same shape and dtype.

    ``object_order`` lists the annotated objects (palette indices) in the order overlaps are resolved; objects
    absent from it are dropped (their pixels become 0), as the released generator keeps only the objects of the
    sequence's expressions. ActiSeg's fixed order is ascending palette index (``sorted(objects)``), which is the
    released generator's too: it walks the expressions ``"0", "1", ...`` whose ``obj_id`` is ``1, 2, ...``.

    ``mode="official"`` (needs ``active``, the palette indices of the active objects): each active object's mask
    is dilated with a k x k square and pasted into the pixels still 0, in object order (so an earlier active
    object's dilation takes a later one's own pixels); then each inactive object's UNDILATED mask is pasted into
    the pixels still 0. An inactive object keeps its pixels except those a dilated active object reaches. This is
    the released generator at its ``--rate_noise 1.0`` (its default and the setting of every k in the paper);
    below 1 it leaves each active object of each frame undilated with probability ``1 - rate``, which is not
    offered here. Its OpenCV dilation has the same border (pixels outside the map never dilate in) and anchor
    (the kernel's centre) as ours, so the result is the same pixel for pixel.

    ``mode="all_objects"`` (our extension; ``active`` is ignored): every object of ``object_order`` is dilated and
    each pixel takes the FIRST object whose dilated mask covers it, so inactive objects grow too and can take an
    active object's pixels; pixels no dilated mask covers are 0.
    """
    kernel = validate_kernel(kernel)
    mode = validate_mask_mode(mode)
    if label_map.dtype != np.uint8 or label_map.ndim != 2:
        raise ValueError(f"label map must be 2-D uint8, got {label_map.dtype} {label_map.shape}")
    order = [int(i) for i in object_order]
    if len(set(order)) != len(order) or any(not 1 <= i <= 255 for i in order):
        raise ValueError(f"object order must list distinct palette indices 1..255, got {order}")
    if mode == ALL_OBJECTS:
        return _first_hit_dilation(label_map, order, kernel)
    if active is None:
        raise ValueError("official mask noise dilates the active objects only: pass active=<their palette indices>")
    active_set = {int(i) for i in active}
    if not active_set <= set(order):
        raise ValueError(f"active objects {sorted(active_set - set(order))} are not in the object order {order}")
    positives = [i for i in order if i in active_set]
    inactive = np.array([i for i in order if i not in active_set], dtype=np.uint8)
    noisy = _first_hit_dilation(label_map, positives, kernel)
    free_inactive = (noisy == 0) & np.isin(label_map, inactive)
    noisy[free_inactive] = label_map[free_inactive]  # undilated inactive masks are disjoint: order cannot matter
    return noisy


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
