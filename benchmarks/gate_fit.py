"""Fit the GO / NO-GO thresholds of a model folder on one split, report the gate's figures on another (DESIGN §8).

    python benchmarks/gate_fit.py --model models/default_int8 --data data/actiseg_sim \
        --fit-split val --report-split test [--report-split ...] [--write-model]

Every frame goes once through the evaluator (:mod:`actiseg_core.evaluation`: the runtime and the gate as the node
runs them, with the folder's current gate), which gives its p-IoU, whether it fails (the evaluator's one
definition: p-IoU < 0.5; frames without an active object count in no figure) and the gate's features. The fit is
then a greedy walk over the thresholds of :data:`CHECKS`: starting with every check off, each step tightens the
one check whose next threshold catches the most new failures per new false alarm (a good frame sent to NO-GO).
Frames the gate stops whatever these thresholds are (no active object, a check that is not fitted) stay NO-GO
throughout. The walk traces the precision / recall trade-off; the chosen point is the one with the highest recall
(at least ``--target-recall``) whose precision stays >= ``--min-precision`` on the fit split. The report split is
never seen by the fit. The input check that depends on the camera and scene, the sharpness floor, is set from the
fit split's distribution instead (half its 1st percentile: no frame like the fit split's is refused, a heavily
blurred one is), and so is the distribution-shift cap when the folder has a feature density and ``--ood-quantile Q``
is given (``max_ood_score`` = the fit split's Q-quantile of ``ood_score``); both are set before the walk, so the
walk and the choice see the frames they refuse. Every split's figures at the chosen point (unsafe-GO rate, GO
availability, NO-GO precision and recall, with counts) are the gate's own decisions
(:func:`actiseg_core.gating.failed_checks`) on the measured features.

Writes ``NAME.json`` (thresholds, every split's figures, the whole walk, per-frame features), ``NAME.md`` and
``NAME.png`` to ``--out`` (``--name``, default ``gate_fit``); ``--write-model [DIR]`` also stores the chosen gate,
with how it was fitted, in the model folder's contract (DIR, default: the ``--model`` folder), where the node, the
replay and the evaluator read it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from provenance import machine, write_record  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)

from actiseg_core.contract import write_gate  # noqa: E402
from actiseg_core.data.split_info import load_split, split_hash  # noqa: E402
from actiseg_core.evaluation import (  # noqa: E402
    FrameScore,
    GateFigures,
    Rate,
    failing,
    failure_definition,
    score_split,
)
from actiseg_core.gating import GateConfig, failed_checks  # noqa: E402
from actiseg_core.runtime import Segmenter  # noqa: E402

RESULTS = Path(__file__).parent / "results"
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
#: GateConfig fields set from the fit split's distribution before the walk (see the module doc), stored like the
#: walk's thresholds
CAPS = ("min_sharpness", "max_ood_score", "min_name_familiarity")
#: the sharpness floor: this share of the fit split's SHARPNESS_PERCENTILE-th percentile
SHARPNESS_FLOOR = 0.5
SHARPNESS_PERCENTILE = 1.0
#: Not fitted: annotated frames are sparse (far apart in time), so their mask IoU says nothing about jitter in a
#: 30 Hz stream, and offline data has no narration or image age. Those checks keep the folder's values.


@dataclasses.dataclass
class Split:
    """One split's measured frames: scores (p-IoU, features) and which frames the gate stops in any case."""

    name: str
    data_hash: str
    frames: list[FrameScore]
    fixed_no_go: np.ndarray  # [N] bool: NO-GO whatever the fitted thresholds (fault, no active object, unfitted)

    @property
    def p_iou(self) -> np.ndarray:
        return np.array([frame.p_iou for frame in self.frames], np.float64)

    @property
    def sequences(self) -> list[str]:
        return [frame.sequence for frame in self.frames]

    def column(self, name: str) -> np.ndarray:
        key = "area_fraction" if name == "area_fraction_max" else name
        return np.array([math.nan if f.features is None else getattr(f.features, key) for f in self.frames])


def neutral(config: GateConfig) -> GateConfig:
    """``config`` with every fitted check off."""
    return dataclasses.replace(config, **config_fields({name: _off(direction) for name, (_, direction) in
                                                       CHECKS.items()}))


