"""GO / NO-GO: may a grasp planner act on this frame's active-object mask? (DESIGN §8; numpy and scipy.ndimage.)

Computed per frame from the main head's per-object probabilities at the model's resolution and the positive
scores, in the paper's p / n terms (003 Sec. V-G: p-side errors misplace contact, n-side errors cause collisions):

* target: at least one active object must be something other than the robot's own hand (``no_target_object``): a
  mask of the gripper alone gives a planner nothing to grasp, however confident it is; and every candidate's name
  (the robot's hand aside) must be one the model was trained on (``name_familiarity``: the lowest, over candidates,
  highest cosine similarity of a name to a training object name, :mod:`actiseg_core.feature_density`;
  ``unfamiliar_object``): active or not, since a model that misses an unseen target judges the others active;
* p-side: the least confident active object's mean probability inside its own mask (``mask_confidence``), the
  lowest positive score among active objects (``positive_score``), the highest among objects judged inactive
  (``inactive_score``: an object the model half-believes is active may be a missed target), and the active area as
  a fraction of the frame (``area_fraction``, within bounds);
* n-side: the largest share of an active object's probability mass outside its own largest 4-connected component
  (``fragment_mass``: stray blobs), the mean probability of objects judged *inactive* over the active mask
  (``leakage``: the model half-believes another object is there), the share of the active mask claimed by two
  active objects at once (``overlap``: two targets confused with each other), and the fraction of pixels on the
  active mask's boundary that are uncertain by PMHM's definition, ``|p - 0.5| < tau_m or |grad p| > tau_e``
  (``boundary_uncertainty``);
* temporal: IoU of the active mask with the previous frame's under the same narration (``temporal_iou``; the first
  frame of a narration passes), the ages of the narration and of the image, and an image stamped in the future;
* input: the frame itself (:mod:`actiseg_core.input_sanity`): too dark, over-exposed, flat, blurred, or the same
  bytes as the frames before it. A dead or covered camera still gets a confident-looking mask, so these checks run
  whatever the model says, with physical defaults that hold for any camera (the sharpness floor depends on the
  camera and the scene, so it is fitted for a model's data, like the mask checks);
* distribution shift: how unlike the training frames the image encoder finds this one
  (``ood_score``, :mod:`actiseg_core.feature_density`: the share of in-distribution reference frames that lie
  closer to the training features' mean), so a frame from another camera, renderer or kind of scene is refused
  even when its masks look confident.

GO only when every check passes; otherwise NO-GO with machine-readable reason codes (:data:`REASONS`). The
thresholds a model needs are fitted for its graph by ``benchmarks/gate_fit.py`` and stored in its model folder
(``actiseg_core.contract``); :class:`GateConfig`'s mask-check defaults are neutral (off), so a model folder without a
fit gates only on presence, age and the input checks.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from actiseg_core.feature_density import FeatureDensity
from actiseg_core.input_sanity import ImageStatistics
from actiseg_core.uncertainty import uncertain_set

#: every reason code a NO-GO can carry, in the order checks run
REASONS = (
    "image_too_dark", "image_overexposed", "image_flat", "image_blurred", "frozen_image", "out_of_distribution",
    "no_active_object", "no_target_object", "unfamiliar_object", "low_mask_confidence", "low_positive_score",
    "ambiguous_inactive_object",
    "area_too_small", "area_too_large", "fragmented_mask", "leakage_onto_inactive", "overlapping_objects",
    "uncertain_boundary", "unstable_mask", "stale_narration", "stale_image", "future_image_stamp",
)


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of every check. The mask checks' defaults are neutral bounds (a check with such a bound never fires);
    the input checks' are physical ones (a frame below 3% or above 97% mean luma, or with a luma standard deviation
    below 2%, shows nothing to act on; an exact repeat of the previous frame is a frozen camera driver).

    The fitted values of a model live in its model folder (``Contract.gate_config()``). Never fitted offline: the
    temporal IoU (annotated frames are far apart in time; set it for a stream), the ages and stamps (offline data
    has none) and PMHM's tau_m / tau_e. Raise ``max_repeated_frames`` for a noiseless simulated camera watching a
    still scene.
    """

    min_mask_confidence: float = 0.0
    min_positive_score: float = 0.0
    max_inactive_score: float = 1.0
    min_area_fraction: float = 0.0
    max_area_fraction: float = 1.0
    max_fragment_mass: float = 1.0
    max_leakage: float = 1.0
    max_overlap: float = 1.0
    max_boundary_uncertainty: float = 1.0
    min_temporal_iou: float = 0.0
    require_target: bool = True
    min_name_familiarity: float = 0.0
    max_narration_age_s: float = 60.0
    max_image_age_s: float = 0.5
    max_future_stamp_s: float = 0.25
    min_brightness: float = 0.03
    max_brightness: float = 0.97
    min_contrast: float = 0.02
    min_sharpness: float = 0.0
    max_repeated_frames: int = 0
    max_ood_score: float = 1.0
    tau_m: float = 0.20
    tau_e: float = 0.85
    boundary_width_px: int = 2


