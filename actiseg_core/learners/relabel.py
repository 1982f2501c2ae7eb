"""Relabel flipped prompts by matching the model's prediction to the frame's annotated masks.

Alg. 1's text noise (paper 003, flip-only) renames an object to a random other class but keeps its mask and its
activity label. Every object of a frame is annotated, so the frame's clean labels are still in the batch, only
attached to the wrong prompt. The harmful case: an *inactive* plate renamed "cup" while the narration is "take cup"
and the real cup is active. The query ("cup", plate's label: inactive, empty target) contradicts the cup's clean
query and pushes the positive head below its 0.75 threshold.

Once the model has learnt the narration-to-name rule, its mask for the prompt "cup" is the cup's, i.e. it matches
another query's *active* target in the same frame rather than its own label. Such a query is given the label of the
object it matches (that query's target, pixel weights and positive 1) instead of being dropped (as
:mod:`~actiseg_core.learners.query_selection` does): the supervision is repaired, not lost.

A query k is relabelled to query j when all hold (decided on the detached outputs of the current forward pass):

- warm-up is over (``step >= warmup_fraction * total_steps``): the model must first learn the rule;
- j is another query of the same frame whose label is active, and at least ``match_share`` of k's predicted mask
  (main head, logits > 0) lies inside j's target (the best such j is taken; an empty prediction matches nothing);
- less than ``own_share`` of the prediction lies inside k's own target (an inactive query's own target is empty: 0);
- the positive head's probability on k is at least ``min_score``: the model itself calls the prompt active.

Matching measures the share of the prediction inside a target, not their IoU, because Alg. 2's mask noise dilates
the targets: a correct prediction lies inside its object's dilated target but covers only part of it (under Mask-21
a small object's IoU with its dilated target is often below 0.5).

``relabel`` applies this to the ActionVOS baseline loss, ``pmhm_relabel`` to PMHM (for mixed text + mask noise).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.baseline import BaselineConfig, BaselineLearner
from actiseg_core.learners.pmhm import PMHMConfig, PMHMLearner
from actiseg_core.learners.selection_log import SelectionLogging
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class RelabelConfig:
    """The warm-up fraction f of the run without relabelling, the share of the prediction inside another active
    target needed to relabel (``match_share``), the share inside the query's own target under which it may be
    relabelled (``own_share``), and the least positive-head probability (``min_score``). Set before any run."""

    warmup_fraction: float = 0.3
    match_share: float = 0.5
    own_share: float = 0.2
    min_score: float = 0.5


def relabel_targets(
    mask_logits: Tensor, positive_logits: Tensor, batch: QueryBatch, config: RelabelConfig
) -> tuple[QueryBatch, Tensor]:
    """A copy of ``batch`` whose matched queries carry their match's targets, weights and positive, and the bool
    [K] mask of the relabelled queries (see the module docstring for the rule). ``batch`` is not modified."""
    k = mask_logits.shape[0]
    if not k:
        return dataclasses.replace(batch), torch.zeros(0, dtype=torch.bool, device=mask_logits.device)
    with torch.no_grad():
        predicted = (mask_logits.detach() > 0).flatten(1).float()  # [K, P]
        annotated = (batch.targets > 0.5).flatten(1).float()  # [K, P]
        overlap = predicted @ annotated.T  # [K, K]: prediction k against target j
        inside = overlap / predicted.sum(1, keepdim=True).clamp(min=1)  # share of prediction k inside target j
        own = inside.diagonal()
        candidate = (batch.frame_index[:, None] == batch.frame_index[None, :]) & (batch.positives > 0.5)[None, :]
        candidate &= ~torch.eye(k, dtype=torch.bool, device=inside.device)
        best_share, best = torch.where(candidate, inside, torch.full_like(inside, -1.0)).max(1)
        relabelled = (
            (best_share >= config.match_share)
            & (own < config.own_share)
            & (positive_logits.detach().sigmoid() >= config.min_score)
            & (predicted.sum(1) > 0)
        )
        pick = relabelled.view(-1, *(1,) * (batch.targets.dim() - 1))
        new = dataclasses.replace(
            batch,
            targets=torch.where(pick, batch.targets[best], batch.targets),
            weights=torch.where(pick, batch.weights[best], batch.weights),
            positives=torch.where(relabelled, batch.positives[best], batch.positives),
        )
    return new, relabelled


class RelabelMixin(SelectionLogging):
    """Relabels the batch from the current outputs before the learner's own loss; adds the ``relabelled`` term and
    counts the relabelled queries in the :class:`~actiseg_core.learners.selection_log.SelectionLog`."""

    config: RelabelConfig

    def relabelled_batch(
        self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo
    ) -> tuple[QueryBatch, float]:
        """The batch to train on and the share of its queries relabelled (0 and ``batch`` itself in warm-up)."""
        if step.step < self.config.warmup_fraction * step.total_steps:
            return batch, 0.0
        new, relabelled = relabel_targets(outputs.mask_logits, outputs.positive_logits, batch, self.config)
        self.selection_log.record(batch.query_ids, relabelled)
        return new, relabelled.float().mean().item() if len(relabelled) else 0.0

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        batch, share = self.relabelled_batch(outputs, batch, step)
        total, terms = super().loss(outputs, batch, step)  # type: ignore[misc]  # the learner's own loss
        return total, {**terms, "relabelled": share}


@dataclass(frozen=True)
class BaselineRelabelConfig(BaselineConfig, RelabelConfig):
    """The baseline's loss settings plus the relabelling's (:class:`RelabelConfig`)."""


class RelabelLearner(RelabelMixin, BaselineLearner):
    """``relabel``: the ActionVOS loss on relabelled batches."""

    terms = (*BaselineLearner.terms, "relabelled")
    config_type = BaselineRelabelConfig
    config: BaselineRelabelConfig


@dataclass(frozen=True)
class PMHMRelabelConfig(PMHMConfig, RelabelConfig):
    """PMHM's settings plus the relabelling's (:class:`RelabelConfig`)."""


class PMHMRelabelLearner(RelabelMixin, PMHMLearner):
    """``pmhm_relabel``: PMHM on relabelled batches (relabelling for the text noise, PMHM for the mask noise)."""

    terms = (*PMHMLearner.terms, "relabelled")
    config_type = PMHMRelabelConfig
    config: PMHMRelabelConfig
