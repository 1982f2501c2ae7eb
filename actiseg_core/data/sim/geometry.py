"""Object extents from the compiled geometry, and interpenetration checks through MuJoCo's collision detection.

robosuite's declared bounding boxes are approximate (a plate-with-hole claims a 0.25 m radius), so placement uses
the real mesh vertices and primitive shapes instead: an object rests on the table when its lowest point touches it.
Penetration tests run MuJoCo's own collision pass (``mj_forward``) and read the signed contact distances.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

_CIRCLE = np.stack(
    [np.cos(np.linspace(0, 2 * np.pi, 16, endpoint=False)), np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False))],
    axis=1,
)


@dataclass(frozen=True)
class Extent:
    """An object's axis-aligned box in its own frame (upright, unrotated) and its footprint radius about the origin."""

    low: np.ndarray
    high: np.ndarray
    radius: float

    @property
    def half_xy(self) -> np.ndarray:
        return (self.high[:2] - self.low[:2]) / 2


def subtree_bodies(model: mujoco.MjModel, root: int) -> list[int]:
    """``root`` and every body below it (body ids are ordered parents first)."""
    inside = {root}
    for body in range(root + 1, model.nbody):
        if model.body_parentid[body] in inside:
            inside.add(body)
    return sorted(inside)


def subtree_geoms(model: mujoco.MjModel, root: int) -> list[int]:
    bodies = set(subtree_bodies(model, root))
    return [g for g in range(model.ngeom) if model.geom_bodyid[g] in bodies]


def _geom_points(model: mujoco.MjModel, geom: int) -> np.ndarray:
    """Points spanning a geom's surface in its own frame (mesh vertices, primitive corners and rims)."""
    kind, size = model.geom_type[geom], model.geom_size[geom]
    if kind == mujoco.mjtGeom.mjGEOM_MESH:
        mesh = model.geom_dataid[geom]
        start = model.mesh_vertadr[mesh]
        return model.mesh_vert[start : start + model.mesh_vertnum[mesh]].astype(float)
    if kind == mujoco.mjtGeom.mjGEOM_SPHERE:
        return np.concatenate([np.eye(3), -np.eye(3)]) * size[0]
    if kind in (mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_CAPSULE):
        reach = size[1] + (size[0] if kind == mujoco.mjtGeom.mjGEOM_CAPSULE else 0.0)
        rim = np.concatenate([_CIRCLE * size[0], np.zeros((16, 1))], axis=1)
        return np.concatenate([rim + [0, 0, reach], rim - [0, 0, reach]])
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
    return corners * size[:3]


def object_extent(model: mujoco.MjModel, data: mujoco.MjData, joint: str, root: str) -> Extent:
    """Extent of the object whose free joint is ``joint``, measured with the object at the origin, unrotated.

    Only the object's own joint is moved (then restored), so other bodies keep their pose.
    """
    adr = model.joint(joint).qposadr[0]
    saved = data.qpos[adr : adr + 7].copy()
    data.qpos[adr : adr + 7] = [0, 0, 0, 1, 0, 0, 0]
    mujoco.mj_kinematics(model, data)
    points = []
    for geom in subtree_geoms(model, model.body(root).id):
        local = _geom_points(model, geom)
        points.append(local @ data.geom_xmat[geom].reshape(3, 3).T + data.geom_xpos[geom])
    data.qpos[adr : adr + 7] = saved
    mujoco.mj_kinematics(model, data)
    cloud = np.concatenate(points)
    return Extent(cloud.min(axis=0), cloud.max(axis=0), float(np.linalg.norm(cloud[:, :2], axis=1).max()))


def penetrations(
    model: mujoco.MjModel, data: mujoco.MjData, first: np.ndarray, second: np.ndarray, tolerance: float
) -> int:
    """Number of contacts deeper than ``tolerance`` between a geom of ``first`` and one of ``second``.

    ``first`` and ``second`` are boolean masks over geoms; runs ``mj_forward`` (kinematics + collision) first.
    """
    mujoco.mj_forward(model, data)
    count = data.ncon
    if count == 0:
        return 0
    geoms = data.contact.geom[:count]
    deep = data.contact.dist[:count] < -tolerance
    a, b = geoms[:, 0], geoms[:, 1]
    crossing = (first[a] & second[b]) | (first[b] & second[a])
    return int(np.count_nonzero(deep & crossing))
