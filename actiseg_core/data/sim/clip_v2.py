"""One v2 clip: sample an episode of the split, compile it with v2's catalog, plan, film, name, render.

As in v1 (:mod:`clip`), a clip is a pure function of (seed, split, clip index) and is never produced unless the
gripper reaches every target. What v2 adds: the view may be the wrist camera, hard negatives must be in frame at the
start, and names / narration are chosen after planning (:func:`episode_v2.names_and_narration`).
"""

from __future__ import annotations

from dataclasses import replace

import mujoco
import numpy as np

from actiseg_core.data.layout import ANNOTATION_HEIGHT, ANNOTATION_WIDTH, ObjectInfo, Sequence, frame_name
from actiseg_core.data.sim.catalog import class_label
from actiseg_core.data.sim.clip import Clip, render_frames
from actiseg_core.data.sim.episode import EpisodeSpec
from actiseg_core.data.sim.episode_v2 import EpisodeV2, names_and_narration, sample_episode_v2
from actiseg_core.data.sim.motion import Motion, plan
from actiseg_core.data.sim.placement import PlanningError
from actiseg_core.data.sim.scene import Scene, build_scene
from actiseg_core.data.sim.segmentation import Segmenter
from actiseg_core.data.sim.splits_v2 import SplitPool, split_code
from actiseg_core.data.sim.views import inside, sample_view, wrist_camera
from actiseg_core.data.sim.world import World

EPISODE_ATTEMPTS = 30
VIEW_ATTEMPTS = 10
ASPECT = ANNOTATION_WIDTH / ANNOTATION_HEIGHT
WRIST_TARGET_FRAMES = 3  # the wrist camera must see the target in the first frames (the approach)


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, split_code(split), index]))


def _centres(scene: Scene, data: mujoco.MjData) -> dict[str, np.ndarray]:
    return {label: data.xpos[scene.model.body(root).id].copy() for label, root in scene.object_roots.items()}


def _filmable(scene: Scene, episode: EpisodeV2, motion: Motion) -> bool:
    """External view: grip site and narrated objects in frame throughout, the hard negative at the start.
    Wrist view: target (and hard negative) in frame during the approach."""
    model, view, spec = scene.model, episode.view, episode.spec
    wrist = view.orbit is None
    if wrist and wrist_camera(model) < 0:
        return False
    data = mujoco.MjData(model)
    site = model.site(scene.grip_site).id
    narrated = [lb for lb in (spec.target, spec.destination) if lb]
    for index, qpos in enumerate(motion.frames):
        data.qpos[:] = qpos
        mujoco.mj_kinematics(model, data)
        basis = view.basis(model, data)
        centres = _centres(scene, data)
        points = [] if wrist else [data.site_xpos[site]] + [centres[lb] for lb in narrated]
        if index < (WRIST_TARGET_FRAMES if wrist else 1):
            points += [centres[spec.target]] + ([centres[episode.twin]] if episode.twin else [])
        if not all(inside(view.project(basis, point, ASPECT)) for point in points):
            return False
    return True


def _first_frame(scene: Scene, episode: EpisodeV2, motion: Motion) -> tuple[dict[str, np.ndarray], object]:
    data = mujoco.MjData(scene.model)
    data.qpos[:] = motion.frames[0]
    mujoco.mj_kinematics(scene.model, data)
    return _centres(scene, data), episode.view.basis(scene.model, data)


def plan_clip(
    rng: np.random.Generator, split: str, frames: int, source: SplitPool | None = None
) -> tuple[Scene, EpisodeV2, Motion]:
    """Draw episodes until one can be performed and filmed, then name its objects and narrate it."""
    for _ in range(EPISODE_ATTEMPTS):
        episode = sample_episode_v2(rng, split, source)
        scene = build_scene(episode.spec.scene, episode.catalog)
        try:
            motion = plan(World(scene), episode.spec, frames, rng)
        except PlanningError:
            continue
        for _ in range(VIEW_ATTEMPTS):
            if _filmable(scene, episode, motion):
                positions, basis = _first_frame(scene, episode, motion)
                spec = names_and_narration(rng, episode, positions, basis, ASPECT)
                return scene, replace(episode, spec=spec), motion
            view = sample_view(rng)
            episode = replace(episode, view=view, spec=replace(episode.spec, camera=view.orbit))
    raise PlanningError(f"no feasible v2 episode in {EPISODE_ATTEMPTS} draws")


def sequence_record(index: int, episode: EpisodeV2, motion: Motion, frames: int) -> Sequence:
    """The ActionVOS record (palette indices follow the sorted names) with v2's extensions in ``extra``."""
    spec: EpisodeSpec = episode.spec
    catalog = episode.catalog
    by_name = {name: label for label, name in spec.names.items()}
    objects = {}
    for position, name in enumerate(sorted(by_name), start=1):
        label = by_name[name]
        gripper = label == catalog.gripper.label
        narrated = label in (spec.target, spec.destination)
        handbox = gripper or label in motion.touched
        class_id = catalog.gripper.class_id if gripper else catalog.kind(label).class_id
        objects[position] = ObjectInfo(
            position, name, class_id, positive=handbox or narrated, handbox=handbox, narration=narrated
        )
    scene = spec.scene
    kinds = {spec.names[label]: catalog.kind(label).label for label in scene.objects}
    return Sequence(
        seq_id=index + 1,
        video=f"sim_{scene.robot}",
        narration=spec.narration.text,
        verb=spec.narration.verb,
        noun=class_label(catalog.kind(spec.target)),
        verb_class=spec.narration.verb_class,
        noun_class=catalog.kind(spec.target).class_id,
        start=1,
        end=frames,
        sparse_frames=[frame_name(i) for i in range(1, frames + 1)],
        objects=objects,
        extra={
            "version": "v2",
            "renderer": "mujoco",
            "robot": scene.robot,
            "texture": scene.table_texture,
            "object_set": sorted(kinds.values()),
            "kinds": kinds,
            "action": spec.action,
            "camera": episode.view.to_json(),
            "light": scene.lighting.to_json(),
            "background": {"floor": scene.floor_texture, "walls": scene.wall_texture},
            "hard_negative": spec.names[episode.twin] if episode.twin else None,
        },
    )


def make_clip(seed: int, split: str, index: int, frames: int, source: SplitPool | None = None) -> Clip:
    """Sample, plan and render clip ``index`` of v2's ``split`` (from ``source``, default the split's pool)."""
    scene, episode, motion = plan_clip(clip_rng(seed, split, index), split, frames, source)
    if not motion.reached or len(motion.frames) != frames:
        raise AssertionError(f"clip {index}: the planned motion misses its targets")
    sequence = sequence_record(index, episode, motion, frames)
    index_of = {obj.name: k for k, obj in sequence.objects.items()}
    segmenter = Segmenter(scene, {label: index_of[name] for label, name in episode.spec.names.items()})
    camera = episode.view.apply(scene.model)
    return Clip(sequence, *render_frames(scene, camera, motion, segmenter, True, sequence.sparse_frames))
