"""Baseline learner: the ActionVOS loss (DESIGN §6, paper 003 Sec. IV "baseline").

``L = c_pos * mean_k FL(positive_k) + c_mask * mean_k mean_px(w * FL(mask)) + c_dice * mean_k Dice(mask)``

- positive-class sigmoid focal loss on each query's "is this object active" logit (target 1 if active);
- per-pixel sigmoid focal loss (alpha 0.25, gamma 2) weighted by ActionVOS's action-guided weights (its
  ``--use_weights``; ``action_weights``), on the target "object mask AND active" (inactive objects have an all-zero
  target);
- unweighted Dice on the same target.

Reductions and coefficients follow ActionVOS / ReferFormer (RF_ActionVOS/criterion.py and referformer.py):
focal terms are the mean over pixels, then over queries (``loss.mean(1).sum() / num_boxes``); Dice is the mean over
queries; ``cls_loss_coef`` 2 (used for the positive head), ``mask_loss_coef`` 2, ``dice_loss_coef`` 5.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.losses import pixel_mean, positive_bce_loss, positive_focal_loss, sigmoid_focal_loss
from actiseg_core.learners.pixel import PixelLossLearner
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class BaselineConfig:
    """Hyper-parameters of the ActionVOS loss; defaults are ActionVOS's (alpha, gamma serve both focal terms;
    ``action_weights`` multiplies the mask focal by the action-guided pixel weights)."""

    alpha: float = 0.25
    gamma: float = 2.0
    positive_coef: float = 2.0
    mask_coef: float = 2.0
    dice_coef: float = 5.0
    action_weights: bool = True


class BaselineLearner(PixelLossLearner):
    """The ActionVOS loss on the main head; stage and auxiliary outputs are not used."""

    terms = ("positive", "mask_focal", "dice")
    config_type = BaselineConfig
    config: BaselineConfig

    def positive_loss(self, outputs: SegmenterOutput, batch: QueryBatch) -> Tensor:
        return positive_focal_loss(outputs.positive_logits, batch.positives, self.config.alpha, self.config.gamma)

    def pixel_loss(
        self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo
    ) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.config
        weights = batch.weights if cfg.action_weights else None
        mask_focal = pixel_mean(sigmoid_focal_loss(outputs.mask_logits, batch.targets, cfg.alpha, cfg.gamma, weights))
        return mask_focal, {"mask_focal": mask_focal}


class BCEHeadLearner(BaselineLearner):
    """The ActionVOS loss with a binary cross entropy positive head instead of its focal one (issue 15's
    recalibrated baseline; the mask terms are the baseline's). ``alpha`` / ``gamma`` serve the mask focal only."""

    def positive_loss(self, outputs: SegmenterOutput, batch: QueryBatch) -> Tensor:
        return positive_bce_loss(outputs.positive_logits, batch.positives)
