"""One clip, start to finish: sample an episode, compile it, plan the motion, render RGB and segmentation.

A clip is a pure function of (seed, split, clip index): its generator is seeded from
``SeedSequence([seed, split code, index])``, so clips come out the same whichever worker renders them, in
whatever order. Episodes whose motion cannot be planned are redrawn from the same generator; a clip is never
produced unless the gripper reaches every target (checked again here, after planning).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import mujoco
import numpy as np

from actiseg_core.data.geometry_layout import SequenceGeometry
from actiseg_core.data.layout import ANNOTATION_HEIGHT, ANNOTATION_WIDTH, ObjectInfo, Sequence, frame_name
from actiseg_core.data.sim.camera import sample_camera
from actiseg_core.data.sim.catalog import GRIPPER, OBJECTS_BY_LABEL
from actiseg_core.data.sim.episode import EpisodeSpec, sample_episode
from actiseg_core.data.sim.frames import render_frames  # the render loop (frames.py); re-exported for v2
from actiseg_core.data.sim.motion import Motion, plan
from actiseg_core.data.sim.placement import PlanningError
from actiseg_core.data.sim.scene import Scene, build_scene
from actiseg_core.data.sim.segmentation import Segmenter
from actiseg_core.data.sim.splits import split_code
from actiseg_core.data.sim.world import World

EPISODE_ATTEMPTS = 30
CAMERA_ATTEMPTS = 10


@dataclass
class Clip:
    """A rendered clip: its ImageSets record, RGB frames, label maps and robot-part masks; with sensors (v2) also
    depth (uint16 mm), robot-link maps and the geometry record (see :mod:`geometry_layout`), else None."""

    sequence: Sequence
    images: list[np.ndarray]
    labels: list[np.ndarray]
    parts: list[np.ndarray]
    depth: list[np.ndarray] | None = None
    links: list[np.ndarray] | None = None
    geometry: SequenceGeometry | None = None


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, split_code(split), index]))


def _sequence(index: int, episode: EpisodeSpec, motion: Motion, frames: int) -> Sequence:
    """The ActionVOS record; palette indices follow the sorted object names, as ActionVOS assigns them."""
    by_name = {name: label for label, name in episode.names.items()}
    objects = {}
    for position, name in enumerate(sorted(by_name), start=1):
        label = by_name[name]
        gripper = label == GRIPPER.label
        narrated = label in (episode.target, episode.destination)
        handbox = gripper or label in motion.touched
        class_id = GRIPPER.class_id if gripper else OBJECTS_BY_LABEL[label].class_id
        objects[position] = ObjectInfo(
            position, name, class_id, positive=handbox or narrated, handbox=handbox, narration=narrated
        )
    spec = episode.scene
    return Sequence(
        seq_id=index + 1,  # ActionVOS numbers sequences from 1 within each split
        video=f"sim_{spec.robot}",
        narration=episode.narration.text,
        verb=episode.narration.verb,
        noun=episode.target,
        verb_class=episode.narration.verb_class,
        noun_class=OBJECTS_BY_LABEL[episode.target].class_id,
        start=1,
        end=frames,
        sparse_frames=[frame_name(i) for i in range(1, frames + 1)],
        objects=objects,
        extra={
            "robot": spec.robot,
            "texture": spec.table_texture,
            "object_set": sorted(spec.objects),
            "action": episode.action,
            "camera": episode.camera.to_json(),
            "light": spec.lighting.to_json(),
            "background": {"floor": spec.floor_texture, "walls": spec.wall_texture},
        },
    )


def _in_view(scene: Scene, episode: EpisodeSpec, motion: Motion) -> bool:
    """The fingers and the narrated objects stay inside the frame in every frame (projected centres, with a margin)."""
    model = scene.model
    data = mujoco.MjData(model)
    site = model.site(scene.grip_site).id
    bodies = [model.body(scene.object_roots[lb]).id for lb in (episode.target, episode.destination) if lb]
    aspect = ANNOTATION_WIDTH / ANNOTATION_HEIGHT
    for qpos in motion.frames:
        data.qpos[:] = qpos
        mujoco.mj_kinematics(model, data)
        for point in [data.site_xpos[site]] + [data.xpos[body] for body in bodies]:
            if not episode.camera.sees(point, model.vis.global_.fovy, aspect):
                return False
    return True


def plan_clip(rng: np.random.Generator, split: str, frames: int) -> tuple[Scene, EpisodeSpec, Motion]:
    """Draw episodes until one can be performed and filmed; the camera alone is redrawn when it misses the action."""
    for _ in range(EPISODE_ATTEMPTS):
        episode = sample_episode(rng, split)
        scene = build_scene(episode.scene)
        try:
            motion = plan(World(scene), episode, frames, rng)
        except PlanningError:
            continue
        for _ in range(CAMERA_ATTEMPTS):
            if _in_view(scene, episode, motion):
                return scene, episode, motion
            episode = dataclasses.replace(episode, camera=sample_camera(rng))
    raise PlanningError(f"no feasible episode in {EPISODE_ATTEMPTS} draws")


def make_clip(seed: int, split: str, index: int, frames: int, sensors: bool = False) -> Clip:
    """Sample, plan and render clip ``index`` of ``split``; ``sensors`` adds depth, links and geometry."""
    scene, episode, motion = plan_clip(clip_rng(seed, split, index), split, frames)
    if not motion.reached or len(motion.frames) != frames:
        raise AssertionError(f"clip {index}: the planned motion misses its targets")
    sequence = _sequence(index, episode, motion, frames)
    index_of = {obj.name: k for k, obj in sequence.objects.items()}
    segmenter = Segmenter(scene, {label: index_of[name] for label, name in episode.names.items()})
    camera = episode.camera.mjv()
    return Clip(sequence, *render_frames(scene, camera, motion, segmenter, sensors, sequence.sparse_frames))
