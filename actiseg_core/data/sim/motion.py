"""The scripted action: waypoints -> frames sampled along them -> per-frame IK, validated joint and object poses.

The motion is kinematic (no physics): the grip site follows straight segments between waypoints (approach, grasp
or contact, carry or push, release, retreat) with the gripper pointing down; the fingers close until they touch
the object; a held object keeps its pose relative to the grip site, a pushed one slides with it. Every frame is
checked: the IK must reach its target and nothing may cut into anything else, otherwise the placement is drawn
again, so no clip shows a gripper that misses its target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from actiseg_core.data.sim import searches
from actiseg_core.data.sim.episode import EpisodeSpec
from actiseg_core.data.sim.ik import IKResult
from actiseg_core.data.sim.placement import GAP, PlanningError, place
from actiseg_core.data.sim.scene import TABLE_TOP_Z
from actiseg_core.data.sim.searches import settle
from actiseg_core.data.sim.world import World

PUSH_LENGTH = 0.1  # how far a push moves its object at most
PLACEMENT_ATTEMPTS = 20
UP = np.array([0.0, 0.0, 0.1])  # approach and retreat height above a grasp, contact or release


@dataclass
class Waypoint:
    """Grip-site target; ``carry`` is how the target object moves on the segment that starts here."""

    position: np.ndarray
    yaw: float
    fingers: float
    carry: str = "none"  # "none" | "held" (rigidly with the site) | "pushed" (translated with the site)
    settle: bool = False  # on the segment that starts here a released object drops onto what is below it


@dataclass
class Motion:
    """Full ``qpos`` per frame, the IK residual per frame, and the labels the gripper touched (handbox)."""

    frames: list[np.ndarray]
    errors: list[IKResult]
    touched: set[str] = field(default_factory=set)

    @property
    def reached(self) -> bool:
        return all(error.reached for error in self.errors)


def allocate_intervals(lengths: list[float], intervals: int) -> list[int]:
    """Frames per segment: one each (every waypoint is a frame), the rest spread over moving segments by length."""
    counts = [1] * len(lengths)
    spare = intervals - len(lengths)
    if spare < 0:
        raise ValueError(f"{len(lengths)} segments need at least {len(lengths) + 1} frames")
    total = sum(lengths)
    if spare and total > 0:
        shares = [spare * length / total for length in lengths]
        extra = [int(np.floor(share)) for share in shares]
        order = sorted(range(len(lengths)), key=lambda i: (extra[i] - shares[i], i))
        for i in order[: spare - sum(extra)]:
            extra[i] += 1
        counts = [c + e for c, e in zip(counts, extra, strict=True)]
    return counts


class Searches(NamedTuple):
    """The geometric searches a script asks of its world: MuJoCo's (:mod:`searches`) or pybullet's
    (:mod:`bullet.motion`); the script itself is the same for both renderers."""

    grasp_yaw: Callable[..., float]
    grasp: Callable[..., tuple[np.ndarray, float]]
    push_contact: Callable[..., tuple[np.ndarray, float]]
    release_height: Callable[..., float]


MUJOCO_SEARCHES = Searches(searches.grasp_yaw, searches.grasp, searches.push_contact, searches.release_height)


def frame_samples(waypoints: list[Waypoint], count: int) -> list[tuple[int, float]]:
    """(segment index, fraction along it) of each of ``count`` frames: every waypoint is one, the rest spread over
    the segments by length (plus a little per radian of turn)."""
    lengths = [
        float(np.linalg.norm(b.position - a.position)) + 0.05 * abs(b.yaw - a.yaw)
        for a, b in zip(waypoints, waypoints[1:], strict=False)
    ]
    return [(0, 0.0)] + [
        (i, j / n) for i, n in enumerate(allocate_intervals(lengths, count - 1)) for j in range(1, n + 1)
    ]


def _push(world: Any, episode: EpisodeSpec, start: Waypoint, search: Searches) -> list[Waypoint]:
    target, destination = episode.target, episode.destination
    object_xy = world.object_pose(target)[0][:2]
    towards = world.object_pose(destination)[0][:2] - object_xy
    distance = float(np.linalg.norm(towards))
    direction = towards / distance
    room = distance - world.extent[target].radius - world.extent[destination].radius - GAP
    contact, yaw = search.push_contact(world, target, direction)
    end = contact + np.array([*direction, 0.0]) * min(PUSH_LENGTH, room)
    return [
        start,
        Waypoint(contact + UP, yaw, 1.0),
        Waypoint(contact, yaw, 1.0, carry="pushed"),
        Waypoint(end, yaw, 1.0),
        Waypoint(end + UP, yaw, 1.0),
    ]


def script(
    world: Any,
    episode: EpisodeSpec,
    goal: np.ndarray | None,
    rng: np.random.Generator,
    search: Searches = MUJOCO_SEARCHES,
) -> list[Waypoint]:
    """Waypoints of the narrated action, starting with the gripper hovering over the table's back half.

    ``world`` is a :class:`World` (or pybullet's ``Stage``: the same object poses, extents and ``site_pose``),
    ``search`` the searches against its geometry."""
    hover = rng.uniform([-0.16, -0.1, TABLE_TOP_Z + 0.22], [-0.04, 0.1, TABLE_TOP_Z + 0.3])
    start = Waypoint(hover, 0.0, 1.0 if episode.action == "push" else 0.0)
    if episode.action == "push":
        return _push(world, episode, start, search)
    target = episode.target
    yaw = search.grasp_yaw(world, target)
    site, level = search.grasp(world, target, yaw)
    approach = [start, Waypoint(site + UP, yaw, 0.0), Waypoint(site, yaw, level, carry="held")]
    if episode.action == "pick":
        return approach + [Waypoint(site + 1.5 * UP, yaw, level, carry="held")]
    anchor = (world.site_pose(), world.object_pose(target))
    xy = goal if goal is not None else world.object_pose(episode.destination)[0][:2]
    tallest = max(world.object_pose(lb)[0][2] + world.extent[lb].high[2] for lb in episode.scene.objects)
    carry_z = max(site[2] + 0.12, tallest + 0.05 + site[2] - TABLE_TOP_Z)
    release_z = search.release_height(world, target, xy, yaw, anchor, carry_z, level)
    world.set_object(target, *anchor[1])
    over, drop = np.array([xy[0], xy[1], carry_z]), np.array([xy[0], xy[1], release_z])
    return approach + [
        Waypoint(over, yaw, level, carry="held"),
        Waypoint(drop, yaw, level, carry="held"),
        Waypoint(drop, yaw, 0.0, settle=True),
        Waypoint(drop + UP, yaw, 0.0, settle=True),
    ]


def frames(world: World, waypoints: list[Waypoint], count: int, target: str) -> Motion:
    """Sample ``count`` frames along the waypoints (every waypoint is one), solve and check each of them."""
    samples = frame_samples(waypoints, count)
    world.from_rest()
    motion = Motion(frames=[], errors=[])
    anchor = None
    for index, fraction in samples:
        a = waypoints[index]
        b = waypoints[index + 1] if fraction > 0 else a
        result = world.reach(a.position + fraction * (b.position - a.position), a.yaw + fraction * (b.yaw - a.yaw))
        if not result.reached:
            raise PlanningError("the arm does not reach a frame's target")
        world.fingers.set(world.data, b.fingers if fraction == 1.0 else a.fingers)
        site = world.site_pose()
        mode = a.carry if fraction > 0 else "none"
        if mode == "held":
            world.carry(target, anchor, site)
        elif mode == "pushed":
            shift = np.array([*(site[0] - anchor[0][0])[:2], 0.0])
            world.set_object(target, anchor[1][0] + shift, anchor[1][1])
        else:
            if a.settle and fraction > 0:
                settle(world, target)
            anchor = (site, world.object_pose(target))
        attached = (target,) if mode != "none" else ()
        if world.cuts(world.robot, world.others(*attached)):
            raise PlanningError("the robot cuts into an object or the table")
        if attached and world.cuts(world.objects[target], world.others(target)):
            raise PlanningError("the carried object cuts into another object")
        if attached:
            motion.touched.add(target)
        motion.errors.append(result)
        motion.frames.append(world.data.qpos.copy())
    return motion


def plan(world: World, episode: EpisodeSpec, count: int, rng: np.random.Generator) -> Motion:
    """Place the objects and script the action; redraws the placement until every frame checks out."""
    for _ in range(PLACEMENT_ATTEMPTS):
        world.data.qpos[:] = world.model.qpos0
        try:
            goal = place(world, episode, rng)
            return frames(world, script(world, episode, goal, rng), count, episode.target)
        except PlanningError:
            continue
    raise PlanningError(f"no valid placement for {episode.narration.text!r} in {PLACEMENT_ATTEMPTS} attempts")
