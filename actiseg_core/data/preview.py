"""Contact sheets of an ActionVOS-layout split: frame, annotated objects (active ones outlined), robot parts.

Used for the benchmark's README pictures and to eyeball any root (rendered or real) before training on it.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from actiseg_core.data.layout import atomic_write_bytes
from actiseg_core.data.loader import ActionVOSDataset, FrameRef
from actiseg_core.palette import PALETTE_RGB, tint_labels

_ROBOT_COLOURS = np.array([[0, 0, 0], [255, 140, 0], [0, 200, 255]], dtype=np.uint8)


def _panel(data: ActionVOSDataset, ref: FrameRef, width: int) -> Image.Image:
    image = data.load_image(ref)
    labels = data.load_labels(ref)
    parts = data.load_robot_parts(ref)
    tiles = [image, tint_labels(image, labels)]
    if parts is not None:
        tiles.append(tint_labels(image, parts, _ROBOT_COLOURS))
    strip = Image.fromarray(np.concatenate(tiles, axis=1))
    scale = width / strip.width
    strip = strip.resize((width, round(strip.height * scale)), Image.BILINEAR)
    canvas = Image.new("RGB", (strip.width, strip.height + 34), (255, 255, 255))
    canvas.paste(strip, (0, 34))
    draw = ImageDraw.Draw(canvas)
    seq = ref.sequence
    draw.text((4, 2), f'"{seq.narration}"  ({seq.folder}/{ref.frame})', fill=(0, 0, 0))
    x = 4
    for index, obj in sorted(seq.objects.items()):
        colour = tuple(int(c) for c in PALETTE_RGB[index])
        label = f"{obj.name}{' (active)' if obj.positive else ''}"
        draw.rectangle((x, 20, x + 10, 30), fill=colour)
        draw.text((x + 14, 19), label, fill=(0, 0, 0))
        x += 20 + int(draw.textlength(label))
    return canvas


def write_preview(root: Path, split: str, out: Path, count: int = 4, seed: int = 0, width: int = 1200) -> Path:
    """Write a PNG with ``count`` randomly chosen frames of the split (one per sequence where possible)."""
    data = ActionVOSDataset(root, split)
    rng = np.random.default_rng(seed)
    sequences = rng.permutation(len(data.sequences))[:count]
    chosen = []
    for seq_position in sequences:
        seq = data.sequences[int(seq_position)]
        frames = [ref for ref in data.frames if ref.sequence is seq]
        chosen.append(frames[int(rng.integers(len(frames)))])
    panels = [_panel(data, ref, width) for ref in chosen]
    sheet = Image.new("RGB", (width, sum(p.height for p in panels)), (255, 255, 255))
    y = 0
    for panel in panels:
        sheet.paste(panel, (0, y))
        y += panel.height
    buffer = BytesIO()
    sheet.save(buffer, format="PNG")
    atomic_write_bytes(out, buffer.getvalue())
    return Path(out)
