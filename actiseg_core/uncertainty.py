"""PMHM's uncertain pixels U (paper 003 Eq. 4), defined once for the learner (torch) and the gate (numpy).

``U = {|p - 0.5| < tau_m  or  ||grad p|| > tau_e}`` on a foreground-probability map p. The paper leaves the
gradient operator open; here it is the Sobel operator (the unnormalised 3x3 kernels of ``cv2.Sobel``) with
replicated borders, at the map's own resolution. A linear ramp of slope s per pixel has magnitude 8 s, so tau_e 0.85
marks pixels where p changes by more than ~0.1 per pixel: the transition band of a predicted edge, not its flat
interior.

The PMHM learner keeps U out of its hard loss (:func:`actiseg_core.learners.pmhm.uncertain_pixels`), and the gate
measures the share of U on the mask's boundary (:func:`actiseg_core.gating.boundary_uncertainty`), so both must mean
the same set. The code uses only slicing, integer-list indexing, ``abs`` and arithmetic, which numpy arrays and
torch tensors accept with the same meaning: one implementation serves both, and this module imports neither (the
gate runs with numpy alone).
"""

from __future__ import annotations

from typing import TypeVar

#: a probability map, ``numpy.ndarray`` or ``torch.Tensor``, whose last two axes are rows and columns
Map = TypeVar("Map")


def _replicate_border(values: Map) -> Map:
    """``values`` with one more row / column on each side, copying the nearest edge (as ``mode="replicate"``)."""
    height, width = values.shape[-2], values.shape[-1]
    rows = [0, *range(height), height - 1]
    columns = [0, *range(width), width - 1]
    return values[..., rows, :][..., columns]


def gradient_magnitude(probabilities: Map) -> Map:
    """Sobel ``||grad p||`` per pixel over the last two axes, borders replicated; same shape as the input."""
    padded = _replicate_border(probabilities)
    across = padded[..., :, 2:] - padded[..., :, :-2]  # column differences, [.., H + 2, W]
    down = padded[..., 2:, :] - padded[..., :-2, :]  # row differences, [.., H, W + 2]
    grad_x = across[..., :-2, :] + 2 * across[..., 1:-1, :] + across[..., 2:, :]
    grad_y = down[..., :-2] + 2 * down[..., 1:-1] + down[..., 2:]
    return (grad_x * grad_x + grad_y * grad_y) ** 0.5


def uncertain_set(probabilities: Map, tau_m: float, tau_e: float) -> Map:
    """Eq. 4: boolean map of the pixels near the decision boundary (margin ``tau_m``) or on a steep edge
    (Sobel magnitude above ``tau_e``)."""
    return (abs(probabilities - 0.5) < tau_m) | (gradient_magnitude(probabilities) > tau_e)
