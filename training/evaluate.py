"""``actiseg-evaluate``: score a trained model on an ActionVOS-layout split with the ActionVOS metrics.

    actiseg-evaluate --data data/actiseg_sim --split val --checkpoint runs/baseline/best.pt --out runs/baseline/eval

Writes to OUT:

- ``metrics.json``: the six metrics (and TP/TN/FP/FN) of the model and of the trivial references "empty" and
  "gripper-only", with the thresholds, data hash and checkpoint step;
- ``objects.csv``: one row per object per frame (I, U, IoU, TP/TN/FP/FN), to find failure cases;
- ``Annotations_Sparse/<split>/<seq>/<frame>.png``: the predicted label maps as palette PNGs in the ActionVOS
  layout, at the annotations' resolution, so any ActionVOS-layout tool can score them;
- ``overlays.png``: a few frames as image | predicted active objects | GT active objects.

and prints the paper's table (p-mIoU↑ n-mIoU↓ p-cIoU↑ n-cIoU↓ gIoU↑ Acc↑). Prompt embeddings are cached in
``prompts.pt`` beside the checkpoint (the training run's cache), so the text model loads only for new prompts.
``--checkpoint`` is an actiseg-train checkpoint (``.pt``, run by PyTorch) or an exported model folder (the one
holding ``model.json``), run by the deployment runtime's ``--backend`` (onnxruntime by default; tensorrt,
onnxruntime-cuda, ... where available), so the shipped graphs are scored exactly as the robot runs them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from actiseg_core.cli_util import OneLineParser, non_negative_int, run_command
from actiseg_core.data.layout import (
    annotation_path,
    atomic_write_bytes,
    atomic_write_json,
    write_label_png,
)
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.data.preview import tint_labels
from actiseg_core.errors import ActiSegError
from actiseg_core.metrics import HIGHER_IS_BETTER, METRIC_COLUMNS, ActionVOSMetrics, MetricResult
from actiseg_core.model.checkpoint import load_checkpoint, model_from_checkpoint
from actiseg_core.runtime import BACKENDS, Segmenter
from training.data import (
    FrameDataset,
    PromptTable,
    hand_class_ids,
    load_split,
    resize_image,
    resize_labels,
    split_hash,
    split_prompts,
)
from training.distributed import resolve_device
from training.inference import (
    PIXEL_THRESHOLD,
    POSITIVE_THRESHOLD,
    FramePrediction,
    Predictor,
    TorchPredictor,
    evaluate_split,
)

PROG = "actiseg-evaluate"
OVERLAY_WIDTH = 320


@dataclass
class LoadedModel:
    """A model ready to evaluate: how to run it, the input size it expects, and where it came from."""

    predictor: Predictor
    input_size: tuple[int, int]
    provenance: dict[str, Any]


def load_torch_checkpoint(path: Path, device: str) -> LoadedModel:
    checkpoint = load_checkpoint(path)
    model = model_from_checkpoint(checkpoint, path)
    config = model.config
    resolved = resolve_device(device)
    return LoadedModel(TorchPredictor(model.to(resolved), resolved), (config.input_height, config.input_width),
                       {"kind": "torch checkpoint", "step": checkpoint.get("step"),
                        "data_hash": checkpoint.get("data_hash"), "learner": checkpoint.get("config", {}).get(
                            "learner")})


def load_model_folder(path: Path, backend: str) -> LoadedModel:
    """An exported model folder behind a runtime backend (the segmenter graph; inputs are prepared as in training)."""
    segmenter = Segmenter.load(path, backend=backend)
    source = segmenter.model_dir.metadata.get("source", {})
    return LoadedModel(segmenter.backend, segmenter.input_size,
                       {"kind": f"model folder, {segmenter.backend.description}", "step": source.get("step"),
                        "data_hash": source.get("data_hash")})


#: Checkpoint file suffix -> loader (model folders go to :func:`load_model_folder`).
MODEL_LOADERS: dict[str, Callable[[Path, str], LoadedModel]] = {".pt": load_torch_checkpoint,
                                                                  ".pth": load_torch_checkpoint}


def load_model(path: Path, device: str, backend: str = "onnxruntime") -> LoadedModel:
    if path.is_dir():
        return load_model_folder(path, backend)
    if not path.is_file():
        raise ActiSegError(f"{path}: checkpoint not found")
    loader = MODEL_LOADERS.get(path.suffix.lower())
    if loader is None:
        raise ActiSegError(f"{path}: unsupported model file (expected a model folder or one of "
                           f"{', '.join(sorted(MODEL_LOADERS))})")
    return loader(path, device)


def _finite(value: float) -> float | None:
    """NaN (an empty metric list) -> None, so metrics.json stays valid JSON."""
    return value if math.isfinite(value) else None


def result_json(result: MetricResult) -> dict[str, Any]:
    return {**{k: _finite(v) for k, v in result.as_row().items()},
            "TP": result.tp, "TN": result.tn, "FP": result.fp, "FN": result.fn, "entries": result.n_entries}


def format_table(results: dict[str, MetricResult]) -> str:
    """The paper's table: one row per method, the six columns in its order, arrows for the better direction."""
    headers = [f"{name}{'↑' if HIGHER_IS_BETTER[name] else '↓'}" for name in METRIC_COLUMNS]
    width = max(len(name) for name in results)
    lines = [" " * width + "".join(f"{h:>9}" for h in headers)]
    for name, result in results.items():
        cells = "".join(f"{v:9.1f}" if math.isfinite(v) else f"{'n/a':>9}" for v in result.as_row().values())
        lines.append(f"{name:<{width}}{cells}")
    return "\n".join(lines)


