"""Training's periodic validation: the live PyTorch model on the validation frames, scored by the evaluator.

The fast path for a model that is still training: the frames training already holds in memory (resized with its
own resize, prompts embedded with its own text encoder), mask logits upsampled with torch to the annotation's
resolution and turned into a label map with :func:`actiseg_core.metrics.predicted_label_map` at the ActionVOS
thresholds. The label map is scored by :class:`actiseg_core.evaluation.Scorer`, the scorer of ``actiseg-evaluate``
and the bag replay (metrics, references, frame p-IoU), so there is one definition of every number. What the robot
would score is ``actiseg-evaluate`` on the exported folder (the deployment graphs and the fitted gate).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from actiseg_core.contract import PIXEL_THRESHOLD, POSITIVE_THRESHOLD
from actiseg_core.evaluation import Answer, Scorer
from actiseg_core.evaluation.split import reference_truth
from actiseg_core.metrics import ActionVOSMetrics, predicted_label_map
from actiseg_core.runtime.backends.base import Backend
from actiseg_core.runtime.backends.torch_backend import TorchBackend
from training.data import FrameDataset

#: The live PyTorch model as a runtime backend (``TorchPredictor(model, device)``).
TorchPredictor = TorchBackend


def upsample_probabilities(mask_logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[K, 1, h, w] logits -> [K, H, W] float32 probabilities at the annotation size (bilinear on the logits)."""
    logits = F.interpolate(torch.from_numpy(mask_logits), size=size, mode="bilinear", align_corners=False)
    return logits[:, 0].sigmoid().numpy()


def evaluate_split(predictor: Backend, frames: FrameDataset) -> dict[str, ActionVOSMetrics]:
    """Score every frame of ``frames``; returns the metrics of ``"model"`` and of each reference."""
    scorer = Scorer(references=True)
    for index, ref in enumerate(frames.refs):
        objects = frames.objects[index]
        image = frames.frame(index).image.transpose(2, 0, 1)[None]
        batch = np.ascontiguousarray(image, dtype=np.float32) / 255.0
        mask_logits, positive_logits, _ = predictor.run(batch, frames.text_embeddings(index).numpy())
        gt = frames.source.load_labels(ref)
        probabilities = upsample_probabilities(mask_logits, gt.shape)
        positive_scores = 1.0 / (1.0 + np.exp(-positive_logits.astype(np.float64)))
        # runtime labels (k + 1 = query k), as the deployment postprocess graph paints them
        label_map = predicted_label_map(probabilities, range(1, len(objects) + 1), positive_scores, PIXEL_THRESHOLD,
                                        POSITIVE_THRESHOLD)
        scorer.add(reference_truth(ref, objects, gt, frames.hand_ids), Answer(label_map=label_map))
    return scorer.metrics
