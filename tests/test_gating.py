"""actiseg_core.gating: components, features, every NO-GO reason, temporal state, neutral defaults, the shipped fit."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from actiseg_core.gating import (
    REASONS,
    Gate,
    GateConfig,
    boundary_uncertainty,
    failed_checks,
    measure,
    outside_largest_component,
)
from actiseg_core.input_sanity import image_statistics

SIZE = (40, 60)
#: every check off (GateConfig's defaults are neutral): tests switch on the one they exercise
OPEN = GateConfig()
#: the thresholds the shipped default model was fitted with
FITTED = GateConfig(max_inactive_score=0.2476, min_area_fraction=0.0085)


def gate(config: GateConfig = FITTED) -> Gate:
    return Gate(config, pixel_threshold=0.5, positive_threshold=0.75)


def blob(top: int, left: int, height: int, width: int, value: float = 0.95) -> np.ndarray:
    probabilities = np.full(SIZE, 0.02, np.float32)
    probabilities[top:top + height, left:left + width] = value
    return probabilities


def frame(*maps: np.ndarray) -> np.ndarray:
    return np.stack(maps)


def test_mass_outside_the_largest_component() -> None:
    mass = np.zeros(SIZE, np.float32)
    mass[0:3, 0:4] = 1.0  # 12
    mass[10:12, 10:12] = 1.0  # 4, apart
    assert outside_largest_component(mass) == pytest.approx(0.25)
    assert outside_largest_component(np.zeros(SIZE)) == 0.0
    assert outside_largest_component(mass[:5]) == 0.0
    diagonal = np.zeros((4, 4))
    diagonal[0, 0], diagonal[1, 1] = 3.0, 1.0  # touching at a corner only: two blobs under 4-connectivity
    assert outside_largest_component(diagonal) == pytest.approx(0.25)


def test_clean_single_object_is_go_with_fitted_thresholds() -> None:
    probabilities = frame(blob(10, 10, 12, 20), np.full(SIZE, 0.01, np.float32))
    decision = gate().decide(probabilities, np.array([0.98, 0.05]), "take cup")
    assert decision.go and decision.reasons == ()
    f = decision.features
    assert f.mask_confidence == pytest.approx(0.95) and f.positive_score == pytest.approx(0.98)
    assert f.inactive_score == pytest.approx(0.05) and f.area_fraction == pytest.approx(240 / 2400)
    assert f.fragment_mass == 0.0 and f.overlap == 0.0 and f.leakage == pytest.approx(0.01)
    assert math.isnan(f.temporal_iou)  # first frame of a narration
    assert decision.p_confidence == pytest.approx(0.95) and decision.temporal_stability == 1.0
    assert decision.union_mask.sum() == 240


def _reasons(probabilities, scores, config, **ages) -> tuple[str, ...]:
    features, _ = measure(probabilities, np.array(scores, np.float32), 0.5, 0.75, config, **ages)
    return failed_checks(features, config)


def test_each_check_fires_alone() -> None:
    clean = frame(blob(10, 10, 12, 20))
    assert _reasons(clean, [0.99], OPEN) == ()
    cases = {
        "no_active_object": (clean, [0.2], OPEN),
        "low_mask_confidence": (frame(blob(10, 10, 12, 20, 0.6)), [0.99], dataclasses.replace(
            OPEN, min_mask_confidence=0.8)),
        "low_positive_score": (clean, [0.8], dataclasses.replace(OPEN, min_positive_score=0.9)),
        "ambiguous_inactive_object": (frame(blob(10, 10, 12, 20), blob(0, 0, 2, 2)), [0.99, 0.6],
                                      dataclasses.replace(OPEN, max_inactive_score=0.3)),
        "area_too_small": (frame(blob(10, 10, 2, 2)), [0.99], dataclasses.replace(OPEN, min_area_fraction=0.01)),
        "area_too_large": (frame(blob(0, 0, 40, 50)), [0.99], dataclasses.replace(OPEN, max_area_fraction=0.5)),
        "fragmented_mask": (frame(np.maximum(blob(0, 0, 6, 6), blob(20, 30, 5, 6))), [0.99],
                            dataclasses.replace(OPEN, max_fragment_mass=0.3)),
        "leakage_onto_inactive": (frame(blob(10, 10, 12, 20), blob(10, 10, 12, 20, 0.45)), [0.99, 0.1],
                                  dataclasses.replace(OPEN, max_leakage=0.2)),
        "overlapping_objects": (frame(blob(10, 10, 12, 20), blob(10, 20, 12, 20)), [0.99, 0.99],
                                dataclasses.replace(OPEN, max_overlap=0.2)),
    }
    for reason, (probabilities, scores, config) in cases.items():
        assert _reasons(probabilities, scores, config) == (reason,), reason
    shifted = dataclasses.replace(OPEN, max_ood_score=0.95)
    assert _reasons(clean, [0.99], shifted, ood_score=0.99) == ("out_of_distribution",)
    assert _reasons(clean, [0.2], shifted, ood_score=0.99) == ("out_of_distribution", "no_active_object")
    assert _reasons(clean, [0.99], shifted, ood_score=0.5) == _reasons(clean, [0.99], shifted) == ()
    strict = dataclasses.replace(OPEN, min_name_familiarity=0.9)
    two = frame(blob(10, 10, 12, 20), blob(30, 30, 5, 5))
    hand = np.array([True, False])
    assert _reasons(two, [0.99, 0.99], strict, hand=hand, familiarity=np.array([0.1, 0.5])) == ("unfamiliar_object",)
    assert _reasons(two, [0.99, 0.99], strict, hand=hand, familiarity=np.array([0.1, 1.0])) == ()  # the hand is exempt
    three = frame(blob(10, 10, 12, 20), blob(30, 30, 5, 5), blob(0, 40, 4, 4))
    assert _reasons(three, [0.99, 0.99, 0.2], strict, hand=np.array([True, False, False]),
                    familiarity=np.array([0.1, 1.0, 0.3])) == ("unfamiliar_object",)  # inactive candidates too
    assert _reasons(two, [0.99, 0.99], strict, hand=hand) == ()  # no familiarity known: cannot fire
    stale = _reasons(clean, [0.99], OPEN, narration_age_s=61.0, image_age_s=0.6)
    assert stale == ("stale_narration", "stale_image")
    assert _reasons(clean, [0.99], OPEN, image_age_s=-0.3) == ("future_image_stamp",)  # beyond the 0.25 s tolerance
    assert _reasons(clean, [0.99], OPEN, image_age_s=-0.2) == ()
    inputs = {"image_too_dark", "image_overexposed", "image_flat", "image_blurred", "frozen_image",
              "out_of_distribution"}
    assert set(REASONS) == {*cases, *inputs, "no_target_object", "unfamiliar_object", "uncertain_boundary",
                            "unstable_mask",
                            "stale_narration", "stale_image", "future_image_stamp"}


def test_a_mask_of_the_gripper_alone_is_no_go() -> None:
    """Only the robot's hand active: nothing to grasp, however confident the mask (the narrated object was missed)."""
    probabilities = frame(blob(10, 10, 12, 20), blob(25, 30, 8, 8))
    gate = Gate(OPEN, 0.5, 0.75)
    only_hand = gate.decide(probabilities, np.array([0.99, 0.1]), "take cup", hand=np.array([True, False]))
    assert only_hand.reasons == ("no_target_object",) and only_hand.features.target_active == 0.0
    both = gate.decide(probabilities, np.array([0.99, 0.95]), "take cup", hand=np.array([True, False]))
    assert both.go and both.features.target_active == 1.0
    assert gate.decide(probabilities, np.array([0.99, 0.1]), "take cup").go  # hand unknown: the check cannot fire
    lenient = Gate(dataclasses.replace(OPEN, require_target=False), 0.5, 0.75)
    assert lenient.decide(probabilities, np.array([0.99, 0.1]), "wave", hand=np.array([True, False])).go


