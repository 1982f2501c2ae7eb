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
from actiseg_core.learners.coteaching import CoTeachingConfig, keep_rate, kept_count, small_loss_picks
from actiseg_core.learners.elr import elr_regulariser, history_weight
from actiseg_core.learners.history import QueryPixelStore
from actiseg_core.learners.losses import (
    dice_loss,
    gce_loss,
    mae_loss,
    pixel_mean,
    positive_focal_loss,
    reverse_ce_loss,
    sigmoid_focal_loss,
    symmetric_kl,
    tversky_loss,
)
from actiseg_core.learners.npn import negative_learning_loss, pair_cross_entropy, proxy_labels
from actiseg_core.learners.pmhm import PMHMConfig, aux_frozen, pmhm_regions, tversky_alpha, uncertain_pixels
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

    def forward(
        self, images: torch.Tensor, text: torch.Tensor, frame_index: torch.Tensor, with_stages: bool = True
    ) -> SegmenterOutput:
        self.seen.append(images)
        return self.outputs


def _context(
    models: list[nn.Module] | None = None, num_queries: int = K, input_size: tuple[int, int] = (H, W)
) -> LearnerContext:
    queue = list(models or [])
    return LearnerContext(
        build_model=lambda: queue.pop(0) if queue else FixedModel(), num_queries=num_queries, input_size=input_size
    )


def _outputs(seed: int = 0, with_aux: bool = False) -> SegmenterOutput:
    return SegmenterOutput(
        mask_logits=_logits(K, 1, H, W, seed=seed).requires_grad_(True),
        stage_logits=[_logits(K, 1, H, W, seed=seed + 10 + i) for i in range(3)],
        aux_logits=_logits(K, 1, H, W, seed=seed + 20).requires_grad_(True) if with_aux else None,
        positive_logits=_logits(K, seed=seed + 30),
    )


def _batch(seed: int = 1, strong: bool = False) -> QueryBatch:
    weights = torch.ones(K, 1, H, W)
    weights[1] = 5.0
    return QueryBatch(
        images=torch.rand(1, 3, H, W),
        text_embeddings=torch.zeros(K, 384),
        frame_index=torch.zeros(K, dtype=torch.long),
        targets=_targets(K, 1, H, W, seed=seed),
        weights=weights,
        positives=torch.tensor([1.0, 0.0, 1.0]),
        query_ids=torch.arange(K),
        frame_ids=torch.zeros(1, dtype=torch.long),
        strong_images=torch.rand(1, 3, H, W) if strong else None,
    )


