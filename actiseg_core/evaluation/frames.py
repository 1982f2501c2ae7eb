"""One frame as the evaluator sees it: its truth, what the model answered, and whether the frame failed.

The one definition of a failing frame (DESIGN §8):

* **frame p-IoU** = the mean, over the frame's truly active objects (the annotated objects whose ``positive`` flag
  is set, visible in the frame or not), of the IoU of the predicted and the true mask of that object at the
  annotation's resolution. An active object that is neither visible nor predicted agrees perfectly (IoU 1); one
  that is predicted where it is not visible, or visible and missed, scores 0.
* a frame **fails** when its p-IoU < :data:`FAILURE_P_IOU`; it is **good** otherwise.
* a frame with **no truly active object** has no target the mask could be right or wrong about: its p-IoU is
  undefined (NaN, ``null`` in JSON) and it is neither failing nor good. It is left out of every gate figure (the
  unsafe-GO rate, GO availability, NO-GO precision and recall) and counted on its own, with the GO verdicts it got
  (:class:`actiseg_core.evaluation.figures.GateFigures`). Its objects still count in the ActionVOS metrics (every
  object there is inactive, so any predicted pixel is an n-side error).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from actiseg_core.gating import GateFeatures, mask_iou

#: A frame whose p-IoU is below this fails: the mask is too wrong to act on.
FAILURE_P_IOU = 0.5


def failing(p_iou: ArrayLike) -> np.ndarray:
    """Which frames fail: p-IoU < :data:`FAILURE_P_IOU` (bool array); NaN (no active object) never fails."""
    return np.nan_to_num(np.asarray(p_iou, np.float64), nan=math.inf) < FAILURE_P_IOU


def frame_p_iou(gt_labels: np.ndarray, pred_labels: np.ndarray, positives: Mapping[int, bool]) -> float:
    """The frame's p-IoU (see the module docstring) from palette label maps of the same shape; NaN when no object
    of ``positives`` (palette index -> active) is active."""
    if gt_labels.shape != pred_labels.shape:
        raise ValueError(f"gt_labels shape {gt_labels.shape} != pred_labels shape {pred_labels.shape}")
    ious = [mask_iou(pred_labels == index, gt_labels == index) for index, active in positives.items() if active]
    return float(np.mean(ious)) if ious else math.nan


def palette_labels(label_map: np.ndarray | None, object_ids: tuple[int, ...], shape: tuple[int, int]) -> np.ndarray:
    """The runtime's label map (0 none, k + 1 = candidate k) as a palette map (candidate k -> ``object_ids[k]``) of
    ``shape``; None (no mask) -> all background. A map of another size is resampled to ``shape`` by nearest
    neighbour (pixel centres), so scores are always taken at the annotation's resolution."""
    if label_map is None:
        return np.zeros(shape, np.uint8)
    lookup = np.zeros(256, np.uint8)
    lookup[1:len(object_ids) + 1] = object_ids
    labels = lookup[np.asarray(label_map, np.uint8)]
    if labels.shape != tuple(shape):
        rows = ((np.arange(shape[0]) + 0.5) * labels.shape[0] / shape[0]).astype(np.intp)
        cols = ((np.arange(shape[1]) + 0.5) * labels.shape[1] / shape[1]).astype(np.intp)
        labels = labels[rows[:, None], cols[None, :]]
    return labels


@dataclass(frozen=True)
class FrameTruth:
    """What a frame should be answered with.

    Attributes:
        sequence, frame: where it comes from (a bag frame: its stamp as ``frame``).
        labels: [H, W] uint8 GT palette map at the annotation's resolution (every annotated object, active or not).
        object_ids: palette index of each candidate, in query order (runtime label k + 1 = ``object_ids[k]``).
        positives: palette index -> whether the object is active (the ActionVOS ``positive`` flags).
        hand_ids: palette indices of the hand-class objects (gripper, hands), for the "gripper-only" reference.
        stamp_ns: the frame's time stamp (bags), else None.
    """

    sequence: str
    frame: str
    labels: np.ndarray
    object_ids: tuple[int, ...]
    positives: Mapping[int, bool]
    hand_ids: tuple[int, ...] = ()
    stamp_ns: int | None = None


@dataclass(frozen=True)
class Answer:
    """What the segmenter said about one frame.

    Attributes:
        label_map: runtime labels (0 none, k + 1 = candidate k), or None when the frame was not segmented.
        go: the gate's verdict, or None where no gate ran (training's validation).
        reasons: the NO-GO reason codes.
        latency_ms: time to the answer (NaN when not measured).
        features: the gate's measured features (None when the gate did not run on a mask).
    """

    label_map: np.ndarray | None
    go: bool | None = None
    reasons: tuple[str, ...] = ()
    latency_ms: float = math.nan
    features: GateFeatures | None = None


@dataclass(frozen=True)
class FrameScore:
    """One scored frame: its p-IoU, the verdict it got and whether the frame fails (module docstring)."""

    sequence: str
    frame: str
    p_iou: float
    answered: bool
    go: bool | None
    reasons: tuple[str, ...]
    latency_ms: float
    stamp_ns: int | None = None
    features: GateFeatures | None = None

    @property
    def has_target(self) -> bool:
        return not math.isnan(self.p_iou)

    @property
    def failure(self) -> bool:
        return bool(failing(self.p_iou))

    @property
    def good(self) -> bool:
        return self.has_target and not self.failure

    def as_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"sequence": self.sequence, "frame": self.frame}
        if self.stamp_ns is not None:
            record["stamp_ns"] = self.stamp_ns
        record |= {"p_iou": round(self.p_iou, 4) if self.has_target else None, "failure": self.failure,
                   "answered": self.answered, "go": self.go, "reasons": list(self.reasons),
                   "latency_ms": round(self.latency_ms, 2) if math.isfinite(self.latency_ms) else None}
        if self.features is not None:
            record["features"] = {name: (round(value, 6) if math.isfinite(value) else None)
                                  for name, value in asdict(self.features).items()}
        return record


def score_frame(truth: FrameTruth, answer: Answer | None) -> tuple[FrameScore, np.ndarray]:
    """The frame's score and its predicted palette map (``answer`` None: the frame got no answer at all)."""
    predicted = palette_labels(answer.label_map if answer else None, truth.object_ids, truth.labels.shape)
    score = FrameScore(
        sequence=truth.sequence, frame=truth.frame, p_iou=frame_p_iou(truth.labels, predicted, truth.positives),
        answered=answer is not None, go=answer.go if answer else None,
        reasons=tuple(answer.reasons) if answer else ("unanswered",),
        latency_ms=answer.latency_ms if answer else math.nan, stamp_ns=truth.stamp_ns,
        features=answer.features if answer else None)
    return score, predicted
