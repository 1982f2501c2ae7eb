"""ActiSeg-Sim v2's catalog and splits: counts, unique names, and nothing held out leaking into training.

These run without the asset packs: the catalog and the episode sampler never open a mesh (kinds resolve their pack
only when a scene is compiled), so a leak is caught in CI from what the sampler draws.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from actiseg_core.data.layout import ObjectInfo, Sequence
from actiseg_core.data.sim.catalog import class_label
from actiseg_core.data.sim.catalog_v2 import NOVEL_CLASSES, V2
from actiseg_core.data.sim.episode_v2 import HARD_NEGATIVE_SHARE, sample_episode_v2
from actiseg_core.data.sim.splits_v2 import HELD_OUT_ROBOTS, SPLIT_CODES, is_novel, leaks, novel_names, pool
from actiseg_core.errors import ActiSegError

TRAINING_SPLITS = ("train", "val", "test", "calib", "test_novel_robot")


def _classes() -> dict[int, set[str]]:
    classes: dict[int, set[str]] = {}
    for kind in V2.objects:
        classes.setdefault(kind.class_id, set()).add(class_label(kind))
    return classes


def test_catalog_counts() -> None:
    classes = _classes()
    assert all(len(labels) == 1 for labels in classes.values()), "one label per class id"
    assert len(classes) >= 60
    assert len(NOVEL_CLASSES) >= 15 and NOVEL_CLASSES <= {lb for labels in classes.values() for lb in labels}
    assert all(len(k.names) >= 2 for k in V2.objects)
    assert len(V2.embodiments) >= 12 and len(HELD_OUT_ROBOTS) >= 2
    assert set(HELD_OUT_ROBOTS) <= {e.label for e in V2.embodiments}
    assert len({k.label for k in V2.objects}) == len(V2.objects)
    assert len({k.source for k in V2.objects}) == len(V2.objects), "every kind has its own mesh"


def test_a_name_belongs_to_one_class() -> None:
    owner: dict[str, int] = {}
    for kind in V2.objects:
        for name in kind.names:
            assert owner.setdefault(name, kind.class_id) == kind.class_id, name
    seen = [n for k in V2.objects if not is_novel(k) for n in k.names]
    for name in novel_names():  # no seen name contains a held-out name as a phrase ("puzzle cube" vs "cube")
        assert not [s for s in seen if f" {name} " in f" {s} "], name


def test_v2_class_ids_keep_v1_meaning() -> None:
    from actiseg_core.data.sim.catalog import V1

    v1 = {k.class_id: k.label for k in V1.objects}
    for kind in V2.objects:
        if kind.class_id in v1:
            assert class_label(kind) == v1[kind.class_id]


@pytest.mark.parametrize("split", TRAINING_SPLITS)
def test_pools_hold_nothing_held_out(split: str) -> None:
    source = pool(split)
    assert not [k for k in source.targets + source.distractors if is_novel(k)]
    if split != "test_novel_robot":
        assert not set(source.robots) & set(HELD_OUT_ROBOTS)
    else:
        assert set(source.robots) == set(HELD_OUT_ROBOTS)


def test_val_and_test_pairs_are_unseen_combinations() -> None:
    train = set(pool("train").pairs)
    for split in ("val", "test", "test_novel_class", "calib"):
        pairs = set(pool(split).pairs)
        assert pairs and not pairs & train
        assert {r for r, _ in pairs} <= {r for r, _ in train}  # each robot seen alone


def test_calib_draws_as_val_does_but_other_clips() -> None:
    assert pool("calib") == pool("val")
    calib, val = (sample_episode_v2(np.random.default_rng([0, SPLIT_CODES[s], 3]), s) for s in ("calib", "val"))
    assert calib.spec != val.spec


def _record(split: str, index: int) -> Sequence:
    """A sampled episode as the record a render would write (names drawn the way the clip names them)."""
    episode = sample_episode_v2(np.random.default_rng([7, SPLIT_CODES[split], index]), split)
    spec = episode.spec
    objects = {
        i: ObjectInfo(i, V2.kind(label).names[0], V2.kind(label).class_id, False, False, False)
        for i, label in enumerate(spec.scene.objects, start=1)
    }
    extra = {
        "robot": spec.scene.robot,
        "kinds": {o.name: lb for o, lb in zip(objects.values(), spec.scene.objects, strict=True)},
    }
    return Sequence(index + 1, "sim", "", "", "", ["0000000001"], objects, extra=extra)


def test_sampled_training_episodes_do_not_leak() -> None:
    records = [_record(split, i) for split in ("train", "val", "calib") for i in range(150)]
    assert leaks(records) == []
    novel = [_record("test_novel_class", i) for i in range(40)]
    assert leaks(novel), "the leak check must see held-out classes"


def test_leak_check_catches_each_kind_of_leak() -> None:
    clean = _record("train", 0)
    novel_kind = next(k for k in V2.objects if is_novel(k))
    by_name = dataclasses.replace(clean, narration=f"pick up the {novel_kind.names[1]}")
    by_kind = dataclasses.replace(clean, extra={**clean.extra, "kinds": {"thing": novel_kind.label}})
    by_robot = dataclasses.replace(clean, extra={**clean.extra, "robot": HELD_OUT_ROBOTS[0]})
    by_renderer = dataclasses.replace(clean, extra={**clean.extra, "renderer": "pybullet"})
    assert leaks([clean]) == []
    for leaked, what in ((by_name, "name"), (by_kind, "object"), (by_robot, "embodiment"), (by_renderer, "rendered")):
        assert leaks([leaked]) and all(what in line for line in leaks([leaked]))


def test_novel_class_split_targets_novel_classes() -> None:
    for index in range(40):
        episode = sample_episode_v2(np.random.default_rng([7, 103, index]), "test_novel_class")
        assert is_novel(V2.kind(episode.spec.target))


def test_hard_negatives_and_actions_are_drawn() -> None:
    episodes = [sample_episode_v2(np.random.default_rng([3, 100, i]), "train") for i in range(300)]
    twins = [e for e in episodes if e.twin]
    assert abs(len(twins) / len(episodes) - HARD_NEGATIVE_SHARE) < 0.08
    for episode in twins:
        assert V2.kind(episode.twin).class_id == V2.kind(episode.spec.target).class_id
        assert episode.twin not in (episode.spec.target, episode.spec.destination)
    assert {e.spec.action for e in episodes} == {"pick", "put", "push", "move", "stack", "move_next"}
    assert {e.view.kind for e in episodes} == {"external", "wrist"}
    for episode in episodes:
        classes = [class_label(V2.kind(lb)) for lb in episode.spec.scene.objects if lb != episode.twin]
        assert len(classes) == len(set(classes)), "apart from the hard negative, one object per class"
        assert 2 <= len(episode.spec.scene.objects) <= 5


def test_unknown_split() -> None:
    with pytest.raises(ActiSegError, match="unknown v2 split"):
        pool("tset")
