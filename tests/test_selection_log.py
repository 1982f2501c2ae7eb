"""The per-query selection counts of the selecting learners (Co-teaching, query selection, relabelling): what they
count, that they travel in the learner state, and how the benchmark scores them against the recorded flips."""

from __future__ import annotations

import pytest
import torch
from learner_sets import SELECTING

from actiseg_core.learners import LearnerContext, QueryBatch, StepInfo, get_learner, learner_names
from actiseg_core.learners.selection_log import SELECTION_LOG, SelectionLog, pick_quality
from actiseg_core.model import SegmenterOutput

LATE = StepInfo(step=90, epoch=9, steps_per_epoch=10, total_steps=100)


class Fixed(torch.nn.Module):
    def __init__(self, outputs: SegmenterOutput) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.outputs = outputs

    def forward(self, *args: object, **kwargs: object) -> SegmenterOutput:
        return self.outputs


def _outputs(queries: int) -> SegmenterOutput:
    generator = torch.Generator().manual_seed(1)
    mask = (3 * torch.randn(queries, 1, 4, 4, generator=generator)).requires_grad_()
    return SegmenterOutput(mask_logits=mask, stage_logits=[mask.detach().clone() for _ in range(3)],
                           aux_logits=mask.detach().clone().requires_grad_(),
                           positive_logits=torch.randn(queries, generator=generator).requires_grad_())


def _batch(queries: int, first_id: int) -> QueryBatch:
    targets = (torch.rand(queries, 1, 4, 4, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    return QueryBatch(images=torch.zeros(1, 3, 4, 4), text_embeddings=torch.zeros(queries, 8),
                      frame_index=torch.zeros(queries, dtype=torch.long), targets=targets,
                      weights=torch.ones_like(targets), positives=(torch.arange(queries) % 2).float(),
                      query_ids=torch.arange(queries) + first_id, frame_ids=torch.zeros(1, dtype=torch.long),
                      narration_contradicted=torch.arange(queries) % 3 == 0)


def test_pick_quality_hand_computed() -> None:
    # 4 queries, the last two flipped; visits 2 each; picks: 1 on a clean one, 2 + 1 on the flipped ones
    quality = pick_quality([2, 2, 2, 2], [1, 0, 2, 1], [False, False, True, True])
    assert quality["precision"] == pytest.approx(3 / 4) and quality["recall"] == pytest.approx(3 / 4)
    assert quality["clean_pick_rate"] == pytest.approx(1 / 4) and quality["flipped_queries"] == 2
    assert pick_quality([0, 0], [0, 0], [False, False])["precision"] is None


def test_every_selecting_learner_counts_its_picks_and_resumes_them() -> None:
    assert set(SELECTING) <= set(learner_names())
    queries = 12
    for name in SELECTING:
        outputs = _outputs(queries)
        context = LearnerContext(build_model=lambda outputs=outputs: Fixed(outputs), num_queries=20,
                                 input_size=(4, 4))
        learner = get_learner(name, context)
        learner.loss(outputs, _batch(queries, first_id=5), LATE)
        log = learner.selection_log
        assert log.visits[5:17].tolist() == [1] * queries and log.visits.sum() == queries, name
        assert 0 <= log.picked.sum() <= queries and (log.picked <= log.visits).all(), name
        state = learner.state_dict()
        restored = get_learner(name, context)
        restored.load_state_dict(state)
        assert torch.equal(restored.selection_log.picked, log.picked), name
    with pytest.raises(ValueError, match="selection log of 3 queries"):
        SelectionLog(20).load_state_dict(SelectionLog(3).state_dict())
    assert SELECTION_LOG not in get_learner("baseline", context).state_dict()


def test_query_selection_drops_its_share_of_each_class_late_in_the_run() -> None:
    queries = 20
    outputs = _outputs(queries)
    learner = get_learner("query_select", LearnerContext(build_model=lambda: Fixed(outputs), num_queries=queries,
                                                         input_size=(4, 4)))
    learner.loss(outputs, _batch(queries, first_id=0), LATE)
    # rho 0.3 after the ramp: round(0.7 * 10) = 7 kept of each class's 10, so 3 + 3 dropped
    assert int(learner.selection_log.picked.sum()) == 6
