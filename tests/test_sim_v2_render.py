"""ActiSeg-Sim v2's clip pipeline rendered for real (MuJoCo, no mocks) from robosuite's own objects.

CI has no asset packs, so the clips here come from a small catalog of robosuite objects with coloured looks of one
class (three blocks), which exercises what v2 adds: hard negatives and the words that tell them apart, the wrist
camera, multi-object actions, the v2 record and the sensors. The pack catalog itself is checked without meshes in
``test_sim_v2_catalog.py``.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from actiseg_core.data.sim.catalog import (  # noqa: E402
    FLOOR_TEXTURES,
    GRIPPER,
    TABLE_TEXTURES,
    V1,
    WALL_TEXTURES,
    Catalog,
    Embodiment,
    ObjectKind,
)
from actiseg_core.data.sim.clip_v2 import clip_rng, make_clip, plan_clip  # noqa: E402
from actiseg_core.data.sim.splits_v2 import SplitPool  # noqa: E402

FRAMES = 8
COLOURS = {"red": [0.85, 0.1, 0.1, 1], "blue": [0.1, 0.3, 0.9, 1], "green": [0.1, 0.7, 0.2, 1]}


def _block(rgba: list[float]):
    def build(name: str):
        from robosuite.models.objects import BoxObject

        return BoxObject(name=name, size=[0.022] * 3, rgba=rgba)

    return build


def _source() -> SplitPool:
    block = V1.kind("block")
    blocks = tuple(
        ObjectKind(block.class_id, f"block_{c}", block.names, _block(rgba), graspable=True, stackable=True,
                   colour=c, source=f"test:block_{c}")
        for c, rgba in COLOURS.items()
    )  # fmt: skip
    kinds = tuple(dataclasses.replace(k, source=f"robosuite:{k.label}") for k in V1.objects if k.label != "block")
    catalog = Catalog(
        version="test",
        gripper=GRIPPER,
        objects=blocks + kinds,
        embodiments=(Embodiment("panda", "Panda"), Embodiment("ur5e", "UR5e")),
        table_textures=TABLE_TEXTURES,
        floor_textures=FLOOR_TEXTURES,
        wall_textures=WALL_TEXTURES,
    )
    pairs = tuple((r, t) for r in ("panda", "ur5e") for t in TABLE_TEXTURES[:3])
    return SplitPool(("panda", "ur5e"), pairs, blocks + kinds, blocks + kinds, catalog)


@pytest.fixture(scope="module")
def planned() -> list[tuple[int, object, object, object]]:
    """The first clips of the fixture's train split, planned (not rendered): index, scene, episode, motion."""
    source = _source()
    out = []
    for index in range(14):
        scene, episode, motion = plan_clip(clip_rng(3, "train", index), "train", FRAMES, source)
        out.append((index, scene, episode, motion))
    return out


def test_clips_show_hard_negatives_wrist_views_and_v2_actions(planned) -> None:
    episodes = [episode for _, _, episode, _ in planned]
    assert any(e.twin for e in episodes) and any(e.view.kind == "wrist" for e in episodes)
    for episode in episodes:
        spec = episode.spec
        assert spec.names[spec.target] in spec.narration.text
        assert len(set(spec.names.values())) == len(spec.names), "names are unique within a clip"
        if episode.twin:
            assert spec.names[episode.twin] not in spec.narration.text
            assert episode.catalog.kind(episode.twin).class_id == episode.catalog.kind(spec.target).class_id


def test_planning_is_deterministic(planned) -> None:
    source = _source()
    index, _, episode, motion = planned[0]
    _, again, motion_again = plan_clip(clip_rng(3, "train", index), "train", FRAMES, source)
    assert again.spec.narration == episode.spec.narration and again.spec.names == episode.spec.names
    assert all(np.array_equal(a, b) for a, b in zip(motion.frames, motion_again.frames, strict=True))


def test_a_hard_negative_clip_renders_with_true_words_and_sensors(planned) -> None:
    index, _, episode, _ = next(p for p in planned if p[2].twin and p[2].view.kind == "external")
    clip = make_clip(3, "train", index, FRAMES, _source())
    seq = clip.sequence
    by_name = {obj.name: k for k, obj in seq.objects.items()}
    spec = episode.spec
    target, twin = by_name[spec.names[spec.target]], by_name[spec.names[episode.twin]]
    assert seq.objects[target].positive and not seq.objects[twin].positive
    assert seq.extra["hard_negative"] == spec.names[episode.twin] and seq.extra["version"] == "v2"
    first = clip.labels[0]
    assert (first == target).any() and (first == twin).any(), "both instances are in the first frame"
    words = spec.names[spec.target]
    columns = [np.nonzero(first == k)[1].mean() for k in (target, twin)]
    if words.endswith("on the left"):
        assert columns[0] < columns[1]
    elif words.endswith("on the right"):
        assert columns[0] > columns[1]
    else:  # a colour word, or in front / at the back: the colour kinds differ, or depth orders them
        assert words.split()[0] in COLOURS or "front" in words or "back" in words
    assert clip.geometry is not None and len(clip.depth) == FRAMES and len(clip.links) == FRAMES
    table = clip.depth[0][first == 0]
    assert np.median(table[table > 0]) > 300, "depth in millimetres"
