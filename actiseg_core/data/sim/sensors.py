"""Per-frame geometry of a render: metric depth, camera intrinsics and pose, objects in 3-D, robot links.

Everything here is exact with respect to what MuJoCo draws, so that depth, masks and 3-D records agree:

- **Depth**: ``mujoco.Renderer`` with depth rendering on already returns *linear metric* depth: it reads the
  (reversed-Z) depth buffer and undoes the perspective projection with the near / far planes
  (``vis.map.znear / zfar * stat.extent``), which yields the eye-space distance along the optical axis (not the ray
  length). :func:`depth_millimetres` only rounds it to millimetres and marks pixels without geometry (segmentation
  id -1) or beyond 65.535 m as 0 (REP 118's "no return"). Checked against the table top in the tests: unprojected
  table pixels lie at the table height to well under a millimetre.
- **Intrinsics** (:func:`intrinsics`): MuJoCo's frustum is centred and its vertical extent is ``fovy`` (the free
  camera's ``vis.global_.fovy``, a model camera's ``cam_fovy``); the horizontal extent follows the image's aspect,
  so pixels are square: ``fx = fy = (H/2) / tan(fovy/2)``, principal point ((W-1)/2, (H-1)/2) with pixel centres at
  integer coordinates.
- **Pose** (:func:`camera_pose`): from the free camera's look-at, distance, azimuth and elevation (as MuJoCo's
  ``mjv_updateCamera`` computes it) or a model camera's ``cam_xpos / cam_xmat``, returned in the ROS optical frame;
  :func:`check_against_mujoco` compares pose and intrinsics with the camera MuJoCo actually rendered with.
- **Objects** (:func:`body_geometry`): centre of mass, body frame, the body-aligned box and the camera-frame
  axis-aligned box of the visual geoms, both exact (analytic support of each primitive, all mesh vertices).
- **Occlusion / truncation**: each object is rendered alone (:func:`isolation_batches` packs objects whose
  conservative screen rectangles are disjoint into one render) and its silhouette compared with its visible pixels.
- **Robot links** (:func:`robot_links`): the kinematic chain from the robot's root to the gripper, one label value
  per link moved by an arm joint, grouped into base / shoulder / upper arm / forearm / wrist / gripper.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from actiseg_core.data.geometry_layout import (
    DEPTH_MAX_MM,
    DEPTH_NO_RETURN,
    DEPTH_UNIT_M,
    MAX_ARM_LINKS,
    OPENGL_FROM_OPTICAL,
    ROBOT_LINK_BASE,
    ROBOT_LINK_GRIPPER,
    OrientedBox,
    RobotLink,
)
from actiseg_core.data.sim.geometry import subtree_bodies, subtree_geoms

VISUAL_GROUP = 1  # the geom group that is drawn (collision hulls are group 0)
POSE_TOLERANCE = 1e-4  # metres / unit-vector components / relative focal length, vs MuJoCo's float32 camera
SCREEN_MARGIN = 1  # pixels added around a projected box before deciding that two objects cannot overlap
FREE_CAMERA = "free"


# ---------------------------------------------------------------------------------------------------- camera


def camera_fovy(model: mujoco.MjModel, camera: mujoco.MjvCamera) -> float:
    """Vertical field of view in degrees of the camera a frame is rendered with (free or model camera)."""
    if camera.type == mujoco.mjtCamera.mjCAMERA_FREE:
        return float(model.vis.global_.fovy)
    if camera.type == mujoco.mjtCamera.mjCAMERA_FIXED:
        camera_id = camera.fixedcamid
        if model.cam_orthographic[camera_id] or np.any(model.cam_sensorsize[camera_id]):
            raise ValueError(f"camera {model.camera(camera_id).name!r}: only plain perspective cameras are supported")
        return float(model.cam_fovy[camera_id])
    raise ValueError(f"camera type {camera.type}: only free and fixed cameras are supported")


def camera_name(model: mujoco.MjModel, camera: mujoco.MjvCamera) -> str:
    """``"free"`` or the model camera's name."""
    if camera.type == mujoco.mjtCamera.mjCAMERA_FIXED:
        return model.camera(camera.fixedcamid).name
    return FREE_CAMERA


