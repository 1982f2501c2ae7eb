"""``actiseg-bag to-bag``: an ActionVOS-layout split written as a rosbag2 (sqlite3 or MCAP) with ``rosbags``.

Frames are ``1 / fps`` apart, sequences one second apart, from a fixed epoch (so bags are reproducible); the
narration of a sequence is sent 1 ms before its first frame. The topics: :mod:`actiseg_ros.bag.format`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from actiseg_core.data.layout import ObjectInfo
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.errors import ActiSegError
from actiseg_ros.bag.format import COMPRESSED_TOPIC, FRAME_ID, NARRATION_TOPIC, RAW_TOPIC, TRUTH_TOPIC, typestore

START_NS = 1_700_000_000 * 10**9  # recordings start at a fixed, plausible epoch, so bags are reproducible
SEQUENCE_GAP_NS = 10**9
NARRATION_LEAD_NS = 10**6


def write_bag(data: Path, split: str, out: Path, storage: str = "sqlite3", fps: float = 10.0, raw: bool = False,
              max_sequences: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Write ``data``/``split`` as a rosbag2 at ``out`` (which must not exist); returns a summary."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    dataset = ActionVOSDataset(data, split)
    if out.exists():
        raise ActiSegError(f"{out}: already exists (rosbag2 writes a new folder; remove it or choose another)")
    store = typestore()
    types = store.types
    sequences = dataset.sequences[:max_sequences] if max_sequences else dataset.sequences
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    frames = [ref for ref in dataset.frames if ref.sequence in sequences]
    timestamp = START_NS
    with Writer(out, version=9, storage_plugin=plugin) as writer:
        image_type = "sensor_msgs/msg/Image" if raw else "sensor_msgs/msg/CompressedImage"
        connections = {
            "narration": writer.add_connection(NARRATION_TOPIC, "actiseg_ros/msg/ActionNarration", typestore=store),
            "image": writer.add_connection(RAW_TOPIC if raw else COMPRESSED_TOPIC, image_type, typestore=store),
            "truth": writer.add_connection(TRUTH_TOPIC, "actiseg_ros/msg/ActiveObjects", typestore=store),
        }
        previous = None
        for ref in tqdm(frames, desc="actiseg-bag to-bag", unit="frame", disable=not progress):
            objects = [obj for _, obj in sorted(ref.sequence.objects.items())]
            if ref.sequence is not previous:
                timestamp += SEQUENCE_GAP_NS if previous is not None else 0
                narration = types["actiseg_ros/msg/ActionNarration"](
                    header=_header(types, timestamp - NARRATION_LEAD_NS), narration=ref.sequence.narration,
                    object_names=[obj.name for obj in objects])
                _write(writer, store, connections["narration"], timestamp - NARRATION_LEAD_NS, narration)
                previous = ref.sequence
            header = _header(types, timestamp)
            if raw:
                pixels = dataset.load_image(ref)
                image = types["sensor_msgs/msg/Image"](header=header, height=pixels.shape[0], width=pixels.shape[1],
                                                       encoding="rgb8", is_bigendian=0, step=3 * pixels.shape[1],
                                                       data=pixels.reshape(-1))
            else:
                image = types["sensor_msgs/msg/CompressedImage"](
                    header=header, format="jpeg", data=np.frombuffer(_jpeg_bytes(ref.image_path), np.uint8))
            _write(writer, store, connections["image"], timestamp, image)
            _write(writer, store, connections["truth"], timestamp,
                   _truth_message(types, header, dataset.load_labels(ref), objects, ref.sequence.narration))
            timestamp += round(1e9 / fps)
    return {"bag": str(out), "storage": storage, "sequences": len(sequences), "frames": len(frames),
            "image_topic": RAW_TOPIC if raw else COMPRESSED_TOPIC}


def _jpeg_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\xff\xd8":
        return data
    buffer = io.BytesIO()  # a PNG or other frame: re-encode, the topic promises JPEG
    Image.open(path).convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _header(types: dict[str, Any], timestamp: int) -> Any:
    stamp = types["builtin_interfaces/msg/Time"](sec=timestamp // 10**9, nanosec=timestamp % 10**9)
    return types["std_msgs/msg/Header"](stamp=stamp, frame_id=FRAME_ID)


def _truth_message(types: dict[str, Any], header: Any, labels: np.ndarray, objects: list[ObjectInfo],
                   narration: str) -> Any:
    mask = types["sensor_msgs/msg/Image"](header=header, height=labels.shape[0], width=labels.shape[1],
                                          encoding="mono8", is_bigendian=0, step=labels.shape[1],
                                          data=np.ascontiguousarray(labels, np.uint8).reshape(-1))
    gate = types["actiseg_ros/msg/ManipulationGate"](header=header, go=True, p_confidence=1.0, n_risk=0.0,
                                                     boundary_uncertainty=0.0, temporal_stability=1.0, reasons=[])
    return types["actiseg_ros/msg/ActiveObjects"](
        header=header, mask=mask, narration=narration, object_names=[obj.name for obj in objects],
        object_ids=np.array([obj.index for obj in objects], np.uint8),
        scores=np.array([float(obj.positive) for obj in objects], np.float32),
        active=np.array([obj.positive for obj in objects], bool), gate=gate, inference_ms=0.0)


def _write(writer: Any, store: Any, connection: Any, timestamp: int, message: Any) -> None:
    writer.write(connection, timestamp, store.serialize_cdr(message, connection.msgtype))