def measure_split(segmenter: Segmenter, data: Path, split: str, base: GateConfig) -> Split:
    """Every frame of ``split`` through the evaluator with the gate ``base``."""
    dataset = load_split(data, split)
    _, scorer = score_split(segmenter, dataset, base, progress=True, desc="gate features")
    off = neutral(base)
    fixed = np.array([f.features is None or bool(failed_checks(f.features, off)) for f in scorer.frames], bool)
    return Split(split, split_hash(dataset), scorer.frames, fixed)


def flags(split: Split, thresholds: dict[str, float]) -> np.ndarray:
    """Which frames the gate sends to NO-GO at ``thresholds`` (the fitted checks; NaN features never fail)."""
    flagged = split.fixed_no_go.copy()
    for name, threshold in thresholds.items():
        values = split.column(name)
        with np.errstate(invalid="ignore"):
            flagged |= (values < threshold) if CHECKS[name][1] == "min" else (values > threshold)
    return flagged


def figures_at(split: Split, thresholds: dict[str, float]) -> GateFigures:
    return GateFigures.from_arrays(~flags(split, thresholds), split.p_iou, split.sequences)


def precision_recall(figures: GateFigures) -> tuple[float, float]:
    """NO-GO precision and recall (1.0 where there is nothing to take a rate of: no NO-GO, no failure)."""
    precision, recall = figures.no_go_precision.value, figures.no_go_recall.value
    return (1.0 if precision is None else precision), (1.0 if recall is None else recall)


def greedy_walk(split: Split) -> list[dict[str, float]]:
    """Threshold sets from all-off to all-failures-caught, each step the best new-failures-per-false-alarm move."""
    failures = failing(split.p_iou)
    good = ~np.isnan(split.p_iou) & ~failures
    thresholds = {name: _off(direction) for name, (_, direction) in CHECKS.items()}
    walk = [dict(thresholds)]
    flagged = flags(split, thresholds)
    while (failures & ~flagged).any():
        best = None
        for name, (_, direction) in CHECKS.items():
            for candidate in _next_thresholds(split.column(name), direction, flagged, failures):
                trial = flags(split, {**thresholds, name: candidate})
                gained = int((trial & failures & ~flagged).sum())
                alarms = int((trial & good & ~flagged).sum())
                score = (gained / (alarms + 1), gained)
                if gained and (best is None or score > best[0]):
                    best = (score, name, candidate)
        if best is None:
            break
        thresholds[best[1]] = best[2]
        flagged = flags(split, thresholds)
        walk.append(dict(thresholds))
    return walk


def _off(direction: str) -> float:
    return -math.inf if direction == "min" else math.inf


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


def promised_rate(figures: GateFigures, bound_unit: str) -> Rate:
    """The unsafe-GO rate a ``--max-unsafe-go-bound`` promise is about: by frame, or by clip."""
    rate = figures.unsafe_go_clips if bound_unit == "clip" else figures.unsafe_go
    if rate is None:
        raise ValueError("a clip-level bound needs each frame's clip")
    return rate


def choose(walk: list[dict[str, float]], split: Split, target_recall: float, min_precision: float,
           max_unsafe_bound: float | None = None, bound_unit: str = "frame") -> int:
    """The walk step with the highest recall whose precision is still >= ``min_precision`` (safety first: a missed
    failure can crash the arm, a false NO-GO costs a frame); if none reaches ``target_recall`` that way, the most
    precise step that does; failing both, the highest-recall step.

    With ``max_unsafe_bound``: instead, the most available step whose one-sided 95% Clopper-Pearson upper bound on
    the unsafe-GO rate is <= it (a finite-sample promise on the fit split), else the step with the lowest bound. A
    step that says GO on no frame of the fit split makes no unsafe GO there (bound 0): it is the choice when no
    step that does say GO keeps the promise. ``bound_unit`` "clip" bounds the unsafe-GO clip rate instead
    (clips, not frames, as the independent draws: :mod:`actiseg_core.evaluation.figures`)."""
    if max_unsafe_bound is not None:
        figures = [figures_at(split, t) for t in walk]
        rates = [promised_rate(f, bound_unit) for f in figures]
        bounds = [rate.upper_bound() if rate.of else 0.0 for rate in rates]
        promised = [i for i, bound in enumerate(bounds) if bound <= max_unsafe_bound]
        if promised:
            return max(promised, key=lambda i: (figures[i].availability.value or 0.0, -bounds[i], -i))
        return min(range(len(walk)), key=lambda i: (bounds[i], i))
    scores = [precision_recall(figures_at(split, t)) for t in walk]
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


