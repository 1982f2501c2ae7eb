"""An ActionVOS-layout split as a stream of frames to answer, and what a report records about the split.

Each sequence is one narration: its first frame carries it, naming every annotated object of the sequence as a
candidate (as ``actiseg-bag to-bag`` records it); frames have no time stamps (offline data has no image or
narration age).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from actiseg_core.data.layout import ObjectInfo
from actiseg_core.data.loader import ActionVOSDataset, FrameRef
from actiseg_core.data.split_info import hand_class_ids
from actiseg_core.evaluation.frames import FrameTruth
from actiseg_core.evaluation.scorer import Scorer
from actiseg_core.evaluation.stream import FrameCallback, StreamItem, score_stream
from actiseg_core.gating import GateConfig
from actiseg_core.runtime import Segmenter
from actiseg_core.stream import Narration, StreamProcessor


def split_stream(dataset: ActionVOSDataset) -> Iterator[StreamItem]:
    """The split's frames in order, each decoded when reached, with its truth and the sequence's narration."""
    hand_ids = hand_class_ids(dataset)
    previous = None
    for ref in dataset.frames:
        objects = [obj for _, obj in sorted(ref.sequence.objects.items())]
        narration = None
        if ref.sequence is not previous:
            narration = Narration(ref.sequence.narration, tuple(obj.name for obj in objects), 0.0)
            previous = ref.sequence
        truth = reference_truth(ref, objects, dataset.load_labels(ref), hand_ids)
        yield StreamItem(truth=truth, image=dataset.load_image(ref), stamp_s=0.0, narration=narration, ref=ref)


def reference_truth(ref: FrameRef, objects: Sequence[ObjectInfo], labels: np.ndarray,
                    hand_ids: frozenset[int]) -> FrameTruth:
    """The truth of an annotated frame whose candidates are ``objects``, in query order (hand-class ids: the objects
    the "gripper-only" reference keeps)."""
    return FrameTruth(sequence=ref.sequence.folder, frame=ref.frame, labels=labels,
                      object_ids=tuple(obj.index for obj in objects),
                      positives={obj.index: obj.positive for obj in objects},
                      hand_ids=tuple(obj.index for obj in objects if obj.class_id in hand_ids))


def score_split(segmenter: Segmenter, dataset: ActionVOSDataset, gate_config: GateConfig | None = None,
                on_frame: FrameCallback | None = None, keep_records: bool = False, progress: bool = False,
                desc: str = "evaluate") -> tuple[StreamProcessor, Scorer]:
    """Every frame of ``dataset`` through the node's logic (``gate_config`` None: the model folder's fitted gate);
    returns the processor (its gate, its counters) and the scores, references included."""
    processor = StreamProcessor(segmenter, gate_config)
    scorer = score_stream(processor, split_stream(dataset), Scorer(references=True, keep_records=keep_records),
                          on_frame, progress, total=len(dataset.frames), desc=f"{desc} {dataset.split}")
    return processor, scorer
