"""The label colours every picture shares: the DAVIS / VISOR annotation palette and the tint that paints label
maps over an image (data previews, evaluation overlays, the ROS debug overlay). numpy only."""

from __future__ import annotations

import numpy as np


def davis_palette() -> list[int]:
    """The 256-colour palette of DAVIS / VISOR annotation PNGs (PASCAL VOC bit-interleaved colour map)."""
    palette = []
    for index in range(256):
        red = green = blue = 0
        code = index
        for bit in range(8):
            red |= ((code >> 0) & 1) << (7 - bit)
            green |= ((code >> 1) & 1) << (7 - bit)
            blue |= ((code >> 2) & 1) << (7 - bit)
            code >>= 3
        palette += [red, green, blue]
    return palette


#: [256, 3] uint8: label k's colour in annotation PNGs and in every tinted picture
PALETTE_RGB = np.array(davis_palette(), dtype=np.uint8).reshape(256, 3)


def tint_labels(image: np.ndarray, labels: np.ndarray, colours: np.ndarray = PALETTE_RGB, alpha: float = 0.6,
                background: float = 1.0) -> np.ndarray:
    """Blend each labelled pixel's colour over the image; unlabelled pixels (0) are scaled by ``background``
    (below 1 dims them so that masks stand out)."""
    out = background * image.astype(np.float32)
    painted = labels > 0
    out[painted] = (1 - alpha) * image[painted] + alpha * colours[labels[painted]].astype(np.float32)
    return out.astype(np.uint8)
