"""Uncertainty of an ActiSeg-NL cell's gIoU, and of the difference between two methods, by a two-level bootstrap
(numpy only).

A benchmark cell's per-object records (:mod:`benchmarks.nl.objects`) vary at two levels: the training seed (a
cell per seed) and the evaluation sequence (frames of one sequence are strongly correlated, so the sequence, not
the frame or object, is the independent unit). :func:`hierarchical_bootstrap` resamples both: seeds with
replacement, then each drawn seed's sequences with replacement, and pools the records' gIoU entries
(:func:`actiseg_core.evaluation.calibration.record_giou`) over the draw as the ActionVOS gIoU pools them (a sum of
entries over a number of entries). For two methods the draws are paired by seed and sequence, so what is shared
(a hard sequence, a lucky seed) cancels out of the difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from actiseg_core.evaluation.calibration import ObjectScore, record_giou


def sequence_totals(records: list[dict[str, Any]], tau: float) -> dict[str, tuple[float, int]]:
    """Per sequence of ``records`` (:func:`benchmarks.nl.objects.object_scores` dicts): the sum of the records'
    :func:`record_giou` entries at threshold ``tau`` (fractions) and the number of records; the sufficient
    statistics of a sequence for the pooled gIoU."""
    totals: dict[str, tuple[float, int]] = {}
    for r in records:
        value = record_giou(ObjectScore.from_record(r), tau)
        total, count = totals.get(str(r["sequence"]), (0.0, 0))
        totals[str(r["sequence"])] = (total + value, count + 1)
    return totals


def _tau(tau: Mapping[int, float] | float, seed: int) -> float:
    """The threshold of ``seed``'s cell: ``tau[seed]`` for a per-seed mapping (a cell's own tau*), else ``tau``."""
    if isinstance(tau, Mapping):
        if seed not in tau:
            raise ValueError(f"no threshold for seed {seed}")
        return float(tau[seed])
    return float(tau)


def hierarchical_bootstrap(a: Mapping[int, list[dict[str, Any]]], b: Mapping[int, list[dict[str, Any]]] | None,
                           tau_a: Mapping[int, float] | float, tau_b: Mapping[int, float] | float | None = None,
                           resamples: int = 2000, seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """A seeds x sequences bootstrap interval of method ``a``'s gIoU (percent), or with ``b`` of the paired
    difference gIoU(a) - gIoU(b) (percentage points).

    ``a`` (and ``b``) map a training seed to that seed's cell records on one split, scored at ``tau_a`` (``tau_b``)
    : one threshold or one per seed. For a difference only the seeds in both and, per seed, the sequences in both
    are used, and a sequence's records must be the same objects in both (equal counts, else ValueError). Each of
    ``resamples`` replicates draws the seeds with replacement, then for every drawn seed as many of its sequences
    with replacement, and pools over the drawn (seed, sequence) pairs: sum of entries / number of entries (for a
    difference, a's pooled gIoU minus b's on the same draws). Returns ``estimate`` (on all data), ``low`` / ``high``
    (the percentile interval at ``level``), ``seeds``, ``sequences`` (the fewest of a seed) and ``resamples``.
    Deterministic for ``seed``.
    """
    if b is not None and tau_b is None:
        raise ValueError("a difference needs tau_b")
    totals_a = {s: sequence_totals(records, _tau(tau_a, s)) for s, records in a.items()}
    totals_b = None if b is None else {s: sequence_totals(records, _tau(tau_b, s)) for s, records in b.items()}
    return bootstrap_totals(totals_a, totals_b, resamples, seed, level)


def bootstrap_totals(a: Mapping[int, dict[str, tuple[float, int]]], b: Mapping[int, dict[str, tuple[float, int]]]
                     | None, resamples: int = 2000, seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """:func:`hierarchical_bootstrap` from per-seed :func:`sequence_totals` already computed, for callers that
    compare one cell with many others and would otherwise re-score its records for every pair."""
    seeds = sorted(a) if b is None else sorted(set(a) & set(b))
    if not seeds:
        raise ValueError("no training seed to resample")
    cells: list[tuple[np.ndarray, np.ndarray]] = []  # per seed: (entry sums of a [minus b], counts) per sequence
    for s in seeds:
        totals_a, totals_b = a[s], None if b is None else b[s]
        names = sorted(totals_a if totals_b is None else totals_a.keys() & totals_b.keys())
        if not names:
            raise ValueError(f"seed {s} has no sequence to resample")
        sums = np.array([totals_a[n][0] for n in names])
        counts = np.array([totals_a[n][1] for n in names], np.float64)
        if totals_b is not None:
            mismatched = [n for n in names if totals_b[n][1] != totals_a[n][1]]
            if mismatched:
                raise ValueError(f"seed {s}: a and b have different records in sequence(s) {mismatched}")
            sums = sums - np.array([totals_b[n][0] for n in names])
        cells.append((sums, counts))

    sizes = np.array([len(sums) for sums, _ in cells])
    width = int(sizes.max())
    sums, counts = np.zeros((len(seeds), width)), np.zeros((len(seeds), width))
    for i, (cell_sums, cell_counts) in enumerate(cells):
        sums[i, :sizes[i]], counts[i, :sizes[i]] = cell_sums, cell_counts
    estimate = 100.0 * sums.sum() / counts.sum()

    rng = np.random.default_rng(seed)
    drawn_seeds = rng.integers(0, len(seeds), size=(resamples, len(seeds)))  # (R, S)
    drawn_sizes = sizes[drawn_seeds][..., None]  # (R, S, 1): each drawn seed draws as many sequences as it has
    drawn_sequences = rng.integers(0, drawn_sizes, size=(resamples, len(seeds), width))  # (R, S, M)
    taken = np.arange(width) < drawn_sizes  # a seed with fewer sequences than the widest leaves the rest out
    rows = drawn_seeds[..., None]
    total = (sums[rows, drawn_sequences] * taken).sum(axis=(1, 2))
    number = (counts[rows, drawn_sequences] * taken).sum(axis=(1, 2))
    replicates = 100.0 * total / number
    low, high = np.percentile(replicates, [50.0 * (1.0 - level), 50.0 * (1.0 + level)])
    return {"estimate": float(estimate), "low": float(low), "high": float(high), "seeds": len(seeds),
            "sequences": int(sizes.min()), "resamples": resamples}