def intrinsics(fovy_degrees: float, width: int, height: int) -> np.ndarray:
    """The 3x3 pinhole matrix K of MuJoCo's centred frustum (square pixels, pixel centres at integers)."""
    focal = (height / 2) / np.tan(np.radians(fovy_degrees) / 2)
    return np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])


def _pose(right: np.ndarray, down: np.ndarray, forward: np.ndarray, eye: np.ndarray) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = np.stack([right, down, forward], axis=1)
    pose[:3, 3] = eye
    return pose


def camera_pose(model: mujoco.MjModel, data: mujoco.MjData, camera: mujoco.MjvCamera) -> np.ndarray:
    """``T_world_camera`` (4x4, ROS optical frame) of ``camera`` for the state in ``data`` (after kinematics).

    Free camera: MuJoCo looks along ``forward = (cos e cos a, cos e sin a, sin e)`` (azimuth a, elevation e) from
    ``lookat - distance * forward`` with ``up = (-sin e cos a, -sin e sin a, cos e)``. Model camera: its frame
    ``cam_xmat`` has OpenGL axes (x right, y up, looking along -z), turned into optical axes here.
    """
    if camera.type == mujoco.mjtCamera.mjCAMERA_FREE:
        azimuth, elevation = np.radians(camera.azimuth), np.radians(camera.elevation)
        ce, se, ca, sa = np.cos(elevation), np.sin(elevation), np.cos(azimuth), np.sin(azimuth)
        forward = np.array([ce * ca, ce * sa, se])
        up = np.array([-se * ca, -se * sa, ce])
        eye = np.asarray(camera.lookat, dtype=float) - camera.distance * forward
        return _pose(np.cross(forward, up), -up, forward, eye)
    if camera.type == mujoco.mjtCamera.mjCAMERA_FIXED:
        opengl = data.cam_xmat[camera.fixedcamid].reshape(3, 3)
        rotation = opengl @ OPENGL_FROM_OPTICAL
        return _pose(rotation[:, 0], rotation[:, 1], rotation[:, 2], data.cam_xpos[camera.fixedcamid].copy())
    raise ValueError(f"camera type {camera.type}: only free and fixed cameras are supported")


def check_against_mujoco(scene: mujoco.MjvScene, pose: np.ndarray, K: np.ndarray, width: int, height: int) -> None:
    """Raise ``ValueError`` unless ``pose`` and ``K`` are the camera MuJoCo rendered ``scene`` with.

    MuJoCo renders a mono image from the average of its two (stereo) eye cameras (``mjv_averageCamera``); its
    frustum must be centred with ``top / near = tan(fovy / 2)``. Call after ``update_scene`` of the frame.
    """
    gl = mujoco.mjv_averageCamera(scene.camera[0], scene.camera[1])
    if gl.orthographic:
        raise ValueError("orthographic cameras are not supported")
    checks = {
        "position": np.abs(np.asarray(gl.pos) - pose[:3, 3]).max(),
        "forward axis": np.abs(np.asarray(gl.forward) - pose[:3, 2]).max(),
        "up axis": np.abs(np.asarray(gl.up) + pose[:3, 1]).max(),
        "frustum centre": abs(gl.frustum_center) + abs(gl.frustum_top + gl.frustum_bottom) / gl.frustum_near,
        "focal length": abs((height / 2) * gl.frustum_near / gl.frustum_top / K[1, 1] - 1),
    }
    if gl.frustum_width:
        checks["frustum width"] = abs(gl.frustum_width / (gl.frustum_top - gl.frustum_bottom) * height / width - 1)
    bad = {name: value for name, value in checks.items() if not value <= POSE_TOLERANCE}
    if bad:
        raise ValueError(f"camera model differs from MuJoCo's rendered camera: {bad}")


