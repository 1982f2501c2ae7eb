"""Evaluation shared by ``actiseg-train`` (periodic validation) and ``actiseg-evaluate``.

Per frame: the model runs once on the resized image with the frame's K prompts batched, mask logits are upsampled
to the annotation's own resolution (scores are computed at the GT's native size, as ActionVOS does), thresholded
(pixel probability 0.5, positive score 0.75) into a predicted label map and scored with
:class:`actiseg_core.metrics.ActionVOSMetrics`. Two trivial references are scored on the same frames, so a number
means something: ``empty`` (predict nothing) and ``gripper-only`` (the GT masks of the hand-class objects only:
the gripper, VISOR's hands).

The model is reached through :class:`Predictor`: ``run(image, text) -> (mask_logits, positive_logits)`` on numpy
arrays, the interface of every runtime backend (:mod:`actiseg_core.runtime.backends`), so a checkpoint, an ONNX
model or a TensorRT engine is evaluated by the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch.nn import functional as F

from actiseg_core.data.loader import FrameRef
from actiseg_core.metrics import ActionVOSMetrics, predicted_label_map
from actiseg_core.runtime.backends.torch_backend import TorchBackend
from training.data import FrameDataset

#: ActionVOS's inference thresholds: a pixel is foreground at probability >= 0.5; an object whose positive score
#: is below 0.75 is dropped entirely (RF_ActionVOS inference_actionvos.py, ``--pos_cls_thres``).
PIXEL_THRESHOLD = 0.5
POSITIVE_THRESHOLD = 0.75
REFERENCES = ("empty", "gripper-only")


class Predictor(Protocol):
    """A model as evaluation sees it (the runtime's backend interface): one frame, K prompts, numpy in and out."""

    def run(self, images: np.ndarray, text_embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``images`` [1, 3, H, W] float32 RGB 0..1, ``text_embeddings`` [K, D] float32 ->
        (mask_logits [K, 1, H, W], positive_logits [K])."""
        ...


#: The live PyTorch model as a :class:`Predictor` (training's validation; ``actiseg-evaluate`` on a checkpoint).
TorchPredictor = TorchBackend


@dataclass
class FramePrediction:
    """One evaluated frame: the GT and predicted label maps at the GT's resolution."""

    index: int
    ref: FrameRef
    gt: np.ndarray  # [H, W] uint8, native
    pred: np.ndarray  # [H, W] uint8, native


def upsample_probabilities(mask_logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[K, 1, h, w] logits -> [K, H, W] float32 probabilities at the annotation size (bilinear on the logits)."""
    logits = F.interpolate(torch.from_numpy(mask_logits), size=size, mode="bilinear", align_corners=False)
    return logits[:, 0].sigmoid().numpy()


def evaluate_split(predictor: Predictor, frames: FrameDataset,
                   on_frame: Callable[[FramePrediction], None] | None = None,
                   keep_records: bool = False) -> dict[str, ActionVOSMetrics]:
    """Score every frame of ``frames``; returns metrics for ``"model"`` and each of :data:`REFERENCES`.

    ``on_frame`` sees each frame's prediction (evaluate.py writes PNGs and overlays from it); ``keep_records``
    keeps the model's per-object records for a CSV.
    """
    scores = {"model": ActionVOSMetrics(keep_records)} | {name: ActionVOSMetrics(False) for name in REFERENCES}
    for index, ref in enumerate(frames.refs):
        objects = frames.objects[index]
        indices = [obj.index for obj in objects]
        positives = {obj.index: obj.positive for obj in objects}
        hand_indices = [obj.index for obj in objects if obj.class_id in frames.hand_ids]
        image = frames.frame(index).image.transpose(2, 0, 1)[None]
        batch = np.ascontiguousarray(image, dtype=np.float32) / 255.0
        mask_logits, positive_logits = predictor.run(batch, frames.text_embeddings(index).numpy())
        gt = frames.source.load_labels(ref)
        probabilities = upsample_probabilities(mask_logits, gt.shape)
        positive_scores = 1.0 / (1.0 + np.exp(-positive_logits.astype(np.float64)))
        pred = predicted_label_map(probabilities, indices, positive_scores, PIXEL_THRESHOLD, POSITIVE_THRESHOLD)
        tags = {"sequence": ref.sequence.folder, "frame": ref.frame}
        scores["model"].update(gt, pred, positives, **tags)
        scores["empty"].update(gt, np.zeros_like(gt), positives, **tags)
        scores["gripper-only"].update(gt, np.where(np.isin(gt, hand_indices), gt, 0).astype(np.uint8), positives,
                                      **tags)
        if on_frame is not None:
            on_frame(FramePrediction(index, ref, gt, pred))
    return scores
