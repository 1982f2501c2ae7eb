"""Positive-head ranking and calibration, and the gIoU at any decision threshold, on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from actiseg_core.evaluation.calibration import (
    ObjectScore,
    auroc,
    average_precision,
    expected_calibration_error,
    giou_at,
    tau_star,
)
from actiseg_core.metrics import ActionVOSMetrics


def test_auroc_counts_pairs_and_halves_ties() -> None:
    assert auroc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert auroc([0.5, 0.5], [1, 0]) == 0.5
    assert auroc([0.9, 0.4, 0.6, 0.1], [1, 1, 0, 0]) == pytest.approx(0.75)  # 3 of 4 pairs ordered
    assert math.isnan(auroc([0.3, 0.4], [1, 1]))


def test_average_precision_by_hand() -> None:
    # ranks: 0.9 (active) p=1, 0.7 (inactive), 0.5 (active) p=2/3 -> AP = (1 + 2/3) / 2
    assert average_precision([0.9, 0.7, 0.5], [1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0.9, 0.8], [1, 1]) == 1.0
    assert math.isnan(average_precision([0.9], [0]))


def test_ece_is_zero_when_calibrated_and_the_gap_when_not() -> None:
    scores = np.repeat([0.25, 0.75], 4)
    calibrated = [1, 0, 0, 0, 1, 1, 1, 0]
    assert expected_calibration_error(scores, calibrated, bins=10) == pytest.approx(0.0)
    assert expected_calibration_error([0.9, 0.9], [0, 0], bins=10) == pytest.approx(0.9)


def _metrics_giou(records: list[ObjectScore], tau: float) -> float:
    """The same records drawn as label maps and scored by actiseg_core.metrics (the reference definition)."""
    metrics = ActionVOSMetrics(keep_records=False)
    for r in records:
        gt, pred = np.zeros(200, np.uint8), np.zeros(200, np.uint8)
        gt[:r.gt_area] = 1
        if r.score >= tau:  # the bypassed mask overlaps the truth by `intersection` pixels, then runs past it
            start = r.gt_area - r.intersection
            pred[start:start + r.pred_area] = 1
        metrics.update(gt[None], pred[None], {1: r.positive})
    return metrics.result().giou


def test_giou_at_matches_the_metric_definition_at_every_threshold() -> None:
    records = [ObjectScore(0.9, True, 40, 50, 30), ObjectScore(0.6, True, 30, 30, 30),
               ObjectScore(0.8, False, 20, 10, 10), ObjectScore(0.3, False, 20, 0, 0),
               ObjectScore(0.95, False, 0, 15, 0), ObjectScore(0.2, True, 0, 0, 0)]
    for tau in (0.1, 0.5, 0.7, 0.85, 0.99):
        assert giou_at(records, tau) == pytest.approx(_metrics_giou(records, tau)), tau


def test_tau_star_finds_the_threshold_below_a_timid_head() -> None:
    # an accurate but timid head: active objects score 0.6, inactive 0.3; 0.75 claims nothing
    records = [ObjectScore(0.6, True, 40, 40, 36)] * 3 + [ObjectScore(0.3, False, 30, 20, 18)] * 3
    tau, best = tau_star(records)
    assert 0.3 < tau <= 0.6 and best == pytest.approx(100 * (3 * 36 / 44 + 3) / 6)  # I/U = 36 / (40 + 40 - 36)
    assert giou_at(records, 0.75) == pytest.approx(50.0) and best > 50.0