def _frame_terms(outputs: SegmenterOutput, batch: QueryBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """The baseline's positive-head and Dice terms, which every single-network learner keeps."""
    positive = positive_focal_loss(outputs.positive_logits, batch.positives).mean()
    return positive, dice_loss(outputs.mask_logits, batch.targets).mean()


def _weighted_focal(outputs: SegmenterOutput, batch: QueryBatch) -> torch.Tensor:
    """ActionVOS's weighted mask focal per query, which the released GCE / SCE / APL runs keep."""
    return pixel_mean(sigmoid_focal_loss(outputs.mask_logits, batch.targets, weights=batch.weights))


def test_registry_lists_every_learner_in_design_order() -> None:
    assert learner_names() == (
        "baseline",
        "baseline_bce",
        "coteaching",
        "gce",
        "sce",
        "apl",
        "elr",
        "npn",
        "pmhm",
        "pmhm_select",
        "query_select",
        "relabel",
        "pmhm_relabel",
        "mention_select",
    )
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
    torch.testing.assert_close(gce_loss(logits, targets, 0.7), (1 - r**0.7) / 0.7)
    with pytest.raises(ValueError, match="q in"):
        gce_loss(logits, targets, 0.0)


def test_gce_learner_adds_unweighted_gce_to_the_weighted_focal() -> None:
    outputs, batch = _outputs(), _batch()
    total, terms = GCELearner(_context()).loss(outputs, batch, STEP)
    positive, dice = _frame_terms(outputs, batch)
    gce = gce_loss(outputs.mask_logits, batch.targets, 0.7).flatten(1).mean(1)
    focal = _weighted_focal(outputs, batch)
    torch.testing.assert_close(total, 2 * positive + 2 * (focal + gce).mean() + 5 * dice)
    assert terms["gce"] == pytest.approx(gce.mean().item()) and set(terms) == {"positive", "focal", "gce", "dice"}
    alone, _ = GCELearner(_context(), focal_coef=0.0).loss(outputs, batch, STEP)
    torch.testing.assert_close(alone, 2 * positive + 2 * gce.mean() + 5 * dice)


# ---- SCE ------------------------------------------------------------------------------------------------------------


def test_reverse_ce_clamps_log_zero_to_minus_four() -> None:
    logits = torch.tensor([0.3, -1.0, 2.0, 0.0])
    targets = torch.tensor([1.0, 1.0, 0.0, 0.0])
    p = logits.sigmoid()
    # y = 1: -[p log 1 + (1 - p) A] = 4 (1 - p); y = 0: -[p A + (1 - p) log 1] = 4 p
    expected = torch.tensor([4 * (1 - p[0]), 4 * (1 - p[1]), 4 * p[2], 4 * p[3]])
    torch.testing.assert_close(reverse_ce_loss(logits, targets), expected)
    torch.testing.assert_close(reverse_ce_loss(logits, targets, log_zero=-2.0), expected / 2)


def test_sce_is_the_weighted_focal_plus_alpha_ce_plus_beta_rce() -> None:
    outputs, batch = _outputs(), _batch()
    learner = SCELearner(_context(), alpha=0.3, beta=0.7)
    assert (SCELearner(_context()).config.alpha, SCELearner(_context()).config.beta) == (0.1, 1.0)  # released
    total, terms = learner.loss(outputs, batch, STEP)
    ce = F.binary_cross_entropy_with_logits(outputs.mask_logits, batch.targets, reduction="none").mean((1, 2, 3))
    # the released label clamp 1e-4: A = log(1e-4), so RCE = 9.21 |p - y|, unweighted
    rce = (-math.log(1e-4) * (outputs.mask_logits.sigmoid() - batch.targets).abs()).mean((1, 2, 3))
    positive, dice = _frame_terms(outputs, batch)
    focal = _weighted_focal(outputs, batch)
    torch.testing.assert_close(total, 2 * positive + 2 * (focal + 0.3 * ce + 0.7 * rce).mean() + 5 * dice)
    assert terms["ce"] == pytest.approx(ce.mean().item()) and terms["rce"] == pytest.approx(rce.mean().item())


# ---- APL ------------------------------------------------------------------------------------------------------------


def test_apl_is_the_weighted_focal_plus_ten_active_plus_passive() -> None:
    outputs, batch = _outputs(), _batch()
    total, terms = APLLearner(_context()).loss(outputs, batch, STEP)
    clamped = outputs.mask_logits.clamp(-10, 10)
    active = pixel_mean(batch.weights * gce_loss(clamped, batch.targets, 0.7))
    passive = pixel_mean(batch.weights * (clamped.sigmoid() - batch.targets).abs())
    positive, dice = _frame_terms(outputs, batch)
    focal = _weighted_focal(outputs, batch)
    torch.testing.assert_close(total, 2 * positive + 2 * (focal + 10 * active + passive).mean() + 5 * dice)
    assert terms["active"] == pytest.approx(active.mean().item())
    assert terms["passive"] == pytest.approx(passive.mean().item())


# ---- ELR ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("history", "sign"), [(0.9, -1.0), (0.2, 1.0), (0.5, 0.0)])
def test_elr_regulariser_pulls_the_prediction_toward_its_history(history: float, sign: float) -> None:
    p = torch.tensor([0.3, 0.6, 0.95], requires_grad=True)
    elr_regulariser(p, torch.full((3,), history), 1e-6).sum().backward()
    # gradient descent moves p against the gradient: up when the history says foreground, down when background
    if sign == 0.0:
        torch.testing.assert_close(p.grad, torch.zeros(3))
    else:
        assert (torch.sign(p.grad) == sign).all(), p.grad
    # and agreeing with a confident history costs less than disagreeing with it
    low = elr_regulariser(torch.tensor(0.9), torch.tensor(0.9), 1e-6)
    assert low < elr_regulariser(torch.tensor(0.1), torch.tensor(0.9), 1e-6)


def test_elr_history_is_the_weighted_average_of_previous_visits() -> None:
    learner = ELRLearner(_context())
    ids = torch.tensor([2, 0])
    visits = [0.8, 0.2, 0.5]
    history, seen = learner.targets(torch.full((2, 1, H, W), visits[0]), ids)
    assert not seen.any()  # a first visit has no history, whatever was stored before
    history, seen = learner.targets(torch.full((2, 1, H, W), visits[1]), ids)
    assert seen.all()
    torch.testing.assert_close(history, torch.full((2, 1, H, W), 0.8), atol=0.5 / 255, rtol=0)  # full strength
    history, _ = learner.targets(torch.full((2, 1, H, W), visits[2]), ids)
    average = (0.9 * 0.8 + 0.2) / 1.9  # EMA weights beta^1, beta^0, normalised
    torch.testing.assert_close(history, torch.full((2, 1, H, W), average), atol=1 / 255, rtol=0)
    assert learner.history.visits.tolist() == [3, 0, 3]  # query 1 never seen
    assert history_weight(torch.tensor(0), 0.9) == 0.0
    assert history_weight(torch.tensor(200), 0.9) == pytest.approx(0.9)  # the EMA's momentum in the limit


def test_elr_loss_is_the_unweighted_focal_plus_lambda_regulariser() -> None:
    outputs, batch = _outputs(), _batch()
    learner = ELRLearner(_context(), reg_coef=0.5)
    learner.targets(torch.full((K, 1, H, W), 0.3), batch.query_ids)  # one earlier visit predicted 0.3
    total, terms = learner.loss(outputs, batch, STEP)
    p = outputs.mask_logits.sigmoid()
    focal = pixel_mean(
        0.25 * batch.targets * (1 - p) ** 2 * -torch.log(p) + 0.75 * (1 - batch.targets) * p**2 * -torch.log(1 - p)
    )
    clamped = p.clamp(1e-4, 1 - 1e-4)
    history = round(0.3 * 255) / 255
    regulariser = pixel_mean(torch.log(1 - (clamped * history + (1 - clamped) * (1 - history)) + 1e-6))
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


def test_npn_proxy_labels_break_ties_toward_background() -> None:
    count_zero = torch.tensor([1.0, 2.0, 6.0, 2.0, 0.0])
    count_one = torch.tensor([3.0, 2.0, 0.0, 8.0, 1.0])
    proxy, reliability = proxy_labels(count_zero, count_one)
    assert proxy.tolist() == [1.0, 0.0, 0.0, 1.0, 1.0]  # M1 > M0; a tie goes to background
    torch.testing.assert_close(reliability, torch.tensor([3 / 4, 2 / 4, 6 / 6, 8 / 10, 1.0]))


def test_npn_counts_seed_in_warm_up_then_add_candidate_sets() -> None:
    learner = NPNLearner(_context(num_queries=2, input_size=(1, 5)))
    ids = torch.tensor([0, 1])
    labels = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0]).view(1, 1, 1, 5).expand(2, 1, 1, 5)
    # confident votes: foreground, background, foreground, background, none (an unsure prediction)
    votes = (
        torch.tensor([True, False, True, False, False]).view(1, 1, 1, 5).expand(2, 1, 1, 5),
        torch.tensor([False, True, False, True, False]).view(1, 1, 1, 5).expand(2, 1, 1, 5),
    )
    for _ in range(2):  # warm-up: the label's count is set to 1, a confident vote adds 1 to its class
        count_zero, count_one = learner.counts(labels, votes, ids, warmup=True)
    assert count_one[0, 0, 0].tolist() == [2, 1, 2, 0, 1] and count_zero[0, 0, 0].tolist() == [0, 2, 1, 2, 0]
    count_zero, count_one = learner.counts(labels, votes, ids, warmup=False)  # C = {y} + {vote}, one each
    assert count_one[0, 0, 0].tolist() == [3, 2, 3, 0, 2] and count_zero[0, 0, 0].tolist() == [0, 3, 2, 3, 0]
    proxy, _ = proxy_labels(count_zero, count_one)
    assert proxy[0, 0, 0].tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]  # the votes outweigh their labels on 1 and 2
    assert learner.history.visits.tolist() == [3, 3] and learner.background.visits.tolist() == [3, 3]
    state = learner.state_dict()
    restored = NPNLearner(_context(num_queries=2, input_size=(1, 5)))
    restored.load_state_dict(state)
    torch.testing.assert_close(restored.background.read(ids, torch.device("cpu")).long(), count_zero)


