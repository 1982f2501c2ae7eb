"""``actiseg-bag``: ActionVOS-layout splits as rosbag2 recordings, and their replay through the segmenter.

    actiseg-bag to-bag --data data/actiseg_sim --split val --out bags/val [--storage mcap] [--sequences 3]
    actiseg-bag replay --bag bags/val --model models/default --out runs/replay            # offline, runtime only
    actiseg-bag replay --bag bags/val --live --out runs/replay_live                      # through the running node

A bag holds, per sequence: ``/narration`` (actiseg_ros/msg/ActionNarration: narration + candidate object names,
sent just before the sequence's first frame), ``/camera/image_raw/compressed`` (sensor_msgs/msg/CompressedImage:
the frames' JPEG bytes passed through unchanged; ``--raw`` writes sensor_msgs/msg/Image rgb8 on
``/camera/image_raw`` instead) and ``/ground_truth/active_objects`` (actiseg_ros/msg/ActiveObjects: the annotation
as a mono8 label map, object ids = palette indices, ``active`` = the ActionVOS positive flags). Frames are
``1 / --fps`` apart, sequences one second apart. Written and read with ``rosbags`` (pure Python, sqlite3 or MCAP),
with our message definitions registered from ``msg/*.msg``, so any ROS 2 tool (``ros2 bag play``) reads the bags.

``replay`` scores what the segmenter answers against the ground truth: the ActionVOS metrics and the gate's
statistics (GO / NO-GO counts, reasons, NO-GO precision / recall against frames whose p-IoU < 0.5), printed per
frame and written as ``replay.json``; ``--video`` writes an overlay video. Offline it runs the stream logic in
this process (:class:`actiseg_core.stream.StreamProcessor`, exactly what the node runs); ``--live`` plays the bag
over DDS to a running node (publishing ``/clock``: start the node with ``use_sim_time:=true``) and scores the node's
``/active_objects`` answers.
"""

from __future__ import annotations

import io
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from actiseg_core.atomic import atomic_write_json
from actiseg_core.cli_util import OneLineParser, positive_float, positive_int, run_command
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.errors import ActiSegError
from actiseg_core.gating import GateConfig, mask_iou
from actiseg_core.metrics import ActionVOSMetrics, MetricResult
from actiseg_core.stream import (
    RawImage,
    StreamProcessor,
    decode_compressed,
    decode_image,
    decode_labels,
    render_overlay,
)

PROG = "actiseg-bag"
NARRATION_TOPIC = "/narration"
COMPRESSED_TOPIC = "/camera/image_raw/compressed"
RAW_TOPIC = "/camera/image_raw"
TRUTH_TOPIC = "/ground_truth/active_objects"
FRAME_ID = "camera"
START_NS = 1_700_000_000 * 10**9  # recordings start at a fixed, plausible epoch, so bags are reproducible
SEQUENCE_GAP_NS = 10**9
MSG_DIR = Path(__file__).resolve().parents[1] / "msg"


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


# --- to-bag ----------------------------------------------------------------------------------------------------
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
        for ref in tqdm(frames, desc=f"{PROG} to-bag", unit="frame", disable=not progress):
            objects = [obj for _, obj in sorted(ref.sequence.objects.items())]
            if ref.sequence is not previous:
                timestamp += SEQUENCE_GAP_NS if previous is not None else 0
                narration = types["actiseg_ros/msg/ActionNarration"](
                    header=_header(types, timestamp - 10**6), narration=ref.sequence.narration,
                    object_names=[obj.name for obj in objects])
                _write(writer, store, connections["narration"], timestamp - 10**6, narration)
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


def _truth_message(types: dict[str, Any], header: Any, labels: np.ndarray, objects: list, narration: str) -> Any:
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


