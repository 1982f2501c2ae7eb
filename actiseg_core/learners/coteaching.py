"""Co-teaching learner: two networks, each trained on the queries its peer finds easiest (Han et al. 2018).

Paper 003 Sec. IV-A, unnumbered keep-rate equation (DESIGN §6): after n epochs each network keeps the fraction
``R_n = 1 - rho * min(n / T_k, 1)`` of the batch's queries with the lowest loss, and its PEER is trained on them;
wrongly labelled samples tend to have large losses early, and two differently initialised networks filter
different mistakes, so one network's errors are not fed back to itself.

- A sample is one (frame, object) query: text noise corrupts a query's prompt, and the per-query ActionVOS loss
  (positive head + weighted focal + Dice, the baseline's, :class:`BaselineLearner`) is what ranks it.
- n is counted in epochs, fractionally (``step / steps_per_epoch``), so R_n falls smoothly even in runs shorter
  than an epoch; T_k = 6 epochs. rho = 0.05: paper 003 Sec. V-B "keeps samples with a loss rank <= 0.95". (The
  paper also trains Co-teaching for 10 instead of 6 epochs with 128x gradient accumulation; the trainer's step
  budget and batch are the caller's choice.)
- The primary network (``models()[0]``) is the one validated, evaluated and exported; the peer's forward pass runs
  here on the same batch, and its weights travel in ``state_dict`` so a resumed run continues both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from actiseg_core.learners.base import LearnerContext, QueryBatch, StepInfo
from actiseg_core.learners.baseline import BaselineConfig, BaselineLearner
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class CoTeachingConfig(BaselineConfig):
    """The baseline's loss settings, plus rho (``forget_rate``) and T_k (``rampup_epochs``) of R_n."""

    forget_rate: float = 0.05
    rampup_epochs: float = 6.0


def keep_rate(epochs_done: float, forget_rate: float, rampup_epochs: float) -> float:
    """``R_n = 1 - rho * min(n / T_k, 1)``: keep everything at first, then ramp the discarded share up to rho."""
    return 1.0 - forget_rate * min(epochs_done / rampup_epochs, 1.0)


def small_loss_picks(losses: Tensor, rate: float) -> Tensor:
    """Indices of the ``max(1, round(rate * K))`` queries with the lowest loss."""
    keep = max(1, round(rate * len(losses)))
    return torch.argsort(losses.detach())[:keep]


class CoTeachingLearner(BaselineLearner):
    terms = ("loss_primary", "loss_peer", "keep_rate")
    config_type = CoTeachingConfig
    config: CoTeachingConfig

    def __init__(self, context: LearnerContext, **hyper: Any) -> None:
        super().__init__(context, **hyper)
        self.peer = context.build_model()

    def models(self) -> list[nn.Module]:
        return [self.model, self.peer]

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        cfg = self.config
        peer_outputs = self.peer(batch.images, batch.text_embeddings, batch.frame_index, with_stages=False)
        primary, _ = self.query_loss(outputs, batch, step)
        peer, _ = self.query_loss(peer_outputs, batch, step)
        rate = keep_rate(step.step / step.steps_per_epoch, cfg.forget_rate, cfg.rampup_epochs)
        primary_loss = primary[small_loss_picks(peer, rate)].mean()  # each network learns from its peer's picks
        peer_loss = peer[small_loss_picks(primary, rate)].mean()
        return primary_loss + peer_loss, {"loss_primary": primary_loss.item(), "loss_peer": peer_loss.item(),
                                          "keep_rate": rate}

    def state_dict(self) -> dict[str, Any]:
        return {"peer": self.peer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.peer.load_state_dict(state["peer"])
