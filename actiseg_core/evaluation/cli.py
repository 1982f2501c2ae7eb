"""``actiseg-evaluate``: score a model on an ActionVOS-layout split through the deployment path.

    actiseg-evaluate --data data/actiseg_sim --split val --checkpoint models/default_int8 --out runs/eval_val

``--checkpoint`` is an exported model folder (the one holding ``model.json``), run by the runtime's ``--backend``
(onnxruntime by default; tensorrt, onnxruntime-cuda, torch where available), or an actiseg-train checkpoint
(``.pt``), run through the torch backend with the pre/post graphs and text encoder an export of it would get.
Either way every frame goes through ``Segmenter.predict`` and the gate as the node runs them
(:class:`actiseg_core.stream.StreamProcessor`, with the model folder's fitted gate), so the numbers are those of
the robot. Writes to OUT:

- ``metrics.json``: the six metrics (and TP / TN / FP / FN) of the model and of the trivial references "empty" and
  "gripper-only", the gate's figures (unsafe-GO rate, GO availability, NO-GO precision / recall, each with its
  counts), the thresholds and gate used, the data hash, the model's provenance and every frame's p-IoU and verdict;
- ``objects.csv``: one row per object per frame (I, U, IoU, TP / TN / FP / FN), to find failure cases;
- ``Annotations_Sparse/<split>/<seq>/<frame>.png``: the predicted label maps as palette PNGs in the ActionVOS
  layout, at the annotations' resolution, so any ActionVOS-layout tool can score them;
- ``overlays.png``: a few frames as image | predicted active objects | GT active objects;

and prints the paper's table (p-mIoU↑ n-mIoU↓ p-cIoU↑ n-cIoU↓ gIoU↑ Acc↑) and the gate's figures.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from actiseg_core.atomic import atomic_write_json
from actiseg_core.cli_util import OneLineParser, non_negative_int, run_command
from actiseg_core.data.layout import annotation_path, write_label_png
from actiseg_core.data.split_info import load_split, split_hash
from actiseg_core.errors import ActiSegError
from actiseg_core.evaluation.frames import Answer, FrameScore
from actiseg_core.evaluation.outputs import format_table, overlay_row, result_json, stack_rows, write_objects_csv
from actiseg_core.evaluation.scorer import MODEL
from actiseg_core.evaluation.split import score_split
from actiseg_core.evaluation.stream import StreamItem
from actiseg_core.runtime import BACKENDS, Segmenter
from actiseg_core.runtime.model_dir import file_sha256

PROG = "actiseg-evaluate"
CHECKPOINT_SUFFIXES = (".pt", ".pth")


def load_segmenter(path: Path, backend: str = "onnxruntime", device: str = "auto") -> Segmenter:
    """A model folder behind ``backend``, or an actiseg-train checkpoint through the torch backend on ``device``
    (``auto``: the CPU, like the deployment default)."""
    if path.is_dir():
        return Segmenter.load(path, backend=backend)
    if not path.is_file():
        raise ActiSegError(f"{path}: checkpoint not found")
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise ActiSegError(f"{path}: unsupported model file (expected a model folder or an actiseg-train checkpoint: "
                           f"{', '.join(CHECKPOINT_SUFFIXES)})")
    from actiseg_core.export.in_memory import checkpoint_segmenter  # torch: only for a checkpoint

    return checkpoint_segmenter(path, device="cpu" if device == "auto" else device)


def model_info(segmenter: Segmenter, path: Path) -> dict[str, Any]:
    """Where the scored model came from: the folder's export record, or the checkpoint file's hash."""
    if segmenter.model_dir is not None:
        source = segmenter.model_dir.metadata.get("source", {})
        return {"kind": f"model folder, {segmenter.backend.description}", "step": source.get("step"),
                "data_hash": source.get("data_hash"), "checkpoint_sha256": source.get("sha256")}
    return {"kind": f"torch checkpoint, {segmenter.backend.description}", **getattr(segmenter.backend, "source", {}),
            "checkpoint_sha256": file_sha256(path)}


def evaluate(data: Path, split: str, model_path: Path, out: Path, device: str = "auto", overlays: int = 6,
             progress: bool = True, backend: str = "onnxruntime") -> dict[str, Any]:
    """Evaluate ``model_path`` on ``data``/``split`` and write every output under ``out``; returns metrics.json."""
    dataset = load_split(data, split)
    segmenter = load_segmenter(model_path, backend, device)
    chosen = set(np.linspace(0, len(dataset.frames) - 1, min(overlays, len(dataset.frames))).round().astype(int))
    rows: list[Image.Image] = []
    seen = 0

    def on_frame(item: StreamItem, answer: Answer, score: FrameScore, predicted: np.ndarray) -> None:
        nonlocal seen
        ref = item.ref
        write_label_png(annotation_path(out, split, ref.sequence, ref.frame), predicted)
        if seen in chosen and isinstance(item.image, np.ndarray):
            active = [k for k, obj in ref.sequence.objects.items() if obj.positive]
            verdict = "GO" if answer.go else "NO-GO"
            rows.append(overlay_row(item.image, predicted, item.truth.labels, active, (
                f"{ref.sequence.folder}/{ref.frame}", f"{verdict}: {ref.sequence.narration}", "GT active")))
        seen += 1

    processor, scorer = score_split(segmenter, dataset, on_frame=on_frame, keep_records=True, progress=progress,
                                    desc=PROG)
    results = scorer.results()
    figures = scorer.gate()
    report = {
        "model": str(model_path), "model_info": model_info(segmenter, model_path), "data": str(data),
        "split": split, "data_hash": split_hash(dataset), "frames": len(dataset.frames),
        "thresholds": {"pixel": float(segmenter.pixel_threshold), "positive": float(segmenter.positive_threshold)},
        "gate_config": asdict(processor.gate.config),
        "results": {name: result_json(result) for name, result in results.items()},
        "gate": figures.as_json(),
        "frames_detail": [frame.as_json() for frame in scorer.frames],
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", report)
    write_objects_csv(out / "objects.csv", scorer.metrics[MODEL], dataset)
    if rows:
        stack_rows(rows, out / "overlays.png")
    print(format_table(results))
    print(figures.summary())
    return report


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description="Score a model with the ActionVOS metrics and the gate's figures.")
    parser.add_argument("--data", type=Path, required=True, help="ActionVOS-layout root")
    parser.add_argument("--split", default="val", help="split to evaluate (default: %(default)s)")
    parser.add_argument("--checkpoint", type=Path, required=True,
                        help=f"an exported model folder (holding model.json) or an actiseg-train checkpoint "
                             f"({', '.join(CHECKPOINT_SUFFIXES)})")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--overlays", type=non_negative_int, default=6, help="frames in overlays.png (0: none)")
    parser.add_argument("--device", default="auto", help="torch device for a checkpoint: auto (the CPU), cpu, cuda:N")
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
