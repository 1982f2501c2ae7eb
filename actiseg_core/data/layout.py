"""The ActionVOS / VISOR data layout, read and written unchanged.

A root holds, per split (``train``, ``val``, ...)::

    JPEGImages_Sparse/<split>/<seq>/frame_0000000123.jpg   RGB frames (854x480 in ActionVOS)
    Annotations_Sparse/<split>/<seq>/frame_0000000123.png  palette PNG, pixel = object index 1..N, 0 = background
    ImageSets/<split>.json                                 list of sequences (narration, verb, noun, object_classes)

where ``<seq>`` is ``f"{seq_id:08d}_{video}_{verb}_{noun}"``. ``object_classes`` maps the palette index (as a
string, as json writes it) to ``{name, class_id, handbox, narration, positive}``; indices follow the objects' names
in sorted order, as ActionVOS's preparation script assigns them.

ActiSeg-Sim adds, without changing anything a VISOR reader expects:

- ``RobotParts_Sparse/<split>/<seq>/<frame>.png``: palette PNG, 1 = arm links, 2 = gripper (robot-part masks);
- ``ImageSets/classes.json``: the class map (class id -> class name and its object names) that text noise
  (Alg. 1) samples from; real data sets derive it from the names seen in their ImageSets files instead;
- extra keys in each sequence (``robot``, ``texture``, ``object_set``, ``action``) describing how it was rendered.

ActiSeg-Sim v2 renders asked for sensors add per-frame geometry (:mod:`geometry_layout` holds the readers, the
writers and the full schema); a plain ActionVOS / VISOR reader ignores these folders:

- ``Depth_Sparse/<split>/<seq>/<frame>.png``: 16-bit grey PNG, millimetres along the optical axis (REP 118 16UC1),
  0 = no return;
- ``RobotLinks_Sparse/<split>/<seq>/<frame>.png``: palette PNG, 1 = base, 1 + k = link moved by the k-th arm
  joint, 32 = gripper / hand (its robot pixels are exactly ``RobotParts_Sparse``'s, which keeps 1 / 2);
- ``Geometry_Sparse/<split>/<seq>.json``: intrinsics K, per-frame ``T_world_camera`` (ROS optical frame, metres),
  per-object 3-D centroid, boxes, visible / silhouette pixels, occlusion and truncation keyed by palette index,
  the grip site, and the robot-link legend.

All writers are atomic (temporary file + rename) so that a killed render or corruption never leaves a half file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from actiseg_core.atomic import atomic_write_bytes, atomic_write_json  # re-exported: the data writers' API
from actiseg_core.errors import DataError
from actiseg_core.palette import davis_palette

IMAGES_DIR = "JPEGImages_Sparse"
ANNOTATIONS_DIR = "Annotations_Sparse"
ROBOT_PARTS_DIR = "RobotParts_Sparse"
IMAGE_SETS_DIR = "ImageSets"
CLASS_MAP_FILE = "classes.json"

ANNOTATION_WIDTH = 854
ANNOTATION_HEIGHT = 480

ROBOT_PART_ARM = 1
ROBOT_PART_GRIPPER = 2


_SEQUENCE_KEYS = ("seq_id", "video", "narration", "verb", "noun", "sparse_frames", "object_classes")


@dataclass(frozen=True)
class ObjectInfo:
    """One annotated object of a sequence: its palette index, name, class and action flags."""

    index: int
    name: str
    class_id: int
    positive: bool
    handbox: bool = False
    narration: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "class_id": self.class_id,
            "handbox": int(self.handbox),
            "narration": int(self.narration),
            "positive": int(self.positive),
        }


@dataclass
class Sequence:
    """One narrated action clip: its sparse annotated frames and the objects painted in their masks."""

    seq_id: int
    video: str
    narration: str
    verb: str
    noun: str
    sparse_frames: list[str]
    objects: dict[int, ObjectInfo]
    verb_class: int = -1
    noun_class: int = -1
    start: int = 0
    end: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        """The sequence's folder name under every ``*_Sparse/<split>`` directory."""
        return sequence_folder(self.seq_id, self.video, self.verb, self.noun)

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "seq_id": self.seq_id,
            "video": self.video,
            "start": self.start,
            "narration": self.narration,
            "verb": self.verb,
            "verb_class": self.verb_class,
            "noun": self.noun,
            "noun_class": self.noun_class,
            "end": self.end,
            "sparse_frames": list(self.sparse_frames),
            "object_classes": {str(k): obj.to_json() for k, obj in sorted(self.objects.items())},
        }
        record.update(self.extra)
        return record


def sequence_folder(seq_id: int, video: str, verb: str, noun: str) -> str:
    """ActionVOS's sequence folder name: ``{seq_id:08d}_{video}_{verb}_{noun}``."""
    return f"{seq_id:08d}_{video}_{verb}_{noun}"


def frame_name(index: int) -> str:
    """EPIC-KITCHENS frame file name for a frame index."""
    return f"frame_{index:010d}.jpg"


def mask_name(frame: str) -> str:
    """The annotation file name of a frame (``.jpg`` -> ``.png``)."""
    return str(Path(frame).with_suffix(".png"))


def image_set_path(root: Path, split: str) -> Path:
    return Path(root) / IMAGE_SETS_DIR / f"{split}.json"


def frame_path(root: Path, split: str, seq: Sequence, frame: str) -> Path:
    return Path(root) / IMAGES_DIR / split / seq.folder / frame


def annotation_path(root: Path, split: str, seq: Sequence, frame: str) -> Path:
    return Path(root) / ANNOTATIONS_DIR / split / seq.folder / mask_name(frame)


