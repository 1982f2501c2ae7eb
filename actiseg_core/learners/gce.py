"""GCE learner: ActionVOS's weighted focal plus generalised cross entropy on every pixel (Zhang & Sabuncu 2018).

Paper 003 Sec. IV-A (unnumbered equation): ``l = (1 - r^q) / q`` with the correctness score
``r = y p + (1 - y)(1 - p)``, q = 0.7 (Sec. V-B; the released runs pass ``--gce_q 0.7``). Between CE (q -> 0: fits
every label, noisy ones too) and MAE (q = 1: bounded, so a wrong label cannot dominate, but slow to fit): the pull
of a pixel on its logit is ``r^q (1 - r)``, which vanishes as the prediction confidently contradicts the label.

As released (``ActiSeg_NL_benchmark``: ``--use_weights --use_gce``, ``gce_masks``): the GCE term is *unweighted*
and is added, with the same coefficient, to ActionVOS's weighted focal (``focal_coef``), not substituted for it.
Positive head and Dice as the baseline (:mod:`actiseg_core.learners.pixel`).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.losses import gce_loss, pixel_mean
from actiseg_core.learners.pixel import PixelLossLearner, RobustTermCoefficients, actionvos_focal
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class GCEConfig(RobustTermCoefficients):
    """q in (0, 1]: 0.7 as paper 003, Zhang & Sabuncu and the released runs use."""

    q: float = 0.7


class GCELearner(PixelLossLearner):
    terms = ("positive", "focal", "gce", "dice")
    config_type = GCEConfig
    config: GCEConfig
    revision = 1  # 1: the released structure (weighted focal + unweighted GCE); 0 replaced the focal by weighted GCE

    def pixel_loss(
        self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo
    ) -> tuple[Tensor, dict[str, Tensor]]:
        focal = actionvos_focal(outputs.mask_logits, batch)
        gce = pixel_mean(gce_loss(outputs.mask_logits, batch.targets, self.config.q))
        return self.config.focal_coef * focal + gce, {"focal": focal, "gce": gce}
