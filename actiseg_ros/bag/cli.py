"""``actiseg-bag``: ActionVOS-layout splits as rosbag2 recordings, and their replay through the segmenter.

    actiseg-bag to-bag --data data/actiseg_sim --split val --out bags/val [--storage mcap] [--sequences 3]
    actiseg-bag replay --bag bags/val --model models/default --out runs/replay            # offline, runtime only
    actiseg-bag replay --bag bags/val --live --out runs/replay_live                      # through the running node

The bag's contents: :mod:`actiseg_ros.bag.format`; the replay and its scores: :mod:`actiseg_ros.bag.replay`. For
``--live``, start the node with ``use_sim_time:=true`` (the player publishes ``/clock``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from actiseg_core.cli_util import OneLineParser, positive_float, positive_int, run_command
from actiseg_core.evaluation import Rate
from actiseg_core.runtime import BACKENDS
from actiseg_ros.bag.record import write_bag
from actiseg_ros.bag.replay import PROG, replay


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description="ActionVOS splits as rosbag2 recordings, and their replay.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    to_bag = commands.add_parser("to-bag", help="write an ActionVOS-layout split as a rosbag2")
    to_bag.add_argument("--data", type=Path, required=True, help="ActionVOS-layout root")
    to_bag.add_argument("--split", default="val")
    to_bag.add_argument("--out", type=Path, required=True, help="bag folder to create")
    to_bag.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3")
    to_bag.add_argument("--fps", type=positive_float, default=10.0, help="frame rate of the recording")
    to_bag.add_argument("--sequences", type=positive_int, default=None, help="only the first N sequences")
    to_bag.add_argument("--raw", action="store_true", help="sensor_msgs/Image rgb8 instead of the JPEG bytes")
    play = commands.add_parser("replay", help="score a bag through the runtime (offline) or the running node")
    play.add_argument("--bag", type=Path, required=True)
    play.add_argument("--out", type=Path, required=True, help="folder for replay.json (and overlay.mp4)")
    play.add_argument("--model", type=Path, default=Path("models/default"),
                      help="model folder (offline; its fitted gate is the gate)")
    play.add_argument("--backend", default="onnxruntime", choices=BACKENDS, help="runtime backend (offline)")
    play.add_argument("--live", action="store_true", help="play over DDS to a running node and score its answers")
    play.add_argument("--rate", type=positive_float, default=1.0, help="playback speed factor (live)")
    play.add_argument("--video", action="store_true", help="write overlay.mp4")
    play.add_argument("--quiet", action="store_true", help="no per-frame lines, no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def handler() -> None:
        if args.command == "to-bag":
            summary = write_bag(args.data, args.split, args.out, args.storage, args.fps, args.raw, args.sequences)
            print(f"{PROG}: wrote {summary['frames']} frames of {summary['sequences']} sequences to {args.out} "
                  f"({summary['storage']}, images on {summary['image_topic']})")
            return
        report = replay(args.bag, args.out, args.model, args.backend, args.live, args.rate, args.video,
                        progress=not args.quiet, print_frames=not args.quiet)
        gate, m = report["gate"], report["metrics"]
        print(f"{PROG}: {report['answered']}/{report['frames']} frames answered, GO {gate['go']}, NO-GO "
              f"{gate['no_go']}; unsafe-GO rate {_rate(gate['unsafe_go_rate'])}, GO availability "
              f"{_rate(gate['go_availability'])}, NO-GO precision {_rate(gate['no_go_precision'])}, recall "
              f"{_rate(gate['no_go_recall'])} ({gate['failure']}); p-mIoU {_cell(m['p-mIoU'])} n-mIoU "
              f"{_cell(m['n-mIoU'])} gIoU {_cell(m['gIoU'])}; written to {args.out}")

    return run_command(PROG, handler)


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _rate(rate: dict[str, Any]) -> str:
    return str(Rate.from_json(rate))


if __name__ == "__main__":
    sys.exit(main())
