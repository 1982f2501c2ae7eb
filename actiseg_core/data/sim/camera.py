"""The viewpoint: a free MuJoCo camera orbiting a look-at point, jittered around a front-above view of the table.

The robot stands behind the table facing the camera (azimuth 180 looks along -x), so the image's right is +y.
:meth:`Camera.sees` projects points with the same pinhole model MuJoCo renders with; clips use it to keep the
gripper and the narrated objects inside the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np


@dataclass(frozen=True)
class Camera:
    lookat: tuple[float, float, float]
    distance: float
    azimuth: float
    elevation: float

    def to_json(self) -> dict[str, object]:
        return {
            "lookat": [round(v, 4) for v in self.lookat],
            "distance": round(self.distance, 4),
            "azimuth": round(self.azimuth, 3),
            "elevation": round(self.elevation, 3),
        }

    def mjv(self) -> mujoco.MjvCamera:
        camera = mujoco.MjvCamera()
        camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        camera.lookat[:] = self.lookat
        camera.distance = self.distance
        camera.azimuth = self.azimuth
        camera.elevation = self.elevation
        return camera

    def sees(self, point: np.ndarray, fovy_degrees: float, aspect: float, margin: float = 0.08) -> bool:
        """Whether ``point`` projects inside the image, ``margin`` (fraction of the half-size) from its border."""
        azimuth, elevation = np.radians(self.azimuth), np.radians(self.elevation)
        forward = np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        offset = np.asarray(point) - (np.asarray(self.lookat) - self.distance * forward)
        depth = offset @ forward
        if depth <= 0:
            return False
        half = np.tan(np.radians(fovy_degrees) / 2)
        x = offset @ right / depth / (half * aspect)
        y = offset @ up / depth / half
        return max(abs(x), abs(y)) <= 1 - margin


def sample_camera(rng: np.random.Generator) -> Camera:
    return Camera(
        lookat=(float(rng.uniform(-0.12, -0.02)), float(rng.uniform(-0.05, 0.05)), float(rng.uniform(0.86, 0.92))),
        distance=float(rng.uniform(0.65, 0.85)),
        azimuth=float(180 + rng.uniform(-15, 15)),
        elevation=float(rng.uniform(-45, -30)),
    )
