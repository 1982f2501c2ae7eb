"""APL learner: active + passive loss per pixel (Ma et al. 2020; DESIGN §6).

Paper 003 Sec. IV-A (unnumbered equation): ``l = alpha (1 - r^q) / q + beta |p - y|``. The active term (GCE,
q = 0.7) pushes up the probability of the labelled class, the passive term (MAE) pushes down the other one; both
are bounded, so the pair is robust while the active term keeps it from underfitting as MAE alone does. Paper 003
gives a "weighted sum" without weights: 1 and 1 (Ma et al.'s usual choice). Both terms use ActionVOS's pixel
weights; positive head and Dice as the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.losses import gce_loss, mae_loss, pixel_mean
from actiseg_core.learners.pixel import ActionVOSCoefficients, PixelLossLearner
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class APLConfig(ActionVOSCoefficients):
    """GCE exponent q of the active term and the weights of the two terms."""

    q: float = 0.7
    active_coef: float = 1.0
    passive_coef: float = 1.0


class APLLearner(PixelLossLearner):
    terms = ("positive", "active", "passive", "dice")
    config_type = APLConfig
    config: APLConfig

    def pixel_loss(self, outputs: SegmenterOutput, batch: QueryBatch,
                   step: StepInfo) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.config
        active = pixel_mean(batch.weights * gce_loss(outputs.mask_logits, batch.targets, cfg.q))
        passive = pixel_mean(batch.weights * mae_loss(outputs.mask_logits, batch.targets))
        return cfg.active_coef * active + cfg.passive_coef * passive, {"active": active, "passive": passive}
