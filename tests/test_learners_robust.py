"""Math of the robust learners and PMHM on toy tensors, against their equations (paper 003 Sec. IV, DESIGN §6)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from actiseg_core.learners import (
    APLLearner,
    BaselineLearner,
    CoTeachingLearner,
    ELRLearner,
    GCELearner,
    LearnerContext,
    NPNLearner,
    PMHMLearner,
    PMHMSelectLearner,
    QueryBatch,
    QuerySelectLearner,
    SCELearner,
    StepInfo,
    get_learner,
    learner_names,
)
from actiseg_core.learners.coteaching import keep_rate, small_loss_picks
from actiseg_core.learners.elr import elr_regulariser
from actiseg_core.learners.history import QueryPixelStore
from actiseg_core.learners.losses import (
    dice_loss,
    gce_loss,
    mae_loss,
    pixel_mean,
    positive_focal_loss,
    reverse_ce_loss,
    symmetric_kl,
)
from actiseg_core.learners.npn import negative_learning_loss, proxy_labels
from actiseg_core.learners.pmhm import aux_frozen, freeze_probability, uncertain_pixels
from actiseg_core.learners.query_selection import class_balanced_picks, progress_keep_rate
from actiseg_core.model import SegmenterOutput
from actiseg_core.uncertainty import gradient_magnitude

K, H, W = 3, 4, 6
STEP = StepInfo(step=0, epoch=0, steps_per_epoch=1, total_steps=1)


def _logits(*shape: int, seed: int = 0) -> torch.Tensor:
    return 3 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _targets(*shape: int, seed: int = 1) -> torch.Tensor:
    return (torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) > 0.6).float()


class FixedModel(nn.Module):
    """Stands in for the segmenter: returns ``outputs`` whatever it is given, and records the images it saw."""

    def __init__(self, outputs: SegmenterOutput | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.outputs = outputs
        self.seen: list[torch.Tensor] = []

    def forward(self, images: torch.Tensor, text: torch.Tensor, frame_index: torch.Tensor,
                with_stages: bool = True) -> SegmenterOutput:
        self.seen.append(images)
        return self.outputs


def _context(models: list[nn.Module] | None = None, num_queries: int = K,
             input_size: tuple[int, int] = (H, W)) -> LearnerContext:
    queue = list(models or [])
    return LearnerContext(build_model=lambda: queue.pop(0) if queue else FixedModel(), num_queries=num_queries,
                          input_size=input_size)


def _outputs(seed: int = 0, with_aux: bool = False) -> SegmenterOutput:
    return SegmenterOutput(mask_logits=_logits(K, 1, H, W, seed=seed).requires_grad_(True),
                           stage_logits=[_logits(K, 1, H, W, seed=seed + 10 + i) for i in range(3)],
                           aux_logits=_logits(K, 1, H, W, seed=seed + 20).requires_grad_(True) if with_aux else None,
                           positive_logits=_logits(K, seed=seed + 30))


def _batch(seed: int = 1, strong: bool = False) -> QueryBatch:
    weights = torch.ones(K, 1, H, W)
    weights[1] = 5.0
    return QueryBatch(images=torch.rand(1, 3, H, W), text_embeddings=torch.zeros(K, 384),
                      frame_index=torch.zeros(K, dtype=torch.long), targets=_targets(K, 1, H, W, seed=seed),
                      weights=weights, positives=torch.tensor([1.0, 0.0, 1.0]), query_ids=torch.arange(K),
                      frame_ids=torch.zeros(1, dtype=torch.long),
                      strong_images=torch.rand(1, 3, H, W) if strong else None)


def _frame_terms(outputs: SegmenterOutput, batch: QueryBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """The baseline's positive-head and Dice terms, which every single-network learner keeps."""
    positive = positive_focal_loss(outputs.positive_logits, batch.positives).mean()
    return positive, dice_loss(outputs.mask_logits, batch.targets).mean()


def test_registry_lists_every_learner_in_design_order() -> None:
    assert learner_names() == ("baseline", "coteaching", "gce", "sce", "apl", "elr", "npn", "pmhm", "pmhm_select",
                              "query_select")
    for name in learner_names():
        assert get_learner(name, _context()).models()[0] is not None
    assert get_learner("gce", _context(), q=0.5).config.q == 0.5


