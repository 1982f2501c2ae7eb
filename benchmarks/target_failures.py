"""Where a model's masks of active objects go wrong: per candidate object, the mask its query gets with the positive
gate bypassed, split by the object's role in the action and what it looks like.

For every (frame, candidate) of a split the model folder (or checkpoint) is asked, as ``actiseg-evaluate`` asks it,
about every annotated object with the sequence's narration; each query's own probability map (``object_probabilities``,
at the model's input resolution, thresholded at the contract's pixel threshold) is compared with the annotation
resized to that resolution (nearest). A query's mask is then:

- ``hit``: IoU with its own object >= 0.5;
- ``wrong_object``: more of its pixels on one other annotated object than on its own (a grounding error);
- ``empty``: fewer pixels than a tenth of its object's;
- otherwise ``poor``: on its object, but with IoU < 0.5 (a localisation / extent error).

Roles (ActiSeg-Sim v2 records): ``gripper`` (hand class), ``narrated`` (named in the narration: target or
destination), ``touched`` (active only because the hand works with it), ``inactive``; ``twin``: the hard negative's
pair (the narrated object whose twin of the same class stands inactive, and the twin itself).

Usage: ``python benchmarks/target_failures.py --model models/default --data data/actiseg_sim_v2 --split val
--out benchmarks/results/target_failures``.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from provenance import write_record  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)
from tqdm import tqdm

from actiseg_core.contract import PIXEL_THRESHOLD
from actiseg_core.data.split_info import load_split
from actiseg_core.evaluation.cli import load_segmenter
from actiseg_core.evaluation.split import split_stream
from training.data import resize_labels

OUTCOMES = ("hit", "poor", "wrong_object", "empty")
AREA_BUCKETS = ((0.0, 0.005), (0.005, 0.01), (0.01, 0.02), (0.02, 0.05), (0.05, 1.01))


def role(obj: Any, hand: bool) -> str:
    """``gripper``, ``narrated``, ``touched`` or ``inactive`` (see the module docstring)."""
    if hand:
        return "gripper"
    if not obj.positive:
        return "inactive"
    return "narrated" if obj.narration else "touched"


def outcome(own: np.ndarray, predicted: np.ndarray, labels: np.ndarray, index: int) -> tuple[str, float, int]:
    """The query's outcome (``OUTCOMES``), its IoU with its own object (both at the model's resolution) and the
    palette index of the other object most of its mask lies on (0 if none)."""
    own_area, pred_area = int(own.sum()), int(predicted.sum())
    intersection = int((own & predicted).sum())
    iou = intersection / max(own_area + pred_area - intersection, 1)
    on = np.bincount(labels[predicted], minlength=256)
    on[0] = on[index] = 0
    other = int(on.argmax()) if on.any() else 0
    if iou >= 0.5:
        return "hit", iou, other
    if pred_area < max(own_area, 1) / 10:
        return "empty", iou, other
    return ("wrong_object" if on[other] > intersection else "poor"), iou, other


def records(model: Path, data: Path, split: str) -> list[dict[str, Any]]:
    """One record per (frame, candidate object): role, twin flag, area share, camera kind, score, outcome, IoU."""
    segmenter = load_segmenter(model)
    segmenter.positive_threshold = 0.0
    dataset = load_split(data, split)
    rows: list[dict[str, Any]] = []
    narration = None
    for item in tqdm(split_stream(dataset), total=len(dataset.frames), desc=f"target failures {split}"):
        narration = item.narration or narration
        sequence = item.ref.sequence
        prediction = segmenter.predict(item.image, narration.text, list(narration.object_names))
        probabilities = prediction.object_probabilities
        labels = resize_labels(item.truth.labels, probabilities.shape[-2:])
        twin_name = sequence.extra.get("hard_negative")
        twin_class = next((obj.class_id for obj in sequence.objects.values() if obj.name == twin_name), None)
        for query, index in enumerate(item.truth.object_ids):
            obj = sequence.objects[index]
            own = labels == index
            kind, iou, other = outcome(own, probabilities[query] >= PIXEL_THRESHOLD, labels, index)
            rows.append({
                "sequence": sequence.folder, "frame": item.truth.frame, "name": obj.name,
                "role": role(obj, index in item.truth.hand_ids),
                "twin": twin_class is not None and (obj.name == twin_name
                                                    or obj.narration and obj.class_id == twin_class),
                "area": float(own.mean()), "camera": sequence.extra.get("camera", {}).get("kind", "?"),
                "score": float(prediction.positive_scores[query]), "outcome": kind, "iou": iou,
                "wrong_on": (role(sequence.objects[other], other in item.truth.hand_ids)
                             if kind == "wrong_object" else ""),
            })
    return rows


def summarise(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Per value of ``key``: count of visible objects, mean IoU, outcome shares, mean positive score."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["area"] > 0:
            groups[str(row[key])].append(row)
    table = {}
    for value, members in sorted(groups.items()):
        counts = {name: sum(row["outcome"] == name for row in members) for name in OUTCOMES}
        table[value] = {"objects": len(members), "mean_iou": float(np.mean([row["iou"] for row in members])),
                        **{name: counts[name] / len(members) for name in OUTCOMES},
                        "mean_score": float(np.mean([row["score"] for row in members]))}
    return table


def area_bucket(area: float) -> str:
    """The row's area bucket as a label (percent of the frame)."""
    for low, high in AREA_BUCKETS:
        if low <= area < high:
            return f"{100 * low:g}-{100 * min(high, 1.0):g}%"
    raise ValueError(f"area {area} outside [0, 1]")


def markdown(model: Path, split: str, tables: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [f"# Where `{model}`'s masks go wrong on `{split}`", "",
             "`python benchmarks/target_failures.py` (module docstring: the outcome and role definitions). Queries "
             "with the positive gate bypassed; visible objects only; IoU at the model's input resolution.", ""]
    for title, table in tables.items():
        lines += [f"## by {title}", "", "| " + title + " | objects | mean IoU | hit | poor | wrong object | empty "
                  "| mean positive score |", "|---|---|---|---|---|---|---|---|"]
        for value, row in table.items():
            lines.append(f"| {value} | {row['objects']} | {row['mean_iou']:.3f} | "
                         + " | ".join(f"{row[name]:.2f}" for name in OUTCOMES) + f" | {row['mean_score']:.3f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    rows = records(args.model, args.data, args.split)
    for row in rows:
        row["area_bucket"] = area_bucket(row["area"])
    active = [row for row in rows if row["role"] != "inactive"]
    targets = [row for row in active if row["role"] != "gripper"]
    tables = {"role": summarise(rows, "role"), "twin (narrated + touched)": summarise(targets, "twin"),
              "area (narrated + touched)": summarise(targets, "area_bucket"),
              "camera (narrated + touched)": summarise(targets, "camera"),
              "what a wrong mask lies on (narrated + touched)": summarise(
                  [row for row in targets if row["outcome"] == "wrong_object"], "wrong_on")}
    write_record(args.out, args.split, {"tables": tables, "rows": rows}, markdown(args.model, args.split, tables))


if __name__ == "__main__":
    main()
