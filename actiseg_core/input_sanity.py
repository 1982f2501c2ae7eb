"""Is the camera frame itself usable? Statistics of the image that no mask check can see (DESIGN §8).

A covered or dead camera (all black), a blown-out one (all white), a lens cap or a flat wall (uniform), a frozen
driver (the same bytes again and again) or heavy defocus all still produce a confident-looking mask. These
statistics let the gate refuse such frames whatever the model says. Computed on every :data:`STRIDE`-th pixel in
each direction, numpy only: the statistics are global, and a frame that repeats the last one on that sample is a
frozen driver (a live sensor's noise changes most sampled pixels).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

#: sample every STRIDE-th row and column: the full frame would add cost, not information
STRIDE = 4
#: ITU-R BT.601 luma weights
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class ImageStatistics:
    """Per-frame statistics, luma in 0..1.

    Attributes:
        brightness: mean luma.
        contrast: standard deviation of luma (a uniform frame has 0).
        sharpness: mean absolute 4-neighbour Laplacian of luma (heavy blur drives it towards 0).
        digest: a hash of the sampled pixels and the frame's shape, to tell a repeated frame from a new one.
    """

    brightness: float
    contrast: float
    sharpness: float
    digest: bytes


def image_statistics(image: np.ndarray) -> ImageStatistics:
    """Statistics of an RGB uint8 [H, W, 3] frame."""
    sample = np.ascontiguousarray(image[::STRIDE, ::STRIDE])
    luma = sample.astype(np.float32) @ LUMA / 255.0
    if luma.shape[0] >= 3 and luma.shape[1] >= 3:
        laplacian = (4 * luma[1:-1, 1:-1] - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:])
        sharpness = float(np.abs(laplacian).mean())
    else:
        sharpness = 0.0
    digest = hashlib.blake2b(sample.data, digest_size=16, key=repr(image.shape).encode()[:64])
    return ImageStatistics(brightness=float(luma.mean()), contrast=float(luma.std()), sharpness=sharpness,
                           digest=digest.digest())
