"""ActiSeg-Sim v2 sensors: real MuJoCo renders of one short v1-catalog clip with depth, camera, 3-D and link maps.

The clip (seed 16, train clip 0: an iiwa pushes the block toward the ball, with milk and plate) holds a sphere and a
cube, whose surfaces are known exactly, so depth, intrinsics, pose and 3-D records are checked against geometry,
not against themselves: the table top for depth units, the ball and block for unprojection, MuJoCo's own rendering
camera for pose and K, the segmented pixels for projection, v1's robot-part masks for the link maps.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402

from actiseg_core.data.geometry_layout import (  # noqa: E402
    DEPTH_DIR,
    GEOMETRY_DIR,
    LINK_GROUPS,
    ROBOT_LINK_BASE,
    ROBOT_LINK_GRIPPER,
    ROBOT_LINKS_DIR,
    SequenceGeometry,
    depth_path,
    encode_depth_png,
    geometry_path,
    parse_geometry,
    project,
    read_depth_png,
    read_geometry,
    robot_links_path,
    transform,
    unproject,
    write_depth_png,
)
from actiseg_core.data.layout import (  # noqa: E402
    ANNOTATION_HEIGHT,
    ANNOTATION_WIDTH,
    ROBOT_PART_GRIPPER,
    Sequence,
    annotation_path,
    read_image_set,
    read_label_png,
    robot_parts_path,
)
from actiseg_core.data.sim.catalog import GRIPPER, ROBOTS  # noqa: E402
from actiseg_core.data.sim.clip import clip_rng, plan_clip  # noqa: E402
from actiseg_core.data.sim.frames import render_frames, visual_option  # noqa: E402
from actiseg_core.data.sim.render import MIN_FRAMES, render_split  # noqa: E402
from actiseg_core.data.sim.scene import TABLE_TOP_Z, Lighting, SceneSpec, build_scene  # noqa: E402
from actiseg_core.data.sim.segmentation import Segmenter  # noqa: E402
from actiseg_core.data.sim.sensors import (  # noqa: E402
    arm_link_groups,
    camera_pose,
    depth_millimetres,
    intrinsics,
    robot_links,
)
from actiseg_core.data.sim.world import World  # noqa: E402
from actiseg_core.errors import DataError  # noqa: E402

SEED = 16
SPLIT = "train"
FRAMES = MIN_FRAMES
BALL_RADIUS = 0.027  # catalog: BallObject size 0.027
BLOCK_HALF = 0.022  # catalog: BoxObject half-size 0.022
DEPTH_STEP = 0.0005  # half a millimetre: the depth PNG's rounding
NEW_FOLDERS = {DEPTH_DIR, ROBOT_LINKS_DIR, GEOMETRY_DIR}
WRIST_CAMERA = "robot0_eye_in_hand"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[Path]]:
    """A sensors-on render of the clip, and every path that arrived by ``os.replace`` (the atomic writer's rename)."""
    out = tmp_path_factory.mktemp("sensors") / "root"
    renamed: set[Path] = set()
    replace = os.replace

    def spy(source: str, target: str) -> None:
        assert Path(source).parent == Path(target).parent and Path(source).name.endswith(".tmp")
        renamed.add(Path(target))
        replace(source, target)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", spy)
        render_split(out, SPLIT, 1, SEED, workers=1, frames_per_clip=FRAMES, progress=False, sensors=True)
    return out, renamed


@pytest.fixture(scope="module")
def root(rendered: tuple[Path, set[Path]]) -> Path:
    return rendered[0]


@pytest.fixture(scope="module")
def sequence(root: Path) -> Sequence:
    (seq,) = read_image_set(root, SPLIT)
    return seq


@pytest.fixture(scope="module")
def geometry(root: Path, sequence: Sequence) -> SequenceGeometry:
    return read_geometry(geometry_path(root, SPLIT, sequence))


@pytest.fixture(scope="module")
def planned() -> tuple:
    """The clip's compiled scene, episode and motion, planned again (a clip is a pure function of its seed)."""
    return plan_clip(clip_rng(SEED, SPLIT, 0), SPLIT, FRAMES)


def _index(geometry: SequenceGeometry, label: str) -> int:
    """The palette index of the object with scene label ``label``."""
    objects = next(iter(geometry.frames.values())).objects
    return next(k for k, obj in objects.items() if obj.label == label)


def _masks(root: Path, sequence: Sequence, frame: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        read_label_png(annotation_path(root, SPLIT, sequence, frame)),
        read_label_png(robot_parts_path(root, SPLIT, sequence, frame)),
        read_label_png(robot_links_path(root, SPLIT, sequence, frame)),
        read_depth_png(depth_path(root, SPLIT, sequence, frame)),
    )


def _touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


# ------------------------------------------------------------------------------------------------ files


def test_without_the_flag_nothing_new_is_written(root: Path, tmp_path: Path) -> None:
    """v1 (sensors off) writes no new folder, and sensors change none of v1's bytes (only params.json differs)."""
    plain = tmp_path / "plain"
    render_split(plain, SPLIT, 1, SEED, workers=1, frames_per_clip=FRAMES, progress=False)
    first, second = _files(plain), _files(root)
    assert not {name.split("/")[0] for name in first} & NEW_FOLDERS
    assert {name.split("/")[0] for name in second} - {name.split("/")[0] for name in first} == NEW_FOLDERS
    params = f"ImageSets/.clips/{SPLIT}/params.json"
    assert json.loads(second[params]) == json.loads(first[params]) | {"sensors": True}
    differ = [name for name in first if name != params and first[name] != second[name]]
    assert differ == []


def test_files_are_written_atomically_and_read_back(rendered: tuple[Path, set[Path]], sequence: Sequence) -> None:
    root, renamed = rendered
    files = {p for p in root.rglob("*") if p.is_file()}
    assert files == renamed, "every file arrives by rename from a temporary file beside it"
    assert not [p for p in files if p.name.endswith(".tmp")]
    for frame in sequence.sparse_frames:
        path = depth_path(root, SPLIT, sequence, frame)
        depth = read_depth_png(path)
        assert depth.dtype == np.uint16 and depth.shape == (ANNOTATION_HEIGHT, ANNOTATION_WIDTH)
        assert encode_depth_png(depth) == path.read_bytes()
        assert read_label_png(robot_links_path(root, SPLIT, sequence, frame)).shape == depth.shape
    path = geometry_path(root, SPLIT, sequence)
    raw = json.loads(path.read_text())
    parsed = parse_geometry(path, raw)
    assert parsed.to_json(sequence.folder) == raw, "the reader keeps everything the writer wrote"
    assert list(parsed.frames) == sequence.sparse_frames
    assert raw["depth"]["unit_m"] == 0.001 and raw["robot_links"]["gripper_value"] == ROBOT_LINK_GRIPPER


def test_depth_png_and_geometry_reader_errors(tmp_path: Path) -> None:
    depth = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    write_depth_png(tmp_path / "d.png", depth)
    assert np.array_equal(read_depth_png(tmp_path / "d.png"), depth)
    Image.fromarray(np.zeros((3, 4), np.uint8)).save(tmp_path / "grey8.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "d.png").read_bytes()[:30])
    for name, message in [("grey8.png", "16-bit"), ("cut.png", "corrupt"), ("none.png", "not found")]:
        with pytest.raises(DataError, match=message) as error:
            read_depth_png(tmp_path / name)
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError):
        encode_depth_png(depth.astype(np.int32))
    for raw, message in [
        ({"format": "x"}, "not an"),
        ({"format": "actiseg-sim-geometry", "version": 9}, "version"),
        ({"format": "actiseg-sim-geometry", "version": 1}, "malformed"),
    ]:
        with pytest.raises(DataError, match=message):
            parse_geometry(tmp_path / "g.json", raw)


# ------------------------------------------------------------------------------------------------ depth, camera


def _raw_render(scene, camera: mujoco.MjvCamera, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geom id per pixel and MuJoCo's float depth (metres) of one state, as a plain renderer gives them."""
    data = mujoco.MjData(scene.model)
    data.qpos[:] = qpos
    mujoco.mj_forward(scene.model, data)
    renderer = mujoco.Renderer(scene.model, ANNOTATION_HEIGHT, ANNOTATION_WIDTH)
    try:
        renderer.update_scene(data, camera=camera, scene_option=visual_option())
        renderer.enable_segmentation_rendering()
        ids = renderer.render()[..., 0]
        renderer.disable_segmentation_rendering()
        renderer.enable_depth_rendering()
        depth = renderer.render()
    finally:
        renderer.close()
    return ids, depth


def _wrist_camera(model: mujoco.MjModel) -> mujoco.MjvCamera:
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
    camera.fixedcamid = model.camera(WRIST_CAMERA).id
    return camera


def test_depth_is_metric_along_the_optical_axis(
    root: Path, sequence: Sequence, geometry: SequenceGeometry, planned: tuple
) -> None:
    """Table-top pixels of the written depth, unprojected with the written K and pose, lie at the table height."""
    scene, episode, motion = planned
    frame = sequence.sparse_frames[0]
    ids, depth_m = _raw_render(scene, episode.camera.mjv(), motion.frames[0])
    depth_mm = read_depth_png(depth_path(root, SPLIT, sequence, frame))
    assert np.array_equal(depth_mm, depth_millimetres(depth_m, ids))
    valid = depth_mm > 0
    assert np.array_equal(valid, ids >= 0) and valid.all(), "the arena closes the view: every pixel has a return"
    assert np.abs(depth_mm[valid] / 1000 - depth_m[valid]).max() <= DEPTH_STEP + 1e-6
    table = ids == scene.model.geom("table_visual").id
    assert table.sum() > 50_000
    world = transform(geometry.frames[frame].T_world_camera, unproject(depth_mm, geometry.K, table))
    assert np.abs(world[:, 2] - TABLE_TOP_Z).max() < 0.6e-3  # half a millimetre of rounding, at most
    exact = transform(geometry.frames[frame].T_world_camera, _unproject_float(depth_m, geometry.K, table))
    assert np.abs(exact[:, 2] - TABLE_TOP_Z).max() < 1e-5  # MuJoCo's float depth: the plane to 10 micrometres


def _unproject_float(depth_m: np.ndarray, K: np.ndarray, mask: np.ndarray) -> np.ndarray:
    v, u = np.nonzero(mask)
    z = depth_m[v, u].astype(float)
    return np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], axis=1)


