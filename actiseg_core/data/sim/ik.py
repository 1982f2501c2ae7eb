"""Damped-least-squares inverse kinematics of the gripper's grip site (position + orientation).

Motion is kinematic: each frame's arm pose is solved from the previous one (warm start), so consecutive frames
stay on one IK branch and the arm moves smoothly. A weak null-space pull toward the robot's rest pose keeps
redundant (7-DoF) arms away from odd elbow configurations. The residual error is returned so callers can refuse
an episode whose gripper does not actually reach its target.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

POSITION_TOLERANCE = 0.004  # metres: what counts as "reached" for a waypoint
ROTATION_TOLERANCE = 0.04  # radians


@dataclass(frozen=True)
class IKResult:
    """How far a solve ended from its target, and the tolerances that count as reached (the pybullet
    renderer's IK has its own)."""

    position_error: float
    rotation_error: float
    position_tolerance: float = POSITION_TOLERANCE
    rotation_tolerance: float = ROTATION_TOLERANCE

    @property
    def reached(self) -> bool:
        return self.position_error <= self.position_tolerance and self.rotation_error <= self.rotation_tolerance


class ArmIK:
    """Solves arm joint angles that put ``site`` at a position with a rotation; only arm joints move."""

    def __init__(self, model: mujoco.MjModel, arm_joints: list[str], site: str, rest: np.ndarray) -> None:
        self.model = model
        ids = [model.joint(name).id for name in arm_joints]
        self.qpos_adr = model.jnt_qposadr[ids]
        self.dof_adr = model.jnt_dofadr[ids]
        limited = model.jnt_limited[ids].astype(bool)
        self.low = np.where(limited, model.jnt_range[ids, 0], -np.inf)
        self.high = np.where(limited, model.jnt_range[ids, 1], np.inf)
        self.site = model.site(site).id
        self.rest = rest
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def _error(self, data: mujoco.MjData, position: np.ndarray, target_quat: np.ndarray) -> np.ndarray:
        current = np.zeros(4)
        mujoco.mju_mat2Quat(current, data.site_xmat[self.site])
        local = np.zeros(3)
        mujoco.mju_subQuat(local, target_quat, current)
        rotation = data.site_xmat[self.site].reshape(3, 3) @ local
        return np.concatenate([position - data.site_xpos[self.site], rotation])

    def solve(self, data: mujoco.MjData, position: np.ndarray, rotation: np.ndarray, iterations: int = 200) -> IKResult:
        """Move ``data``'s arm joints (starting from their current values) toward the target pose."""
        target_quat = np.zeros(4)
        mujoco.mju_mat2Quat(target_quat, np.asarray(rotation, dtype=float).reshape(9))
        damping = 1e-4 * np.eye(6)
        for _ in range(iterations):
            mujoco.mj_kinematics(self.model, data)
            mujoco.mj_comPos(self.model, data)
            error = self._error(data, position, target_quat)
            if np.linalg.norm(error[:3]) < 5e-4 and np.linalg.norm(error[3:]) < 5e-3:
                break
            mujoco.mj_jacSite(self.model, data, self._jacp, self._jacr, self.site)
            jac = np.vstack([self._jacp[:, self.dof_adr], self._jacr[:, self.dof_adr]])
            pinv = jac.T @ np.linalg.inv(jac @ jac.T + damping)
            q = data.qpos[self.qpos_adr]
            step = pinv @ error + 0.05 * (np.eye(len(q)) - pinv @ jac) @ (self.rest - q)
            norm = np.linalg.norm(step)
            if norm > 0.25:
                step *= 0.25 / norm
            data.qpos[self.qpos_adr] = np.clip(q + step, self.low, self.high)
        mujoco.mj_kinematics(self.model, data)
        error = self._error(data, position, target_quat)
        return IKResult(float(np.linalg.norm(error[:3])), float(np.linalg.norm(error[3:])))