def overlay_row(image: np.ndarray, prediction: FramePrediction) -> Image.Image:
    """image | predicted active objects | GT active objects, at the annotation resolution scaled to OVERLAY_WIDTH."""
    size = (round(OVERLAY_WIDTH * image.shape[0] / image.shape[1]), OVERLAY_WIDTH)
    active = [k for k, obj in prediction.ref.sequence.objects.items() if obj.positive]
    gt_active = np.where(np.isin(prediction.gt, active), prediction.gt, 0).astype(np.uint8)
    small = resize_image(image, size)
    panels = [small, tint_labels(small, resize_labels(prediction.pred, size), alpha=0.5, background=0.35),
              tint_labels(small, resize_labels(gt_active, size), alpha=0.5, background=0.35)]
    row = Image.fromarray(np.concatenate(panels, axis=1))
    draw = ImageDraw.Draw(row)
    seq = prediction.ref.sequence
    for column, caption in enumerate((f"{seq.folder}/{prediction.ref.frame}", f"predicted: {seq.narration}",
                                      "GT active")):
        draw.text((column * OVERLAY_WIDTH + 4, 4), caption, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
    return row


def write_objects_csv(path: Path, metrics: ActionVOSMetrics, dataset: ActionVOSDataset) -> None:
    objects = {seq.folder: seq.objects for seq in dataset.sequences}
    columns = ["sequence", "frame", "object_index", "object_name", "class_id", "positive", "intersection", "union",
               "iou", "category"]
    lines = [",".join(columns)]
    for record in metrics.records:
        obj = objects[record.sequence][record.object_index]
        iou = "" if math.isnan(record.iou) else f"{record.iou:.6f}"
        values = [record.sequence, record.frame, record.object_index, obj.name, obj.class_id, int(record.positive),
                  record.intersection, record.union, iou, record.category]
        lines.append(",".join(_csv_cell(v) for v in values))
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())


def _csv_cell(value: object) -> str:
    text = str(value)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text


def evaluate(data: Path, split: str, model_path: Path, out: Path, device: str = "auto", overlays: int = 6,
             progress: bool = True, backend: str = "onnxruntime") -> dict[str, Any]:
    """Evaluate ``model_path`` on ``data``/``split`` and write every output under ``out``; returns metrics.json."""
    loaded = load_model(model_path, device, backend)
    source = load_split(data, split)
    cache_folder = model_path if model_path.is_dir() else model_path.parent
    prompts = PromptTable.build(split_prompts(source), cache_folder / "prompts.pt")
    frames = FrameDataset(source, loaded.input_size, prompts, hand_class_ids(data, source))
    chosen = set(np.linspace(0, len(frames) - 1, min(overlays, len(frames))).round().astype(int).tolist())
    rows: list[Image.Image] = []
    bar = tqdm(total=len(frames), desc=PROG, unit="frame", disable=not progress)

    def on_frame(prediction: FramePrediction) -> None:
        write_label_png(annotation_path(out, split, prediction.ref.sequence, prediction.ref.frame), prediction.pred)
        if prediction.index in chosen:
            rows.append(overlay_row(source.load_image(prediction.ref), prediction))
        bar.update(1)

    scores = evaluate_split(loaded.predictor, frames, on_frame, keep_records=True)
    bar.close()
    results = {name: metrics.result() for name, metrics in scores.items()}
    report = {
        "model": str(model_path), "model_info": loaded.provenance, "data": str(data), "split": split,
        "data_hash": split_hash(source), "frames": len(frames),
        "thresholds": {"pixel": PIXEL_THRESHOLD, "positive": POSITIVE_THRESHOLD},
        "results": {name: result_json(result) for name, result in results.items()},
    }
    atomic_write_json(out / "metrics.json", report)
    write_objects_csv(out / "objects.csv", scores["model"], source)
    if rows:
        grid = Image.new("RGB", (rows[0].width, sum(row.height for row in rows)))
        for i, row in enumerate(rows):
            grid.paste(row, (0, i * rows[0].height))
        grid.save(out / "overlays.png")
    print(format_table(results))
    return report


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description="Score a trained model with the ActionVOS metrics.")
    parser.add_argument("--data", type=Path, required=True, help="ActionVOS-layout root")
    parser.add_argument("--split", default="val", help="split to evaluate (default: %(default)s)")
    parser.add_argument("--checkpoint", type=Path, required=True,
                        help=f"an actiseg-train checkpoint ({', '.join(sorted(MODEL_LOADERS))}) or an exported model "
                             f"folder (holding model.json)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--overlays", type=non_negative_int, default=6, help="frames in overlays.png (0: none)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda:N (checkpoints)")
    parser.add_argument("--backend", default="onnxruntime", choices=BACKENDS,
                        help="runtime backend for a model folder (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def handler() -> None:
        evaluate(args.data, args.split, args.checkpoint, args.out, args.device, args.overlays,
                 progress=not args.no_progress, backend=args.backend)
        print(f"{PROG}: metrics.json, objects.csv, overlays.png and label maps written to {args.out}")

    return run_command(PROG, handler)


if __name__ == "__main__":
    sys.exit(main())
