"""PMHM learner: parallel main / auxiliary mask heads, consistent on uncertain pixels (paper 003 Sec. IV-B).

``L_seg = L_hard + lambda_head L_head + lambda_layer L_layer`` (Eq. 7), plus the baseline's positive-head loss:

- Eq. 4, uncertain pixels ``U = {|p_m - 0.5| < tau_m  or  ||grad p_m|| > tau_e}`` from the main head's detached
  probabilities at the input resolution, tau_m 0.20, tau_e 0.85: :func:`actiseg_core.uncertainty.uncertain_set`
  (Sobel gradient), the same set the GO / NO-GO gate measures on a mask's boundary.
- ``L_hard``: the ActionVOS mask loss (weighted focal with ``mask_coef`` + Dice with ``dice_coef``) on the
  confident pixels only (outside U), so the ambiguous band, where dilated labels are wrong, is not fitted hard.
  The auxiliary head gets the same hard loss (``aux_hard_coef`` 1): the paper trains both heads on the labels and
  aligns them where it is unsure; without it the aux head would only learn to copy the main head. 0 gives the
  literal reading of Eq. 7 (the aux head learns from L_head alone).
- Eq. 5 ``L_head``: symmetric KL between main and auxiliary head on U, summed over the batch's U pixels and divided
  by their number (lambda_head 0.1).
- Eq. 6 ``L_layer``: symmetric KL between the final map and each earlier decoder stage's side output (strides 32,
  16, 8, resized to the input), averaged over the L - 1 stages, on U (lambda_layer 0.1).
- Perturbations of the aux head (paper: "random dropout and decaying-rate freezing"): the model's channel dropout
  on the aux head's input (``ModelConfig.aux_dropout``, 0.3), and freezing: on a step chosen with probability
  ``freeze_rate * (1 - step / total_steps)`` (0.5 at the start, decaying linearly to 0) the aux head's output is
  detached, so it receives no gradient and AdamW leaves its weights unchanged that step, while the main head is
  still pulled toward it. The draw depends only on the step, so resumed runs and every DDP rank agree.

The aux head exists only in training mode and is dropped at export; with ``uses_aux_head`` the trainer builds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from actiseg_core.learners.base import Learner, QueryBatch, StepInfo
from actiseg_core.learners.losses import (
    dice_loss,
    pixel_mean,
    positive_focal_loss,
    sigmoid_focal_loss,
    symmetric_kl,
)
from actiseg_core.learners.pixel import ActionVOSCoefficients
from actiseg_core.model.segmenter import SegmenterOutput
from actiseg_core.uncertainty import uncertain_set

_FREEZE_STREAM = 0x504D484D  # "PMHM": keeps the freezing draws apart from any other use of the step number


@dataclass(frozen=True)
class PMHMConfig(ActionVOSCoefficients):
    """Paper 003 Sec. V-B: tau_m 0.20, tau_e 0.85, lambda_head = lambda_layer = 0.1; the rest as the docstring says."""

    tau_m: float = 0.20
    tau_e: float = 0.85
    head_coef: float = 0.1
    layer_coef: float = 0.1
    aux_hard_coef: float = 1.0
    freeze_rate: float = 0.5


def uncertain_pixels(main_logits: Tensor, tau_m: float, tau_e: float) -> Tensor:
    """Eq. 4 on the main head's detached [K, 1, H, W] logits: bool, near the decision boundary or on a steep edge."""
    return uncertain_set(main_logits.detach().sigmoid(), tau_m, tau_e)


def mean_over(values: Tensor, mask: Tensor) -> Tensor:
    """Sum of ``values`` over ``mask`` divided by its size (Eq. 5-6's ``1 / sum_t |U_t|``); 0 when U is empty."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def freeze_probability(step: StepInfo, freeze_rate: float) -> float:
    """The decaying freezing rate: ``freeze_rate`` at step 0, 0 at the last step."""
    return freeze_rate * (1.0 - step.step / max(1, step.total_steps))


def aux_frozen(step: StepInfo, freeze_rate: float) -> bool:
    """Whether the aux head is frozen on this step: a draw that depends on the step alone."""
    return bool(np.random.default_rng([_FREEZE_STREAM, step.step]).random() < freeze_probability(step, freeze_rate))


class PMHMLearner(Learner):
    terms = ("positive", "hard", "hard_aux", "head", "layer", "uncertain", "aux_frozen")
    config_type = PMHMConfig
    config: PMHMConfig
    uses_stage_logits = True
    uses_aux_head = True

    def hard_loss(self, logits: Tensor, batch: QueryBatch, confident: Tensor) -> Tensor:
        """ActionVOS's mask loss (focal + Dice, their coefficients) on the confident pixels; per query [K]."""
        cfg = self.config
        focal = pixel_mean(confident * sigmoid_focal_loss(logits, batch.targets, weights=batch.weights))
        return cfg.mask_coef * focal + cfg.dice_coef * dice_loss(logits, batch.targets, confident)

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        supervised, consistency, terms = self.query_terms(outputs, batch, step)
        return supervised.mean() + consistency, terms

    def query_terms(self, outputs: SegmenterOutput, batch: QueryBatch,
                    step: StepInfo) -> tuple[Tensor, Tensor, dict[str, float]]:
        """Eq. 7 split by what it depends on: the per-query supervised part [K] (positive head and both heads'
        hard loss: these read the labels), the label-free consistency part (Eq. 5 + 6, a scalar over the batch's
        U), and the terms for the log. Their mean + sum is L_seg; a learner that selects queries selects rows of
        the first."""
        if outputs.aux_logits is None or not outputs.stage_logits:
            raise ValueError("PMHM needs the aux head and the stage outputs (a training-mode model built with "
                             "aux_head=True, called with with_stages=True)")
        cfg, main = self.config, outputs.mask_logits
        uncertain = uncertain_pixels(main, cfg.tau_m, cfg.tau_e)
        frozen = aux_frozen(step, cfg.freeze_rate)
        aux = outputs.aux_logits.detach() if frozen else outputs.aux_logits
        positive = positive_focal_loss(outputs.positive_logits, batch.positives)
        hard, hard_aux = self.hard_loss(main, batch, ~uncertain), self.hard_loss(aux, batch, ~uncertain)
        head = mean_over(symmetric_kl(main, aux), uncertain)
        layer = mean_over(torch.stack([symmetric_kl(main, stage) for stage in outputs.stage_logits]).mean(0),
                          uncertain)
        supervised = cfg.positive_coef * positive + hard + cfg.aux_hard_coef * hard_aux
        consistency = cfg.head_coef * head + cfg.layer_coef * layer
        return supervised, consistency, {
            "positive": positive.mean().item(), "hard": hard.mean().item(), "hard_aux": hard_aux.mean().item(),
            "head": head.item(), "layer": layer.item(), "uncertain": uncertain.float().mean().item(),
            "aux_frozen": float(frozen)}
