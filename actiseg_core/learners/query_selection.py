"""Class-balanced small-loss selection of *queries*, the text-noise half of our mixed-noise recipe.

A renamed object (narration "take cup", prompt "knife", label "active") corrupts a whole query. It contradicts the
narration-to-name rule the clean queries teach, so once that rule is learnt the positive head's loss on it is large
(Co-teaching's premise, Han et al. 2018). Queries are ranked by that loss, the one term that reads the
(prompt, active) pair, separately among positives and among negatives, and only the ``R`` smallest of each class are
trained on their labels.

``R = 1 - rho * min(t / (f * T), 1)`` with t the step, T the run's steps: Co-teaching's R_n, but ramped over a
fraction ``f`` (0.3) of the run instead of T_k = 6 epochs, so it selects in a 1-epoch CPU run as in a 10-epoch
one. rho = 0.3 was set before any run, not tuned: about half the share of objects whose class Name-60 flips (436
of 709 on ActiSeg-Sim train), since a flip contradicts the label only where it changes whether the name fits the
narration, and each clean query dropped is supervision lost. Unlike Co-teaching, one network ranks its own batch
(no peer: half the compute; the price is that it can confirm its own early mistakes, which the ramp-up limits by
keeping every query while the rule is being learnt).

``only_contradicted`` (off by default) spares every query whose label the positive head already agrees with (its
probability on the label's side of 0.5), so only queries that contradict their label can be dropped, at most rho of
each class. On clean labels few do, which is where plain selection loses most. Mini protocol, ``query_select``, gIoU
with / without it: clean 69.2 / 65.5 (baseline 71.1), Mask-21 67.5 / 63.9 (69.5), Name-60 + Mask-21 56.5 / 57.9
(49.3; 2 seeds): a better trade for mostly clean data, not a free gain
(``benchmarks/results/actiseg_nl_only_contradicted/``). Off by default, so the protocol's recipes stay as measured.

Used by ``pmhm_select`` (with PMHM for the pixels) and by its ablation ``query_select`` (with the ActionVOS loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from actiseg_core.learners.base import StepInfo
from actiseg_core.learners.coteaching import small_loss_picks
from actiseg_core.learners.losses import positive_focal_loss


@dataclass(frozen=True)
class QuerySelectionConfig:
    """rho (``forget_rate``), the largest share of each class dropped, the ramp-up fraction f of the run, and
    whether only queries the positive head contradicts may be dropped (``only_contradicted``)."""

    forget_rate: float = 0.3
    rampup_fraction: float = 0.3
    only_contradicted: bool = False


def progress_keep_rate(step: StepInfo, forget_rate: float, rampup_fraction: float) -> float:
    """``1 - rho * min(t / (f T), 1)``: keep every query at first, then discard up to rho of the batch."""
    ramp = max(1.0, rampup_fraction * step.total_steps)
    return 1.0 - forget_rate * min(step.step / ramp, 1.0)


def class_balanced_picks(losses: Tensor, positives: Tensor, rate: float) -> Tensor:
    """Indices of the ``rate`` smallest ``losses`` (``max(1, round(rate n))`` of a class's n queries) among the
    positive queries and, separately, among the negative ones, so the selection cannot shift the balance of active
    and inactive examples."""
    groups = (torch.nonzero(positives > 0.5).flatten(), torch.nonzero(positives <= 0.5).flatten())
    return torch.cat(
        [group[small_loss_picks(losses[group], max(1, round(rate * len(group))))] for group in groups if len(group)]
    )


def selected_mean(
    per_query: Tensor, positive_logits: Tensor, positives: Tensor, step: StepInfo, config: QuerySelectionConfig
) -> tuple[Tensor, float, Tensor]:
    """Mean of ``per_query`` [K] over the queries :func:`class_balanced_picks` keeps at this step's rate, the
    rate (a training term) and the kept indices."""
    rate = progress_keep_rate(step, config.forget_rate, config.rampup_fraction)
    kept = class_balanced_picks(positive_focal_loss(positive_logits, positives), positives, rate)
    if config.only_contradicted:
        agrees = (positive_logits.detach() > 0) == (positives > 0.5)
        kept = torch.unique(torch.cat([kept, torch.nonzero(agrees).flatten()]))
    return per_query[kept].mean(), rate, kept