# --- reading ---------------------------------------------------------------------------------------------------
@dataclass
class BagFrame:
    """One camera frame of a bag with what it needs for scoring."""

    stamp_ns: int
    narration: str
    object_names: list[str]
    image_message: Any  # rosbags message (Image or CompressedImage)
    truth: Any  # rosbags ActiveObjects
    raw_image: bytes = b""  # serialized CDR, for live playback
    raw_narration: bytes = b""  # serialized narration preceding this frame (first frame of a sequence only)


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
                if connection.topic == NARRATION_TOPIC:
                    message = store.deserialize_cdr(data, connection.msgtype)
                    narration, names, pending_narration = message.narration, list(message.object_names), bytes(data)
                elif connection.topic == TRUTH_TOPIC:
                    truth = store.deserialize_cdr(data, connection.msgtype)
                    truths[_stamp_ns(truth.header)] = truth
                else:
                    message = store.deserialize_cdr(data, connection.msgtype)
                    images.append((_stamp_ns(message.header), message, bytes(data), narration, names,
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


def _stamp_ns(header: Any) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


def bag_image(message: Any) -> np.ndarray:
    """RGB uint8 frame of a rosbags Image / CompressedImage message (the node's own decoders)."""
    if hasattr(message, "format"):
        return decode_compressed(message.data)
    return decode_image(RawImage.from_message(message))


def truth_labels(truth: Any) -> np.ndarray:
    return decode_labels(RawImage.from_message(truth.mask))


# --- scoring ---------------------------------------------------------------------------------------------------
@dataclass
class Answer:
    """What the segmenter said about one frame: GO or not, why, and its label map (label k + 1 = candidate k)."""

    go: bool
    reasons: list[str]
    label_map: np.ndarray | None
    latency_ms: float = float("nan")


@dataclass
class ReplayScore:
    """Accumulates metrics and gate statistics over a replay."""

    metrics: ActionVOSMetrics = field(default_factory=lambda: ActionVOSMetrics(False))
    reasons: Counter = field(default_factory=Counter)
    frames: list[dict[str, Any]] = field(default_factory=list)

    def add(self, frame: BagFrame, answer: Answer | None) -> dict[str, Any]:
        labels = truth_labels(frame.truth)
        ids = [int(i) for i in frame.truth.object_ids]
        positives = {index: bool(active) for index, active in zip(ids, frame.truth.active, strict=True)}
        if answer is None or answer.label_map is None or answer.label_map.shape != labels.shape:
            predicted = np.zeros_like(labels)
        else:  # runtime label k + 1 (k-th candidate) -> the candidate's palette index in the annotation
            lookup = np.zeros(256, np.uint8)
            lookup[1:len(ids) + 1] = ids
            predicted = lookup[answer.label_map]
        self.metrics.update(labels, predicted, positives)
        active_ids = [index for index in ids if positives[index]]
        p_iou = float(np.mean([mask_iou(predicted == i, labels == i) for i in active_ids])) if active_ids else 1.0
        record = {"stamp_ns": frame.stamp_ns, "narration": frame.narration, "answered": answer is not None,
                  "go": bool(answer.go) if answer else False, "reasons": answer.reasons if answer else ["unanswered"],
                  "p_iou": round(p_iou, 4),
                  "latency_ms": round(answer.latency_ms, 2) if answer and np.isfinite(answer.latency_ms) else None}
        self.reasons.update(record["reasons"])
        self.frames.append(record)
        return record

    def summary(self) -> dict[str, Any]:
        result: MetricResult = self.metrics.result()
        answered = [f for f in self.frames if f["answered"]]
        failures = np.array([f["p_iou"] < 0.5 for f in answered], bool)
        no_go = np.array([not f["go"] for f in answered], bool)
        caught = int((failures & no_go).sum())
        latencies = [f["latency_ms"] for f in answered if f["latency_ms"] is not None]
        return {
            "frames": len(self.frames), "answered": len(answered), "go": int((~no_go).sum()),
            "no_go": int(no_go.sum()), "no_go_reasons": dict(self.reasons.most_common()),
            "true_failures": int(failures.sum()),
            "no_go_precision": round(caught / no_go.sum(), 4) if no_go.any() else None,
            "no_go_recall": round(caught / failures.sum(), 4) if failures.any() else None,
            "metrics": {k: round(v, 2) for k, v in result.as_row().items()},
            "latency_ms": {"p50": round(float(np.percentile(latencies, 50)), 2),
                           "p99": round(float(np.percentile(latencies, 99)), 2)} if latencies else None,
        }


def replay_offline(frames: list[BagFrame], model: Path, backend: str, progress: bool) -> Iterator[
        tuple[BagFrame, Answer, np.ndarray]]:
    """Run each frame through :class:`StreamProcessor` (the node's logic) in this process."""
    from actiseg_core.runtime import Segmenter

    processor = StreamProcessor(Segmenter.load(model, backend=backend), GateConfig())
    narration = None
    for frame in tqdm(frames, desc=f"{PROG} replay", unit="frame", disable=not progress):
        if frame.narration != narration:
            processor.set_narration(frame.narration, frame.object_names, frame.stamp_ns * 1e-9)
            narration = frame.narration
        image = bag_image(frame.image_message)
        started = time.perf_counter()
        result = processor.process(image, frame.stamp_ns * 1e-9, frame.stamp_ns * 1e-9)
        latency = 1000 * (time.perf_counter() - started)
        yield frame, Answer(result.go, list(result.reasons), result.label_map, latency), image


def replay(bag: Path, out: Path, model: Path, backend: str = "onnxruntime", live: bool = False, rate: float = 1.0,
           video: bool = False, progress: bool = True, print_frames: bool = True) -> dict[str, Any]:
    """Replay ``bag`` offline (or ``live`` through a running node) and score it; writes ``out/replay.json``."""
    frames = list(read_bag(bag))
    if live:
        from training.live_replay import replay_live

        answers = replay_live(frames, rate, progress)
        stream = ((frame, answers.get(frame.stamp_ns), bag_image(frame.image_message)) for frame in frames)
    else:
        stream = replay_offline(frames, model, backend, progress)
    score = ReplayScore()
    writer = None
    for frame, answer, image in stream:
        record = score.add(frame, answer)
        if print_frames:
            verdict = "GO   " if record["go"] else "NO-GO"
            why = "" if record["go"] else " " + ",".join(record["reasons"])
            print(f"{frame.stamp_ns * 1e-9:.3f}  {verdict}  p-IoU {record['p_iou']:.2f}  "
                  f"\"{frame.narration}\"{why}", flush=True)
        if video:
            overlay = render_overlay(image, answer.label_map if answer else None, record["go"],
                                     tuple(record["reasons"]), frame.narration)
            writer = writer or _video_writer(out / "overlay.mp4", overlay.shape)
            writer.write(overlay[:, :, ::-1])
    if writer is not None:
        writer.release()
    report = {"bag": str(bag), "mode": "live (node over DDS)" if live else f"offline ({backend})",
              "model": None if live else str(model), **score.summary(), "frames_detail": score.frames}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "replay.json", report)
    return report


def _video_writer(path: Path, shape: tuple[int, ...]) -> Any:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (shape[1], shape[0]))
    if not writer.isOpened():
        raise ActiSegError(f"{path}: OpenCV cannot write an mp4 video here")
    return writer


