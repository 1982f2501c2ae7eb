"""Kinematic finger poses of robosuite's grippers, from their linkages' mimic relations.

robosuite's grippers rely on physics to hold their linkages together (the Robotiq fingers are coupled by soft
tendon springs, the xArm by equality constraints), so setting only the driven joint leaves the passive links
flailing, and a short simulation does not settle them either (measured: a Robotiq 140 pad sticks out sideways).
In the makers' URDFs every finger joint "mimics" one driver angle with a fixed multiplier; so a pose is a
point on the straight line (in joint space) between two end poses listed below per gripper class. Which end is
open is measured (finger-pad gap), and "closed" is where the pads come closest: some fingers cross past it.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from actiseg_core.data.sim.geometry import penetrations
from actiseg_core.data.sim.scene import Scene

_R85 = np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0])  # finger, l-inner-finger, l-inner-knuckle, r-outer-knuckle, ...
_R140 = np.array([1.0, 1.0, -1.0, -1.0, 1.0, -1.0])

# Gripper class -> two end poses of its finger joints (in robosuite's joint order), checked visually. Hands (Inspire,
# Fourier, Ability, Schunk SVH) open with straight fingers and close with fingers curled and the thumb opposed; the
# Robotiq three-finger opens with its fingers parallel, and the Fourier thumb starts half turned toward the palm.
END_POSES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "PandaGripper": (np.array([0.04, -0.04]), np.zeros(2)),
    "RethinkGripper": (np.array([0.021, -0.021]), np.array([-0.012, 0.012])),
    "Robotiq85Gripper": (np.zeros(6), 0.8 * _R85),
    "Robotiq140Gripper": (np.zeros(6), 0.7 * _R140),
    "JacoThreeFingerGripper": (np.array([1.3, 0.52] * 3), np.zeros(6)),
    "XArm7Gripper": (np.zeros(6), np.full(6, 0.85)),
    "RobotiqThreeFingerGripper": (
        np.array([0, 0.35, 0, 0] * 2 + [0.35, 0, 0]),
        np.array([0, 1.0, 0.6, 0] * 2 + [1.0, 0.6, 0]),
    ),
    "InspireRightHand": (np.zeros(12), np.array([1.3, 0.5, 0.5, 0.5, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2])),
    "FourierRightHand": (
        np.array([1.0] + [0.0] * 10),
        np.array([1.7, 0.6, 0.6, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2]),
    ),
    "UMIGripper": (np.zeros(2), np.full(2, -0.045)),
    "AlohaGripper": (np.zeros(2), np.full(2, 0.041)),
    "PR2Gripper": (np.zeros(4), np.array([0.548, 0.0, 0.548, 0.0])),
    "YumiRightGripper": (np.zeros(2), np.full(2, 0.025)),
    "AbilityRightHand": (np.zeros(10), np.array([-1.0, 1.0, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3, 1.3])),
    "SchunkSvhRightHand": (
        np.zeros(20),
        np.array([0.9, 0.6, 0.6, 0.8, 0, 0.6, 1.0, 1.0, 0.6, 1.0, 1.0, 0.5, 0, 0.7, 1.0, 1.0, 0, 0.7, 1.0, 1.0]),
    ),
}
# v1's grippers (its arms' defaults): their closing test counts every gripper geom, as when v1 was rendered.
# The others count only the geoms the finger joints move: a hand's palm rests on what it grasps from above.
WHOLE_GRIPPER_CLOSING = frozenset(
    {
        "PandaGripper",
        "RethinkGripper",
        "Robotiq85Gripper",
        "Robotiq140Gripper",
        "JacoThreeFingerGripper",
        "XArm7Gripper",
    }
)
_SAMPLES = 41
GRASP_TOLERANCE = 0.001  # metres of finger / object overlap accepted when closing on an object


@dataclass
class FingerPath:
    """Finger poses from open (level 0) to closed (level 1) and the closing direction in the grip-site frame."""

    qpos_adr: np.ndarray
    opened: np.ndarray
    closed: np.ndarray
    closing_axis: np.ndarray
    moving: np.ndarray | None = None  # geom mask of what the finger joints move; None: the whole gripper closes

    def set(self, data: mujoco.MjData, level: float) -> None:
        """Write the finger pose of closure ``level`` in [0, 1]."""
        level = float(np.clip(level, 0.0, 1.0))
        data.qpos[self.qpos_adr] = (1 - level) * self.opened + level * self.closed


def _pad_gap(model: mujoco.MjModel, data: mujoco.MjData, pads: tuple[list[int], list[int]]) -> np.ndarray:
    """Vector from the left pads' centre to the right pads' centre."""
    mujoco.mj_kinematics(model, data)
    return data.geom_xpos[pads[1]].mean(axis=0) - data.geom_xpos[pads[0]].mean(axis=0)


def finger_path(scene: Scene) -> FingerPath:
    """The gripper's open -> closed path: ends ordered by pad gap, shortened to where the pads come closest."""
    model = scene.model
    data = mujoco.MjData(model)
    data.qpos[model.jnt_qposadr[[model.joint(name).id for name in scene.arm_joints]]] = scene.init_qpos
    adr = model.jnt_qposadr[[model.joint(name).id for name in scene.gripper_joints]]
    pads = tuple([model.geom(name).id for name in names] for names in scene.finger_pads)
    first, second = END_POSES[scene.gripper_type]
    gaps = []
    for level in np.linspace(0.0, 1.0, _SAMPLES):
        data.qpos[adr] = (1 - level) * first + level * second
        gaps.append(float(np.linalg.norm(_pad_gap(model, data, pads))))
    if gaps[0] < gaps[-1]:
        first, second, gaps = second, first, gaps[::-1]
    closest = int(np.argmin(gaps)) / (_SAMPLES - 1)
    closed = (1 - closest) * first + closest * second
    data.qpos[adr] = first
    site = model.site(scene.grip_site).id
    axis = data.site_xmat[site].reshape(3, 3).T @ _pad_gap(model, data, pads)
    axis[2] = 0.0
    moving = None if scene.gripper_type in WHOLE_GRIPPER_CLOSING else moved_geoms(model, scene.gripper_joints)
    return FingerPath(adr, first, closed, axis / np.linalg.norm(axis), moving)


def moved_geoms(model: mujoco.MjModel, joints: list[str]) -> np.ndarray:
    """Mask of the geoms on bodies that the ``joints`` move (their bodies and everything below them)."""
    moved = np.zeros(model.nbody, dtype=bool)
    moved[[model.jnt_bodyid[model.joint(name).id] for name in joints]] = True
    for body in range(1, model.nbody):  # body ids are ordered parents first
        moved[body] |= moved[model.body_parentid[body]]
    return moved[model.geom_bodyid]


def close_on(
    model: mujoco.MjModel, data: mujoco.MjData, path: FingerPath, gripper: np.ndarray, target: np.ndarray
) -> float:
    """The most-closed level whose fingers do not cut into ``target`` (boolean geom masks), found by bisection.

    The fingers stop where they touch the object, as a real grasp would; ``data`` is left at that level.
    """
    if path.moving is not None:
        gripper = gripper & path.moving
    low, high = 0.0, 1.0
    path.set(data, high)
    if not penetrations(model, data, gripper, target, GRASP_TOLERANCE):
        return high
    for _ in range(12):
        middle = (low + high) / 2
        path.set(data, middle)
        if penetrations(model, data, gripper, target, GRASP_TOLERANCE):
            high = middle
        else:
            low = middle
    path.set(data, low)
    return low
