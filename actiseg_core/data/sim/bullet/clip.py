"""One ``test_cross_renderer`` clip: a v2 episode performed and filmed in pybullet instead of MuJoCo.

As the MuJoCo clips (:mod:`clip_v2`), a clip is a pure function of (seed, split, clip index): everything is drawn
from ``SeedSequence([seed, splits_v2.split_code(split), index])``, and episodes that cannot be performed or filmed
are redrawn from the same generator. The episode is v2's (:func:`episode_v2.sample_episode_v2`: objects, action,
hard negative, textures, light, view); pybullet changes the robot (one of :data:`robots.ROBOTS`, drawn here), the
renderer (TinyRenderer's camera model and shading, shadows on in :data:`SHADOW_SHARE` of the clips) and, for views,
keeps only external ones (a wrist view is redrawn). Names and narration are chosen after planning, from the
planned scene (:func:`episode_v2.names_and_narration`), and the record is v2's (:func:`clip_v2.sequence_record`) with
``extra["renderer"] = "pybullet"`` and the pybullet robot's label.

Where objects come from is injectable (:class:`Assets`): the packs by default; tests pass fixture meshes and
textures so that no pack is needed. A kind whose mesh cannot be converted is skipped (logged once, the episode
redrawn); at the time of writing all 88 seen kinds convert and load (LIBERO, Sweet Home 3D and robosuite ones).
What pybullet shows differently: materials are opaque (TinyRenderer does not blend, so glasses and bottles with
translucent materials are drawn solid), textures are sampled without mipmaps (downscaled instead, see
:func:`meshes.downscaled`), and only external views are filmed.

Label maps: the objects' palette indices, the gripper's links painted with the gripper's index; robot parts 1 = arm
(links, base, pedestal), 2 = gripper. With ``sensors`` the clip also carries depth (uint16 mm),
robot-link maps and the geometry record, filled as the MuJoCo clips fill them (:mod:`bullet.sensors`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from actiseg_core.data.layout import ANNOTATION_HEIGHT, ANNOTATION_WIDTH, ROBOT_PART_ARM, ROBOT_PART_GRIPPER
from actiseg_core.data.sim.bullet.camera import Camera, Light, external_camera, render
from actiseg_core.data.sim.bullet.meshes import ObjectMesh, ObjectSource, catalog_mesh
from actiseg_core.data.sim.bullet.motion import BulletMotion, apply, plan
from actiseg_core.data.sim.bullet.robots import ROBOTS, RobotSpec
from actiseg_core.data.sim.bullet.sensors import Sensors
from actiseg_core.data.sim.bullet.stage import Look, MeshRejected, Stage
from actiseg_core.data.sim.catalog import kind_label
from actiseg_core.data.sim.catalog_v2 import V2
from actiseg_core.data.sim.clip import Clip
from actiseg_core.data.sim.clip_v2 import sequence_record
from actiseg_core.data.sim.episode_v2 import EpisodeV2, names_and_narration, sample_episode_v2
from actiseg_core.data.sim.placement import PlanningError
from actiseg_core.data.sim.scene import Lighting
from actiseg_core.data.sim.splits_v2 import split_code
from actiseg_core.data.sim.views import View, inside, sample_view
from actiseg_core.errors import ActiSegError

RENDERER = "pybullet"
EPISODE_ATTEMPTS = 30
VIEW_ATTEMPTS = 10
SHADOW_SHARE = 0.5
MAX_LIGHT = 0.95  # ambient + diffuse + specular of TinyRenderer's shading (see light_of)
ASPECT = ANNOTATION_WIDTH / ANNOTATION_HEIGHT

_log = logging.getLogger(__name__)
_skipped: set[str] = set()


@dataclass(frozen=True)
class Assets:
    """Where a clip's meshes and textures come from: kind label -> mesh, texture label -> PNG (None: plain)."""

    mesh: ObjectSource
    texture: Callable[[str], Path | None]


