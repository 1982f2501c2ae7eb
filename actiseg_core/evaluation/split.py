"""An ActionVOS-layout split as a stream of frames to answer, and what a report records about the split.

Each sequence is one narration: its first frame carries it, naming every annotated object of the sequence as a
candidate (as ``actiseg-bag to-bag`` records it); frames have no time stamps (offline data has no image or
narration age).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from actiseg_core.data.classes import class_map_path, load_class_map
from actiseg_core.data.layout import image_set_path
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.errors import DataError
from actiseg_core.evaluation.frames import FrameTruth
from actiseg_core.evaluation.scorer import Scorer
from actiseg_core.evaluation.stream import FrameCallback, StreamItem, score_stream
from actiseg_core.gating import GateConfig
from actiseg_core.runtime import Segmenter
from actiseg_core.stream import Narration, StreamProcessor

#: VISOR's hand classes (left/right hand, left/right glove, ...): EPIC-KITCHENS noun classes 300-304.
VISOR_HAND_CLASS_IDS = frozenset(range(300, 305))
#: The class label of ActiSeg-Sim's gripper (``actiseg_core/data/sim/catalog.py`` GRIPPER), the robot's "hand".
GRIPPER_LABEL = "gripper"


def load_split(root: Path, split: str) -> ActionVOSDataset:
    """The split's frames; a split without frames is an error here rather than an empty report later."""
    dataset = ActionVOSDataset(root, split)
    if not dataset.frames:
        raise DataError(f"{image_set_path(dataset.root, split)}: split {split!r} has no frames")
    return dataset


def hand_class_ids(dataset: ActionVOSDataset) -> frozenset[int]:
    """Class ids playing the hand's role: VISOR hands/gloves plus any class labelled "gripper" in the class map.

    The class map (ActiSeg-Sim's ``classes.json``, else derived from the names) decides, not a bare class id,
    because id 1 is the gripper in ActiSeg-Sim but an ordinary object in EPIC-KITCHENS.
    """
    classes = load_class_map(dataset.root, dataset.sequences)
    return VISOR_HAND_CLASS_IDS | {c.class_id for c in classes.values() if c.label == GRIPPER_LABEL}


def split_hash(dataset: ActionVOSDataset) -> str:
    """Short fingerprint of a split: its ImageSets JSON, the class map if any, and every frame / mask file size.

    Recorded in checkpoints, reports and fitted gates so a number says exactly which data it came from; sizes
    instead of contents keep it fast on thousands of frames while still catching a re-render or another noisy view.
    """
    digest = hashlib.sha256(image_set_path(dataset.root, dataset.split).read_bytes())
    if class_map_path(dataset.root).is_file():
        digest.update(class_map_path(dataset.root).read_bytes())
    for ref in dataset.frames:
        for path in (ref.image_path, ref.annotation_path):
            digest.update(f"{path.relative_to(dataset.root)}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


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
        truth = FrameTruth(sequence=ref.sequence.folder, frame=ref.frame, labels=dataset.load_labels(ref),
                           object_ids=tuple(obj.index for obj in objects),
                           positives={obj.index: obj.positive for obj in objects},
                           hand_ids=tuple(obj.index for obj in objects if obj.class_id in hand_ids))
        yield StreamItem(truth=truth, image=dataset.load_image(ref), stamp_s=0.0, narration=narration, ref=ref)


def score_split(segmenter: Segmenter, dataset: ActionVOSDataset, gate_config: GateConfig | None = None,
                on_frame: FrameCallback | None = None, keep_records: bool = False, progress: bool = False,
                desc: str = "evaluate") -> tuple[StreamProcessor, Scorer]:
    """Every frame of ``dataset`` through the node's logic (``gate_config`` None: the model folder's fitted gate);
    returns the processor (its gate, its counters) and the scores, references included."""
    processor = StreamProcessor(segmenter, gate_config)
    scorer = score_stream(processor, split_stream(dataset), Scorer(references=True, keep_records=keep_records),
                          on_frame, progress, total=len(dataset.frames), desc=f"{desc} {dataset.split}")
    return processor, scorer
