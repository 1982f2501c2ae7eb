"""The scripted action in pybullet: placement, waypoints, searches against the real geometry, per-frame IK.

The same script as the MuJoCo clips' (:mod:`motion`, :mod:`searches`), asked of a :class:`stage.Stage` instead
of a :class:`world.World`: objects stand where :func:`placement.place` puts them; the grip point follows straight
segments between waypoints (approach, grasp or contact, carry or push, release, retreat) with the gripper pointing
down; a grasp is found by raising the open gripper until it clears the table and every object and then closing the
fingers until they touch the object; a held object keeps its pose relative to the grip point (moved rigidly with
the end effector), a pushed one slides with it, a released one drops onto what is below it. Every frame is
checked: the IK must reach its target (:data:`robots.POSITION_TOLERANCE`) and nothing may cut into anything else,
otherwise the placement is drawn again, so no clip shows a gripper that misses its target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from actiseg_core.data.sim.bullet.robots import matrix_to_quat, quat_to_matrix
from actiseg_core.data.sim.bullet.stage import Stage, mujoco_to_bullet_quat
from actiseg_core.data.sim.episode import EpisodeSpec
from actiseg_core.data.sim.ik import IKResult
from actiseg_core.data.sim.motion import PLACEMENT_ATTEMPTS, Searches, Waypoint, frame_samples, script
from actiseg_core.data.sim.placement import PlanningError, place
from actiseg_core.data.sim.scene import TABLE_TOP_Z

STEP = 0.004  # metres per search step (as searches.STEP)
TOUCH = 0.0005  # overlap that counts as touching when the closed gripper approaches an object to push it
SEARCH_STEPS = 20
GRASP_TOUCH = 0.001  # metres: the fingers stop closing this close to the object
CLOSING_STEPS = 14  # bisection steps of the finger level

Pose = tuple[np.ndarray, np.ndarray]  # (grip point, 3x3 rotation) or (object position, MuJoCo quat)


@dataclass
class FramePose:
    """Everything a frame poses: arm joints, finger level and every object's (position, quat)."""

    arm: np.ndarray
    fingers: float
    objects: dict[str, Pose]
    grip: np.ndarray
    carry: str  # "none" | "held" | "pushed": the target's state in this frame


@dataclass
class BulletMotion:
    """The frames of the action, their IK residuals and the labels the gripper touched (handbox)."""

    frames: list[FramePose]
    errors: list[IKResult]
    touched: set[str] = field(default_factory=set)

    @property
    def reached(self) -> bool:
        return all(error.reached for error in self.errors)


def apply(stage: Stage, frame: FramePose) -> None:
    stage.robot.set_arm(frame.arm)
    stage.robot.set_fingers(frame.fingers)
    for label, (position, quat) in frame.objects.items():
        stage.set_object(label, position, quat)


def _wrap_half_turn(angle: float) -> float:
    """An angle modulo pi in (-pi/2, pi/2]: a parallel gripper is symmetric under a half turn."""
    return float(angle - np.pi * np.round(angle / np.pi))


def _mujoco_quat(rotation: np.ndarray) -> np.ndarray:
    x, y, z, w = matrix_to_quat(rotation)
    return np.array([w, x, y, z])


def carry(stage: Stage, label: str, anchor: tuple[Pose, Pose], grip: Pose) -> None:
    """Move a held object rigidly with the grip point: its pose relative to the grip at ``anchor`` is kept."""
    (anchor_pos, anchor_rot), (object_pos, object_quat) = anchor
    object_rot = quat_to_matrix(mujoco_to_bullet_quat(object_quat))
    relative_rot = anchor_rot.T @ object_rot
    relative_pos = anchor_rot.T @ (object_pos - anchor_pos)
    stage.set_object(label, grip[0] + grip[1] @ relative_pos, _mujoco_quat(grip[1] @ relative_rot))


# --------------------------------------------------------------------------------------------------------------
# searches (as searches.py)


