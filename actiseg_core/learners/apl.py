"""APL learner: ActionVOS's weighted focal plus an active + passive loss per pixel (Ma et al. 2020).

Paper 003 Sec. IV-A (unnumbered equation): ``l = alpha (1 - r^q) / q + beta |p - y|``, "a weighted sum" whose
weights the paper does not give. The active term (GCE, q = 0.7) pushes up the probability of the labelled class,
the passive term (MAE) pushes down the other one; both are bounded, so a confidently wrong label pulls little.

As released (``ActiSeg_NL_benchmark/ReferFormer/models/segmentation.py``, ``active_passive_loss`` with
``active='gce', passive='mae'``): alpha 10, beta 1, q 0.7, the logits clamped to [-10, 10] first (so a pixel past
that saturation gets no gradient), both terms multiplied by ActionVOS's pixel weights, and the sum added, with the
same coefficient, to ActionVOS's weighted focal (``--use_weights --use_active_passive``; ``focal_coef``). Positive
head and Dice as the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.losses import gce_loss, mae_loss, pixel_mean
from actiseg_core.learners.pixel import PixelLossLearner, RobustTermCoefficients, actionvos_focal
from actiseg_core.model.segmenter import SegmenterOutput

LOGIT_CLAMP = 10.0  # the released active_passive_loss clamps logits to [-10, 10] before the sigmoid


@dataclass(frozen=True)
class APLConfig(RobustTermCoefficients):
    """GCE exponent q of the active term and the weights of the two terms (released: 0.7, 10, 1)."""

    q: float = 0.7
    active_coef: float = 10.0
    passive_coef: float = 1.0


class APLLearner(PixelLossLearner):
    terms = ("positive", "focal", "active", "passive", "dice")
    config_type = APLConfig
    config: APLConfig
    revision = 1  # 1: released weights 10 / 1 beside the weighted focal; 0: 1 / 1 replacing it

    def pixel_loss(
        self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo
    ) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.config
        focal = actionvos_focal(outputs.mask_logits, batch)
        clamped = outputs.mask_logits.clamp(-LOGIT_CLAMP, LOGIT_CLAMP)
        active = pixel_mean(batch.weights * gce_loss(clamped, batch.targets, cfg.q))
        passive = pixel_mean(batch.weights * mae_loss(clamped, batch.targets))
        pixel = cfg.focal_coef * focal + cfg.active_coef * active + cfg.passive_coef * passive
        return pixel, {"focal": focal, "active": active, "passive": passive}
