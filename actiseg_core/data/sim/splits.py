"""Train / validation / test partition with unseen (robot, object set, table texture) combinations.

The (robot, table texture) pairs are split deterministically: pair (r, t) is held out when (r + t) % 5 == 0 over
the catalog's order, i.e. 20 % of the pairs, every robot with two held-out textures and every texture held out for
some robot. Training samples only the other pairs and val / test only held-out ones, so no (robot, object set,
texture) triple of val or test occurs in train, while each robot and each texture alone is seen in training.
"""

from __future__ import annotations

from actiseg_core.data.sim.catalog import ROBOTS, TABLE_TEXTURES
from actiseg_core.errors import ActiSegError

SPLIT_CODES: dict[str, int] = {"train": 0, "val": 1, "test": 2}
# The benchmark's default sizes at 10 frames per clip: 1,500 train frames, 300 val and 300 test frames.
DEFAULT_CLIPS: dict[str, int] = {"train": 150, "val": 30, "test": 30}
_HELD_OUT_PERIOD = 5


def split_code(split: str) -> int:
    """The number mixed into every clip's seed; unknown split names are an :class:`ActiSegError`."""
    if split not in SPLIT_CODES:
        raise ActiSegError(f"unknown split {split!r}: expected one of {', '.join(SPLIT_CODES)}")
    return SPLIT_CODES[split]


def is_held_out(robot: str, texture: str) -> bool:
    """Whether the (robot, table texture) pair belongs to val / test only."""
    r = list(ROBOTS).index(robot)
    t = TABLE_TEXTURES.index(texture)
    return (r + t) % _HELD_OUT_PERIOD == 0


def split_pairs(split: str) -> list[tuple[str, str]]:
    """The (robot, table texture) pairs a split samples from, in catalog order."""
    held_out = split_code(split) != SPLIT_CODES["train"]
    return [(r, t) for r in ROBOTS for t in TABLE_TEXTURES if is_held_out(r, t) == held_out]
