"""Augmentation that breaks renderer cues (issue 14): what a model trained on one renderer must not rely on.

Applied to a cached frame at the model input size, in this order, each with its own probability:

1. **crop and scale** (:func:`random_crop`): a random box of 55-100% of the frame's area (aspect x0.9..1.1),
   resized back to the input size, kept only if every active object keeps at least :data:`CROP_KEEP` of its
   pixels (an active object cropped away would be a positive with no mask);
2. **copy-paste** (:func:`paste_object`): one object of another frame pasted where this frame shows background.
   It gets no query, so it is background to every query of the frame: a distractor the model must leave alone;
3. **background replacement** (:func:`replace_background`): the background pixels (label 0: table, walls, floor
   and the robot arm behind the gripper) replaced by a random crop of a real photo;
4. **sensor photometrics** (:func:`sensor_photometric`): white balance, exposure, contrast, saturation, blur,
   noise and JPEG re-compression, the ranges of real cameras (ActiSeg-Sim v2's sensor model draws per clip; this
   draws per frame and wider).

Every draw comes from the generator the caller passes, so a frame's augmentation is a function of (seed, epoch,
frame) and a resumed run sees what an uninterrupted one would.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from actiseg_core.errors import ActiSegError
from actiseg_core.input_sanity import LUMA

#: a crop is kept only if every active object keeps this share of its pixels
CROP_KEEP = 0.6
#: tries before giving up on a crop (the frame is then left uncropped)
CROP_TRIES = 8
#: a pasted object must have at least this many pixels at the input size
MIN_PASTE_PIXELS = 64


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities of each augmentation (0 switches one off) and the crop's area range."""

    crop: float = 0.5
    paste: float = 0.3
    background: float = 0.25
    photometric: float = 0.8
    crop_area: tuple[float, float] = (0.55, 1.0)


def colour_jitter(pixels: np.ndarray, rng: np.random.Generator, spread: float, saturation: tuple[float, float],
                  grey_p: float) -> np.ndarray:
    """Brightness and contrast x(1 -/+ spread), saturation in ``saturation`` or grey with ``grey_p``; float 0..1."""
    pixels = pixels * rng.uniform(1 - spread, 1 + spread)
    pixels = (pixels - pixels.mean()) * rng.uniform(1 - spread, 1 + spread) + pixels.mean()
    grey = pixels @ LUMA
    factor = 0.0 if rng.random() < grey_p else rng.uniform(*saturation)
    return grey[..., None] + factor * (pixels - grey[..., None])


def sensor_photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uint8 HxWx3 image as another camera might have taken it.

    White balance (per-channel gain x0.8..1.2), exposure and contrast x0.6..1.4, saturation x0.5..1.5 or grey
    (p 0.05), Gaussian blur (p 0.3, radius 0.3..1.5 px), Gaussian noise (sigma 0..0.04 of the range) and JPEG
    re-compression (p 0.5, quality 30..90).
    """
    pixels = image.astype(np.float32) / 255.0 * rng.uniform(0.8, 1.2, 3).astype(np.float32)
    pixels = colour_jitter(pixels, rng, 0.4, (0.5, 1.5), 0.05)
    out = Image.fromarray((np.clip(pixels, 0.0, 1.0) * 255.0).round().astype(np.uint8))
    if rng.random() < 0.3:
        out = out.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.5))))
    pixels = np.asarray(out, np.float32) / 255.0
    pixels = pixels + rng.normal(0.0, rng.uniform(0.0, 0.04), pixels.shape).astype(np.float32)
    result = (np.clip(pixels, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        Image.fromarray(result).save(buffer, format="JPEG", quality=int(rng.integers(30, 91)))
        result = np.array(Image.open(buffer).convert("RGB"))
    return result


def _resize(array: np.ndarray, size: tuple[int, int], resample: Image.Resampling) -> np.ndarray:
    height, width = size
    return np.array(Image.fromarray(array).resize((width, height), resample))


def random_crop(image: np.ndarray, labels: np.ndarray, weights: np.ndarray, active: list[int],
                rng: np.random.Generator, area: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop a random box and resize it back (image bilinear, labels and weights nearest); see the module doc."""
    height, width = labels.shape
    counts = {index: int((labels == index).sum()) for index in active}
    for _ in range(CROP_TRIES):
        scale = np.sqrt(rng.uniform(*area))
        aspect = rng.uniform(0.9, 1.1)
        h = min(height, max(16, round(height * scale * aspect)))
        w = min(width, max(16, round(width * scale / aspect)))
        top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        window = labels[top:top + h, left:left + w]
        if all(count == 0 or (window == index).sum() >= CROP_KEEP * count for index, count in counts.items()):
            box = (slice(top, top + h), slice(left, left + w))
            return (_resize(image[box], (height, width), Image.Resampling.BILINEAR),
                    _resize(labels[box], (height, width), Image.Resampling.NEAREST),
                    _resize(weights[box], (height, width), Image.Resampling.NEAREST))
    return image, labels, weights


