"""ActiSeg-Sim v2's splits: what each may show, so that held-out classes, robots and the renderer stay held out.

- ``train``: seen classes (every class but :data:`catalog_v2.NOVEL_CLASSES`), seen embodiments, (embodiment, table
  texture) pairs of the training partition;
- ``val`` and ``test``: seen classes and embodiments in the held-out pairs (unseen combinations, as v1's val);
  ``test`` is the in-domain test split final tables are reported on once, ``val`` the one designs are chosen on;
- ``calib``: drawn as ``val`` is, for the GO / NO-GO gate's calibration: many clips, because frames of one clip
  are correlated and a bound that treats clips as the independent units needs >= 59 GO clips for a 5% promise
  (``benchmarks/gate_clips.py``), more than ``val``'s 60 clips can give;
- ``test_novel_class``: targets and destinations from the novel classes, distractors from any class;
- ``test_novel_robot``: seen classes, only the embodiments of :data:`HELD_OUT_ROBOTS`;
- ``test_cross_renderer``: the same kinds of scenes rendered with pybullet (:mod:`bullet`), seen classes.
The pairs are split as v1's: pair (r, t) is held out when (r + t) % 5 == 0 over the catalog's order.
"""

from __future__ import annotations

from dataclasses import dataclass

from actiseg_core.data.layout import Sequence
from actiseg_core.data.sim.catalog import Catalog, ObjectKind, class_label
from actiseg_core.data.sim.catalog_v2 import NOVEL_CLASSES, V2
from actiseg_core.errors import ActiSegError

# Clip seeds mix in a split code; v2's codes differ from v1's so that no clip of one repeats a clip of the other.
SPLIT_CODES: dict[str, int] = {
    "train": 100,
    "val": 101,
    "test": 102,
    "test_novel_class": 103,
    "test_novel_robot": 104,
    "test_cross_renderer": 105,
    "calib": 106,
}
# Default sizes at 10 frames per clip: 6,000 train frames, 600 val, 300 per test split, 3,000 calib.
DEFAULT_CLIPS: dict[str, int] = {
    "train": 600,
    "val": 60,
    "test": 30,
    "test_novel_class": 30,
    "test_novel_robot": 30,
    "test_cross_renderer": 30,
    "calib": 300,
}
HELD_OUT_ROBOTS: tuple[str, ...] = ("vx300s", "ur5e_fourier_hand")  # an unseen arm family, an unseen hand
_HELD_OUT_PERIOD = 5


@dataclass(frozen=True)
class SplitPool:
    """What a split draws from: embodiment labels, (embodiment, table) pairs, target and distractor kinds, and the
    catalog they are resolved in (v2's; tests pass a small one built from robosuite's objects)."""

    robots: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    targets: tuple[ObjectKind, ...]
    distractors: tuple[ObjectKind, ...]
    catalog: Catalog = V2


def split_code(split: str) -> int:
    if split not in SPLIT_CODES:
        raise ActiSegError(f"unknown v2 split {split!r}: expected one of {', '.join(SPLIT_CODES)}")
    return SPLIT_CODES[split]


def is_novel(kind: ObjectKind) -> bool:
    return class_label(kind) in NOVEL_CLASSES


def seen_robots() -> tuple[str, ...]:
    return tuple(e.label for e in V2.embodiments if e.label not in HELD_OUT_ROBOTS)


def pool(split: str) -> SplitPool:
    """The split's pool (see the module docstring); deterministic, in catalog order."""
    split_code(split)
    robots = HELD_OUT_ROBOTS if split == "test_novel_robot" else seen_robots()
    held_out_pairs = split in ("val", "test", "test_novel_class", "calib")
    pairs = tuple(
        (robot, table)
        for r, robot in enumerate(robots)
        for t, table in enumerate(V2.table_textures)
        if split == "test_novel_robot" or ((r + t) % _HELD_OUT_PERIOD == 0) == held_out_pairs
    )
    seen = tuple(k for k in V2.objects if not is_novel(k))
    novel = tuple(k for k in V2.objects if is_novel(k))
    if split == "test_novel_class":
        return SplitPool(robots, pairs, novel, novel + seen)
    return SplitPool(robots, pairs, seen, seen)


def novel_names() -> frozenset[str]:
    """Every name of every held-out class."""
    return frozenset(n for k in V2.objects if is_novel(k) for n in k.names)


def _mentions(text: str, phrase: str) -> bool:
    return f" {phrase} " in f" {text} "


def leaks(sequences: list[Sequence]) -> list[str]:
    """What of the held-out test splits shows in ``sequences`` (a training split): one line per leak.

    A leak is a held-out class by kind, by mesh source or by any of its names (as a whole-word phrase of an object
    name or the narration), a held-out embodiment, or a frame of the held-out renderer.
    """
    novel = {k.label for k in V2.objects if is_novel(k)}
    novel_sources = {k.source for k in V2.objects if is_novel(k)}
    sources = {k.label: k.source for k in V2.objects}
    names = novel_names()
    found = []
    for seq in sequences:
        where = f"sequence {seq.seq_id}"
        if seq.extra.get("robot") in HELD_OUT_ROBOTS:
            found.append(f"{where}: held-out embodiment {seq.extra['robot']}")
        if seq.extra.get("renderer", "mujoco") != "mujoco":
            found.append(f"{where}: rendered with {seq.extra['renderer']}")
        for kind in seq.extra.get("kinds", {}).values():
            if kind in novel or sources.get(kind) in novel_sources:
                found.append(f"{where}: held-out object {kind}")
        texts = [seq.narration] + [obj.name for obj in seq.objects.values()]
        found += [f"{where}: held-out name {n!r}" for n in sorted(names) if any(_mentions(t, n) for t in texts)]
    return found
