"""PMHM + small-loss query selection: our combined recipe for mixed text + mask noise (issue 6, item 4).

Paper 003's open question is the mixed condition (Name-60 + Mask-21), where its best method gained only +0.6 gIoU:
each method there repairs one kind of noise. The two kinds hit different units, so one recipe can treat both:

- Mask noise (dilated outlines) corrupts *pixels* of every active query in the same way: no query is cleaner than
  another, so selecting queries cannot help; PMHM's split of L_seg (Eq. 7) does, by fitting labels only outside
  the uncertain band U, where dilation is wrong, and aligning the heads and decoder stages inside it.
- Text noise (a renamed object) corrupts whole *queries*: narration "take cup", prompt "knife", label "active".
  Such a query contradicts the narration-to-name rule the clean queries teach, so once that rule is learnt its
  loss is large (Co-teaching's premise, Han et al. 2018). The supervised, per-query part of Eq. 7 (positive head
  + both heads' hard loss) is ranked and only the ``R`` smallest are kept; the label-free consistency part is
  kept for every query, since it reads no label.

``R = 1 - rho * min(t / (f * T), 1)`` with t the step, T the run's steps: Co-teaching's R_n, but ramped over a
fraction ``f`` (0.3) of the run instead of T_k = 6 epochs, so it selects in a 1-epoch CPU run as in a 10-epoch
one. rho = 0.3 is the expected share of contradicting queries under Name-60: 60% of names renamed, of which only
the active ones (about half of all queries on ActiSeg-Sim) contradict their label. Unlike Co-teaching, one network
ranks its own batch (no peer: half the compute; the price is that it can confirm its own early mistakes, which
the ramp-up limits by keeping every query while the rule is being learnt).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.coteaching import small_loss_picks
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


class PMHMSelectLearner(PMHMLearner):
    terms = (*PMHMLearner.terms, "keep_rate")
    config_type = PMHMSelectConfig
    config: PMHMSelectConfig

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        supervised, consistency, terms = self.query_terms(outputs, batch, step)
        rate = progress_keep_rate(step, self.config.forget_rate, self.config.rampup_fraction)
        kept = supervised[small_loss_picks(supervised, rate)]
        return kept.mean() + consistency, {**terms, "keep_rate": rate}