# ---- GCE ------------------------------------------------------------------------------------------------------------

def test_gce_tends_to_cross_entropy_as_q_goes_to_zero() -> None:
    logits, targets = _logits(K, 1, H, W), _targets(K, 1, H, W)
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    torch.testing.assert_close(gce_loss(logits, targets, 1e-5), bce, rtol=1e-3, atol=1e-5)


def test_gce_at_q_one_is_one_minus_r_and_matches_the_definition_between() -> None:
    logits, targets = _logits(K, 1, H, W), _targets(K, 1, H, W)
    p = logits.sigmoid()
    r = targets * p + (1 - targets) * (1 - p)
    torch.testing.assert_close(gce_loss(logits, targets, 1.0), 1 - r)
    torch.testing.assert_close(gce_loss(logits, targets, 1.0), mae_loss(logits, targets))
    torch.testing.assert_close(gce_loss(logits, targets, 0.7), (1 - r ** 0.7) / 0.7)
    with pytest.raises(ValueError, match="q in"):
        gce_loss(logits, targets, 0.0)


def test_gce_learner_replaces_only_the_pixel_term() -> None:
    outputs, batch = _outputs(), _batch()
    total, terms = GCELearner(_context()).loss(outputs, batch, STEP)
    positive, dice = _frame_terms(outputs, batch)
    gce = (batch.weights * gce_loss(outputs.mask_logits, batch.targets, 0.7)).flatten(1).mean(1).mean()
    torch.testing.assert_close(total, 2 * positive + 2 * gce + 5 * dice)
    assert terms["gce"] == pytest.approx(gce.item()) and set(terms) == {"positive", "gce", "dice"}


# ---- SCE ------------------------------------------------------------------------------------------------------------

def test_reverse_ce_clamps_log_zero_to_minus_four() -> None:
    logits = torch.tensor([0.3, -1.0, 2.0, 0.0])
    targets = torch.tensor([1.0, 1.0, 0.0, 0.0])
    p = logits.sigmoid()
    # y = 1: -[p log 1 + (1 - p) A] = 4 (1 - p); y = 0: -[p A + (1 - p) log 1] = 4 p
    expected = torch.tensor([4 * (1 - p[0]), 4 * (1 - p[1]), 4 * p[2], 4 * p[3]])
    torch.testing.assert_close(reverse_ce_loss(logits, targets), expected)
    torch.testing.assert_close(reverse_ce_loss(logits, targets, log_zero=-2.0), expected / 2)


def test_sce_is_alpha_ce_plus_beta_rce() -> None:
    outputs, batch = _outputs(), _batch()
    learner = SCELearner(_context(), alpha=0.3, beta=0.7)
    total, terms = learner.loss(outputs, batch, STEP)
    w = batch.weights
    ce = (w * F.binary_cross_entropy_with_logits(outputs.mask_logits, batch.targets, reduction="none")).mean((1, 2, 3))
    rce = (w * 4 * (outputs.mask_logits.sigmoid() - batch.targets).abs()).mean((1, 2, 3))
    positive, dice = _frame_terms(outputs, batch)
    torch.testing.assert_close(total, 2 * positive + 2 * (0.3 * ce + 0.7 * rce).mean() + 5 * dice)
    assert terms["ce"] == pytest.approx(ce.mean().item()) and terms["rce"] == pytest.approx(rce.mean().item())


# ---- APL ------------------------------------------------------------------------------------------------------------

def test_apl_is_active_plus_passive() -> None:
    outputs, batch = _outputs(), _batch()
    total, terms = APLLearner(_context()).loss(outputs, batch, STEP)
    active = pixel_mean(batch.weights * gce_loss(outputs.mask_logits, batch.targets, 0.7))
    passive = pixel_mean(batch.weights * (outputs.mask_logits.sigmoid() - batch.targets).abs())
    positive, dice = _frame_terms(outputs, batch)
    torch.testing.assert_close(total, 2 * positive + 2 * (active + passive).mean() + 5 * dice)
    assert terms["active"] == pytest.approx(active.mean().item())
    assert terms["passive"] == pytest.approx(passive.mean().item())