# ---------------------------------------------------------------------------------------------------- depth


def depth_millimetres(depth_m: np.ndarray, geom_ids: np.ndarray) -> np.ndarray:
    """MuJoCo's metric depth (H x W float, metres along the optical axis) as uint16 millimetres (REP 118 16UC1).

    ``geom_ids`` is the segmentation render's geom id per pixel (-1: nothing drawn); those pixels, non-finite ones
    and depths beyond 65.535 m become 0 (no return).
    """
    millimetres = np.rint(depth_m.astype(np.float64) / DEPTH_UNIT_M)
    invalid = (geom_ids < 0) | ~np.isfinite(millimetres) | (millimetres > DEPTH_MAX_MM) | (millimetres < 1)
    millimetres[invalid] = DEPTH_NO_RETURN
    return millimetres.astype(np.uint16)


def drawn_pixels(depth_m: np.ndarray, model: mujoco.MjModel) -> np.ndarray:
    """Pixels of a depth render that show geometry: the cleared buffer reads as the far plane, anything drawn nearer."""
    far = model.vis.map.zfar * model.stat.extent
    return depth_m < 0.5 * far


# ---------------------------------------------------------------------------------------------------- robot links


def arm_link_groups(count: int) -> list[str]:
    """The group of each of ``count`` arm links, root to tip, by the role of the joint that moves it.

    A non-redundant arm (up to 6 joints: UR5e) positions the wrist with shoulder yaw, shoulder pitch and elbow, and
    orients it with the remaining joints: shoulder, upper arm, forearm, then wrist. A redundant arm (7 joints:
    Panda, iiwa, Sawyer, Jaco, Kinova3, xArm7) adds an upper-arm roll (link 3 is the upper arm) and a forearm roll
    whose link carries the forearm shell: shoulder = links 1..n-5, upper arm = n-4, forearm = n-3 and n-2, wrist =
    the last two. The groups are kinematic; ``RobotLinks_Sparse`` keeps one value per link, so other groupings
    can be derived from the legend.
    """
    if count <= 6:
        return (["shoulder", "upper_arm", "forearm"] + ["wrist"] * max(count - 3, 0))[:count]
    return ["shoulder"] * (count - 5) + ["upper_arm"] + ["forearm"] * 2 + ["wrist"] * 2


@dataclass(frozen=True, eq=False)
class RobotLinkTable:
    """The legend of ``RobotLinks_Sparse`` and the value of every body (0 for bodies that are not the robot)."""

    links: tuple[RobotLink, ...]
    body_values: np.ndarray

    def geom_values(self, model: mujoco.MjModel) -> np.ndarray:
        """(ngeom,) uint8: the link value of every geom."""
        return self.body_values[model.geom_bodyid]


