"""Behaviour of the robust learners as the authors' released code runs them (``mylwx/ActiSeg-NL`` at cf7dd38;
``benchmarks/results/actiseg_nl_fidelity.md``): what each does to a wrong label, a flipped label with a history, a
dilated pixel, a realistic batch, and PMHM's regions. Tiny CPU tensors; every test goes through a learner."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from actiseg_core.learners import (
    APLLearner,
    CoTeachingLearner,
    ELRLearner,
    GCELearner,
    LearnerContext,
    NPNLearner,
    PMHMLearner,
    QueryBatch,
    SCELearner,
    StepInfo,
)
from actiseg_core.model import SegmenterOutput
from actiseg_core.uncertainty import gradient_magnitude

WRONG = -6.0  # logit of a pixel the model confidently calls background while its label says foreground: p 0.0025
UNDECIDED = 0.0
NPN_WARMUP_EPOCHS = 2  # the released runs' --warmup_epochs_npn


class FixedModel(nn.Module):
    """Stands in for the segmenter: returns ``outputs`` whatever it is given."""

    def __init__(self, outputs: SegmenterOutput | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.outputs = outputs

    def forward(
        self, images: torch.Tensor, text: torch.Tensor, frame_index: torch.Tensor, with_stages: bool = True
    ) -> SegmenterOutput | None:
        return self.outputs


def _context(
    models: list[nn.Module] | None = None, num_queries: int = 4, input_size: tuple[int, int] = (1, 4)
) -> LearnerContext:
    queue = list(models or [])
    return LearnerContext(
        build_model=lambda: queue.pop(0) if queue else FixedModel(), num_queries=num_queries, input_size=input_size
    )


def _outputs(
    mask_logits: torch.Tensor, aux_logits: torch.Tensor | None = None, stage_logits: list[torch.Tensor] | None = None
) -> SegmenterOutput:
    return SegmenterOutput(
        mask_logits=mask_logits.clone().requires_grad_(True),
        stage_logits=stage_logits or [],
        aux_logits=aux_logits,
        positive_logits=torch.zeros(len(mask_logits)),
    )


def _batch(targets: torch.Tensor, weights: torch.Tensor | None = None, strong: bool = False) -> QueryBatch:
    k, _, h, w = targets.shape
    return QueryBatch(
        images=torch.zeros(1, 3, h, w),
        text_embeddings=torch.zeros(k, 8),
        frame_index=torch.zeros(k, dtype=torch.long),
        targets=targets,
        weights=torch.ones_like(targets) if weights is None else weights,
        positives=(targets.flatten(1).amax(1) > 0).float(),
        query_ids=torch.arange(k),
        frame_ids=torch.zeros(1, dtype=torch.long),
        strong_images=torch.zeros(1, 3, h, w) if strong else None,
    )


def _step(epoch: int, steps_per_epoch: int = 10, epochs: int = 10) -> StepInfo:
    return StepInfo(
        step=epoch * steps_per_epoch, epoch=epoch, steps_per_epoch=steps_per_epoch, total_steps=epochs * steps_per_epoch
    )


def _logit_grad(term: torch.Tensor, outputs: SegmenterOutput) -> torch.Tensor:
    """d term.sum() / d mask logits, times the pixels of a query: the pull of each pixel before the per-query mean."""
    (grad,) = torch.autograd.grad(term.sum(), outputs.mask_logits, retain_graph=True)
    return grad * outputs.mask_logits[0].numel()


def _ce_pull(logit: float) -> float:
    """|d CE / d logit| of a foreground label: 1 - p."""
    return 1 - 1 / (1 + math.exp(-logit))


# ---- GCE, SCE, APL: a wrong label's pull is bounded where CE's is not ---------------------------------------------


def _wrong_and_undecided() -> tuple[SegmenterOutput, QueryBatch]:
    """Two queries of the same two foreground-labelled pixels (confidently wrong, undecided); query 1 has pixel
    weight 5 (ActionVOS's weight of a hand AND narration object)."""
    logits = torch.tensor([WRONG, UNDECIDED]).view(1, 1, 1, 2).repeat(2, 1, 1, 1)
    weights = torch.ones(2, 1, 1, 2)
    weights[1] = 5.0
    return _outputs(logits), _batch(torch.ones(2, 1, 1, 2), weights)


def _ratio_to_ce(grad: torch.Tensor) -> float:
    """(pull on the wrong pixel / pull on the undecided one) relative to CE's (1.0 / 0.5): 1 for CE itself."""
    return (grad[0].abs() / grad[1].abs()).item() / (_ce_pull(WRONG) / _ce_pull(UNDECIDED))


def test_gce_term_bounds_a_wrong_labels_pull_ignores_pixel_weights_and_keeps_the_weighted_focal() -> None:
    outputs, batch = _wrong_and_undecided()
    learner = GCELearner(_context())
    pixel, terms = learner.pixel_loss(outputs, batch, _step(0))
    grad = _logit_grad(terms["gce"], outputs)[:, 0, 0]
    assert grad[0, 0].abs() < 0.02 * _ce_pull(WRONG)  # r^q (1 - r): ~0.015 where CE pulls ~1.0
    assert _ratio_to_ce(grad[0]) < 0.1  # CE pulls a confidently wrong pixel hardest, GCE least
    torch.testing.assert_close(grad[1], grad[0])  # the released GCE term is unweighted: weight 5 pulls no harder
    # the released run keeps ActionVOS's weighted focal beside it: the weight-5 query's pixel term pulls harder
    total = _logit_grad(pixel, outputs)[:, 0, 0]
    assert total[1, 1].abs() > 1.5 * total[0, 1].abs()


def test_sce_at_released_weights_pulls_a_wrong_label_a_tenth_as_hard_as_ce() -> None:
    outputs, batch = _wrong_and_undecided()
    learner = SCELearner(_context())
    cfg = learner.config
    _, terms = learner.pixel_loss(outputs, batch, _step(0))
    grad = _logit_grad(cfg.alpha * terms["ce"] + cfg.beta * terms["rce"], outputs)[0, 0, 0]
    assert grad[0].abs() < 0.15 * _ce_pull(WRONG)  # 0.1 CE + 9.2 p (1 - p): ~0.12 where CE pulls ~1.0
    assert _ratio_to_ce(grad) < 0.1  # and RCE pulls hardest on the undecided pixel (~2.3)


def test_apl_at_released_weights_fits_undecided_pixels_hard_and_wrong_ones_barely() -> None:
    outputs, batch = _wrong_and_undecided()
    learner = APLLearner(_context())
    cfg = learner.config
    _, terms = learner.pixel_loss(outputs, batch, _step(0))
    grad = _logit_grad(cfg.active_coef * terms["active"] + cfg.passive_coef * terms["passive"], outputs)[0, 0, 0]
    assert grad[0].abs() < 0.2 * _ce_pull(WRONG)  # 10 r^q (1 - r) + r (1 - r) fall off as r -> 0
    assert _ratio_to_ce(grad) < 0.1
    assert grad[1].abs() > 5 * _ce_pull(UNDECIDED)  # the active term at 10x: ~3.3 where CE pulls 0.5


# ---- ELR: the history pulls against a flipped label ------------------------------------------------------------


def test_elr_history_pulls_against_a_label_flipped_after_several_visits() -> None:
    background = torch.full((1, 1, 4, 4), math.log(0.1 / 0.9))  # p = 0.1 everywhere, visit after visit
    clean, flipped = torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    flipped[0, 0, 0, 0] = 1.0  # a label that turns foreground on the fourth visit
    learner = ELRLearner(_context(num_queries=1, input_size=(4, 4)))
    for _ in range(3):  # three visits on which label and prediction agree on background
        learner.pixel_loss(_outputs(background), _batch(clean), _step(0))
    outputs = _outputs(background)
    pixel, _ = learner.pixel_loss(outputs, _batch(flipped), _step(0))
    assert _logit_grad(pixel, outputs)[0, 0, 0, 0] > 0  # descent lowers the logit: the history wins over the label
    first = ELRLearner(_context(num_queries=1, input_size=(4, 4)))
    outputs = _outputs(background)
    pixel, _ = first.pixel_loss(outputs, _batch(flipped), _step(0))
    assert _logit_grad(pixel, outputs)[0, 0, 0, 0] < 0  # with no history yet, the label is fitted


# ---- NPN: a dilated pixel becomes background after warm-up -----------------------------------------------------


def test_npn_relabels_a_dilated_pixel_background_after_warm_up() -> None:
    # pixels: clean foreground (confident 0.9), dilated (label 1, confidently predicted 0.1), clean background,
    # an unsure foreground (0.6: no vote, so its label alone is the candidate)
    probabilities = torch.tensor([0.9, 0.1, 0.1, 0.6])
    logits = torch.log(probabilities / (1 - probabilities)).view(1, 1, 1, 4)
    labels = torch.tensor([1.0, 1.0, 0.0, 1.0]).view(1, 1, 1, 4)
    strong = _outputs(logits)
    learner = NPNLearner(_context([FixedModel(strong)], num_queries=1))
    warm_up = []
    for epoch in range(NPN_WARMUP_EPOCHS):
        outputs = _outputs(logits)
        pixel, terms = learner.pixel_loss(outputs, _batch(labels, strong=True), _step(epoch))
        warm_up.append((terms["pll"].item(), _logit_grad(pixel, outputs)[0, 0, 0, 1].item()))
    outputs = _outputs(logits)
    pixel, terms = learner.pixel_loss(outputs, _batch(labels, strong=True), _step(NPN_WARMUP_EPOCHS))
    grad = _logit_grad(pixel, outputs)[0, 0, 0]
    assert grad[1] > 0  # the dilated pixel is now pushed toward background, against its label
    assert grad[0] < 0 and grad[3] < 0 and grad[2] > 0  # the others keep their labels
    assert terms["cr"].item() > 0  # the strong view is fitted to the weak view's confident classes
    # during warm-up the labels were fitted (focal, no proxy labels yet) while the counts filled
    assert all(pll == 0.0 and pull < 0 for pll, pull in warm_up)


# ---- Co-teaching: a realistic batch really loses its largest losses --------------------------------------------


@pytest.mark.parametrize(("epoch", "kept"), [(0, 36), (3, 34), (6, 32), (9, 32)])
def test_coteaching_drops_the_released_share_of_a_38_query_batch(epoch: int, kept: int) -> None:
    generator = torch.Generator().manual_seed(epoch)
    queries = 38

    def outputs() -> SegmenterOutput:
        return SegmenterOutput(
            mask_logits=(3 * torch.randn(queries, 1, 2, 3, generator=generator)).requires_grad_(),
            stage_logits=[],
            aux_logits=None,
            positive_logits=torch.randn(queries, generator=generator),
        )

    primary, peer = outputs(), outputs()
    targets = (torch.rand(queries, 1, 2, 3, generator=generator) > 0.5).float()
    batch = _batch(targets)
    learner = CoTeachingLearner(_context([FixedModel(), FixedModel(peer)], num_queries=queries))
    total, terms = learner.loss(primary, batch, _step(epoch))
    total.backward()
    trained = (primary.mask_logits.grad.flatten(1).abs().sum(1) > 0).nonzero().flatten().tolist()
    assert len(trained) == kept  # floor(R K) with R = 0.95, 0.90, 0.85, 0.85
    assert terms["keep_rate"] == pytest.approx(0.95 - 0.1 * min(epoch / 6, 1.0))
    peer_losses, _ = learner.query_loss(peer, batch, _step(epoch))
    assert sorted(trained) == sorted(torch.argsort(peer_losses.detach())[:kept].tolist())  # the peer's smallest
    log = learner.selection_log  # what the benchmark holds against the recorded flips: the dropped ones
    assert log.visits.tolist() == [1] * queries
    assert sorted(log.picked.nonzero().flatten().tolist()) == sorted(set(range(queries)) - set(trained))


# ---- PMHM: quantile regions, hard loss where the heads agree, Tversky on U ---------------------------------------


def _pmhm_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A smooth, everywhere-confident main map (p in 0.77..0.97: no pixel inside the paper's absolute 0.2 margin,
    no edge steeper than its absolute 0.85), an aux head that disagrees on one block, labels with a dilated rim."""
    y, x = torch.meshgrid(torch.arange(12.0), torch.arange(16.0), indexing="ij")
    p = 0.87 + 0.1 * torch.sin(0.5 * x + 0.3) * torch.cos(0.4 * y)
    main = torch.log(p / (1 - p)).view(1, 1, 12, 16)
    aux = main.clone()
    aux[..., 2:6, 2:6] = -main[..., 2:6, 2:6]  # the aux head calls this block background
    labels = torch.zeros(1, 1, 12, 16)
    labels[..., 3:9, 4:13] = 1.0
    return p.view(1, 1, 12, 16), main, aux, labels


def _expected_regions(p: torch.Tensor, aux: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """U and S from the released definitions, written out: quantiles of this map's margin and Sobel magnitude."""
    margin, edge = (p - 0.5).abs(), gradient_magnitude(p)
    uncertain = (margin < torch.quantile(margin, 0.20)) | (edge > torch.quantile(edge, 0.85))
    agree = (p > 0.5) == (aux > 0)
    return uncertain, (margin >= torch.quantile(margin, 0.60)) & agree


def _pmhm_loss(
    main: torch.Tensor, aux: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, SegmenterOutput, dict[str, float]]:
    outputs = _outputs(main, aux_logits=aux, stage_logits=[main.clone() for _ in range(3)])
    learner = PMHMLearner(_context(num_queries=1, input_size=(12, 16)), freeze_rate=0.0)
    total, terms = learner.loss(outputs, _batch(labels), _step(0))
    return total, outputs, terms


def test_pmhm_regions_are_per_sample_quantiles_and_only_they_get_gradient() -> None:
    p, main, aux, labels = _pmhm_case()
    uncertain, confident = _expected_regions(p, aux)
    total, outputs, terms = _pmhm_loss(main, aux, labels)
    # the paper's absolute thresholds would find nothing uncertain on this map; the quantiles find their share
    assert terms["uncertain"] == pytest.approx(uncertain.float().mean().item()) and terms["uncertain"] >= 0.2
    assert terms["confident"] == pytest.approx(confident.float().mean().item())
    assert 0 < confident.sum() < (p - 0.5).abs().ge(torch.quantile((p - 0.5).abs(), 0.6)).sum()  # k-agree cut it
    grad = _logit_grad(total, outputs)
    supervised = uncertain | confident
    assert (grad[~supervised] == 0).all()  # decided pixels below tau_h, and those the heads disagree on, are left
    assert (grad[confident & ~uncertain] != 0).all()  # the agreed, confident region is fitted to its labels
    assert (grad[uncertain] != 0).any()


def test_pmhm_uncertain_region_keeps_its_labels_through_tversky() -> None:
    p, main, aux, labels = _pmhm_case()
    uncertain, confident = _expected_regions(p, aux)
    only_uncertain = uncertain & ~confident
    assert only_uncertain.any()
    total, outputs, _ = _pmhm_loss(main, aux, labels)
    flipped_labels = torch.where(only_uncertain, 1 - labels, labels)
    flipped, _, _ = _pmhm_loss(main, aux, flipped_labels)
    assert not torch.isclose(flipped, total)  # U's labels still count (leniently), they are not dropped
    outside = ~(uncertain | confident)
    unchanged, _, _ = _pmhm_loss(main, aux, torch.where(outside, 1 - labels, labels))
    torch.testing.assert_close(unchanged, total)  # labels outside S and U are not read at all
    # inside U a foreground label pulls its pixel up, a background one pulls it down (false positives cost more)
    grad = _logit_grad(total, outputs)
    away = only_uncertain & ((main > 0) == (aux > 0))  # away from the block, L_head adds nothing
    foreground, background = away & (labels > 0.5), away & (labels < 0.5)
    assert foreground.any() and background.any()
    assert grad[background].mean() > 0 > grad[foreground].mean()