# ---- ELR ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("history", "sign"), [(0.9, -1.0), (0.2, 1.0), (0.5, 0.0)])
def test_elr_regulariser_pulls_the_prediction_toward_its_history(history: float, sign: float) -> None:
    p = torch.tensor([0.3, 0.6, 0.95], requires_grad=True)
    elr_regulariser(p, torch.full((3,), history), 1.0, 1e-6).sum().backward()
    # gradient descent moves p against the gradient: up when the history says foreground, down when background
    if sign == 0.0:
        torch.testing.assert_close(p.grad, torch.zeros(3))
    else:
        assert (torch.sign(p.grad) == sign).all(), p.grad
    # and agreeing with a confident history costs less than disagreeing with it
    low = elr_regulariser(torch.tensor(0.9), torch.tensor(0.9), 1.0, 1e-6)
    assert low < elr_regulariser(torch.tensor(0.1), torch.tensor(0.9), 1.0, 1e-6)


def test_elr_regulariser_is_weak_while_the_history_is_young() -> None:
    """A zero-started target has mass 1 - beta^n; after one visit (0.1) R's pull on the logit is at most ~0.1,
    where a full-mass history pulls several times harder (ELR's gradient p (d - t_fg) / (1 - d) per logit)."""
    logits = torch.tensor([-4.0, -2.0, 0.0, 2.0], requires_grad=True)

    def pull(mass: float) -> torch.Tensor:
        logits.grad = None
        p = logits.sigmoid()
        elr_regulariser(p, mass * p.detach(), mass, 0.0).sum().backward()
        return logits.grad.abs()

    assert (pull(0.1) <= 0.11).all(), pull(0.1)
    assert pull(1.0).max() > 4 * pull(0.1).max()


def test_elr_history_is_a_zero_started_ema_of_the_prediction_with_its_mass() -> None:
    learner = ELRLearner(_context())
    ids = torch.tensor([2, 0])
    first, mass = learner.targets(torch.full((2, 1, H, W), 0.8), ids)
    torch.testing.assert_close(first, torch.full((2, 1, H, W), 0.1 * 0.8), atol=0.5 / 255, rtol=0)
    torch.testing.assert_close(mass, torch.full((2, 1, 1, 1), 0.1))
    second, mass = learner.targets(torch.full((2, 1, H, W), 0.2), ids)
    torch.testing.assert_close(second, torch.full((2, 1, H, W), 0.9 * 0.08 + 0.1 * 0.2), atol=1 / 255, rtol=0)
    torch.testing.assert_close(mass, torch.full((2, 1, 1, 1), 1 - 0.9 ** 2))
    assert learner.history.visits.tolist() == [2, 0, 2]  # query 1 never seen
    assert (second <= mass).all()  # t_bg = mass - t_fg stays a probability mass


def test_elr_loss_is_focal_plus_lambda_regulariser() -> None:
    outputs, batch = _outputs(), _batch()
    learner = ELRLearner(_context(), reg_coef=0.5)
    total, terms = learner.loss(outputs, batch, STEP)
    history = learner.history.read(batch.query_ids, torch.device("cpu")).float() / 255
    p = outputs.mask_logits.sigmoid()
    focal = pixel_mean(0.5 * batch.targets * (1 - p) ** 2 * -torch.log(p) * batch.weights
                       + 0.5 * (1 - batch.targets) * p ** 2 * -torch.log(1 - p) * batch.weights)
    clamped = p.clamp(1e-4, 1 - 1e-4)  # first visit: mass 1 - 0.9 = 0.1
    regulariser = pixel_mean(torch.log(1 - (clamped * history + (1 - clamped) * (0.1 - history)) + 1e-6))
    positive, dice = _frame_terms(outputs, batch)
    torch.testing.assert_close(total, 2 * positive + 2 * (focal + 0.5 * regulariser).mean() + 5 * dice)
    assert terms["elr_reg"] == pytest.approx(regulariser.mean().item(), rel=1e-5)


