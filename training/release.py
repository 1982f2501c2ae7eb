"""``python -m training.release CHECKPOINT OUT``: a model-only copy of a training checkpoint, for models/."""

from __future__ import annotations

from pathlib import Path

from actiseg_core.cli_util import OneLineParser, run_command
from training.checkpoint import release_checkpoint

PROG = "training.release"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__)
    parser.add_argument("checkpoint", type=Path, help="actiseg-train checkpoint (e.g. runs/default/best.pt)")
    parser.add_argument("out", type=Path, help="model file to write (e.g. models/default/model.pt)")
    args = parser.parse_args(argv)

    def release() -> None:
        released = release_checkpoint(args.checkpoint, args.out)
        size_mb = args.out.stat().st_size / 2**20
        print(f"{args.out}: {size_mb:.1f} MB, step {released.get('step')}, weights and config only")

    return run_command(PROG, release)


if __name__ == "__main__":
    raise SystemExit(main())
