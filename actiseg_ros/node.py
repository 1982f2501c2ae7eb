"""``actiseg_segmenter``: the ROS 2 node. A thin adapter over actiseg_core (DESIGN §2, §9).

Subscribes ``image`` (sensor_msgs/Image, or sensor_msgs/CompressedImage on ``image/compressed`` with
``image_transport: compressed``) and ``narration`` (actiseg_ros/ActionNarration, or std_msgs/String with
``narration_type: string``). Publishes ``active_objects`` (mask + verdict in one message), ``mask`` (mono8 label
map), ``probability`` (32FC1), ``gate`` (ManipulationGate), ``overlay`` (rgb8) and ``/diagnostics``; all but
``active_objects`` and diagnostics are only computed and sent while someone subscribes. Output headers are the
source image's header.

Parameters: the node's own (``NODE_DEFAULTS``, the same values as ``config/segment.yaml``) and those of the model's
operating contract (``pixel_threshold``, ``positive_threshold``, ``vocabulary``, ``gate.*``), whose defaults are read
from the model folder's ``model.json``: a YAML or command-line value overrides the model, nothing else does. A
relative ``model_dir`` is taken from the working directory when it exists there, else from the package's share
folder (where the installed YAML's default points).

Threading: the subscription callbacks only deserialise and hand the newest frame to a one-slot mailbox; one worker
thread decodes, segments, gates and publishes. So a fast camera never builds a backlog: frames the worker could
not reach are dropped and counted. Messages are taken raw and deserialised here, so even a message rclpy could not
decode (a non-UTF-8 string) is a counted fault and a NO-GO, never an exception in the executor.

No stale GO: while no image arrives for longer than ``max_image_silence_s`` (node start included), a timer at half
that period publishes NO-GO ``camera_silent`` on ``active_objects`` and ``gate`` (stamped now, the last image's
frame id), so a planner holding the last GO is told that it no longer holds. Images stamped 0 are NO-GO
``unstamped_image``; stamps ahead of the node's clock beyond the gate's tolerance, ``future_image_stamp``.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header, String

from actiseg_core.contract import Contract
from actiseg_core.errors import ActiSegError
from actiseg_core.gating import GateConfig
from actiseg_core.runtime import Segmenter
from actiseg_core.runtime.cpu import cpu_flags, fast_int8_flag
from actiseg_core.stream import (
    FrameResult,
    ImageDecodeError,
    LatestSlot,
    RawImage,
    StreamProcessor,
    decode_compressed,
    decode_image,
    encode_32fc1,
    encode_mono8,
    encode_rgb8,
    render_overlay,
)
from actiseg_ros.msg import ActionNarration, ActiveObjects, ManipulationGate

NODE_NAME = "actiseg_segmenter"
PACKAGE = "actiseg_ros"
AUTO_MODEL, INT8_MODEL, FP32_MODEL = "auto", "models/default_int8", "models/default"
#: The node's own parameters and their defaults: config/segment.yaml carries the same values (a test keeps them so).
NODE_DEFAULTS: dict[str, Any] = {
    "model_dir": AUTO_MODEL, "backend": "onnxruntime", "threads": 2, "enforce_vocabulary": False,
    "image_transport": "raw", "narration_type": "actiseg", "image_qos": "sensor_data", "image_qos_depth": 1,
    "output_qos_depth": 5, "max_rate_hz": 0.0, "max_image_pixels": 3840 * 2160, "diagnostics_period_s": 1.0,
    "max_image_silence_s": 0.5,
}
CHOICES = {"image_transport": ("raw", "compressed"), "narration_type": ("actiseg", "string"),
           "image_qos": ("sensor_data", "reliable")}


@dataclass
class Frame:
    """What the image callback hands the worker: the header and the undecoded payload."""

    header: Header
    raw: RawImage | None  # sensor_msgs/Image fields
    compressed: bytes | None  # sensor_msgs/CompressedImage data


class SegmenterNode(Node):
    """Parameters -> runtime + gate; topics <-> actiseg_core.stream."""

    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        # Set first: rclpy's shutdown destroys even a node whose construction failed (bad parameter, model).
        self.slot: LatestSlot[Frame] = LatestSlot()
        self.worker: threading.Thread | None = None
        self.running = False
        p = self._declare_parameters()
        int8_flag = fast_int8_flag(cpu_flags())
        model_dir = resolve_model_dir(p["model_dir"], int8_flag is not None)
        segmenter = Segmenter.load(model_dir, backend=p["backend"], threads=p["threads"] or None)
        precision = _precision_note(segmenter, int8_flag)
        if segmenter.model_dir.int8 and int8_flag is None and p["backend"] == "onnxruntime":
            self.get_logger().warning(f"{model_dir}: an int8 graph on a CPU without fast int8 instructions (VNNI, "
                                      f"AMX, dot product) can be slower than fp32: try model_dir:=auto")
        contract = self._declare_contract_parameters(segmenter.contract)
        segmenter.pixel_threshold = contract["pixel_threshold"]
        segmenter.positive_threshold = contract["positive_threshold"]
        gate = GateConfig(**{name: contract[f"gate.{name}"] for name, _ in _gate_fields()})
        self.processor = StreamProcessor(segmenter, gate, tuple(contract["vocabulary"]), p["enforce_vocabulary"],
                                         require_stamps=True)
        if segmenter.contract.gate.fitted is None:
            self.get_logger().warning(f"{model_dir}: no gate was fitted for this model; GO checks only presence, "
                                      f"age and the input checks (fit one: benchmarks/gate_fit.py --model {model_dir})")
        self.max_pixels = p["max_image_pixels"]
        self.min_period_s = 1.0 / p["max_rate_hz"] if p["max_rate_hz"] > 0 else 0.0
        self.last_inference_ms = 0.0

        reliable = QoSProfile(depth=p["output_qos_depth"])
        image_qos = (qos_profile_sensor_data if p["image_qos"] == "sensor_data"
                     else QoSProfile(depth=p["image_qos_depth"]))
        self.pub_objects = self.create_publisher(ActiveObjects, "active_objects", reliable)
        self.pub_mask = self.create_publisher(Image, "mask", reliable)
        self.pub_probability = self.create_publisher(Image, "probability", reliable)
        self.pub_gate = self.create_publisher(ManipulationGate, "gate", reliable)
        self.pub_overlay = self.create_publisher(Image, "overlay", reliable)
        self.pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", reliable)
        if p["image_transport"] == "compressed":
            self.create_subscription(CompressedImage, "image/compressed", self._on_compressed, image_qos, raw=True)
        else:
            self.create_subscription(Image, "image", self._on_image, image_qos, raw=True)
        self.narration_type = String if p["narration_type"] == "string" else ActionNarration
        self.create_subscription(self.narration_type, "narration", self._on_narration, QoSProfile(depth=10),
                                 raw=True)
        self.create_timer(p["diagnostics_period_s"], self._publish_diagnostics)
        self.max_silence_s = p["max_image_silence_s"]
        self.last_image_s, self.last_frame_id = time.monotonic(), ""
        if self.max_silence_s > 0:
            self.create_timer(self.max_silence_s / 2, self._watch_camera)

        self.running = True
        self.worker = threading.Thread(target=self._work, name="actiseg-inference", daemon=True)
        self.worker.start()
        self.get_logger().info(
            f"ready: model {model_dir} ({precision}) on {segmenter.backend.description}; thresholds pixel "
            f"{segmenter.pixel_threshold:g} positive {segmenter.positive_threshold:g}; vocabulary "
            f"{', '.join(self.processor.vocabulary)}; gate {_gate_summary(segmenter.contract, gate)}; image "
            f"transport {p['image_transport']}, narration as {p['narration_type']}")

    # --- parameters -------------------------------------------------------------------------------------------
    def _declare_parameters(self) -> dict[str, Any]:
        values = {name: self.declare_parameter(name, value).value for name, value in NODE_DEFAULTS.items()}
        for name, allowed in CHOICES.items():
            if values[name] not in allowed:
                raise ActiSegError(f"parameter {name}: {values[name]!r} is not one of {', '.join(allowed)}")
        return values

    def _declare_contract_parameters(self, contract: Contract) -> dict[str, Any]:
        """The contract's values as parameter defaults, so the model folder decides unless YAML or CLI override."""
        gate = contract.gate_config()
        defaults: dict[str, Any] = {"pixel_threshold": contract.pixel_threshold,
                                    "positive_threshold": contract.positive_threshold,
                                    "vocabulary": list(contract.vocabulary),
                                    **{f"gate.{name}": kind(getattr(gate, name)) for name, kind in _gate_fields()}}
        return {name: self.declare_parameter(name, value).value for name, value in defaults.items()}

    # --- callbacks (executor thread): deserialise, hand over ---------------------------------------------------
    def _on_image(self, data: bytes) -> None:
        message = self._deserialize(data, Image)
        if message is not None:
            self._image_arrived(message.header)
            self.slot.put(Frame(message.header, RawImage.from_message(message), None))

    def _on_compressed(self, data: bytes) -> None:
        message = self._deserialize(data, CompressedImage)
        if message is not None:
            self._image_arrived(message.header)
            self.slot.put(Frame(message.header, None, bytes(message.data)))

    def _image_arrived(self, header: Header) -> None:
        self.last_image_s, self.last_frame_id = time.monotonic(), header.frame_id

    def _watch_camera(self) -> None:
        """While no image arrives for longer than ``max_image_silence_s``, publish NO-GO ``camera_silent``."""
        silence = time.monotonic() - self.last_image_s
        if silence > self.max_silence_s:
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.last_frame_id)
            self._publish(header, self.processor.silent(silence))

    def _on_narration(self, data: bytes) -> None:
        now = self._now_s()
        message = self._deserialize(data, self.narration_type)
        if message is None:
            self.processor.set_narration(None, [], now)  # an unreadable narration still replaces the old one
            return
        if isinstance(message, String):
            text, names, stamp = message.data, [], now
        else:
            text, names, stamp = message.narration, list(message.object_names), _stamp_s(message.header) or now
        refused = self.processor.set_narration(text, names, stamp)
        if refused:
            self.get_logger().warning(f"narration refused: {refused}")
        else:
            self.get_logger().info(f"narration: {text!r} -> {', '.join(self.processor.narration.object_names)}")

    def _deserialize(self, data: bytes, message_type: type) -> Any:
        try:
            return deserialize_message(data, message_type)
        except Exception as exc:  # rclpy raises plain Exceptions / UnicodeDecodeError for malformed payloads
            self.processor.faults["undecodable_message"] += 1
            self.get_logger().warning(f"dropped an undecodable {message_type.__name__} message: {exc}")
            return None

    # --- worker thread -----------------------------------------------------------------------------------------
    def _work(self) -> None:
        next_allowed = 0.0
        while self.running:
            frame = self.slot.take(timeout=0.5)
            if frame is None:
                continue
            try:
                result = self._process(frame)
                self._publish(frame.header, result)
            except Exception as exc:  # the worker must survive anything a frame can cause
                self.processor.faults["worker_error"] += 1
                self.get_logger().error(f"frame dropped: {type(exc).__name__}: {exc}")
            if self.min_period_s:
                next_allowed = max(next_allowed + self.min_period_s, time.monotonic())
                time.sleep(max(next_allowed - time.monotonic(), 0.0))

    def _process(self, frame: Frame) -> FrameResult:
        try:
            if frame.compressed is not None:
                image = decode_compressed(frame.compressed, self.max_pixels)
            else:
                image = decode_image(frame.raw, self.max_pixels)
        except ImageDecodeError as exc:
            image = exc
        result = self.processor.process(image, _stamp_s(frame.header), self._now_s())
        if result.detail:
            self.get_logger().warning(f"NO-GO {','.join(result.reasons)}: {result.detail}",
                                      throttle_duration_sec=2.0)
        self.last_inference_ms = result.inference_ms
        if self.pub_overlay.get_subscription_count() > 0 and not isinstance(image, ImageDecodeError):
            overlay = render_overlay(image, result.label_map, result.go, result.reasons, result.narration)
            self.pub_overlay.publish(_image_message(frame.header, encode_rgb8(overlay)))
        return result

    def _publish(self, header: Header, result: FrameResult) -> None:
        """``active_objects`` always; the single-purpose topics only while someone listens (each mask or
        probability image is a copy of 0.3-1.2 MB per 640x480 frame to serialise, worth skipping at 30 Hz)."""
        gate = ManipulationGate(header=header, go=result.go, p_confidence=result.p_confidence,
                                n_risk=result.n_risk, boundary_uncertainty=result.boundary_uncertainty,
                                temporal_stability=result.temporal_stability, reasons=list(result.reasons))
        mask = _image_message(header, encode_mono8(result.label_map)) if result.label_map is not None \
            else Image(header=header, encoding="mono8")
        names = list(result.object_names)
        self.pub_objects.publish(ActiveObjects(
            header=header, mask=mask, narration=result.narration, object_names=names,
            object_ids=list(range(1, len(names) + 1)) if result.label_map is not None else [],
            scores=[float(s) for s in result.scores], active=[bool(a) for a in result.active], gate=gate,
            inference_ms=float(result.inference_ms)))
        if self.pub_gate.get_subscription_count():
            self.pub_gate.publish(gate)
        if self.pub_mask.get_subscription_count():
            self.pub_mask.publish(mask)
        if result.union_probability is not None and self.pub_probability.get_subscription_count():
            self.pub_probability.publish(_image_message(header, encode_32fc1(result.union_probability)))

    # --- diagnostics --------------------------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        processor, slot = self.processor, self.slot
        faults = sum(processor.faults.values())
        level = DiagnosticStatus.OK if faults == 0 else DiagnosticStatus.WARN
        values = {"frames_received": slot.received, "frames_dropped": slot.dropped, "backlog": slot.pending,
                  "frames_processed": processor.frames, "frames_go": processor.go_frames,
                  "last_inference_ms": round(self.last_inference_ms, 2), "faults_total": faults,
                  "prompt_cache_hits": processor.segmenter.text.hits,
                  "prompt_cache_misses": processor.segmenter.text.misses,
                  **{f"fault.{reason}": count for reason, count in sorted(processor.faults.items())},
                  **{f"no_go.{reason}": count for reason, count in sorted(processor.verdicts.items())}}
        status = DiagnosticStatus(level=level, name=f"{self.get_name()}: segmentation", hardware_id="actiseg",
                                  message="running" if faults == 0 else f"{faults} input faults so far",
                                  values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])
        self.pub_diagnostics.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                                     status=[status]))

    def _now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def destroy_node(self) -> None:
        self.running = False
        self.slot.close()
        if self.worker is not None:
            self.worker.join(timeout=5.0)
        super().destroy_node()


