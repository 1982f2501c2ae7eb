"""What an evaluation writes and prints: metric rows as JSON, the paper's table, ``objects.csv``, overlay rows."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from actiseg_core.atomic import atomic_write_bytes
from actiseg_core.data.loader import ActionVOSDataset
from actiseg_core.metrics import HIGHER_IS_BETTER, METRIC_COLUMNS, ActionVOSMetrics, MetricResult
from actiseg_core.palette import tint_labels

OVERLAY_WIDTH = 320


def _finite(value: float) -> float | None:
    """NaN (an empty metric list) -> None, so the JSON stays valid."""
    return value if math.isfinite(value) else None


def result_json(result: MetricResult) -> dict[str, Any]:
    """The six metrics (None where undefined) with TP / TN / FP / FN and the number of object entries."""
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


def write_objects_csv(path: Path, metrics: ActionVOSMetrics, dataset: ActionVOSDataset) -> None:
    """One row per object per frame (I, U, IoU, TP / TN / FP / FN), from the metrics' kept records."""
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


def overlay_row(image: np.ndarray, predicted: np.ndarray, gt: np.ndarray, active: list[int],
                captions: tuple[str, str, str]) -> Image.Image:
    """image | predicted active objects | GT active objects, scaled to :data:`OVERLAY_WIDTH` per panel."""
    width, height = OVERLAY_WIDTH, round(OVERLAY_WIDTH * image.shape[0] / image.shape[1])
    gt_active = np.where(np.isin(gt, active), gt, 0).astype(np.uint8)
    small = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))

    def labels(label_map: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(label_map).resize((width, height), Image.Resampling.NEAREST))

    panels = [small, tint_labels(small, labels(predicted), alpha=0.5, background=0.35),
              tint_labels(small, labels(gt_active), alpha=0.5, background=0.35)]
    row = Image.fromarray(np.concatenate(panels, axis=1))
    draw = ImageDraw.Draw(row)
    for column, caption in enumerate(captions):
        draw.text((column * width + 4, 4), caption, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
    return row


def stack_rows(rows: list[Image.Image], path: Path) -> None:
    """The rows one under the other as one PNG."""
    grid = Image.new("RGB", (rows[0].width, sum(row.height for row in rows)))
    top = 0
    for row in rows:
        grid.paste(row, (0, top))
        top += row.height
    grid.save(path)