def robot_links(model: mujoco.MjModel, robot_root: str, gripper_root: str, arm_joints: list[str]) -> RobotLinkTable:
    """Link values from the kinematic chain robot root -> gripper root, for any robosuite arm.

    The links are the chain's bodies that carry an arm joint, in chain order (values 2, 3, ...); every other body of
    the robot takes the value of its nearest such ancestor (fixed bodies such as a flange, side bodies such as
    Sawyer's head), or :data:`ROBOT_LINK_BASE` if no arm joint moves it (root, base link, mount); the gripper's or
    hand's subtree is :data:`ROBOT_LINK_GRIPPER`.
    """
    root, gripper = model.body(robot_root).id, model.body(gripper_root).id
    chain = []
    body = model.body_parentid[gripper]
    while body != root:
        if body == 0:
            raise ValueError(f"gripper {gripper_root!r} does not hang below robot root {robot_root!r}")
        chain.append(body)
        body = model.body_parentid[body]
    chain = [root] + chain[::-1]
    joints_of: dict[int, list[str]] = {}
    for name in arm_joints:
        body = int(model.jnt_bodyid[model.joint(name).id])
        if body not in chain:
            raise ValueError(f"arm joint {name!r} is not on the chain {robot_root!r} -> {gripper_root!r}")
        joints_of.setdefault(body, []).append(name)
    moving = [body for body in chain if body in joints_of]
    if not 1 <= len(moving) <= MAX_ARM_LINKS:
        raise ValueError(f"{len(moving)} arm links; robot-link maps hold 1 to {MAX_ARM_LINKS}")
    value_of = {body: ROBOT_LINK_BASE + 1 + k for k, body in enumerate(moving)}
    gripper_bodies = set(subtree_bodies(model, gripper))
    values = np.zeros(model.nbody, dtype=np.uint8)
    for body in subtree_bodies(model, root):
        if body in gripper_bodies:
            values[body] = ROBOT_LINK_GRIPPER
        elif body in value_of:
            values[body] = value_of[body]
        else:
            values[body] = ROBOT_LINK_BASE if body == root else values[model.body_parentid[body]]

    def bodies(value: int) -> tuple[str, ...]:
        return tuple(model.body(b).name for b in np.flatnonzero(values == value))

    links = [RobotLink(ROBOT_LINK_BASE, "base", "base", None, bodies(ROBOT_LINK_BASE))]
    for body, group in zip(moving, arm_link_groups(len(moving)), strict=True):
        name = model.body(body).name
        links.append(RobotLink(value_of[body], name, group, "+".join(joints_of[body]), bodies(value_of[body])))
    links.append(RobotLink(ROBOT_LINK_GRIPPER, gripper_root, "gripper", None, bodies(ROBOT_LINK_GRIPPER)))
    return RobotLinkTable(tuple(links), values)


# ---------------------------------------------------------------------------------------------------- objects


def visual_geoms(model: mujoco.MjModel, root: int) -> list[int]:
    """The drawn geoms (group :data:`VISUAL_GROUP`) of the body tree below ``root``: what the masks show."""
    return [g for g in subtree_geoms(model, root) if model.geom_group[g] == VISUAL_GROUP]