def test_camera_matches_the_one_mujoco_renders_with(geometry: SequenceGeometry, planned: tuple) -> None:
    """K from fovy and the free camera's pose equal MuJoCo's rendering camera (the stereo pair's average)."""
    scene, episode, motion = planned
    model = scene.model
    assert geometry.fovy == model.vis.global_.fovy and geometry.camera_name == "free"
    assert np.allclose(geometry.K, intrinsics(geometry.fovy, ANNOTATION_WIDTH, ANNOTATION_HEIGHT))
    assert geometry.K[0, 2] == (ANNOTATION_WIDTH - 1) / 2 and geometry.K[1, 2] == (ANNOTATION_HEIGHT - 1) / 2
    assert np.isclose(geometry.K[1, 1], (ANNOTATION_HEIGHT / 2) / np.tan(np.radians(geometry.fovy) / 2))
    data = mujoco.MjData(model)
    for camera in (episode.camera.mjv(), _wrist_camera(model)):
        data.qpos[:] = motion.frames[-1]
        mujoco.mj_forward(model, data)
        scene_view = mujoco.MjvScene(model, maxgeom=2000)
        mujoco.mjv_updateScene(model, data, visual_option(), None, camera, mujoco.mjtCatBit.mjCAT_ALL, scene_view)
        gl = mujoco.mjv_averageCamera(scene_view.camera[0], scene_view.camera[1])
        pose = camera_pose(model, data, camera)
        assert np.allclose(pose[:3, 3], gl.pos, atol=1e-6) and np.allclose(pose[:3, 2], gl.forward, atol=1e-6)
        assert np.allclose(-pose[:3, 1], gl.up, atol=1e-6)
        assert np.allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3)) and np.isclose(np.linalg.det(pose[:3, :3]), 1)
        assert np.allclose(np.cross(pose[:3, 2], -pose[:3, 1]), pose[:3, 0]), "right = forward x up"
    frame = geometry.frames[next(iter(geometry.frames))]
    opengl = frame.T_world_camera_opengl
    assert np.allclose(opengl[:3, 0], frame.T_world_camera[:3, 0]) and np.allclose(
        opengl[:3, 2], -frame.T_world_camera[:3, 2]
    )


