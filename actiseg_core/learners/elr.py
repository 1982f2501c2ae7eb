"""ELR learner: focal loss + early-learning regularisation toward each pixel's prediction history.

Paper 003 Sec. IV-A, Eq. 1 (focal, alpha 0.5, gamma 2) and the ELR term below it (Liu et al. 2020, DESIGN §6):

- ``s <- beta s + (1 - beta) p`` per pixel per query (beta 0.9), kept across epochs in a
  :class:`~actiseg_core.learners.history.QueryPixelStore` indexed by ``QueryBatch.query_ids`` (uint8, see its
  memory note), updated with the detached current prediction before the term is computed, and set to ``p`` on a
  query's first visit (a zero start would read as "background" in the binary case);
- ``d = p s + (1 - p)(1 - s)``, the agreement of the prediction with its history;
- ``R = log(1 - d + eps)`` (eps 1e-6), weighted by lambda = 1.

Two conventions differ from the text of paper 003, which prints ``s <- (1 - beta) s + beta p`` and
``R = -log(1 - d + eps)``. With beta = 0.9 the first makes ``s`` nearly the current prediction (no memory), and
minimising the second would push predictions *away* from their history, the opposite of the method it describes.
Both are read as in ELR itself (``target = beta * target + (1 - beta) * p``; ``elr_reg = log(1 - <p, target>)``):
minimising R raises d, pulling p toward the side of 0.5 its history is on, so early (clean) fits are not
overwritten by memorised noisy labels. The focal term carries ActionVOS's pixel weights; R, label-free, does not.
Spatial augmentation must stay off (the trainer refuses ``--hflip``) so a query's pixels line up across epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.history import PixelHistoryLearner
from actiseg_core.learners.losses import pixel_mean, sigmoid_focal_loss
from actiseg_core.learners.pixel import ActionVOSCoefficients
from actiseg_core.model.segmenter import SegmenterOutput

QUANT = 255.0  # the history's uint8 scale: s = stored / 255, an error of at most 0.002 per update


@dataclass(frozen=True)
class ELRConfig(ActionVOSCoefficients):
    """Paper 003 Sec. V-B: focal alpha 0.5, gamma 2; EMA beta 0.9; eps 1e-6; lambda (``reg_coef``) 1."""

    focal_alpha: float = 0.5
    focal_gamma: float = 2.0
    beta: float = 0.9
    reg_coef: float = 1.0
    epsilon: float = 1e-6


def ema_update(history: Tensor, probabilities: Tensor, first_visit: Tensor, beta: float) -> Tensor:
    """``beta * history + (1 - beta) * p``, or ``p`` itself where ``first_visit`` (broadcast per query)."""
    return torch.where(first_visit, probabilities, beta * history + (1 - beta) * probabilities)


def elr_regulariser(probabilities: Tensor, history: Tensor, epsilon: float) -> Tensor:
    """Per-pixel ``log(1 - d + eps)`` with ``d = p s + (1 - p)(1 - s)``; decreasing as p agrees with s."""
    agreement = probabilities * history + (1 - probabilities) * (1 - history)
    return torch.log(1 - agreement + epsilon)


class ELRLearner(PixelHistoryLearner):
    terms = ("positive", "focal", "elr_reg", "dice")
    config_type = ELRConfig
    config: ELRConfig

    def targets(self, probabilities: Tensor, query_ids: Tensor) -> Tensor:
        """Update the history of these queries with ``probabilities`` (detached) and return it, as stored."""
        store = self.history
        first = (store.visits[query_ids.cpu()] == 0).to(probabilities.device).view(-1, 1, 1, 1)
        previous = store.read(query_ids, probabilities.device).float() / QUANT
        stored = (ema_update(previous, probabilities, first, self.config.beta) * QUANT).round().to(torch.uint8)
        store.write(query_ids, stored)
        return stored.float() / QUANT

    def pixel_loss(self, outputs: SegmenterOutput, batch: QueryBatch,
                   step: StepInfo) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.config
        probabilities = outputs.mask_logits.sigmoid()
        history = self.targets(probabilities.detach(), batch.query_ids)
        focal = pixel_mean(sigmoid_focal_loss(outputs.mask_logits, batch.targets, cfg.focal_alpha, cfg.focal_gamma,
                                              batch.weights))
        regulariser = pixel_mean(elr_regulariser(probabilities, history, cfg.epsilon))
        return focal + cfg.reg_coef * regulariser, {"focal": focal, "elr_reg": regulariser}
