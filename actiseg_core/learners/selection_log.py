"""Which training queries a selecting learner set aside, counted per query over the run (issue 15).

Co-teaching and the small-loss query selection drop queries, relabelling repairs them; whether they pick the
queries whose prompts Alg. 1 actually renamed is the question their benchmark cells answer (precision / recall of
the picks against the recorded flips, :func:`pick_quality`). The learner counts, per stable query id, the visits on
which it was selecting and the visits on which it picked the query; the counts are learner state, so they travel in
the checkpoint and survive a resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

SELECTION_LOG = "selection_log"  # the key of the counts in a learner's state_dict


class SelectionLog:
    """Per-query counts: ``visits`` (batches in which the learner selected among the query's peers) and ``picked``
    (those in which it dropped or relabelled the query)."""

    def __init__(self, num_queries: int) -> None:
        self.visits = torch.zeros(num_queries, dtype=torch.int32)
        self.picked = torch.zeros(num_queries, dtype=torch.int32)

    def record(self, query_ids: Tensor, picked: Tensor) -> None:
        """Count one selecting visit of every query in ``query_ids`` and a pick where ``picked`` (bool [K])."""
        ids = query_ids.detach().to("cpu", torch.long)
        self.visits.index_add_(0, ids, torch.ones_like(ids, dtype=torch.int32))
        self.picked.index_add_(0, ids, picked.detach().to("cpu", torch.int32))

    def state_dict(self) -> dict[str, Tensor]:
        return {"visits": self.visits.clone(), "picked": self.picked.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if state["visits"].shape != self.visits.shape:
            raise ValueError(f"a selection log of {state['visits'].numel()} queries; this split has "
                             f"{self.visits.numel()}")
        self.visits.copy_(state["visits"])
        self.picked.copy_(state["picked"])


def pick_quality(visits: Sequence[int], picked: Sequence[int], flipped: Sequence[bool]) -> dict[str, Any]:
    """How the picks line up with the truly renamed queries, per visit: ``precision`` (share of picks that were
    flipped), ``recall`` (share of the flipped queries' selecting visits on which they were picked), the same
    ``pick_rate`` on clean queries, and the counts; None where a share is undefined."""
    def share(numerator: int, denominator: int) -> float | None:
        return numerator / denominator if denominator else None

    flipped_visits = sum(v for v, f in zip(visits, flipped, strict=True) if f)
    clean_visits = sum(v for v, f in zip(visits, flipped, strict=True) if not f)
    flipped_picks = sum(p for p, f in zip(picked, flipped, strict=True) if f)
    picks = sum(picked)
    return {"visits": sum(visits), "picks": picks, "flipped_queries": sum(flipped),
            "precision": share(flipped_picks, picks), "recall": share(flipped_picks, flipped_visits),
            "clean_pick_rate": share(picks - flipped_picks, clean_visits)}


class SelectionLogging:
    """Mixin for a selecting learner: builds its :class:`SelectionLog` and keeps it in the learner's state (put it
    before the learner class in the bases, so its ``state_dict`` wraps the learner's)."""

    def __init__(self, context: Any, **hyper: Any) -> None:
        super().__init__(context, **hyper)  # type: ignore[call-arg]  # the learner's own constructor
        self.selection_log = SelectionLog(context.num_queries)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), SELECTION_LOG: self.selection_log.state_dict()}  # type: ignore[misc]

    def load_state_dict(self, state: dict[str, Any]) -> None:
        own = {key: value for key, value in state.items() if key != SELECTION_LOG}
        super().load_state_dict(own)  # type: ignore[misc]
        self.selection_log.load_state_dict(state[SELECTION_LOG])


def dropped_mask(count: int, kept: Tensor) -> Tensor:
    """Bool [count]: True for the queries not among the ``kept`` indices."""
    mask = torch.ones(count, dtype=torch.bool, device=kept.device)
    mask[kept] = False
    return mask