def test_pixel_store_round_trips_visited_rows_only() -> None:
    store = QueryPixelStore(5, (H, W))
    assert store.nbytes == 5 * H * W
    rows = torch.randint(0, 256, (2, 1, H, W), dtype=torch.uint8)
    store.write(torch.tensor([4, 1]), rows)
    state = store.state_dict()
    assert state["ids"].tolist() == [1, 4] and state["rows"].shape == (2, H, W)
    restored = QueryPixelStore(5, (H, W))
    restored.load_state_dict(state)
    torch.testing.assert_close(restored.read(torch.tensor([4, 1]), torch.device("cpu")), rows)
    assert restored.visits.tolist() == [0, 1, 0, 0, 1]
    with pytest.raises(ValueError, match="does not fit"):
        QueryPixelStore(6, (H, W)).load_state_dict(state)


# ---- NPN ------------------------------------------------------------------------------------------------------------

def test_npn_proxy_labels_and_reliability_from_counts() -> None:
    count_one = torch.tensor([3.0, 2.0, 0.0, 8.0])
    visits = torch.tensor([2, 2, 3, 5])  # M0 = 2v - M1 = 1, 2, 6, 2
    proxy, reliability = proxy_labels(count_one, visits)
    assert proxy.tolist() == [1.0, 1.0, 0.0, 1.0]  # M1 >= M0; a tie goes to foreground
    torch.testing.assert_close(reliability, torch.tensor([3 / 4, 2 / 4, 6 / 6, 8 / 10]))


def test_npn_counts_accumulate_candidate_indicators() -> None:
    learner = NPNLearner(_context(num_queries=2, input_size=(1, 4)))
    ids = torch.tensor([0, 1])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0]).view(1, 1, 1, 4).expand(2, 1, 1, 4)
    predicted = torch.tensor([1.0, 0.0, 1.0, 0.0]).view(1, 1, 1, 4).expand(2, 1, 1, 4)
    for visit in (1, 2):
        count_one, visits = learner.counts(labels + predicted, ids)  # A1 = y + [p > 0.5] = 2, 1, 1, 0
        assert count_one[0, 0, 0].tolist() == [2 * visit, visit, visit, 0] and visits.tolist() == [visit, visit]
    proxy, reliability = proxy_labels(count_one, visits.view(-1, 1, 1, 1))
    # label and prediction agree on pixels 0 and 3: certain; they disagree on 1 and 2: a coin flip, foreground wins
    assert proxy[0, 0, 0].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert reliability[0, 0, 0].tolist() == [1.0, 0.5, 0.5, 1.0]


def test_npn_negative_learning_reinforces_where_label_and_prediction_agree() -> None:
    logits = torch.tensor([2.0, -1.0, 0.5, -3.0])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0])
    predicted = (logits > 0).float()
    loss = negative_learning_loss(logits, labels + predicted, (1 - labels) + (1 - predicted))
    # pixel 0: A0 = 0 -> -log p; pixel 3: A1 = 0 -> -log(1 - p); pixels 1, 2 disagree -> 0
    expected = torch.tensor([-math.log(torch.sigmoid(logits[0])), 0.0, 0.0, -math.log(1 - torch.sigmoid(logits[3]))])
    torch.testing.assert_close(loss, expected)


def test_npn_loss_combines_pll_nl_and_weak_to_strong_consistency() -> None:
    outputs, batch = _outputs(), _batch(strong=True)
    strong = _outputs(seed=5)
    model = FixedModel(strong)
    learner = NPNLearner(_context([model]), alpha=0.3, beta=0.4)
    total, terms = learner.loss(outputs, batch, STEP)
    assert model.seen[0] is batch.strong_images
    predicted = (outputs.mask_logits.detach() > 0).float()
    # first visit: M1 = A1, v = 1
    proxy, reliability = proxy_labels(batch.targets + predicted, torch.ones(1))
    bce = F.binary_cross_entropy_with_logits
    pll = pixel_mean(batch.weights * reliability * bce(outputs.mask_logits, proxy, reduction="none"))
    nl = pixel_mean(batch.weights * negative_learning_loss(outputs.mask_logits, batch.targets + predicted,
                                                           (1 - batch.targets) + (1 - predicted)))
    cr = pixel_mean(bce(strong.mask_logits, predicted, reduction="none"))
    positive, dice = _frame_terms(outputs, batch)
    torch.testing.assert_close(total, 2 * positive + 2 * (pll + 0.3 * nl + 0.4 * cr).mean() + 5 * dice)
    assert terms["cr"] == pytest.approx(cr.mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match="strong view"):
        learner.loss(outputs, _batch(), STEP)