def grasp_yaw(stage: Stage, label: str) -> float:
    """Gripper yaw that closes the fingers across the object's narrower horizontal side."""
    _, quat = stage.object_pose(label)
    yaw = 2 * np.arctan2(quat[3], quat[0])
    half = stage.extent[label].half_xy
    narrow = yaw + (0.0 if half[0] <= half[1] else np.pi / 2)
    return _wrap_half_turn(narrow - stage.robot.closing_angle)


def close_on(stage: Stage, label: str) -> float:
    """The finger level at which the fingers first touch object ``label`` (1.0: they close without touching)."""
    robot = stage.robot
    robot.set_fingers(1.0)
    if stage.finger_distance(label) > GRASP_TOUCH:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(CLOSING_STEPS):
        middle = (low + high) / 2
        robot.set_fingers(middle)
        if stage.finger_distance(label) > GRASP_TOUCH:
            low = middle
        else:
            high = middle
    robot.set_fingers(low)
    return low


def grasp(stage: Stage, label: str, yaw: float) -> tuple[np.ndarray, float]:
    """Grip point and finger level of a grasp: around the object's middle (below the top of tall objects),
    raised until the open fingers clear the table and every object and the fingers, closed until they touch the
    object, clear everything else (linkage fingers such as the xArm's dip as they close)."""
    robot = stage.robot
    position, _ = stage.object_pose(label)
    extent = stage.extent[label]
    height = float(extent.high[2] - extent.low[2])
    z = position[2] + extent.low[2] + (height - 0.04 if height > 0.09 else height / 2)
    everything, others = stage.others(), stage.others(label)
    robot.from_rest()
    for _ in range(SEARCH_STEPS):
        site = np.array([position[0], position[1], z])
        z += STEP
        robot.set_fingers(0.0)
        if not robot.reach(site, yaw).reached:
            raise PlanningError("grasp pose out of reach")
        if stage.robot_cuts(everything, gripper_only=True):
            continue
        level = close_on(stage, label)
        if level > 0.98:
            raise PlanningError("fingers close without touching the object")
        if not stage.robot_cuts(others, gripper_only=True):
            return site, level
    raise PlanningError("the gripper does not fit around the object")


def push_contact(stage: Stage, label: str, direction: np.ndarray) -> tuple[np.ndarray, float]:
    """Where the closed gripper touches the object from behind (opposite ``direction``), at half its height or
    as low as the table allows."""
    robot = stage.robot
    position, _ = stage.object_pose(label)
    extent = stage.extent[label]
    yaw = _wrap_half_turn(float(np.arctan2(direction[1], direction[0])) + np.pi / 2 - robot.closing_angle)
    start = position[:2] - direction * (extent.radius + 0.06)
    z = TABLE_TOP_Z + float(extent.high[2] - extent.low[2]) / 2
    robot.from_rest()
    robot.set_fingers(1.0)
    for _ in range(SEARCH_STEPS):
        if not robot.reach(np.array([*start, z]), yaw).reached:
            raise PlanningError("push start out of reach")
        if not stage.robot_cuts(stage.others(), gripper_only=True):
            break
        z += STEP
    else:
        raise PlanningError("closed gripper cannot get low enough to push")
    contact = None
    target = [stage.objects[label].trimesh]
    for step in range(int((extent.radius + 0.08) / STEP)):
        site = np.array([*(start + direction * step * STEP), z])
        if not robot.reach(site, yaw).reached:
            raise PlanningError("push contact out of reach")
        if stage.robot_cuts(target, TOUCH, gripper_only=True):
            break
        contact = site
    else:
        raise PlanningError("the gripper passes the object without touching it")
    if contact is None:
        raise PlanningError("push starts inside the object")
    return contact, yaw


