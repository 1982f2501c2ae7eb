"""Fit the GO / NO-GO thresholds on one split, report NO-GO precision / recall on another (DESIGN §8).

    python benchmarks/gate_fit.py --model models/default_int8 --data data/actiseg_sim \
        --fit-split val --report-split test

A frame is a *true failure* when its p-IoU, the mean IoU of predicted and true masks over the objects that are
active in it (at the annotation's resolution), is below 0.5. Each frame goes through the runtime
(onnxruntime) and the gate's feature measurement once; the fit is then a greedy walk over thresholds: starting
with every check off, each step tightens the one check whose next threshold catches the most new failures per new
false alarm. The walk traces the precision / recall trade-off; the chosen point is the one with
the highest recall (at least ``--target-recall``) whose precision stays >= ``--min-precision`` on the fit split.
The report split is never seen by the fit.

Writes ``gate_fit.json`` (thresholds, both splits' precision / recall, the whole walk, per-frame features),
``gate_fit.md`` and ``gate_fit.png`` to ``--out``. ``GateConfig``'s defaults are the fitted thresholds (a test
keeps them in step with ``gate_fit.json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from provenance import machine  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)
from tqdm import tqdm  # noqa: E402

from actiseg_core.data.layout import ObjectInfo  # noqa: E402
from actiseg_core.data.loader import ActionVOSDataset  # noqa: E402
from actiseg_core.gating import Gate, GateConfig, mask_iou  # noqa: E402
from actiseg_core.runtime import Prediction, Segmenter  # noqa: E402

RESULTS = Path(__file__).parent / "results"
FAILURE_IOU = 0.5
#: feature -> (GateConfig field, direction): "min" fails below the threshold, "max" fails above it
CHECKS = {
    "mask_confidence": ("min_mask_confidence", "min"),
    "positive_score": ("min_positive_score", "min"),
    "inactive_score": ("max_inactive_score", "max"),
    "area_fraction": ("min_area_fraction", "min"),
    "area_fraction_max": ("max_area_fraction", "max"),
    "fragment_mass": ("max_fragment_mass", "max"),
    "leakage": ("max_leakage", "max"),
    "overlap": ("max_overlap", "max"),
    "boundary_uncertainty": ("max_boundary_uncertainty", "max"),
}
#: Not fitted: annotated frames are sparse (far apart in time), so their mask IoU says nothing about jitter in a
#: 30 Hz stream, and offline data has no narration or image age. Those checks keep GateConfig's defaults.


def measure_split(segmenter: Segmenter, data: Path, split: str) -> list[dict[str, object]]:
    """Per frame: sequence, frame, true active-mask IoU and the gate's features (all checks off)."""
    dataset = ActionVOSDataset(data, split)
    gate = Gate(GateConfig(), segmenter.positive_threshold.item())
    records = []
    previous_sequence = None
    for ref in tqdm(dataset.frames, desc=f"gate features {split}", unit="frame"):
        if ref.sequence is not previous_sequence:
            gate.reset()
            previous_sequence = ref.sequence
        objects = [obj for _, obj in sorted(ref.sequence.objects.items())]
        prediction = segmenter.predict(dataset.load_image(ref), ref.sequence.narration, [o.name for o in objects])
        labels = dataset.load_labels(ref)
        decision = gate.decide(prediction.object_probabilities, prediction.positive_scores, ref.sequence.narration)
        records.append({"sequence": ref.sequence.folder, "frame": ref.frame,
                        "true_iou": frame_p_iou(prediction, labels, objects), **dataclasses.asdict(decision.features)})
    return records


def frame_p_iou(prediction: Prediction, labels: np.ndarray, objects: list[ObjectInfo]) -> float:
    """Mean over the frame's positive (active) objects of the IoU of the predicted and true object masks.

    The per-frame form of p-mIoU (DESIGN §4): a frame whose gripper is right but whose target is missed fails.
    NaN when the frame has no positive object (such frames are not failures).
    """
    ious = [mask_iou(prediction.object_mask(k), labels == obj.index) for k, obj in enumerate(objects) if obj.positive]
    return float(np.mean(ious)) if ious else math.nan


def feature_column(records: list[dict[str, object]], name: str) -> np.ndarray:
    key = "area_fraction" if name == "area_fraction_max" else name
    return np.array([float(r[key]) for r in records], np.float64)


