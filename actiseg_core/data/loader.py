"""Any ActionVOS-layout root -> per-object queries (frame, object name, narration, mask, positive flag, prompt).

The same loader reads real VISOR-derived ActionVOS data and the rendered ActiSeg-Sim benchmark, unchanged. A
query is one (sparse frame, annotated object) pair: ActionVOS evaluates every annotated object of every frame,
active or not, so inactive objects are queries with an empty target (and must be predicted empty).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actiseg_core.data.layout import (
    ObjectInfo,
    Sequence,
    annotation_path,
    frame_path,
    read_image_set,
    read_label_png,
    read_rgb,
    robot_parts_path,
)
from actiseg_core.errors import DataError
from actiseg_core.prompts import build_prompt


@dataclass(frozen=True)
class FrameRef:
    """One sparse annotated frame of a sequence."""

    sequence: Sequence
    frame: str
    image_path: Path
    annotation_path: Path


@dataclass(frozen=True)
class ObjectQuery:
    """One (frame, object) query: what the segmenter is asked and what it should answer."""

    frame: FrameRef
    obj: ObjectInfo

    @property
    def name(self) -> str:
        return self.obj.name

    @property
    def narration(self) -> str:
        return self.frame.sequence.narration

    @property
    def positive(self) -> bool:
        return self.obj.positive

    @property
    def prompt(self) -> str:
        return build_prompt(self.obj.name, self.frame.sequence.narration)


class ActionVOSDataset:
    """An ActionVOS-layout split: sequences, their sparse frames and per-object queries.

    Construction validates the ImageSets JSON and checks that every frame and mask file exists, so that a broken
    root fails at once with the offending file named, not hours into training.
    """

    def __init__(self, root: Path, split: str) -> None:
        self.root = Path(root)
        self.split = split
        if not self.root.is_dir():
            raise DataError(f"{self.root}: data root not found")
        self.sequences = read_image_set(self.root, split)
        self.frames: list[FrameRef] = []
        for seq in self.sequences:
            for frame in seq.sparse_frames:
                ref = FrameRef(
                    seq,
                    frame,
                    frame_path(self.root, split, seq, frame),
                    annotation_path(self.root, split, seq, frame),
                )
                for path in (ref.image_path, ref.annotation_path):
                    if not path.is_file():
                        raise DataError(f"{path}: listed in {split}.json but missing")
                self.frames.append(ref)
        self.queries = [ObjectQuery(ref, obj) for ref in self.frames for _, obj in sorted(ref.sequence.objects.items())]

    def __len__(self) -> int:
        return len(self.queries)

    def load_image(self, ref: FrameRef) -> np.ndarray:
        """The frame as uint8 HxWx3 RGB."""
        return read_rgb(ref.image_path)

    def load_labels(self, ref: FrameRef) -> np.ndarray:
        """The frame's label map; an index that is no annotated object of the sequence is a data error."""
        labels = read_label_png(ref.annotation_path)
        present = np.unique(labels)
        unknown = [int(v) for v in present if v != 0 and int(v) not in ref.sequence.objects]
        if unknown:
            raise DataError(
                f"{ref.annotation_path}: label values {unknown} are not objects of sequence {ref.sequence.seq_id}"
            )
        return labels

    def load_robot_parts(self, ref: FrameRef) -> np.ndarray | None:
        """ActiSeg-Sim's robot-part mask (1 arm, 2 gripper), or None for data sets without one."""
        path = robot_parts_path(self.root, self.split, ref.sequence, ref.frame)
        return read_label_png(path) if path.is_file() else None

    def object_mask(self, query: ObjectQuery, labels: np.ndarray | None = None) -> np.ndarray:
        """The query object's boolean mask (all of it, whether active or not)."""
        if labels is None:
            labels = self.load_labels(query.frame)
        return labels == query.obj.index
