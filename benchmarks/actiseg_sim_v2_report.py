"""ActiSeg-Sim v2's statistics report: what every split holds, and how the shipped default model does on it.

    python benchmarks/actiseg_sim_v2_report.py [--root data/actiseg_sim_v2] [--model models/default]

Per split: frames, classes, embodiments, hard-negative share, wrist-camera share, mean active area, actions;
a class histogram (``actiseg_sim_v2_classes.png``); an example grid per split (``actiseg_sim_v2_<split>.png``);
the trivial references (empty, gripper-only) and the default model, scored by ``actiseg-evaluate`` (the deployed
graphs and gate) on every split but train, whose size makes that a separate job. A leak check of train against
the held-out splits is part of the report. Writes ``benchmarks/results/actiseg_sim_v2_stats.{md,json}``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from provenance import machine, write_record  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)

from actiseg_core.data.classes import read_class_map  # noqa: E402
from actiseg_core.data.geometry_layout import geometry_path, read_geometry  # noqa: E402
from actiseg_core.data.layout import read_image_set  # noqa: E402
from actiseg_core.data.preview import write_preview  # noqa: E402
from actiseg_core.data.sim.catalog import GRIPPER  # noqa: E402
from actiseg_core.data.sim.splits_v2 import DEFAULT_CLIPS, leaks  # noqa: E402
from actiseg_core.data.stats import split_statistics  # noqa: E402
from actiseg_core.evaluation.cli import evaluate  # noqa: E402
from actiseg_core.metrics import METRIC_COLUMNS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
GATE_RATES = ("unsafe_go_rate", "go_availability")


def v2_statistics(root: Path, split: str) -> dict[str, Any]:
    """:func:`split_statistics` plus what v2 adds: classes, embodiments, hard negatives, views, actions."""
    stats = split_statistics(root, split)
    sequences = read_image_set(root, split)
    classes = {obj.class_id for s in sequences for obj in s.objects.values()} - {GRIPPER.class_id}
    occluded = []
    for seq in sequences:
        geometry = read_geometry(geometry_path(root, split, seq))
        target = next(k for k, obj in seq.objects.items() if obj.narration and obj.class_id == seq.noun_class)
        occluded += [frame.objects[target].occluded for frame in geometry.frames.values() if target in frame.objects]
    stats.update(
        target_occluded_frame_share=sum(occluded) / max(len(occluded), 1),
        object_classes=len(classes),
        target_classes=len({s.noun_class for s in sequences}),
        embodiments=len({s.extra.get("robot") for s in sequences}),
        hard_negative_share=sum(bool(s.extra.get("hard_negative")) for s in sequences) / len(sequences),
        wrist_share=sum(s.extra.get("camera", {}).get("kind") == "wrist" for s in sequences) / len(sequences),
        actions=dict(Counter(str(s.extra.get("action")) for s in sequences).most_common()),
        renderers=dict(Counter(str(s.extra.get("renderer")) for s in sequences)),
    )
    return stats


def _rate(rate: dict[str, Any]) -> str:
    return "n/a" if not rate["of"] else f"{rate['count'] / rate['of']:.3f} ({rate['count']}/{rate['of']})"


def class_histogram(root: Path, splits: list[str], out: Path) -> None:
    names = {c.class_id: c.label for c in read_class_map(root / "ImageSets" / "classes.json").values()}
    counts = {split: Counter(s.noun_class for s in read_image_set(root, split)) for split in splits}
    order = sorted({c for split in splits for c in counts[split]}, key=lambda c: names.get(c, str(c)))
    figure, axis = plt.subplots(figsize=(max(10, 0.22 * len(order)), 4.5))
    bottom = [0.0] * len(order)
    for split in splits:
        values = [counts[split].get(c, 0) for c in order]
        axis.bar(range(len(order)), values, bottom=bottom, label=split)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axis.set_xticks(range(len(order)), [names.get(c, str(c)) for c in order], rotation=90, fontsize=7)
    axis.set_ylabel("clips with this target class")
    axis.set_title("ActiSeg-Sim v2: target classes per split")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# ActiSeg-Sim v2: statistics per split",
        "",
        f"`python benchmarks/actiseg_sim_v2_report.py` (commit {m['commit']}, {m['cpu']}, {', '.join(m['isa'])}); "
        f"root `{report['root']}`, rendered with seed {report['seed']}. Hard negatives: clips where a second object "
        "of the target's class stands inactive and only the narration tells them apart.",
        "",
        "| split | clips | frames | object classes | target classes | embodiments | hard-negative share | "
        "wrist-camera share | target occluded (frames) | mean active area % | queries (active / inactive) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for split, s in report["splits"].items():
        lines.append(
            f"| {split} | {s['sequences']} | {s['frames']} | {s['object_classes']} | {s['target_classes']} | "
            f"{s['embodiments']} | {s['hard_negative_share']:.2f} | {s['wrist_share']:.2f} | "
            f"{s['target_occluded_frame_share']:.2f} | "
            f"{s['mean_active_area_percent']:.1f} | {s['positive_queries']} / {s['negative_queries']} |"
        )
    lines += ["", "Actions per split:", ""]
    for split, s in report["splits"].items():
        lines.append(f"- {split}: " + ", ".join(f"{a} {n}" for a, n in s["actions"].items()))
    lines += ["", f"Leak check (held-out classes by kind, mesh or name; held-out robots; pybullet) of train: "
              f"{len(report['train_leaks'])} leaks" + (f": {report['train_leaks'][:5]}" if report["train_leaks"]
                                                         else ".")]  # fmt: skip
    lines += [
        "",
        f"## The shipped default model (`{report['model']}`) and the trivial references",
        "",
        "Scored by `actiseg-evaluate` (deployed graphs, text encoder and fitted gate). Frame failure: p-IoU < 0.5.",
        "",
        "| split | predictor | " + " | ".join(METRIC_COLUMNS) + " | unsafe-GO rate | GO availability |",
        "|---|---|" + "---|" * (len(METRIC_COLUMNS) + 2),
    ]
    for split, scored in report["scores"].items():
        for name, result in scored["results"].items():
            gate = scored["gate"] if name == "model" else None
            rates = " | ".join(_rate(gate[r]) for r in GATE_RATES) if gate else " | "
            lines.append(f"| {split} | {name} | " + " | ".join(f"{result[c]:.1f}" for c in METRIC_COLUMNS)
                         + f" | {rates} |")  # fmt: skip
    lines += ["", "Class histogram: `actiseg_sim_v2_classes.png`; example frames: `actiseg_sim_v2_<split>.png`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO / "data" / "actiseg_sim_v2")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    splits = [s for s in DEFAULT_CLIPS if (args.root / "ImageSets" / f"{s}.json").is_file()]
    report: dict[str, Any] = {"root": str(args.root), "seed": args.seed, "model": str(args.model), "splits": {},
                              "scores": {}, "machine": machine()}  # fmt: skip
    for split in splits:
        report["splits"][split] = v2_statistics(args.root, split)
        write_preview(args.root, split, RESULTS / f"actiseg_sim_v2_{split}.png", count=4, seed=args.seed)
    report["train_leaks"] = leaks(read_image_set(args.root, "train")) if "train" in splits else []
    class_histogram(args.root, splits, RESULTS / "actiseg_sim_v2_classes.png")
    with tempfile.TemporaryDirectory() as scratch:
        for split in splits:
            if split == "train":
                continue
            scored = evaluate(args.root, split, args.model, Path(scratch) / split, overlays=0)
            report["scores"][split] = {"results": scored["results"], "gate": scored["gate"]}
    write_record(RESULTS, "actiseg_sim_v2_stats", report, markdown(report))


if __name__ == "__main__":
    main()
