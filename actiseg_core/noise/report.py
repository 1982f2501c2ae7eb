"""The noise report of a split: how severe Alg. 2's masks are per kernel (Fig. 3(b)) and how Alg. 1 shifts the
class distribution of the prompts per rate (Fig. 2), as Markdown, PNG and one JSON with every number.

Severity is what makes a kernel comparable across data sets (DESIGN §5): k is in pixels of the label maps, and
the paper's k means 854x480 pixels, so every table states the resolution beside k. Both algorithms have modes (the
released generators' by default, our extensions by name); the report states the mode of each table and the JSON
records both.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from actiseg_core.data.classes import load_class_map
from actiseg_core.data.layout import (
    ANNOTATION_HEIGHT,
    ANNOTATION_WIDTH,
    Sequence,
    annotation_path,
    atomic_write_bytes,
    atomic_write_json,
    read_image_set,
    read_label_png,
)
from actiseg_core.noise.mask import SEVERITY_GROUPS, SeverityStats, dilate_label_map, validate_kernel
from actiseg_core.noise.modes import (
    DEFAULT_MASK_NOISE_MODE,
    DEFAULT_TEXT_NOISE_MODE,
    MODE_DESCRIPTIONS,
    validate_mask_mode,
    validate_text_mode,
)
from actiseg_core.noise.plots import category_plot, severity_plot
from actiseg_core.noise.text import category_shift, class_proportions, corrupt_names, count_flips, validate_rate

PAPER_RESOLUTION = f"{ANNOTATION_WIDTH}x{ANNOTATION_HEIGHT}"
REPORT_JSON = "noise_report.json"


def _severity_by_kernel(
    root: Path, split: str, sequences: list[Sequence], kernels: list[int], mask_mode: str, progress: bool
) -> tuple[dict[int, SeverityStats], Counter[str]]:
    """Read each clean label map once and dilate it with every kernel; also count the label-map sizes."""
    stats = {k: SeverityStats() for k in kernels}
    resolutions: Counter[str] = Counter()
    frames = [(seq, frame) for seq in sequences for frame in seq.sparse_frames]
    for seq, frame in tqdm(frames, desc=f"mask severity {split}", unit="frame", disable=not progress):
        clean = read_label_png(annotation_path(root, split, seq, frame))
        resolutions[f"{clean.shape[1]}x{clean.shape[0]}"] += 1
        order = sorted(seq.objects)
        positive = {index: seq.objects[index].positive for index in order}
        active = [index for index in order if positive[index]]
        for kernel in kernels:
            noisy = dilate_label_map(clean, order, kernel, active=active, mode=mask_mode)
            stats[kernel].add_frame(clean, noisy, positive)
    return stats, resolutions


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def _header(title: str, data: dict[str, Any]) -> list[str]:
    sizes = ", ".join(f"{size} ({n} frames)" for size, n in data["label_map_resolutions"].items())
    return [
        f"# {title}",
        "",
        f"Data root `{data['root']}`, split `{data['split']}`: {data['sequences']} sequences, {data['objects']} "
        f"objects, {data['frames']} annotated frames; label maps {sizes}; seed {data['seed']}.",
        "",
    ]


def _severity_markdown(data: dict[str, Any]) -> str:
    mode = data["mask_noise_mode"]
    lines = _header("Mask annotation noise severity (Alg. 2, Fig. 3(b) of paper 003)", data)
    lines += [
        f"Alg. 2 mode `{mode}`: {MODE_DESCRIPTIONS[mode]}",
        "",
        "IoU (%) of the dilated annotations against the clean ones, per object per frame (mIoU) and summed (cIoU); "
        f"p = active objects, n = inactive. The paper's kernels are pixels of {PAPER_RESOLUTION} annotations: at a "
        "lower resolution the same k is far more severe, so compare by severity, not by k.",
        "",
        "| k | mode | label map | mIoU | cIoU | p-mIoU | p-cIoU | n-mIoU | n-cIoU | entries |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    resolution = " / ".join(data["label_map_resolutions"])
    for kernel, groups in data["severity"].items():
        cells = [_percent(groups[g][m]) for g in SEVERITY_GROUPS for m in ("mIoU", "cIoU")]
        lines.append(
            f"| {kernel}x{kernel} | {mode} | {resolution} | {' | '.join(cells)} | {groups['all']['entries']} |"
        )
    return "\n".join(lines) + "\n"


def _category_markdown(data: dict[str, Any]) -> str:
    shift = data["category_shift"]
    mode = data["text_noise_mode"]
    lines = _header("Category distribution shift under text prompt noise (Alg. 1, Fig. 2 of paper 003)", data)
    lines += [
        f"Alg. 1 mode `{mode}`: {MODE_DESCRIPTIONS[mode]}",
        "",
        "Share (%) of each class among all object prompts; major classes (> 1% of the clean prompts) are listed, "
        "the rest summed as Others. Flips: objects whose class Alg. 1 flipped.",
        "",
        "| class | " + " | ".join(shift) + " |",
        "|---|" + "---|" * len(shift),
    ]
    for label in next(iter(shift.values())):
        lines.append(f"| {label} | " + " | ".join(_percent(shares[label]) for shares in shift.values()) + " |")
    flips = data["flips"]
    lines.append("| flipped objects | 0 | " + " | ".join(str(flips[c]["classes_flipped"]) for c in flips) + " |")
    lines.append("| renamed objects | 0 | " + " | ".join(str(flips[c]["names_changed"]) for c in flips) + " |")
    lines.append("| mode | - | " + " | ".join(mode for _ in flips) + " |")
    return "\n".join(lines) + "\n"


def write_noise_report(
    root: Path,
    split: str,
    out_dir: Path,
    seed: int,
    kernels: tuple[int, ...] = (9, 15, 21),
    rates: tuple[float, ...] = (0.2, 0.4, 0.6),
    progress: bool = True,
    *,
    text_mode: str = DEFAULT_TEXT_NOISE_MODE,
    mask_mode: str = DEFAULT_MASK_NOISE_MODE,
) -> dict[str, Any]:
    """Write ``noise_severity.{md,png}``, ``noise_category_shift.{md,png}`` and ``noise_report.json`` under
    ``out_dir``; returns the JSON's content. ``seed`` and ``text_mode`` drive Alg. 1 and ``mask_mode`` Alg. 2 as
    :func:`make_noisy_view` does, so what is reported for a rate or kernel is what a view of it has."""
    root, out_dir = Path(root), Path(out_dir)
    kernels_list = [validate_kernel(k) for k in kernels]
    rates_list = [validate_rate(r) for r in rates]
    text_mode = validate_text_mode(text_mode)
    mask_mode = validate_mask_mode(mask_mode)
    sequences = read_image_set(root, split)
    class_map = load_class_map(root, sequences)
    severity, resolutions = _severity_by_kernel(root, split, sequences, kernels_list, mask_mode, progress)
    noisy = {f"rho={rate:g}": corrupt_names(sequences, class_map, rate, seed, text_mode) for rate in rates_list}
    proportions = {"clean": class_proportions(sequences, class_map)}
    proportions.update({condition: class_proportions(seqs, class_map) for condition, seqs in noisy.items()})
    data: dict[str, Any] = {
        "root": str(root.resolve()),
        "split": split,
        "seed": seed,
        "sequences": len(sequences),
        "objects": sum(len(seq.objects) for seq in sequences),
        "frames": sum(resolutions.values()),
        "label_map_resolutions": dict(sorted(resolutions.items())),
        "paper_resolution": PAPER_RESOLUTION,
        "mask_noise_mode": mask_mode,
        "text_noise_mode": text_mode,
        "severity": {str(k): severity[k].to_json() for k in kernels_list},
        "class_proportions": proportions,
        "category_shift": category_shift(proportions["clean"], {c: p for c, p in proportions.items() if c != "clean"}),
        "flips": {
            condition: dict(zip(("objects", "names_changed", "classes_flipped"), count_flips(seqs), strict=True))
            for condition, seqs in noisy.items()
        },
    }
    resolution = " / ".join(data["label_map_resolutions"])
    caption = f"{root.name} / {split}: {data['frames']} frames, label maps {resolution}, seed {seed}"
    mask_caption = f"{caption}, Alg. 2 mode {mask_mode}"
    text_caption = f"{caption}, Alg. 1 mode {text_mode}"
    miou = [severity[k].groups["all"].miou for k in kernels_list]
    ciou = [severity[k].groups["all"].ciou for k in kernels_list]
    atomic_write_bytes(out_dir / "noise_severity.md", _severity_markdown(data).encode("utf-8"))
    atomic_write_bytes(
        out_dir / "noise_severity.png", severity_plot(kernels_list, miou, ciou, resolution, mask_caption)
    )
    atomic_write_bytes(out_dir / "noise_category_shift.md", _category_markdown(data).encode("utf-8"))
    atomic_write_bytes(out_dir / "noise_category_shift.png", category_plot(data["category_shift"], text_caption))
    atomic_write_json(out_dir / REPORT_JSON, data)
    return data
