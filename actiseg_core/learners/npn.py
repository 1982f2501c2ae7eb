"""NPN learner: partial-label + negative learning from per-pixel candidate counts, plus weak -> strong consistency.

Paper 003 Sec. IV-A, Eq. 2-3 (Sheng et al. 2024), as the released code runs it
(``ActiSeg_NL_benchmark/ReferFormer/models/criterion_npn_orgsize_mask.py``, ``engine.train_one_epoch_ws``). Per pixel
of a query, with the (possibly noisy) label y and the current prediction p (detached):

- A prediction *votes* for a class only when it is confident: ``max(p, 1 - p) > 0.7``; its class is ``[p > 0.5]``.
- Warm-up, the first ``warmup_epochs`` (2) epochs: the pixel term is ActionVOS's focal on the labels (unweighted:
  the released NPN runs do not pass ``--use_weights``), no strong view is run, and the counts are seeded: the
  label's count is set to 1 and a confident vote adds 1 to its class.
- After warm-up, each visit's candidate set ``C = {y} + {confident vote}`` adds 1 to the count of each class in it:
  ``M_c <- M_c + [c in C]``. A dilated pixel (label 1, confidently predicted 0) gains a vote for background on every
  visit and one for its label: a tie, which goes to background, and a warm-up that voted background puts it ahead.
- Proxy label ``y* = argmax(M0, M1)`` with ties going to **background**, reliability ``w = max(M) / (M0 + M1)``.
- Eq. 2 ``PLL = w CE(y*)``, Eq. 3 ``NL = -sum over classes c not in C of log(1 - p_c)`` (where the label and a
  confident vote agree, or no confident vote exists, this reinforces the label's class; where they disagree it is
  0), and ``CR``: cross entropy of the strong (photometrically distorted) view against the weak view's class, on the
  weak view's confident pixels only (gate 0.7) and averaged over them. The released code scores PLL and CR as a
  two-class softmax over the logits ``(-x, x)``, i.e. a sigmoid of ``2 x``; so do we (:data:`PAIR_SCALE`).

Pixel term ``PLL + alpha NL + beta CR`` with alpha 0.1, beta 0.2 (paper Sec. V-B and the released defaults), all
unweighted (``action_weights`` multiplies the label terms by ActionVOS's weights). The paper's own Eq. 2-3 text
counts ``A1 = y + [p > 0.5]`` with ties to foreground, under which a dilated pixel can never become background; the
released code decides. The counts live in two uint8 :class:`~actiseg_core.learners.history.QueryPixelStore` maps
(M1 in ``history``, M0 in ``background``); a query stops counting after :data:`MAX_VISITS` visits, long after its
proxy labels have settled. The trainer supplies the strong view (``uses_strong_view``); spatial augmentation must
stay off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from actiseg_core.learners.base import LearnerContext, QueryBatch, StepInfo
from actiseg_core.learners.history import PixelHistoryLearner, QueryPixelStore
from actiseg_core.learners.losses import pixel_mean
from actiseg_core.learners.pixel import ActionVOSCoefficients, actionvos_focal
from actiseg_core.model.segmenter import SegmenterOutput

MAX_VISITS = 254  # a count grows by at most one a visit, plus one from the warm-up seed: <= 255 fits uint8
PAIR_SCALE = 2.0  # the released PLL / CR score the logit pair (-x, x) with a softmax: sigmoid(2 x)
PROB_FLOOR = 1e-4  # the released code clamps p to [1e-4, 1] before NL
NL_EPSILON = 1e-7


@dataclass(frozen=True)
class NPNConfig(ActionVOSCoefficients):
    """alpha weighs NL, beta CR (0.1, 0.2); a prediction votes above ``confidence`` 0.7; ``warmup_epochs`` 2
    (``--warmup_epochs_npn``); ``action_weights`` off, as released."""

    alpha: float = 0.1
    beta: float = 0.2
    confidence: float = 0.7
    warmup_epochs: int = 2
    action_weights: bool = False


def confident_votes(logits: Tensor, confidence: float) -> tuple[Tensor, Tensor]:
    """Bool maps (votes for foreground, votes for background): ``max(p, 1 - p) > confidence`` on that side."""
    p = logits.detach().sigmoid()
    return p > confidence, 1 - p > confidence


def proxy_labels(count_zero: Tensor, count_one: Tensor) -> tuple[Tensor, Tensor]:
    """``(y*, w)`` from the counts: ``y* = [M1 > M0]`` (a tie goes to background), ``w = max(M) / (M0 + M1)``."""
    count_zero, count_one = count_zero.float(), count_one.float()
    proxy = (count_one > count_zero).float()
    reliability = torch.maximum(count_one, count_zero) / (count_one + count_zero + 1e-10)
    return proxy, reliability


def negative_learning_loss(logits: Tensor, candidate_one: Tensor, candidate_zero: Tensor) -> Tensor:
    """Eq. 3 per pixel: ``-[1 not in C] log(1 - p) - [0 not in C] log p`` with p clamped to [1e-4, 1] and a 1e-7
    guard in the logs, as released."""
    p = logits.sigmoid().clamp(min=PROB_FLOOR)
    return ~candidate_one * -torch.log(1 - p + NL_EPSILON) + ~candidate_zero * -torch.log(p + NL_EPSILON)


def pair_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Per-pixel cross entropy of the released two-class pair ``(-x, x)`` against 0/1 ``targets``."""
    return F.binary_cross_entropy_with_logits(PAIR_SCALE * logits, targets, reduction="none")


