"""Per-object records of a checkpoint on a split with the positive gate bypassed, and what they say about the
positive head (ranking, calibration, the gIoU at any threshold; :mod:`actiseg_core.evaluation.calibration`).

A record is one candidate object in one frame, as ``actiseg-evaluate`` asks about it (every annotated object of
the sequence, in palette order, with the sequence's narration): the positive head's score, the object's true
activity, and the pixel counts of its mask when every candidate keeps its mask (positive threshold 0), at the
annotation's resolution. ``actiseg-benchmark`` writes them to each cell's ``objects.json`` and their summary under
``positive_head`` in its ``result.json``; cells made before that have no ``positive_head``, and
:func:`positive_head_table` leaves them out.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from actiseg_core.contract import POSITIVE_THRESHOLD
from actiseg_core.data.classes import load_class_map
from actiseg_core.data.split_info import hand_names, load_split
from actiseg_core.evaluation.calibration import (
    ObjectScore,
    auroc,
    average_precision,
    expected_calibration_error,
    giou_at,
    tau_star,
)
from actiseg_core.evaluation.cli import load_segmenter
from actiseg_core.evaluation.frames import palette_labels
from actiseg_core.evaluation.split import split_stream
from actiseg_core.prompts import contradicts_narration

OBJECTS = "objects.json"  # the clean val split's records
HELD_OUT_OBJECTS = "held_out_objects.json"  # the noisy held-out training sequences' records (tau* is chosen there)
TEST_OBJECTS = "test_objects.json"
ECE_BINS = 15
GIOU_AT_THRESHOLD = f"giou_at_{POSITIVE_THRESHOLD}"  # "giou_at_0.75"
#: The summary's columns in the table: (key, header, number format); tau* and its gIoU are oracles.
TABLE_COLUMNS = (("auroc", "AUROC↑", ".3f"), ("ece", "ECE↓", ".3f"),
                 (GIOU_AT_THRESHOLD, f"gIoU@{POSITIVE_THRESHOLD}↑", ".1f"),
                 ("tau_star", "τ* (noisy held-out)", ".2f"), ("giou_at_tau_star", "gIoU@τ*↑", ".1f"),
                 ("tau_star_consistent", "τ*ₙ (narration-consistent)", ".2f"),
                 ("giou_at_tau_star_consistent", "gIoU@τ*ₙ↑", ".1f"),
                 ("tau_star_on_val", "oracle τ*", ".2f"), ("giou_at_tau_star_on_val", "oracle gIoU@τ*↑", ".1f"),
                 ("bypass_p-mIoU", "bypass p-mIoU↑", ".1f"))


def object_scores(checkpoint: Path, data: Path, split: str, device: str = "auto") -> list[dict[str, Any]]:
    """One JSON-ready record per (frame, candidate) of ``data``/``split``: ``sequence``, ``frame``,
    ``object_index`` (palette index), and the :class:`ObjectScore` fields ``score``, ``positive``, ``gt_area``,
    ``pred_area``, ``intersection``.

    The model is loaded as ``actiseg-evaluate`` loads it (:func:`load_segmenter`: the in-memory runtime of a
    checkpoint, ``auto`` = the CPU) and fed the same frames, candidates and narrations
    (:func:`split_stream`), but with its positive threshold at 0, so every candidate keeps its mask in the label map
    and a record holds the mask the object would get at any threshold (up to the overlap between objects, see
    :func:`record_summary`). No gate runs: only the masks and scores are wanted.
    """
    segmenter = load_segmenter(checkpoint, device=device)
    segmenter.positive_threshold = 0.0  # the postprocess graph takes it as an input: every candidate is "active"
    records: list[dict[str, Any]] = []
    narration = None
    for item in split_stream(load_split(data, split)):
        narration = item.narration or narration  # a sequence's narration arrives with its first frame
        truth = item.truth
        prediction = segmenter.predict(item.image, narration.text, list(narration.object_names))
        predicted = palette_labels(prediction.label_map, truth.object_ids, truth.labels.shape)
        for index, score in zip(truth.object_ids, prediction.positive_scores.tolist(), strict=True):
            truth_mask, predicted_mask = truth.labels == index, predicted == index
            records.append({"sequence": truth.sequence, "frame": truth.frame, "object_index": index,
                            "score": score, "positive": truth.positives[index],
                            "gt_area": int(truth_mask.sum()), "pred_area": int(predicted_mask.sum()),
                            "intersection": int((truth_mask & predicted_mask).sum())})
    return records


def narration_contradictions(data: Path, split: str) -> dict[tuple[str, int], bool]:
    """Whether each object's activity label in ``data``/``split`` disagrees with its sequence's narration
    (:func:`contradicts_narration`; hand-role classes exempt), keyed by (sequence, palette index) as the records of
    :func:`object_scores` are. Reads the split's annotations only, no image."""
    dataset = load_split(data, split)
    hands = hand_names(load_class_map(dataset.root, dataset.sequences))
    return {(sequence.folder, obj.index): contradicts_narration(sequence.narration, obj.name, obj.positive, hands)
            for sequence in dataset.sequences for obj in sequence.objects.values()}