def test_wrist_camera_depth_and_pose(planned: tuple) -> None:
    """A model camera moving with the hand (v2's wrist view): per-frame pose and depth still land on the table."""
    scene, episode, motion = planned
    camera = _wrist_camera(scene.model)
    segmenter = Segmenter(scene, {label: k for k, label in enumerate(episode.names, start=1)})
    short = dataclasses.replace(motion, frames=motion.frames[:2])
    frames = render_frames(scene, camera, short, segmenter, sensors=True)
    assert frames.geometry.camera_name == WRIST_CAMERA
    poses = [f.T_world_camera for f in frames.geometry.frames.values()]
    assert not np.allclose(poses[0], poses[1]), "the wrist camera moves with the arm"
    ids, _ = _raw_render(scene, camera, motion.frames[0])
    table = ids == scene.model.geom("table_visual").id
    assert table.sum() > 10_000
    world = transform(poses[0], unproject(frames.depth[0], frames.geometry.K, table))
    assert np.abs(world[:, 2] - TABLE_TOP_Z).max() < 0.6e-3


# ------------------------------------------------------------------------------------------------ 3-D records


def test_projected_points_land_on_their_segmented_pixels(
    root: Path, sequence: Sequence, geometry: SequenceGeometry
) -> None:
    ball = _index(geometry, "ball")
    for frame in sequence.sparse_frames:
        labels = _masks(root, sequence, frame)[0]
        record = geometry.frames[frame]
        for index, obj in record.objects.items():
            mask = labels == index
            if obj.occluded or obj.truncated or not mask.any():
                continue
            v, u = np.nonzero(mask)
            pu, pv = project(obj.centroid, geometry.K)[0]
            assert u.min() <= pu <= u.max() and v.min() <= pv <= v.max(), (frame, obj.label)
            corners = project(obj.box.corners(), geometry.K)
            assert corners[:, 0].min() <= u.min() + 0.5 and u.max() - 0.5 <= corners[:, 0].max()
            assert corners[:, 1].min() <= v.min() + 0.5 and v.max() - 0.5 <= corners[:, 1].max()
        # a sphere's image is (nearly) a disc centred on its projected centre
        v, u = np.nonzero(labels == ball)
        assert np.hypot(*(project(record.objects[ball].centroid, geometry.K)[0] - [u.mean(), v.mean()])) < 0.5
        gripper = labels == record.gripper_index
        if gripper.any() and not record.objects[record.gripper_index].truncated:
            v, u = np.nonzero(gripper)
            gu, gv = project(record.grip_site, geometry.K)[0]
            assert u.min() <= gu <= u.max() and v.min() <= gv <= v.max(), frame


