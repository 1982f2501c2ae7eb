"""The learner interface: what the trainer hands a learner and what it expects back (DESIGN §6).

A learner turns the segmenter's outputs and a batch of queries into one scalar loss. It also owns the networks
it trains (``models()``: one for most learners, two for Co-teaching, which trains each on its peer's choice of
samples) and any state that must survive a restart (``state_dict``: ELR's per-pixel prediction histories, NPN's
candidate counts, Co-teaching's peer). The trainer builds the optimizer over every network in ``models()``,
checkpoints ``state_dict()`` beside the primary network, and evaluates and exports the primary (``models()[0]``).

The batch type lives here, not in ``training/``, because ``actiseg_core`` never imports the CLIs (DESIGN §2).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from actiseg_core.model.segmenter import SegmenterOutput


@dataclass
class QueryBatch:
    """B frames and their K object queries, flattened: query k belongs to frame ``frame_index[k]``.

    Attributes:
        images: [B, 3, H, W] RGB in 0..1 at the model's input size.
        text_embeddings: [K, D] frozen prompt embeddings.
        frame_index: [K] int64, 0..B-1.
        targets: [K, 1, H, W] float 0/1: the object's mask if the object is active, else all zero (ActionVOS).
        weights: [K, 1, H, W] float action-guided pixel weights of the query (ActionVOS ``Weights_Sparse``).
        positives: [K] float 0/1: is the object active.
        query_ids: [K] int64 stable index of the (frame, object) query in the split, for per-query histories.
        frame_ids: [B] int64 stable index of each frame in the split.
        strong_images: [B, 3, H, W] a photometrically distorted copy of ``images`` (same geometry, so pixels align),
            only for learners with ``uses_strong_view`` (NPN's weak -> strong consistency); else None.
        narration_contradicted: [K] bool: the query's label disagrees with its frame's narration
            (``prompts.contradicts_narration``): text noise renames objects, never the narration (``mention_select``).
    """

    images: Tensor
    text_embeddings: Tensor
    frame_index: Tensor
    targets: Tensor
    weights: Tensor
    positives: Tensor
    query_ids: Tensor
    frame_ids: Tensor
    strong_images: Tensor | None = None
    narration_contradicted: Tensor | None = None

    def to(self, device: torch.device | str) -> QueryBatch:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return QueryBatch(**{name: None if value is None else value.to(device) for name, value in values.items()})


@dataclass(frozen=True)
class StepInfo:
    """Where training stands when a loss is computed (schedules such as Co-teaching's R_n depend on it)."""

    step: int  # optimizer steps already taken (0 on the first batch)
    epoch: int
    steps_per_epoch: int  # step / steps_per_epoch = epochs done, the unit of e.g. Co-teaching's T_k
    total_steps: int


@dataclass(frozen=True)
class LearnerContext:
    """What a learner may need from the trainer to build itself.

    Attributes:
        build_model: returns a fresh segmenter (called once per network the learner owns).
        num_queries: number of (frame, object) queries of the training split: the size of per-query histories.
        input_size: (H, W) of every pixel map the learner sees.
    """

    build_model: Callable[[], nn.Module]
    num_queries: int
    input_size: tuple[int, int]


class Learner(ABC):
    """Base class: one network, no state. Subclasses set ``terms`` and ``config_type`` and implement :meth:`loss`.

    Class attributes tell the trainer what the learner needs, so nothing is computed or built in vain:
    ``uses_stage_logits`` (decoder side outputs; PMHM), ``uses_aux_head`` (PMHM's auxiliary head),
    ``keeps_pixel_histories`` (per-pixel state indexed by ``query_ids``: spatial augmentation must be off so the
    pixels of a query line up from one epoch to the next, and the state lives in one process; ELR, NPN) and
    ``uses_strong_view`` (``QueryBatch.strong_images`` must be filled; NPN).

    ``revision`` is raised whenever a learner's maths or defaults change, so that benchmark cells trained by the
    older version are retrained instead of reused (``benchmarks.nl.runner`` puts it in a cell's identity).
    """

    terms: ClassVar[tuple[str, ...]]
    config_type: ClassVar[type]  # dataclass of the hyper-parameters (``--learner-arg KEY=VALUE``)
    uses_stage_logits: ClassVar[bool] = False
    uses_aux_head: ClassVar[bool] = False
    keeps_pixel_histories: ClassVar[bool] = False
    uses_strong_view: ClassVar[bool] = False
    revision: ClassVar[int] = 0

    def __init__(self, context: LearnerContext, **hyper: Any) -> None:
        self.model = context.build_model()
        self.config = self.config_type(**hyper)

    def models(self) -> list[nn.Module]:
        """Every network this learner trains; the first is the one evaluated and exported."""
        return [self.model]

    @abstractmethod
    def loss(self, outputs: SegmenterOutput, batch: QueryBatch, step: StepInfo) -> tuple[Tensor, dict[str, float]]:
        """The scalar loss to minimise and its terms (keys = ``terms``) as floats for the log."""

    def state_dict(self) -> dict[str, Any]:
        """Learner state beyond the primary network's weights (histories, a peer network); empty by default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got keys {sorted(state)}")