def paste_object(image: np.ndarray, labels: np.ndarray, donor_image: np.ndarray,
                 donor_labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paste one object of the donor frame, shifted at random, onto this frame's background (label 0) pixels.

    The pasted pixels stay label 0 (no query names them), so labels and weights are unchanged; returns the image
    unchanged when the donor has no object of at least :data:`MIN_PASTE_PIXELS` pixels.
    """
    indices, counts = np.unique(donor_labels[donor_labels > 0], return_counts=True)
    indices = indices[counts >= MIN_PASTE_PIXELS]
    if not len(indices):
        return image
    source = donor_labels == indices[rng.integers(len(indices))]
    height, width = labels.shape
    shift = (int(rng.integers(-height // 4, height // 4 + 1)), int(rng.integers(-width // 4, width // 4 + 1)))
    moved = np.roll(source, shift, axis=(0, 1))
    moved_pixels = np.roll(donor_image, shift, axis=(0, 1))
    region = moved & (labels == 0)
    out = image.copy()
    out[region] = moved_pixels[region]
    return out


def replace_background(image: np.ndarray, labels: np.ndarray, photo: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """The frame's label-0 pixels replaced by a random crop of ``photo`` (uint8, any size), scaled to cover it."""
    height, width = labels.shape
    scale = max(height / photo.shape[0], width / photo.shape[1]) * rng.uniform(1.0, 2.0)
    big = _resize(photo, (max(height, round(photo.shape[0] * scale)), max(width, round(photo.shape[1] * scale))),
                  Image.Resampling.BILINEAR)
    top = int(rng.integers(0, big.shape[0] - height + 1))
    left = int(rng.integers(0, big.shape[1] - width + 1))
    out = image.copy()
    background = labels == 0
    out[background] = big[top:top + height, left:left + width][background]
    return out


class Augmenter:
    """The four augmentations of the module doc with one :class:`AugmentConfig` and a set of real photos."""

    def __init__(self, config: AugmentConfig, photos: list[np.ndarray]) -> None:
        if config.background > 0 and not photos:
            raise ValueError("background replacement needs at least one photo")
        self.config = config
        self.photos = photos

    def __call__(self, image: np.ndarray, labels: np.ndarray, weights: np.ndarray, active: list[int],
                 donor: tuple[np.ndarray, np.ndarray] | None,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Augment one frame; ``active``: the label indices of its active objects; ``donor``: another frame's
        (image, labels) to paste from, or None."""
        c = self.config
        if rng.random() < c.crop:
            image, labels, weights = random_crop(image, labels, weights, active, rng, c.crop_area)
        if donor is not None and rng.random() < c.paste:
            image = paste_object(image, labels, donor[0], donor[1], rng)
        if rng.random() < c.background:
            image = replace_background(image, labels, self.photos[rng.integers(len(self.photos))], rng)
        if rng.random() < c.photometric:
            image = sensor_photometric(image, rng)
        return image, labels, weights


def load_photos(max_width: int = 640) -> list[np.ndarray]:
    """Every photo of the ``wallpapers`` asset pack (installed on first use; the renders put 12 of its 30 on walls),
    scaled to ``max_width``."""
    from actiseg_core.data.sim import catalog_v2, packs  # the asset packs: only training with --augment needs them

    photos = []
    folder = packs.pack_dir(catalog_v2.PHOTO_PACK) / "usr" / "share" / "wallpapers"
    for name in sorted(p.name for p in folder.iterdir() if (p / "contents" / "images").is_dir()):
        try:
            texture = catalog_v2.photo_texture(name)
        except ActiSegError:  # a wallpaper shipped only as PNG or portrait: not a photo the renders use either
            continue
        with Image.open(texture) as photo:
            rgb = photo.convert("RGB")
            scale = min(1.0, max_width / rgb.width)
            photos.append(np.array(rgb.resize((round(rgb.width * scale), round(rgb.height * scale)))))
    return photos
