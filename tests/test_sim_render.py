"""ActiSeg-Sim renderer: real MuJoCo renders of two tiny clips (no mocks), checked file by file.

One pool render (2 workers) and one in-process render of the same seed must agree byte for byte: that is both
the determinism check and the proof that results do not depend on worker scheduling.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("MUJOCO_GL", "egl")

from actiseg_core.data.classes import read_class_map  # noqa: E402
from actiseg_core.data.layout import (  # noqa: E402
    ANNOTATION_HEIGHT,
    ANNOTATION_WIDTH,
    ROBOT_PART_ARM,
    ROBOT_PART_GRIPPER,
    Sequence,
    annotation_path,
    frame_path,
    image_set_path,
    read_image_set,
    read_label_png,
    read_rgb,
    robot_parts_path,
)
from actiseg_core.data.sim.catalog import GRIPPER, OBJECTS, ROBOTS, TABLE_TEXTURES, class_map  # noqa: E402
from actiseg_core.data.sim.episode import sample_episode  # noqa: E402
from actiseg_core.data.sim.motion import allocate_intervals  # noqa: E402
from actiseg_core.data.sim.render import clip_marker, render_split  # noqa: E402
from actiseg_core.data.sim.splits import is_held_out, split_pairs  # noqa: E402
from actiseg_core.data.stats import combination  # noqa: E402
from actiseg_core.errors import ActiSegError  # noqa: E402

SEED = 7
CLIPS = 2
FRAMES = 8


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "root"
    summary = render_split(out, "train", CLIPS, SEED, workers=2, frames_per_clip=FRAMES, progress=False)
    assert (summary.clips, summary.rendered_clips, summary.skipped_clips) == (CLIPS, CLIPS, 0)
    assert summary.frames == CLIPS * FRAMES and summary.render_ms_per_frame > 0
    return out


@pytest.fixture(scope="module")
def sequences(rendered: Path) -> list[Sequence]:
    return read_image_set(rendered, "train")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_files_exist(rendered: Path, sequences: list[Sequence]) -> None:
    assert [s.seq_id for s in sequences] == list(range(1, CLIPS + 1))
    classes = read_class_map(rendered / "ImageSets" / "classes.json")
    assert classes[GRIPPER.class_id].names == GRIPPER.names
    for seq in sequences:
        assert seq.video == f"sim_{seq.extra['robot']}" and len(seq.sparse_frames) == FRAMES
        assert {"robot", "texture", "object_set", "action", "camera", "light"} <= set(seq.extra)
        size = (ANNOTATION_HEIGHT, ANNOTATION_WIDTH)
        for frame in seq.sparse_frames:
            assert read_rgb(frame_path(rendered, "train", seq, frame)).shape == (*size, 3)
            assert read_label_png(annotation_path(rendered, "train", seq, frame)).shape == size
            assert read_label_png(robot_parts_path(rendered, "train", seq, frame)).shape == size


def test_objects_follow_actionvos_rules(sequences: list[Sequence]) -> None:
    for seq in sequences:
        objects = seq.objects
        names = [objects[k].name for k in sorted(objects)]
        assert names == sorted(names) and len(set(names)) == len(names)
        assert 4 <= len(objects) <= 6  # 3 to 5 objects plus the gripper
        for obj in objects.values():
            assert obj.positive == (obj.handbox or obj.narration)
            if obj.narration:
                assert obj.name in seq.narration
        grippers = [o for o in objects.values() if o.class_id == GRIPPER.class_id]
        assert len(grippers) == 1 and grippers[0].handbox and grippers[0].positive
        assert grippers[0].name in GRIPPER.names
        target = [o for o in objects.values() if o.narration and o.handbox]
        assert len(target) == 1 and target[0].class_id == seq.noun_class
        assert any(not o.positive for o in objects.values()), "every clip has distractors"


def test_label_maps_and_robot_parts(rendered: Path, sequences: list[Sequence]) -> None:
    for seq in sequences:
        gripper = next(k for k, o in seq.objects.items() if o.class_id == GRIPPER.class_id)
        target = next(k for k, o in seq.objects.items() if o.narration and o.handbox)
        seen_gripper = seen_target = 0
        shown: set[int] = set()
        for frame in seq.sparse_frames:
            labels = read_label_png(annotation_path(rendered, "train", seq, frame))
            parts = read_label_png(robot_parts_path(rendered, "train", seq, frame))
            assert set(np.unique(labels)) <= {0} | set(seq.objects)
            shown |= set(np.unique(labels).tolist())
            assert set(np.unique(parts)) <= {0, ROBOT_PART_ARM, ROBOT_PART_GRIPPER}
            assert (parts == ROBOT_PART_ARM).sum() > 0 and (parts == ROBOT_PART_GRIPPER).sum() > 0
            # the gripper's label pixels are exactly its robot-part pixels: one geom -> one owner
            assert np.array_equal(labels == gripper, parts == ROBOT_PART_GRIPPER)
            seen_gripper += bool((labels == gripper).any())
            seen_target += bool((labels == target).any())
        assert seen_gripper >= 0.8 * FRAMES and seen_target >= 0.8 * FRAMES
        assert shown == {0} | set(seq.objects), "every annotated object is in view"


def test_same_seed_is_byte_identical(rendered: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    render_split(again, "train", CLIPS, SEED, workers=1, frames_per_clip=FRAMES, progress=False)
    first, second = _files(rendered), _files(again)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_v1_renders_as_it_did_before_v2(tmp_path: Path) -> None:
    """v1 stays reproducible: clip 0 of train and val (seed 0) against a reference recorded at commit 7f6624c.

    Records, label maps and robot-part masks must match byte for byte; the JPEG frames are compared as 16x9
    box-filtered thumbnails within 2 grey levels, because llvmpipe's shading may round differently on another CPU.
    """
    reference = json.loads((Path(__file__).parent / "fixtures" / "v1_render_reference.json").read_text())
    for split in ("train", "val"):
        render_split(tmp_path, split, 1, reference["seed"], workers=1, frames_per_clip=10, progress=False)
    for name, digest in reference["exact"].items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, name
    for name, thumbnail in reference["rgb_thumbnails"].items():
        small = np.asarray(Image.open(tmp_path / name).convert("RGB").resize((16, 9), Image.BOX), dtype=float)
        assert np.abs(small - np.asarray(thumbnail)).max() <= 2.0, name


def test_resume_redoes_only_the_unfinished_clip(rendered: Path, sequences: list[Sequence], tmp_path: Path) -> None:
    root = tmp_path / "resume"
    shutil.copytree(rendered, root)  # copy2 keeps mtimes
    done, partial = sequences
    clip_marker(root, "train", partial.seq_id - 1).unlink()
    frame_path(root, "train", partial, partial.sparse_frames[3]).unlink()
    kept = {p: p.stat().st_mtime_ns for p in (root / "JPEGImages_Sparse" / "train" / done.folder).iterdir()}
    kept[clip_marker(root, "train", done.seq_id - 1)] = clip_marker(root, "train", done.seq_id - 1).stat().st_mtime_ns
    summary = render_split(root, "train", CLIPS, SEED, workers=1, frames_per_clip=FRAMES, progress=False)
    assert (summary.rendered_clips, summary.skipped_clips) == (1, 1)
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert frame_path(root, "train", partial, partial.sparse_frames[3]).is_file()
    assert image_set_path(root, "train").read_bytes() == image_set_path(rendered, "train").read_bytes()


def test_train_and_val_combinations_are_disjoint(sequences: list[Sequence]) -> None:
    assert all(not is_held_out(s.extra["robot"], s.extra["texture"]) for s in sequences)
    drawn = {}
    for split in ("train", "val"):
        episodes = [sample_episode(np.random.default_rng([SEED, i]), split) for i in range(150)]
        drawn[split] = [
            Sequence(
                i,
                "v",
                "n",
                "v",
                "n",
                ["f"],
                {},
                extra={"robot": e.scene.robot, "texture": e.scene.table_texture, "object_set": list(e.scene.objects)},
            )
            for i, e in enumerate(episodes)
        ]
    assert not {combination(s) for s in drawn["train"]} & {combination(s) for s in drawn["val"]}
    assert {combination(s)[0] for s in drawn["val"]} == set(ROBOTS)  # every robot has held-out pairs
    train_pairs = set(split_pairs("train"))
    assert {r for r, _ in train_pairs} == set(ROBOTS) and {t for _, t in train_pairs} == set(TABLE_TEXTURES)


def test_catalog_has_classes_with_synonyms() -> None:
    classes = class_map()
    assert len(OBJECTS) >= 6 and len(ROBOTS) >= 3 and any(k.container for k in OBJECTS)
    assert all(len(c.names) >= 3 for c in classes.values())
    names = [n for c in classes.values() for n in c.names]
    assert len(names) == len(set(names)), "a name belongs to one class only"


def test_frames_cover_every_waypoint() -> None:
    assert allocate_intervals([0.3, 0.1, 0.0, 0.2], 9) == [3, 2, 1, 3]
    with pytest.raises(ValueError):
        allocate_intervals([0.1] * 8, 7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"clips": 0}, "clips must be at least 1"),
        ({"split": "bogus"}, "unknown split"),
        ({"frames_per_clip": 7}, "frames_per_clip must be at least 8"),
        ({"seed": -1}, "non-negative"),
        ({"workers": 0}, "workers"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    arguments = {"out": tmp_path / "x", "split": "train", "clips": 1, "seed": 0} | kwargs
    with pytest.raises(ActiSegError, match=message) as error:
        render_split(**arguments, progress=False)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "x").exists()


def test_out_that_is_a_file_or_holds_another_seed(rendered: Path, tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("not a folder")
    with pytest.raises(ActiSegError, match="not a folder"):
        render_split(path, "train", 1, 0, progress=False)
    with pytest.raises(ActiSegError, match="use another folder"):
        render_split(rendered, "train", CLIPS, SEED + 1, frames_per_clip=FRAMES, progress=False)
