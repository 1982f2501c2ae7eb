"""Tests for actiseg_core.metrics: every ActionVOS branch on hand-computed 4x4 frames (DESIGN §4)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from actiseg_core.metrics import (
    HIGHER_IS_BETTER,
    METRIC_COLUMNS,
    ActionVOSMetrics,
    MetricResult,
    predicted_label_map,
)


def _maps(gt: list[list[int]], pred: list[list[int]], dtype: type = np.uint8) -> tuple[np.ndarray, np.ndarray]:
    return np.array(gt, dtype=dtype), np.array(pred, dtype=dtype)


def _score(gt: list[list[int]], pred: list[list[int]], positives: dict[int, bool]) -> tuple[MetricResult, list]:
    metrics = ActionVOSMetrics()
    metrics.update(*_maps(gt, pred), positives)
    return metrics.result(), metrics.records


def _assert_nan(*values: float) -> None:
    for value in values:
        assert math.isnan(value), value


ZEROS = [[0] * 4 for _ in range(4)]


# ---------------------------------------------------------------------------------------------------------------------
# One branch at a time
# ---------------------------------------------------------------------------------------------------------------------


def test_not_visible_not_predicted_counts_for_giou_and_acc_only() -> None:
    result, records = _score(ZEROS, ZEROS, {1: True, 2: False})
    assert (result.tp, result.tn, result.fp, result.fn, result.n_entries) == (0, 2, 0, 0, 2)
    assert result.giou == 100.0
    assert result.acc == 100.0
    _assert_nan(result.p_miou, result.n_miou, result.p_ciou, result.n_ciou)  # U == 0 stays out of every list
    assert [(r.category, r.intersection, r.union) for r in records] == [("TN", 0, 0), ("TN", 0, 0)]
    assert math.isnan(records[0].iou)


@pytest.mark.parametrize("positive", [True, False])
def test_predicted_but_not_visible_is_fp_with_zero_giou(positive: bool) -> None:
    pred = [[1, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    result, records = _score(ZEROS, pred, {1: positive})
    assert (result.tp, result.tn, result.fp, result.fn) == (0, 0, 1, 0)
    assert result.giou == 0.0
    assert result.acc == 0.0
    assert (records[0].intersection, records[0].union, records[0].category) == (0, 3, "FP")
    if positive:  # IoU 0 goes into the p-lists
        assert (result.p_miou, result.p_ciou) == (0.0, 0.0)
        _assert_nan(result.n_miou, result.n_ciou)
    else:
        assert (result.n_miou, result.n_ciou) == (0.0, 0.0)
        _assert_nan(result.p_miou, result.p_ciou)


def test_active_visible_not_predicted_is_fn() -> None:
    gt = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    result, records = _score(gt, ZEROS, {1: True})
    assert (result.tp, result.tn, result.fp, result.fn) == (0, 0, 0, 1)
    assert (result.p_miou, result.p_ciou, result.giou, result.acc) == (0.0, 0.0, 0.0, 0.0)
    assert (records[0].intersection, records[0].union, records[0].category) == (0, 4, "FN")


def test_active_visible_predicted_is_tp_with_partial_iou() -> None:
    # GT covers columns 0-1 of rows 0-1, the prediction columns 1-2: I = 2 (column 1), U = 6, IoU = 1/3.
    gt = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    pred = [[0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    result, records = _score(gt, pred, {1: True})
    assert (result.tp, result.tn, result.fp, result.fn) == (1, 0, 0, 0)
    assert result.p_miou == pytest.approx(100 / 3)
    assert result.p_ciou == pytest.approx(100 / 3)
    assert result.giou == pytest.approx(100 / 3)  # active objects score their IoU in gIoU
    assert result.acc == 100.0
    _assert_nan(result.n_miou, result.n_ciou)
    assert (records[0].intersection, records[0].union, records[0].category) == (2, 6, "TP")
    assert records[0].iou == pytest.approx(1 / 3)


def test_inactive_visible_not_predicted_is_tn_worth_one() -> None:
    gt = [[2, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    result, records = _score(gt, ZEROS, {2: False})
    assert (result.tp, result.tn, result.fp, result.fn) == (0, 1, 0, 0)
    assert (result.n_miou, result.n_ciou) == (0.0, 0.0)  # I/U = 0/2 enters the n-lists
    assert (result.giou, result.acc) == (100.0, 100.0)
    _assert_nan(result.p_miou, result.p_ciou)
    assert (records[0].intersection, records[0].union, records[0].category) == (0, 2, "TN")


def test_inactive_visible_predicted_is_fp_worth_zero() -> None:
    gt = [[2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    pred = [[2, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    result, records = _score(gt, pred, {2: False})
    assert (result.tp, result.tn, result.fp, result.fn) == (0, 0, 1, 0)
    assert (result.n_miou, result.n_ciou) == (50.0, 50.0)
    assert (result.giou, result.acc) == (0.0, 0.0)  # NOT its IoU: any segmentation of an inactive object is wrong
    assert (records[0].intersection, records[0].union, records[0].category) == (2, 4, "FP")


# ---------------------------------------------------------------------------------------------------------------------
# All branches in one frame, cross-talk between labels, dtypes
# ---------------------------------------------------------------------------------------------------------------------

MIXED_GT = [[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 3, 3], [7, 7, 0, 0]]
MIXED_PRED = [[1, 2, 2, 0], [1, 1, 0, 0], [0, 0, 0, 0], [7, 0, 4, 4]]
MIXED_POSITIVES = {1: True, 2: False, 3: True, 4: False, 5: True}  # label 7 is no object of the sequence: ignored
# 1 active:   g 4 px, p 3 px inside it       -> I 3, U 4, TP, gIoU 0.75
# 2 inactive: g 4 px, p (0,1) and (0,2)      -> I 1, U 5, FP, gIoU 0
# 3 active:   g 2 px, p none                 -> I 0, U 2, FN, gIoU 0
# 4 inactive: g none, p 2 px                 -> I 0, U 2, FP, gIoU 0
# 5 active:   nowhere                        -> U 0, TN, gIoU 1, in no list
MIXED_EXPECTED = {
    "p-mIoU": 100 * (0.75 + 0.0) / 2,  # 37.5
    "n-mIoU": 100 * (0.2 + 0.0) / 2,  # 10
    "p-cIoU": 100 * (3 + 0) / (4 + 2),  # 50
    "n-cIoU": 100 * (1 + 0) / (5 + 2),  # 14.2857...
    "gIoU": 100 * (0.75 + 0 + 0 + 0 + 1) / 5,  # 35
    "Acc": 100 * (1 + 1) / 5,  # TP 1 + TN 1 of 5 entries: 40
}


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64, np.uint64])
def test_mixed_frame_all_branches(dtype: type) -> None:
    metrics = ActionVOSMetrics()
    metrics.update(*_maps(MIXED_GT, MIXED_PRED, dtype), MIXED_POSITIVES, sequence="seq", frame="f1")
    result = metrics.result()
    assert result.as_row() == pytest.approx(MIXED_EXPECTED)
    assert (result.tp, result.tn, result.fp, result.fn, result.n_entries) == (1, 1, 2, 1, 5)
    assert [(r.object_index, r.positive, r.intersection, r.union, r.category) for r in metrics.records] == [
        (1, True, 3, 4, "TP"),
        (2, False, 1, 5, "FP"),
        (3, True, 0, 2, "FN"),
        (4, False, 0, 2, "FP"),
        (5, True, 0, 0, "TN"),
    ]
    assert {(r.sequence, r.frame) for r in metrics.records} == {("seq", "f1")}


def test_object_indices_above_255() -> None:
    # uint8 maps cannot contain 300: it is simply absent; uint16 maps can.
    gt8, pred8 = _maps(MIXED_GT, MIXED_PRED)
    metrics = ActionVOSMetrics()
    metrics.update(gt8, pred8, {1: True, 300: False})
    assert [(r.object_index, r.intersection, r.union, r.category) for r in metrics.records] == [
        (1, 3, 4, "TP"),
        (300, 0, 0, "TN"),
    ]
    gt16 = np.where(gt8 == 2, 300, gt8).astype(np.uint16)
    pred16 = np.where(pred8 == 2, 300, pred8).astype(np.uint16)
    metrics = ActionVOSMetrics()
    metrics.update(gt16, pred16, {1: True, 300: False})
    assert [(r.object_index, r.intersection, r.union, r.category) for r in metrics.records] == [
        (1, 3, 4, "TP"),
        (300, 1, 5, "FP"),
    ]


def _reference(frames: list[tuple[np.ndarray, np.ndarray]], positives: dict[int, bool]) -> dict[str, float]:
    """DESIGN §4 spelled out literally, with one boolean pass per object, to check the vectorised version."""
    lists: dict[bool, list[float]] = {True: [], False: []}
    inter: dict[bool, int] = {True: 0, False: 0}
    union: dict[bool, int] = {True: 0, False: 0}
    gious: list[float] = []
    correct = 0
    for gt, pred in frames:
        for k, positive in positives.items():
            p, g = pred == k, gt == k
            i, u = int((p & g).sum()), int((p | g).sum())
            if u == 0:
                gious.append(1.0)
                correct += 1
                continue
            lists[positive].append(i / u)
            inter[positive] += i
            union[positive] += u
            if not g.any():
                gious.append(0.0)
            elif positive:
                gious.append(i / u)
                correct += int(p.any())
            else:
                gious.append(0.0 if p.any() else 1.0)
                correct += int(not p.any())
    return {
        "p-mIoU": 100 * float(np.mean(lists[True])),
        "n-mIoU": 100 * float(np.mean(lists[False])),
        "p-cIoU": 100 * inter[True] / union[True],
        "n-cIoU": 100 * inter[False] / union[False],
        "gIoU": 100 * float(np.mean(gious)),
        "Acc": 100 * correct / len(gious),
    }


def test_matches_literal_reference_on_random_frames() -> None:
    rng = np.random.default_rng(7)
    positives = {1: True, 2: False, 3: True, 4: False, 5: True, 6: False}
    frames = []
    for _ in range(20):
        gt = rng.integers(0, 8, (24, 32)).astype(np.uint8)
        pred = np.where(rng.random(gt.shape) < 0.7, gt, rng.integers(0, 8, gt.shape)).astype(np.uint8)
        pred[pred == rng.integers(1, 7)] = 0  # some objects missed entirely
        frames.append((gt, pred))
    metrics = ActionVOSMetrics()
    for gt, pred in frames:
        metrics.update(gt, pred, positives)
    assert metrics.result().as_row() == pytest.approx(_reference(frames, positives))


# ---------------------------------------------------------------------------------------------------------------------
# Accumulation over frames
# ---------------------------------------------------------------------------------------------------------------------


def test_cumulative_and_mean_iou_differ_over_two_frames() -> None:
    # Frame A: object 1 (active) 1 px, predicted exactly -> I 1, U 1 (TP, gIoU 1);
    #          object 2 (inactive) 2 px, half predicted  -> I 1, U 2 (FP, gIoU 0).
    # Frame B: object 1 8 px, 2 of them predicted        -> I 2, U 8 (TP, gIoU 0.25);
    #          object 2 6 px, not predicted              -> I 0, U 6 (TN, gIoU 1).
    gt_a = [[1, 2, 2, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    pred_a = [[1, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    gt_b = [[1, 1, 1, 1], [1, 1, 1, 1], [2, 2, 2, 2], [2, 2, 0, 0]]
    pred_b = [[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    metrics = ActionVOSMetrics()
    metrics.update(*_maps(gt_a, pred_a), {1: True, 2: False}, sequence="s", frame="a")
    metrics.update(*_maps(gt_b, pred_b), {1: True, 2: False}, sequence="s", frame="b")
    result = metrics.result()
    assert result.p_miou == pytest.approx(62.5)  # (1 + 0.25) / 2
    assert result.p_ciou == pytest.approx(100 / 3)  # (1 + 2) / (1 + 8)
    assert result.n_miou == pytest.approx(25.0)  # (0.5 + 0) / 2
    assert result.n_ciou == pytest.approx(12.5)  # (1 + 0) / (2 + 6)
    assert result.giou == pytest.approx(56.25)  # (1 + 0 + 0.25 + 1) / 4
    assert result.acc == pytest.approx(75.0)  # TP 2 + TN 1 of 4
    assert (result.tp, result.tn, result.fp, result.fn, result.n_entries) == (2, 1, 1, 0, 4)
    assert [(r.frame, r.object_index, r.category) for r in metrics.records] == [
        ("a", 1, "TP"),
        ("a", 2, "FP"),
        ("b", 1, "TP"),
        ("b", 2, "TN"),
    ]


def test_empty_accumulator_is_all_nan() -> None:
    result = ActionVOSMetrics().result()
    _assert_nan(*result.as_row().values())
    assert (result.tp, result.tn, result.fp, result.fn, result.n_entries) == (0, 0, 0, 0, 0)


def test_frame_without_objects_changes_nothing() -> None:
    metrics = ActionVOSMetrics()
    metrics.update(*_maps(MIXED_GT, MIXED_PRED), {})
    assert metrics.result().n_entries == 0
    assert metrics.records == []


def test_records_can_be_switched_off_without_changing_results() -> None:
    metrics = ActionVOSMetrics(keep_records=False)
    metrics.update(*_maps(MIXED_GT, MIXED_PRED), MIXED_POSITIVES)
    assert metrics.records == []
    assert metrics.result().as_row() == pytest.approx(MIXED_EXPECTED)


def test_result_row_order_and_directions() -> None:
    metrics = ActionVOSMetrics()
    metrics.update(*_maps(MIXED_GT, MIXED_PRED), MIXED_POSITIVES)
    result = metrics.result()
    assert METRIC_COLUMNS == ("p-mIoU", "n-mIoU", "p-cIoU", "n-cIoU", "gIoU", "Acc")
    assert list(result.as_row()) == list(METRIC_COLUMNS)
    assert list(result.as_row().values()) == [
        result.p_miou,
        result.n_miou,
        result.p_ciou,
        result.n_ciou,
        result.giou,
        result.acc,
    ]
    assert set(HIGHER_IS_BETTER) == set(METRIC_COLUMNS)
    assert [c for c in METRIC_COLUMNS if not HIGHER_IS_BETTER[c]] == ["n-mIoU", "n-cIoU"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.giou = 0.0  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gt", "pred", "positives", "message"),
    [
        (np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8), {1: True}, "shape"),
        (np.zeros((1, 4, 4), np.uint8), np.zeros((1, 4, 4), np.uint8), {1: True}, "2-D"),
        (np.zeros((4, 4), np.float32), np.zeros((4, 4), np.uint8), {1: True}, "integer dtype"),
        (np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool), {1: True}, "integer dtype"),
        (np.full((4, 4), -1, np.int32), np.zeros((4, 4), np.int32), {1: True}, "negative"),
        (np.zeros((4, 4), np.int64), np.full((4, 4), -3, np.int64), {1: True}, "negative"),
        (np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), {0: True}, ">= 1"),
        (np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), {"1": True}, "integers"),
        ([[0]], np.zeros((1, 1), np.uint8), {1: True}, "numpy array"),
    ],
)
def test_update_rejects_bad_input(gt: np.ndarray, pred: np.ndarray, positives: dict, message: str) -> None:
    metrics = ActionVOSMetrics()
    with pytest.raises(ValueError, match=message):
        metrics.update(gt, pred, positives)
    assert metrics.result().n_entries == 0  # nothing half-counted


# ---------------------------------------------------------------------------------------------------------------------
# predicted_label_map
# ---------------------------------------------------------------------------------------------------------------------

# Two objects (palette indices 3 and 5) on a 2x3 frame.
PROBS = np.array(
    [
        [[0.9, 0.6, 0.4], [0.5, 0.7, 0.1]],  # object 3
        [[0.6, 0.8, 0.3], [0.2, 0.7, 0.95]],  # object 5
    ],
    dtype=np.float32,
)


def test_label_map_argmax_and_threshold() -> None:
    labels = predicted_label_map(PROBS, [3, 5], None, 0.5, 0.75)
    assert labels.dtype == np.uint8
    # (0,0) 3 wins; (0,1) 5 wins; (0,2) both < 0.5 -> background; (1,0) exactly 0.5 counts (ActionVOS keeps >= 0.5);
    # (1,1) tie -> the first object; (1,2) 5 wins.
    np.testing.assert_array_equal(labels, [[3, 5, 0], [3, 3, 5]])


def test_label_map_custom_threshold() -> None:
    labels = predicted_label_map(PROBS, [3, 5], None, 0.85, 0.75)
    np.testing.assert_array_equal(labels, [[3, 0, 0], [0, 0, 5]])


def test_label_map_positive_suppression() -> None:
    # Object 3 is judged inactive (0.7 < 0.75): its whole mask goes, and object 5 takes over where it reaches 0.5.
    labels = predicted_label_map(PROBS, [3, 5], np.array([0.7, 0.9]), 0.5, 0.75)
    np.testing.assert_array_equal(labels, [[5, 5, 0], [0, 5, 5]])
    # A score of exactly positive_threshold keeps the object.
    labels = predicted_label_map(PROBS, [3, 5], np.array([0.75, 0.2]), 0.5, 0.75)
    np.testing.assert_array_equal(labels, [[3, 3, 0], [3, 3, 0]])
    labels = predicted_label_map(PROBS, [3, 5], np.array([0.9, 0.9]), 0.5, 0.95)
    np.testing.assert_array_equal(labels, np.zeros((2, 3)))


def test_label_map_without_objects_is_background() -> None:
    labels = predicted_label_map(np.zeros((0, 2, 3), np.float32), [], None, 0.5, 0.75)
    assert labels.shape == (2, 3)
    assert labels.dtype == np.uint8
    assert not labels.any()


def test_label_map_feeds_the_metrics() -> None:
    gt = np.array([[3, 5, 0], [3, 5, 5]], dtype=np.uint8)
    metrics = ActionVOSMetrics()
    metrics.update(gt, predicted_label_map(PROBS, [3, 5], None, 0.5, 0.75), {3: True, 5: True})
    # object 3: g {(0,0),(1,0)}, p {(0,0),(1,0),(1,1)} -> I 2, U 3; object 5: g {(0,1),(1,1),(1,2)}, p {(0,1),(1,2)}
    # -> I 2, U 3.
    assert [(r.intersection, r.union) for r in metrics.records] == [(2, 3), (2, 3)]


@pytest.mark.parametrize(
    ("probs", "indices", "scores", "message"),
    [
        (np.zeros((2, 3), np.float32), [3], None, r"\(K, H, W\)"),
        (np.zeros((1, 2, 3), np.int64), [3], None, "float"),
        (np.zeros((2, 2, 3), np.float32), [3], None, "2 probability maps"),
        (np.zeros((1, 2, 3), np.float32), [0], None, "1..255"),
        (np.zeros((1, 2, 3), np.float32), [256], None, "1..255"),
        (np.zeros((1, 2, 3), np.float32), [3], np.array([0.9, 0.9]), "positive_scores"),
        (np.full((1, 2, 3), np.nan, np.float32), [3], None, "NaN"),
    ],
)
def test_label_map_rejects_bad_input(probs: np.ndarray, indices: list, scores: np.ndarray | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        predicted_label_map(probs, indices, scores, 0.5, 0.75)
