"""The frame every single-network learner shares: ActionVOS's loss with its per-pixel term swapped out.

``total_k = positive_coef * FL(positive_k) + mask_coef * pixel_k + dice_coef * Dice_k`` per query k, then the mean
over queries (the baseline's reductions, so loss scales stay comparable across learners).

- The positive-class head is trained exactly as the baseline trains it (RetinaNet focal, alpha 0.25, gamma 2):
  paper 003 adapts the learners to the per-pixel masks, and "is this object active" is a query-level decision the
  mask losses do not reach, so every learner must keep training it or evaluation (which drops an object whose
  positive score is < 0.75) would fall apart.
- ``pixel_k`` is the learner's own per-pixel objective (GCE, SCE, APL, ELR's focal + regulariser, NPN's
  PLL + NL + CR) averaged over the query's pixels. ActionVOS's action-guided pixel weights multiply every pixel
  term that compares the prediction with a label (given or proxy), as ActionVOS's weighted focal does; label-free
  consistency terms are left unweighted, because the weights encode which pixels' *labels* matter.
- Dice is kept with ActionVOS's coefficient: paper 003 (Sec. V-B) keeps "the optimizer and loss coefficients" of
  ActionVOS and replaces only the pixel loss; ``dice_coef=0`` gives a pure per-pixel learner.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

from torch import Tensor

from actiseg_core.learners.base import Learner, QueryBatch, StepInfo
from actiseg_core.learners.losses import dice_loss, positive_focal_loss
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class ActionVOSCoefficients:
    """ActionVOS's loss coefficients (RF_ActionVOS): positive head 2, mask term 2, Dice 5."""

    positive_coef: float = 2.0
    mask_coef: float = 2.0
    dice_coef: float = 5.0


class PixelLossLearner(Learner):
    """One network; the subclass supplies :meth:`pixel_loss`, everything else is the baseline's.

    ``terms`` must be ``("positive", *pixel term names, "dice")``; ``config_type`` has the fields of
    :class:`ActionVOSCoefficients` (the baseline's own config adds its focal alpha / gamma before them).
    """

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        total, terms = self.query_loss(outputs, batch, step)
        return total.mean(), {name: value.mean().item() for name, value in terms.items()}

    def query_loss(self, outputs: SegmenterOutput, batch: QueryBatch,
                   step: StepInfo) -> tuple[Tensor, dict[str, Tensor]]:
        """Per-query total [K] and its unweighted terms ([K] each), for learners that rank or select queries."""
        cfg = self.config
        positive = self.positive_loss(outputs, batch)
        pixel, pixel_terms = self.pixel_loss(outputs, batch, step)
        dice = dice_loss(outputs.mask_logits, batch.targets)
        total = cfg.positive_coef * positive + cfg.mask_coef * pixel + cfg.dice_coef * dice
        return total, {"positive": positive, **pixel_terms, "dice": dice}

    def positive_loss(self, outputs: SegmenterOutput, batch: QueryBatch) -> Tensor:
        """Per-query positive-class focal loss with ActionVOS's alpha 0.25, gamma 2."""
        return positive_focal_loss(outputs.positive_logits, batch.positives)

    @abstractmethod
    def pixel_loss(self, outputs: SegmenterOutput, batch: QueryBatch,
                   step: StepInfo) -> tuple[Tensor, dict[str, Tensor]]:
        """Per-query pixel objective [K] (already combined with the learner's own weights) and its named parts."""
