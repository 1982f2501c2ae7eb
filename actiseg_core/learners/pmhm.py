"""PMHM learner: parallel main / auxiliary mask heads, consistent on uncertain pixels (paper 003 Sec. IV-B).

``L_seg = L_hard + lambda_head L_head + lambda_layer L_layer`` (Eq. 7), plus a Tversky term on the uncertain region
and the baseline's positive-head loss, as the released criterion runs it
(``ActiSeg_NL_pmhm/ReferFormer/models/criterion.py``, ``masks_robust``; settings from its ``opts.py`` / README):

- Regions per query, from the main head's detached probabilities p at the input resolution. The thresholds of Eq. 4
  are per-sample **quantiles**: tau_m is the 0.20-quantile of the margin ``|p - 0.5|``, tau_e the 0.85-quantile of
  the Sobel magnitude ``||grad p||``, so U (Eq. 4, :func:`actiseg_core.uncertainty.uncertain_set`, the set the gate
  also measures) holds about the 20% least decided pixels and the 15% steepest ones, whatever the map's scale. The
  confident region S is the pixels whose margin reaches the 0.60-quantile (tau_h: the 40% most decided) *and* on
  whose class at least ``k_agree`` (2) of the heads vote (main and aux, ``p > 0.5``): both heads agree.
- ``L_hard`` on S only: ActionVOS's sigmoid focal (alpha 0.25, gamma 2) with S as its pixel weight (no action-guided
  weights in the released criterion), mean over all pixels, coefficient 2; and Dice on the logits and labels
  multiplied by S, coefficient 5. As released, that Dice sees every pixel outside S as ``p = 0.5, y = 0`` (the
  sigmoid of a zeroed logit): a constant in its denominator that softens it, without gradient there.
- Tversky on U, ``1 - TP / (TP + a FP + b FN)`` with b 0.5 and a annealed linearly from 0.7 to 0.5 over the epochs
  (coefficient 0.3): U's labels are not dropped but fitted leniently, false negatives (a dilated label the model
  calls background) costing less than false positives. The released snapshot sets the schedule but has no setter
  for its epoch counter, so it would run at 0.7 throughout; we anneal as configured.
- Eq. 5 ``L_head``: symmetric KL between main and auxiliary head, averaged over each query's U (lambda_head 0.1).
- Eq. 6 ``L_layer``: symmetric KL between the final map and each earlier decoder stage's side output (strides 32,
  16, 8, resized to the input), averaged over the stages and over each query's U (lambda_layer 0.1).
- The aux head gets no hard loss (the released heads learn from the main head's consistency only);
  ``aux_hard_coef`` > 0 is our extension that trains it on S's labels too.
- Perturbations of the aux head: the model's channel dropout on its input (``ModelConfig.aux_dropout``), and
  freezing with probability 0.2 per step (the released run uses ``--aux_freeze_mode step``): on a frozen step the
  aux head's output is detached, so its weights get no gradient, while the main head is still pulled toward it.
  The draw depends only on the step, so resumed runs and every DDP rank agree.

The aux head exists only in training mode and is dropped at export; with ``uses_aux_head`` the trainer builds it.
"""

from __future__ import annotations

import math
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
    tversky_loss,
)
from actiseg_core.learners.pixel import ActionVOSCoefficients
from actiseg_core.model.segmenter import SegmenterOutput
from actiseg_core.uncertainty import gradient_magnitude, uncertain_set

_FREEZE_STREAM = 0x504D484D  # "PMHM": keeps the freezing draws apart from any other use of the step number


@dataclass(frozen=True)
class PMHMConfig(ActionVOSCoefficients):
    """The released PMHM settings: quantiles tau_m 0.20, tau_e 0.85, tau_h 0.60 and ``k_agree`` 2; Tversky
    coefficient 0.3 with alpha 0.7 -> 0.5 and beta 0.5; lambda_head = lambda_layer = 0.1; aux freezing 0.2 a step;
    ``aux_hard_coef`` 0 (ours when > 0)."""

    tau_m: float = 0.20
    tau_e: float = 0.85
    tau_h: float = 0.60
    k_agree: int = 2
    tversky_coef: float = 0.3
    tversky_alpha_start: float = 0.7
    tversky_alpha_end: float = 0.5
    tversky_beta: float = 0.5
    head_coef: float = 0.1
    layer_coef: float = 0.1
    freeze_rate: float = 0.2
    aux_hard_coef: float = 0.0


@dataclass(frozen=True)
class Regions:
    """PMHM's pixel regions of a batch, bool [K, 1, H, W]: ``uncertain`` (U, Eq. 4) and ``confident`` (S)."""

    uncertain: Tensor
    confident: Tensor


def uncertain_pixels(main_logits: Tensor, tau_m: float | Tensor, tau_e: float | Tensor) -> Tensor:
    """Eq. 4 on the main head's detached [K, 1, H, W] logits: bool, near the decision boundary or on a steep edge.
    The thresholds are absolute values, scalars or per-query [K, 1, 1, 1] (PMHM passes its quantiles)."""
    return uncertain_set(main_logits.detach().sigmoid(), tau_m, tau_e)


def quantile_thresholds(main_logits: Tensor, config: PMHMConfig) -> tuple[Tensor, Tensor, Tensor]:
    """Per-query absolute thresholds [K, 1, 1, 1] (tau_m, tau_e, tau_h): the configured quantiles of the margin
    ``|p - 0.5|`` (tau_m, tau_h) and of the Sobel magnitude (tau_e) over each query's pixels."""
    p = main_logits.detach().sigmoid()
    shape = (-1,) + (1,) * (p.dim() - 1)
    margin = (p - 0.5).abs().flatten(1)
    tau_m, tau_h = torch.quantile(margin, margin.new_tensor([config.tau_m, config.tau_h]), dim=1)
    tau_e = torch.quantile(gradient_magnitude(p).flatten(1), config.tau_e, dim=1)
    return tau_m.view(shape), tau_e.view(shape), tau_h.view(shape)