def test_npn_negative_learning_reinforces_the_label_unless_a_vote_contradicts_it() -> None:
    logits = torch.tensor([2.0, -1.0, 0.5, -3.0])
    candidate_one = torch.tensor([True, True, True, False])  # label 1 (and a vote for 1 on pixel 2)
    candidate_zero = torch.tensor([False, True, True, True])  # label 0, or a vote for 0 on pixel 1
    loss = negative_learning_loss(logits, candidate_one, candidate_zero)
    # pixel 0: 0 not a candidate -> -log p; pixel 3: 1 not a candidate -> -log(1 - p); pixels 1, 2 -> 0
    p = torch.sigmoid(logits)
    expected = torch.tensor([-math.log(p[0] + 1e-7), 0.0, 0.0, -math.log(1 - p[3] + 1e-7)])
    torch.testing.assert_close(loss, expected)


def test_npn_loss_warms_up_on_the_focal_then_combines_pll_nl_and_consistency() -> None:
    outputs, batch = _outputs(), _batch(strong=True)
    strong = _outputs(seed=5)
    model = FixedModel(strong)
    learner = NPNLearner(_context([model]), alpha=0.3, beta=0.4, warmup_epochs=1)
    warm, warm_terms = learner.loss(outputs, batch, StepInfo(0, 0, 1, 2))
    assert not model.seen and warm_terms["pll"] == 0.0  # warm-up runs no strong view
    p = outputs.mask_logits.detach().sigmoid()
    focal = pixel_mean(sigmoid_focal_loss(outputs.mask_logits, batch.targets))  # unweighted, as released
    positive, dice = _frame_terms(outputs, batch)
    torch.testing.assert_close(warm, 2 * positive + 2 * focal.mean() + 5 * dice)
    total, terms = learner.loss(outputs, batch, StepInfo(1, 1, 1, 2))
    assert model.seen[0] is batch.strong_images
    label_one, vote_one, vote_zero = batch.targets > 0.5, p > 0.7, p < 0.3
    # warm-up seeded the label's count with 1 (+1 for an agreeing vote), the vote's class with 1; this visit adds C
    count_one = torch.where(label_one, 1 + vote_one.long(), vote_one.long()) + (label_one | vote_one).long()
    count_zero = torch.where(label_one, vote_zero.long(), 1 + vote_zero.long()) + (~label_one | vote_zero).long()
    proxy, reliability = proxy_labels(count_zero, count_one)
    pll = pixel_mean(reliability * pair_cross_entropy(outputs.mask_logits, proxy))
    nl = pixel_mean(negative_learning_loss(outputs.mask_logits, label_one | vote_one, ~label_one | vote_zero))
    confident = (vote_one | vote_zero).float()
    cr = (confident * pair_cross_entropy(strong.mask_logits, (p > 0.5).float())).flatten(1).sum(1)
    cr = cr / confident.flatten(1).sum(1).clamp(min=1)
    torch.testing.assert_close(total, 2 * positive + 2 * (pll + 0.3 * nl + 0.4 * cr).mean() + 5 * dice)
    assert terms["cr"] == pytest.approx(cr.mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match="strong view"):
        learner.loss(outputs, _batch(), StepInfo(1, 1, 1, 2))


