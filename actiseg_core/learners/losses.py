"""Loss building blocks shared by the learners: small functions on logits, no reduction across queries.

Every function returns per-element or per-query values, so a learner decides how to weight and reduce them
(Co-teaching ranks per-query losses, ELR adds its own term per pixel). Shapes: ``logits`` and ``targets`` are any
matching shape for the pixel losses (the trainer uses [K, 1, H, W]), [K] for the positive-class loss. Pixel
targets are hard 0/1 labels (the trainer's object-AND-active masks), which some closed forms below rely on.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F


def sigmoid_focal_loss(
    logits: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0, weights: Tensor | None = None
) -> Tensor:
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


def dice_loss(logits: Tensor, targets: Tensor, valid: Tensor | None = None) -> Tensor:
    """Per-query soft Dice loss ``1 - (2|p t| + 1) / (|p| + |t| + 1)`` over all but the first dimension; unweighted.

    Source: Milletari et al. 2016 (V-Net) in the +1-smoothed form of DETR / ActionVOS ``dice_loss``
    (RF_ActionVOS/segmentation.py). The +1 keeps an all-zero target (an inactive object) well defined: its loss
    ``1 - 1 / (|p| + 1)`` pushes the predicted mass to zero. ``valid`` (bool, the shape of ``logits``) restricts
    the sums to those pixels: PMHM's hard loss only sees the confident ones.
    """
    probabilities = logits.sigmoid().flatten(1)
    targets = targets.flatten(1)
    if valid is not None:
        keep = valid.flatten(1).to(probabilities.dtype)
        probabilities, targets = probabilities * keep, targets * keep
    numerator = 2 * (probabilities * targets).sum(1) + 1
    denominator = probabilities.sum(1) + targets.sum(1) + 1
    return 1 - numerator / denominator


def positive_focal_loss(positive_logits: Tensor, positives: Tensor, alpha: float = 0.25, gamma: float = 2.0) -> Tensor:
    """Per-query focal loss of the positive-class head (target 1 if the object is active); no reduction.

    Source: ActionVOS ``SetCriterion.loss_positive_labels`` (RF_ActionVOS/criterion.py), which applies the
    RetinaNet sigmoid focal loss (alpha 0.25, gamma 2) to one "is this object active" logit per query.
    """
    return sigmoid_focal_loss(positive_logits, positives.to(positive_logits.dtype), alpha, gamma)


def positive_bce_loss(positive_logits: Tensor, positives: Tensor) -> Tensor:
    """Per-query binary cross entropy of the positive-class head; no reduction.

    The recalibrated baseline of issue 15: BCE's population minimiser is the label posterior itself, where the
    focal loss's (alpha 0.25, gamma 2) sits below it, so under prompt noise a BCE head's scores stay readable as
    probabilities and a fixed 0.75 threshold means what it says.
    """
    return F.binary_cross_entropy_with_logits(positive_logits, positives.to(positive_logits.dtype), reduction="none")


def pixel_mean(values: Tensor) -> Tensor:
    """Per-query mean over pixels ([K, ...] -> [K]): ActionVOS reduces every pixel loss this way, then over queries.

    Pixel weights enter by multiplying ``values`` first (as ActionVOS's weighted focal does), not by normalising
    with their sum, so a weight-5 pixel counts five times and every learner keeps the baseline's loss scale.
    """
    return values.flatten(1).mean(1)


def gce_loss(logits: Tensor, targets: Tensor, q: float) -> Tensor:
    """Per-pixel generalised cross entropy ``(1 - r^q) / q`` with ``r = y p + (1 - y)(1 - p)``; no reduction.

    Source: Zhang & Sabuncu 2018 (the L_q loss); paper 003 Sec. IV-A. For hard labels ``log r = -BCE``, so
    ``r^q = exp(-q BCE)`` is computed from the logits without ever raising a zero probability to a power; q -> 0
    gives BCE, q = 1 gives ``1 - r = |p - y|`` (MAE).
    """
    if not 0.0 < q <= 1.0:
        raise ValueError(f"GCE needs q in (0, 1], got {q}")
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return -torch.expm1(-q * bce) / q


def mae_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-pixel ``|p - y|``: APL's passive term (Ma et al. 2020); bounded, so a wrong label costs at most 1."""
    return (logits.sigmoid() - targets).abs()


def reverse_ce_loss(logits: Tensor, targets: Tensor, log_zero: float = -4.0) -> Tensor:
    """Per-pixel reverse cross entropy ``-[p log y + (1 - p) log(1 - y)]`` with ``log 0`` clamped to ``log_zero``.

    Source: Wang et al. 2019 (SCE) with A = -4; paper 003 Sec. IV-A. The label plays the "prediction" and the model
    output the "target", so a hard label's log 0 must be clamped; the result is ``-A |p - y|``, an MAE scaled by -A.
    """
    floor = math.exp(log_zero)
    probabilities = logits.sigmoid()
    log_label, log_other = targets.clamp(min=floor).log(), (1 - targets).clamp(min=floor).log()
    return -(probabilities * log_label + (1 - probabilities) * log_other)


def tversky_loss(
    probabilities: Tensor, targets: Tensor, region: Tensor, alpha: float, beta: float, epsilon: float = 1e-6
) -> Tensor:
    """Per-query Tversky loss ``1 - (TP + eps) / (TP + alpha FP + beta FN + eps)`` over the pixels of ``region``.

    Source: Salehi et al. 2017 (Tversky index); PMHM's released criterion applies it on the uncertain region U
    instead of dropping U's labels. ``alpha`` weighs false positives (foreground predicted on a background label),
    ``beta`` false negatives; sums run over every axis but the first, restricted to ``region`` (bool, the shape of
    ``probabilities``). An empty region gives 0.
    """
    inside = region.to(probabilities.dtype)
    p, y = (probabilities * inside).flatten(1), (targets * inside).flatten(1)
    true_positive = (p * y).sum(1)
    false_positive = (p * (inside.flatten(1) - y)).sum(1)
    false_negative = ((inside.flatten(1) - p) * y).sum(1)
    return 1 - (true_positive + epsilon) / (true_positive + alpha * false_positive + beta * false_negative + epsilon)


def symmetric_kl(logits_a: Tensor, logits_b: Tensor) -> Tensor:
    """Per-pixel ``KL(a || b) + KL(b || a)`` of two Bernoulli maps given as logits; no reduction.

    For Bernoulli distributions the sum collapses to ``(p_a - p_b)(logit_a - logit_b)``: exact, symmetric, zero
    only where the maps agree, and free of the log(0) a direct evaluation meets at saturated pixels (PMHM, paper
    003 Eq. 5-6).
    """
    return (logits_a.sigmoid() - logits_b.sigmoid()) * (logits_a - logits_b)
