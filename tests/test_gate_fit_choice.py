"""benchmarks/gate_fit.py's choice under an unsafe-GO bound counted by frame or by clip."""

from __future__ import annotations

import math

import numpy as np
from benchmark_support import benchmark_module

from actiseg_core.evaluation.frames import FrameScore
from actiseg_core.gating import GateFeatures


def scored(sequence: str, index: int, p_iou: float, confidence: float) -> FrameScore:
    features = GateFeatures(mask_confidence=confidence, positive_score=0.9, inactive_score=0.0, area_fraction=0.1,
                            fragment_mass=0.0, leakage=0.0, overlap=0.0, boundary_uncertainty=0.1,
                            temporal_iou=math.nan, narration_age_s=0.0, image_age_s=0.0)
    return FrameScore(sequence, f"{index}", p_iou, True, None, (), 0.0, features=features)


def test_a_clip_bound_refuses_what_a_frame_bound_accepts_when_failures_share_a_clip() -> None:
    """Four clips of ten frames: clip a fails on three frames (low confidence), clip b has five good but
    low-confidence frames. All GO: 3/40 unsafe frames (bound 0.18) but 1/4 unsafe clips (bound 0.75). A confidence
    floor stops the failures and b's five good frames: 0/4 clips (bound 0.53)."""
    gate_fit = benchmark_module("gate_fit")
    frames = []
    for clip in "abcd":
        for i in range(10):
            failing, shaky = clip == "a" and i < 3, clip == "b" and i < 5
            frames.append(scored(clip, i, 0.2 if failing else 0.9, 0.2 if failing else 0.3 if shaky else 0.9))
    split = gate_fit.Split("val", "h", frames, np.zeros(len(frames), bool))
    off = {name: gate_fit._off(direction) for name, (_, direction) in gate_fit.CHECKS.items()}
    walk = [off, {**off, "mask_confidence": 0.5}]
    all_go, floored = (gate_fit.figures_at(split, t) for t in walk)
    assert (all_go.unsafe_go.count, all_go.unsafe_go.of) == (3, 40) and all_go.unsafe_go.upper_bound() < 0.3
    assert (all_go.unsafe_go_clips.count, all_go.unsafe_go_clips.of) == (1, 4)
    assert (floored.unsafe_go_clips.count, floored.unsafe_go_clips.of) == (0, 4)
    assert gate_fit.choose(walk, split, 0.9, 0.6, max_unsafe_bound=0.3) == 0  # frames: the more available step
    assert gate_fit.choose(walk, split, 0.9, 0.6, max_unsafe_bound=0.3, bound_unit="clip") == 1  # lowest clip bound
