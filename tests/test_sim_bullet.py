"""ActiSeg-Sim v2's pybullet clips (``test_cross_renderer``): geometry, record, masks, depth, determinism.

Every test but the last runs without asset packs: objects are a small textured OBJ cube and a flat box written to a
temporary folder, injected through :class:`bullet.clip.Assets`. The last renders a clip from the packs and is
skipped when the pack cache does not hold them (CI never downloads them).
"""

from __future__ import annotations

import logging

import numpy as np
import pybullet
import pybullet_data
import pytest
from PIL import Image
from pybullet_utils.bullet_client import BulletClient

from actiseg_core.data.geometry_layout import ROBOT_LINK_GRIPPER, transform, unproject
from actiseg_core.data.layout import ANNOTATION_HEIGHT, ANNOTATION_WIDTH, ROBOT_PART_ARM, ROBOT_PART_GRIPPER
from actiseg_core.data.sim import packs
from actiseg_core.data.sim.bullet import camera as bullet_camera
from actiseg_core.data.sim.bullet.clip import RENDERER, Assets, make_clip
from actiseg_core.data.sim.bullet.meshes import obj_mesh, sphere_part
from actiseg_core.data.sim.bullet.robots import ROBOTS, Robot
from actiseg_core.data.sim.camera import Camera as Orbit
from actiseg_core.data.sim.catalog_v2 import V2
from actiseg_core.data.sim.scene import TABLE_TOP_Z
from actiseg_core.data.sim.views import View
from actiseg_core.errors import ActiSegError

FRAMES = 8
SPLIT = "test_cross_renderer"
CONTACT = 0.015  # metres: the grip point this close to the target's box means the gripper is at the target


def _write_box(folder, name: str, half: tuple[float, float, float], texture: str) -> None:
    """An OBJ box (per-face uvs, normals) with an MTL naming ``texture``."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float) * half
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    normals = [(-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)]
    lines = [f"mtllib {name}.mtl", "usemtl skin"]
    lines += [f"v {x:.4f} {y:.4f} {z:.4f}" for x, y, z in corners]
    lines += ["vt 0 0", "vt 1 0", "vt 1 1", "vt 0 1"]
    lines += [f"vn {x} {y} {z}" for x, y, z in normals]
    for k, face in enumerate(faces):
        lines.append("f " + " ".join(f"{v + 1}/{t + 1}/{k + 1}" for t, v in enumerate(face)))
    (folder / f"{name}.obj").write_text("\n".join(lines) + "\n")
    (folder / f"{name}.mtl").write_text(f"newmtl skin\nKd 1 1 1\nmap_Kd {texture}\n")


@pytest.fixture(scope="module")
def fixture_assets(tmp_path_factory) -> Assets:
    """Graspable kinds are a 5 cm textured cube, the others a 14 x 12 x 3 cm textured slab; one checker texture."""
    folder = tmp_path_factory.mktemp("bullet_assets")
    checker = np.kron((np.indices((8, 8)).sum(axis=0) % 2), np.ones((8, 8)))[..., None]
    pixels = np.where(checker > 0, [200, 60, 40], [240, 220, 90]).astype(np.uint8)
    Image.fromarray(pixels).save(folder / "checker.png")
    _write_box(folder, "cube", (0.025, 0.025, 0.025), "checker.png")
    _write_box(folder, "slab", (0.07, 0.06, 0.015), "checker.png")
    cube, slab = obj_mesh(folder / "cube.obj"), obj_mesh(folder / "slab.obj")

    def mesh(label: str):
        return cube if V2.kind(label).graspable else slab

    return Assets(mesh=mesh, texture=lambda label: None)  # plain table, floor and walls


@pytest.fixture(scope="module")
def clip(fixture_assets):
    return make_clip(0, SPLIT, 0, FRAMES, sensors=True, assets=fixture_assets)


def _target_index(clip) -> int:
    """The narrated object of the target's class (the destination is of another class, the hard negative is not
    narrated)."""
    seq = clip.sequence
    return next(k for k, obj in seq.objects.items() if obj.narration and obj.class_id == seq.noun_class)


def _gripper_index(clip) -> int:
    return next(k for k, obj in clip.sequence.objects.items() if obj.class_id == V2.gripper.class_id)


def test_obj_fixture_mesh(fixture_assets):
    cube = fixture_assets.mesh("milk")
    assert np.allclose(cube.extent.low, -0.025) and np.allclose(cube.extent.high, 0.025)
    assert len(cube.parts) == 1 and cube.parts[0].texture is not None and cube.parts[0].uvs is not None


def test_every_robot_reaches_the_workspace_pointing_down():
    client = BulletClient(connection_mode=pybullet.DIRECT)
    rng = np.random.default_rng(0)
    try:
        for spec in ROBOTS:
            client.resetSimulation()
            robot = Robot(client, spec, pybullet_data.getDataPath())
            for _ in range(5):
                target = np.array([rng.uniform(-0.15, 0.05), rng.uniform(-0.15, 0.15), rng.uniform(0.85, 1.05)])
                robot.from_rest()
                result = robot.reach(target, float(rng.uniform(-1.5, 1.5)))
                assert result.reached, (spec.label, target, result)
                grip, rotation = robot.grip_pose()
                assert np.linalg.norm(grip - target) < 0.005
                assert rotation[2, 2] < -0.99  # the end effector's z axis points down
    finally:
        client.disconnect()


def test_intrinsics_match_tinyrenderer():
    """A small sphere's rendered centroid lies where K and the camera pose project its centre."""
    client = BulletClient(connection_mode=pybullet.DIRECT)
    try:
        view = View("external", 45.0, Orbit((-0.05, 0.0, 0.9), 0.9, 180.0, -35.0))
        camera = bullet_camera.external_camera(view)
        part = sphere_part(np.array(0.012), (1.0, 0.0, 0.0, 1.0))
        shape = client.createVisualShape(
            pybullet.GEOM_MESH,
            vertices=part.vertices.tolist(),
            indices=part.indices.reshape(-1).tolist(),
            normals=part.normals.tolist(),
        )
        centres = [np.array([x, y, 0.9]) for x in (-0.15, 0.05) for y in (-0.2, 0.1)]
        bodies = [client.createMultiBody(0.0, -1, shape, basePosition=c.tolist()) for c in centres]
        shot = bullet_camera.render(client, camera, bullet_camera.Light((0.0, 0.3, 1.0), 0.6, 0.3, 0.0, False))
        camera_from_world = np.linalg.inv(camera.T_world_camera)
        for body, centre in zip(bodies, centres, strict=True):
            rows, cols = np.nonzero(shot.bodies == body)
            point = transform(camera_from_world, centre)
            u, v = (camera.K @ point)[:2] / point[2]
            assert abs(cols.mean() - u) < 0.5 and abs(rows.mean() - v) < 0.5
            assert shot.depth_m[rows, cols].min() == pytest.approx(point[2] - 0.012, abs=0.002)
    finally:
        client.disconnect()


