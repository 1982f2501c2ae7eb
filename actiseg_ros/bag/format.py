"""What an actiseg-bag recording holds, and reading it back (pure Python: ``rosbags``, no rclpy).

Per sequence: ``/narration`` (actiseg_ros/msg/ActionNarration: narration + candidate object names, sent just
before the sequence's first frame), ``/camera/image_raw/compressed`` (sensor_msgs/msg/CompressedImage: the frames'
JPEG bytes passed through unchanged; or sensor_msgs/msg/Image rgb8 on ``/camera/image_raw``) and
``/ground_truth/active_objects`` (actiseg_ros/msg/ActiveObjects: the annotation as a mono8 label map, object ids =
palette indices, ``active`` = the ActionVOS positive flags), all stamped with the frame's time. Our message
definitions are registered from ``msg/*.msg``, so any ROS 2 tool (``ros2 bag play``) reads the bags.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from actiseg_core.errors import ActiSegError
from actiseg_core.evaluation import FrameTruth, StreamItem
from actiseg_core.stream import ImageDecodeError, Narration, RawImage, decode_compressed, decode_image, decode_labels

NARRATION_TOPIC = "/narration"
COMPRESSED_TOPIC = "/camera/image_raw/compressed"
RAW_TOPIC = "/camera/image_raw"
TRUTH_TOPIC = "/ground_truth/active_objects"
ANSWER_TOPIC = "/active_objects"
CLOCK_TOPIC = "/clock"
FRAME_ID = "camera"
#: where the repository keeps the message definitions (an installed package finds them through the ament index)
MSG_DIR = Path(__file__).resolve().parents[2] / "msg"


def typestore() -> Any:
    """ROS 2 Kilted's standard types plus actiseg_ros' messages, read from their .msg files."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    folder = MSG_DIR if MSG_DIR.is_dir() else _installed_msg_dir()
    types: dict[str, Any] = {}
    for path in sorted(folder.glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(encoding="utf-8"), f"actiseg_ros/msg/{path.stem}"))
    store.register(types)
    return store


def _installed_msg_dir() -> Path:
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("actiseg_ros")) / "msg"


@dataclass
class BagFrame:
    """One camera frame of a bag with what it needs for scoring and for playing it back."""

    stamp_ns: int
    narration: str
    object_names: list[str]
    image_message: Any  # rosbags message (Image or CompressedImage)
    truth: Any  # rosbags ActiveObjects
    raw_image: bytes = b""  # serialized CDR, for live playback
    raw_narration: bytes = b""  # serialized narration preceding this frame (first frame of a sequence only)

    @property
    def stamp_s(self) -> float:
        return self.stamp_ns * 1e-9


def read_bag(path: Path) -> Iterator[BagFrame]:
    """Frames in time order with the narration in force and their ground truth."""
    from rosbags.rosbag2 import Reader

    if not path.exists():
        raise ActiSegError(f"{path}: bag not found")
    store = typestore()
    truths: dict[int, Any] = {}
    try:
        with Reader(path) as reader:
            wanted = [c for c in reader.connections if c.topic in (NARRATION_TOPIC, COMPRESSED_TOPIC, RAW_TOPIC,
                                                                    TRUTH_TOPIC)]
            if not any(c.topic in (COMPRESSED_TOPIC, RAW_TOPIC) for c in wanted):
                raise ActiSegError(f"{path}: no {COMPRESSED_TOPIC} or {RAW_TOPIC} topic (not an actiseg-bag bag)")
            narration, names, pending_narration = "", [], b""
            images: list[tuple[int, Any, bytes, str, list[str], bytes]] = []
            for connection, _, data in reader.messages(connections=wanted):
                message = store.deserialize_cdr(data, connection.msgtype)
                if connection.topic == NARRATION_TOPIC:
                    narration, names, pending_narration = message.narration, list(message.object_names), bytes(data)
                elif connection.topic == TRUTH_TOPIC:
                    truths[stamp_ns(message.header)] = message
                else:
                    images.append((stamp_ns(message.header), message, bytes(data), narration, names,
                                   pending_narration))
                    pending_narration = b""
    except ActiSegError:
        raise
    except Exception as exc:  # rosbags' own errors for a damaged bag
        raise ActiSegError(f"{path}: cannot read the bag ({type(exc).__name__}: {exc})") from None
    for stamp, message, data, narration, names, raw_narration in images:
        if stamp not in truths:
            raise ActiSegError(f"{path}: no {TRUTH_TOPIC} message for the image stamped {stamp}")
        yield BagFrame(stamp, narration, names, message, truths[stamp], data, raw_narration)


def stamp_ns(header: Any) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


def bag_image(message: Any) -> np.ndarray:
    """RGB uint8 frame of a rosbags Image / CompressedImage message (the node's own decoders)."""
    if hasattr(message, "format"):
        return decode_compressed(message.data)
    return decode_image(RawImage.from_message(message))


def truth_labels(truth: Any) -> np.ndarray:
    return decode_labels(RawImage.from_message(truth.mask))


def frame_truth(frame: BagFrame) -> FrameTruth:
    """The frame's ground truth as the evaluator takes it (candidate k = the k-th recorded object id)."""
    ids = tuple(int(i) for i in frame.truth.object_ids)
    return FrameTruth(sequence=frame.narration, frame=str(frame.stamp_ns), labels=truth_labels(frame.truth),
                      object_ids=ids, positives=dict(zip(ids, (bool(a) for a in frame.truth.active), strict=True)),
                      stamp_ns=frame.stamp_ns)


def stream_items(frames: list[BagFrame]) -> Iterator[StreamItem]:
    """The frames as the evaluator's stream, each decoded when reached: the narration (as recorded, stamped when
    its sequence's first frame is) where the bag sends one, the image (or the node's decoding error) at its stamp."""
    for frame in frames:
        narration = Narration(frame.narration, tuple(frame.object_names), frame.stamp_s) if frame.raw_narration \
            else None
        try:
            image: np.ndarray | ImageDecodeError = bag_image(frame.image_message)
        except ImageDecodeError as exc:
            image = exc
        yield StreamItem(truth=frame_truth(frame), image=image, stamp_s=frame.stamp_s, narration=narration, ref=frame)
