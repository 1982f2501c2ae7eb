"""Test clients for a running node, each its own process: a camera + narration publisher and an answer listener.

    python -m actiseg_ros.probe publish --rate 30 --size 480x640 --duration 180 --narration "take cup" \
        --names "cup,robot hand"
    python -m actiseg_ros.probe listen --duration 185 --out answers.json
    python -m actiseg_ros.probe faults            # the bad-input script (see FAULTS)

``publish`` stamps every image with the wall clock at publication, so ``listen`` (same machine, same clock) measures
end-to-end latency as receive time minus header stamp, and checks that every answer's header is a published
image's header. ``listen`` records ``active_objects`` answers and the node's ``/diagnostics`` and writes them as JSON.
Used by the DDS tests, the ROS benchmark and the demo; handy for poking a node on a robot, too.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from actiseg_ros.msg import ActionNarration, ActiveObjects

FRAME_ID = "probe_camera"


def wall_stamp(header: Header) -> None:
    now = time.time_ns()
    header.stamp.sec, header.stamp.nanosec = divmod(now, 10**9)
    header.frame_id = FRAME_ID


def pattern_image(height: int, width: int, phase: int) -> np.ndarray:
    """A moving colour pattern with a bright block: cheap to make, not constant."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([(x + phase) % 256, (y * 2) % 256, ((x + y) // 2) % 256], axis=-1).astype(np.uint8)
    top, left = height // 3, (width // 4 + 3 * phase) % max(width // 2, 1)
    image[top: top + height // 4, left: left + width // 5] = (230, 60, 40)
    return image


def image_message(pixels: np.ndarray, encoding: str = "rgb8", step: int | None = None) -> Image:
    message = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding, is_bigendian=False,
                    step=step if step is not None else pixels.shape[1] * (pixels.shape[2] if pixels.ndim == 3 else 1))
    message.data = pixels.tobytes()
    wall_stamp(message.header)
    return message


def narration_message(text: str, names: list[str]) -> ActionNarration:
    message = ActionNarration(narration=text, object_names=names)
    wall_stamp(message.header)
    return message


