"""Sampling what an episode shows: embodiment, textures, lighting, camera, action, objects and their names.

Everything is drawn from the clip's own random generator, so a clip depends only on (seed, split, clip index).
Where objects stand and how the arm moves is decided later, against the compiled model (:mod:`motion`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actiseg_core.data.sim.camera import Camera, sample_camera
from actiseg_core.data.sim.catalog import FLOOR_TEXTURES, GRIPPER, OBJECTS, OBJECTS_BY_LABEL, WALL_TEXTURES
from actiseg_core.data.sim.narration import ACTIONS, Narration, narrate
from actiseg_core.data.sim.scene import Lighting, SceneSpec
from actiseg_core.data.sim.splits import split_pairs

MAX_CONTAINERS = 2


@dataclass(frozen=True)
class EpisodeSpec:
    """One narrated action before placement: ``target`` / ``destination`` are class labels present in ``scene``.

    ``side`` is "left" / "right" for "move", as seen from the camera (left is -y in the world frame).
    ``names`` maps each class label (and "gripper") to the name written in the annotations and the narration.
    """

    scene: SceneSpec
    action: str
    target: str
    destination: str | None
    side: str | None
    names: dict[str, str]
    narration: Narration
    camera: Camera | None  # v2 keeps its view beside the episode (None for the wrist camera)


def _choice(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _sample_objects(rng: np.random.Generator, action: str) -> tuple[str, str | None, list[str]]:
    """Target, destination (or None) and distractor labels; 3 to 5 objects, 1 to 3 of them distractors."""
    graspable = [k.label for k in OBJECTS if k.graspable]
    containers = [k.label for k in OBJECTS if k.container]
    if action == "push":
        target = _choice(rng, [k.label for k in OBJECTS if not k.container])
        destination: str | None = _choice(rng, [k.label for k in OBJECTS if k.label != target])
    else:
        target = _choice(rng, graspable)
        destination = _choice(rng, containers) if action == "put" else None
    required = [target] + ([destination] if destination else [])
    count = int(rng.integers(1, 4)) if destination else int(rng.integers(2, 4))
    distractors: list[str] = []
    for label in rng.permutation([k.label for k in OBJECTS]):
        used = required + distractors
        if label in used:
            continue
        if OBJECTS_BY_LABEL[label].container and sum(OBJECTS_BY_LABEL[u].container for u in used) >= MAX_CONTAINERS:
            continue
        distractors.append(str(label))
        if len(distractors) == count:
            break
    return target, destination, distractors


def sample_episode(rng: np.random.Generator, split: str) -> EpisodeSpec:
    """Draw one episode of ``split``; its (robot, table texture) pair comes from the split's partition."""
    pairs = split_pairs(split)
    robot, table = pairs[int(rng.integers(len(pairs)))]
    direction = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6), -1.0])
    lighting = Lighting(
        direction=tuple(float(v) for v in direction / np.linalg.norm(direction)),
        diffuse=round(float(rng.uniform(0.45, 0.9)), 3),
        ambient=round(float(rng.uniform(0.15, 0.35)), 3),
    )
    camera = sample_camera(rng)
    action = ACTIONS[int(rng.integers(len(ACTIONS)))]
    target, destination, distractors = _sample_objects(rng, action)
    labels = tuple(sorted([target] + ([destination] if destination else []) + distractors))
    names = {label: _choice(rng, list(OBJECTS_BY_LABEL[label].names)) for label in labels}
    names[GRIPPER.label] = _choice(rng, list(GRIPPER.names))
    side = _choice(rng, ["left", "right"]) if action == "move" else None
    narration = narrate(
        rng,
        action,
        names[target],
        destination=names[destination] if destination else None,
        preposition=OBJECTS_BY_LABEL[destination].preposition if destination else "on",
        side=side,
    )
    scene = SceneSpec(
        robot=robot,
        table_texture=table,
        floor_texture=_choice(rng, list(FLOOR_TEXTURES)),
        wall_texture=_choice(rng, list(WALL_TEXTURES)),
        objects=labels,
        lighting=lighting,
    )
    return EpisodeSpec(scene, action, target, destination, side, names, narration, camera)