@dataclass(frozen=True)
class GateFeatures:
    """The measured quantities the checks compare with :class:`GateConfig` (NaN where undefined)."""

    mask_confidence: float
    positive_score: float
    inactive_score: float
    area_fraction: float
    fragment_mass: float
    leakage: float
    overlap: float
    boundary_uncertainty: float
    temporal_iou: float
    narration_age_s: float
    image_age_s: float  # negative: stamped in the future
    brightness: float = math.nan
    contrast: float = math.nan
    sharpness: float = math.nan
    repeated_frames: float = math.nan  # how many frames before this one had the same bytes, in a row
    target_active: float = math.nan  # 1 if an active object is not the robot's hand, 0 if none is
    ood_score: float = math.nan  # 0..1, NaN without a feature density
    name_familiarity: float = math.nan  # lowest over the non-hand candidates; NaN without training names


@dataclass(frozen=True)
class GateDecision:
    """The verdict: ``go`` and, if not, why (codes from :data:`REASONS`), with the features it was based on.

    ``p_confidence`` / ``n_risk`` / ``boundary_uncertainty`` / ``temporal_stability`` are the summary numbers the
    ROS ``ManipulationGate`` message carries.
    """

    go: bool
    reasons: tuple[str, ...]
    features: GateFeatures
    union_mask: np.ndarray = field(repr=False)  # [h, w] bool at model resolution

    @property
    def p_confidence(self) -> float:
        return _nan_to(min(self.features.mask_confidence, self.features.positive_score), 0.0)

    @property
    def n_risk(self) -> float:
        f = self.features
        return _nan_to(max(f.fragment_mass, f.leakage, f.overlap), 1.0)

    @property
    def boundary_uncertainty(self) -> float:
        return _nan_to(self.features.boundary_uncertainty, 1.0)

    @property
    def temporal_stability(self) -> float:
        return _nan_to(self.features.temporal_iou, 1.0)

    def as_dict(self) -> dict[str, object]:
        return {"go": self.go, "reasons": list(self.reasons), **asdict(self.features)}


