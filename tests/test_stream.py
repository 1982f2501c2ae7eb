"""actiseg_core.stream (the node's logic without ROS): image codecs, latest-frame slot, stream processor,
overlay. The processor runs the session's tiny exported model for real."""

from __future__ import annotations

import io
import shutil
import threading
import time

import numpy as np
import pytest
from PIL import Image

from actiseg_core.gating import GateConfig
from actiseg_core.runtime import Segmenter
from actiseg_core.stream import (
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
from actiseg_core.stream.overlay import GO_COLOUR, NO_GO_COLOUR

RGB = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)


def _raw(pixels: np.ndarray, encoding: str, padding: int = 3, big_endian: bool = False) -> RawImage:
    """Pack ``pixels`` [H, W, C] (uint8 or uint16) like a camera driver would, with ``padding`` bytes per row."""
    dtype = (">u2" if big_endian else "<u2") if pixels.dtype == np.uint16 else np.uint8
    rows = pixels.astype(dtype).reshape(pixels.shape[0], -1).view(np.uint8)
    padded = np.concatenate([rows, np.full((rows.shape[0], padding), 0xAB, np.uint8)], axis=1)
    return RawImage(pixels.shape[0], pixels.shape[1], encoding, big_endian, padded.shape[1], padded.tobytes())


@pytest.mark.parametrize(("encoding", "pixels"), [
    ("rgb8", RGB), ("bgr8", RGB[:, :, ::-1]),
    ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 9, np.uint8)])),
    ("bgra8", np.dstack([RGB[:, :, ::-1], np.full(RGB.shape[:2], 9, np.uint8)])),
])
def test_8bit_colour_encodings_with_row_padding(encoding, pixels) -> None:
    assert np.array_equal(decode_image(_raw(pixels, encoding)), RGB)


@pytest.mark.parametrize("big_endian", [False, True])
def test_16bit_encodings_keep_the_high_byte_in_either_byte_order(big_endian) -> None:
    wide = RGB.astype(np.uint16) * 256 + 77  # low byte 77 must not leak into the result
    assert np.array_equal(decode_image(_raw(wide, "rgb16", big_endian=big_endian)), RGB)
    assert np.array_equal(decode_image(_raw(wide[:, :, ::-1], "bgr16", big_endian=big_endian)), RGB)
    mono = decode_image(_raw(wide[:, :, :1], "mono16", big_endian=big_endian))
    assert np.array_equal(mono, np.repeat(RGB[:, :, :1], 3, axis=2))


def test_mono8_is_replicated_to_rgb() -> None:
    assert np.array_equal(decode_image(_raw(RGB[:, :, 1:2], "mono8")), np.repeat(RGB[:, :, 1:2], 3, axis=2))


@pytest.mark.parametrize(("raw", "reason"), [
    (RawImage(5, 7, "yuv422", False, 14, bytes(70)), "bad_image_encoding"),
    (RawImage(5, 7, "rgb8", False, 20, bytes(100)), "bad_image_step"),
    (RawImage(5, 7, "rgb8", False, 21, bytes(104)), "bad_image_size"),
    (RawImage(0, 7, "rgb8", False, 21, b""), "empty_image"),
    (RawImage(4320, 7680, "rgb8", False, 23040, b""), "image_too_large"),
])
def test_malformed_images_have_a_reason(raw, reason) -> None:
    with pytest.raises(ImageDecodeError) as error:
        decode_image(raw)
    assert error.value.reason == reason and "\n" not in str(error.value)


def test_compressed_png_and_jpeg_and_garbage() -> None:
    for image_format in ("PNG", "JPEG"):
        buffer = io.BytesIO()
        Image.fromarray(RGB).save(buffer, image_format)
        decoded = decode_compressed(buffer.getvalue())
        assert decoded.shape == RGB.shape and (image_format == "JPEG" or np.array_equal(decoded, RGB))
    with pytest.raises(ImageDecodeError) as error:
        decode_compressed(b"not an image")
    assert error.value.reason == "bad_compressed_image"


def test_encoders_round_trip() -> None:
    labels = np.arange(35, dtype=np.uint8).reshape(5, 7)
    assert np.array_equal(decode_image(encode_mono8(labels))[:, :, 0], labels)
    assert np.array_equal(decode_image(encode_rgb8(RGB)), RGB)
    values = np.linspace(0, 1, 35, dtype=np.float32).reshape(5, 7)
    raw = encode_32fc1(values)
    assert (raw.encoding, raw.step, raw.is_bigendian) == ("32FC1", 28, False)
    assert np.array_equal(np.frombuffer(raw.data, "<f4").reshape(5, 7), values)


def test_latest_slot_keeps_only_the_newest_and_counts_drops() -> None:
    slot: LatestSlot[int] = LatestSlot()
    for item in range(5):
        slot.put(item)
    assert (slot.pending, slot.received, slot.dropped) == (1, 5, 4)
    assert slot.take(timeout=0.1) == 4 and slot.pending == 0
    assert slot.take(timeout=0.05) is None
    results = []
    waiter = threading.Thread(target=lambda: results.append(slot.take()))
    waiter.start()
    time.sleep(0.05)
    slot.put(9)
    waiter.join(timeout=2)
    assert results == [9]
    slot.close()
    assert slot.take() is None  # closed: returns at once instead of blocking


@pytest.fixture(scope="module")
def processor_factory(tiny_export):
    segmenter = Segmenter.load(tiny_export.out_dir, threads=1, positive_threshold=0.0)

    def make(**kwargs) -> StreamProcessor:
        return StreamProcessor(segmenter, GateConfig(), **kwargs)

    return make