# ---- Co-teaching ----------------------------------------------------------------------------------------------------

def test_coteaching_keep_rate_schedule() -> None:
    assert keep_rate(0.0, 0.2, 6.0) == 1.0
    assert keep_rate(3.0, 0.2, 6.0) == pytest.approx(0.9)
    assert keep_rate(6.0, 0.2, 6.0) == pytest.approx(0.8) == keep_rate(20.0, 0.2, 6.0)
    assert small_loss_picks(torch.tensor([0.5, 0.1, 0.9, 0.3]), 0.5).tolist() == [1, 3]
    assert small_loss_picks(torch.tensor([0.5, 0.1]), 0.01).tolist() == [1]  # never an empty batch


def test_coteaching_trains_each_network_on_its_peers_small_loss_picks() -> None:
    primary = _outputs(seed=0)
    peer_outputs = _outputs(seed=7)
    learner = CoTeachingLearner(_context([FixedModel(), FixedModel(peer_outputs)]), forget_rate=0.5,
                                rampup_epochs=2.0)
    assert len(learner.models()) == 2 and learner.models()[1] is learner.peer
    late = StepInfo(step=40, epoch=4, steps_per_epoch=10, total_steps=50)  # past T_k: keep 1 - 0.5 of 3 -> 2
    total, terms = learner.loss(primary, _batch(), late)
    total.backward()
    assert terms["keep_rate"] == 0.5
    own, _ = learner.query_loss(primary, _batch(), late)
    peer, _ = learner.query_loss(peer_outputs, _batch(), late)
    peer_picks, own_picks = set(small_loss_picks(peer, 0.5).tolist()), set(small_loss_picks(own, 0.5).tolist())
    trained_primary = {k for k in range(K) if primary.mask_logits.grad[k].abs().sum() > 0}
    trained_peer = {k for k in range(K) if peer_outputs.mask_logits.grad[k].abs().sum() > 0}
    assert trained_primary == peer_picks and trained_peer == own_picks
    assert terms["loss_primary"] == pytest.approx(own[sorted(peer_picks)].mean().item())


def test_coteaching_state_carries_the_peer() -> None:
    learner = get_learner("coteaching", _context([nn.Linear(2, 2), nn.Linear(2, 2)]))
    other = get_learner("coteaching", _context([nn.Linear(2, 2), nn.Linear(2, 2)]))
    other.load_state_dict(learner.state_dict())
    torch.testing.assert_close(other.peer.weight, learner.peer.weight)


# ---- PMHM -----------------------------------------------------------------------------------------------------------

def _logit(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p / (1 - p))


def test_pmhm_uncertain_set_is_the_margin_band_or_a_steep_edge() -> None:
    p = torch.full((1, 1, 8, 12), 0.95)
    p[..., :, :4] = 0.02  # a sharp edge between columns 3 and 4: both confident, the jump is steep
    p[..., 0, 8] = 0.6  # inside the margin |p - 0.5| < 0.2
    p[..., 4:, 10:] = 0.95 - 0.01 * torch.arange(2)  # a gentle slope: confident, not an edge
    uncertain = uncertain_pixels(_logit(p), tau_m=0.2, tau_e=0.85)
    assert uncertain[0, 0, :, 3:5].all()  # the edge band
    assert uncertain[0, 0, 0, 8]  # the margin pixel
    assert not uncertain[0, 0, 4:, 10:].any() and not uncertain[0, 0, :, :2].any()
    flat = gradient_magnitude(torch.full((1, 1, 5, 5), 0.7))
    torch.testing.assert_close(flat, torch.zeros_like(flat))


