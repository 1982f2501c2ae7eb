"""SCE learner: symmetric cross entropy ``alpha CE + beta RCE`` per pixel (Wang et al. 2019; DESIGN §6).

Paper 003 Sec. IV-A, unnumbered equation ``L_sym = alpha L_CE + beta L_RCE``.

CE fits the labels; the reverse term RCE (the label scoring the prediction, with ``log 0`` clamped to A = -4, which
makes it ``4 |p - y|``) is bounded and noise-tolerant, and keeps the hard classes learning when CE alone would
overfit wrong labels. Paper 003 gives no alpha / beta. The defaults are Wang et al.'s CIFAR-100 values (6.0, 0.1),
their setting for the harder task: with their CIFAR-10 values (0.1, 1.0), or with (1, 1), the pixel loss is mostly
the reverse term (4 |p - y|, whose gradient vanishes on confidently wrong pixels) and the mini protocol learnt no
masks at all, even on clean labels (gIoU 48.9, "predict nothing"); with (6.0, 0.1) it scores 70.0 there
(baseline 71.1; ``benchmarks/results/actiseg_nl_sce_weights.md``).
Both terms are weighted by ActionVOS's pixel weights; positive head and Dice as the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor
from torch.nn import functional as F

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.losses import pixel_mean, reverse_ce_loss
from actiseg_core.learners.pixel import ActionVOSCoefficients, PixelLossLearner
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class SCEConfig(ActionVOSCoefficients):
    """CE weight alpha, RCE weight beta, and the clamp A of log 0 in the reverse term."""

    alpha: float = 6.0
    beta: float = 0.1
    log_zero: float = -4.0


class SCELearner(PixelLossLearner):
    terms = ("positive", "ce", "rce", "dice")
    config_type = SCEConfig
    config: SCEConfig
    revision = 1  # 1: Wang et al.'s CIFAR-100 weights (0 had their CIFAR-10 weights and learnt no masks)

    def pixel_loss(self, outputs: SegmenterOutput, batch: QueryBatch,
                   step: StepInfo) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.config
        ce = pixel_mean(F.binary_cross_entropy_with_logits(outputs.mask_logits, batch.targets, batch.weights,
                                                           reduction="none"))
        rce = pixel_mean(batch.weights * reverse_ce_loss(outputs.mask_logits, batch.targets, cfg.log_zero))
        return cfg.alpha * ce + cfg.beta * rce, {"ce": ce, "rce": rce}