# ---- Co-teaching ----------------------------------------------------------------------------------------------------


def test_coteaching_keep_rate_schedule() -> None:
    cfg = CoTeachingConfig()
    rates = [keep_rate(epoch, cfg) for epoch in (0, 3, 6, 20)]
    assert rates == pytest.approx([0.95, 0.90, 0.85, 0.85])  # released: 0.95 - 0.1 min(e / 6, 1)
    assert kept_count(128, 0.95) == 121 and kept_count(20, 0.85) == 17  # floor, as int(len * Rt)
    assert kept_count(2, 0.3) == 1  # never an empty batch
    assert small_loss_picks(torch.tensor([0.5, 0.1, 0.9, 0.3]), 2).tolist() == [1, 3]


def test_coteaching_trains_each_network_on_its_peers_small_loss_picks() -> None:
    primary = _outputs(seed=0)
    peer_outputs = _outputs(seed=7)
    learner = CoTeachingLearner(_context([FixedModel(), FixedModel(peer_outputs)]), forget_start=0.5, forget_end=0.5)
    assert len(learner.models()) == 2 and learner.models()[1] is learner.peer
    late = StepInfo(step=40, epoch=4, steps_per_epoch=10, total_steps=50)  # keep floor(0.5 * 3) = 1
    total, terms = learner.loss(primary, _batch(), late)
    total.backward()
    assert terms["keep_rate"] == 0.5
    own, _ = learner.query_loss(primary, _batch(), late)
    peer, _ = learner.query_loss(peer_outputs, _batch(), late)
    peer_picks, own_picks = set(small_loss_picks(peer, 1).tolist()), set(small_loss_picks(own, 1).tolist())
    trained_primary = {k for k in range(K) if primary.mask_logits.grad[k].abs().sum() > 0}
    trained_peer = {k for k in range(K) if peer_outputs.mask_logits.grad[k].abs().sum() > 0}
    assert trained_primary == peer_picks and trained_peer == own_picks
    assert terms["loss_primary"] == pytest.approx(own[sorted(peer_picks)].mean().item())
    # the ranking loss is the ActionVOS loss without the action-guided weights, as the released runs use it
    unweighted, _ = BaselineLearner(_context(), action_weights=False).query_loss(primary, _batch(), late)
    torch.testing.assert_close(own, unweighted)


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


