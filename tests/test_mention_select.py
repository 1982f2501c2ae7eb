"""``mention_select``: the narration check of each query's label, on hand-built batches and a tiny real segmenter."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from actiseg_core.errors import ActiSegError
from actiseg_core.learners import LearnerContext, QueryBatch, StepInfo, get_learner
from actiseg_core.learners.mention_select import narration_contradicts
from actiseg_core.model import ModelConfig, SegmenterOutput, build_segmenter
from actiseg_core.prompts import contradicts_narration, mentions

SIZE = 32
EARLY = StepInfo(step=0, epoch=0, steps_per_epoch=10, total_steps=100)
# six queries, narration "pick up the mug" (two frames of it, for the encoder's batch norm): (active, contradicted)
LABELS = [
    (True, False),  # the mug
    (True, True),  # active, renamed "knife"
    (True, False),  # the gripper
    (False, False),  # an inactive plate
    (False, True),  # an inactive bowl renamed "mug"
    (False, False),  # an inactive object renamed "robot hand"
]


def test_mentions_matches_whole_words_after_normalising() -> None:
    assert mentions("Pick up the  red MUG", "red mug") and mentions("pick up the red mug", "mug")
    assert not mentions("pick up the cupboard", "cup") and not mentions("put the mug on the plate", "blue mug")
    assert mentions("put the mug on the plate.", "plate") and not mentions("take cup", "")


def test_a_label_contradicts_its_narration_unless_the_name_is_the_hands() -> None:
    hands = frozenset({"robot hand"})
    assert not contradicts_narration("pick up the mug", "Mug", True, hands)
    assert contradicts_narration("pick up the mug", "knife", True, hands)  # a renamed active object
    assert contradicts_narration("pick up the mug", "mug", False, hands)  # an inactive one renamed to the target
    assert not contradicts_narration("pick up the mug", "plate", False, hands)
    assert not contradicts_narration("pick up the mug", "Robot  Hand", True, hands)
    assert not contradicts_narration("pick up the mug", "robot hand", False, hands)


def _batch() -> QueryBatch:
    generator = torch.Generator().manual_seed(0)
    active, contradicted = (torch.tensor(column) for column in zip(*LABELS, strict=True))
    targets = (torch.rand(len(LABELS), 1, SIZE, SIZE, generator=generator) > 0.7).float() * active[:, None, None, None]
    return QueryBatch(images=torch.rand(2, 3, SIZE, SIZE, generator=generator),
                      text_embeddings=torch.randn(len(LABELS), 384, generator=generator),
                      frame_index=torch.tensor([0, 0, 0, 1, 1, 1]), targets=targets,
                      weights=torch.ones_like(targets), positives=active.float(), query_ids=torch.arange(len(LABELS)),
                      frame_ids=torch.arange(2), narration_contradicted=contradicted)


def _context() -> LearnerContext:
    config = ModelConfig(image_encoder="resnet_small", pretrained=False, input_height=SIZE, input_width=SIZE)
    return LearnerContext(build_model=lambda: build_segmenter(config).train(), num_queries=len(LABELS),
                          input_size=(SIZE, SIZE))


def _outputs(model: torch.nn.Module, batch: QueryBatch) -> SegmenterOutput:
    return model(batch.images, batch.text_embeddings, batch.frame_index)


def test_the_learner_needs_the_contradiction_flags() -> None:
    assert narration_contradicts(_batch()).tolist() == [False, True, False, False, True, False]
    with pytest.raises(ValueError, match="narration_contradicted"):
        narration_contradicts(dataclasses.replace(_batch(), narration_contradicted=None))


def test_drop_is_the_baseline_loss_on_the_agreeing_queries_from_the_first_step() -> None:
    torch.manual_seed(0)
    learner = get_learner("mention_select", _context())
    batch = _batch()
    outputs = _outputs(learner.model, batch)
    total, terms = learner.loss(outputs, batch, EARLY)
    per_query, _ = learner.query_loss(outputs, batch, EARLY)
    torch.testing.assert_close(total, per_query[[0, 2, 3, 5]].mean())
    assert terms["keep_rate"] == pytest.approx(4 / 6)
    assert learner.selection_log.picked.tolist() == [0, 1, 0, 0, 1, 0]
    assert learner.selection_log.visits.tolist() == [1] * 6
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.model.parameters())


def test_negate_trains_a_contradicted_active_query_as_inactive_with_an_empty_target() -> None:
    torch.manual_seed(0)
    learner = get_learner("mention_select", _context(), contradicted="negate")
    batch = _batch()
    outputs = _outputs(learner.model, batch)
    total, terms = learner.loss(outputs, batch, EARLY)
    negated = dataclasses.replace(batch, positives=torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0]),
                                  targets=batch.targets * torch.tensor([1.0, 0, 1, 1, 1, 1])[:, None, None, None])
    per_query, _ = learner.query_loss(outputs, negated, EARLY)
    torch.testing.assert_close(total, per_query[[0, 1, 2, 3, 5]].mean())  # the inactive "mug" is still dropped
    assert terms["keep_rate"] == pytest.approx(5 / 6)
    assert batch.positives[1] == 1.0  # the caller's batch is not modified


def test_a_bad_contradicted_action_is_a_one_line_error() -> None:
    with pytest.raises(ActiSegError, match="contradicted must be one of drop, negate"):
        get_learner("mention_select", _context(), contradicted="keep")


def test_negate_learns_the_narration_rule_that_a_flipped_label_contradicts() -> None:
    """A few steps on frames whose renamed query is labelled active: the baseline learns to call it active, the
    narration check learns to call it inactive, and both learn the clean active query."""
    batch = _batch()
    scores = {}
    for name, hyper in (("baseline", {}), ("mention_select", {"contradicted": "negate"})):
        torch.manual_seed(0)
        learner = get_learner(name, _context(), **hyper)
        optimizer = torch.optim.Adam(learner.model.parameters(), lr=3e-3)
        for step in range(40):
            optimizer.zero_grad()
            loss, _ = learner.loss(_outputs(learner.model, batch), batch, dataclasses.replace(EARLY, step=step))
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            scores[name] = torch.sigmoid(_outputs(learner.model, batch).positive_logits)
    assert scores["baseline"][0] > 0.6 and scores["mention_select"][0] > 0.6
    assert scores["baseline"][1] > 0.6 and scores["mention_select"][1] < 0.4
