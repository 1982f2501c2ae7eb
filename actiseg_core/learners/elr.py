"""ELR learner: focal loss + early-learning regularisation toward each pixel's prediction history.

Paper 003 Sec. IV-A, Eq. 1 (focal) and the ELR term below it (Liu et al. 2020): ``focal + lambda R`` per pixel with
``R = log(1 - d + eps)``, ``d = p s + (1 - p)(1 - s)`` the agreement of the prediction p with its history s.

- The focal term is the released one (``ActiSeg_NL_benchmark/ReferFormer/models/criterion_elr_orgsize_mask.py``,
  ``loss_masks``): RetinaNet's alpha 0.25 (the paper's Sec. V-B says 0.5), gamma 2, and unweighted, since the
  released ELR runs do not pass ``--use_weights`` (``action_weights`` turns ActionVOS's weights on).
- The history s is the average of the query's *previous* visits' predictions, exponentially weighted with momentum
  beta = 0.9 on the older ones: ``s_n = (beta (1 - beta^(n-1)) s_(n-1) + (1 - beta) p_n) / (1 - beta^n)``, the
  zero-started EMA ``s <- beta s + (1 - beta) p`` of Liu et al. and of the released update line, divided by its
  weight ``1 - beta^n``. So a query's second visit already sees a full-strength history (its first prediction),
  and later visits see an average over the last ~10 visits: the history accumulates instead of being about one
  visit deep. On a first visit there is no history and R is 0; the term never reads the current prediction's own
  value as its target (which would only push p toward whichever side it already is).
- R's sign and update convention are Liu et al.'s and the released code's (``log(1 - <p, t>)``,
  ``t <- beta t + (1 - beta) p``); the paper prints ``-log`` and ``s <- (1 - beta) s + beta p``, which with beta 0.9
  would push predictions away from a history that is nearly the current prediction. lambda = 1, eps = 1e-6 (Sec.
  V-B); p is clamped to [1e-4, 1 - 1e-4] as in both codes. R is label-free and unweighted.

Where the released code is not followed: its regulariser scores the prediction against the *label*
(``seg_target_binary`` is built from the target masks; the EMA it maintains, with momentum 0.01 and lambda 5e-4, is
saved but never read), which is an extra label-fitting term rather than ELR. Its beta / lambda belong to that term,
so ELR's own constants come from the paper. ``benchmarks/results/actiseg_nl_fidelity.md`` lists every difference.

The history is kept across epochs in a :class:`~actiseg_core.learners.history.QueryPixelStore` indexed by
``QueryBatch.query_ids`` (uint8, see its memory note). Spatial augmentation must stay off (the trainer refuses
``--hflip``) so a query's pixels line up across epochs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.history import PixelHistoryLearner
from actiseg_core.learners.losses import pixel_mean
from actiseg_core.learners.pixel import ActionVOSCoefficients, actionvos_focal
from actiseg_core.model.segmenter import SegmenterOutput

QUANT = 255.0  # the history's uint8 scale: s = stored / 255, an error of at most 0.002 per update
CLAMP = 1e-4  # both codes clamp predictions to [1e-4, 1 - 1e-4] before the term


@dataclass(frozen=True)
class ELRConfig(ActionVOSCoefficients):
    """History momentum beta 0.9, lambda (``reg_coef``) 1, eps 1e-6 (paper 003 Sec. V-B); the focal is the released
    ActionVOS one (alpha 0.25, gamma 2), unweighted unless ``action_weights``."""

    beta: float = 0.9
    reg_coef: float = 1.0
    epsilon: float = 1e-6
    action_weights: bool = False


def history_weight(visits: Tensor, beta: float) -> Tensor:
    """Weight of the old average when the (n + 1)-th prediction is folded in after n visits:
    ``beta (1 - beta^n) / (1 - beta^(n + 1))``; 0 for a first visit, tending to beta."""
    n = visits.double()
    return (beta * (1 - beta**n) / (1 - beta ** (n + 1))).float()


def elr_regulariser(probabilities: Tensor, history: Tensor, epsilon: float) -> Tensor:
    """Per-pixel ``log(1 - d + eps)``, ``d = p s + (1 - p)(1 - s)``: decreasing as p agrees with the history s."""
    p = probabilities.clamp(CLAMP, 1 - CLAMP)
    agreement = p * history + (1 - p) * (1 - history)
    return torch.log(1 - agreement + epsilon)


class ELRLearner(PixelHistoryLearner):
    terms = ("positive", "focal", "elr_reg", "dice")
    config_type = ELRConfig
    config: ELRConfig
    revision = 2  # 2: released focal, history of previous visits at full weight; 1: zero-started mass; 0: p-started

    def targets(self, probabilities: Tensor, query_ids: Tensor) -> tuple[Tensor, Tensor]:
        """The history of these queries before this visit (s [n, 1, H, W], as stored) and whether they have one
        ([n, 1, 1, 1] bool); then fold this visit's (detached) ``probabilities`` in."""
        store, device = self.history, probabilities.device
        visits = store.visits[query_ids.cpu()]  # before this visit; on the CPU, as the store keeps them
        seen = (visits > 0).to(device).view(-1, 1, 1, 1)
        previous = torch.where(seen, store.read(query_ids, device).float() / QUANT, 0.0)
        weight = history_weight(visits, self.config.beta).to(device).view(-1, 1, 1, 1)
        updated = weight * previous + (1 - weight) * probabilities
        store.write(query_ids, (updated * QUANT).round().to(torch.uint8))
        return previous, seen

    def pixel_loss(
        self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo
    ) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.config
        probabilities = outputs.mask_logits.sigmoid()
        history, seen = self.targets(probabilities.detach(), batch.query_ids)
        focal = actionvos_focal(outputs.mask_logits, batch, cfg.action_weights)
        regulariser = pixel_mean(seen * elr_regulariser(probabilities, history, cfg.epsilon))
        return focal + cfg.reg_coef * regulariser, {"focal": focal, "elr_reg": regulariser}