def geom_bounds(model: mujoco.MjModel, geom: int, rotation: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Exact axis-aligned bounds (2, 3: low, high) of a geom placed with ``rotation`` / ``position`` in a frame.

    Primitives use their support along each axis (box ``|R| s``, sphere r, capsule ``|a| h + r``, cylinder
    ``|a| h + r sqrt(1 - a^2)``, ellipsoid ``sqrt(R^2 s^2)``, a = the geom's z axis); meshes their vertices.
    """
    kind, size = model.geom_type[geom], model.geom_size[geom]
    if kind == mujoco.mjtGeom.mjGEOM_MESH:
        mesh = model.geom_dataid[geom]
        start = model.mesh_vertadr[mesh]
        points = model.mesh_vert[start : start + model.mesh_vertnum[mesh]].astype(float) @ rotation.T + position
        return np.stack([points.min(axis=0), points.max(axis=0)])
    axis = np.abs(rotation[:, 2])
    if kind == mujoco.mjtGeom.mjGEOM_BOX:
        half = np.abs(rotation) @ size
    elif kind == mujoco.mjtGeom.mjGEOM_SPHERE:
        half = np.full(3, size[0])
    elif kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
        half = axis * size[1] + size[0]
    elif kind == mujoco.mjtGeom.mjGEOM_CYLINDER:
        half = axis * size[1] + size[0] * np.sqrt(np.clip(1 - axis**2, 0.0, 1.0))
    elif kind == mujoco.mjtGeom.mjGEOM_ELLIPSOID:
        half = np.sqrt(rotation**2 @ size**2)
    else:
        raise ValueError(f"geom {model.geom(geom).name!r}: type {kind} has no bounded extent")
    return np.stack([position - half, position + half])


@dataclass(frozen=True, eq=False)
class BodyGeometry:
    """An object's (or the gripper's) pose and boxes in the camera frame, before its pixels are counted."""

    centroid: np.ndarray
    origin: np.ndarray
    box: OrientedBox
    aabb_min: np.ndarray
    aabb_max: np.ndarray

    def corners(self) -> np.ndarray:
        """The corners of both boxes (16, 3): everything drawn of the object lies inside each box."""
        signs = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=bool)
        aabb = np.where(signs, self.aabb_max, self.aabb_min)
        return np.concatenate([self.box.corners(), aabb])


def body_geometry(
    model: mujoco.MjModel, data: mujoco.MjData, root: int, geoms: list[int], camera_from_world: np.ndarray
) -> BodyGeometry:
    """Centre of mass, body frame and boxes of the tree below body ``root`` (its visual ``geoms``), camera frame."""
    rotation_cw, translation_cw = camera_from_world[:3, :3], camera_from_world[:3, 3]
    body_rotation, body_position = data.xmat[root].reshape(3, 3), data.xpos[root]
    local, camera = [], []
    for geom in geoms:
        rotation, position = data.geom_xmat[geom].reshape(3, 3), data.geom_xpos[geom]
        local.append(geom_bounds(model, geom, body_rotation.T @ rotation, body_rotation.T @ (position - body_position)))
        camera.append(geom_bounds(model, geom, rotation_cw @ rotation, rotation_cw @ position + translation_cw))
    low, high = np.min([b[0] for b in local], axis=0), np.max([b[1] for b in local], axis=0)
    rotation = rotation_cw @ body_rotation
    origin = rotation_cw @ body_position + translation_cw
    return BodyGeometry(
        centroid=rotation_cw @ data.subtree_com[root] + translation_cw,
        origin=origin,
        box=OrientedBox(origin + rotation @ ((low + high) / 2), high - low, rotation),
        aabb_min=np.min([b[0] for b in camera], axis=0),
        aabb_max=np.max([b[1] for b in camera], axis=0),
    )


# ---------------------------------------------------------------------------------------------------- occlusion

Rect = tuple[int, int, int, int]  # u0, v0, u1, v1: inclusive pixel ranges


def screen_rect(corners: np.ndarray, K: np.ndarray, width: int, height: int) -> Rect | None:
    """A pixel rectangle that holds every pixel the object inside ``corners`` (camera frame) can cover.

    The projection of a box is inside the convex hull of its projected corners while they are all in front of the
    camera; otherwise the whole image is returned. None: the object cannot be in view.
    """
    if np.any(corners[:, 2] <= 1e-6):
        return 0, 0, width - 1, height - 1
    uv = corners @ K.T
    uv = uv[:, :2] / uv[:, 2:3]
    u0, v0 = np.floor(uv.min(axis=0)).astype(int) - SCREEN_MARGIN
    u1, v1 = np.ceil(uv.max(axis=0)).astype(int) + SCREEN_MARGIN
    u0, v0, u1, v1 = max(u0, 0), max(v0, 0), min(u1, width - 1), min(v1, height - 1)
    return (int(u0), int(v0), int(u1), int(v1)) if u0 <= u1 and v0 <= v1 else None


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def isolation_batches(rects: dict[int, Rect]) -> list[list[int]]:
    """Objects grouped so that no two in a group have overlapping rectangles (greedy, in key order).

    Rendered together, such objects cannot hide one another, and each one's pixels are told apart by its rectangle.
    """
    batches: list[list[int]] = []
    for key in sorted(rects):
        for batch in batches:
            if not any(_overlap(rects[key], rects[other]) for other in batch):
                batch.append(key)
                break
        else:
            batches.append([key])
    return batches


def silhouette(drawn: np.ndarray, rect: Rect) -> tuple[int, bool]:
    """(pixels, reaches the image border) of an isolated object's silhouette inside its rectangle."""
    u0, v0, u1, v1 = rect
    inside = drawn[v0 : v1 + 1, u0 : u1 + 1]
    height, width = drawn.shape
    border = (
        (v0 == 0 and inside[0].any())
        or (v1 == height - 1 and inside[-1].any())
        or (u0 == 0 and inside[:, 0].any())
        or (u1 == width - 1 and inside[:, -1].any())
    )
    return int(np.count_nonzero(inside)), bool(border)
