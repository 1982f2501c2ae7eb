"""``actiseg-data``: render ActiSeg-Sim, inspect a data root, make noisy training views and noise reports."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from actiseg_core.cli_util import OneLineParser, positive_int, run_command, seed_int, unit_float
from actiseg_core.errors import ActiSegError

PROG = "actiseg-data"


def _render(args: argparse.Namespace) -> None:
    from actiseg_core.data.sim import versions
    from actiseg_core.data.sim.render import render_split

    defaults = versions.default_clips(args.version)
    splits = list(defaults) if args.split == "all" else [args.split]
    for split in splits:
        versions.check_split(args.version, split)  # every name is checked before anything renders
    for split in splits:
        clips = args.clips or defaults[split]
        summary = render_split(
            Path(args.out), split, clips, args.seed, workers=args.workers, frames_per_clip=args.frames,
            version=args.version,
        )  # fmt: skip
        print(
            f"rendered {summary.rendered_clips} clips ({summary.skipped_clips} already done) -> {summary.frames} "
            f"frames of {args.version} split {split} in {summary.seconds:.1f} s: {summary.frames_per_second:.2f} "
            f"frames/s, {summary.render_ms_per_frame:.0f} ms render per frame"
        )


def _stats(args: argparse.Namespace) -> None:
    from actiseg_core.data.stats import format_statistics, split_statistics, unseen_combinations

    report = {split: split_statistics(Path(args.root), split, progress=args.progress) for split in args.splits}
    for stats in report.values():
        print(format_statistics(stats))
    if "train" in report:
        for split, stats in report.items():
            if split != "train" and stats["combinations"]:
                overlap = unseen_combinations(report["train"], stats)
                report[split]["unseen_vs_train"] = overlap
                print(f"{split}: {overlap['unseen']} of {overlap['combinations']} (robot, object set, texture) "
                      "combinations unseen in train")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1, default=list))


def _corrupt(args: argparse.Namespace) -> None:
    from actiseg_core.noise.view import make_noisy_view

    if args.text_rate == 0 and args.mask_kernel == 0:
        raise ActiSegError("nothing to corrupt: give --text-rate > 0 and/or --mask-kernel > 0")
    out = make_noisy_view(
        Path(args.root),
        args.split,
        Path(args.out),
        args.text_rate,
        args.mask_kernel,
        args.seed,
        text_mode=args.text_noise_mode,
        mask_mode=args.mask_noise_mode,
    )
    print(f"noisy view written to {out}")


def _noise_report(args: argparse.Namespace) -> None:
    from actiseg_core.noise.report import write_noise_report

    summary = write_noise_report(
        Path(args.root),
        args.split,
        Path(args.out),
        args.seed,
        text_mode=args.text_noise_mode,
        mask_mode=args.mask_noise_mode,
    )
    print(json.dumps(summary, indent=1, default=str))


def _preview(args: argparse.Namespace) -> None:
    from actiseg_core.data.preview import write_preview

    print(f"preview written to {write_preview(Path(args.root), args.split, Path(args.out), args.count, args.seed)}")


def _add_noise_modes(parser: argparse.ArgumentParser) -> None:
    """``--text-noise-mode`` and ``--mask-noise-mode``: the released generators' variants by default."""
    from actiseg_core.noise.modes import (
        DEFAULT_MASK_NOISE_MODE,
        DEFAULT_TEXT_NOISE_MODE,
        MASK_NOISE_MODES,
        TEXT_NOISE_MODES,
    )

    parser.add_argument(
        "--text-noise-mode",
        choices=TEXT_NOISE_MODES,
        default=DEFAULT_TEXT_NOISE_MODE,
        help="Alg. 1: flip_only (the released generator) or flip_or_synonym (also renames within the class)",
    )
    parser.add_argument(
        "--mask-noise-mode",
        choices=MASK_NOISE_MODES,
        default=DEFAULT_MASK_NOISE_MODE,
        help="Alg. 2: official (dilate active objects only, the released generator) or all_objects",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    render = commands.add_parser("render", help="render ActiSeg-Sim clips in the ActionVOS layout (resumable)")
    render.add_argument("--out", required=True, help="data root to write (existing clips are kept)")
    render.add_argument("--version", default="v1", choices=["v1", "v2"], help="benchmark version (default v1)")
    render.add_argument(
        "--split",
        required=True,
        help="v1: train, val, test; v2: train, val, test, test_novel_class, test_novel_robot, test_cross_renderer, "
        "calib; or all (every split of the version at its default size)",
    )
    render.add_argument(
        "--clips", type=positive_int, help="clips (sequences); default: v1 train 150, val / test 30; v2 see README"
    )
    render.add_argument("--seed", type=seed_int, default=0)
    render.add_argument("--frames", type=positive_int, default=10, help="annotated frames per clip (>= 8)")
    render.add_argument("--workers", type=positive_int, default=2, help="render processes (default: 2 cores)")
    render.set_defaults(func=_render)

    stats = commands.add_parser("stats", help="print statistics of an ActionVOS-layout root")
    stats.add_argument("root")
    stats.add_argument("--splits", nargs="+", default=["train", "val"])
    stats.add_argument("--json", help="also write the statistics as JSON here")
    stats.add_argument("--progress", action="store_true", help="show a progress bar")
    stats.set_defaults(func=_stats)

    corrupt = commands.add_parser("corrupt", help="write a noisy training view (Alg. 1 names, Alg. 2 masks)")
    corrupt.add_argument("--root", required=True, help="clean ActionVOS-layout root")
    corrupt.add_argument("--split", default="train")
    corrupt.add_argument("--out", required=True, help="where the noisy root is written")
    corrupt.add_argument("--text-rate", type=unit_float, default=0.0, help="Alg. 1 class-flip rate rho")
    corrupt.add_argument("--mask-kernel", type=int, default=0, help="Alg. 2 square dilation kernel k (0: clean)")
    corrupt.add_argument("--seed", type=seed_int, default=0)
    _add_noise_modes(corrupt)
    corrupt.set_defaults(func=_corrupt)

    report = commands.add_parser("noise-report", help="severity (Fig. 3) and category shift (Fig. 2) report")
    report.add_argument("--root", required=True)
    report.add_argument("--split", default="train")
    report.add_argument("--out", default="benchmarks/results", help="folder for Markdown, PNG and JSON")
    report.add_argument("--seed", type=seed_int, default=0)
    _add_noise_modes(report)
    report.set_defaults(func=_noise_report)

    preview = commands.add_parser("preview", help="contact sheet: frames, object masks, robot parts (PNG)")
    preview.add_argument("root")
    preview.add_argument("--split", default="val")
    preview.add_argument("--out", required=True, help="PNG file to write")
    preview.add_argument("--count", type=positive_int, default=4, help="number of frames")
    preview.add_argument("--seed", type=seed_int, default=0)
    preview.set_defaults(func=_preview)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(PROG, lambda: args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