def test_clip_arrays_and_record(clip):
    seq = clip.sequence
    assert len(clip.images) == len(clip.labels) == len(clip.parts) == FRAMES
    for image, labels, parts in zip(clip.images, clip.labels, clip.parts, strict=True):
        assert image.shape == (ANNOTATION_HEIGHT, ANNOTATION_WIDTH, 3) and image.dtype == np.uint8
        assert labels.shape == parts.shape == (ANNOTATION_HEIGHT, ANNOTATION_WIDTH)
        assert labels.dtype == parts.dtype == np.uint8
    assert seq.extra["renderer"] == RENDERER
    assert seq.extra["robot"] in {spec.label for spec in ROBOTS}
    assert seq.video == f"sim_{seq.extra['robot']}"
    assert set(seq.extra["light"][RENDERER]) >= {"towards", "ambient", "diffuse", "shadows"}
    assert seq.extra["camera"]["kind"] == "external"
    assert seq.end == FRAMES and len(seq.sparse_frames) == FRAMES
    names = sorted(obj.name for obj in seq.objects.values())
    assert [seq.objects[k].name for k in sorted(seq.objects)] == names  # palette indices follow sorted names
    gripper = seq.objects[_gripper_index(clip)]
    assert gripper.handbox and gripper.positive
    for obj in seq.objects.values():
        if obj.narration:
            assert obj.positive
        if not (obj.narration or obj.handbox):
            assert not obj.positive  # distractors (and the hard negative) are inactive


def test_label_values_match_the_record(clip):
    indices = set(clip.sequence.objects)
    gripper = _gripper_index(clip)
    for labels, parts in zip(clip.labels, clip.parts, strict=True):
        assert set(np.unique(labels).tolist()) - {0} <= indices
        assert gripper in labels
        assert np.array_equal(parts == ROBOT_PART_GRIPPER, labels == gripper)  # gripper links carry its index
        assert np.count_nonzero(parts == ROBOT_PART_ARM) > 0
        assert np.count_nonzero(parts == ROBOT_PART_GRIPPER) > 0
        assert not np.any((parts == ROBOT_PART_ARM) & (labels != 0))  # arm links are not annotated objects
    target = _target_index(clip)
    assert any(target in labels for labels in clip.labels)


