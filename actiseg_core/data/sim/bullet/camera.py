"""pybullet's camera: view / projection matrices of a v2 :class:`views.View`, TinyRenderer lighting, one render.

The external view of the MuJoCo clips (orbit look-at, distance, azimuth, elevation, vertical field of view) is
turned into ``computeViewMatrix`` (eye, look-at point, up) and ``computeProjectionMatrixFOV`` (fovy, aspect), so
the same :class:`views.Basis` projects points for the in-view checks and the hard negatives' words. TinyRenderer
(``ER_TINY_RENDERER``: pybullet's CPU rasteriser, its own shading and shadow map) renders RGB, the OpenGL-style
depth buffer and the segmentation buffer in one call; with ``ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX`` each
pixel holds ``body + ((link + 1) << 24)`` (-1: nothing drawn).

Depth: the buffer value d in [0, 1] is the perspective depth, so the distance along the optical axis is
``far * near / (far - (far - near) * d)``. Intrinsics: the frustum is centred with vertical extent ``fovy`` and
square pixels, ``fx = fy = (H/2) / tan(fovy/2)``. TinyRenderer samples each pixel at its corner and counts rows
from the bottom, so with pixel centres at integer coordinates (:mod:`geometry_layout`'s convention) its principal
point is (W/2, H/2 - 1), not MuJoCo's ((W-1)/2, (H-1)/2): measured on rendered spheres (centroids within 0.1 px)
and on a plane (unprojected depth within 2 micrometres), checked again in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet

from actiseg_core.data.layout import ANNOTATION_HEIGHT, ANNOTATION_WIDTH
from actiseg_core.data.sim.views import Basis, View

NEAR, FAR = 0.05, 12.0  # metres: the clip planes of every render (the room is 6 m across)
LINK_SHIFT = 24
# TinyRenderer's shadow map is a perspective view from ``towards * LIGHT_DISTANCE`` at the world origin: this
# close, the light stands inside the room (walls would shadow the whole table from farther) and still sees the table.
LIGHT_DISTANCE = 2.0
BODY_MASK = (1 << LINK_SHIFT) - 1


@dataclass(frozen=True)
class Light:
    """TinyRenderer's light: ``towards`` points from the scene to the light; coefficients of its Phong shading."""

    towards: tuple[float, float, float]
    ambient: float
    diffuse: float
    specular: float
    shadows: bool

    def to_json(self) -> dict[str, object]:
        return {
            "towards": [round(v, 4) for v in self.towards],
            "ambient": round(self.ambient, 3),
            "diffuse": round(self.diffuse, 3),
            "specular": round(self.specular, 3),
            "shadows": self.shadows,
        }


@dataclass(frozen=True, eq=False)
class Camera:
    """A view as pybullet renders it, with its pinhole model and pose (ROS optical frame, as the MuJoCo clips)."""

    view: View
    basis: Basis
    width: int = ANNOTATION_WIDTH
    height: int = ANNOTATION_HEIGHT

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def view_matrix(self) -> tuple[float, ...]:
        eye = self.basis.eye
        return pybullet.computeViewMatrix(eye.tolist(), (eye + self.basis.forward).tolist(), self.basis.up.tolist())

    @property
    def projection_matrix(self) -> tuple[float, ...]:
        return pybullet.computeProjectionMatrixFOV(self.view.fovy, self.aspect, NEAR, FAR)

    @property
    def K(self) -> np.ndarray:
        focal = (self.height / 2) / np.tan(np.radians(self.view.fovy) / 2)
        return np.array([[focal, 0.0, self.width / 2], [0.0, focal, self.height / 2 - 1], [0.0, 0.0, 1.0]])

    @property
    def T_world_camera(self) -> np.ndarray:
        """Camera-to-world pose, optical axes (x right, y down, z forward)."""
        pose = np.eye(4)
        pose[:3, :3] = np.stack([self.basis.right, -self.basis.up, self.basis.forward], axis=1)
        pose[:3, 3] = self.basis.eye
        return pose


def external_camera(view: View) -> Camera:
    if view.orbit is None:
        raise ValueError("pybullet clips are filmed from an external view")
    return Camera(view, view.basis(None, None))


@dataclass(frozen=True, eq=False)
class Render:
    rgb: np.ndarray  # (H, W, 3) uint8
    bodies: np.ndarray  # (H, W) int32: body id per pixel, -1 where nothing is drawn
    links: np.ndarray  # (H, W) int32: link index (-1: the base or nothing drawn)
    depth_m: np.ndarray  # (H, W) float64: metres along the optical axis


def render(client, camera: Camera, light: Light, segmentation: bool = True) -> Render:
    """One TinyRenderer image of the client's world from ``camera``."""
    flags = pybullet.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX if segmentation else pybullet.ER_NO_SEGMENTATION_MASK
    _, _, rgba, depth, seg = client.getCameraImage(
        camera.width,
        camera.height,
        camera.view_matrix,
        camera.projection_matrix,
        renderer=pybullet.ER_TINY_RENDERER,
        lightDirection=list(light.towards),
        lightColor=[1.0, 1.0, 1.0],
        lightDistance=LIGHT_DISTANCE,
        shadow=int(light.shadows),
        lightAmbientCoeff=light.ambient,
        lightDiffuseCoeff=light.diffuse,
        lightSpecularCoeff=light.specular,
        flags=flags,
    )
    shape = (camera.height, camera.width)
    rgb = np.asarray(rgba, dtype=np.uint8).reshape(*shape, 4)[..., :3].copy()
    buffer = np.asarray(depth, dtype=np.float64).reshape(shape)
    depth_m = FAR * NEAR / (FAR - (FAR - NEAR) * buffer)
    seg = np.asarray(seg, dtype=np.int64).reshape(shape)
    drawn = seg >= 0
    bodies = np.where(drawn, seg & BODY_MASK, -1).astype(np.int32)
    links = np.where(drawn, (seg >> LINK_SHIFT) - 1, -1).astype(np.int32)
    return Render(rgb, bodies, links, depth_m)