def _camera(value: float | None = None, seed: int = 0, blur: int = 0) -> np.ndarray:
    """A textured 60x80 RGB frame (or a uniform one of luma ``value``), optionally box-blurred ``blur`` times."""
    if value is not None:
        return np.full((60, 80, 3), round(255 * value), np.uint8)
    pixels = np.random.default_rng(seed).integers(0, 256, (60, 80, 3)).astype(np.float32)
    for _ in range(blur):
        pixels = (pixels + np.roll(pixels, 1, 0) + np.roll(pixels, -1, 0) + np.roll(pixels, 1, 1)
                  + np.roll(pixels, -1, 1)) / 5
    return pixels.round().astype(np.uint8)


def test_unusable_camera_frames_are_no_go_whatever_the_mask_says() -> None:
    """A dead, blinded or frozen camera still yields a confident mask: the input checks refuse the frame."""
    confident = frame(blob(10, 10, 12, 20))
    config = dataclasses.replace(OPEN, min_sharpness=0.2)

    def verdict(image: np.ndarray, gate: Gate | None = None) -> tuple[str, ...]:
        gate = gate or Gate(config, 0.5, 0.75)
        return gate.decide(confident, np.array([0.99]), "take cup", image=image_statistics(image)).reasons

    assert verdict(_camera()) == ()
    assert verdict(_camera(0.0)) == ("image_too_dark", "image_flat", "image_blurred")
    assert verdict(_camera(1.0)) == ("image_overexposed", "image_flat", "image_blurred")
    assert verdict(_camera(0.5)) == ("image_flat", "image_blurred")
    assert verdict(_camera(blur=6)) == ("image_blurred",)
    stream = Gate(config, 0.5, 0.75)
    assert [verdict(image, stream) for image in (_camera(seed=1), _camera(seed=1), _camera(seed=2))] == [
        (), ("frozen_image",), ()]  # a repeated frame, then the camera moves on
    dead = Gate(OPEN, 0.5, 0.75).decide(frame(blob(0, 0, 1, 1)), np.array([0.1]), "take cup",
                                        image=image_statistics(_camera(0.0)))
    assert dead.reasons == ("image_too_dark", "image_flat", "no_active_object")  # said even with nothing segmented


