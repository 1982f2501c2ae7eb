"""Play a bag over DDS to a running ``actiseg_segmenter`` node and collect its answers (``actiseg-bag replay --live``).

Like ``ros2 bag play --clock`` (which this project's registries lack): the recorded CDR bytes are published
unchanged at the recorded pace (scaled by ``rate``), with ``/clock`` following the recording, so a node started
with ``use_sim_time:=true`` sees the recording's time (narration and image ages are then those of the recording).
Answers on ``/active_objects`` are matched to frames by header stamp; a frame the node skipped (its latest-frame
slot dropped it) has no answer. Latency = wall time from publishing a frame to receiving its answer.
"""

from __future__ import annotations

import threading
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image

from actiseg_core.errors import ActiSegError
from actiseg_core.evaluation import Answer
from actiseg_core.stream import CAMERA_SILENT, RawImage, decode_labels
from actiseg_ros.bag.format import (
    ANSWER_TOPIC,
    CLOCK_TOPIC,
    COMPRESSED_TOPIC,
    NARRATION_TOPIC,
    RAW_TOPIC,
    BagFrame,
    stamp_ns,
)
from actiseg_ros.msg import ActionNarration, ActiveObjects

NODE_WAIT_S = 20.0  # how long to wait for the node to subscribe before giving up
SETTLE_S = 2.0  # how long to wait for answers after the last frame
#: how long to wait after both sides are matched before the first frame: our writers see the node's readers before
#: the node's readers have matched our writers, and a best-effort image reader drops what arrives before that
MATCH_SETTLE_S = 1.0


def replay_live(frames: list[BagFrame], rate: float = 1.0, progress: bool = True) -> dict[int, Answer]:
    """Publish ``frames`` (with their narrations and /clock) and return the node's answers by image stamp."""
    rclpy.init()
    node = Node("actiseg_bag_player")
    try:
        return _play(node, frames, rate, progress)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def _play(node: Node, frames: list[BagFrame], rate: float, progress: bool) -> dict[int, Answer]:
    compressed = hasattr(frames[0].image_message, "format") if frames else True
    image_pub = node.create_publisher(CompressedImage if compressed else Image,
                                      COMPRESSED_TOPIC if compressed else RAW_TOPIC, QoSProfile(depth=5))
    narration_pub = node.create_publisher(ActionNarration, NARRATION_TOPIC, QoSProfile(depth=10))
    clock_pub = node.create_publisher(Clock, CLOCK_TOPIC, QoSProfile(depth=10))
    answers: dict[int, Answer] = {}
    sent_at: dict[int, float] = {}
    lock = threading.Lock()

    def on_answer(message: ActiveObjects) -> None:
        if CAMERA_SILENT in message.gate.reasons:
            return  # the node's watchdog speaking between frames (stamped with its clock), not a frame's answer
        stamp = stamp_ns(message.header)
        mask = message.mask
        labels = decode_labels(RawImage.from_message(mask)).copy() if mask.height and mask.width else None
        with lock:
            latency = 1000 * (time.monotonic() - sent_at[stamp]) if stamp in sent_at else float("nan")
            answers[stamp] = Answer(label_map=labels, go=bool(message.gate.go), reasons=tuple(message.gate.reasons),
                                    latency_ms=latency)

    answer_sub = node.create_subscription(ActiveObjects, ANSWER_TOPIC, on_answer, QoSProfile(depth=50))
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    deadline = time.monotonic() + NODE_WAIT_S
    # both directions must be matched: an answer published before our subscription matches the node's publisher is
    # lost
    while (image_pub.get_subscription_count() == 0 or narration_pub.get_subscription_count() == 0
           or answer_sub.get_publisher_count() == 0):
        if time.monotonic() > deadline:
            raise ActiSegError(f"no node matched {image_pub.topic_name}, {NARRATION_TOPIC} and {ANSWER_TOPIC} within "
                               f"{NODE_WAIT_S:.0f} s: start it first (python -m actiseg_ros.node --ros-args "
                               f"-p use_sim_time:=true ...)")
        time.sleep(0.1)
    time.sleep(MATCH_SETTLE_S)
    start_wall = time.monotonic()
    start_stamp = frames[0].stamp_ns if frames else 0
    for index, frame in enumerate(frames):
        due = start_wall + (frame.stamp_ns - start_stamp) * 1e-9 / rate
        time.sleep(max(due - time.monotonic(), 0.0))
        clock = Clock()
        clock.clock.sec, clock.clock.nanosec = divmod(frame.stamp_ns, 10**9)
        clock_pub.publish(clock)
        if frame.raw_narration:
            narration_pub.publish(frame.raw_narration)
            time.sleep(0.05)  # let the narration land before the sequence's first frame
        with lock:
            sent_at[frame.stamp_ns] = time.monotonic()
        image_pub.publish(frame.raw_image)
        if progress and index % 20 == 0:
            print(f"  played {index + 1}/{len(frames)} frames", flush=True)
    time.sleep(SETTLE_S)
    executor.shutdown()
    with lock:
        return dict(answers)
