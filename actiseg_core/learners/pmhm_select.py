"""PMHM + small-loss query selection: our combined recipe for mixed text + mask noise.

Paper 003's open question is the mixed condition (Name-60 + Mask-21), where its best method gained only +0.6 gIoU:
each method there repairs one kind of noise. The two kinds hit different units, so one recipe can treat both:

- Mask noise (dilated outlines) corrupts *pixels* of every active query in the same way: no query is cleaner than
  another, so selecting queries cannot help; PMHM's regions do, by fitting labels hard only where both heads agree
  confidently (S), leniently (Tversky) in the uncertain band U, where dilation is wrong, and aligning the heads
  and decoder stages inside U.
- Text noise (a renamed object) corrupts whole *queries*, so queries are selected by small loss
  (:mod:`~actiseg_core.learners.query_selection`: ranked by the positive head's loss within each class, rho 0.3
  ramped over the first 30% of the run). The kept queries train PMHM's whole supervised part (positive head, hard
  loss on S, Tversky on U); the label-free consistency part is kept for every query, since it reads no label.

Ranking by the whole supervised loss instead would mostly drop active objects with big masks, whose Dice is large
whatever their name, and starve the positive head of positives (measured: ``benchmarks/results/actiseg_nl.md``).
``query_select`` is the same selection without PMHM (the ablation).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.pmhm import PMHMConfig, PMHMLearner
from actiseg_core.learners.query_selection import QuerySelectionConfig, selected_mean
from actiseg_core.learners.selection_log import SelectionLogging, dropped_mask
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class PMHMSelectConfig(PMHMConfig, QuerySelectionConfig):
    """PMHM's settings plus the selection's (:class:`QuerySelectionConfig`: rho, ramp-up, only_contradicted)."""


class PMHMSelectLearner(SelectionLogging, PMHMLearner):
    terms = (*PMHMLearner.terms, "keep_rate")
    config_type = PMHMSelectConfig
    config: PMHMSelectConfig

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        supervised, consistency, terms = self.query_terms(outputs, batch, step)
        kept_mean, rate, kept = selected_mean(supervised, outputs.positive_logits, batch.positives, step, self.config)
        if rate < 1.0:
            self.selection_log.record(batch.query_ids, dropped_mask(len(supervised), kept))
        return kept_mean + consistency, {**terms, "keep_rate": rate}
