"""The debug overlay: the camera image with the active objects tinted and the verdict written on it."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from actiseg_core.palette import tint_labels

GO_COLOUR = (40, 200, 60)
NO_GO_COLOUR = (230, 40, 40)
BORDER_PX = 6


def render_overlay(image: np.ndarray, label_map: np.ndarray | None, go: bool, reasons: tuple[str, ...],
                   caption: str = "") -> np.ndarray:
    """RGB uint8 [H, W, 3]: active objects tinted, a green (GO) or red (NO-GO) border, the verdict and reasons."""
    painted = tint_labels(image, label_map, alpha=0.55, background=0.6) if label_map is not None else image // 2
    canvas = Image.fromarray(np.ascontiguousarray(painted))
    draw = ImageDraw.Draw(canvas)
    colour = GO_COLOUR if go else NO_GO_COLOUR
    draw.rectangle((0, 0, canvas.width - 1, canvas.height - 1), outline=colour, width=BORDER_PX)
    verdict = "GO" if go else "NO-GO: " + ", ".join(reasons)
    for line, text in enumerate(filter(None, (verdict, caption))):
        draw.text((BORDER_PX + 4, BORDER_PX + 4 + 14 * line), text, fill=colour if line == 0 else (255, 255, 255),
                  stroke_width=2, stroke_fill=(0, 0, 0))
    return np.asarray(canvas)