def test_pmhm_aux_freezing_is_a_per_step_draw_and_a_frozen_head_gets_no_gradient() -> None:
    total = 2000
    frozen = sum(aux_frozen(StepInfo(n, 0, 1, total), 0.2) for n in range(total))
    assert 0.17 * total < frozen < 0.23 * total  # released step mode: probability 0.2 on every step
    assert aux_frozen(StepInfo(7, 0, 1, total), 0.2) == aux_frozen(StepInfo(7, 0, 1, total), 0.2)
    assert not any(aux_frozen(StepInfo(n, 0, 1, total), 0.0) for n in range(100))
    frozen_step = next(n for n in range(total) if aux_frozen(StepInfo(n, 0, 1, total), 0.2))
    free_step = next(n for n in range(total) if not aux_frozen(StepInfo(n, 0, 1, total), 0.2))
    for step, expect_gradient in ((frozen_step, False), (free_step, True)):
        outputs = _outputs(with_aux=True)
        loss, terms = PMHMLearner(_context()).loss(outputs, _batch(), StepInfo(step, 0, 1, total))
        loss.backward()
        assert (outputs.aux_logits.grad is not None) == expect_gradient
        assert terms["aux_frozen"] == float(not expect_gradient)
        assert outputs.mask_logits.grad.abs().sum() > 0


def test_pmhm_tversky_alpha_anneals_over_the_epochs() -> None:
    alphas = [tversky_alpha(StepInfo(e * 10, e, 10, 60), 0.7, 0.5) for e in range(6)]
    assert alphas == pytest.approx([0.7, 0.66, 0.62, 0.58, 0.54, 0.5])
    assert tversky_alpha(StepInfo(5, 0, 10, 10), 0.7, 0.5) == 0.7  # a one-epoch run stays at the start


def test_tversky_loss_counts_only_the_region() -> None:
    p = torch.tensor([[0.9, 0.2, 0.6, 0.7]])
    y = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    region = torch.tensor([[True, True, True, False]])
    tp, fp, fn = 0.9 + 0.2, 0.6, 0.1 + 0.8  # the last pixel is outside the region
    expected = 1 - (tp + 1e-6) / (tp + 0.7 * fp + 0.5 * fn + 1e-6)
    torch.testing.assert_close(tversky_loss(p, y, region, 0.7, 0.5), torch.tensor([expected]))
    torch.testing.assert_close(tversky_loss(p, y, torch.zeros_like(region), 0.7, 0.5), torch.zeros(1))


