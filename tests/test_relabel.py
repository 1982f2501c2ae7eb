"""Relabelling flipped prompts by matching the prediction to the frame's annotated masks (``relabel``,
``pmhm_relabel``) on hand-built batches, a tiny real segmenter, and a few optimisation steps."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from actiseg_core.learners import (
    BaselineLearner,
    LearnerContext,
    PMHMLearner,
    QueryBatch,
    StepInfo,
    get_learner,
    learner_names,
)
from actiseg_core.learners.relabel import RelabelConfig, relabel_targets
from actiseg_core.model import ModelConfig, SegmenterOutput, build_segmenter

H = W = 8
LATE = StepInfo(step=90, epoch=9, steps_per_epoch=10, total_steps=100)
EARLY = StepInfo(step=10, epoch=1, steps_per_epoch=10, total_steps=100)  # 10 < 0.3 * 100: still warming up
A, B, C, D = range(4)  # frame 0: A active, B inactive; frame 1: C active, D inactive

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _square() -> torch.Tensor:
    mask = torch.zeros(1, H, W)
    mask[:, 2:6, 2:6] = 1.0
    return mask


def _strip() -> torch.Tensor:
    mask = torch.zeros(1, H, W)
    mask[:, 0:2, :] = 1.0
    return mask


def _batch() -> QueryBatch:
    """Frame 0: A active (the square), B inactive (flipped to A's name); frame 1: C active (a strip), D inactive.
    Each query has distinct pixel weights, so a copied label is told from an own one."""
    targets = torch.stack([_square(), torch.zeros(1, H, W), _strip(), torch.zeros(1, H, W)])
    weights = torch.stack([torch.full((1, H, W), 1.0 + k) for k in range(4)])
    return QueryBatch(
        images=torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(0)),
        text_embeddings=torch.zeros(4, 384),
        frame_index=torch.tensor([0, 0, 1, 1]),
        targets=targets,
        weights=weights,
        positives=torch.tensor([1.0, 0.0, 1.0, 0.0]),
        query_ids=torch.arange(4),
        frame_ids=torch.arange(2),
    )


def _mask_logits() -> torch.Tensor:
    """A predicts its square; B (prompt renamed to A's class) predicts A's square too; C predicts the same square,
    but in frame 1, where no active target is that square; D predicts nothing."""
    square = 10 * (2 * _square() - 1)
    return torch.stack([square, square.clone(), square.clone(), torch.full((1, H, W), -10.0)])


def _outputs(mask_logits: torch.Tensor | None = None, positive_logits: torch.Tensor | None = None) -> SegmenterOutput:
    mask = _mask_logits() if mask_logits is None else mask_logits
    return SegmenterOutput(
        mask_logits=mask.clone().requires_grad_(True),
        stage_logits=[mask.clone() for _ in range(3)],
        aux_logits=mask.clone().requires_grad_(True),
        positive_logits=(torch.full((4,), 3.0) if positive_logits is None else positive_logits).requires_grad_(True),
    )


def _relabel(outputs: SegmenterOutput, batch: QueryBatch, **config: float) -> tuple[QueryBatch, torch.Tensor]:
    return relabel_targets(outputs.mask_logits, outputs.positive_logits, batch, RelabelConfig(**config))


def test_an_inactive_query_predicting_an_active_objects_mask_takes_that_objects_label() -> None:
    batch = _batch()
    new, relabelled = _relabel(_outputs(), batch)
    assert relabelled.tolist() == [False, True, False, False]  # only B; C's match is in the other frame
    torch.testing.assert_close(new.targets[B], batch.targets[A])
    torch.testing.assert_close(new.weights[B], batch.weights[A])
    assert new.positives.tolist() == [1.0, 1.0, 1.0, 0.0]
    for k in (A, C, D):  # everything else keeps its own label
        torch.testing.assert_close(new.targets[k], batch.targets[k])
        torch.testing.assert_close(new.weights[k], batch.weights[k])
    for name in ("images", "text_embeddings", "frame_index", "query_ids", "frame_ids"):
        assert getattr(new, name) is getattr(batch, name)


def test_no_relabel_for_an_empty_prediction_a_fitting_own_label_or_a_low_positive_score() -> None:
    batch = _batch()
    empty = _mask_logits()
    empty[B] = -10.0
    _, relabelled = _relabel(_outputs(empty), batch, match_share=0.0)  # even when any share would do
    assert not relabelled.any()
    # B's own label already is the square (active): its prediction fits it, nothing to repair
    fitting = dataclasses.replace(batch, targets=torch.stack([_square(), _square(), _strip(), torch.zeros(1, H, W)]),
                                  positives=torch.tensor([1.0, 1.0, 1.0, 0.0]))
    _, relabelled = _relabel(_outputs(), fitting)
    assert not relabelled.any()
    assert _relabel(_outputs(), fitting, own_share=1.1)[1].tolist() == [True, True, False, False]  # without the check
    # the positive head does not call B active
    _, relabelled = _relabel(_outputs(positive_logits=torch.tensor([3.0, -3.0, 3.0, 3.0])), batch)
    assert not relabelled.any()
    # half of B's prediction lies inside A's square (the square shifted right by 2 columns), asked for 0.6
    half = _mask_logits()
    half[B] = torch.roll(half[B], shifts=2, dims=-1)
    assert not _relabel(_outputs(half), batch, match_share=0.6)[1].any()
    assert _relabel(_outputs(half), batch, match_share=0.5)[1].tolist() == [False, True, False, False]
    # a prediction inside A's target but covering only part of it still matches (a dilated target, Alg. 2)
    part = _mask_logits()
    part[B, :, 4:6] = -10.0
    assert _relabel(_outputs(part), batch, match_share=0.9)[1].tolist() == [False, True, False, False]


def test_no_relabel_during_warm_up() -> None:
    batch = _batch()
    for name, plain in (("relabel", BaselineLearner), ("pmhm_relabel", PMHMLearner)):
        learner = get_learner(name, _fixed_context())
        total, terms = learner.loss(_outputs(), batch, EARLY)
        assert terms["relabelled"] == 0.0
        torch.testing.assert_close(total, plain(_fixed_context()).loss(_outputs(), batch, EARLY)[0])


def test_inputs_are_not_modified() -> None:
    batch, outputs = _batch(), _outputs()
    before = {f.name: getattr(batch, f.name).clone() for f in dataclasses.fields(batch) if getattr(batch, f.name)
              is not None}
    logits = (outputs.mask_logits.detach().clone(), outputs.positive_logits.detach().clone())
    new, relabelled = _relabel(outputs, batch)
    assert relabelled.any()
    for name, value in before.items():
        torch.testing.assert_close(getattr(batch, name), value, rtol=0, atol=0)
    torch.testing.assert_close(outputs.mask_logits.detach(), logits[0], rtol=0, atol=0)
    torch.testing.assert_close(outputs.positive_logits.detach(), logits[1], rtol=0, atol=0)
    assert new.targets.data_ptr() != batch.targets.data_ptr() and not new.targets.requires_grad


# ---- the registered learners ------------------------------------------------------------------------------------


class _Unused(nn.Module):
    """The network a learner owns when the test hands it outputs directly."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))


def _fixed_context() -> LearnerContext:
    return LearnerContext(build_model=_Unused, num_queries=4, input_size=(H, W))


def _tiny_context(size: int) -> LearnerContext:
    config = ModelConfig(image_encoder="resnet_small", pretrained=False, input_height=size, input_width=size)
    return LearnerContext(build_model=lambda: build_segmenter(config).train(), num_queries=4, input_size=(size, size))


@pytest.mark.parametrize("name", ["relabel", "pmhm_relabel"])
def test_registered_learner_trains_a_tiny_segmenter_and_relabels_after_warm_up(name: str) -> None:
    assert {"relabel", "pmhm_relabel"} <= set(learner_names())
    torch.manual_seed(0)
    size = 32
    learner = get_learner(name, _tiny_context(size), match_share=0.4)
    assert learner.config.match_share == 0.4 and "relabelled" in learner.terms
    assert learner.uses_aux_head == (name == "pmhm_relabel")
    up = nn.Upsample(size=(size, size), mode="nearest")
    small = _batch()
    batch = dataclasses.replace(small, images=torch.rand(2, 3, size, size), text_embeddings=torch.randn(4, 384),
                                targets=up(small.targets), weights=up(small.weights))
    outputs = learner.model(batch.images, batch.text_embeddings, batch.frame_index, with_stages=True)
    total, terms = learner.loss(outputs, batch, LATE)
    assert set(terms) == set(learner.terms) and math.isfinite(total.item())
    assert 0.0 <= terms["relabelled"] <= 1.0
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.model.parameters())
    # on the crafted batch, after warm-up, B is relabelled, and the loss is the plain loss on the relabelled labels
    crafted = get_learner(name, _fixed_context())
    total, terms = crafted.loss(_outputs(), _batch(), LATE)
    assert terms["relabelled"] == pytest.approx(0.25)
    plain = (BaselineLearner if name == "relabel" else PMHMLearner)(_fixed_context())
    relabelled, _ = _relabel(_outputs(), _batch())
    torch.testing.assert_close(total, plain.loss(_outputs(), relabelled, LATE)[0])
    assert not torch.isclose(total, plain.loss(_outputs(), _batch(), LATE)[0])


class _FreeOutputs(nn.Module):
    """A "segmenter" whose outputs are free parameters, initialised as a model that has learnt the clean rule."""

    def __init__(self) -> None:
        super().__init__()
        self.mask = nn.Parameter(_mask_logits() / 5)
        self.aux = nn.Parameter(_mask_logits() / 5)
        self.positive = nn.Parameter(torch.full((4,), 2.0))

    def forward(self, *_: object, **__: object) -> SegmenterOutput:
        return SegmenterOutput(mask_logits=self.mask, stage_logits=[self.mask * 1.0 for _ in range(3)],
                               aux_logits=self.aux, positive_logits=self.positive)


@pytest.mark.parametrize("name", ["relabel", "pmhm_relabel"])
def test_training_keeps_the_flipped_query_active_where_the_plain_loss_turns_it_off(name: str) -> None:
    def train(learner_name: str, **hyper: float) -> float:
        learner = get_learner(learner_name, LearnerContext(build_model=_FreeOutputs, num_queries=4,
                                                           input_size=(H, W)), **hyper)
        optimizer = torch.optim.Adam(learner.model.parameters(), lr=0.1)
        batch = _batch()
        for step in range(40):
            total, _ = learner.loss(learner.model(), batch, StepInfo(step, 0, 40, 40))
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
        return torch.sigmoid(learner.model.positive[B]).item()

    plain = "baseline" if name == "relabel" else "pmhm"
    assert train(plain) < 0.5  # B's flipped label (inactive) pulls the prompt's positive score down
    assert train(name, warmup_fraction=0.0) > 0.9  # relabelled to A's label, the prompt stays active