def consistent_tau_star(records: list[dict[str, Any]], contradicted: dict[tuple[str, int], bool]) -> float:
    """tau* chosen on the records whose (noisy) activity label agrees with the narration.

    Text noise (Alg. 1 of paper 003) flips activity labels without touching the narration, so a threshold chosen on
    noisy held-out records is pulled by the flipped ones (a flipped active object the model rightly scores low
    rewards a lower tau*); leaving out the records the narration contradicts removes almost all of them and needs no
    clean label. NaN when no record is left."""
    kept = [r for r in records if not contradicted[(r["sequence"], r["object_index"])]]
    return tau_star(as_scores(kept))[0] if kept else math.nan


def as_scores(records: list[dict[str, Any]]) -> list[ObjectScore]:
    """The :class:`ObjectScore` of each JSON record of :func:`object_scores`."""
    return [ObjectScore.from_record(r) for r in records]


def record_summary(records: list[dict[str, Any]], tau: float | None = None,
                   tau_consistent: float | None = None) -> dict[str, Any]:
    """The positive head's quality on ``records`` (:func:`object_scores`); None where a figure is undefined.

    - ``auroc`` / ``ap``: ranking of active above inactive objects (fractions; None without both classes / without
      an active object); ``ece``: expected calibration error over 15 equal-width bins (fraction).
    - ``giou_at_0.75``: the ActionVOS gIoU (percent) at the contract's threshold. It equals the normal evaluation's
      gIoU up to the overlap between objects: there only the objects scoring >= 0.75 compete for a pixel, here
      every candidate does, so the mask of an object above 0.75 can lose pixels to one below it (never gain).
    - ``tau_star_on_val`` and ``giou_at_tau_star_on_val``: the threshold that maximises that gIoU and its gIoU,
      chosen on the very records it is scored on (the clean val split in the benchmark): an ORACLE upper bound of
      what a better threshold could give, not a usable threshold.
    - ``tau_star`` and ``giou_at_tau_star``: ``tau``, the threshold chosen on other records (the benchmark's noisy
      held-out training sequences), and the gIoU it gives here; absent without ``tau``.
    - ``tau_star_consistent`` and ``giou_at_tau_star_consistent``: the same for ``tau_consistent``, the threshold
      chosen on the held-out records the narration does not contradict (:func:`consistent_tau_star`).
    - ``bypass_p-mIoU``: mean IoU (percent) of the bypassed masks of the truly active visible objects: how good
      the masks are where the positive head is not in the way.
    """
    scores = as_scores(records)
    values, labels = [s.score for s in scores], [s.positive for s in scores]
    oracle, best = tau_star(scores) if scores else (math.nan, math.nan)
    ious = [s.intersection / (s.gt_area + s.pred_area - s.intersection) for s in scores if s.positive and s.gt_area]
    summary = {"objects": len(scores), "active": sum(labels), "auroc": auroc(values, labels),
               "ap": average_precision(values, labels),
               "ece": expected_calibration_error(values, labels, bins=ECE_BINS),
               GIOU_AT_THRESHOLD: giou_at(scores, POSITIVE_THRESHOLD), "tau_star_on_val": oracle,
               "giou_at_tau_star_on_val": best, "bypass_p-mIoU": 100.0 * statistics.fmean(ious) if ious else math.nan}
    if tau is not None:
        summary.update(tau_star=tau, giou_at_tau_star=giou_at(scores, tau))
    if tau_consistent is not None and not math.isnan(tau_consistent):
        summary.update(tau_star_consistent=tau_consistent, giou_at_tau_star_consistent=giou_at(scores, tau_consistent))
    return {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in summary.items()}


def positive_head_table(results: list[dict[str, Any]], split: str = "val") -> list[str]:
    """Markdown lines of a condition x method table of the cells' ``positive_head`` summaries (mean over seeds;
    rows in the order the cells first appear, i.e. the runner's protocol order); no lines when no cell has one
    (cells made before the summary existed are left out)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in results:
        if result.get("positive_head") is not None:
            groups.setdefault((result["condition"], result["method"]), []).append(result)
    if not groups:
        return []
    lines = [f"## Positive head (gate bypassed, clean {split} split)", "",
             "AUROC and ECE (15 bins) are fractions, gIoU and p-mIoU percent; mean over seeds. τ* (noisy held-out) "
             "is each cell's threshold, chosen on its held-out training sequences with their noisy labels; gIoU@τ* "
             f"is the {split} gIoU at it. The oracle τ* is chosen on the {split} split it is scored on: an upper "
             "bound, not a usable threshold. τ*ₙ is chosen on the held-out records whose noisy label agrees with "
             "the narration (no clean label needed). Bypass p-mIoU: the masks of the truly active visible objects "
             "with the positive gate bypassed.", "",
             "| Condition | Method | " + " | ".join(header for _, header, _ in TABLE_COLUMNS) + " | seeds |",
             "|---" * (len(TABLE_COLUMNS) + 3) + "|"]
    for (condition, method), members in groups.items():
        means = [(_mean([r["positive_head"].get(key) for r in members]), form) for key, _, form in TABLE_COLUMNS]
        cells = ["n/a" if mean is None else f"{mean:{form}}" for mean, form in means]
        seeds = ",".join(str(seed) for seed in sorted(r["seed"] for r in members))
        lines.append(f"| {condition} | {method} | " + " | ".join(cells) + f" | {seeds} |")
    return [*lines, ""]


def _mean(values: list[float | None]) -> float | None:
    """The mean of the defined values, None when there is none."""
    defined = [v for v in values if v is not None]
    return statistics.fmean(defined) if defined else None