class Probe(Node):
    def __init__(self, name: str, reliable_images: bool, hear_answers: bool = False) -> None:
        super().__init__(name)
        qos = QoSProfile(depth=5) if reliable_images else qos_profile_sensor_data
        self.images = self.create_publisher(Image, "image", qos)
        self.narrations = self.create_publisher(ActionNarration, "narration", QoSProfile(depth=10))
        self.answered: set[int] = set()  # header stamps of the images the node has answered (see answer_to)
        if hear_answers:  # only where needed: every subscriber costs the node a copy of each mask
            self.create_subscription(
                ActiveObjects, "active_objects", lambda message: self.answered.add(_stamp_ns(message.header)),
                QoSProfile(depth=100))

    def answer_to(self, image: Image, timeout_s: float = 10.0) -> bool:
        """Spin until the node's answer to ``image`` (same header stamp) arrives; False if none came in time."""
        stamp = _stamp_ns(image.header)
        deadline = time.monotonic() + timeout_s
        while stamp not in self.answered and time.monotonic() < deadline:
            rclpy.spin_once(self, timeout_sec=0.05)
        return stamp in self.answered

    def wait_for_node(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.images.get_subscription_count() == 0 or self.narrations.get_subscription_count() == 0:
            if time.monotonic() > deadline:
                raise SystemExit(f"probe: no node subscribed to image and narration within {timeout_s:.0f} s")
            time.sleep(0.05)


def publish(args: argparse.Namespace) -> None:
    height, width = args.size
    probe = Probe("actiseg_probe_publisher", args.reliable)
    probe.wait_for_node()
    time.sleep(args.delay)
    probe.narrations.publish(narration_message(args.narration, [n for n in args.names.split(",") if n]))
    time.sleep(0.2)
    frames = [pattern_image(height, width, phase) for phase in range(16)]  # made up front: publishing is timed
    period, start, count = 1.0 / args.rate, time.monotonic(), 0
    while time.monotonic() - start < args.duration:
        probe.images.publish(image_message(frames[count % len(frames)]))
        count += 1
        time.sleep(max(start + count * period - time.monotonic(), 0.0))
    print(json.dumps({"published": count, "seconds": round(time.monotonic() - start, 2)}), flush=True)


def faults(args: argparse.Namespace) -> None:
    """Every bad input the node must survive, in order; then a 200 Hz flood and a good frame.

    After each image the script waits for the node's answer to it (up to 10 s) before the next step, so that on a
    loaded machine a frame is still judged under the narration it was sent after, not one that overtook it.
    """
    probe = Probe("actiseg_probe_faults", reliable_images=True, hear_answers=True)
    probe.wait_for_node()
    good = pattern_image(48, 64, 0)
    step: list[tuple[str, Callable[[], Image | ActionNarration | bytes]]] = [
        ("no_narration_yet", lambda: image_message(good)),
        ("good_narration", lambda: narration_message("take cup", ["cup", "robot hand"])),
        ("unknown_encoding", lambda: image_message(good, encoding="foo")),
        ("unsupported_encoding", lambda: image_message(good[:, :, :2].copy(), "yuv422")),
        ("step_mismatch", lambda: image_message(good, step=100)),
        ("zero_size", lambda: image_message(np.zeros((0, 0, 3), np.uint8))),
        ("8k_image", lambda: image_message(np.zeros((4320, 7680), np.uint8), "mono8")),
        ("empty_narration", lambda: narration_message("", ["cup"])),
        ("frame_after_empty_narration", lambda: image_message(good)),
        ("long_narration", lambda: narration_message("take " * 4000, ["cup"])),
        ("non_utf8_narration", _non_utf8_narration),
        ("unknown_object_names", lambda: narration_message("take it", ["unicorn"])),
        ("frame_after_unknown_names", lambda: image_message(good)),
        ("good_narration_again", lambda: narration_message("take cup", ["cup"])),
    ]
    for name, make in step:
        message = make()
        if isinstance(message, Image):
            probe.images.publish(message)
            answered = probe.answer_to(message)
            print(f"sent {name}{'' if answered else ' (no answer within 10 s)'}", flush=True)
        else:
            probe.narrations.publish(message)
            print(f"sent {name}", flush=True)
        time.sleep(args.pause)
    flood = pattern_image(48, 64, 1)
    start = time.monotonic()
    for count in range(int(args.flood_seconds * 200)):
        probe.images.publish(image_message(flood))
        time.sleep(max(start + (count + 1) / 200.0 - time.monotonic(), 0.0))
    print(f"sent flood_200hz {int(args.flood_seconds * 200)} frames", flush=True)
    time.sleep(args.pause)
    probe.images.publish(image_message(good))
    print("sent final_good_frame", flush=True)


def _non_utf8_narration() -> bytes:
    """An ActionNarration whose narration bytes are not UTF-8 (rclpy cannot build one, so patch the CDR)."""
    placeholder = "PLACEHOLDER!"
    data = serialize_message(narration_message(placeholder, ["cup"]))
    return data.replace(placeholder.encode(), b"\xff\xfe\xfd" * 4)


def listen(args: argparse.Namespace) -> None:
    node = Node("actiseg_probe_listener")
    answers: list[dict[str, Any]] = []
    diagnostics: list[dict[str, str]] = []
    lock = threading.Lock()

    def on_answer(message: ActiveObjects) -> None:
        received = time.time_ns()
        stamp = _stamp_ns(message.header)
        mask = message.mask
        with lock:
            answers.append({"stamp_ns": stamp, "received_ns": received, "latency_ms": (received - stamp) / 1e6,
                            "frame_id": message.header.frame_id, "mask_frame_id": mask.header.frame_id,
                            "mask_stamp_ns": _stamp_ns(mask.header),
                            "mask": [mask.height, mask.width, mask.encoding, mask.step, len(mask.data)],
                            "labels": np.unique(np.frombuffer(bytes(mask.data), np.uint8)).tolist()
                            if args.labels else None,
                            "go": message.gate.go, "reasons": list(message.gate.reasons),
                            "gate_stamp_ns": _stamp_ns(message.gate.header),
                            "names": list(message.object_names), "scores": [round(s, 4) for s in message.scores],
                            "inference_ms": message.inference_ms})

    def on_diagnostics(message: DiagnosticArray) -> None:
        with lock:
            for status in message.status:
                diagnostics.append({"name": status.name, "level": int.from_bytes(status.level, "little")
                                    if isinstance(status.level, bytes) else int(status.level),
                                    **{kv.key: kv.value for kv in status.values}})

    node.create_subscription(ActiveObjects, "active_objects", on_answer, QoSProfile(depth=100))
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, QoSProfile(depth=10))
    # Callers start the next process after this line: DDS participants of several processes started within the
    # same few milliseconds sometimes leave one of them unmatched for good (Fast DDS with LARGE_DATA transports);
    # one at a time avoids it. The node's answer publisher is waited for first (up to 30 s): on a loaded machine
    # discovery can lag by seconds, and answers published before the match would be lost to the recording.
    seen_by = time.monotonic() + 30.0
    while node.count_publishers("active_objects") == 0 and time.monotonic() < seen_by:
        rclpy.spin_once(node, timeout_sec=0.1)
    print("listening", flush=True)
    deadline = time.monotonic() + args.duration
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    with lock:
        Path(args.out).write_text(json.dumps({"answers": answers, "diagnostics": diagnostics}))
    print(json.dumps({"answers": len(answers), "diagnostics": len(diagnostics)}), flush=True)


def _stamp_ns(header: Header) -> int:
    return header.stamp.sec * 10**9 + header.stamp.nanosec


def _size(text: str) -> tuple[int, int]:
    height, _, width = text.partition("x")
    return int(height), int(width)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="actiseg-probe", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pub = commands.add_parser("publish")
    pub.add_argument("--rate", type=float, default=30.0)
    pub.add_argument("--size", type=_size, default=(480, 640), help="HEIGHTxWIDTH")
    pub.add_argument("--duration", type=float, default=10.0)
    pub.add_argument("--delay", type=float, default=0.5, help="seconds to wait after the node is seen")
    pub.add_argument("--narration", default="take the cup")
    pub.add_argument("--names", default="cup,robot hand,plate,ball")
    pub.add_argument("--reliable", action="store_true", help="reliable image QoS (default: sensor data)")
    bad = commands.add_parser("faults")
    bad.add_argument("--pause", type=float, default=0.4)
    bad.add_argument("--flood-seconds", type=float, default=2.0)
    lis = commands.add_parser("listen")
    lis.add_argument("--duration", type=float, default=12.0)
    lis.add_argument("--out", required=True)
    lis.add_argument("--labels", action="store_true",
                     help="record the label values of each mask (costs CPU the node would otherwise have)")
    args = parser.parse_args(argv)
    rclpy.init()
    try:
        {"publish": publish, "faults": faults, "listen": listen}[args.command](args)
    finally:
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