def test_gripper_reaches_the_target_in_the_images(clip):
    """In the frames where the grip point is at the target, target and gripper pixels touch."""
    target, gripper = _target_index(clip), _gripper_index(clip)
    at_target = []
    for name, labels in zip(clip.sequence.sparse_frames, clip.labels, strict=True):
        frame = clip.geometry.frames[name]
        box = frame.objects[target].box
        if box.contains(frame.grip_site[None], CONTACT)[0]:
            at_target.append(name)
            near = np.zeros_like(labels, dtype=bool)
            gripper_pixels = labels == gripper
            for dy in range(-3, 4):
                for dx in range(-3, 4):
                    near |= np.roll(np.roll(gripper_pixels, dy, axis=0), dx, axis=1)
            assert np.any(near & (labels == target)), name
    assert at_target, "the grip point never reaches the target"


def test_depth_is_metric(clip):
    geometry = clip.geometry
    assert clip.depth is not None and len(clip.depth) == FRAMES
    assert np.allclose(geometry.K[0, 0], (ANNOTATION_HEIGHT / 2) / np.tan(np.radians(geometry.fovy) / 2))
    for name, depth, labels, parts in zip(
        clip.sequence.sparse_frames, clip.depth, clip.labels, clip.parts, strict=True
    ):
        assert depth.dtype == np.uint16 and depth.shape == labels.shape
        drawn = labels > 0
        assert np.all(depth[drawn] > 0) and np.all(depth[drawn] < 5000)  # objects and gripper: 0 < depth < 5 m
        # background pixels seen inside the table's footprint unproject onto the table top
        pose = geometry.frames[name].T_world_camera
        background = (labels == 0) & (parts == 0)
        points = transform(pose, unproject(depth, geometry.K, background))
        on_table = (np.abs(points[:, 0]) < 0.35) & (np.abs(points[:, 1]) < 0.35) & (points[:, 2] > 0.5)
        assert np.count_nonzero(on_table) > 1000
        assert np.mean(np.abs(points[on_table, 2] - TABLE_TOP_Z) < 0.003) > 0.98


def test_sensors_records(clip):
    geometry = clip.geometry
    assert list(geometry.frames) == clip.sequence.sparse_frames
    assert geometry.links[-1].value == ROBOT_LINK_GRIPPER and geometry.links[0].group == "base"
    for name, links, parts, labels in zip(
        clip.sequence.sparse_frames, clip.links, clip.parts, clip.labels, strict=True
    ):
        assert np.array_equal(links > 0, parts > 0)
        assert np.array_equal(links == ROBOT_LINK_GRIPPER, parts == ROBOT_PART_GRIPPER)
        frame = geometry.frames[name]
        assert set(frame.objects) == set(clip.sequence.objects)
        for index, obj in frame.objects.items():
            assert obj.pixels == np.count_nonzero(labels == index)
            assert obj.silhouette_pixels >= obj.pixels * 0.95
    json = geometry.to_json("seq")
    assert json["camera"]["name"] == "free" and len(json["frames"]) == FRAMES


def test_clip_is_deterministic(clip, fixture_assets):
    again = make_clip(0, SPLIT, 0, FRAMES, assets=fixture_assets)  # without sensors: they must not change a pixel
    assert again.sequence.to_json() == clip.sequence.to_json()
    for name in ("images", "labels", "parts"):
        for a, b in zip(getattr(clip, name), getattr(again, name), strict=True):
            assert a.tobytes() == b.tobytes()
    assert again.depth is None and again.geometry is None


def test_kinds_without_a_mesh_are_skipped(clip, fixture_assets, caplog):
    """A kind whose mesh cannot be loaded is logged and its episodes redrawn; the clip never shows it."""
    missing = clip.sequence.extra["object_set"][0]

    def mesh(label: str):
        if label == missing:
            raise ActiSegError(f"no mesh for {label}")
        return fixture_assets.mesh(label)

    with caplog.at_level(logging.WARNING, logger="actiseg_core.data.sim.bullet.clip"):
        other = make_clip(0, SPLIT, 0, FRAMES, assets=Assets(mesh, fixture_assets.texture))
    assert missing not in other.sequence.extra["object_set"]
    assert any(missing in record.getMessage() for record in caplog.records)


def _packs_installed() -> bool:
    root = packs.cache_root()
    return all((root / name).is_dir() for name in ("libero-assets", "sweethome3d-furniture", "wallpapers"))


@pytest.mark.skipif(not _packs_installed(), reason="asset packs not in the cache (CI never downloads them)")
def test_clip_from_the_packs():
    clip = make_clip(0, SPLIT, 1, FRAMES, sensors=True)
    assert clip.sequence.extra["renderer"] == RENDERER
    gripper = _gripper_index(clip)
    assert all(gripper in labels for labels in clip.labels)
    target = _target_index(clip)
    reached = []
    for name in clip.sequence.sparse_frames:
        frame = clip.geometry.frames[name]
        reached.append(bool(frame.objects[target].box.contains(frame.grip_site[None], CONTACT)[0]))
    assert any(reached)
    textured = [image.std() for image in clip.images]
    assert min(textured) > 10  # textures and shading, not flat colour