def gate_verdicts(split: Split, config: GateConfig) -> np.ndarray:
    """The gate's own verdicts (``failed_checks`` at ``config``) on the split's measured frames (True = GO)."""
    return np.array([f.features is not None and not failed_checks(f.features, config) for f in split.frames], bool)


def gate_figures(split: Split, config: GateConfig) -> GateFigures:
    return GateFigures.from_arrays(gate_verdicts(split, config), split.p_iou, split.sequences)


def stored_thresholds(config: GateConfig) -> dict[str, float]:
    """What the model folder keeps: every fitted field, and any other field that is not GateConfig's default."""
    defaults = GateConfig()
    fitted = {field for field, _ in CHECKS.values()} | set(CAPS)
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(GateConfig)
            if f.name in fitted or getattr(config, f.name) != getattr(defaults, f.name)}


def plot(walk: list[dict[str, float]], splits: list[Split], chosen: int, config: GateConfig, path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for split, colour in zip(splits, plt.get_cmap("tab10").colors, strict=False):
        curve = np.array([precision_recall(figures_at(split, t)) for t in walk])
        at_chosen = gate_figures(split, config)
        axes[0].plot(curve[:, 1], curve[:, 0], marker=".", color=colour,
                     label=f"{split.name} ({at_chosen.failures} failures / {len(split.frames)} frames; "
                           f"unsafe-GO {at_chosen.unsafe_go})")
        axes[0].scatter(curve[chosen, 1], curve[chosen, 0], s=120, facecolors="none", edgecolors=colour)
        go = gate_verdicts(split, config)
        confidence = split.column("mask_confidence")
        axes[1].scatter(confidence[go], split.p_iou[go], s=10, color=colour, marker="o", label=f"{split.name} GO")
        axes[1].scatter(confidence[~go], split.p_iou[~go], s=14, color=colour, marker="x",
                        label=f"{split.name} NO-GO")
    axes[0].set(xlabel=f"NO-GO recall of true failures ({failure_definition()})", ylabel="NO-GO precision",
                xlim=(0, 1.02), ylim=(0, 1.02), title="Gate trade-off along the fitted threshold walk (circle: chosen)")
    axes[0].legend(fontsize=7, loc="lower left")
    axes[1].axhline(0.5, color="grey", linestyle=":", linewidth=1)
    axes[1].set(xlabel="mask confidence (p-side)", ylabel="true frame p-IoU", title="Frames at the chosen point")
    axes[1].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def fit(segmenter: Segmenter, data: Path, fit_split: str, report_splits: list[str], target_recall: float,
        min_precision: float, max_unsafe_bound: float | None = None, ood_quantile: float | None = None,
        min_familiarity: float = 0.0, bound_unit: str = "frame"
        ) -> tuple[dict[str, Any], list[Split], list[dict[str, float]], GateConfig]:
    """Measure the splits, walk and choose on the fit split; returns the report, the splits, the walk and the
    chosen gate."""
    base = segmenter.contract.gate_config()
    splits = [measure_split(segmenter, data, name, base) for name in dict.fromkeys((fit_split, *report_splits))]
    caps = {"min_sharpness": sharpness_floor(splits[0]),
            "max_ood_score": 1.0 if ood_quantile is None else ood_cap(splits[0], ood_quantile),
            "min_name_familiarity": min_familiarity}
    base = dataclasses.replace(base, **caps)
    for split in splits:  # the caps' refusals are fixed before the walk
        split.fixed_no_go = np.array([f.features is None or bool(failed_checks(f.features, neutral(base)))
                                      for f in split.frames], bool)
    walk = greedy_walk(splits[0])
    chosen = choose(walk, splits[0], target_recall, min_precision, max_unsafe_bound, bound_unit)
    config = dataclasses.replace(base, **config_fields(walk[chosen]))
    figures = {split.name: gate_figures(split, config) for split in splits}
    results = {split.name: {"frames": len(split.frames), "data_hash": split.data_hash,
                            **figures[split.name].as_json()} for split in splits}
    promised = promised_rate(figures[fit_split], bound_unit)
    report = {
        "data": data.name, "failure": failure_definition(), "fit_split": fit_split, "report_splits": report_splits,
        "target_recall": target_recall, "min_precision": min_precision, "max_unsafe_go_bound": max_unsafe_bound,
        "bound_unit": bound_unit, "ood_quantile": ood_quantile, "gate_config": {**config_fields(walk[chosen]), **caps},
        "results": results,
        "walk": [{"thresholds": config_fields(t), **dict(zip(("precision", "recall"), precision_recall(
            figures_at(splits[0], t)), strict=True))} for t in walk],
        "chosen_step": chosen,
        "promise_met": None if max_unsafe_bound is None else bool(
            not promised.of or round(promised.upper_bound(), 4) <= max_unsafe_bound),  # as upper95 is recorded
        "frames": {split.name: [_frame_record(frame, go) for frame, go in zip(
            split.frames, gate_verdicts(split, config), strict=True)] for split in splits},
    }
    return report, splits, walk, config


def ood_cap(split: Split, quantile: float) -> float:
    """The split's ``quantile`` of ``ood_score`` (1.0, never firing, when the folder has no feature density)."""
    values = split.column("ood_score")
    values = values[np.isfinite(values)]
    return round(float(np.quantile(values, quantile)), 4) if values.size else 1.0


def sharpness_floor(split: Split) -> float:
    """:data:`SHARPNESS_FLOOR` x the split's :data:`SHARPNESS_PERCENTILE`-th percentile of frame sharpness."""
    values = split.column("sharpness")
    values = values[np.isfinite(values)]
    return round(SHARPNESS_FLOOR * float(np.percentile(values, SHARPNESS_PERCENTILE)), 4) if values.size else 0.0


def _frame_record(frame: FrameScore, go: bool) -> dict[str, Any]:
    record = frame.as_json()
    return {"sequence": frame.sequence, "frame": frame.frame, "p_iou": record["p_iou"], "failure": frame.failure,
            "go": bool(go), **record.get("features", {})}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default_int8"),
                        help="model folder (default: the node's CPU default, the int8 copy of the default model)")
    parser.add_argument("--data", type=Path, default=Path("data/actiseg_sim"))
    parser.add_argument("--fit-split", default="val")
    parser.add_argument("--report-split", action="append", default=None,
                        help="split to report on, repeatable (default: test)")
    parser.add_argument("--ood-quantile", type=float, default=None, metavar="Q",
                        help="set max_ood_score to the fit split's Q-quantile of ood_score (needs a feature density)")
    parser.add_argument("--min-name-familiarity", type=float, default=0.0, metavar="S",
                        help="NO-GO when an active target's name has cosine similarity < S to every training name "
                             "(needs a feature density with names); a fixed rule, not fitted: the calibration "
                             "split's names are all training names")
    parser.add_argument("--name", default="gate_fit", help="file name stem of the written report")
    parser.add_argument("--target-recall", type=float, default=0.9)
    parser.add_argument("--min-precision", type=float, default=0.6)
    parser.add_argument("--max-unsafe-go-bound", type=float, default=None, metavar="B",
                        help="choose instead the most available step whose one-sided 95%% Clopper-Pearson upper "
                             "bound on the fit split's unsafe-GO rate is <= B (e.g. 0.05)")
    parser.add_argument("--bound-unit", choices=("frame", "clip"), default="frame",
                        help="what --max-unsafe-go-bound counts: frames, or clips (a clip is unsafe when one of its "
                             "GO frames fails; frames of a clip are not independent)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--write-model", nargs="?", const="", default=None, metavar="DIR",
                        help="store the chosen gate in this model folder's contract (no DIR: the --model folder)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    segmenter = Segmenter.load(args.model)
    report_splits = args.report_split or ["test"]
    report, splits, walk, config = fit(segmenter, args.data, args.fit_split, report_splits, args.target_recall,
                                       args.min_precision, args.max_unsafe_go_bound, args.ood_quantile,
                                       args.min_name_familiarity, args.bound_unit)
    provenance = machine()
    report = {"model": str(args.model), **report, "machine": provenance,
              "wall_s": round(time.perf_counter() - started, 1)}
    if args.write_model is not None:
        target = args.model if args.write_model == "" else Path(args.write_model)
        write_gate(target, stored_thresholds(config), {
            "by": "benchmarks/gate_fit.py", "fit_split": args.fit_split, "report_splits": report_splits,
            "data": args.data.name, "data_hash": {split.name: split.data_hash for split in splits},
            "target_recall": args.target_recall, "min_precision": args.min_precision,
            "max_unsafe_go_bound": args.max_unsafe_go_bound, "bound_unit": args.bound_unit,
            "failure": failure_definition(),
            "commit": provenance["commit"], "results": report["results"],
            "segmenter_sha256": segmenter.model_dir.sha256(segmenter.model_dir.segmenter_path.name)})
        report["written_to"] = str(target)
    write_record(args.out, args.name, report, markdown(report, args.name),
                 lambda path: plot(walk, splits, report["chosen_step"], config, path))


def _rate(rate: dict[str, Any]) -> str:
    return str(Rate.from_json(rate))


def _rule(report: dict[str, Any]) -> str:
    if report.get("max_unsafe_go_bound") is not None:
        unit = "clip" if report.get("bound_unit") == "clip" else "frame"
        return (f"for the highest GO availability whose unsafe-GO 95% upper bound, counted by {unit}, is <= "
                f"{report['max_unsafe_go_bound']}")
    return f"for the highest NO-GO recall (>= {report['target_recall']}) at precision >= {report['min_precision']}"


def markdown(report: dict[str, Any], name: str = "gate_fit") -> str:
    lines = [f"# GO / NO-GO gate fitted on {report['data']} {report['fit_split']}, reported on "
             f"{', '.join(report['report_splits'])}",
             "", f"Model `{report['model']}`; true failure = {report['failure']} (frames without an active object "
             f"count in no rate); thresholds chosen on {report['fit_split']} {_rule(report)} "
             f"(`benchmarks/gate_fit.py`, commit {report['machine']['commit']}). Rates with their counts "
             "(count/of); the unsafe-GO rate's one-sided 95% Clopper-Pearson upper bound beside it.", "",
             "| split | frames | true failures | GO | unsafe-GO rate | its 95% upper bound | unsafe GO by clip | "
             "its 95% upper bound | GO availability | NO-GO | NO-GO precision | NO-GO recall | no active object (GO) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for split, r in report["results"].items():
        role = "fit" if split == report["fit_split"] else "held out"
        lines.append(f"| {split} ({role}) | {r['frames']} | {r['true_failures']} | {r['go']} | "
                     f"{_rate(r['unsafe_go_rate'])} | {Rate.from_json(r['unsafe_go_rate']).upper_bound():.3f} | "
                     f"{_rate(r['unsafe_go_clips'])} | {Rate.from_json(r['unsafe_go_clips']).upper_bound():.3f} | "
                     f"{_rate(r['go_availability'])} | {r['no_go']} | "
                     f"{_rate(r['no_go_precision'])} | {_rate(r['no_go_recall'])} | "
                     f"{r['without_target']['frames']} ({r['without_target']['go']}) |")
    if report.get("promise_met") is False:
        lines += ["", f"**The promise is not met on {report['fit_split']}:** no set of thresholds along the walk "
                  f"keeps the unsafe-GO bound <= {report['max_unsafe_go_bound']} while saying GO at all; the set "
                  "with the lowest bound is the one chosen."]
    where = f"stored in `{report['written_to']}`" if report.get("written_to") else "not written to a model folder"
    lines += ["", f"Fitted thresholds ({where}):", "", "| threshold | value |", "|---|---|"]
    lines += [f"| `{name}` | {value} |" for name, value in report["gate_config"].items()]
    lines += ["", f"![trade-off]({name}.png)", "",
              "Degenerate camera inputs (all black / white / grey, noise, a repeated frame, heavy blur) through the "
              "shipped folders' gates: `degenerate_inputs.md` (`benchmarks/degenerate_inputs.py`).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