def _gate_fields() -> list[tuple[str, type]]:
    """GateConfig's thresholds, as ``gate.*`` parameters."""
    return [(f.name, type(f.default)) for f in fields(GateConfig)]


def _gate_summary(contract: Contract, gate: GateConfig) -> str:
    """Where the gate's thresholds came from, for the start-up log."""
    fitted = contract.gate.fitted
    source = f"fitted on {fitted.get('fit_split', '?')}" if fitted else "not fitted"
    changed = [f.name for f in fields(GateConfig) if getattr(gate, f.name) != getattr(contract.gate_config(), f.name)]
    return source + (f", overridden: {', '.join(changed)}" if changed else "")


def _precision_note(segmenter: Segmenter, int8_flag: str | None) -> str:
    kind = "int8" if segmenter.model_dir.int8 else "fp32"
    return f"{kind}; CPU fast int8: {int8_flag or 'none'}"


def resolve_model_dir(model_dir: str, fast_int8: bool) -> Path:
    """``model_dir`` as given when absolute or present under the working directory, else under the package's share
    folder (the installed YAML's relative default); unchanged when neither has it (loading then names it).
    ``auto``: the shipped int8 folder on a CPU with fast int8 instructions (``fast_int8``), else the fp32 one."""
    if model_dir == AUTO_MODEL:
        model_dir = INT8_MODEL if fast_int8 else FP32_MODEL
    path = Path(model_dir).expanduser()
    if path.is_absolute() or path.exists():
        return path
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        share = Path(get_package_share_directory(PACKAGE))
    except (ImportError, PackageNotFoundError, ValueError):
        return path
    return share / path if (share / path).exists() else path


def _stamp_s(header: Header) -> float:
    return header.stamp.sec + header.stamp.nanosec * 1e-9


def _image_message(header: Header, raw: RawImage) -> Image:
    return Image(header=header, height=raw.height, width=raw.width, encoding=raw.encoding,
                 is_bigendian=raw.is_bigendian, step=raw.step, data=raw.data)


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    try:
        node = SegmenterNode()
    except ActiSegError as exc:  # a bad model folder, backend or parameter: one line, no traceback
        sys.stderr.write(f"{NODE_NAME}: error: {exc}\n")
        rclpy.try_shutdown()
        return 1
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # A second Ctrl-C (ros2 launch forwards one to the process group, a terminal sends another) must not
        # interrupt the shutdown it asked for.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
