"""GCE learner: generalised cross entropy on every pixel (Zhang & Sabuncu 2018; DESIGN §6).

Paper 003 Sec. IV-A (unnumbered equation): ``l = (1 - r^q) / q`` with the correctness score
``r = y p + (1 - y)(1 - p)``, q = 0.7 (paper 003 Sec. V-B). Between CE (q -> 0: fits every label, noisy ones too)
and MAE (q = 1: bounded, so a wrong label cannot dominate, but slow to fit). The pixel term is ``mean_px(w * l)``
with ActionVOS's pixel weights w; positive head and Dice as the baseline (:mod:`actiseg_core.learners.pixel`).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.losses import gce_loss, pixel_mean
from actiseg_core.learners.pixel import ActionVOSCoefficients, PixelLossLearner
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class GCEConfig(ActionVOSCoefficients):
    """q in (0, 1]: 0.7 as paper 003 (and Zhang & Sabuncu) use."""

    q: float = 0.7


class GCELearner(PixelLossLearner):
    terms = ("positive", "gce", "dice")
    config_type = GCEConfig
    config: GCEConfig

    def pixel_loss(self, outputs: SegmenterOutput, batch: QueryBatch,
                   step: StepInfo) -> tuple[Tensor, dict[str, Tensor]]:
        gce = pixel_mean(batch.weights * gce_loss(outputs.mask_logits, batch.targets, self.config.q))
        return gce, {"gce": gce}
