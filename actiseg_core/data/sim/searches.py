"""Poses found by searching against the real geometry instead of per-gripper constants.

Grippers differ in finger length, width and where their grip site sits, objects in height and shape; so grasp
heights, push contacts and release heights are found by stepping a pose and asking MuJoCo's collision pass whether
anything cuts into anything else. The result works the same for every robosuite gripper and object.
"""

from __future__ import annotations

import numpy as np

from actiseg_core.data.sim.gripper import close_on
from actiseg_core.data.sim.placement import PlanningError
from actiseg_core.data.sim.scene import TABLE_TOP_Z
from actiseg_core.data.sim.world import Anchor, World

STEP = 0.004  # metres per search step
TOUCH = 0.0005  # overlap that counts as touching when the gripper approaches an object to push it
SEARCH_STEPS = 20


def _wrap_half_turn(angle: float) -> float:
    """An angle modulo pi in (-pi/2, pi/2]: a parallel gripper is symmetric under a half turn."""
    return float(angle - np.pi * np.round(angle / np.pi))


def grasp_yaw(world: World, label: str) -> float:
    """Gripper yaw that closes the fingers across the object's narrower horizontal side."""
    _, quat = world.object_pose(label)
    yaw = 2 * np.arctan2(quat[3], quat[0])
    half = world.extent[label].half_xy
    narrow = yaw + (0.0 if half[0] <= half[1] else np.pi / 2)
    return _wrap_half_turn(narrow - world.closing_angle)


def grasp(world: World, label: str, yaw: float) -> tuple[np.ndarray, float]:
    """Grip-site position and finger level of a grasp: around the object's middle (below the top of tall objects),
    raised until the open fingers clear the table and every object, then closed until they touch the object."""
    position, _ = world.object_pose(label)
    extent = world.extent[label]
    height = float(extent.high[2] - extent.low[2])
    z = position[2] + extent.low[2] + (height - 0.04 if height > 0.09 else height / 2)
    everything = world.others()
    world.from_rest()
    for _ in range(SEARCH_STEPS):
        site = np.array([position[0], position[1], z])
        world.fingers.set(world.data, 0.0)
        if not world.reach(site, yaw).reached:
            raise PlanningError("grasp pose out of reach")
        if not world.cuts(world.gripper, everything):
            break
        z += STEP
    else:
        raise PlanningError("open gripper does not fit around the object")
    level = close_on(world.model, world.data, world.fingers, world.gripper, world.objects[label])
    if level > 0.98:
        raise PlanningError("fingers close without touching the object")
    return site, level


def push_contact(world: World, label: str, direction: np.ndarray) -> tuple[np.ndarray, float]:
    """Where the closed gripper touches the object from behind (opposite ``direction``), at half its height or
    as low as the table allows."""
    position, _ = world.object_pose(label)
    extent = world.extent[label]
    yaw = _wrap_half_turn(float(np.arctan2(direction[1], direction[0])) + np.pi / 2 - world.closing_angle)
    start = position[:2] - direction * (extent.radius + 0.06)
    z = TABLE_TOP_Z + float(extent.high[2] - extent.low[2]) / 2
    world.from_rest()
    world.fingers.set(world.data, 1.0)
    for _ in range(SEARCH_STEPS):
        if not world.reach(np.array([*start, z]), yaw).reached:
            raise PlanningError("push start out of reach")
        if not world.cuts(world.gripper, world.others()):
            break
        z += STEP
    else:
        raise PlanningError("closed gripper cannot get low enough to push")
    contact = None
    for step in range(int((extent.radius + 0.08) / STEP)):
        site = np.array([*(start + direction * step * STEP), z])
        if not world.reach(site, yaw).reached:
            raise PlanningError("push contact out of reach")
        if world.cuts(world.gripper, world.objects[label], TOUCH):
            break
        contact = site
    else:
        raise PlanningError("the gripper passes the object without touching it")
    if contact is None:
        raise PlanningError("push starts inside the object")
    return contact, yaw


def release_height(
    world: World, label: str, xy: np.ndarray, yaw: float, anchor: Anchor, start_z: float, level: float
) -> float:
    """Lowest grip-site height over ``xy`` at which neither the held object nor the gripper, closed at ``level`` or
    opened to let go, cuts into anything."""
    others = world.others(label)
    free = None
    for step in range(int((start_z - TABLE_TOP_Z) / STEP)):
        site = np.array([xy[0], xy[1], start_z - step * STEP])
        world.carry(label, anchor, (site, world.rotation(yaw)))
        if world.cuts(world.objects[label], others, 0.0) or not world.reach(site, yaw).reached:
            break
        if any(_gripper_cuts(world, fingers, others) for fingers in (level, 0.0)):
            break
        free = site[2]
    if free is None:
        raise PlanningError("nowhere to release the object")
    return free + 0.002


def _gripper_cuts(world: World, level: float, others: np.ndarray) -> bool:
    world.fingers.set(world.data, level)
    return world.cuts(world.gripper, others)


def settle(world: World, label: str) -> None:
    """Let a released object drop straight down until it rests on the table or on another object."""
    position, quat = world.object_pose(label)
    others = world.others(label)
    while position[2] > world.resting_z(label):
        lower = position - [0.0, 0.0, STEP]
        world.set_object(label, lower, quat)
        if world.cuts(world.objects[label], others, 0.0):
            world.set_object(label, position, quat)
            return
        position = lower
    world.set_object(label, np.array([position[0], position[1], world.resting_z(label)]), quat)