def measure(object_probabilities: np.ndarray, positive_scores: np.ndarray, pixel_threshold: float,
            positive_threshold: float, config: GateConfig, previous_union: np.ndarray | None = None,
            narration_age_s: float = 0.0, image_age_s: float = 0.0, image: ImageStatistics | None = None,
            repeated_frames: int = 0, hand: np.ndarray | None = None,
            ood_score: float = math.nan, familiarity: np.ndarray | None = None) -> tuple[GateFeatures, np.ndarray]:
    """Features of one frame and its active union mask ([h, w] bool).

    Args:
        object_probabilities: [K, h, w] per-object foreground probabilities (main head, model resolution).
        positive_scores: [K] P(object active); objects at or above ``positive_threshold`` are active.
        pixel_threshold: a pixel is in an object's mask at probability >= this (the model's contract).
        previous_union: the previous frame's union mask under the same narration, or None.
    """
    probabilities = np.asarray(object_probabilities, np.float32)
    scores = np.asarray(positive_scores, np.float32)
    active = scores >= positive_threshold
    masks = probabilities >= pixel_threshold
    active_masks = masks[active]
    union = active_masks.any(axis=0) if active.any() else np.zeros(probabilities.shape[1:], bool)
    union_area = int(union.sum())
    confidences = [float(probabilities[k][masks[k]].mean()) if masks[k].any() else 0.0 for k in np.flatnonzero(active)]
    fragments = [outside_largest_component(probabilities[k] * masks[k]) for k in np.flatnonzero(active)]
    if (~active).any() and union_area:
        leakage = float(probabilities[~active].max(axis=0)[union].mean())
    else:
        leakage = 0.0 if union_area else math.nan
    overlap = float((active_masks.sum(axis=0) >= 2)[union].mean()) if union_area else math.nan
    union_probability = (probabilities[active].max(axis=0) if active.any()
                         else np.zeros(probabilities.shape[1:], np.float32))
    features = GateFeatures(
        mask_confidence=min(confidences, default=math.nan),
        positive_score=float(scores[active].min()) if active.any() else math.nan,
        inactive_score=float(scores[~active].max()) if (~active).any() else 0.0,
        area_fraction=union_area / union.size if union.size else 0.0,
        fragment_mass=max(fragments, default=math.nan),
        leakage=leakage,
        overlap=overlap,
        boundary_uncertainty=boundary_uncertainty(union_probability, union, config),
        temporal_iou=mask_iou(union, previous_union) if previous_union is not None else math.nan,
        narration_age_s=float(narration_age_s),
        image_age_s=float(image_age_s),
        **({} if image is None else {"brightness": image.brightness, "contrast": image.contrast,
                                     "sharpness": image.sharpness, "repeated_frames": float(repeated_frames)}),
        **({} if hand is None else {"target_active": float((active & ~np.asarray(hand, bool)).any())}),
        ood_score=float(ood_score),
        name_familiarity=_candidate_familiarity(hand, familiarity),
    )
    return features, union


def failed_checks(features: GateFeatures, config: GateConfig) -> tuple[str, ...]:
    """The reason codes of every check ``features`` fail (empty = GO). NaN features (undefined) never fail."""
    f, c = features, config
    if math.isnan(f.positive_score):
        return _input_reasons(f, c) + ("no_active_object",) + _age_reasons(f, c)
    failed = {
        "no_target_object": c.require_target and f.target_active == 0.0,
        "unfamiliar_object": f.name_familiarity < c.min_name_familiarity,
        "low_mask_confidence": f.mask_confidence < c.min_mask_confidence,
        "low_positive_score": f.positive_score < c.min_positive_score,
        "ambiguous_inactive_object": f.inactive_score > c.max_inactive_score,
        "area_too_small": f.area_fraction < c.min_area_fraction,
        "area_too_large": f.area_fraction > c.max_area_fraction,
        "fragmented_mask": f.fragment_mass > c.max_fragment_mass,
        "leakage_onto_inactive": f.leakage > c.max_leakage,
        "overlapping_objects": f.overlap > c.max_overlap,
        "uncertain_boundary": f.boundary_uncertainty > c.max_boundary_uncertainty,
        "unstable_mask": f.temporal_iou < c.min_temporal_iou,
    }
    return _input_reasons(f, c) + tuple(code for code, fired in failed.items() if fired) + _age_reasons(f, c)


def _input_reasons(f: GateFeatures, c: GateConfig) -> tuple[str, ...]:
    failed = {"image_too_dark": f.brightness < c.min_brightness, "image_overexposed": f.brightness > c.max_brightness,
              "image_flat": f.contrast < c.min_contrast, "image_blurred": f.sharpness < c.min_sharpness,
              "frozen_image": f.repeated_frames > c.max_repeated_frames,
              "out_of_distribution": f.ood_score > c.max_ood_score}
    return tuple(code for code, fired in failed.items() if fired)


def _age_reasons(f: GateFeatures, c: GateConfig) -> tuple[str, ...]:
    return tuple(code for code, fired in (("stale_narration", f.narration_age_s > c.max_narration_age_s),
                                          ("stale_image", f.image_age_s > c.max_image_age_s),
                                          ("future_image_stamp", f.image_age_s < -c.max_future_stamp_s)) if fired)