def flags(records: list[dict[str, object]], thresholds: dict[str, float]) -> np.ndarray:
    """Which frames at least one check (at ``thresholds``) sends to NO-GO; NaN features never fail."""
    flagged = np.zeros(len(records), bool)
    for name, threshold in thresholds.items():
        values = feature_column(records, name)
        direction = CHECKS[name][1]
        with np.errstate(invalid="ignore"):
            flagged |= (values < threshold) if direction == "min" else (values > threshold)
    return flagged


def precision_recall(flagged: np.ndarray, failures: np.ndarray) -> tuple[float, float]:
    true_positives = int((flagged & failures).sum())
    precision = true_positives / flagged.sum() if flagged.any() else 1.0
    recall = true_positives / failures.sum() if failures.any() else 1.0
    return float(precision), float(recall)


def greedy_walk(records: list[dict[str, object]], failures: np.ndarray) -> list[dict[str, float]]:
    """Threshold sets from all-off to all-failures-caught, each step the best new-failures-per-false-alarm move."""
    thresholds = {name: (-math.inf if direction == "min" else math.inf) for name, (_, direction) in CHECKS.items()}
    walk = [dict(thresholds)]
    flagged = flags(records, thresholds)
    while not (flagged | ~failures).all():
        best = None
        for name, (_, direction) in CHECKS.items():
            for candidate in _next_thresholds(feature_column(records, name), direction, flagged, failures):
                trial = flags(records, {**thresholds, name: candidate})
                gained = int((trial & failures & ~flagged).sum())
                alarms = int((trial & ~failures & ~flagged).sum())
                score = (gained / (alarms + 1), gained)
                if gained and (best is None or score > best[0]):
                    best = (score, name, candidate)
        if best is None:
            break
        thresholds[best[1]] = best[2]
        flagged = flags(records, thresholds)
        walk.append(dict(thresholds))
    return walk


def _next_thresholds(values: np.ndarray, direction: str, flagged: np.ndarray, failures: np.ndarray) -> list[float]:
    """Thresholds that just catch each not-yet-flagged failure: midway to the next value on the safe side."""
    finite = np.sort(np.unique(values[np.isfinite(values)]))
    candidates = []
    for value in values[failures & ~flagged & np.isfinite(values)]:
        position = np.searchsorted(finite, value)
        if direction == "min":
            above = finite[position + 1] if position + 1 < len(finite) else value + 1e-3
            candidates.append(float((value + above) / 2))
        else:
            below = finite[position - 1] if position > 0 else value - 1e-3
            candidates.append(float((value + below) / 2))
    return sorted(set(candidates))


def choose(walk: list[dict[str, float]], records: list[dict[str, object]], failures: np.ndarray,
           target_recall: float, min_precision: float) -> int:
    """The walk step with the highest recall whose precision is still >= ``min_precision`` (safety first: a missed
    failure can crash the arm, a false NO-GO costs a frame); if none reaches ``target_recall`` that way, the most
    precise step that does; failing both, the highest-recall step."""
    scores = [precision_recall(flags(records, t), failures) for t in walk]
    safe = [i for i, (precision, recall) in enumerate(scores) if recall >= target_recall and precision >= min_precision]
    if safe:
        return max(safe, key=lambda i: (scores[i][1], scores[i][0], -i))
    eligible = [i for i, (_, recall) in enumerate(scores) if recall >= target_recall]
    if eligible:
        return max(eligible, key=lambda i: (scores[i][0], -i))
    return max(range(len(walk)), key=lambda i: (scores[i][1], scores[i][0]))


def config_fields(thresholds: dict[str, float]) -> dict[str, float]:
    """Walk thresholds as GateConfig fields; a check left off gets the neutral bound (every feature is in 0..1)."""
    fields = {}
    for name, value in thresholds.items():
        field_name, direction = CHECKS[name]
        fields[field_name] = round(value, 4) if math.isfinite(value) else (0.0 if direction == "min" else 1.0)
    return fields


