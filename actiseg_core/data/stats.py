"""Statistics of an ActionVOS-layout split: what a data set holds, and whether its splits really differ."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from actiseg_core.data.layout import Sequence
from actiseg_core.data.loader import ActionVOSDataset

COMBINATION_KEYS = ("robot", "object_set", "texture")


def combination(seq: Sequence) -> tuple | None:
    """The (robot, object set, texture) a rendered sequence was made from; None for data without them."""
    if not all(key in seq.extra for key in COMBINATION_KEYS):
        return None
    robot, object_set, texture = (seq.extra[key] for key in COMBINATION_KEYS)
    return (str(robot), tuple(sorted(object_set)), str(texture))


def split_statistics(root: Path, split: str, progress: bool = False) -> dict[str, Any]:
    """Counts, class balance, visibility and areas of one split (reads every mask once)."""
    data = ActionVOSDataset(root, split)
    visible = Counter()
    active_area: list[float] = []
    sizes: Counter = Counter()
    for ref in tqdm(data.frames, desc=f"stats {split}", disable=not progress, unit="frame"):
        labels = data.load_labels(ref)
        sizes[f"{labels.shape[1]}x{labels.shape[0]}"] += 1
        counts = np.bincount(labels.ravel(), minlength=256)
        for index, obj in ref.sequence.objects.items():
            visible["positive" if obj.positive else "negative"] += int(counts[index] > 0)
        active = [index for index, obj in ref.sequence.objects.items() if obj.positive]
        active_area.append(float(counts[active].sum()) / labels.size)
    classes = Counter(q.obj.class_id for q in data.queries)
    names: dict[int, set[str]] = {}
    for q in data.queries:
        names.setdefault(q.obj.class_id, set()).add(q.obj.name)
    positives = sum(q.positive for q in data.queries)
    return {
        "root": str(root),
        "split": split,
        "sequences": len(data.sequences),
        "frames": len(data.frames),
        "queries": len(data.queries),
        "positive_queries": positives,
        "negative_queries": len(data.queries) - positives,
        "visible_positive_queries": visible["positive"],
        "visible_negative_queries": visible["negative"],
        "frames_per_sequence": {
            "min": min(len(s.sparse_frames) for s in data.sequences),
            "max": max(len(s.sparse_frames) for s in data.sequences),
        },
        "resolutions": dict(sizes),
        "mean_active_area_percent": 100.0 * float(np.mean(active_area)) if active_area else 0.0,
        "classes": {str(c): {"queries": n, "names": sorted(names[c])} for c, n in sorted(classes.items())},
        "verbs": dict(Counter(s.verb for s in data.sequences).most_common()),
        "robots": dict(Counter(str(s.extra["robot"]) for s in data.sequences if "robot" in s.extra).most_common()),
        "textures": dict(Counter(str(s.extra["texture"]) for s in data.sequences if "texture" in s.extra)),
        "combinations": sorted({c for s in data.sequences if (c := combination(s)) is not None}),
    }


def unseen_combinations(train: dict[str, Any], other: dict[str, Any]) -> dict[str, int]:
    """How many of ``other``'s (robot, object set, texture) combinations never occur in ``train``."""
    seen = {tuple(map(_freeze, c)) for c in train["combinations"]}
    combos = [tuple(map(_freeze, c)) for c in other["combinations"]]
    return {"combinations": len(combos), "unseen": sum(c not in seen for c in combos)}


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def format_statistics(stats: dict[str, Any]) -> str:
    """A human-readable summary of :func:`split_statistics`."""
    lines = [
        f"split {stats['split']} of {stats['root']}",
        f"  sequences {stats['sequences']}, frames {stats['frames']} "
        f"({stats['frames_per_sequence']['min']}-{stats['frames_per_sequence']['max']} per sequence), "
        f"resolutions {stats['resolutions']}",
        f"  object queries {stats['queries']}: {stats['positive_queries']} active "
        f"({stats['visible_positive_queries']} visible), {stats['negative_queries']} inactive "
        f"({stats['visible_negative_queries']} visible)",
        f"  mean active-object area {stats['mean_active_area_percent']:.1f}% of the frame",
        f"  verbs: {', '.join(f'{v} {n}' for v, n in stats['verbs'].items())}",
    ]
    if stats["robots"]:
        lines.append(f"  robots: {', '.join(f'{r} {n}' for r, n in stats['robots'].items())}")
        lines.append(f"  textures: {len(stats['textures'])} distinct")
    lines.append("  classes (queries: names):")
    for class_id, entry in stats["classes"].items():
        lines.append(f"    {class_id:>4}  {entry['queries']:>5}: {', '.join(entry['names'])}")
    return "\n".join(lines)
