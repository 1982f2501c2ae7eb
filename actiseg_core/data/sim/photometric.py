"""v2's camera realism: what a real sensor does to a rendered frame, drawn per clip and applied to RGB only.

Masks, depth and geometry stay exact (they describe the scene, not the sensor). Per clip, from the clip's own
generator (:func:`photometric_rng`, independent of the scene's draws): an exposure gain, a white balance (per
channel gains), a sensor noise level (Poisson-Gaussian: shot noise grows with the signal, read noise does not),
whether frames show motion blur (a line kernel at the direction the image moves, longer on the wrist camera,
which moves with the gripper) and the JPEG quality the frames are stored with. The drawn values are recorded in
the clip's ``extra["photometric"]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

EXPOSURE = (0.7, 1.35)  # multiplicative, log-uniform
WHITE_BALANCE = 0.08  # each channel gain within 1 +- this, green fixed
READ_NOISE = (0.0, 3.0)  # grey levels (sigma)
SHOT_NOISE = (0.0, 0.6)  # variance per grey level of signal
BLUR_SHARE = 0.35
BLUR_LENGTH = {"external": (2, 7), "wrist": (4, 13)}  # pixels at 854x480
JPEG_QUALITY = (55, 95)


@dataclass(frozen=True)
class Sensor:
    """One clip's sensor: applied to every frame (motion blur length / angle vary per frame)."""

    exposure: float
    white_balance: tuple[float, float, float]
    read_noise: float
    shot_noise: float
    blur: bool
    jpeg_quality: int

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["exposure"] = round(self.exposure, 4)
        out["white_balance"] = [round(v, 4) for v in self.white_balance]
        out["read_noise"] = round(self.read_noise, 3)
        out["shot_noise"] = round(self.shot_noise, 3)
        return out


def photometric_rng(seed: int, split_code: int, index: int) -> np.random.Generator:
    """The clip's sensor generator: its own stream, so scene draws do not depend on it (nor it on them)."""
    return np.random.default_rng(np.random.SeedSequence([seed, split_code, index, 0x5E5]))


def sample_sensor(rng: np.random.Generator) -> Sensor:
    red, blue = rng.uniform(1 - WHITE_BALANCE, 1 + WHITE_BALANCE, size=2)
    return Sensor(
        exposure=float(np.exp(rng.uniform(*np.log(EXPOSURE)))),
        white_balance=(float(red), 1.0, float(blue)),
        read_noise=float(rng.uniform(*READ_NOISE)),
        shot_noise=float(rng.uniform(*SHOT_NOISE)),
        blur=bool(rng.uniform() < BLUR_SHARE),
        jpeg_quality=int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)),
    )


def _line_kernel(length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), dtype=np.float32)
    centre = (length - 1) / 2
    dx, dy = np.cos(angle) * centre, np.sin(angle) * centre
    cv2.line(kernel, (round(centre - dx), round(centre - dy)), (round(centre + dx), round(centre + dy)), 1.0, 1)
    return kernel / kernel.sum()


def apply(sensor: Sensor, images: list[np.ndarray], camera_kind: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The frames as the sensor records them (uint8 HxWx3 in, uint8 out); ``rng`` draws noise and blur."""
    gains = sensor.exposure * np.asarray(sensor.white_balance, dtype=np.float32)
    out = []
    for image in images:
        signal = image.astype(np.float32) * gains
        if sensor.blur:
            length = int(rng.integers(BLUR_LENGTH[camera_kind][0], BLUR_LENGTH[camera_kind][1] + 1))
            signal = cv2.filter2D(signal, -1, _line_kernel(length | 1, float(rng.uniform(0, np.pi))))
        variance = sensor.read_noise**2 + sensor.shot_noise * np.clip(signal, 0, 255)
        signal = signal + rng.standard_normal(signal.shape, dtype=np.float32) * np.sqrt(variance)
        out.append(np.clip(np.rint(signal), 0, 255).astype(np.uint8))
    return out
