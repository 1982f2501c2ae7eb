"""sensor_msgs/Image fields <-> numpy, honouring encoding, ``step`` (row padding) and ``is_bigendian``.

No ROS import: the node passes the message's fields, so every conversion is unit-tested without ROS. ROS 2 has no
``cv_bridge`` on our registries (and PyPI's is ROS 1's); this is the subset a segmenter needs, written to REP-118's
encodings: 8- and 16-bit RGB / BGR / RGBA / BGRA and mono. Anything else, a ``step`` shorter than a row, a buffer
shorter than ``step * height``, or an empty or oversized image is an :class:`ImageDecodeError` whose ``reason`` is a
machine-readable NO-GO code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from actiseg_core.runtime.segmenter import MAX_IMAGE_PIXELS, InputError

#: encoding -> (channels, bytes per channel, channel order to reach RGB)
ENCODINGS: dict[str, tuple[int, int, tuple[int, ...]]] = {
    "rgb8": (3, 1, (0, 1, 2)), "bgr8": (3, 1, (2, 1, 0)),
    "rgba8": (4, 1, (0, 1, 2)), "bgra8": (4, 1, (2, 1, 0)),
    "mono8": (1, 1, (0, 0, 0)),
    "rgb16": (3, 2, (0, 1, 2)), "bgr16": (3, 2, (2, 1, 0)),
    "rgba16": (4, 2, (0, 1, 2)), "bgra16": (4, 2, (2, 1, 0)),
    "mono16": (1, 2, (0, 0, 0)),
}


class ImageDecodeError(InputError):
    """An image message that cannot be turned into an RGB frame; ``reason`` is the NO-GO code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RawImage:
    """The fields of a sensor_msgs/Image that matter for decoding (``data``: bytes-like)."""

    height: int
    width: int
    encoding: str
    is_bigendian: bool
    step: int
    data: bytes | bytearray | memoryview | np.ndarray

    @classmethod
    def from_message(cls, message: Any) -> RawImage:
        """The fields of any sensor_msgs/Image-like object (rclpy's, or rosbags' when reading a bag)."""
        return cls(message.height, message.width, message.encoding, bool(message.is_bigendian), message.step,
                   message.data)


def decode_labels(raw: RawImage) -> np.ndarray:
    """A mono8 label map [H, W] (ActiveObjects.mask), honouring ``step``; a view, no copy."""
    return _rows(raw)[:, :raw.width]


def _rows(raw: RawImage) -> np.ndarray:
    """The ``height`` rows of ``step`` bytes each, as a uint8 [H, step] view of the data."""
    buffer = np.frombuffer(raw.data, np.uint8) if not isinstance(raw.data, np.ndarray) else raw.data.view(np.uint8)
    return buffer[: raw.step * raw.height].reshape(raw.height, raw.step)


def decode_image(raw: RawImage, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """RGB uint8 [H, W, 3] view or copy of ``raw`` (16-bit channels keep their high byte)."""
    encoding = raw.encoding.lower()
    if encoding not in ENCODINGS:
        raise ImageDecodeError("bad_image_encoding", f"unsupported image encoding {raw.encoding!r}; supported: "
                                                     f"{', '.join(ENCODINGS)}")
    channels, depth, order = ENCODINGS[encoding]
    if raw.height <= 0 or raw.width <= 0:
        raise ImageDecodeError("empty_image", f"image is empty ({raw.width}x{raw.height})")
    if raw.height * raw.width > max_pixels:
        raise ImageDecodeError("image_too_large", f"image {raw.width}x{raw.height} exceeds the {max_pixels} "
                                                  f"pixel limit")
    row_bytes = raw.width * channels * depth
    if raw.step < row_bytes:
        raise ImageDecodeError("bad_image_step", f"step {raw.step} is shorter than a {raw.encoding} row of "
                                                 f"{raw.width} pixels ({row_bytes} bytes)")
    size = len(memoryview(raw.data).cast("B")) if not isinstance(raw.data, np.ndarray) else raw.data.nbytes
    if size < raw.step * raw.height:
        raise ImageDecodeError("bad_image_size", f"{size} data bytes for {raw.height} rows of step "
                                                 f"{raw.step} ({raw.step * raw.height} needed)")
    rows = _rows(raw)[:, :row_bytes]
    if depth == 2:
        # the most significant byte of each 16-bit channel: index 0 in big-endian data, 1 in little-endian
        rows = rows[:, (0 if raw.is_bigendian else 1)::2]
    pixels = rows.reshape(raw.height, raw.width, channels)
    if order == (0, 1, 2) and channels == 3:
        return pixels
    return np.ascontiguousarray(pixels[:, :, list(order)])


def decode_compressed(data: bytes | bytearray | memoryview | np.ndarray,
                      max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """RGB uint8 [H, W, 3] from a sensor_msgs/CompressedImage payload (JPEG or PNG)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(bytes(data))) as image:
            if image.width * image.height > max_pixels:
                raise ImageDecodeError("image_too_large", f"image {image.width}x{image.height} exceeds the "
                                                          f"{max_pixels} pixel limit")
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageDecodeError("bad_compressed_image", f"cannot decode the compressed image ({exc})") from None


def encode_mono8(labels: np.ndarray) -> RawImage:
    """A uint8 [H, W] label map as mono8 fields (tight rows)."""
    labels = np.ascontiguousarray(labels, np.uint8)
    return RawImage(labels.shape[0], labels.shape[1], "mono8", False, labels.shape[1], labels.tobytes())


def encode_32fc1(values: np.ndarray) -> RawImage:
    """A float [H, W] map as 32FC1 fields, little-endian (``is_bigendian`` False), tight rows."""
    values = np.ascontiguousarray(values, "<f4")
    return RawImage(values.shape[0], values.shape[1], "32FC1", False, 4 * values.shape[1], values.tobytes())


def encode_rgb8(image: np.ndarray) -> RawImage:
    image = np.ascontiguousarray(image, np.uint8)
    return RawImage(image.shape[0], image.shape[1], "rgb8", False, 3 * image.shape[1], image.tobytes())
