"""A compiled scene as the planner sees it: a scratch ``MjData``, object poses, geom groups, IK and fingers.

Geom groups are boolean masks over geom ids (robot, gripper, table, each object) so that collision queries
(:func:`geometry.penetrations`) can ask "does the gripper cut into anything but the held object?" in one call.
The gripper's reference orientation is the robot's rest orientation made exactly vertical: every waypoint turns it
about the vertical axis only, which keeps the gripper pointing down.
"""

from __future__ import annotations

import mujoco
import numpy as np

from actiseg_core.data.sim.geometry import Extent, object_extent, penetrations, subtree_geoms
from actiseg_core.data.sim.gripper import FingerPath, finger_path
from actiseg_core.data.sim.ik import ArmIK, IKResult
from actiseg_core.data.sim.scene import TABLE_TOP_Z, Scene

CLEARANCE = 0.003  # metres of overlap tolerated between robot, objects and table in a frame

Pose = tuple[np.ndarray, np.ndarray]  # (position, 3x3 rotation) of the grip site, or (position, quat) of an object
Anchor = tuple[Pose, Pose]  # grip-site pose and object pose at the moment the object was taken


def yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


def _rot_z(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class World:
    """One compiled scene with its scratch state; all planning reads and writes ``self.data``."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.model = model = scene.model
        self.data = mujoco.MjData(model)
        self.fingers: FingerPath = finger_path(scene)
        self.ik = ArmIK(model, scene.arm_joints, scene.grip_site, scene.init_qpos)
        self.arm_adr = self.ik.qpos_adr
        self.site = model.site(scene.grip_site).id

        def mask(geoms: list[int]) -> np.ndarray:
            out = np.zeros(model.ngeom, dtype=bool)
            out[geoms] = True
            return out

        self.robot = mask(subtree_geoms(model, model.body(scene.robot_root).id))
        self.gripper = mask(subtree_geoms(model, model.body(scene.gripper_root).id))
        self.table = mask(subtree_geoms(model, model.body("table").id))
        self.objects = {
            label: mask(subtree_geoms(model, model.body(root).id)) for label, root in scene.object_roots.items()
        }
        self.joint_adr = {label: model.joint(joint).qposadr[0] for label, joint in scene.object_joints.items()}
        self.extent: dict[str, Extent] = {
            label: object_extent(model, self.data, scene.object_joints[label], scene.object_roots[label])
            for label in scene.spec.objects
        }
        self.data.qpos[self.arm_adr] = scene.init_qpos
        mujoco.mj_kinematics(model, self.data)
        rest = self.data.site_xmat[self.site].reshape(3, 3)
        down = np.array([0.0, 0.0, -1.0])
        forward = rest[:, 0] - rest[:, 0] @ down * down
        forward /= np.linalg.norm(forward)
        self.down = np.column_stack([forward, np.cross(down, forward), down])  # rest orientation, made vertical
        closing = self.down @ self.fingers.closing_axis
        self.closing_angle = float(np.arctan2(closing[1], closing[0]))

    def rotation(self, yaw: float) -> np.ndarray:
        return _rot_z(yaw) @ self.down

    def object_pose(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        adr = self.joint_adr[label]
        return self.data.qpos[adr : adr + 3].copy(), self.data.qpos[adr + 3 : adr + 7].copy()

    def set_object(self, label: str, position: np.ndarray, quat: np.ndarray) -> None:
        adr = self.joint_adr[label]
        self.data.qpos[adr : adr + 3] = position
        self.data.qpos[adr + 3 : adr + 7] = quat

    def reach(self, position: np.ndarray, yaw: float) -> IKResult:
        return self.ik.solve(self.data, position, self.rotation(yaw))

    def others(self, *labels: str) -> np.ndarray:
        """Table plus every object except ``labels``: what a moving part must not cut into."""
        out = self.table.copy()
        for label, geoms in self.objects.items():
            if label not in labels:
                out |= geoms
        return out

    def resting_z(self, label: str) -> float:
        """Height of the object's origin when its lowest point touches the table."""
        return TABLE_TOP_Z - float(self.extent[label].low[2]) + 1e-4

    def carry(self, label: str, anchor: Anchor, site: Pose) -> None:
        """Move a held object rigidly with the grip site: its pose relative to the site at ``anchor`` is kept."""
        (anchor_pos, anchor_rot), (object_pos, object_quat) = anchor
        object_rot = np.zeros(9)
        mujoco.mju_quat2Mat(object_rot, object_quat)
        relative_rot = anchor_rot.T @ object_rot.reshape(3, 3)
        relative_pos = anchor_rot.T @ (object_pos - anchor_pos)
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, (site[1] @ relative_rot).reshape(9))
        self.set_object(label, site[0] + site[1] @ relative_pos, quat)

    def from_rest(self) -> None:
        """Searches start from the rest pose so that their outcome does not depend on the previous search."""
        self.data.qpos[self.arm_adr] = self.scene.init_qpos

    def site_pose(self) -> Pose:
        return self.data.site_xpos[self.site].copy(), self.data.site_xmat[self.site].reshape(3, 3).copy()

    def cuts(self, first: np.ndarray, second: np.ndarray, tolerance: float = CLEARANCE) -> bool:
        """Whether geoms of ``first`` penetrate geoms of ``second`` deeper than ``tolerance`` right now."""
        return bool(penetrations(self.model, self.data, first, second, tolerance))
