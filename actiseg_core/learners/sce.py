"""SCE learner: ActionVOS's weighted focal plus symmetric cross entropy ``alpha CE + beta RCE`` (Wang et al. 2019).

Paper 003 Sec. IV-A, unnumbered equation ``L_sym = alpha L_CE + beta L_RCE``; the paper gives no alpha / beta.

CE fits the labels; the reverse term RCE (the label scoring the prediction, with ``log 0`` clamped to A) equals
``-A |p - y|`` on hard labels: bounded and noise-tolerant. The values are the released ones
(``ActiSeg_NL_benchmark/ReferFormer/models/segmentation.py``, ``sce_loss``): alpha 0.1, beta 1.0, and the label
clamped to [1e-4, 1], i.e. A = log(1e-4) = -9.21. With CE weighted 0.1 the term's pull on a confidently wrong pixel
is about a tenth of plain CE's, while RCE's ``9.2 p (1 - p)`` pulls hardest on undecided pixels.

As released (``--use_weights --use_sce``, ``sce_masks``): the SCE term is *unweighted* and is added, with the same
coefficient, to ActionVOS's weighted focal (``focal_coef``), which is what lets masks form. (Our earlier version had
SCE replace the focal; with these weights it then learnt no masks at all, and we had picked Wang et al.'s CIFAR-100
weights (6.0, 0.1) on the reported val split: ``benchmarks/results/actiseg_nl_sce_weights.md``.)
Positive head and Dice as the baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor
from torch.nn import functional as F

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.losses import pixel_mean, reverse_ce_loss
from actiseg_core.learners.pixel import PixelLossLearner, RobustTermCoefficients, actionvos_focal
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class SCEConfig(RobustTermCoefficients):
    """CE weight alpha, RCE weight beta, and the clamp A of log 0 in the reverse term (released: 0.1, 1.0, log 1e-4)."""

    alpha: float = 0.1
    beta: float = 1.0
    log_zero: float = math.log(1e-4)


class SCELearner(PixelLossLearner):
    terms = ("positive", "focal", "ce", "rce", "dice")
    config_type = SCEConfig
    config: SCEConfig
    revision = 2  # 2: released weights and structure; 1: CIFAR-100 weights replacing the focal; 0: CIFAR-10 weights

    def pixel_loss(
        self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo
    ) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.config
        focal = actionvos_focal(outputs.mask_logits, batch)
        ce = pixel_mean(F.binary_cross_entropy_with_logits(outputs.mask_logits, batch.targets, reduction="none"))
        rce = pixel_mean(reverse_ce_loss(outputs.mask_logits, batch.targets, cfg.log_zero))
        return cfg.focal_coef * focal + cfg.alpha * ce + cfg.beta * rce, {"focal": focal, "ce": ce, "rce": rce}