def test_unprojected_masks_lie_on_the_objects(root: Path, sequence: Sequence, geometry: SequenceGeometry) -> None:
    """Points of every visible object lie in its boxes; the ball's on its sphere, the block's on its cube.

    The visible surface is what depth sees, so its centroid is not the object's: for the ball (a uniform sphere,
    centre of mass = centre) the visible cap's mean lies about 2r/3 in front of the centre, and on its line of sight.
    """
    ball, block = _index(geometry, "ball"), _index(geometry, "block")
    for frame in sequence.sparse_frames:
        labels, _, _, depth = _masks(root, sequence, frame)
        record = geometry.frames[frame]
        for index, obj in record.objects.items():
            points = unproject(depth, geometry.K, labels == index)
            assert len(points) == obj.pixels
            tolerance = 1e-3
            assert obj.box.contains(points, tolerance).all(), (frame, obj.label)
            assert np.all((points >= obj.aabb_min - tolerance) & (points <= obj.aabb_max + tolerance))
        centre = record.objects[ball].centroid
        points = unproject(depth, geometry.K, labels == ball)
        assert np.abs(np.linalg.norm(points - centre, axis=1) - BALL_RADIUS).max() < 1e-3
        sight = centre / np.linalg.norm(centre)
        offset = centre - points.mean(axis=0)
        assert abs(offset @ sight - 2 * BALL_RADIUS / 3) < 1.5e-3
        assert np.linalg.norm(offset - (offset @ sight) * sight) < 1e-3
        cube = record.objects[block]
        assert np.allclose(cube.box.size, 2 * BLOCK_HALF, atol=1e-6)
        local = (unproject(depth, geometry.K, labels == block) - cube.box.center) @ cube.box.rotation
        assert np.abs(np.abs(local).max(axis=1) - BLOCK_HALF).max() < 1e-3, "on one of the cube's faces"
        assert np.allclose(cube.centroid, cube.box.center, atol=1e-6)