def test_boundary_uncertainty_separates_sharp_from_soft_edges() -> None:
    sharp = blob(10, 10, 20, 30)
    ramp = np.clip(1.0 - np.abs(np.arange(SIZE[1]) - 25.0) / 15.0, 0, 1)  # a soft 1-D hill, 0.5 at +-7.5 px
    soft = np.tile(ramp, (SIZE[0], 1)).astype(np.float32)
    config = GateConfig()
    assert boundary_uncertainty(sharp, sharp >= 0.5, config) < 0.6  # only its two transition pixels per band
    assert boundary_uncertainty(soft, soft >= 0.5, config) > 0.9
    assert math.isnan(boundary_uncertainty(sharp, np.zeros(SIZE, bool), config))
    strict = dataclasses.replace(OPEN, max_boundary_uncertainty=0.5)
    assert _reasons(frame(soft), [0.99], strict) == ("uncertain_boundary",)


def test_temporal_check_compares_frames_of_one_narration_only() -> None:
    config = dataclasses.replace(OPEN, min_temporal_iou=0.5)
    gate = Gate(config, 0.5, 0.75)
    here, moved = frame(blob(10, 10, 10, 10)), frame(blob(10, 40, 10, 10))
    assert gate.decide(here, np.array([0.99]), "take cup").go
    assert gate.decide(here, np.array([0.99]), "take cup").features.temporal_iou == 1.0
    jump = gate.decide(moved, np.array([0.99]), "take cup")
    assert jump.reasons == ("unstable_mask",) and jump.features.temporal_iou == 0.0
    fresh = gate.decide(here, np.array([0.99]), "put cup down")  # a new narration starts a new history
    assert fresh.go and math.isnan(fresh.features.temporal_iou)
    gate.reset()
    assert math.isnan(gate.decide(moved, np.array([0.99]), "put cup down").features.temporal_iou)


def test_summary_numbers_are_defined_without_active_objects() -> None:
    decision = gate().decide(frame(blob(0, 0, 5, 5)), np.array([0.1]), "take cup")
    assert decision.reasons == ("no_active_object",) and not decision.go
    assert (decision.p_confidence, decision.n_risk, decision.boundary_uncertainty) == (0.0, 1.0, 1.0)
    assert decision.as_dict()["reasons"] == ["no_active_object"]


def test_defaults_are_neutral_and_the_fit_lives_in_the_model_folder() -> None:
    """No fitted value is a code default: the shipped int8 folder carries gate.json's thresholds, chosen by the
    bounded rule (unsafe-GO one-sided 95% upper bound <= 0.05 on the calibration split)."""
    from actiseg_core.contract import read_contract

    repo = Path(__file__).parents[1]
    defaults = GateConfig()
    assert _reasons(frame(blob(0, 0, 1, 1), blob(20, 20, 2, 2)), [0.76, 0.74], defaults) == ()  # tiny; ambiguous
    fit = json.loads((repo / "benchmarks" / "results" / "gate.json").read_text())
    shipped = read_contract(repo / "models" / "default_int8").gate
    assert shipped.thresholds == pytest.approx(fit["gate_config"])
    assert shipped.fitted is not None and shipped.fitted["fit_split"] == fit["fit_split"]
    assert fit["max_unsafe_go_bound"] == 0.05
    unsafe = fit["results"][fit["fit_split"]]["unsafe_go_rate"]
    # the promise on the calibration split, or the record says it could not be kept
    assert fit["promise_met"] == (unsafe["of"] == 0 or unsafe["upper95"] <= 0.05)
    assert shipped.fitted["segmenter_sha256"] == json.loads((repo / "models" / "default_int8" / "model.json").read_text(
    ))["sha256"]["segmenter.onnx"]  # fitted for the graph the folder holds
