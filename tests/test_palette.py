"""actiseg_core.palette: the annotation palette and the tint that every picture (preview, evaluation, overlay) uses."""

from __future__ import annotations

import numpy as np

from actiseg_core.palette import PALETTE_RGB, davis_palette, tint_labels


def test_palette_is_the_davis_voc_colour_map() -> None:
    assert len(davis_palette()) == 256 * 3 and PALETTE_RGB.shape == (256, 3) and PALETTE_RGB.dtype == np.uint8
    assert PALETTE_RGB[:4].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    assert PALETTE_RGB[255].tolist() == [224, 224, 192]


def test_tint_blends_labelled_pixels_and_scales_the_rest() -> None:
    image = np.full((2, 2, 3), 100, np.uint8)
    labels = np.array([[0, 1], [2, 0]], np.uint8)
    tinted = tint_labels(image, labels, alpha=0.5, background=0.5)
    assert tinted.dtype == np.uint8 and tinted.shape == image.shape
    assert tinted[0, 0].tolist() == [50, 50, 50]  # unlabelled: dimmed by ``background``
    assert tinted[0, 1].tolist() == [114, 50, 50]  # half image, half label 1's (128, 0, 0)
    assert tinted[1, 0].tolist() == [50, 114, 50]
    np.testing.assert_array_equal(tint_labels(image, np.zeros((2, 2), np.uint8)), image)  # defaults: untouched
