"""v2's viewpoints: a fixed external camera (v1's orbit with a varied field of view) or the wrist camera.

The wrist camera is robosuite's ``robot0_eye_in_hand`` (robosuite-models' arms name theirs ``*_wrist_cam_right``),
mounted on the hand and looking along the gripper (eye-in-hand); an arm without one is filmed externally.
Both are pinhole cameras with square pixels whose vertical field of view ``fovy`` is drawn per clip,
so intrinsics vary across clips. :meth:`View.basis` gives the camera's position and axes in the world for the
current ``MjData`` (MuJoCo's camera frame: x right, y up, looking along -z), which projection, the in-view checks
and the "left / right / in front" words of hard negatives all use.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from actiseg_core.data.sim.camera import Camera, sample_camera

WRIST_CAMERAS = (
    "robot0_eye_in_hand",
    "robot0_right_eye_in_hand",
    "robot0_wrist_cam_right",
    "gripper0_right_wrist_cam_right",
)
EXTERNAL_FOVY = (35.0, 60.0)
WRIST_FOVY = (60.0, 85.0)
WRIST_SHARE = 0.25  # share of clips filmed from the wrist


@dataclass(frozen=True)
class Basis:
    """Camera position and its right / up / forward unit axes in the world frame."""

    eye: np.ndarray
    right: np.ndarray
    up: np.ndarray
    forward: np.ndarray


@dataclass(frozen=True)
class View:
    """``kind`` "external" (``orbit`` set) or "wrist"; ``fovy`` in degrees."""

    kind: str
    fovy: float
    orbit: Camera | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "fovy": round(self.fovy, 3)}
        if self.orbit is not None:
            out.update(self.orbit.to_json())
        return out

    def apply(self, model: mujoco.MjModel) -> mujoco.MjvCamera:
        """Write the field of view into ``model`` and return the camera to render with."""
        if self.orbit is not None:
            model.vis.global_.fovy = self.fovy
            return self.orbit.mjv()
        camera_id = wrist_camera(model)
        model.cam_fovy[camera_id] = self.fovy
        camera = mujoco.MjvCamera()
        camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        camera.fixedcamid = camera_id
        return camera

    def basis(self, model: mujoco.MjModel, data: mujoco.MjData) -> Basis:
        """Where the camera is and how it is turned for the pose in ``data`` (after ``mj_kinematics``)."""
        if self.orbit is None:
            camera_id = wrist_camera(model)
            mujoco.mj_camlight(model, data)  # camera poses are not part of mj_kinematics
            rotation = data.cam_xmat[camera_id].reshape(3, 3)
            return Basis(data.cam_xpos[camera_id].copy(), rotation[:, 0], rotation[:, 1], -rotation[:, 2])
        azimuth, elevation = np.radians(self.orbit.azimuth), np.radians(self.orbit.elevation)
        forward = np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        eye = np.asarray(self.orbit.lookat) - self.orbit.distance * forward
        return Basis(eye, right, np.cross(right, forward), forward)

    def project(self, basis: Basis, point: np.ndarray, aspect: float) -> tuple[float, float, float] | None:
        """Normalised image coordinates (x right, y up, each in [-1, 1] inside the frame) and depth; None if behind."""
        offset = np.asarray(point) - basis.eye
        depth = float(offset @ basis.forward)
        if depth <= 0:
            return None
        half = np.tan(np.radians(self.fovy) / 2)
        return float(offset @ basis.right / depth / (half * aspect)), float(offset @ basis.up / depth / half), depth


def wrist_camera(model: mujoco.MjModel) -> int:
    """The id of the arm's eye-in-hand camera; -1 when it has none."""
    names = [model.camera(i).name for i in range(model.ncam)]
    return next((names.index(name) for name in WRIST_CAMERAS if name in names), -1)


def inside(projected: tuple[float, float, float] | None, margin: float = 0.08) -> bool:
    """Whether a projected point lies inside the frame, ``margin`` (fraction of the half-size) from its border."""
    return projected is not None and max(abs(projected[0]), abs(projected[1])) <= 1 - margin


def sample_view(rng: np.random.Generator) -> View:
    if rng.uniform() < WRIST_SHARE:
        return View("wrist", float(rng.uniform(*WRIST_FOVY)))
    fovy = float(rng.uniform(*EXTERNAL_FOVY))
    orbit = sample_camera(rng)
    # a narrower field of view sees less: step back so the workspace stays in frame (45 degrees is v1's)
    scale = np.tan(np.radians(45.0) / 2) / np.tan(np.radians(fovy) / 2)
    orbit = Camera(orbit.lookat, orbit.distance * float(scale), orbit.azimuth, orbit.elevation)
    return View("external", fovy, orbit)