def pack_assets() -> Assets:
    """The v2 packs (installed on first use): :func:`meshes.catalog_mesh` and the catalog's texture files."""
    return Assets(catalog_mesh, V2.texture_path)


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, split_code(split), index]))


def light_of(lighting: Lighting, rng: np.random.Generator) -> Light:
    """TinyRenderer's light for the episode's: towards the key light, ambient / diffuse shares from the episode's,
    a small specular share, shadows in :data:`SHADOW_SHARE` of the clips.

    TinyRenderer scales a texel by ambient + diffuse * cos + specular and clips at 255, so the three are kept to
    a sum of at most :data:`MAX_LIGHT` (beyond it bright textures saturate where the light falls straight)."""
    towards = tuple(-float(v) for v in lighting.direction)
    ambient, diffuse = 0.3 + 0.5 * lighting.ambient, 0.2 + 0.45 * lighting.diffuse
    specular = float(rng.uniform(0.0, 0.06))
    scale = min(1.0, (MAX_LIGHT - specular) / (ambient + diffuse))
    return Light(
        towards=towards,
        ambient=round(ambient * scale, 3),
        diffuse=round(diffuse * scale, 3),
        specular=round(specular, 3),
        shadows=bool(rng.uniform() < SHADOW_SHARE),
    )


def _external_view(rng: np.random.Generator, view: View) -> View:
    while view.orbit is None:
        view = sample_view(rng)
    return view


def _with_view(episode: EpisodeV2, view: View) -> EpisodeV2:
    return replace(episode, view=view, spec=replace(episode.spec, camera=view.orbit))


def _skip(kind: str, error: Exception) -> None:
    """Log (once per kind and process) that episodes showing ``kind`` are redrawn, and why."""
    if kind not in _skipped:
        _skipped.add(kind)
        _log.warning("pybullet clips skip kind %s: %s", kind, error)


def _meshes(assets: Assets, labels: tuple[str, ...]) -> dict[str, ObjectMesh] | None:
    """The meshes of a scene's objects; None (and a log line) if one cannot be converted."""
    out = {}
    for label in labels:
        try:
            out[label] = assets.mesh(kind_label(label))
        except ActiSegError as error:
            _skip(kind_label(label), error)
            return None
    return out


def _filmable(episode: EpisodeV2, camera: Camera, motion: BulletMotion) -> bool:
    """Grip point and narrated objects in frame throughout, the hard negative at the start."""
    spec = episode.spec
    narrated = [lb for lb in (spec.target, spec.destination) if lb]
    for index, frame in enumerate(motion.frames):
        points = [frame.grip] + [frame.objects[lb][0] for lb in narrated]
        if index == 0 and episode.twin:
            points.append(frame.objects[episode.twin][0])
        if not all(inside(camera.view.project(camera.basis, point, ASPECT)) for point in points):
            return False
    return True


@dataclass
class Planned:
    stage: Stage
    episode: EpisodeV2
    robot: RobotSpec
    light: Light
    camera: Camera
    motion: BulletMotion


def plan_clip(rng: np.random.Generator, split: str, frames: int, assets: Assets) -> Planned:
    """Draw episodes until one can be performed and filmed in pybullet, then name its objects and narrate it."""
    for _ in range(EPISODE_ATTEMPTS):
        episode = sample_episode_v2(rng, split)
        episode = _with_view(episode, _external_view(rng, episode.view))
        robot = ROBOTS[int(rng.integers(len(ROBOTS)))]
        scene = replace(episode.spec.scene, robot=robot.label)
        episode = replace(episode, spec=replace(episode.spec, scene=scene))
        light = light_of(scene.lighting, rng)
        meshes = _meshes(assets, scene.objects)
        if meshes is None:
            continue
        look = Look(*(assets.texture(t) for t in (scene.table_texture, scene.floor_texture, scene.wall_texture)))
        try:
            stage = Stage(robot, meshes, look)
        except MeshRejected as error:
            _skip(kind_label(error.label), error)
            continue
        try:
            motion = plan(stage, episode.spec, frames, rng)
        except PlanningError:
            stage.close()
            continue
        for _ in range(VIEW_ATTEMPTS):
            camera = external_camera(episode.view)
            if _filmable(episode, camera, motion):
                positions = {label: pose[0] for label, pose in motion.frames[0].objects.items()}
                spec = names_and_narration(rng, episode, positions, camera.basis, ASPECT)
                return Planned(stage, replace(episode, spec=spec), robot, light, camera, motion)
            episode = _with_view(episode, _external_view(rng, sample_view(rng)))
        stage.close()
    raise PlanningError(f"no feasible pybullet episode in {EPISODE_ATTEMPTS} draws")


