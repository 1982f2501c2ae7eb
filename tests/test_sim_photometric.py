"""v2's camera sensor (exposure, white balance, Poisson-Gaussian noise, motion blur, JPEG quality): real numpy / OpenCV
on synthetic frames, checked by the statistics each step must change."""

from __future__ import annotations

import dataclasses

import numpy as np

from actiseg_core.data.sim.photometric import BLUR_SHARE, JPEG_QUALITY, Sensor, apply, photometric_rng, sample_sensor

FLAT = Sensor(exposure=1.0, white_balance=(1.0, 1.0, 1.0), read_noise=0.0, shot_noise=0.0, blur=False, jpeg_quality=90)


def _frames() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    image = np.full((48, 64, 3), 100, dtype=np.uint8)
    image[:, 32:] = 200
    return [image, rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)]


def test_an_ideal_sensor_changes_nothing() -> None:
    frames = _frames()
    out = apply(FLAT, frames, "external", np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(frames, out, strict=True))


def test_exposure_and_white_balance_scale_the_channels() -> None:
    sensor = dataclasses.replace(FLAT, exposure=1.2, white_balance=(0.9, 1.0, 1.1))
    out = apply(sensor, _frames()[:1], "external", np.random.default_rng(1))[0].astype(float)
    assert np.allclose(out[0, 0], [108, 120, 132], atol=0.5) and np.allclose(out[0, -1], [216, 240, 255], atol=0.5)


def test_noise_grows_with_the_signal() -> None:
    sensor = dataclasses.replace(FLAT, read_noise=1.0, shot_noise=0.5)
    out = apply(sensor, _frames()[:1], "external", np.random.default_rng(1))[0].astype(float)
    dark, bright = out[:, :32].std(), out[:, 32:].std()
    assert abs(dark - np.sqrt(1 + 0.5 * 100)) < 1.0 and abs(bright - np.sqrt(1 + 0.5 * 200)) < 1.2


def test_motion_blur_smooths_an_edge() -> None:
    sensor = dataclasses.replace(FLAT, blur=True)
    out = apply(sensor, _frames()[:1], "wrist", np.random.default_rng(2))[0].astype(float)
    assert 100 < out[24, 31, 0] < 200 or 100 < out[24, 32, 0] < 200, "the step between the halves is smeared"


def test_clip_sensors_are_deterministic_and_varied() -> None:
    sensors = [sample_sensor(photometric_rng(0, 100, i)) for i in range(400)]
    assert sample_sensor(photometric_rng(0, 100, 7)) == sensors[7]
    assert abs(np.mean([s.blur for s in sensors]) - BLUR_SHARE) < 0.07
    qualities = [s.jpeg_quality for s in sensors]
    assert min(qualities) >= JPEG_QUALITY[0] and max(qualities) <= JPEG_QUALITY[1] and len(set(qualities)) > 20
    frames = _frames()
    a = apply(sensors[3], frames, "external", photometric_rng(0, 100, 3))
    b = apply(sensors[3], frames, "external", photometric_rng(0, 100, 3))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
