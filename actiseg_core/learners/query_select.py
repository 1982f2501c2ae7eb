"""``query_select``: the ActionVOS loss with class-balanced small-loss query selection, no PMHM.

The ablation of ``pmhm_select`` that tells which half of the recipe does the work under mixed noise: the same
selection (:mod:`~actiseg_core.learners.query_selection`, ranked by the positive head's loss), applied to the
baseline's per-query loss (positive head + weighted focal + Dice) instead of PMHM's supervised part.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.baseline import BaselineConfig, BaselineLearner
from actiseg_core.learners.query_selection import QuerySelectionConfig, selected_mean
from actiseg_core.learners.selection_log import SelectionLogging, dropped_mask
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class QuerySelectConfig(BaselineConfig, QuerySelectionConfig):
    """The baseline's loss settings plus the selection's (:class:`QuerySelectionConfig`)."""


class QuerySelectLearner(SelectionLogging, BaselineLearner):
    terms = (*BaselineLearner.terms, "keep_rate")
    config_type = QuerySelectConfig
    config: QuerySelectConfig

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        per_query, terms = self.query_loss(outputs, batch, step)
        total, rate, kept = selected_mean(per_query, outputs.positive_logits, batch.positives, step, self.config)
        if rate < 1.0:
            self.selection_log.record(batch.query_ids, dropped_mask(len(per_query), kept))
        return total, {**{name: value.mean().item() for name, value in terms.items()}, "keep_rate": rate}