def test_visibility_occlusion_and_truncation(root: Path, sequence: Sequence, geometry: SequenceGeometry) -> None:
    assert set(geometry.frames[sequence.sparse_frames[0]].objects) == set(sequence.objects)
    occluded = truncated = 0
    for frame in sequence.sparse_frames:
        labels = _masks(root, sequence, frame)[0]
        for index, obj in geometry.frames[frame].objects.items():
            mask = labels == index
            assert obj.pixels == mask.sum() <= obj.silhouette_pixels
            assert obj.occluded == (obj.pixels < obj.silhouette_pixels)
            if not obj.occluded:
                assert obj.truncated == (_touches_border(mask) or not mask.any()), (frame, obj.label)
            if not obj.truncated:
                assert not _touches_border(mask)
            occluded += obj.occluded
            truncated += obj.truncated
    assert occluded and truncated, "the clip has both cases (the gripper partly hidden, the plate at the border)"


# ------------------------------------------------------------------------------------------------ robot links


def test_link_maps_cover_exactly_the_robot_parts(root: Path, sequence: Sequence, geometry: SequenceGeometry) -> None:
    gripper = next(k for k, o in sequence.objects.items() if o.class_id == GRIPPER.class_id)
    values = {link.value for link in geometry.links}
    assert [link.group for link in geometry.links] == ["base"] + arm_link_groups(7) + ["gripper"]  # iiwa: 7 joints
    assert [link.value for link in geometry.links] == list(range(ROBOT_LINK_BASE, 9)) + [ROBOT_LINK_GRIPPER]
    shown: set[int] = set()
    for frame in sequence.sparse_frames:
        labels, parts, links, _ = _masks(root, sequence, frame)
        assert geometry.frames[frame].gripper_index == gripper
        assert np.array_equal(links > 0, parts > 0), "whole robot"
        assert np.array_equal(links == ROBOT_LINK_GRIPPER, parts == ROBOT_PART_GRIPPER), "gripper"
        assert np.array_equal(links == ROBOT_LINK_GRIPPER, labels == gripper)
        assert set(np.unique(links).tolist()) <= values | {0}
        groups = geometry.group_map(links)
        assert np.array_equal(groups == LINK_GROUPS.index("gripper") + 1, links == ROBOT_LINK_GRIPPER)
        assert np.array_equal(groups > 0, links > 0)
        shown |= set(np.unique(links).tolist())
    assert len(shown) >= 5, "several links are in view"


EXPECTED_LINKS = {
    "panda": ["link1", "link2", "link3", "link4", "link5", "link6", "link7"],
    "ur5e": ["shoulder_link", "upper_arm_link", "forearm_link", "wrist_1_link", "wrist_2_link", "wrist_3_link"],
    "sawyer": ["right_l0", "right_l1", "right_l2", "right_l3", "right_l4", "right_l5", "right_l6"],
}


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_link_groups_follow_the_chain_of_every_robot(robot: str) -> None:
    scene = build_scene(SceneSpec(robot, "ceramic", "clay", "white-plaster", ("can",), Lighting((0, 0, -1), 0.8, 0.3)))
    model = scene.model
    table = robot_links(model, scene.robot_root, scene.gripper_root, scene.arm_joints)
    arm = table.links[1:-1]
    assert [link.joint for link in arm] == scene.arm_joints, "one link per arm joint, root to tip"
    assert [link.group for link in arm] == arm_link_groups(len(scene.arm_joints))
    if robot in EXPECTED_LINKS:
        assert [link.name for link in arm] == ["robot0_" + name for name in EXPECTED_LINKS[robot]]
    world = World(scene)
    geoms = table.geom_values(model)
    assert np.array_equal(geoms > 0, world.robot), "every robot geom, mount included, has a link; nothing else"
    assert np.array_equal(geoms == ROBOT_LINK_GRIPPER, world.gripper)
    assert {link.group for link in table.links} == set(LINK_GROUPS)
    assert arm_link_groups(6) == ["shoulder", "upper_arm", "forearm", "wrist", "wrist", "wrist"]
    assert arm_link_groups(7) == ["shoulder", "shoulder", "upper_arm", "forearm", "forearm", "wrist", "wrist"]


def test_unproject_inverts_project() -> None:
    K = intrinsics(45.0, ANNOTATION_WIDTH, ANNOTATION_HEIGHT)
    depth = np.full((ANNOTATION_HEIGHT, ANNOTATION_WIDTH), 1500, dtype=np.uint16)
    depth[0, 0] = 0
    mask = np.zeros(depth.shape, bool)
    mask[[0, 0, 100, 479], [0, 5, 200, 853]] = True
    points = unproject(depth, K, mask)
    assert len(points) == 3 and np.allclose(points[:, 2], 1.5)
    assert np.allclose(project(points, K), [[5, 0], [200, 100], [853, 479]])
