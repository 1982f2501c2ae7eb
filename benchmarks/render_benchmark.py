"""Render the default ActiSeg-Sim benchmark (train + val) and record how fast it went.

    python benchmarks/render_benchmark.py --out data/actiseg_sim

Writes ``benchmarks/results/render_speed.{json,md}`` with the machine, commit, load and per-split frames/s, plus
the split statistics (``actiseg_sim_stats.json``) and a contact sheet of val frames
(``benchmarks/actiseg_sim_val.png``).
A root that is already (partly) rendered is resumed, and then the time covers only the clips rendered now: use a
fresh ``--out`` for a timing you will quote.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from provenance import machine  # benchmarks/ is on sys.path when a script here runs

from actiseg_core.data.preview import write_preview
from actiseg_core.data.sim.render import render_split
from actiseg_core.data.sim.splits import DEFAULT_CLIPS
from actiseg_core.data.stats import split_statistics, unseen_combinations

SPLITS = ("train", "val")
RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/actiseg_sim"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    result: dict[str, object] = {"machine": machine(), "load_before": os.getloadavg(), "splits": {}}
    start = time.perf_counter()
    for split in SPLITS:
        summary = render_split(args.out, split, DEFAULT_CLIPS[split], args.seed, workers=args.workers)
        result["splits"][split] = vars(summary)
    result["total_seconds"] = time.perf_counter() - start
    result["load_after"] = os.getloadavg()

    stats = {split: split_statistics(args.out, split) for split in SPLITS}
    stats["val"]["unseen_vs_train"] = unseen_combinations(stats["train"], stats["val"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "actiseg_sim_stats.json").write_text(json.dumps(stats, indent=1, default=list))
    (RESULTS / "render_speed.json").write_text(json.dumps(result, indent=1))
    write_preview(args.out, "val", Path(__file__).parent / "actiseg_sim_val.png", count=4, seed=args.seed)

    rows = [
        f"| {split} | {s['clips']} | {s['frames']} | {s['rendered_clips']} | {s['seconds']:.0f} | "
        f"{s['frames_per_second']:.2f} | {s['render_ms_per_frame']:.0f} |"
        for split, s in result["splits"].items()
    ]
    m = result["machine"]
    (RESULTS / "render_speed.md").write_text(
        "# ActiSeg-Sim render speed\n\n"
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, commit {m['commit']}; "
        f"{args.workers} render workers, seed {args.seed}, 854x480. "
        f"Load average before {result['load_before'][0]:.1f}, after {result['load_after'][0]:.1f}.\n\n"
        "| split | clips | frames | clips rendered now | seconds | frames/s | render ms/frame (one core) |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n\n"
        f"Total: {result['total_seconds'] / 60:.1f} min for train + val (budget: 15 min on 2 cores). "
        f"Val combinations unseen in train: {stats['val']['unseen_vs_train']['unseen']} of "
        f"{stats['val']['unseen_vs_train']['combinations']}.\n"
    )
    print((RESULTS / "render_speed.md").read_text())


if __name__ == "__main__":
    main()