def pmhm_regions(main_logits: Tensor, aux_logits: Tensor, config: PMHMConfig) -> Regions:
    """U from the quantile thresholds, and S: margin at or above tau_h where at least ``k_agree`` of the two heads
    vote for the same class."""
    tau_m, tau_e, tau_h = quantile_thresholds(main_logits, config)
    heads = 2
    agree = min(config.k_agree, heads)
    foreground_votes = (main_logits.detach() > 0).long() + (aux_logits.detach() > 0).long()
    agreed = (foreground_votes >= agree) | (heads - foreground_votes >= agree)
    decided = (main_logits.detach().sigmoid() - 0.5).abs() >= tau_h
    return Regions(uncertain=uncertain_pixels(main_logits, tau_m, tau_e), confident=decided & agreed)


def mean_over(values: Tensor, mask: Tensor) -> Tensor:
    """Per-query sum of ``values`` over ``mask`` divided by its size (Eq. 5-6's ``1 / sum_t |U_t|``), [K]; 0 for a
    query whose mask is empty."""
    return (values * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1)


def tversky_alpha(step: StepInfo, start: float, end: float) -> float:
    """The false-positive weight of the epoch: linear from ``start`` (first epoch) to ``end`` (last epoch)."""
    epochs = math.ceil(step.total_steps / max(1, step.steps_per_epoch))
    return start if epochs <= 1 else start + (end - start) * min(step.epoch / (epochs - 1), 1.0)


def aux_frozen(step: StepInfo, freeze_rate: float) -> bool:
    """Whether the aux head is frozen on this step: a draw with probability ``freeze_rate`` that depends on the step
    alone."""
    return bool(np.random.default_rng([_FREEZE_STREAM, step.step]).random() < freeze_rate)


class PMHMLearner(Learner):
    terms = ("positive", "hard", "hard_aux", "tversky", "head", "layer", "uncertain", "confident", "aux_frozen")
    config_type = PMHMConfig
    config: PMHMConfig
    uses_stage_logits = True
    uses_aux_head = True
    revision = 1  # 1: released quantile regions, k-agree S, Tversky on U, step freezing; 0: absolute thresholds

    def hard_loss(self, logits: Tensor, batch: QueryBatch, confident: Tensor) -> Tensor:
        """ActionVOS's mask loss restricted to S as released (focal weighted by S, Dice of S-masked logits and
        labels), with their coefficients; per query [K]."""
        cfg, inside = self.config, confident.to(logits.dtype)
        focal = pixel_mean(sigmoid_focal_loss(logits, batch.targets, weights=inside))
        return cfg.mask_coef * focal + cfg.dice_coef * dice_loss(logits * inside, batch.targets * inside)

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        supervised, consistency, terms = self.query_terms(outputs, batch, step)
        return supervised.mean() + consistency, terms

    def query_terms(
        self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo
    ) -> tuple[Tensor, Tensor, dict[str, float]]:
        """The loss split by what it depends on: the per-query supervised part [K] (positive head, hard loss on S,
        Tversky on U: these read the labels), the label-free consistency part (Eq. 5 + 6, a scalar: the mean over
        queries of their U averages), and the terms for the log. Their mean + sum is the loss; a learner that
        selects queries selects rows of the first."""
        if outputs.aux_logits is None or not outputs.stage_logits:
            raise ValueError(
                "PMHM needs the aux head and the stage outputs (a training-mode model built with "
                "aux_head=True, called with with_stages=True)"
            )
        cfg, main = self.config, outputs.mask_logits
        frozen = aux_frozen(step, cfg.freeze_rate)
        aux = outputs.aux_logits.detach() if frozen else outputs.aux_logits
        regions = pmhm_regions(main, aux, cfg)
        positive = positive_focal_loss(outputs.positive_logits, batch.positives)
        hard = self.hard_loss(main, batch, regions.confident)
        hard_aux = self.hard_loss(aux, batch, regions.confident) if cfg.aux_hard_coef else torch.zeros_like(hard)
        alpha = tversky_alpha(step, cfg.tversky_alpha_start, cfg.tversky_alpha_end)
        tversky = tversky_loss(main.sigmoid(), batch.targets, regions.uncertain, alpha, cfg.tversky_beta)
        head = mean_over(symmetric_kl(main, aux), regions.uncertain)
        stages = torch.stack([symmetric_kl(main, stage) for stage in outputs.stage_logits]).mean(0)
        layer = mean_over(stages, regions.uncertain)
        supervised = cfg.positive_coef * positive + hard + cfg.aux_hard_coef * hard_aux + cfg.tversky_coef * tversky
        consistency = cfg.head_coef * head.mean() + cfg.layer_coef * layer.mean()
        return (
            supervised,
            consistency,
            {
                "positive": positive.mean().item(),
                "hard": hard.mean().item(),
                "hard_aux": hard_aux.mean().item(),
                "tversky": tversky.mean().item(),
                "head": head.mean().item(),
                "layer": layer.mean().item(),
                "uncertain": regions.uncertain.float().mean().item(),
                "confident": regions.confident.float().mean().item(),
                "aux_frozen": float(frozen),
            },
        )