def robot_parts_path(root: Path, split: str, seq: Sequence, frame: str) -> Path:
    return Path(root) / ROBOT_PARTS_DIR / split / seq.folder / mask_name(frame)


def _parse_object(path: Path, seq_id: Any, key: str, raw: Any) -> ObjectInfo:
    if not isinstance(raw, dict) or any(k not in raw for k in ("name", "class_id", "positive")):
        raise DataError(f"{path}: sequence {seq_id} object {key!r} needs name, class_id and positive")
    try:
        index = int(key)
    except ValueError:
        raise DataError(f"{path}: sequence {seq_id} has non-integer object index {key!r}") from None
    if not 1 <= index <= 255:
        raise DataError(f"{path}: sequence {seq_id} object index {index} outside the palette range 1..255")
    return ObjectInfo(
        index=index,
        name=str(raw["name"]),
        class_id=int(raw["class_id"]),
        positive=bool(raw["positive"]),
        handbox=bool(raw.get("handbox", 0)),
        narration=bool(raw.get("narration", 0)),
    )


def parse_sequence(path: Path, raw: Any) -> Sequence:
    """Validate one ImageSets record; every problem is a one-line :class:`DataError` naming ``path``."""
    if not isinstance(raw, dict):
        raise DataError(f"{path}: every entry must be a JSON object, got {type(raw).__name__}")
    missing = [k for k in _SEQUENCE_KEYS if k not in raw]
    if missing:
        raise DataError(f"{path}: sequence {raw.get('seq_id', '?')} lacks {', '.join(missing)}")
    if not isinstance(raw["object_classes"], dict) or not raw["object_classes"]:
        raise DataError(f"{path}: sequence {raw['seq_id']} has no object_classes")
    if not isinstance(raw["sparse_frames"], list) or not raw["sparse_frames"]:
        raise DataError(f"{path}: sequence {raw['seq_id']} has no sparse_frames")
    objects = {}
    for key, obj in raw["object_classes"].items():
        info = _parse_object(path, raw["seq_id"], key, obj)
        objects[info.index] = info
    known = set(_SEQUENCE_KEYS) | {"verb_class", "noun_class", "start", "end"}
    return Sequence(
        seq_id=int(raw["seq_id"]),
        video=str(raw["video"]),
        narration=str(raw["narration"]),
        verb=str(raw["verb"]),
        noun=str(raw["noun"]),
        sparse_frames=[str(f) for f in raw["sparse_frames"]],
        objects=objects,
        verb_class=int(raw.get("verb_class", -1)),
        noun_class=int(raw.get("noun_class", -1)),
        start=int(raw.get("start", 0)),
        end=int(raw.get("end", 0)),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def read_json(path: Path) -> Any:
    """Load a JSON file; a missing or corrupt file is a one-line :class:`DataError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: corrupt JSON ({exc})") from None


def read_image_set(root: Path, split: str) -> list[Sequence]:
    """Read ``ImageSets/<split>.json`` of an ActionVOS-layout root into validated sequences."""
    path = image_set_path(root, split)
    if not (Path(root) / IMAGE_SETS_DIR).is_dir():
        raise DataError(f"{root}: not an ActionVOS-layout root (no {IMAGE_SETS_DIR}/ folder)")
    raw = read_json(path)
    if not isinstance(raw, list):
        raise DataError(f"{path}: expected a JSON list of sequences, got {type(raw).__name__}")
    return [parse_sequence(path, record) for record in raw]


def write_image_set(root: Path, split: str, sequences: list[Sequence]) -> Path:
    """Write ``ImageSets/<split>.json`` atomically, sequences in seq_id order."""
    path = image_set_path(root, split)
    atomic_write_json(path, [s.to_json() for s in sorted(sequences, key=lambda s: s.seq_id)])
    return path


_PALETTE = davis_palette()


def encode_label_png(label_map: np.ndarray) -> bytes:
    """Encode a uint8 label map as a palette PNG (the ActionVOS annotation format)."""
    if label_map.dtype != np.uint8 or label_map.ndim != 2:
        raise ValueError(f"label map must be 2-D uint8, got {label_map.dtype} {label_map.shape}")
    image = Image.fromarray(label_map, mode="P")
    image.putpalette(_PALETTE)
    buffer = BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def write_label_png(path: Path, label_map: np.ndarray) -> None:
    atomic_write_bytes(path, encode_label_png(label_map))


def _read_image(path: Path, what: str, decode: Callable[[Image.Image], np.ndarray]) -> np.ndarray:
    """Open an image file and decode it; a missing or corrupt file is a one-line :class:`DataError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} file not found")
    try:
        with Image.open(path) as image:
            return decode(image)
    except DataError:
        raise
    except Exception as exc:  # PIL raises many types for truncated / corrupt files
        raise DataError(f"{path}: corrupt {what} ({exc.__class__.__name__}: {exc})") from None


def read_label_png(path: Path) -> np.ndarray:
    """Read a palette (or grey) annotation PNG as a uint8 label map; corrupt or missing -> :class:`DataError`."""

    def decode(image: Image.Image) -> np.ndarray:
        if image.mode not in ("P", "L"):
            raise DataError(f"{path}: annotation must be a palette or grey PNG, got mode {image.mode}")
        return np.array(image, dtype=np.uint8)

    return _read_image(path, "mask", decode)


def read_rgb(path: Path) -> np.ndarray:
    """Read a frame as uint8 HxWx3 RGB; corrupt or missing -> :class:`DataError` naming the file."""
    return _read_image(path, "frame", lambda image: np.array(image.convert("RGB"), dtype=np.uint8))
