"""Augmentation that breaks renderer cues: labels stay consistent with the pixels, draws are reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from training.augment import (
    AugmentConfig,
    Augmenter,
    paste_object,
    random_crop,
    replace_background,
    sensor_photometric,
)


def _frame(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    labels = np.zeros((64, 96), np.uint8)
    labels[10:30, 10:40] = 1  # the active target
    labels[40:60, 60:90] = 2  # an inactive object
    weights = np.where(labels == 1, 2, np.where(labels == 2, 5, 1)).astype(np.uint8)
    return image, labels, weights


def test_a_crop_keeps_the_active_objects_and_only_known_labels() -> None:
    image, labels, weights = _frame()
    for seed in range(20):
        out_image, out_labels, out_weights = random_crop(image, labels, weights, [1], np.random.default_rng(seed),
                                                         (0.3, 0.6))
        assert out_image.shape == image.shape and out_labels.shape == labels.shape
        assert set(np.unique(out_labels)) <= {0, 1, 2} and set(np.unique(out_weights)) <= {1, 2, 5}
        assert (out_labels == 1).sum() > 0  # the target is never cropped away
        assert (out_weights[out_labels == 1] == 2).all()  # weights move with their labels


def test_a_pasted_object_covers_background_only_and_gets_no_label() -> None:
    image, labels, _ = _frame()
    donor_image = np.full_like(image, 200)
    donor_labels = np.zeros_like(labels)
    donor_labels[20:50, 30:70] = 3
    out = paste_object(image, labels, donor_image, donor_labels, np.random.default_rng(0))
    changed = (out != image).any(axis=2)
    assert changed.any() and (labels[changed] == 0).all() and (out[changed] == 200).all()
    assert np.array_equal(paste_object(image, labels, donor_image, np.zeros_like(labels), np.random.default_rng(0)),
                          image)  # a donor without an object pastes nothing


def test_background_replacement_keeps_every_object_pixel() -> None:
    image, labels, _ = _frame()
    photo = np.full((40, 50, 3), 17, np.uint8)
    out = replace_background(image, labels, photo, np.random.default_rng(0))
    assert np.array_equal(out[labels > 0], image[labels > 0]) and (out[labels == 0] == 17).all()


def test_sensor_photometrics_are_reproducible_and_change_the_image() -> None:
    image, _, _ = _frame()
    first = sensor_photometric(image, np.random.default_rng([1, 2, 3]))
    assert np.array_equal(first, sensor_photometric(image, np.random.default_rng([1, 2, 3])))
    assert first.dtype == np.uint8 and first.shape == image.shape and not np.array_equal(first, image)


def test_the_augmenter_is_a_function_of_its_generator() -> None:
    image, labels, weights = _frame()
    donor = _frame(1)[:2]
    augmenter = Augmenter(AugmentConfig(crop=1.0, paste=1.0, background=1.0, photometric=1.0),
                          [np.full((40, 50, 3), 90, np.uint8)])
    a = augmenter(image, labels, weights, [1], donor, np.random.default_rng(5))
    b = augmenter(image, labels, weights, [1], donor, np.random.default_rng(5))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="needs at least one photo"):
        Augmenter(AugmentConfig(), [])