# --- CLI -------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description="ActionVOS splits as rosbag2 recordings, and their replay.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    to_bag = commands.add_parser("to-bag", help="write an ActionVOS-layout split as a rosbag2")
    to_bag.add_argument("--data", type=Path, required=True, help="ActionVOS-layout root")
    to_bag.add_argument("--split", default="val")
    to_bag.add_argument("--out", type=Path, required=True, help="bag folder to create")
    to_bag.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3")
    to_bag.add_argument("--fps", type=positive_float, default=10.0, help="frame rate of the recording")
    to_bag.add_argument("--sequences", type=positive_int, default=None, help="only the first N sequences")
    to_bag.add_argument("--raw", action="store_true", help="sensor_msgs/Image rgb8 instead of the JPEG bytes")
    play = commands.add_parser("replay", help="score a bag through the runtime (offline) or the running node")
    play.add_argument("--bag", type=Path, required=True)
    play.add_argument("--out", type=Path, required=True, help="folder for replay.json (and overlay.mp4)")
    play.add_argument("--model", type=Path, default=Path("models/default"), help="model folder (offline)")
    play.add_argument("--backend", default="onnxruntime", help="runtime backend (offline)")
    play.add_argument("--live", action="store_true", help="play over DDS to a running node and score its answers")
    play.add_argument("--rate", type=positive_float, default=1.0, help="playback speed factor (live)")
    play.add_argument("--video", action="store_true", help="write overlay.mp4")
    play.add_argument("--quiet", action="store_true", help="no per-frame lines, no progress bar")
    args = parser.parse_args(argv)

    def handler() -> None:
        if args.command == "to-bag":
            summary = write_bag(args.data, args.split, args.out, args.storage, args.fps, args.raw, args.sequences)
            print(f"{PROG}: wrote {summary['frames']} frames of {summary['sequences']} sequences to {args.out} "
                  f"({summary['storage']}, images on {summary['image_topic']})")
            return
        report = replay(args.bag, args.out, args.model, args.backend, args.live, args.rate, args.video,
                        progress=not args.quiet, print_frames=not args.quiet)
        m = report["metrics"]
        print(f"{PROG}: {report['answered']}/{report['frames']} frames answered, GO {report['go']}, NO-GO "
              f"{report['no_go']} (precision {report['no_go_precision']}, recall {report['no_go_recall']} against "
              f"{report['true_failures']} frames with p-IoU < 0.5); p-mIoU {m['p-mIoU']} n-mIoU {m['n-mIoU']} "
              f"gIoU {m['gIoU']}; written to {args.out}")

    return run_command(PROG, handler)


if __name__ == "__main__":
    sys.exit(main())
