"""Streaming logic behind the ROS node, with no ROS import: image codecs, latest-frame slot, processor, overlay."""

from actiseg_core.stream.image_codec import (
    ImageDecodeError,
    RawImage,
    decode_compressed,
    decode_image,
    decode_labels,
    encode_32fc1,
    encode_mono8,
    encode_rgb8,
)
from actiseg_core.stream.overlay import render_overlay
from actiseg_core.stream.processor import CAMERA_SILENT, FrameResult, Narration, StreamProcessor
from actiseg_core.stream.slot import LatestSlot

__all__ = ["CAMERA_SILENT", "FrameResult", "ImageDecodeError", "LatestSlot", "Narration", "RawImage", "StreamProcessor",
           "decode_compressed", "decode_image", "decode_labels", "encode_32fc1", "encode_mono8", "encode_rgb8",
           "render_overlay"]
