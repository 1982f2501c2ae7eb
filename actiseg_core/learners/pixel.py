"""The frame every single-network learner shares: ActionVOS's loss with its per-pixel term swapped out.

``total_k = positive_coef * FL(positive_k) + mask_coef * pixel_k + dice_coef * Dice_k`` per query k, then the mean
over queries (the baseline's reductions, so loss scales stay comparable across learners).

- The positive-class head is trained exactly as the baseline trains it (RetinaNet focal, alpha 0.25, gamma 2), as in
  the authors' released code (``mylwx/ActiSeg-NL``, every criterion inherits ``loss_positive_labels``): "is this
  object active" is a query-level decision the mask losses do not reach, so every learner must keep training it or
  evaluation (which drops an object whose positive score is < 0.75) would fall apart.
- ``pixel_k`` is the learner's own per-pixel objective averaged over the query's pixels. What it contains follows
  the released runs (``ActiSeg_NL_benchmark/ReferFormer/README.md`` and ``models/referformer.py``): GCE, SCE and
  APL were run with ``--use_weights`` *and* their robust loss, so ActionVOS's weighted focal stays and the robust
  term is added to it with the same coefficient (``loss_gce`` / ``loss_sce`` / ``loss_active_passive`` weight 2,
  like ``loss_mask``); :class:`RobustTermCoefficients` carries that focal's weight. Co-teaching, ELR and NPN were
  run without ``--use_weights``: their label terms are unweighted unless ``action_weights`` is set.
- Dice is kept with ActionVOS's coefficient (every released criterion returns ``loss_dice`` with weight 5);
  ``dice_coef=0`` gives a pure per-pixel learner.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

from torch import Tensor

from actiseg_core.learners.base import Learner, QueryBatch, StepInfo
from actiseg_core.learners.losses import dice_loss, pixel_mean, positive_focal_loss, sigmoid_focal_loss
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class ActionVOSCoefficients:
    """ActionVOS's loss coefficients (RF_ActionVOS): positive head 2, mask term 2, Dice 5."""

    positive_coef: float = 2.0
    mask_coef: float = 2.0
    dice_coef: float = 5.0


@dataclass(frozen=True)
class RobustTermCoefficients(ActionVOSCoefficients):
    """ActionVOS's coefficients plus ``focal_coef``, the weight of ActionVOS's weighted focal kept beside a robust
    pixel loss (1: the released GCE / SCE / APL runs; 0: the robust loss alone, as paper 003's text reads)."""

    focal_coef: float = 1.0


def actionvos_focal(logits: Tensor, batch: QueryBatch, weighted: bool = True) -> Tensor:
    """Per-query mean of ActionVOS's sigmoid focal (alpha 0.25, gamma 2) against the batch's labels, multiplied by
    the action-guided pixel weights when ``weighted`` (ActionVOS's ``--use_weights``)."""
    return pixel_mean(sigmoid_focal_loss(logits, batch.targets, weights=batch.weights if weighted else None))


class PixelLossLearner(Learner):
    """One network; the subclass supplies :meth:`pixel_loss`, everything else is the baseline's.

    ``terms`` must be ``("positive", *pixel term names, "dice")``; ``config_type`` has the fields of
    :class:`ActionVOSCoefficients` (the baseline's own config adds its focal alpha / gamma before them).
    """

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        total, terms = self.query_loss(outputs, batch, step)
        return total.mean(), {name: value.mean().item() for name, value in terms.items()}

    def query_loss(
        self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo
    ) -> tuple[Tensor, dict[str, Tensor]]:
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
    def pixel_loss(
        self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Per-query pixel objective [K] (already combined with the learner's own weights) and its named parts."""
