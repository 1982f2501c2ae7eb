"""Co-teaching learner: two networks, each trained on the queries its peer finds easiest (Han et al. 2018).

Paper 003 Sec. IV-A, unnumbered keep-rate equation ``R_n = 1 - rho min(n / T_k, 1)``: each network keeps the share
R_n of a batch's samples with the lowest loss and its PEER is trained on them; wrongly labelled samples tend to have
large losses early, and two differently initialised networks filter different mistakes.

The schedule is the released one (``ActiSeg_NL_benchmark/ReferFormer/main_actionvos_coteaching.py``): the forget
rate starts at 0.05 ("keeps samples with a loss rank <= 0.95", paper Sec. V-B) and grows linearly (Han et al.'s
``exponent`` 1) to 0.15 over T_k = 6 epochs (their ``num_gradual``), then stays:
``R(e) = 1 - (0.05 + 0.10 min(e / 6, 1))`` after e completed epochs, constant within an epoch. The kept count is
``floor(R K)`` (``int(len * Rt)``), at least one, so a batch of 38 queries keeps 36 in the first epoch and 32 from
the seventh on.

- A sample is one (frame, object) query: the released loop ranks single-expression samples, and text noise corrupts
  a query's prompt. The ranking loss is the per-query ActionVOS loss (positive head + focal + Dice,
  :class:`BaselineLearner`); the released runs did not pass ``--use_weights``, so the focal is unweighted by
  default (``action_weights``).
- The released loop ranks a pool of 128 single-query samples and then steps each network once per kept sample; here
  the pool is the trainer's batch (K queries of B frames) and each network takes one step on the mean over its
  peer's picks.
- The primary network (``models()[0]``) is the one validated, evaluated and exported; the peer's forward pass runs
  here on the same batch, and its weights travel in ``state_dict`` so a resumed run continues both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from actiseg_core.learners.base import LearnerContext, QueryBatch, StepInfo
from actiseg_core.learners.baseline import BaselineConfig, BaselineLearner
from actiseg_core.learners.selection_log import SelectionLogging, dropped_mask
from actiseg_core.model.segmenter import SegmenterOutput


@dataclass(frozen=True)
class CoTeachingConfig(BaselineConfig):
    """The baseline's loss settings (unweighted focal, as released), the forget rate at the start and after T_k,
    and T_k (``rampup_epochs``)."""

    action_weights: bool = False
    forget_start: float = 0.05
    forget_end: float = 0.15
    rampup_epochs: int = 6


def keep_rate(epochs_done: int, config: CoTeachingConfig) -> float:
    """``R(e) = 1 - (forget_start + (forget_end - forget_start) min(e / T_k, 1))`` after ``e`` completed epochs."""
    ramp = min(epochs_done / config.rampup_epochs, 1.0)
    return 1.0 - (config.forget_start + (config.forget_end - config.forget_start) * ramp)


def kept_count(num_queries: int, rate: float) -> int:
    """``floor(rate K)``, at least one query (a batch is never emptied)."""
    return max(1, math.floor(rate * num_queries + 1e-9))


def small_loss_picks(losses: Tensor, keep: int) -> Tensor:
    """Indices of the ``keep`` queries with the lowest loss."""
    return torch.argsort(losses.detach())[:keep]


class CoTeachingLearner(SelectionLogging, BaselineLearner):
    terms = ("loss_primary", "loss_peer", "keep_rate")
    config_type = CoTeachingConfig
    config: CoTeachingConfig
    revision = 1  # 1: the released schedule (0.95 -> 0.85 per epoch, floor); 0: 1 -> 0.95 ramped per step, rounded

    def __init__(self, context: LearnerContext, **hyper: Any) -> None:
        super().__init__(context, **hyper)
        self.peer = context.build_model()

    def models(self) -> list[nn.Module]:
        return [self.model, self.peer]

    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        peer_outputs = self.peer(batch.images, batch.text_embeddings, batch.frame_index, with_stages=False)
        primary, _ = self.query_loss(outputs, batch, step)
        peer, _ = self.query_loss(peer_outputs, batch, step)
        rate = keep_rate(step.epoch, self.config)
        keep = kept_count(len(primary), rate)
        picks = small_loss_picks(peer, keep)
        primary_loss = primary[picks].mean()  # each network learns from its peer's picks
        self.selection_log.record(batch.query_ids, dropped_mask(len(primary), picks))  # the evaluated network's
        peer_loss = peer[small_loss_picks(primary, keep)].mean()
        return primary_loss + peer_loss, {
            "loss_primary": primary_loss.item(),
            "loss_peer": peer_loss.item(),
            "keep_rate": rate,
        }

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "peer": self.peer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.peer.load_state_dict(state["peer"])
        super().load_state_dict({key: value for key, value in state.items() if key != "peer"})
