"""Loss building blocks shared by the learners: small functions on logits, no reduction across queries.

Every function returns per-element or per-query values, so a learner decides how to weight and reduce them
(Co-teaching ranks per-query losses, ELR adds its own term per pixel). Shapes: ``logits`` and ``targets`` are any
matching shape for the pixel losses (the trainer uses [K, 1, H, W]), [K] for the positive-class loss.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0,
                       weights: Tensor | None = None) -> Tensor:
    """Per-element sigmoid focal loss, optionally pixel-weighted; no reduction.

    Source: Lin et al. 2017, "Focal Loss for Dense Object Detection" (RetinaNet), Eq. 5 with the alpha balance of
    Sec. 3.2: ``alpha_t * (1 - p_t)^gamma * BCE``. The weighted form follows ActionVOS's
    ``sigmoid_focal_loss_weighted`` (RF_ActionVOS/segmentation.py): the weight multiplies the BCE term, so a weight
    of 5 counts a pixel five times. ``alpha < 0`` disables the balance, as in the original.
    """
    probabilities = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, weight=weights, reduction="none")
    p_t = probabilities * targets + (1 - probabilities) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def dice_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-query soft Dice loss ``1 - (2|p t| + 1) / (|p| + |t| + 1)`` over all but the first dimension; unweighted.

    Source: Milletari et al. 2016 (V-Net) in the +1-smoothed form of DETR / ActionVOS ``dice_loss``
    (RF_ActionVOS/segmentation.py). The +1 keeps an all-zero target (an inactive object) well defined: its loss
    ``1 - 1 / (|p| + 1)`` pushes the predicted mass to zero.
    """
    probabilities = logits.sigmoid().flatten(1)
    targets = targets.flatten(1)
    numerator = 2 * (probabilities * targets).sum(1) + 1
    denominator = probabilities.sum(1) + targets.sum(1) + 1
    return 1 - numerator / denominator


def positive_focal_loss(positive_logits: Tensor, positives: Tensor, alpha: float = 0.25,
                        gamma: float = 2.0) -> Tensor:
    """Per-query focal loss of the positive-class head (target 1 if the object is active); no reduction.

    Source: ActionVOS ``SetCriterion.loss_positive_labels`` (RF_ActionVOS/criterion.py), which applies the
    RetinaNet sigmoid focal loss (alpha 0.25, gamma 2) to one "is this object active" logit per query.
    """
    return sigmoid_focal_loss(positive_logits, positives.to(positive_logits.dtype), alpha, gamma)
