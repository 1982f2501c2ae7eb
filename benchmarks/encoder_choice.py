"""Image-encoder choice for the default model: val scores of two training runs and CPU latency measured now.

    python benchmarks/encoder_choice.py --run efficientnet_lite0=runs/default --run resnet_small=runs/resnet_small

Each run folder holds ``log.csv`` and ``eval_val/metrics.json`` (actiseg-train + actiseg-evaluate) and ``best.pt``.
Latency of both models is measured in this one process, back to back, so the ratio is a same-run comparison.
Writes ``benchmarks/results/encoder_choice.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from provenance import machine  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)

from actiseg_core.metrics import METRIC_COLUMNS  # noqa: E402
from actiseg_core.model.checkpoint import load_checkpoint, model_from_checkpoint  # noqa: E402
from training.model_card import eager_latency_ms  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def summarise(name: str, run: Path) -> dict[str, object]:
    with open(run / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    checkpoint = load_checkpoint(run / "best.pt")
    model = model_from_checkpoint(checkpoint, run / "best.pt")
    config = model.config
    latency = eager_latency_ms(model, config.input_height, config.input_width, queries=4, repeats=30)
    evaluation = json.loads((run / "eval_val" / "metrics.json").read_text())["results"]["model"]
    return {
        "encoder": name,
        "pretrained": checkpoint["config"]["pretrained"],
        "steps": int(rows[-1]["step"]),
        "best_step": checkpoint["step"],
        "train_minutes": float(rows[-1]["elapsed_s"]) / 60,
        "input": f"{config.input_height}x{config.input_width}",
        "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "eager_ms_k4": latency,
        "val": {c: evaluation[c] for c in METRIC_COLUMNS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, metavar="NAME=DIR")
    args = parser.parse_args()
    torch.set_num_threads(2)
    runs = [summarise(name, Path(folder)) for name, folder in (item.split("=", 1) for item in args.run)]

    RESULTS.mkdir(parents=True, exist_ok=True)
    where = machine()
    (RESULTS / "encoder_choice.json").write_text(json.dumps({"machine": where, "runs": runs}, indent=1))
    lines = [
        "# Image encoder choice (issue 3)",
        "",
        "Same data (ActiSeg-Sim train, 1,500 frames), learner (baseline), input, batch (8 frames), lr and seed; "
        "scored on ActiSeg-Sim val (300 frames, clean labels) at the run's best-gIoU checkpoint. Latency: torch "
        "eager, one frame + K = 4 queries, 2 threads, both models measured back to back in one process.",
        "",
        f"Machine: {where['cpu']}, {where['cores']} cores, Python {where['python']}, commit {where['commit']}.",
        "",
        "| encoder | ImageNet init | steps (best) | train min | params M | eager p50 ms | "
        + " | ".join(METRIC_COLUMNS) + " |",
        "| --- " * (6 + len(METRIC_COLUMNS)) + "|",
    ]
    for r in runs:
        scores = " | ".join(f"{r['val'][c]:.1f}" for c in METRIC_COLUMNS)
        lines.append(f"| {r['encoder']} | {r['pretrained']} | {r['steps']} ({r['best_step']}) | "
                     f"{r['train_minutes']:.1f} | {r['parameters_m']:.2f} | {r['eager_ms_k4']['p50']:.1f} | {scores} |")
    (RESULTS / "encoder_choice.md").write_text("\n".join(lines) + "\n")

    figure, axis = plt.subplots(figsize=(6, 3.2))
    for offset, r in enumerate(runs):
        xs = [i + 0.38 * offset for i in range(len(METRIC_COLUMNS))]
        axis.bar(xs, [r["val"][c] for c in METRIC_COLUMNS], width=0.38,
                 label=f"{r['encoder']} ({r['eager_ms_k4']['p50']:.0f} ms eager)")
    axis.set_xticks([i + 0.19 for i in range(len(METRIC_COLUMNS))], METRIC_COLUMNS)
    axis.set_ylabel("ActiSeg-Sim val (%)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(RESULTS / "encoder_choice.png", dpi=120)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