def plot(walk: list[dict[str, float]], splits: dict[str, tuple[list, np.ndarray]], chosen: int, path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (split, (records, failures)), colour in zip(splits.items(), ("tab:blue", "tab:orange"), strict=False):
        curve = np.array([precision_recall(flags(records, t), failures) for t in walk])
        axes[0].plot(curve[:, 1], curve[:, 0], marker=".", color=colour, label=f"{split} ({failures.sum()} failures "
                                                                               f"/ {len(records)} frames)")
        axes[0].scatter(curve[chosen, 1], curve[chosen, 0], s=120, facecolors="none", edgecolors=colour)
        go = ~flags(records, walk[chosen])
        ious = np.array([r["true_iou"] for r in records])
        confidence = feature_column(records, "mask_confidence")
        axes[1].scatter(confidence[go], ious[go], s=10, color=colour, marker="o", label=f"{split} GO")
        axes[1].scatter(confidence[~go], ious[~go], s=14, color=colour, marker="x", label=f"{split} NO-GO")
    axes[0].axvline(0.9, color="grey", linestyle=":", linewidth=1)
    axes[0].axhline(0.6, color="grey", linestyle=":", linewidth=1)
    axes[0].set(xlabel="NO-GO recall of true failures (p-IoU < 0.5)", ylabel="NO-GO precision", xlim=(0, 1.02),
                ylim=(0, 1.02), title="Gate trade-off along the fitted threshold walk (circle: chosen)")
    axes[0].legend(fontsize=8, loc="lower left")
    axes[1].axhline(FAILURE_IOU, color="grey", linestyle=":", linewidth=1)
    axes[1].set(xlabel="mask confidence (p-side)", ylabel="true frame p-IoU", title="Frames at the chosen point")
    axes[1].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default_int8"),
                        help="model folder (default: the node's CPU default, the int8 copy of the default model)")
    parser.add_argument("--data", type=Path, default=Path("data/actiseg_sim"))
    parser.add_argument("--fit-split", default="val")
    parser.add_argument("--report-split", default="test")
    parser.add_argument("--target-recall", type=float, default=0.9)
    parser.add_argument("--min-precision", type=float, default=0.6)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    started = time.perf_counter()
    segmenter = Segmenter.load(args.model)
    measured = {split: measure_split(segmenter, args.data, split) for split in (args.fit_split, args.report_split)}
    splits = {split: (records, np.array([r["true_iou"] < FAILURE_IOU for r in records]))
              for split, records in measured.items()}
    fit_records, fit_failures = splits[args.fit_split]
    walk = greedy_walk(fit_records, fit_failures)
    chosen = choose(walk, fit_records, fit_failures, args.target_recall, args.min_precision)
    thresholds = walk[chosen]
    results = {}
    for split, (records, failures) in splits.items():
        flagged = flags(records, thresholds)
        precision, recall = precision_recall(flagged, failures)
        results[split] = {"frames": len(records), "true_failures": int(failures.sum()), "no_go": int(flagged.sum()),
                          "precision": round(precision, 4), "recall": round(recall, 4)}
    report = {
        "model": str(args.model), "data": args.data.name, "failure": f"frame p-IoU < {FAILURE_IOU}",
        "fit_split": args.fit_split, "report_split": args.report_split, "target_recall": args.target_recall,
        "min_precision": args.min_precision,
        "gate_config": config_fields(thresholds), "results": results,
        "walk": [{"thresholds": config_fields(t), **dict(zip(("precision", "recall"), precision_recall(
            flags(fit_records, t), fit_failures), strict=True))} for t in walk],
        "chosen_step": chosen, "frames": measured, "machine": machine(),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gate_fit.json").write_text(json.dumps(report, indent=1))
    plot(walk, splits, chosen, args.out / "gate_fit.png")
    (args.out / "gate_fit.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict[str, object]) -> str:
    lines = [f"# GO / NO-GO gate fitted on ActiSeg-Sim {report['fit_split']}, reported on {report['report_split']}",
             "", f"Model `{report['model']}`; true failure = {report['failure']}; thresholds chosen on "
             f"{report['fit_split']} "
             f"for the highest NO-GO recall (>= {report['target_recall']}) at precision >= {report['min_precision']} "
             f"(`benchmarks/gate_fit.py`, commit {report['machine']['commit']}).", "",
             "| split | frames | true failures | NO-GO | NO-GO precision | NO-GO recall |", "|---|---|---|---|---|---|"]
    for split, r in report["results"].items():
        role = "fit" if split == report["fit_split"] else "held out"
        lines.append(f"| {split} ({role}) | {r['frames']} | {r['true_failures']} | {r['no_go']} | "
                     f"{r['precision']:.3f} | {r['recall']:.3f} |")
    lines += ["", "Fitted thresholds (`GateConfig` defaults):", "", "| threshold | value |", "|---|---|"]
    lines += [f"| `{name}` | {value} |" for name, value in report["gate_config"].items()]
    lines += ["", "![trade-off](gate_fit.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
