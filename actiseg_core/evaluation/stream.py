"""Frames answered through the deployment path: :class:`actiseg_core.stream.StreamProcessor` (the node's logic:
``Segmenter.predict`` with the model's preprocess / segmenter / postprocess graphs on any backend, then the gate),
in this process. A split (:func:`actiseg_core.evaluation.split.split_stream`) and a bag's frames both arrive here as
:class:`StreamItem` objects.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from actiseg_core.evaluation.frames import Answer, FrameScore, FrameTruth
from actiseg_core.evaluation.scorer import Scorer
from actiseg_core.runtime.segmenter import InputError
from actiseg_core.stream import Narration, StreamProcessor


@dataclass(frozen=True)
class StreamItem:
    """One frame of a stream: its decoded image (or the error decoding it raised), its truth, its time stamp (node
    clock, seconds; 0 = none) and the narration given just before it (None: the current one still holds).
    ``ref`` is the caller's handle on where the frame came from (a split's FrameRef, a bag's BagFrame)."""

    truth: FrameTruth
    image: np.ndarray | InputError
    stamp_s: float
    narration: Narration | None = None
    ref: Any = None


def answer_stream(processor: StreamProcessor, items: Iterable[StreamItem]) -> Iterator[tuple[StreamItem, Answer]]:
    """Each item through ``processor`` in order, as the node would see them: a narration replaces the current one
    when it arrives, and the frame is processed at its own stamp (so the image age is 0, the narration's is the
    time since it was given)."""
    for item in items:
        if item.narration is not None:
            processor.set_narration(item.narration.text, list(item.narration.object_names), item.narration.stamp_s)
        started = time.perf_counter()
        result = processor.process(item.image, item.stamp_s, item.stamp_s)
        latency = 1000 * (time.perf_counter() - started)
        yield item, Answer(label_map=result.label_map, go=result.go, reasons=tuple(result.reasons),
                           latency_ms=latency, features=result.decision.features if result.decision else None)


#: Called with each scored frame: the item, its answer, its score and its predicted palette map.
FrameCallback = Callable[[StreamItem, Answer, FrameScore, np.ndarray], None]


def score_stream(processor: StreamProcessor, items: Iterable[StreamItem], scorer: Scorer,
                 on_frame: FrameCallback | None = None, progress: bool = False, total: int | None = None,
                 desc: str = "evaluate") -> Scorer:
    """Answer every item through ``processor`` and score it into ``scorer`` (returned)."""
    for item, answer in tqdm(answer_stream(processor, items), total=total, desc=desc, unit="frame",
                             disable=not progress):
        score, predicted = scorer.add(item.truth, answer)
        if on_frame is not None:
            on_frame(item, answer, score, predicted)
    return scorer
