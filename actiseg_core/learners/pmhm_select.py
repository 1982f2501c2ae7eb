"""PMHM + small-loss query selection: our combined recipe for mixed text + mask noise (issue 6, item 4).

Paper 003's open question is the mixed condition (Name-60 + Mask-21), where its best method gained only +0.6 gIoU:
each method there repairs one kind of noise. The two kinds hit different units, so one recipe can treat both:

- Mask noise (dilated outlines) corrupts *pixels* of every active query in the same way: no query is cleaner than
  another, so selecting queries cannot help; PMHM's split of L_seg (Eq. 7) does, by fitting labels only outside
  the uncertain band U, where dilation is wrong, and aligning the heads and decoder stages inside it.
- Text noise (a renamed object) corrupts whole *queries*: narration "take cup", prompt "knife", label "active".
  Such a query contradicts the narration-to-name rule the clean queries teach, so once that rule is learnt the
  positive head's loss on it is large (Co-teaching's premise, Han et al. 2018). Queries are therefore ranked by
  the positive head's loss, the one term that reads the (prompt, active) pair, separately among positives and
  among negatives, and only the ``R`` smallest of each are kept: their whole supervised part of Eq. 7 (positive
  head + both heads' hard loss) is trained; the label-free consistency part is kept for every query, since it
  reads no label. Ranking by the whole supervised loss instead (tried first) mostly drops active objects with big
  masks, whose Dice is large whatever their name, and starves the positive head of positives: on the mini
  protocol's mixed condition (seed 0) that gave gIoU 47.6 against 57.8 for the per-class positive-head ranking.

``R = 1 - rho * min(t / (f * T), 1)`` with t the step, T the run's steps: Co-teaching's R_n, but ramped over a
fraction ``f`` (0.3) of the run instead of T_k = 6 epochs, so it selects in a 1-epoch CPU run as in a 10-epoch
one. rho = 0.3 was set before any run, not tuned: about half the share of objects whose class Name-60 flips (436
of 709 on ActiSeg-Sim train), since a flip contradicts the label only where it changes whether the name fits the
narration, and each clean query dropped is supervision lost. Unlike Co-teaching, one network ranks its own batch
(no peer: half the compute; the price is that it can confirm its own early mistakes, which the ramp-up limits by
keeping every query while the rule is being learnt).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.coteaching import small_loss_picks
from actiseg_core.learners.losses import positive_focal_loss
from actiseg_core.learners.pmhm import PMHMConfig, PMHMLearner
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class PMHMSelectConfig(PMHMConfig):
    """PMHM's settings, plus rho (``forget_rate``) and the ramp-up fraction f of the run (``rampup_fraction``)."""

    forget_rate: float = 0.3
    rampup_fraction: float = 0.3


def progress_keep_rate(step: StepInfo, forget_rate: float, rampup_fraction: float) -> float:
    """``1 - rho * min(t / (f T), 1)``: keep every query at first, then discard up to rho of the batch."""
    ramp = max(1.0, rampup_fraction * step.total_steps)
    return 1.0 - forget_rate * min(step.step / ramp, 1.0)


def class_balanced_picks(losses: Tensor, positives: Tensor, rate: float) -> Tensor:
    """Indices of the ``rate`` smallest ``losses`` among the positive queries and, separately, among the negative
    ones, so the selection cannot shift the balance of active and inactive examples."""
    groups = (torch.nonzero(positives > 0.5).flatten(), torch.nonzero(positives <= 0.5).flatten())
    return torch.cat([group[small_loss_picks(losses[group], rate)] for group in groups if len(group)])


class PMHMSelectLearner(PMHMLearner):
    terms = (*PMHMLearner.terms, "keep_rate")
    config_type = PMHMSelectConfig
    config: PMHMSelectConfig

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        supervised, consistency, terms = self.query_terms(outputs, batch, step)
        rate = progress_keep_rate(step, self.config.forget_rate, self.config.rampup_fraction)
        kept = class_balanced_picks(positive_focal_loss(outputs.positive_logits, batch.positives), batch.positives,
                                    rate)
        return supervised[kept].mean() + consistency, {**terms, "keep_rate": rate}