def test_symmetric_kl_is_zero_for_equal_maps_symmetric_and_the_two_kls() -> None:
    a, b = _logits(K, 1, H, W, seed=3), _logits(K, 1, H, W, seed=4)
    torch.testing.assert_close(symmetric_kl(a, a), torch.zeros_like(a))
    torch.testing.assert_close(symmetric_kl(a, b), symmetric_kl(b, a))
    p, q = a.sigmoid().double(), b.sigmoid().double()

    def kl(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x * torch.log(x / y) + (1 - x) * torch.log((1 - x) / (1 - y))

    torch.testing.assert_close(symmetric_kl(a, b).double(), kl(p, q) + kl(q, p), rtol=1e-4, atol=1e-5)
    assert (symmetric_kl(a, b) > 0).all()


def test_pmhm_aux_freezing_rate_decays_and_a_frozen_head_gets_no_gradient() -> None:
    total = 2000
    rates = [freeze_probability(StepInfo(n, 0, 1, total), 0.5) for n in (0, 500, 1000, 2000)]
    assert rates == [0.5, 0.375, 0.25, 0.0]
    early = sum(aux_frozen(StepInfo(n, 0, 1, total), 0.5) for n in range(200))
    late = sum(aux_frozen(StepInfo(n, 0, 1, total), 0.5) for n in range(total - 200, total))
    assert early > 70 and late < 10, (early, late)
    assert aux_frozen(StepInfo(7, 0, 1, total), 0.5) == aux_frozen(StepInfo(7, 0, 1, total), 0.5)
    frozen_step = next(n for n in range(total) if aux_frozen(StepInfo(n, 0, 1, total), 0.5))
    free_step = next(n for n in range(total) if not aux_frozen(StepInfo(n, 0, 1, total), 0.5))
    for step, expect_gradient in ((frozen_step, False), (free_step, True)):
        outputs = _outputs(with_aux=True)
        loss, terms = PMHMLearner(_context()).loss(outputs, _batch(), StepInfo(step, 0, 1, total))
        loss.backward()
        assert (outputs.aux_logits.grad is not None) == expect_gradient
        assert terms["aux_frozen"] == float(not expect_gradient)
        assert outputs.mask_logits.grad.abs().sum() > 0


def test_pmhm_loss_terms_follow_eq_5_to_7() -> None:
    outputs, batch = _outputs(with_aux=True), _batch()
    step = StepInfo(0, 0, 1, 10)
    learner = PMHMLearner(_context(), freeze_rate=0.0)
    total, terms = learner.loss(outputs, batch, step)
    uncertain = uncertain_pixels(outputs.mask_logits, 0.2, 0.85)
    assert 0 < uncertain.sum() < uncertain.numel()
    head = (symmetric_kl(outputs.mask_logits, outputs.aux_logits) * uncertain).sum() / uncertain.sum()
    layer = sum(symmetric_kl(outputs.mask_logits, s) for s in outputs.stage_logits) / 3
    layer = (layer * uncertain).sum() / uncertain.sum()
    hard, hard_aux = learner.hard_loss(outputs.mask_logits, batch, ~uncertain).mean(), learner.hard_loss(
        outputs.aux_logits, batch, ~uncertain).mean()
    positive = positive_focal_loss(outputs.positive_logits, batch.positives).mean()
    torch.testing.assert_close(total, 2 * positive + hard + hard_aux + 0.1 * head + 0.1 * layer)
    assert terms["head"] == pytest.approx(head.item()) and terms["layer"] == pytest.approx(layer.item())
    # the hard loss ignores labels inside U: flipping them there changes nothing
    flipped = QueryBatch(**{**batch.__dict__, "targets": torch.where(uncertain, 1 - batch.targets, batch.targets)})
    torch.testing.assert_close(learner.hard_loss(outputs.mask_logits, flipped, ~uncertain).mean(), hard)
    with pytest.raises(ValueError, match="aux head"):
        learner.loss(_outputs(), batch, step)


# ---- PMHM + small-loss query selection (our combined recipe) -------------------------------------------------------

def test_selection_keep_rate_ramps_over_a_fraction_of_the_run() -> None:
    rates = [progress_keep_rate(StepInfo(n, 0, 7, 100), 0.3, 0.3) for n in (0, 15, 30, 99)]
    assert rates == pytest.approx([1.0, 0.85, 0.7, 0.7])
    assert progress_keep_rate(StepInfo(5, 0, 7, 1), 0.3, 0.3) == pytest.approx(0.7)  # a one-step ramp, no 0-division


def test_class_balanced_picks_keep_the_smallest_losses_of_each_class() -> None:
    losses = torch.tensor([0.9, 0.1, 0.5, 0.2, 0.8, 0.3])
    positives = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    assert sorted(class_balanced_picks(losses, positives, 2 / 3).tolist()) == [1, 2, 3, 5]
    assert sorted(class_balanced_picks(losses, torch.ones(6), 0.5).tolist()) == [1, 3, 5]  # one class only


def test_pmhm_select_drops_queries_by_positive_loss_and_keeps_every_consistency_term() -> None:
    outputs, batch = _outputs(with_aux=True), _batch()  # positives [1, 0, 1]
    late = StepInfo(step=90, epoch=9, steps_per_epoch=10, total_steps=100)
    learner = PMHMSelectLearner(_context(), freeze_rate=0.0, forget_rate=0.5)  # keep round(0.5 * 2) = 1 positive
    total, terms = learner.loss(outputs, batch, late)
    supervised, consistency, _ = PMHMLearner(_context(), freeze_rate=0.0).query_terms(outputs, batch, late)
    positive_loss = positive_focal_loss(outputs.positive_logits, batch.positives)
    dropped = 0 if positive_loss[0] > positive_loss[2] else 2  # the active query the positive head disagrees with
    kept = [k for k in range(K) if k != dropped]
    torch.testing.assert_close(total, supervised[kept].mean() + consistency)
    assert terms["keep_rate"] == pytest.approx(0.5)
    total.backward()
    # the dropped query still gets the label-free consistency gradient, so its pixels inside U move
    uncertain = uncertain_pixels(outputs.mask_logits, 0.2, 0.85)
    assert uncertain[dropped].any() and outputs.mask_logits.grad[dropped][uncertain[dropped]].abs().sum() > 0
    assert outputs.mask_logits.grad[dropped][~uncertain[dropped]].abs().sum() == 0  # but none from its labels
    # at the start nothing is dropped: the loss is PMHM's
    early = StepInfo(step=0, epoch=0, steps_per_epoch=10, total_steps=100)
    torch.testing.assert_close(learner.loss(outputs, batch, early)[0],
                               PMHMLearner(_context(), freeze_rate=0.0).loss(outputs, batch, early)[0])


def test_query_select_is_the_baseline_loss_over_the_kept_queries() -> None:
    outputs, batch = _outputs(), _batch()  # positives [1, 0, 1]
    late = StepInfo(step=90, epoch=9, steps_per_epoch=10, total_steps=100)
    total, terms = QuerySelectLearner(_context(), forget_rate=0.5).loss(outputs, batch, late)
    per_query, parts = BaselineLearner(_context()).query_loss(outputs, batch, late)
    dropped = 0 if parts["positive"][0] > parts["positive"][2] else 2
    torch.testing.assert_close(total, per_query[[k for k in range(K) if k != dropped]].mean())
    assert terms["keep_rate"] == pytest.approx(0.5)
    early = StepInfo(step=0, epoch=0, steps_per_epoch=10, total_steps=100)
    torch.testing.assert_close(QuerySelectLearner(_context()).loss(outputs, batch, early)[0],
                               BaselineLearner(_context()).loss(outputs, batch, early)[0])


def test_selection_can_spare_every_query_whose_label_the_positive_head_agrees_with() -> None:
    outputs, batch = _outputs(), _batch()
    late = StepInfo(step=90, epoch=9, steps_per_epoch=10, total_steps=100)
    agreeing = QueryBatch(**{**batch.__dict__, "positives": (outputs.positive_logits > 0).float()})
    spared, _ = QuerySelectLearner(_context(), forget_rate=0.5, only_contradicted=True).loss(outputs, agreeing, late)
    per_query, _ = BaselineLearner(_context()).query_loss(outputs, agreeing, late)
    torch.testing.assert_close(spared, per_query.mean())  # nothing contradicts its label: nothing is dropped
    dropped, _ = QuerySelectLearner(_context(), forget_rate=0.5).loss(outputs, agreeing, late)
    assert not torch.isclose(dropped, per_query.mean())  # the plain selection drops by rank regardless
