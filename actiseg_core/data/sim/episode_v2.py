"""Sampling a v2 episode: embodiment, textures, light, view, a (multi-object) action and its objects.

Hard negatives: in :data:`HARD_NEGATIVE_SHARE` of the clips a second instance of the target's class stands in the
scene, inactive: another look of the class (a black bowl beside the red one) or a copy of the same kind. Only the
narration tells them apart, by colour or by where they stand as the camera sees them; that word is chosen after
planning (:func:`names_and_narration`), from the planned scene, so it is always true.
Actions: v1's pick / put / push / move plus stack (put X on a flat object) and move_next (move X next to Y).
Everything is drawn from the clip's own generator, so a clip depends only on (seed, split, clip index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actiseg_core.data.sim.catalog import INSTANCE_SEPARATOR, Catalog, ObjectKind, class_label
from actiseg_core.data.sim.catalog_v2 import V2
from actiseg_core.data.sim.episode import EpisodeSpec
from actiseg_core.data.sim.narration import V2_ACTIONS, Narration, narrate
from actiseg_core.data.sim.scene import Lighting, SceneSpec
from actiseg_core.data.sim.splits_v2 import SplitPool, pool
from actiseg_core.data.sim.views import Basis, View, sample_view

HARD_NEGATIVE_SHARE = 0.4
OTHER_LOOK_SHARE = 0.7  # a hard negative is another look of the class when the class has one, else a copy
MAX_CONTAINERS = 2
_PLACEHOLDER = Narration("", "", 0)


@dataclass(frozen=True)
class EpisodeV2:
    """An episode as the planner needs it (``spec``), its view, and the hard negative's instance label if any.

    ``spec.names`` and ``spec.narration`` are placeholders until :func:`names_and_narration` fills them in.
    """

    spec: EpisodeSpec
    view: View
    twin: str | None
    catalog: Catalog = V2


def _choice(rng: np.random.Generator, options: list) -> object:
    return options[int(rng.integers(len(options)))]


def _pick_kind(rng: np.random.Generator, kinds: list[ObjectKind], exclude: set[str]) -> ObjectKind:
    options = [k for k in kinds if class_label(k) not in exclude]
    return _choice(rng, options)


def _destination(rng: np.random.Generator, action: str, source: SplitPool, target: ObjectKind) -> ObjectKind | None:
    exclude = {class_label(target)}
    if action == "put":
        return _pick_kind(rng, [k for k in source.targets + source.distractors if k.container], exclude)
    if action == "stack":
        return _pick_kind(rng, [k for k in source.targets + source.distractors if k.stackable], exclude)
    if action in ("push", "move_next"):
        return _pick_kind(rng, list(source.distractors), exclude)
    return None


def _twin(rng: np.random.Generator, target: ObjectKind, catalog: Catalog) -> ObjectKind:
    looks = [k for k in catalog.objects if k.class_id == target.class_id and k.label != target.label]
    if looks and rng.uniform() < OTHER_LOOK_SHARE:
        return _choice(rng, looks)
    return target


def _instances(kinds: list[ObjectKind]) -> list[str]:
    """Scene labels: a kind's label, with ``.2`` for its second instance."""
    labels: list[str] = []
    for kind in kinds:
        label = kind.label
        labels.append(label if label not in labels else f"{label}{INSTANCE_SEPARATOR}2")
    return labels


