"""The positive head as a classifier, and the ActionVOS gIoU at any decision threshold (issue 15; numpy only).

A cell of the ActiSeg-NL benchmark keeps, per object and frame, an :class:`ObjectScore`: the positive head's score,
whether the object is truly active, and its mask with the positive gate bypassed (ground-truth area, predicted
area, intersection). From those records come:

* :func:`auroc` / :func:`average_precision`: how well the score ranks active above inactive objects, whatever the
  threshold (a head trained on noisy prompts can rank well and still sit below ActionVOS's 0.75);
* :func:`expected_calibration_error`: the gap between score and observed activity (equal-width bins);
* :func:`giou_at`: the ActionVOS gIoU (``actiseg_core.metrics``: an entry per object and frame; not visible and not
  predicted = 1, predicted but not visible = 0, a visible active object = I/U, a visible inactive one = 1 when left
  out) when the gate is placed at threshold tau instead of 0.75, the mean of the per-record entries
  :func:`record_giou`, and :func:`tau_star`, the threshold that maximises it on a set of records (choose it on a
  noisy held-out subset of train, never on clean data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ObjectScore:
    """One object in one frame: positive score, true activity, and its gate-bypassed mask's pixel counts."""

    score: float
    positive: bool
    gt_area: int
    pred_area: int
    intersection: int

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ObjectScore:
        """The score of a JSON record holding (at least) these fields, e.g. a benchmark cell's per-object record."""
        return cls(**{field.name: record[field.name] for field in fields(cls)})


def _arrays(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s, y = np.asarray(scores, np.float64), np.asarray(labels, bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"scores and labels must be 1-D of one length, got {s.shape} and {y.shape}")
    return s, y


def auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve: P(score of an active object > score of an inactive one), ties counting 1/2
    (the Mann-Whitney statistic on mid-ranks). NaN when one class is absent."""
    s, y = _arrays(scores, labels)
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_scores = s[order]
    start = 0
    for end in range(1, len(s) + 1):  # mid-ranks of tied runs
        if end == len(s) or sorted_scores[end] != sorted_scores[start]:
            ranks[order[start:end]] = (start + end + 1) / 2
            start = end
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """Mean of the precision at each active object's rank (scores descending; tied scores enter together).
    NaN without an active object."""
    s, y = _arrays(scores, labels)
    if not y.any():
        return float("nan")
    thresholds = np.unique(s)[::-1]
    precision_sum, recalled = 0.0, 0
    for threshold in thresholds:
        taken = s >= threshold
        new = int((y & (s == threshold)).sum())
        if new:
            precision_sum += new * y[taken].mean()
            recalled += new
    return float(precision_sum / recalled)


def expected_calibration_error(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray,
                               bins: int = 15) -> float:
    """sum_b (n_b / n) |mean label_b - mean score_b| over ``bins`` equal-width bins of the score (Guo et al. 2017);
    NaN for no records."""
    s, y = _arrays(scores, labels)
    if not len(s):
        return float("nan")
    index = np.minimum((np.clip(s, 0.0, 1.0) * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(y[members].mean() - s[members].mean())
    return float(error)


def record_giou(record: ObjectScore, tau: float) -> float:
    """One record's ActionVOS gIoU entry (a fraction in [0, 1]) when its mask is kept iff score >= ``tau``: not
    visible and not predicted = 1, predicted but not visible = 0, visible and active = I/U, visible and inactive =
    1 when left out (else 0). :func:`giou_at` is the mean of these, and the benchmark's statistics resample them."""
    kept = record.score >= tau
    predicted = record.pred_area if kept else 0
    intersection = record.intersection if kept else 0
    union = record.gt_area + predicted - intersection
    if union == 0:
        return 1.0  # neither visible nor predicted
    if record.gt_area == 0:
        return 0.0  # predicted but not visible
    if record.positive:
        return intersection / union
    return 1.0 if predicted == 0 else 0.0


def giou_at(records: Sequence[ObjectScore], tau: float) -> float:
    """ActionVOS gIoU (percent) of ``records`` when objects with score >= ``tau`` keep their gate-bypassed mask and
    the others predict nothing: 100 x the mean of :func:`record_giou`."""
    if not records:
        return float("nan")
    total = 0.0
    for r in records:
        total += record_giou(r, tau)
    return 100.0 * total / len(records)


def tau_star(records: Sequence[ObjectScore], candidates: Sequence[float] | None = None) -> tuple[float, float]:
    """The threshold (and its gIoU) that maximises :func:`giou_at` on ``records``; candidates default to 0.05 ..
    0.95 in steps of 0.05 plus ActionVOS's 0.75; ties go to the higher threshold (fewer objects claimed active)."""
    grid = sorted(set(candidates if candidates is not None else [*np.round(np.arange(0.05, 0.951, 0.05), 2), 0.75]))
    scored = [(giou_at(records, float(t)), float(t)) for t in grid]
    best_giou, best_tau = max(scored, key=lambda pair: (pair[0], pair[1]))
    return best_tau, best_giou
