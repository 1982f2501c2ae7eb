"""The seeds x sequences bootstrap of a benchmark cell's gIoU and of a paired difference, on hand-built records."""

from __future__ import annotations

from typing import Any

import pytest

from actiseg_core.evaluation.calibration import ObjectScore, giou_at, record_giou
from benchmarks.nl.statistics import hierarchical_bootstrap, sequence_totals


def _record(sequence: str, gt: int, pred: int, inter: int, positive: bool = True, score: float = 0.9,
            frame: int = 0) -> dict[str, Any]:
    return {"sequence": sequence, "frame": frame, "object_index": 1, "score": score, "positive": positive,
            "gt_area": gt, "pred_area": pred, "intersection": inter}


def _full(sequence: str) -> dict[str, Any]:
    return _record(sequence, 4, 4, 4)  # active, perfect mask: entry 1


def _miss(sequence: str) -> dict[str, Any]:
    return _record(sequence, 4, 4, 0)  # active, mask off the object: entry 0


def _cell() -> list[dict[str, Any]]:
    return [_record("s1", 3, 3, 2), _record("s1", 0, 0, 0, positive=False),  # 2/4 and not visible: 1
            _record("s2", 3, 3, 3), _record("s2", 3, 3, 3, score=0.2)]  # 1, and 0 unless tau <= 0.2 (then 1)


def test_record_giou_is_the_entry_giou_at_averages() -> None:
    records = [ObjectScore(0.9, True, 3, 3, 2), ObjectScore(0.9, False, 0, 5, 0), ObjectScore(0.1, False, 5, 5, 5)]
    assert [record_giou(r, 0.5) for r in records] == [0.5, 0.0, 1.0]
    assert giou_at(records, 0.5) == pytest.approx(100 * 1.5 / 3)


def test_sequence_totals_and_point_estimates_by_hand() -> None:
    assert sequence_totals(_cell(), 0.5) == {"s1": (1.5, 2), "s2": (1.0, 2)}
    assert sequence_totals(_cell(), 0.1) == {"s1": (1.5, 2), "s2": (2.0, 2)}
    # seed 0 at its tau* 0.5, seed 1 at 0.1: (1.5 + 1.0 + 1.5 + 2.0) / 8
    result = hierarchical_bootstrap({0: _cell(), 1: _cell()}, None, {0: 0.5, 1: 0.1}, resamples=200)
    assert result["estimate"] == pytest.approx(75.0)
    assert result["low"] <= 75.0 <= result["high"]
    assert (result["seeds"], result["sequences"], result["resamples"]) == (2, 2, 200)
    assert hierarchical_bootstrap({0: _cell()}, None, 0.5, resamples=10)["estimate"] == pytest.approx(62.5)


def _varied_cell(sequences: int = 20) -> list[dict[str, Any]]:
    """Sequence i: one perfect active object and i % 3 objects neither visible nor predicted."""
    records = []
    for i in range(sequences):
        records.append(_full(f"q{i}"))
        records += [_record(f"q{i}", 0, 0, 0, positive=False, frame=f) for f in range(i % 3)]
    return records


def test_a_method_against_itself_differs_by_exactly_zero() -> None:
    cells = {s: _varied_cell() for s in range(3)}
    result = hierarchical_bootstrap(cells, cells, 0.5, 0.5)
    assert result["estimate"] == 0.0 and result["low"] == 0.0 and result["high"] == 0.0


def test_a_constant_shift_is_detected_and_estimated() -> None:
    a = {s: _varied_cell() for s in range(3)}
    # b: every active object's intersection lowered from 4 to 2, its entry from 1 to 2/6
    b = {s: [dict(r, intersection=2) if r["positive"] else r for r in records] for s, records in a.items()}
    counts = sum(1 + i % 3 for i in range(20))
    expected = 100 * (20 * (1 - 1 / 3)) / counts
    result = hierarchical_bootstrap(a, b, 0.5, 0.5)
    assert result["estimate"] == pytest.approx(expected)
    assert 0.0 < result["low"] <= expected <= result["high"]
    assert result["high"] > result["low"]


def test_one_seed_reflects_sequence_variation_only() -> None:
    differing = [r for i in range(20) for r in [_full(f"q{i}")] + [_miss(f"q{i}")] * (i % 3)]  # 1, 1/2, 1/3
    varied = hierarchical_bootstrap({7: differing}, None, 0.5)
    assert varied["seeds"] == 1 and varied["high"] - varied["low"] > 0
    same = [r for i in range(20) for r in (_full(f"q{i}"), _miss(f"q{i}"))]  # every sequence at 1/2
    flat = hierarchical_bootstrap({7: same}, None, 0.5)
    assert flat["estimate"] == flat["low"] == flat["high"] == 50.0


def test_pairing_uses_shared_seeds_and_sequences_and_checks_the_objects() -> None:
    a = {0: _cell(), 1: _cell()}
    b = {0: [r for r in _cell() if r["sequence"] == "s1"], 5: _cell()}  # shared: seed 0, sequence s1
    result = hierarchical_bootstrap(a, b, 0.5, 0.5, resamples=50)
    assert (result["seeds"], result["sequences"], result["estimate"]) == (1, 1, 0.0)
    fewer = {0: _cell()[1:]}  # sequence s1 lost an object
    with pytest.raises(ValueError, match="different records"):
        hierarchical_bootstrap({0: _cell()}, fewer, 0.5, 0.5)


def test_the_interval_is_deterministic_for_a_seed() -> None:
    cells = {s: _varied_cell() for s in range(3)}
    assert hierarchical_bootstrap(cells, None, 0.5, seed=3) == hierarchical_bootstrap(cells, None, 0.5, seed=3)


def test_the_seed_level_is_resampled() -> None:
    mixed = [r for i in range(30) for r in ([_full(f"q{i}")] if i % 2 else [_miss(f"q{i}")])]  # half 1, half 0
    agreeing = hierarchical_bootstrap({0: mixed, 1: mixed}, None, 0.5)
    # seed 0 gets every object, seed 1 none: no variation within a seed, all of it between seeds
    disagreeing = hierarchical_bootstrap({0: [_full(f"q{i}") for i in range(30)],
                                          1: [_miss(f"q{i}") for i in range(30)]}, None, 0.5)
    assert agreeing["estimate"] == disagreeing["estimate"] == 50.0
    assert disagreeing["high"] - disagreeing["low"] > 2 * (agreeing["high"] - agreeing["low"]) > 0