def sample_episode_v2(rng: np.random.Generator, split: str, source: SplitPool | None = None) -> EpisodeV2:
    """Draw one episode of ``split`` from ``source`` (default: the split's pool, :func:`splits_v2.pool`)."""
    source = source or pool(split)
    catalog = source.catalog
    robot, table = _choice(rng, list(source.pairs))
    direction = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6), -1.0])
    lighting = Lighting(
        direction=tuple(float(v) for v in direction / np.linalg.norm(direction)),
        diffuse=round(float(rng.uniform(0.35, 0.95)), 3),
        ambient=round(float(rng.uniform(0.1, 0.4)), 3),
    )
    view = sample_view(rng)
    action = str(_choice(rng, list(V2_ACTIONS)))
    movable = [k for k in source.targets if (not k.container if action == "push" else k.graspable)]
    target = _choice(rng, movable)
    destination = _destination(rng, action, source, target)
    twin = _twin(rng, target, catalog) if rng.uniform() < HARD_NEGATIVE_SHARE else None
    required = [target] + ([destination] if destination else []) + ([twin] if twin else [])
    used = {class_label(k) for k in required}
    containers = sum(k.container for k in required)
    count = int(rng.integers(1, 4)) - (twin is not None)  # 3 to 5 objects in all, as in v1
    distractors: list[ObjectKind] = []
    for index in rng.permutation(len(source.distractors)):
        if len(distractors) >= count:
            break
        kind = source.distractors[int(index)]
        if class_label(kind) in used or (kind.container and containers >= MAX_CONTAINERS):
            continue
        distractors.append(kind)
        used.add(class_label(kind))
        containers += kind.container
    labels = _instances(required + distractors)
    scene = SceneSpec(
        robot=robot,
        table_texture=table,
        floor_texture=str(_choice(rng, list(catalog.floor_textures))),
        wall_texture=str(_choice(rng, list(catalog.wall_textures))),
        objects=tuple(sorted(labels)),
        lighting=lighting,
    )
    side = str(_choice(rng, ["left", "right"])) if action == "move" else None
    spec = EpisodeSpec(
        scene=scene,
        action=action,
        target=labels[0],
        destination=labels[1] if destination else None,
        side=side,
        names={},
        narration=_PLACEHOLDER,
        camera=view.orbit,
    )
    return EpisodeV2(spec, view, labels[len(required) - 1] if twin else None, catalog)


def _relation(view: View, basis: Basis, target: np.ndarray, twin: np.ndarray, aspect: float) -> tuple[str, str]:
    """Words for (target, twin) by where they stand in the image: left / right, or in front / at the back."""
    a, b = view.project(basis, target, aspect), view.project(basis, twin, aspect)
    if a is None or b is None:
        raise ValueError("a hard negative must stand in front of the camera")
    if abs(a[0] - b[0]) * aspect >= abs(a[1] - b[1]):
        return ("on the left", "on the right") if a[0] < b[0] else ("on the right", "on the left")
    return ("in front", "at the back") if a[2] < b[2] else ("at the back", "in front")


def names_and_narration(
    rng: np.random.Generator, episode: EpisodeV2, positions: dict[str, np.ndarray], basis: Basis, aspect: float
) -> EpisodeSpec:
    """Fill in the objects' names and the narration; ``positions`` are object centres in the first frame.

    The target and its hard negative share one name of their class, told apart by colour when their looks have
    different colours, else by the relation :func:`_relation` sees.
    """
    spec, catalog = episode.spec, episode.catalog
    names = {catalog.gripper.label: str(_choice(rng, list(catalog.gripper.names)))}
    for label in spec.scene.objects:
        names[label] = str(_choice(rng, list(catalog.kind(label).names)))
    if episode.twin is not None:
        base = names[spec.target]
        target_kind, twin_kind = catalog.kind(spec.target), catalog.kind(episode.twin)
        if target_kind.colour and twin_kind.colour and target_kind.colour != twin_kind.colour:
            names[spec.target], names[episode.twin] = f"{target_kind.colour} {base}", f"{twin_kind.colour} {base}"
        else:
            near, far = _relation(episode.view, basis, positions[spec.target], positions[episode.twin], aspect)
            names[spec.target], names[episode.twin] = f"{base} {near}", f"{base} {far}"
    destination = spec.destination
    narration = narrate(
        rng,
        spec.action,
        names[spec.target],
        destination=names[destination] if destination else None,
        preposition=catalog.kind(destination).preposition if destination else "on",
        side=spec.side,
    )
    return EpisodeSpec(spec.scene, spec.action, spec.target, destination, spec.side, names, narration, spec.camera)
