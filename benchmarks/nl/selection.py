"""What a selecting learner's picks were worth: precision / recall of the queries it dropped or relabelled against
the prompts Alg. 1 really flipped (issue 15), from the counts it checkpointed
(:mod:`actiseg_core.learners.selection_log`) and the flips its noisy view recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from actiseg_core.data.split_info import load_split
from actiseg_core.learners.selection_log import SELECTION_LOG, pick_quality
from actiseg_core.noise.text import was_flipped


def selection_summary(checkpoint: Path, train_root: Path, split: str) -> dict[str, Any] | None:
    """:func:`pick_quality` of the run whose last checkpoint is ``checkpoint``, trained on ``train_root``/``split``;
    None for a learner that selects nothing. Query ids are the split's query order (frames, then objects by
    palette index), as the trainer numbers them."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["learner"]
    if SELECTION_LOG not in state:
        return None
    queries = load_split(train_root, split).queries
    log = state[SELECTION_LOG]
    if log["visits"].numel() != len(queries):
        raise ValueError(f"{checkpoint}: a selection log of {log['visits'].numel()} queries for {len(queries)}")
    flipped = [was_flipped(query.frame.sequence, query.obj) for query in queries]
    return pick_quality(log["visits"].tolist(), log["picked"].tolist(), flipped)


def selection_lines(results: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of the cells' selection summaries (mean over seeds); none when no cell has one."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in results:
        if result.get("selection"):
            groups.setdefault((result["condition"], result["method"]), []).append(result["selection"])
    if not groups:
        return []
    lines = ["## Selected queries against the recorded flips (training split)", "",
             "Per selecting visit: precision = share of the dropped (Co-teaching, query selection) or relabelled "
             "queries whose class Alg. 1 flipped; recall = share of the flipped queries' visits on which they were "
             "picked; clean pick rate = the same share for unflipped queries. Mean over seeds.", "",
             "| Condition | Method | precision | recall | clean pick rate | flipped queries | seeds |",
             "|---|---|---|---|---|---|---|"]
    for (condition, method), members in groups.items():
        def mean(key: str, members: list[dict[str, Any]] = members) -> str:
            values = [m[key] for m in members if m[key] is not None]
            return f"{sum(values) / len(values):.3f}" if values else "n/a"

        lines.append(f"| {condition} | {method} | {mean('precision')} | {mean('recall')} | "
                     f"{mean('clean_pick_rate')} | {members[0]['flipped_queries']} | {len(members)} |")
    return [*lines, ""]
