"""actiseg_core.uncertainty: PMHM's uncertain set U, one definition for the learner (torch) and the gate (numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from actiseg_core.gating import GateConfig, boundary_uncertainty
from actiseg_core.learners.pmhm import uncertain_pixels
from actiseg_core.uncertainty import gradient_magnitude, uncertain_set

TAU_M, TAU_E = 0.20, 0.85


def ramp(slope: float, height: int = 6, width: int = 10) -> np.ndarray:
    """A horizontal linear ramp through 0.5 between the two middle columns, clipped to [0, 1]."""
    x = np.arange(width, dtype=np.float32)
    row = np.clip(0.5 + slope * (x - (width - 1) / 2), 0.0, 1.0)
    return np.tile(row, (height, 1)).astype(np.float32)


def test_sobel_magnitude_of_a_ramp_is_eight_times_its_slope_with_replicated_borders() -> None:
    magnitude = gradient_magnitude(ramp(0.1))
    np.testing.assert_allclose(magnitude[:, 1:-1], 0.8, rtol=1e-5)  # (1 + 2 + 1) x a two-pixel difference
    # Replicated borders: the outer column sees itself as its outer neighbour, a one-pixel difference.
    np.testing.assert_allclose(magnitude[:, [0, -1]], 0.4, rtol=1e-5)
    vertical = gradient_magnitude(ramp(0.1).T)  # rows and columns mean the same thing
    np.testing.assert_allclose(vertical, magnitude.T, rtol=1e-6)
    flat = gradient_magnitude(np.full((5, 5), 0.7, np.float32))
    np.testing.assert_array_equal(flat, np.zeros((5, 5), np.float32))


def test_a_ramp_steeper_than_tau_e_over_eight_is_uncertain_away_from_the_margin() -> None:
    gentle, steep = ramp(0.1, width=8), ramp(0.12, width=8)  # 0.15 ... 0.85 and 0.08 ... 0.92, unclipped
    margin = np.abs(gentle - 0.5) < TAU_M
    np.testing.assert_array_equal(uncertain_set(gentle, TAU_M, TAU_E), margin)  # 0.80 < 0.85: the margin only
    expected = np.zeros(steep.shape, bool)
    expected[:, 1:-1] = True  # 0.96 > 0.85 inside, also at 0.5 +- 0.30 (outside the margin); 0.48 at the borders
    np.testing.assert_array_equal(uncertain_set(steep, TAU_M, TAU_E), expected)


def test_numpy_and_torch_give_the_same_set_and_the_learner_uses_it() -> None:
    rng = np.random.default_rng(0)
    logits = np.cumsum(rng.normal(0.0, 0.5, (3, 17, 23)), axis=-1)  # edges of every steepness
    probabilities = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    from_numpy = uncertain_set(probabilities, TAU_M, TAU_E)
    from_torch = uncertain_set(torch.from_numpy(probabilities), TAU_M, TAU_E)
    assert from_numpy.dtype == np.bool_ and from_torch.dtype == torch.bool
    margin, steep = np.abs(probabilities - 0.5) < TAU_M, gradient_magnitude(probabilities) > TAU_E
    assert (margin & ~steep).any() and (steep & ~margin).any() and not from_numpy.all()  # every case occurs
    np.testing.assert_array_equal(from_torch.numpy(), from_numpy)
    np.testing.assert_allclose(gradient_magnitude(torch.from_numpy(probabilities)).numpy(),
                               gradient_magnitude(probabilities), rtol=1e-6)  # last-bit rounding of the root
    main_logits = torch.from_numpy(logits.astype(np.float32)).unsqueeze(1)  # the learner's [K, 1, H, W]
    learner = uncertain_pixels(main_logits, TAU_M, TAU_E)[:, 0].numpy()
    np.testing.assert_array_equal(learner, uncertain_set(torch.sigmoid(main_logits)[:, 0].numpy(), TAU_M, TAU_E))


def test_the_gate_measures_the_learners_set_on_the_boundary() -> None:
    """A ramp of 0.15 per pixel: Sobel (1.2 > tau_e) marks the whole boundary band uncertain; a per-pixel
    central difference (0.15) would mark only the margin's half of it."""
    config = GateConfig()
    assert (config.tau_m, config.tau_e) == (TAU_M, TAU_E)
    steep = ramp(0.15, height=40, width=60)
    assert boundary_uncertainty(steep, steep >= 0.5, config) == 1.0
    crisp = np.full((40, 60), 0.02, np.float32)
    crisp[10:30, 10:40] = 0.95
    # The two transition pixels of each 4-pixel band (boundary_width_px 2): half the band, a little more at corners.
    assert boundary_uncertainty(crisp, crisp >= 0.5, config) == pytest.approx(0.5, abs=0.05)
    assert math.isnan(boundary_uncertainty(crisp, np.zeros((40, 60), bool), config))