def test_pmhm_loss_terms_follow_the_released_composition() -> None:
    outputs, batch = _outputs(with_aux=True), _batch()
    step = StepInfo(0, 0, 1, 10)
    learner = PMHMLearner(_context(), freeze_rate=0.0)
    total, terms = learner.loss(outputs, batch, step)
    regions = pmhm_regions(outputs.mask_logits, outputs.aux_logits, PMHMConfig())
    uncertain, confident = regions.uncertain, regions.confident
    assert 0 < uncertain.sum() < uncertain.numel() and 0 < confident.sum() < confident.numel()

    def over_u(values: torch.Tensor) -> torch.Tensor:
        return ((values * uncertain).flatten(1).sum(1) / uncertain.flatten(1).sum(1).clamp(min=1)).mean()

    head = over_u(symmetric_kl(outputs.mask_logits, outputs.aux_logits))
    layer = over_u(sum(symmetric_kl(outputs.mask_logits, s) for s in outputs.stage_logits) / 3)
    inside = confident.float()
    focal = pixel_mean(sigmoid_focal_loss(outputs.mask_logits, batch.targets, weights=inside))
    dice = dice_loss(outputs.mask_logits * inside, batch.targets * inside)  # released: p = 0.5 outside S
    tversky = tversky_loss(outputs.mask_logits.sigmoid(), batch.targets, uncertain, 0.7, 0.5)
    positive = positive_focal_loss(outputs.positive_logits, batch.positives).mean()
    expected = 2 * positive + (2 * focal + 5 * dice + 0.3 * tversky).mean() + 0.1 * head + 0.1 * layer
    torch.testing.assert_close(total, expected)
    assert terms["head"] == pytest.approx(head.item()) and terms["layer"] == pytest.approx(layer.item())
    assert terms["hard_aux"] == 0.0  # the aux head learns from consistency only, as released
    with_aux, terms = PMHMLearner(_context(), freeze_rate=0.0, aux_hard_coef=1.0).loss(outputs, batch, step)
    assert terms["hard_aux"] > 0 and with_aux > total  # our extension: the aux head also fits S's labels
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
    uncertain = pmhm_regions(outputs.mask_logits, outputs.aux_logits, PMHMConfig()).uncertain
    assert uncertain[dropped].any() and outputs.mask_logits.grad[dropped][uncertain[dropped]].abs().sum() > 0
    assert outputs.mask_logits.grad[dropped][~uncertain[dropped]].abs().sum() == 0  # but none from its labels
    # at the start nothing is dropped: the loss is PMHM's
    early = StepInfo(step=0, epoch=0, steps_per_epoch=10, total_steps=100)
    torch.testing.assert_close(
        learner.loss(outputs, batch, early)[0], PMHMLearner(_context(), freeze_rate=0.0).loss(outputs, batch, early)[0]
    )


def test_query_select_is_the_baseline_loss_over_the_kept_queries() -> None:
    outputs, batch = _outputs(), _batch()  # positives [1, 0, 1]
    late = StepInfo(step=90, epoch=9, steps_per_epoch=10, total_steps=100)
    total, terms = QuerySelectLearner(_context(), forget_rate=0.5).loss(outputs, batch, late)
    per_query, parts = BaselineLearner(_context()).query_loss(outputs, batch, late)
    dropped = 0 if parts["positive"][0] > parts["positive"][2] else 2
    torch.testing.assert_close(total, per_query[[k for k in range(K) if k != dropped]].mean())
    assert terms["keep_rate"] == pytest.approx(0.5)
    early = StepInfo(step=0, epoch=0, steps_per_epoch=10, total_steps=100)
    torch.testing.assert_close(
        QuerySelectLearner(_context()).loss(outputs, batch, early)[0],
        BaselineLearner(_context()).loss(outputs, batch, early)[0],
    )


def test_selection_can_spare_every_query_whose_label_the_positive_head_agrees_with() -> None:
    outputs, batch = _outputs(), _batch()
    late = StepInfo(step=90, epoch=9, steps_per_epoch=10, total_steps=100)
    agreeing = QueryBatch(**{**batch.__dict__, "positives": (outputs.positive_logits > 0).float()})
    spared, _ = QuerySelectLearner(_context(), forget_rate=0.5, only_contradicted=True).loss(outputs, agreeing, late)
    per_query, _ = BaselineLearner(_context()).query_loss(outputs, agreeing, late)
    torch.testing.assert_close(spared, per_query.mean())  # nothing contradicts its label: nothing is dropped
    dropped, _ = QuerySelectLearner(_context(), forget_rate=0.5).loss(outputs, agreeing, late)
    assert not torch.isclose(dropped, per_query.mean())  # the plain selection drops by rank regardless
