"""``mention_select``: the ActionVOS loss on the queries whose activity label agrees with the narration.

Alg. 1 (paper 003) renames objects but never the narration, and an object is active in ActionVOS when the narration
names it or the hand works with it. So a query can be checked against its own frame's text, without the model:

- labelled active, its name not in the narration and not the hand's name: contradicted. This is the harmful flip,
  "knife used in the action of pick up the mug" trained to segment the mug. With many classes a flip rarely lands
  on a name the narration uses (``flip_census``, ``narration_census`` in a noisy view's manifest);
- labelled inactive, its name in the narration: contradicted (an inactive plate renamed "mug" in "take mug").

A query whose name is a hand-role class's name is never judged: the gripper is active without being narrated
(:func:`actiseg_core.prompts.contradicts_narration`, computed per query by the data loader).
Unlike small-loss selection (:mod:`~actiseg_core.learners.query_selection`) the rule needs no ramp-up and no model
agreement: it holds from the first step. Its blind spots: a flip to a narrated name (kept, wrong), and a clean
active object that is touched but not narrated (dropped, supervision lost); ``benchmarks/results/`` counts both.

``contradicted``: ``"drop"`` (default) takes contradicted queries out of the loss; ``"negate"`` keeps the active
ones as inactive with an empty target, which is what their prompt truly asks for when nothing of that name takes
part in the action (inactive contradicted queries are still dropped: their true label is unknown).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from actiseg_core.errors import ActiSegError
from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.baseline import BaselineConfig, BaselineLearner
from actiseg_core.learners.selection_log import SelectionLogging
from actiseg_core.model.segmenter import SegmenterOutput

CONTRADICTED_ACTIONS = ("drop", "negate")


@dataclass(frozen=True)
class MentionSelectConfig(BaselineConfig):
    """The baseline's loss settings plus what to do with a contradicted query (``"drop"`` or ``"negate"``)."""

    contradicted: str = "drop"

    def __post_init__(self) -> None:
        if self.contradicted not in CONTRADICTED_ACTIONS:
            raise ActiSegError(f"contradicted must be one of {', '.join(CONTRADICTED_ACTIONS)}, "
                               f"got {self.contradicted!r}")


def narration_contradicts(batch: QueryBatch) -> Tensor:
    """[K] bool: the queries whose label disagrees with their narration (``QueryBatch.narration_contradicted``)."""
    if batch.narration_contradicted is None:
        raise ValueError("mention_select needs QueryBatch.narration_contradicted (training.data.collate fills it)")
    return batch.narration_contradicted


class MentionSelectLearner(SelectionLogging, BaselineLearner):
    terms = (*BaselineLearner.terms, "keep_rate")
    config_type = MentionSelectConfig
    config: MentionSelectConfig

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        contradicted = narration_contradicts(batch)
        dropped = contradicted
        if self.config.contradicted == "negate":
            negated = contradicted & (batch.positives > 0.5)
            batch = dataclasses.replace(batch, positives=torch.where(negated, 0.0, batch.positives),
                                        targets=batch.targets * ~negated[:, None, None, None])
            dropped = contradicted & ~negated
        per_query, terms = self.query_loss(outputs, batch, step)
        self.selection_log.record(batch.query_ids, contradicted)
        kept = ~dropped
        total = per_query[kept].mean() if bool(kept.any()) else per_query.sum() * 0.0
        rate = kept.float().mean().item()
        return total, {**{name: value.mean().item() for name, value in terms.items()}, "keep_rate": rate}
