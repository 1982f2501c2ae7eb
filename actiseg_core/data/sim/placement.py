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
MOVE_MIN = 0.06  # "move X next to Y" carries X at least this far beyond its own footprint

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


def _beside(
    rng: np.random.Generator, anchor: tuple[np.ndarray, float], radius: float, start: np.ndarray, placed: Placed
) -> np.ndarray:
    """A free spot in reach right beside ``anchor`` (footprints 1.5 gaps apart), away from the target's ``start``."""
    for _ in range(SPOT_TRIES):
        angle = rng.uniform(-np.pi, np.pi)
        xy = anchor[0] + (anchor[1] + radius + 1.5 * GAP) * np.array([np.cos(angle), np.sin(angle)])
        inside = REACH_X[0] <= xy[0] <= REACH_X[1] and REACH_Y[0] <= xy[1] <= REACH_Y[1]
        if inside and _free(xy, radius, placed) and float(np.linalg.norm(xy - start)) >= 2 * radius + MOVE_MIN:
            return xy
    raise PlanningError("no free spot beside the destination")


def place(world: World, episode: EpisodeSpec, rng: np.random.Generator) -> np.ndarray | None:
    """Stand every object of the episode in ``world``; returns where "move" / "move_next" take the target.

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
        if label == episode.destination and episode.action == "move_next":
            start, target_radius = placed[episode.target]
            others = {lb: spot for lb, spot in placed.items() if lb != episode.target}
            goal = _beside(rng, placed[label], target_radius, start, others)
            placed["goal"] = (goal, target_radius)
    for label in episode.scene.objects:
        xy, _ = placed[label]
        yaw = float(rng.uniform(-np.pi, np.pi))
        world.set_object(label, np.array([xy[0], xy[1], world.resting_z(label)]), yaw_quat(yaw))
    return goal