class Painter:
    """Lookup tables body (and robot link) -> palette index and robot part, for one stage."""

    def __init__(self, stage: Stage, indices: dict[str, int]) -> None:
        count = max(stage.client.getNumBodies(), 1) + 1
        self.robot = stage.robot.body
        self.objects = np.zeros(count, dtype=np.uint8)  # row 0 stands for "nothing drawn" (body -1)
        self.parts = np.zeros(count, dtype=np.uint8)
        for label, staged in stage.objects.items():
            self.objects[np.add(staged.visuals, 1)] = indices[label]
        self.parts[np.add(stage.pedestal, 1)] = ROBOT_PART_ARM
        links = len(stage.robot.links) + 1  # rows: link -1 (base) .. last link
        self.link_objects = np.zeros(links, dtype=np.uint8)
        self.link_parts = np.full(links, ROBOT_PART_ARM, dtype=np.uint8)
        gripper = np.add(stage.robot.spec.gripper_links, 1)
        self.link_objects[gripper] = indices[V2.gripper.label]
        self.link_parts[gripper] = ROBOT_PART_GRIPPER

    def split(self, bodies: np.ndarray, links: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(label map, robot-part mask) as uint8 HxW from a render's body and link buffers."""
        labels, parts = self.objects[bodies + 1], self.parts[bodies + 1]
        robot = bodies == self.robot
        labels[robot] = self.link_objects[links[robot] + 1]
        parts[robot] = self.link_parts[links[robot] + 1]
        return labels, parts


def make_clip(
    seed: int, split: str, index: int, frames: int, sensors: bool = False, assets: Assets | None = None
) -> Clip:
    """Sample, plan and render clip ``index`` of ``split`` with pybullet (default assets: the v2 packs)."""
    planned = plan_clip(clip_rng(seed, split, index), split, frames, assets or pack_assets())
    stage, episode, motion = planned.stage, planned.episode, planned.motion
    try:
        if not motion.reached or len(motion.frames) != frames:
            raise AssertionError(f"clip {index}: the planned motion misses its targets")
        sequence = sequence_record(index, episode, motion, frames)
        light = {**sequence.extra["light"], RENDERER: planned.light.to_json()}
        sequence.extra.update(renderer=RENDERER, light=light)
        index_of = {obj.name: k for k, obj in sequence.objects.items()}
        indices = {label: index_of[name] for label, name in episode.spec.names.items()}
        stage.for_rendering()
        painter = Painter(stage, indices)
        measuring = Sensors(stage, planned.camera, indices) if sensors else None
        images, labels, parts, depths, link_maps, records = [], [], [], [], [], []
        for frame in motion.frames:
            apply(stage, frame)
            shot = render(stage.client, planned.camera, planned.light)
            label_map, part_map = painter.split(shot.bodies, shot.links)
            images.append(shot.rgb)
            labels.append(label_map)
            parts.append(part_map)
            if measuring is not None:
                depth_mm, link_map, record = measuring.measure(shot, label_map, planned.light)
                depths.append(depth_mm)
                link_maps.append(link_map)
                records.append(record)
        if measuring is None:
            return Clip(sequence, images, labels, parts)
        geometry = measuring.sequence(dict(zip(sequence.sparse_frames, records, strict=True)))
        return Clip(sequence, images, labels, parts, depths, link_maps, geometry)
    finally:
        stage.close()
