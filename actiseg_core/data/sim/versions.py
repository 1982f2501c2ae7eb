"""The benchmark's versions behind one interface: which splits exist, how a clip is made, what must be installed.

- ``v1``: robosuite's own objects and arms (:mod:`clip`); train / val / test; nothing to install.
- ``v2``: asset-pack objects, many embodiments, hard negatives, wrist cameras, depth and 3-D records
  (:mod:`clip_v2`), and the held-out splits; ``test_cross_renderer`` is rendered by pybullet (:mod:`bullet`).
  Its asset packs are installed on the first v2 render (:func:`prepare`), never by the demo or the tests.
Render workers resolve the clip maker by name (:func:`make_clip`), so tasks stay plain tuples across processes.
"""

from __future__ import annotations

import importlib.util

from actiseg_core.data.classes import ClassMap
from actiseg_core.data.sim import photometric
from actiseg_core.data.sim.clip import Clip
from actiseg_core.errors import ActiSegError

VERSIONS = ("v1", "v2")
V2_PACKS = ("libero-assets", "sweethome3d-furniture", "wallpapers", "robosuite-models")
CROSS_RENDERER = "test_cross_renderer"


def check_version(version: str) -> str:
    if version not in VERSIONS:
        raise ActiSegError(f"unknown ActiSeg-Sim version {version!r}: expected one of {', '.join(VERSIONS)}")
    return version


def default_clips(version: str) -> dict[str, int]:
    """Clips per split at the default size (10 frames per clip)."""
    if check_version(version) == "v1":
        from actiseg_core.data.sim.splits import DEFAULT_CLIPS
    else:
        from actiseg_core.data.sim.splits_v2 import DEFAULT_CLIPS
    return dict(DEFAULT_CLIPS)


def check_split(version: str, split: str) -> int:
    """The split's code (mixed into clip seeds); an unknown split of ``version`` is an :class:`ActiSegError`
    naming the version's splits."""
    if check_version(version) == "v1":
        from actiseg_core.data.sim.splits import split_code
    else:
        from actiseg_core.data.sim.splits_v2 import split_code
    return split_code(split)


def class_map(version: str) -> ClassMap:
    if check_version(version) == "v1":
        from actiseg_core.data.sim.catalog import V1 as catalog
    else:
        from actiseg_core.data.sim.catalog_v2 import V2 as catalog
    return catalog.class_map()


def prepare(version: str, split: str, progress: bool = True) -> None:
    """Install what a render of ``split`` needs before workers start (one progress line per package)."""
    if check_version(version) == "v1":
        return
    from actiseg_core.data.sim import packs

    for name in V2_PACKS:
        packs.pack_dir(name, progress=progress)
    packs.python_pack("robosuite-models")
    if split == CROSS_RENDERER and importlib.util.find_spec("pybullet") is None:
        raise ActiSegError("test_cross_renderer needs the Python package pybullet (pip install pybullet==3.2.7)")


def make_clip(version: str, seed: int, split: str, index: int, frames: int, sensors: bool) -> Clip:
    """Clip ``index`` of ``split``; v2 always records its sensors (depth, geometry, robot links) and passes its
    frames through a drawn camera sensor (:mod:`photometric`: exposure, white balance, noise, blur, JPEG)."""
    if check_version(version) == "v1":
        from actiseg_core.data.sim.clip import make_clip as v1_clip

        return v1_clip(seed, split, index, frames, sensors=sensors)
    if split == CROSS_RENDERER:
        from actiseg_core.data.sim.bullet.clip import make_clip as bullet_clip

        clip = bullet_clip(seed, split, index, frames, sensors=True)
    else:
        from actiseg_core.data.sim import packs
        from actiseg_core.data.sim.clip_v2 import make_clip as v2_clip

        packs.python_pack("robosuite-models")  # in every spawned worker: some embodiments come from it
        clip = v2_clip(seed, split, index, frames)
    rng = photometric.photometric_rng(seed, check_split(version, split), index)
    sensor = photometric.sample_sensor(rng)
    clip.images = photometric.apply(sensor, clip.images, clip.sequence.extra["camera"]["kind"], rng)
    clip.sequence.extra["photometric"] = sensor.to_json()
    return clip