class NPNLearner(PixelHistoryLearner):
    terms = ("positive", "focal", "pll", "nl", "cr", "dice")
    config_type = NPNConfig
    config: NPNConfig
    uses_strong_view = True
    revision = 1  # 1: released counts (confidence gate, ties to background, warm-up); 0: the paper's A indicators

    def __init__(self, context: LearnerContext, **hyper: Any) -> None:
        super().__init__(context, **hyper)
        self.background = QueryPixelStore(context.num_queries, context.input_size)

    def counts(
        self, labels: Tensor, votes: tuple[Tensor, Tensor], query_ids: Tensor, warmup: bool
    ) -> tuple[Tensor, Tensor]:
        """Fold this visit into ``(M0, M1)`` of these queries (warm-up seeding or candidate-set counting, see the
        module docstring) and return them [n, 1, H, W] after it."""
        device = labels.device
        visits = self.history.visits[query_ids.cpu()].to(device).view(-1, 1, 1, 1)
        seen = visits > 0
        count_one = torch.where(seen, self.history.read(query_ids, device).long(), 0)
        count_zero = torch.where(seen, self.background.read(query_ids, device).long(), 0)
        vote_one, vote_zero = votes
        label_one = labels > 0.5
        if warmup:
            new_one = torch.where(label_one, 1 + vote_one.long(), count_one + vote_one.long())
            new_zero = torch.where(label_one, count_zero + vote_zero.long(), 1 + vote_zero.long())
        else:
            new_one = count_one + (label_one | vote_one).long()
            new_zero = count_zero + (~label_one | vote_zero).long()
        counting = (visits < MAX_VISITS).flatten()
        for store, counts in ((self.history, new_one), (self.background, new_zero)):
            store.write(query_ids[counting.to(query_ids.device)], counts[counting].clamp(max=255).to(torch.uint8))
        keep = counting.view(-1, 1, 1, 1)
        return torch.where(keep, new_zero, count_zero), torch.where(keep, new_one, count_one)

    def pixel_loss(
        self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo
    ) -> tuple[Tensor, dict[str, Tensor]]:
        cfg, logits, labels = self.config, outputs.mask_logits, batch.targets
        weights = batch.weights if cfg.action_weights else torch.ones_like(labels)
        votes = confident_votes(logits, cfg.confidence)
        warmup = step.epoch < cfg.warmup_epochs
        count_zero, count_one = self.counts(labels, votes, batch.query_ids, warmup)
        zero = logits.new_zeros(len(logits))
        if warmup:
            focal = actionvos_focal(logits, batch, cfg.action_weights)
            return focal, {"focal": focal, "pll": zero, "nl": zero, "cr": zero}
        if batch.strong_images is None:
            raise ValueError("NPN needs the strong view: QueryBatch.strong_images is None")
        proxy, reliability = proxy_labels(count_zero, count_one)
        pll = pixel_mean(weights * reliability * pair_cross_entropy(logits, proxy))
        label_one = labels > 0.5
        nl = pixel_mean(weights * negative_learning_loss(logits, label_one | votes[0], ~label_one | votes[1]))
        strong = self.model(batch.strong_images, batch.text_embeddings, batch.frame_index, with_stages=False)
        confident = (votes[0] | votes[1]).float()
        weak_class = (logits.detach() > 0).float()
        cr = (confident * pair_cross_entropy(strong.mask_logits, weak_class)).flatten(1).sum(1)
        cr = cr / confident.flatten(1).sum(1).clamp(min=1)
        pixel = pll + cfg.alpha * nl + cfg.beta * cr
        return pixel, {"focal": zero, "pll": pll, "nl": nl, "cr": cr}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "background": self.background.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.background.load_state_dict(state["background"])