def release_height(
    stage: Stage, label: str, xy: np.ndarray, yaw: float, anchor: tuple[Pose, Pose], start_z: float, level: float
) -> float:
    """Lowest grip height over ``xy`` at which neither the held object nor the gripper, closed at ``level`` or
    opened to let go, cuts into anything."""
    robot = stage.robot
    others = stage.others(label)
    free = None
    for step in range(int((start_z - TABLE_TOP_Z) / STEP)):
        site = np.array([xy[0], xy[1], start_z - step * STEP])
        carry(stage, label, anchor, (site, robot.rotation(yaw)))
        if stage.object_cuts(label, others, 0.0) or not robot.reach(site, yaw).reached:
            break
        cuts = False
        for fingers in (level, 0.0):
            robot.set_fingers(fingers)
            cuts = cuts or stage.robot_cuts(others, gripper_only=True)
        if cuts:
            break
        free = site[2]
    if free is None:
        raise PlanningError("nowhere to release the object")
    return free + 0.002


def settle(stage: Stage, label: str) -> None:
    """Let a released object drop straight down until it rests on the table or on another object."""
    position, quat = stage.object_pose(label)
    others = stage.others(label)
    while position[2] > stage.resting_z(label):
        lower = position - [0.0, 0.0, STEP]
        stage.set_object(label, lower, quat)
        if stage.object_cuts(label, others, 0.0):
            stage.set_object(label, position, quat)
            return
        position = lower
    stage.set_object(label, np.array([position[0], position[1], stage.resting_z(label)]), quat)


# the searches above drive motion.py's script (the same waypoints as the MuJoCo clips)
BULLET_SEARCHES = Searches(grasp_yaw, grasp, push_contact, release_height)


def frames(stage: Stage, waypoints: list[Waypoint], count: int, target: str) -> BulletMotion:
    """Sample ``count`` frames along the waypoints (every waypoint is one), solve and check each of them."""
    robot = stage.robot
    samples = frame_samples(waypoints, count)
    robot.from_rest()
    motion = BulletMotion(frames=[], errors=[])
    anchor = None
    for index, fraction in samples:
        a = waypoints[index]
        b = waypoints[index + 1] if fraction > 0 else a
        result = robot.reach(a.position + fraction * (b.position - a.position), a.yaw + fraction * (b.yaw - a.yaw))
        if not result.reached:
            raise PlanningError("the arm does not reach a frame's target")
        fingers = b.fingers if fraction == 1.0 else a.fingers
        robot.set_fingers(fingers)
        grip = robot.grip_pose()
        mode = a.carry if fraction > 0 else "none"
        if mode == "held":
            carry(stage, target, anchor, grip)
        elif mode == "pushed":
            shift = np.array([*(grip[0] - anchor[0][0])[:2], 0.0])
            stage.set_object(target, anchor[1][0] + shift, anchor[1][1])
        else:
            if a.settle and fraction > 0:
                settle(stage, target)
            anchor = (grip, stage.object_pose(target))
        attached = (target,) if mode != "none" else ()
        if stage.robot_cuts(stage.others(*attached)):
            raise PlanningError("the robot cuts into an object or the table")
        if attached and stage.object_cuts(target, stage.others(target)):
            raise PlanningError("the carried object cuts into another object")
        if attached:
            motion.touched.add(target)
        motion.errors.append(result)
        poses = {label: stage.object_pose(label) for label in stage.objects}
        motion.frames.append(FramePose(robot.arm_pose(), fingers, poses, grip[0], mode))
    return motion


def plan(stage: Stage, episode: EpisodeSpec, count: int, rng: np.random.Generator) -> BulletMotion:
    """Place the objects and script the action; redraws the placement until every frame checks out."""
    for _ in range(PLACEMENT_ATTEMPTS):
        stage.robot.from_rest()
        try:
            goal = place(stage, episode, rng)  # duck-typed: extent, resting_z and set_object, as World has
            return frames(stage, script(stage, episode, goal, rng, BULLET_SEARCHES), count, episode.target)
        except PlanningError:
            continue
    raise PlanningError(f"no valid placement for {episode.action} {episode.target!r} in {PLACEMENT_ATTEMPTS} attempts")
