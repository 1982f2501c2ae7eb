"""Where the objects stand: upright on the table, random yaw, footprints apart, the narrated ones within reach.

Footprints are circles of each object's real horizontal radius (:class:`geometry.Extent`), so objects never
overlap; heights come from each object's lowest point, so they rest on the table without cutting into it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from actiseg_core.data.sim.episode import EpisodeSpec
from actiseg_core.data.sim.world import World, yaw_quat

REACH_X = (-0.2, 0.08)  # where targets and destinations stand: every catalog robot reaches it pointing down
REACH_Y = (-0.22, 0.22)
TABLE_X = (-0.27, 0.16)  # where distractors may stand: the part of the table the camera sees
TABLE_Y = (-0.3, 0.3)
GAP = 0.02  # free space between object footprints
PUSH_ROOM = 0.07  # free distance between a pushed object and its destination, at least
SPOT_TRIES = 200

Placed = dict[str, tuple[np.ndarray, float]]  # label -> (xy, footprint radius) of what stands on the table


class PlanningError(Exception):
    """No valid placement or motion was found; the caller draws again."""


def _free(xy: np.ndarray, radius: float, placed: Placed) -> bool:
    return all(np.linalg.norm(xy - other) >= radius + r + GAP for other, r in placed.values())


def _constraint(
    label: str, radius: float, episode: EpisodeSpec, placed: Placed, shift: np.ndarray
) -> Callable[[np.ndarray], bool] | None:
    """What else a spot must satisfy: room to move the target sideways, or room to push it toward its goal."""
    if label == episode.target and episode.side:
        return lambda xy: REACH_Y[0] <= xy[1] + shift[1] <= REACH_Y[1] and _free(xy + shift, radius, placed)
    if label == episode.destination and episode.action == "push":
        target_xy, target_radius = placed[episode.target]
        return lambda xy: float(np.linalg.norm(xy - target_xy)) - radius - target_radius >= PUSH_ROOM
    return None


def _spot(
    rng: np.random.Generator,
    radius: float,
    placed: Placed,
    area: tuple[tuple, tuple],
    fits: Callable[[np.ndarray], bool] | None,
) -> np.ndarray:
    """A random free spot in ``area`` (x range, y range) that also ``fits`` when given."""
    for _ in range(SPOT_TRIES):
        xy = np.array([rng.uniform(*area[0]), rng.uniform(*area[1])])
        if _free(xy, radius, placed) and (fits is None or fits(xy)):
            return xy
    raise PlanningError("no free spot on the table")


def place(world: World, episode: EpisodeSpec, rng: np.random.Generator) -> np.ndarray | None:
    """Stand every object of the episode in ``world``; returns where "move" takes the target (else None).

    The spot a target is moved to is kept free of distractors; "left" is -y, as the camera sees it.
    """
    placed: Placed = {}
    goal = None
    shift = np.zeros(2)
    if episode.side:
        shift[1] = rng.uniform(0.12, 0.2) * (-1.0 if episode.side == "left" else 1.0)
    required = [episode.target] + ([episode.destination] if episode.destination else [])
    for label in required + [lb for lb in episode.scene.objects if lb not in required]:
        radius = world.extent[label].radius
        area = (REACH_X, REACH_Y) if label in required else (TABLE_X, TABLE_Y)
        xy = _spot(rng, radius, placed, area, _constraint(label, radius, episode, placed, shift))
        placed[label] = (xy, radius)
        if label == episode.target and episode.side:
            goal = xy + shift
            placed["goal"] = (goal, radius)
    for label in episode.scene.objects:
        xy, _ = placed[label]
        yaw = float(rng.uniform(-np.pi, np.pi))
        world.set_object(label, np.array([xy[0], xy[1], world.resting_z(label)]), yaw_quat(yaw))
    return goal
