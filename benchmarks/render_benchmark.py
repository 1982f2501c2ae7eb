"""Render the default ActiSeg-Sim benchmark of a version and record how fast it went.

    python benchmarks/render_benchmark.py --version v1 --out data/actiseg_sim
    python benchmarks/render_benchmark.py --version v2 --out data/actiseg_sim_v2 [--splits train val ...]

Writes ``benchmarks/results/render_speed.json`` (one entry per version; a run of some splits updates only those)
and ``render_speed.md`` (a table per version) with the machine, its instruction set, commit, load and per-split
frames/s. v1 also writes its split statistics (``actiseg_sim_stats.json``) and a contact sheet of val frames
(``benchmarks/actiseg_sim_val.png``); v2's statistics are ``benchmarks/actiseg_sim_v2_report.py``'s.
A root that is already (partly) rendered is resumed, and then the time covers only the clips rendered now: use a
fresh ``--out`` for a timing you will quote.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from provenance import machine  # benchmarks/ is on sys.path when a script here runs

from actiseg_core.data.preview import write_preview
from actiseg_core.data.sim import versions
from actiseg_core.data.sim.render import render_split
from actiseg_core.data.stats import split_statistics, unseen_combinations

RESULTS = Path(__file__).parent / "results"
BUDGET_MINUTES = {"v1": 15, "v2": 45}


def _section(version: str, entry: dict[str, Any]) -> str:
    m = entry["machine"]
    rows = [
        f"| {split} | {s['clips']} | {s['frames']} | {s['rendered_clips']} | {s['seconds']:.0f} | "
        f"{s['frames_per_second']:.2f} | {s['render_ms_per_frame']:.0f} | {s.get('load_before', float('nan')):.1f} |"
        for split, s in entry["splits"].items()
    ]
    total = sum(s["seconds"] for s in entry["splits"].values())
    return (
        f"## {version}\n\n"
        f"Machine: {m['cpu']} ({', '.join(m.get('isa', [])) or 'isa not recorded'}), {m['cores']} cores, "
        f"Python {m['python']}, commit {m['commit']}; {entry['workers']} render workers, seed {entry['seed']}, "
        "854x480.\n\n"
        "| split | clips | frames | clips rendered now | seconds | frames/s | render ms/frame (one worker) | "
        "load before |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n\n"
        f"Total: {total / 60:.1f} min for {', '.join(entry['splits'])} (budget: {BUDGET_MINUTES[version]} min "
        "on 2 cores for every split of the version).\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="v1", choices=versions.VERSIONS)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--splits", nargs="+", help="default: every split of the version")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    defaults = versions.default_clips(args.version)
    splits = args.splits or list(defaults)
    for split in splits:
        versions.check_split(args.version, split)
    out = args.out or Path("data") / ("actiseg_sim" if args.version == "v1" else f"actiseg_sim_{args.version}")

    path = RESULTS / "render_speed.json"
    speed = json.loads(path.read_text()) if path.is_file() else {}
    if "splits" in speed:  # the file of a v1-only run before v2 existed
        speed = {"v1": {**speed, "seed": args.seed, "workers": args.workers}}
    entry = speed.get(args.version, {}) if speed.get(args.version, {}).get("seed") == args.seed else {}
    entry.update(machine=machine(), seed=args.seed, workers=args.workers)
    entry.setdefault("splits", {})
    for split in splits:
        load = os.getloadavg()[0]
        summary = render_split(out, split, defaults[split], args.seed, workers=args.workers, version=args.version)
        entry["splits"][split] = {**vars(summary), "load_before": load}
        speed[args.version] = entry
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(speed, indent=1))  # after every split: a kill keeps what was measured
    (RESULTS / "render_speed.md").write_text(
        "# ActiSeg-Sim render speed\n\n`python benchmarks/render_benchmark.py --version <v>` on a fresh root.\n\n"
        + "\n".join(_section(v, speed[v]) for v in versions.VERSIONS if v in speed)
    )
    if args.version == "v1" and {"train", "val"} <= set(splits):
        stats = {split: split_statistics(out, split) for split in ("train", "val")}
        stats["val"]["unseen_vs_train"] = unseen_combinations(stats["train"], stats["val"])
        (RESULTS / "actiseg_sim_stats.json").write_text(json.dumps(stats, indent=1, default=list))
        write_preview(out, "val", Path(__file__).parent / "actiseg_sim_val.png", count=4, seed=args.seed)
    print((RESULTS / "render_speed.md").read_text())
    print(f"{time.strftime('%H:%M:%S')} done")


if __name__ == "__main__":
    main()
