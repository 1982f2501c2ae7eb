"""Generalization record (issue 14): every model variant on the held-out ActiSeg-Sim v2 splits, with its CPU cost.

    python benchmarks/generalization.py --data data/actiseg_sim_v2 \
        --variant v1_default=models/default --variant lite0_176=runs/gen/lite0_176_aug/best.pt ...

Each variant (an actiseg-train checkpoint, exported here to an fp32 model folder, or a model folder) is scored as
the robot runs it (``actiseg-evaluate``: onnxruntime, the deployed text encoder) on every ``--split`` beside the
trivial references (empty, gripper-only). From the per-object records come: the metrics on the novel-class
targets alone (``test_novel_class``: active objects of ``catalog_v2.NOVEL_CLASSES``), and 95% intervals by a
bootstrap over clips (sequences), for each variant's gIoU and p-mIoU and for the paired differences of every
variant against the first one. In the same run, after all scoring, each variant's cost: GFLOP per frame at
K = 4 (torch's FLOP counter, 2 FLOP per multiply-add) and ``Segmenter.predict`` latency on a 640x480 frame with
K = 4 on ``--threads`` CPU threads (p50 / p90 of ``--runs`` calls after 10 warm-up calls).

Seeds: ``--recipe NAME=A,B`` names variants that are training seeds of one recipe (listed in seed order). Every
recipe gets its pooled gIoU and p-mIoU with a seeds x clips bootstrap interval
(:func:`benchmarks.nl.statistics.bootstrap_totals`), and each recipe after the first its paired gIoU difference
from the first, seeds paired by position: the evidence for a claim that one recipe is better, not one seed's luck.

Resumable: a split already scored for the same model folder (same segmenter sha256) is read back, not rerun.
Writes ``generalization.{json,md,png}`` to ``--out``. Choose variants on ``val`` and the held-out design splits;
the in-domain ``test`` split is not scored here.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from provenance import machine, write_record  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)

from actiseg_core.data.classes import ClassMap, load_class_map  # noqa: E402
from actiseg_core.data.sim.catalog_v2 import NOVEL_CLASSES  # noqa: E402
from actiseg_core.data.split_info import load_split  # noqa: E402
from actiseg_core.evaluation.cli import evaluate  # noqa: E402
from actiseg_core.runtime import Segmenter  # noqa: E402
from actiseg_core.runtime.model_dir import METADATA_FILE  # noqa: E402
from benchmarks.nl.statistics import bootstrap_totals  # noqa: E402

RESULTS = Path(__file__).parent / "results"
SPLITS = ("val", "test_novel_class", "test_novel_robot", "test_cross_renderer")
REFERENCES = ("empty", "gripper-only")
METRICS = ("p-mIoU", "n-mIoU", "gIoU", "Acc")
BOOTSTRAP = 2000
QUERIES = 4


def model_folder(name: str, path: Path, work: Path) -> Path:
    """A model folder for ``path``: itself, or the checkpoint exported (when stale) to ``work/name/model``."""
    if (path / METADATA_FILE).is_file():
        return path
    from actiseg_core.export.onnx_export import export_segmenter, is_current_export

    folder = work / name / "model"
    if not is_current_export(path, folder):
        export_segmenter(path, folder)
    return folder


def score(folder: Path, data: Path, split: str, out: Path) -> dict[str, Any]:
    """metrics.json of ``folder`` on ``split`` (read back when it was made for the same segmenter graph)."""
    sha = json.loads((folder / METADATA_FILE).read_text())["sha256"]["segmenter.onnx"]
    stamp = out / "segmenter.sha256"
    if (out / "metrics.json").is_file() and stamp.is_file() and stamp.read_text() == sha:
        return json.loads((out / "metrics.json").read_text())
    report = evaluate(data, split, folder, out, overlays=4)
    stamp.write_text(sha)
    return report


def object_rows(out: Path, classes: ClassMap) -> list[dict[str, Any]]:
    """objects.csv of an evaluation, with each row's gIoU contribution and whether it is a novel-class target."""
    rows = []
    with open(out / "objects.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            positive, union = row["positive"] == "1", int(row["union"])
            iou = int(row["intersection"]) / union if union else float("nan")
            giou = {"TN": 1.0, "FP": 0.0}.get(row["category"], iou)
            label = classes[int(row["class_id"])].label if int(row["class_id"]) in classes else ""
            rows.append({"sequence": row["sequence"], "positive": positive, "iou": iou, "giou": giou,
                         "novel_target": positive and label in NOVEL_CLASSES})
    return rows


def per_sequence(rows: list[dict[str, Any]], only_novel: bool = False) -> dict[str, np.ndarray]:
    """Per clip: [gIoU sum, entries, positive IoU sum, positive visible count] (the sums the metrics are made of)."""
    sums: dict[str, np.ndarray] = {}
    for row in rows:
        if only_novel and not row["novel_target"]:
            continue
        entry = sums.setdefault(row["sequence"], np.zeros(4))
        entry[0] += row["giou"]
        entry[1] += 1
        if row["positive"] and not np.isnan(row["iou"]):
            entry[2] += row["iou"]
            entry[3] += 1
    return sums


def bootstrap(variants: list[dict[str, np.ndarray]], seed: int = 0) -> np.ndarray:
    """[B, V, 2] bootstrap replicates of (gIoU, p-mIoU) in percent, clips resampled jointly for all variants."""
    clips = sorted(set.intersection(*(set(v) for v in variants)))
    table = np.stack([[variant[clip] for clip in clips] for variant in variants])  # [V, C, 4]
    picks = np.random.default_rng(seed).integers(0, len(clips), (BOOTSTRAP, len(clips)))
    sampled = table[:, picks].sum(axis=2)  # [V, B, 4]
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.stack([sampled[..., 0] / sampled[..., 1], sampled[..., 2] / sampled[..., 3]], axis=-1)
    return 100 * values.transpose(1, 0, 2)


def recipe_intervals(recipes: dict[str, list[str]], sums: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Per recipe, pooled gIoU and p-mIoU over its seeds with seeds x clips 95% intervals, and (after the first)
    the paired gIoU difference from the first recipe, seed i of one against seed i of the other. p-mIoU gets no
    paired difference: its denominator (positive objects with a non-empty union) depends on the model's masks, so
    two models' clip totals are not the same objects."""
    def totals(recipe: str, column: int) -> dict[int, dict[str, tuple[float, int]]]:
        return {i: {clip: (float(v[column]), int(v[column + 1])) for clip, v in sums[variant].items()}
                for i, variant in enumerate(recipes[recipe])}

    first = next(iter(recipes))
    result: dict[str, Any] = {}
    for recipe, variants in recipes.items():
        entry: dict[str, Any] = {"seeds": variants}
        for metric, column in (("gIoU", 0), ("p-mIoU", 2)):
            alone = bootstrap_totals(totals(recipe, column), None)
            entry[metric] = round(alone["estimate"], 1)
            entry[f"{metric}_95"] = [round(alone["low"], 1), round(alone["high"], 1)]
            if recipe != first and metric == "gIoU":  # p-mIoU's denominators differ between models
                diff = bootstrap_totals(totals(recipe, column), totals(first, column))
                entry[f"{metric}_diff_vs_first"] = round(diff["estimate"], 1)
                entry[f"{metric}_diff_vs_first_95"] = [round(diff["low"], 1), round(diff["high"], 1)]
        result[recipe] = entry
    return result


def interval(values: np.ndarray) -> list[float]:
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return [round(float(low), 1), round(float(high), 1)]


def cost(name: str, path: Path, folder: Path, threads: int, runs: int) -> dict[str, Any]:
    """GFLOP per frame at K = 4 and predict latency (ms) on a 640x480 frame, K = 4."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from actiseg_core.model import InferenceGraph
    from actiseg_core.model.checkpoint import load_checkpoint, model_from_checkpoint

    checkpoint = folder / "model.pt"
    model = model_from_checkpoint(load_checkpoint(checkpoint), checkpoint).eval()
    height, width = model.config.input_height, model.config.input_width
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        InferenceGraph(model)(torch.rand(1, 3, height, width), torch.rand(QUERIES, model.config.query_text_dim))
    segmenter = Segmenter.load(folder, threads=threads)
    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    names = ["robot hand", "red cup", "plate", "bowl"][:QUERIES]
    times = []
    for index in range(10 + runs):
        started = time.perf_counter()
        segmenter.predict(image, "pick up the red cup", names)
        if index >= 10:
            times.append(1000 * (time.perf_counter() - started))
    return {"input": f"{height}x{width}", "encoder": model.config.image_encoder,
            "gflop_k4": round(counter.get_total_flops() / 1e9, 3),
            "predict_ms_p50": round(float(np.percentile(times, 50)), 1),
            "predict_ms_p90": round(float(np.percentile(times, 90)), 1), "threads": threads, "runs": runs}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/actiseg_sim_v2"))
    parser.add_argument("--variant", action="append", required=True, metavar="NAME=PATH",
                        help="checkpoint or model folder; the first is the one the others are compared with")
    parser.add_argument("--recipe", action="append", default=[], metavar="NAME=VARIANT,VARIANT",
                        help="variants that are seeds of one recipe, in seed order; the first recipe is the reference")
    parser.add_argument("--split", action="append", default=None, help=f"repeatable (default: {', '.join(SPLITS)})")
    parser.add_argument("--work", type=Path, default=Path("runs/generalization"), help="exports and evaluations")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    variants = dict(item.split("=", 1) for item in args.variant)
    recipes = {name: seeds.split(",") for name, seeds in (item.split("=", 1) for item in args.recipe)}
    unknown = sorted({v for seeds in recipes.values() for v in seeds} - set(variants))
    if unknown or len({len(seeds) for seeds in recipes.values()}) > 1:
        parser.error(f"--recipe names unknown variants {unknown}" if unknown
                     else "every --recipe needs the same number of seeds (they are paired by position)")
    splits = args.split or list(SPLITS)
    folders = {name: model_folder(name, Path(path), args.work) for name, path in variants.items()}
    report: dict[str, Any] = {"data": args.data.name, "variants": variants, "recipes": recipes, "splits": {},
                              "machine": machine()}
    for split in splits:
        scored = {name: score(folder, args.data, split, args.work / name / split) for name, folder in folders.items()}
        first = next(iter(scored.values()))
        entry: dict[str, Any] = {"frames": first["frames"], "data_hash": first["data_hash"],
                                 "references": {ref: {m: round(first["results"][ref][m], 1) for m in METRICS}
                                                for ref in REFERENCES}, "variants": {}}
        classes = load_class_map(args.data, load_split(args.data, split).sequences)
        rows = {name: object_rows(args.work / name / split, classes) for name in folders}
        sums = {name: per_sequence(r) for name, r in rows.items()}
        replicates = bootstrap(list(sums.values()))
        novel = split == "test_novel_class"
        novel_sums = [per_sequence(r, only_novel=True) for r in rows.values()] if novel else None
        for v, name in enumerate(folders):
            result = {m: round(scored[name]["results"]["model"][m], 1) for m in METRICS}
            result |= {"gIoU_95": interval(replicates[:, v, 0]), "p-mIoU_95": interval(replicates[:, v, 1])}
            if v:
                result["gIoU_diff_vs_first_95"] = interval(replicates[:, v, 0] - replicates[:, 0, 0])
                result["p-mIoU_diff_vs_first_95"] = interval(replicates[:, v, 1] - replicates[:, 0, 1])
            if novel_sums is not None:
                total = sum(novel_sums[v].values())
                result["novel_targets_p-mIoU"] = round(100 * total[2] / max(total[3], 1), 1)
                result["novel_targets_visible"] = int(total[3])
            entry["variants"][name] = result
        if recipes:
            entry["recipes"] = recipe_intervals(recipes, sums)
        report["splits"][split] = entry
    report["cost"] = {name: cost(name, Path(variants[name]), folder, args.threads, args.runs)
                      for name, folder in folders.items()}
    write_record(args.out, "generalization", report, markdown(report), lambda path: plot(report, path))


def plot(report: dict[str, Any], path: Path) -> None:
    splits = list(report["splits"])
    names = list(report["variants"])
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    width = 0.8 / len(names)
    for axis, metric in zip(axes, ("gIoU", "p-mIoU"), strict=True):
        for v, name in enumerate(names):
            values = [report["splits"][s]["variants"][name][metric] for s in splits]
            errors = np.array([report["splits"][s]["variants"][name][f"{metric}_95"] for s in splits]).T
            positions = np.arange(len(splits)) + (v - (len(names) - 1) / 2) * width
            axis.bar(positions, values, width, label=name,
                     yerr=np.abs(errors - np.array(values)), capsize=2)
        for ref, style in zip(REFERENCES, (":", "--"), strict=True):
            axis.scatter(np.arange(len(splits)), [report["splits"][s]["references"][ref][metric] for s in splits],
                         marker="_", s=600, color="black", linestyle=style, label=ref if metric == "gIoU" else None)
        axis.set_xticks(np.arange(len(splits)), [s.replace("test_", "") for s in splits])
        axis.set(ylabel=metric, ylim=(0, 100), title=f"{metric} per split (bars: 95% clip bootstrap)")
    axes[0].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = ["# Generalization on ActiSeg-Sim v2's held-out splits", "",
             f"`benchmarks/generalization.py`, commit {m['commit']}. Every variant through the deployment runtime "
             "(fp32 model folder, onnxruntime); 95% intervals from a bootstrap over clips; the differences are "
             f"paired against `{next(iter(report['variants']))}`. Variants: "
             + ", ".join(f"`{n}` = `{p}`" for n, p in report["variants"].items()) + ".", ""]
    for split, entry in report["splits"].items():
        lines += [f"## {split} ({entry['frames']} frames, data hash `{entry['data_hash']}`)", "",
                  "| variant | p-mIoU | n-mIoU | gIoU | Acc | gIoU 95% | p-mIoU 95% | gIoU diff 95% | extra |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, r in entry["variants"].items():
            extra = (f"novel targets p-mIoU {r['novel_targets_p-mIoU']} ({r['novel_targets_visible']} visible)"
                     if "novel_targets_p-mIoU" in r else "")
            lines.append(f"| {name} | {r['p-mIoU']} | {r['n-mIoU']} | {r['gIoU']} | {r['Acc']} | {r['gIoU_95']} | "
                         f"{r['p-mIoU_95']} | {r.get('gIoU_diff_vs_first_95', '')} | {extra} |")
        for ref, r in entry["references"].items():
            lines.append(f"| *{ref}* | {r['p-mIoU']} | {r['n-mIoU']} | {r['gIoU']} | {r['Acc']} | | | | |")
        lines.append("")
        if "recipes" in entry:
            lines += ["Recipes over their seeds (pooled; 95% seeds x clips bootstrap; gIoU differences paired by "
                      "seed against the first recipe):", "",
                      "| recipe | seeds | gIoU | gIoU 95% | gIoU diff | its 95% | p-mIoU | p-mIoU 95% |",
                      "|---|---|---|---|---|---|---|---|"]
            for name, r in entry["recipes"].items():
                lines.append(f"| {name} | {', '.join(r['seeds'])} | {r['gIoU']} | {r['gIoU_95']} | "
                             f"{r.get('gIoU_diff_vs_first', '')} | {r.get('gIoU_diff_vs_first_95', '')} | "
                             f"{r['p-mIoU']} | {r['p-mIoU_95']} |")
            lines.append("")
    lines += [f"## CPU cost ({m.get('cpu', '')}; flags {m.get('isa', m.get('cpu_flags', ''))})", "",
              "| variant | input | encoder | GFLOP / frame (K = 4) | predict p50 ms | p90 ms | threads |",
              "|---|---|---|---|---|---|---|"]
    lines += [f"| {name} | {c['input']} | {c['encoder']} | {c['gflop_k4']} | {c['predict_ms_p50']} | "
              f"{c['predict_ms_p90']} | {c['threads']} |" for name, c in report["cost"].items()]
    lines += ["", "Latency: `Segmenter.predict` on a 640x480 frame, K = 4, measured in this run after the scoring.",
              "", "![generalization](generalization.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
