"""The gate's unsafe-GO rate counted by clip as well as by frame, from a ``gate_fit.py`` record.

    python benchmarks/gate_clips.py [--record benchmarks/results/gate.json] [--out benchmarks/results]

The gate's promise is a one-sided 95% Clopper-Pearson bound on the unsafe-GO rate, and that bound treats every GO
frame as an independent draw. Frames of one clip are not independent: a clip the model gets wrong tends to be
wrong, and GO, on many of its frames at once. Counting by clip (a clip is unsafe when any of its GO frames is a
failure; :class:`actiseg_core.evaluation.figures.GateFigures`' clip rate, the one ``gate_fit.py --bound-unit clip``
bounds) gives a bound that holds when clips, not frames, are the independent units. With no unsafe clip, a 5%
bound needs at least ``ceil(log 0.05 / log 0.95)`` = 59 GO clips: the size a calibration split needs for the promise
to be kept at the clip level. Reads the per-frame records (sequence, failure, GO) of every split of the record;
writes ``gate_clips.{json,md,png}`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from provenance import machine, write_record  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)

from actiseg_core.evaluation.figures import GateFigures  # noqa: E402

RESULTS = Path(__file__).parent / "results"
BOUND = 0.05


def clips_needed(bound: float = BOUND, confidence: float = 0.95) -> int:
    """The fewest GO units with no unsafe one whose one-sided Clopper-Pearson upper bound is <= ``bound``."""
    return math.ceil(math.log(1.0 - confidence) / math.log(1.0 - bound))


def split_figures(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """Unsafe GO by frame and by clip (:class:`GateFigures`, with their 95% upper bounds) and the most unsafe GOs
    one clip gave."""
    p_iou = [math.nan if f["p_iou"] is None else f["p_iou"] for f in frames]
    figures = GateFigures.from_arrays([f["go"] for f in frames], p_iou, [f["sequence"] for f in frames])
    by_frame, by_clip = figures.unsafe_go, figures.unsafe_go_clips
    assert by_clip is not None
    unsafe = Counter(f["sequence"] for f in frames if f["go"] and f["failure"])
    return {"go_frames": by_frame.of, "unsafe_frames": by_frame.count, "frame_bound": round(by_frame.upper_bound(), 4),
            "go_clips": by_clip.of, "unsafe_clips": by_clip.count, "clip_bound": round(by_clip.upper_bound(), 4),
            "clips": len({f["sequence"] for f in frames}), "most_unsafe_in_one_clip": max(unsafe.values(), default=0),
            "unsafe_clip_names": sorted(unsafe)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, default=RESULTS / "gate.json", help="a gate_fit.py NAME.json")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not args.record.is_file():
        parser.error(f"no gate_fit record at {args.record}")
    record = json.loads(args.record.read_text())
    report = {"record": str(args.record), "model": record["model"], "fit_split": record["fit_split"],
              "clips_needed_for_bound": clips_needed(),
              "splits": {split: split_figures(frames) for split, frames in record["frames"].items()},
              "machine": machine()}
    write_record(args.out, "gate_clips", report, markdown(report), lambda path: plot(report, path))


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Unsafe GO by frame and by clip", "",
             f"`benchmarks/gate_clips.py` (commit {report['machine']['commit']}) on `{report['record']}` (model "
             f"`{report['model']}`, gate fitted on "
             f"{report['fit_split']}). A clip is unsafe when any of its GO frames fails (frame p-IoU < 0.5). Bounds: "
             "one-sided 95% Clopper-Pearson; the frame bound assumes independent frames, the clip bound independent "
             f"clips. With no unsafe clip, a bound <= {BOUND} needs >= {report['clips_needed_for_bound']} GO clips.",
             "", "| split | clips | GO frames | unsafe | frame bound | GO clips | unsafe clips | clip bound | "
             "most unsafe GOs in one clip |", "|---|---|---|---|---|---|---|---|---|"]
    for split, s in report["splits"].items():
        lines.append(f"| {split} | {s['clips']} | {s['go_frames']} | {s['unsafe_frames']} | {s['frame_bound']} | "
                     f"{s['go_clips']} | {s['unsafe_clips']} | {s['clip_bound']} | {s['most_unsafe_in_one_clip']} |")
    return "\n".join(lines + ["", "![by frame and by clip](gate_clips.png)", ""])


def plot(report: dict[str, Any], path: Path) -> None:
    splits = list(report["splits"])
    figure, axis = plt.subplots(figsize=(7, 3.6))
    for offset, (key, label) in zip((-0.2, 0.2), (("frame_bound", "by frame"), ("clip_bound", "by clip")),
                                    strict=True):
        axis.bar([i + offset for i in range(len(splits))], [report["splits"][s][key] for s in splits], 0.4,
                 label=label)
    axis.axhline(BOUND, color="black", linestyle="--", label=f"promise ({BOUND})")
    axis.set_xticks(range(len(splits)), [s.replace("test_", "") for s in splits])
    axis.set(ylabel="unsafe-GO 95% upper bound", ylim=(0, 1), title="Unsafe GO: frames vs clips as the units")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
