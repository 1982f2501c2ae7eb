"""NPN learner: partial-label + negative learning from per-pixel candidate counts, plus weak -> strong consistency.

Paper 003 Sec. IV-A, Eq. 2-3 (Sheng et al. 2024, DESIGN §6). Per pixel of a query, with the (possibly noisy) label
y and the current prediction p (detached):

- candidate indicators ``A1 = y + [p > 0.5]``, ``A0 = (1 - y) + [p <= 0.5]``, accumulated over epochs into
  ``M1, M0``. ``A1 + A0 = 2`` on every visit, so ``M0 = 2 v - M1`` with v the query's visit count: one uint8 map
  (M1 <= 2v <= 254; a query stops accumulating after 127 visits, long after its proxy label has settled) plus one
  count per query hold both (:class:`~actiseg_core.learners.history.QueryPixelStore`, see its memory note);
- proxy label ``y* = [M1 >= M0]`` and reliability ``w = max(M1, M0) / (M1 + M0)`` in [0.5, 1], from the counts
  after this visit's update;
- Eq. 2 ``PLL = -w (y* log p + (1 - y*) log(1 - p))``;
- Eq. 3 ``NL = -[A1 = 0] log(1 - p) - [A0 = 0] log p``: only where label and prediction agree, which side they
  agree on is reinforced;
- ``CR``: cross entropy of the prediction on a photometrically distorted ("strong") view of the same frames
  against the hard labels ``[p > 0.5]`` of the plain ("weak") view. The trainer supplies the strong view in
  ``QueryBatch.strong_images`` (``uses_strong_view``); the strong forward pass runs here, without stage outputs.

Pixel term: ``PLL + alpha NL + beta CR`` with alpha 0.1, beta 0.2 (paper 003 Sec. V-B). PLL and NL, which compare
with labels, carry ActionVOS's pixel weights; CR is label-free and unweighted. Spatial augmentation must stay off.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from actiseg_core.learners.base import QueryBatch, StepInfo
from actiseg_core.learners.history import PixelHistoryLearner
from actiseg_core.learners.losses import pixel_mean
from actiseg_core.learners.pixel import ActionVOSCoefficients
from actiseg_core.model.segmenter import SegmenterOutput

MAX_VISITS = 127  # 2 * 127 = 254 fits the uint8 count M1


@dataclass(frozen=True)
class NPNConfig(ActionVOSCoefficients):
    """alpha weighs the negative-learning term, beta the weak -> strong consistency (paper 003: 0.1, 0.2)."""

    alpha: float = 0.1
    beta: float = 0.2


def proxy_labels(count_one: Tensor, visits: Tensor) -> tuple[Tensor, Tensor]:
    """``(y*, w)`` from ``M1`` and the visit count v (broadcastable): ``M0 = 2v - M1``; ties go to foreground."""
    count_one = count_one.float()
    count_zero = 2 * visits.float() - count_one
    proxy = (count_one >= count_zero).float()
    reliability = torch.maximum(count_one, count_zero) / (count_one + count_zero)
    return proxy, reliability


def negative_learning_loss(logits: Tensor, candidate_one: Tensor, candidate_zero: Tensor) -> Tensor:
    """Eq. 3 per pixel: ``-[A1 = 0] log(1 - p) - [A0 = 0] log p``, with ``-log p = softplus(-x)``."""
    return (candidate_one == 0) * F.softplus(logits) + (candidate_zero == 0) * F.softplus(-logits)


class NPNLearner(PixelHistoryLearner):
    terms = ("positive", "pll", "nl", "cr", "dice")
    config_type = NPNConfig
    config: NPNConfig
    uses_strong_view = True

    def counts(self, candidate_one: Tensor, query_ids: Tensor) -> tuple[Tensor, Tensor]:
        """Add this visit's ``A1`` to ``M1`` (queries below :data:`MAX_VISITS`); returns ``(M1, v)`` after it."""
        store, device = self.history, candidate_one.device
        visits = store.visits[query_ids.cpu()].to(device)
        previous = torch.where(visits.view(-1, 1, 1, 1) > 0, store.read(query_ids, device).long(), 0)
        counting = visits < MAX_VISITS
        updated = previous + candidate_one.long() * counting.view(-1, 1, 1, 1)
        store.write(query_ids[counting], updated[counting])
        return updated, visits + counting.long()

    def pixel_loss(self, outputs: SegmenterOutput, batch: QueryBatch,
                   step: StepInfo) -> tuple[Tensor, dict[str, Tensor]]:
        if batch.strong_images is None:
            raise ValueError("NPN needs the strong view: QueryBatch.strong_images is None")
        cfg, logits, labels = self.config, outputs.mask_logits, batch.targets
        predicted = (logits.detach() > 0).float()  # p > 0.5
        candidate_one, candidate_zero = labels + predicted, (1 - labels) + (1 - predicted)
        count_one, visits = self.counts(candidate_one, batch.query_ids)
        proxy, reliability = proxy_labels(count_one, visits.view(-1, 1, 1, 1))
        pll = pixel_mean(batch.weights * reliability * F.binary_cross_entropy_with_logits(logits, proxy,
                                                                                          reduction="none"))
        nl = pixel_mean(batch.weights * negative_learning_loss(logits, candidate_one, candidate_zero))
        strong = self.model(batch.strong_images, batch.text_embeddings, batch.frame_index, with_stages=False)
        cr = pixel_mean(F.binary_cross_entropy_with_logits(strong.mask_logits, predicted, reduction="none"))
        return pll + cfg.alpha * nl + cfg.beta * cr, {"pll": pll, "nl": nl, "cr": cr}
