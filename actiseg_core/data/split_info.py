"""What identifies a split and its hand-role classes: shared by training, evaluation and the benchmarks."""

from __future__ import annotations

import hashlib
from pathlib import Path

from actiseg_core.data.classes import ClassMap, class_map_path, load_class_map
from actiseg_core.data.layout import image_set_path
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.errors import DataError
from actiseg_core.prompts import normalise_text

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
    return hand_ids_of(load_class_map(dataset.root, dataset.sequences))


def hand_ids_of(classes: ClassMap) -> frozenset[int]:
    """:func:`hand_class_ids` of a class map."""
    return VISOR_HAND_CLASS_IDS | {c.class_id for c in classes.values() if c.label == GRIPPER_LABEL}


def hand_names(classes: ClassMap) -> frozenset[str]:
    """The normalised names of the hand-role classes ("robot hand", "gripper", ...), so that a prompt can be
    recognised as naming the hand from its text alone (a noisy split's class ids are the true ones)."""
    hands = hand_ids_of(classes)
    return frozenset(normalise_text(name) for c in classes.values() if c.class_id in hands for name in c.names)


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