def test_processor_answers_no_go_until_a_valid_narration(processor_factory) -> None:
    processor = processor_factory(vocabulary=("cup", "robot hand"))
    result = processor.process(RGB, 0.0, 1.0)
    assert (result.go, result.reasons, result.label_map) == (False, ("no_narration",), None)
    assert processor.set_narration("take cup", [], stamp_s=1.0) == ""
    assert processor.narration.object_names == ("cup", "robot hand")  # from the vocabulary
    result = processor.process(RGB, 0.0, 1.5)
    assert result.label_map.shape == RGB.shape[:2] and result.object_names == ("cup", "robot hand")
    assert result.scores.shape == (2,) and result.decision is not None and result.inference_ms > 0
    assert processor.frames == 2 and processor.faults == {"no_narration": 1}


def test_vocabulary_and_gate_default_to_the_model_folders(tiny_export, tmp_path) -> None:
    from actiseg_core.contract import write_gate

    folder = tmp_path / "model"
    shutil.copytree(tiny_export.out_dir, folder)
    write_gate(folder, {"min_area_fraction": 0.5}, {"by": "test"})
    processor = StreamProcessor(Segmenter.load(folder, threads=1, positive_threshold=0.0))
    assert processor.vocabulary == ("robot hand",) and processor.gate.config == GateConfig(min_area_fraction=0.5)
    processor.set_narration("take cup", [], 1.0)
    assert processor.narration.object_names == ("robot hand",)
    assert "area_too_small" in processor.process(RGB, 0.0, 1.5).reasons


def test_invalid_narration_replaces_the_current_one(processor_factory) -> None:
    processor = processor_factory(vocabulary=("cup",), enforce_vocabulary=True)
    assert processor.set_narration("take cup", ["cup"], 1.0) == ""
    assert "not in the vocabulary: knife" in processor.set_narration("cut onion", ["knife"], 2.0)
    result = processor.process(RGB, 0.0, 2.5)
    assert result.reasons == ("invalid_narration",) and "knife" in result.detail
    for text in ("", "x" * 5000, None):
        assert processor.set_narration(text, ["cup"], 3.0)
    assert processor.faults["invalid_narration"] == 5  # 4 refused narrations + 1 frame answered NO-GO
    empty = processor_factory(vocabulary=())
    assert "no candidate objects" in empty.set_narration("take cup", [], 1.0)


def test_bad_frames_and_stale_narrations_are_no_go_with_reasons(processor_factory) -> None:
    processor = processor_factory()
    processor.set_narration("take cup", ["cup"], stamp_s=100.0)
    with pytest.raises(ImageDecodeError) as error:
        decode_image(RawImage(5, 7, "yuv422", False, 14, bytes(70)))
    assert processor.process(error.value, 100.0, 100.1).reasons == ("bad_image_encoding",)
    wrong_dtype = processor.process(RGB.astype(np.float32), 100.0, 100.1)
    assert not wrong_dtype.go and wrong_dtype.reasons == ("bad_image",) and "uint8" in wrong_dtype.detail
    stale = processor.process(RGB, image_stamp_s=170.0, now_s=170.2)
    assert "stale_narration" in stale.reasons and "stale_image" not in stale.reasons
    late = processor.process(RGB, image_stamp_s=170.0, now_s=171.0)
    assert "stale_image" in late.reasons
    assert processor.faults == {"bad_image_encoding": 1, "bad_image": 1}
    assert processor.verdicts["stale_narration"] == 2


def test_live_streams_refuse_unstamped_and_future_frames_and_say_when_the_camera_is_silent(processor_factory) -> None:
    processor = processor_factory(require_stamps=True)
    processor.set_narration("take cup", ["cup"], stamp_s=100.0)
    frames = [np.random.default_rng(seed).integers(0, 256, (40, 60, 3), dtype=np.uint8) for seed in range(4)]
    assert "unstamped_image" not in processor.process(frames[0], 100.0, 100.1).reasons
    unstamped = processor.process(frames[1], 0.0, 100.2)
    assert not unstamped.go and unstamped.reasons[-1] == "unstamped_image" and unstamped.label_map is not None
    assert "future_image_stamp" in processor.process(frames[2], 101.0, 100.3).reasons
    assert "unstamped_image" not in processor_factory().process(frames[3], 0.0, 0.0).reasons  # offline: no stamps
    silent = processor.silent(0.8)
    assert (silent.go, silent.reasons, silent.label_map) == (False, ("camera_silent",), None)
    assert silent.narration == "take cup" and "0.80 s" in silent.detail
    assert processor.verdicts["camera_silent"] == 1 and processor.verdicts["unstamped_image"] == 1


def test_a_repeated_frame_is_no_go_frozen_image(processor_factory) -> None:
    processor = processor_factory()
    processor.set_narration("take cup", ["cup"], stamp_s=1.0)
    image = np.random.default_rng(3).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    assert "frozen_image" not in processor.process(image, 1.0, 1.0).reasons
    assert "frozen_image" in processor.process(image.copy(), 1.1, 1.1).reasons
    assert "frozen_image" in processor.process(image.copy(), 1.2, 1.2).reasons
    assert "frozen_image" not in processor.process(image[::-1].copy(), 1.3, 1.3).reasons


def test_overlay_border_shows_the_verdict() -> None:
    image = np.full((40, 60, 3), 128, np.uint8)
    labels = np.zeros((40, 60), np.uint8)
    labels[10:20, 10:30] = 1
    go = render_overlay(image, labels, True, (), "take cup")
    no_go = render_overlay(image, None, False, ("no_narration",))
    assert go.shape == no_go.shape == image.shape
    assert tuple(go[0, 30]) == GO_COLOUR and tuple(no_go[0, 30]) == NO_GO_COLOUR
    assert not np.array_equal(go[15, 20], image[15, 20])  # the object is tinted