class Gate:
    """Stateful gate for a stream: remembers the previous union mask while the narration stays the same, and how
    many frames in a row carried the same bytes. ``density``: the model's training-feature density (None: the
    distribution-shift check cannot fire)."""

    def __init__(self, config: GateConfig, pixel_threshold: float, positive_threshold: float,
                 density: FeatureDensity | None = None) -> None:
        self.config = config
        self.density = density
        self.pixel_threshold = pixel_threshold
        self.positive_threshold = positive_threshold
        self._previous: np.ndarray | None = None
        self._narration: str | None = None
        self._digest: bytes | None = None
        self._repeats = 0

    def reset(self) -> None:
        self._previous, self._narration, self._digest, self._repeats = None, None, None, 0

    def decide(self, object_probabilities: np.ndarray, positive_scores: np.ndarray, narration: str,
               narration_age_s: float = 0.0, image_age_s: float = 0.0,
               image: ImageStatistics | None = None, hand: np.ndarray | None = None,
               image_features: np.ndarray | None = None, familiarity: np.ndarray | None = None) -> GateDecision:
        """The verdict on one frame; ``image``: the frame's statistics (None: the input checks cannot fire);
        ``hand``: [K] bool, which candidates are the robot's own hand (None: the target check cannot fire);
        ``image_features``: the segmenter's pooled encoder features, scored by the density; ``familiarity``: [K]
        each candidate name's similarity to the training names."""
        if image is not None:
            self._repeats = self._repeats + 1 if image.digest == self._digest else 0
            self._digest = image.digest
        if narration != self._narration:
            self._previous, self._narration = None, narration
        previous = self._previous if self._previous is not None and \
            self._previous.shape == object_probabilities.shape[1:] else None
        features, union = measure(object_probabilities, positive_scores, self.pixel_threshold,
                                  self.positive_threshold, self.config, previous, narration_age_s, image_age_s,
                                  image, self._repeats, hand, self.ood_score(image_features), familiarity)
        self._previous = union
        reasons = failed_checks(features, self.config)
        return GateDecision(go=not reasons, reasons=reasons, features=features, union_mask=union)

    def ood_score(self, image_features: np.ndarray | None) -> float:
        """The frame's distribution-shift score (NaN without a density or features)."""
        if self.density is None or image_features is None:
            return math.nan
        return self.density.score(image_features)


def _candidate_familiarity(hand: np.ndarray | None, familiarity: np.ndarray | None) -> float:
    """The lowest name familiarity among the candidates that are not the robot's hand (NaN: none known)."""
    if familiarity is None:
        return math.nan
    values = np.asarray(familiarity, np.float32)
    values = values[~(np.zeros(len(values), bool) if hand is None else np.asarray(hand, bool))]
    values = values[np.isfinite(values)]
    return float(values.min()) if values.size else math.nan


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks; two empty masks agree perfectly (1.0)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def outside_largest_component(mass: np.ndarray) -> float:
    """Share of the total of ``mass`` (>= 0, zero outside the mask) lying outside its largest 4-connected blob.

    "Largest" by mass. 0 for a single blob, NaN-free: an empty mask gives 0. Components come from
    ``scipy.ndimage.label`` (4-connected by default), which runs for every active object of every frame.
    """
    labels, count = ndimage.label(mass > 0)
    if count <= 1:
        return 0.0
    per_component = np.bincount(labels.ravel(), weights=mass.ravel(), minlength=count + 1)[1:]
    total = per_component.sum()
    return float(1.0 - per_component.max() / total) if total > 0 else 0.0


def boundary_uncertainty(probability: np.ndarray, mask: np.ndarray, config: GateConfig) -> float:
    """Fraction of the mask's boundary band (inner + outer, ``boundary_width_px``) that is uncertain.

    Uncertain is PMHM's U (:func:`actiseg_core.uncertainty.uncertain_set`, the set the learner keeps out of its hard
    loss) with the gate's ``tau_m`` / ``tau_e``. A sharp edge has its two transition pixels in U, so a crisp mask
    scores about 1 / ``boundary_width_px`` of its band and a soft one up to 1. NaN when the mask is empty (no
    boundary to judge).
    """
    if not mask.any():
        return math.nan
    band = _dilate(mask, config.boundary_width_px) & ~_erode(mask, config.boundary_width_px)
    uncertain = uncertain_set(np.asarray(probability, np.float32), config.tau_m, config.tau_e)
    return float(uncertain[band].mean())


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    return ~_dilate(~mask, radius)


def _nan_to(value: float, default: float) -> float:
    return default if math.isnan(value) else float(value)
