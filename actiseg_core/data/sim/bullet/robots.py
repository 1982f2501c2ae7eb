"""pybullet's own robots (from ``pybullet_data``): loading, the gripper pointing down, IK and finger closure.

Three embodiments, none of them used for training: the Franka Panda (``franka_panda/panda.urdf``), the KUKA iiwa
with its WSG-50 style gripper (``kuka_iiwa/kuka_with_gripper2.sdf``) and the UFactory xArm 6 with its gripper
(``xarm/xarm6_with_gripper.urdf``). Each stands on a pedestal behind the table facing +x (towards the camera), as
the robosuite arms of the MuJoCo clips do.

The *grip point* is the point between the fingertips where an object is held (robosuite's ``grip_site``); it sits
at a fixed offset in the frame of the robot's end-effector link. Waypoints give the grip point and a yaw about the
vertical: the end effector's reference orientation points the fingers straight down (its z axis along world -z).
IK is pybullet's ``calculateInverseKinematics`` (damped least squares with a null-space pull to the rest pose),
warm-started from the current pose and repeated until it converges; the residual is returned so that a frame whose
grip point misses its target is refused. Fingers follow a straight line in joint space from open (level 0) to
closed (level 1), as :mod:`gripper` does for robosuite's grippers (the pybullet models declare mimic joints that
pybullet does not enforce kinematically, so every finger joint is written).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actiseg_core.data.sim.ik import IKResult

POSITION_TOLERANCE = 0.005  # metres: a frame whose grip point misses its target by more is refused
ROTATION_TOLERANCE = 0.05  # radians
IK_ROUNDS = 12  # calls of calculateInverseKinematics per solve, each warm-started from the previous
IK_ITERATIONS = 100
PEDESTAL_RGBA = (0.22, 0.22, 0.24, 1.0)
DOWN = np.diag([1.0, -1.0, -1.0])  # end-effector frame for yaw 0: x along world x, z pointing down


@dataclass(frozen=True)
class RobotSpec:
    """One pybullet embodiment: where it stands, which links are the gripper, how its fingers open and close.

    ``rest`` gives the arm joints' rest pose (IK start and null-space target). ``finger_open`` / ``finger_closed``
    map finger joint indices to their values at level 0 / 1. ``closing_axis`` is the direction the fingers close
    along, in the end-effector frame. Links of ``gripper_links`` are drawn as the gripper (robot part 2), all
    others (and the pedestal) as the arm; ``finger_links`` are the links that touch a grasped object.
    """

    label: str
    file: str
    base: tuple[float, float, float]
    ee_link: int
    grip_offset: tuple[float, float, float]
    arm_joints: tuple[int, ...]
    rest: tuple[float, ...]
    finger_open: dict[int, float]
    finger_closed: dict[int, float]
    closing_axis: tuple[float, float, float]
    gripper_links: tuple[int, ...]
    finger_links: tuple[int, ...]
    pedestal_radius: float = 0.09


ROBOTS: tuple[RobotSpec, ...] = (
    RobotSpec(
        label="pybullet_panda",
        file="franka_panda/panda.urdf",
        base=(-0.56, 0.0, 0.8),
        ee_link=11,  # panda_grasptarget, between the fingertips
        grip_offset=(0.0, 0.0, 0.0),
        arm_joints=(0, 1, 2, 3, 4, 5, 6),
        rest=(0.0, -0.3, 0.0, -2.2, 0.0, 2.0, np.pi / 4),
        finger_open={9: 0.04, 10: 0.04},
        finger_closed={9: 0.0, 10: 0.0},
        closing_axis=(0.0, 1.0, 0.0),
        gripper_links=(7, 8, 9, 10, 11),
        finger_links=(9, 10),
    ),
    RobotSpec(
        label="pybullet_kuka_iiwa",
        file="kuka_iiwa/kuka_with_gripper2.sdf",
        base=(-0.62, 0.0, 0.8),
        ee_link=7,  # the gripper's base link, after the wrist's continuous joint
        grip_offset=(0.0, 0.0215, 0.225),
        arm_joints=(0, 1, 2, 3, 4, 5, 6, 7),
        rest=(0.0, 0.45, 0.0, -1.75, 0.0, 0.95, 0.0, 0.0),
        finger_open={8: -0.3, 10: 0.0, 11: 0.3, 13: 0.0},
        finger_closed={8: 0.0, 10: 0.0, 11: 0.0, 13: 0.0},
        closing_axis=(1.0, 0.0, 0.0),
        gripper_links=(7, 8, 9, 10, 11, 12, 13),
        finger_links=(8, 9, 10, 11, 12, 13),
    ),
    RobotSpec(
        label="pybullet_xarm6",
        file="xarm/xarm6_with_gripper.urdf",
        base=(-0.5, 0.0, 0.8),
        ee_link=7,  # xarm_gripper_base_link
        grip_offset=(0.0, 0.0, 0.15),
        arm_joints=(1, 2, 3, 4, 5, 6),
        rest=(0.0, -0.2, -0.9, 0.0, 1.1, 0.0),
        finger_open={8: 0.0, 9: 0.0, 10: 0.0, 11: 0.0, 12: 0.0, 13: 0.0},
        finger_closed={8: 0.85, 9: 0.85, 10: 0.85, 11: 0.85, 12: 0.85, 13: 0.85},
        closing_axis=(0.0, 1.0, 0.0),
        gripper_links=(7, 8, 9, 10, 11, 12, 13),
        finger_links=(9, 12),
    ),
)
ROBOTS_BY_LABEL: dict[str, RobotSpec] = {spec.label: spec for spec in ROBOTS}


def rot_z(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def quat_to_matrix(quat) -> np.ndarray:
    """Rotation matrix of an (x, y, z, w) quaternion (pybullet's order)."""
    x, y, z, w = np.asarray(quat, dtype=float) / np.linalg.norm(quat)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quat(rotation: np.ndarray) -> np.ndarray:
    """(x, y, z, w) quaternion of a rotation matrix (pybullet's order)."""
    m = np.asarray(rotation, dtype=float)
    trace = np.trace(m)
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.asarray(q)
    return q / np.linalg.norm(q)


class Robot:
    """A loaded embodiment in one pybullet client: IK of the grip point, fingers, and the pose as joint values."""

    def __init__(self, client, spec: RobotSpec, data_path: str) -> None:
        self.client, self.spec = client, spec
        if spec.file.endswith(".sdf"):
            self.body = client.loadSDF(f"{data_path}/{spec.file}")[0]
            client.resetBasePositionAndOrientation(self.body, spec.base, (0.0, 0.0, 0.0, 1.0))
        else:
            self.body = client.loadURDF(f"{data_path}/{spec.file}", spec.base, useFixedBase=True)
        self.links = tuple(range(-1, client.getNumJoints(self.body)))
        movable = [j for j in range(client.getNumJoints(self.body)) if client.getJointInfo(self.body, j)[2] != 4]
        self.movable = movable  # the joints calculateInverseKinematics returns values for, in this order
        info = [client.getJointInfo(self.body, j) for j in movable]
        low = np.array([i[8] for i in info], dtype=float)
        high = np.array([i[9] for i in info], dtype=float)
        unlimited = high < low  # continuous joints report (0, -1)
        self.low = np.where(unlimited, -2 * np.pi, low)
        self.high = np.where(unlimited, 2 * np.pi, high)
        rest = dict(zip(spec.arm_joints, spec.rest, strict=True)) | spec.finger_open
        self.rest = np.array([rest.get(j, 0.0) for j in movable])
        self.arm_index = np.array([movable.index(j) for j in spec.arm_joints])
        self.offset = np.asarray(spec.grip_offset, dtype=float)
        closing = DOWN @ np.asarray(spec.closing_axis, dtype=float)
        self.closing_angle = float(np.arctan2(closing[1], closing[0]))
        self.from_rest()
        self.set_fingers(0.0)

    # poses ------------------------------------------------------------------------------------------------------
    def arm_pose(self) -> np.ndarray:
        return np.array([self.client.getJointState(self.body, j)[0] for j in self.spec.arm_joints])

    def set_arm(self, values: np.ndarray) -> None:
        for joint, value in zip(self.spec.arm_joints, values, strict=True):
            self.client.resetJointState(self.body, joint, float(value))

    def from_rest(self) -> None:
        self.set_arm(np.asarray(self.spec.rest))

    def set_fingers(self, level: float) -> None:
        """Finger pose of closure ``level`` in [0, 1] (0 open, 1 closed)."""
        level = float(np.clip(level, 0.0, 1.0))
        for joint, opened in self.spec.finger_open.items():
            closed = self.spec.finger_closed[joint]
            self.client.resetJointState(self.body, joint, (1 - level) * opened + level * closed)

    def rotation(self, yaw: float) -> np.ndarray:
        """The end effector's rotation pointing down, turned by ``yaw`` about the vertical."""
        return rot_z(yaw) @ DOWN

    def grip_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Grip point and end-effector rotation now (forward kinematics)."""
        state = self.client.getLinkState(self.body, self.spec.ee_link, computeForwardKinematics=True)
        rotation = quat_to_matrix(state[5])
        return np.asarray(state[4]) + rotation @ self.offset, rotation

    # IK ---------------------------------------------------------------------------------------------------------
    def _error(self, position: np.ndarray, rotation: np.ndarray) -> IKResult:
        grip, current = self.grip_pose()
        cosine = (np.trace(current.T @ rotation) - 1.0) / 2.0
        rotation_error = float(np.arccos(np.clip(cosine, -1.0, 1.0)))
        return IKResult(float(np.linalg.norm(grip - position)), rotation_error, POSITION_TOLERANCE, ROTATION_TOLERANCE)

    def reach(self, position: np.ndarray, yaw: float) -> IKResult:
        """Move the arm (from its current pose) so that the grip point reaches ``position`` pointing down."""
        rotation = self.rotation(yaw)
        link_target = np.asarray(position, dtype=float) - rotation @ self.offset
        quat = matrix_to_quat(rotation)
        result = self._error(position, rotation)
        for _ in range(IK_ROUNDS):
            if result.position_error < 5e-4 and result.rotation_error < 5e-3:
                break
            solution = self.client.calculateInverseKinematics(
                self.body,
                self.spec.ee_link,
                link_target.tolist(),
                quat.tolist(),
                lowerLimits=self.low.tolist(),
                upperLimits=self.high.tolist(),
                jointRanges=(self.high - self.low).tolist(),
                restPoses=self.rest.tolist(),
                maxNumIterations=IK_ITERATIONS,
                residualThreshold=1e-5,
            )
            values = np.asarray(solution, dtype=float)[self.arm_index]
            self.set_arm(np.clip(values, self.low[self.arm_index], self.high[self.arm_index]))
            result = self._error(position, rotation)
        return result
