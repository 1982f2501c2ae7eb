"""Depth, robot-link maps and the geometry record of pybullet clips, in the MuJoCo clips' form (:mod:`sensors`).

- **Depth**: TinyRenderer's depth buffer turned into metres along the optical axis (:func:`camera.render`), then
  the MuJoCo clips' :func:`sensors.depth_millimetres` (uint16 mm, 0 where nothing is drawn).
- **Camera**: :class:`camera.Camera`'s K (TinyRenderer's principal point, see :mod:`bullet.camera`) and pose in the
  ROS optical frame; the camera is named ``"free"`` as the MuJoCo clips' external camera is.
- **Robot links**: :data:`geometry_layout.ROBOT_LINK_BASE` for the base link and the pedestal, 1 + k for the link
  moved by the k-th arm joint (and the fixed links below it), :data:`geometry_layout.ROBOT_LINK_GRIPPER` for the
  gripper's links; groups by :func:`sensors.arm_link_groups`, as for robosuite's arms.
- **Objects**: origin, body-aligned box and camera-frame box from the object's mesh vertices (exact), centroid
  the mesh's centre of mass where the source gives one (:class:`meshes.ObjectMesh`), else its box centre. The
  gripper's from the visual meshes of its links (OBJ / STL files and boxes of the robot description), its origin
  the first gripper link's frame. Silhouettes for occlusion / truncation come from renders of the objects alone
  (everything else moved out of view), several objects per render when their screen rectangles are disjoint
  (:func:`sensors.isolation_batches`).
"""

from __future__ import annotations

import struct
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
import pybullet

from actiseg_core.data.geometry_layout import (
    ROBOT_LINK_BASE,
    ROBOT_LINK_GRIPPER,
    FrameGeometry,
    ObjectGeometry,
    OrientedBox,
    RobotLink,
    SequenceGeometry,
    invert_pose,
    transform,
)
from actiseg_core.data.sim.bullet.camera import Camera, Light, render
from actiseg_core.data.sim.bullet.meshes import obj_mesh
from actiseg_core.data.sim.bullet.robots import quat_to_matrix
from actiseg_core.data.sim.bullet.stage import Stage
from actiseg_core.data.sim.catalog import GRIPPER
from actiseg_core.data.sim.scene import TABLE_TOP_Z
from actiseg_core.data.sim.sensors import (
    FREE_CAMERA,
    arm_link_groups,
    depth_millimetres,
    isolation_batches,
    screen_rect,
    silhouette,
)

AWAY = np.array([0.0, 0.0, -50.0])  # where bodies go while others are rendered alone (behind the camera's far plane)


# ---------------------------------------------------------------------------------------------------- link meshes


def _stl_points(path: Path) -> np.ndarray:
    data = path.read_bytes()
    if data[:5].lower() == b"solid" and b"facet" in data[:400]:
        values = [line.split()[1:4] for line in data.decode("ascii", "replace").splitlines() if "vertex" in line]
        return np.asarray(values, dtype=float).reshape(-1, 3)
    (count,) = struct.unpack_from("<I", data, 80)
    record = np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    records = np.frombuffer(data, dtype=record, count=count, offset=84)
    return records["v"].reshape(-1, 3).astype(float)


@cache
def _mesh_points(path: str) -> np.ndarray:
    file = Path(path)
    if file.suffix.lower() == ".stl":
        return _stl_points(file)
    return np.concatenate([part.vertices for part in obj_mesh(file).parts])


def link_points(client, body: int, link: int) -> np.ndarray:
    """Points spanning the visual shapes of one link, in the link's frame (empty if it draws nothing)."""
    points = []
    for row in client.getVisualShapeData(body):
        if row[1] != link:
            continue
        kind, size, file, position, orientation = row[2], np.asarray(row[3]), row[4], row[5], row[6]
        if kind == pybullet.GEOM_MESH:
            local = _mesh_points(file.decode()) * size
        elif kind == pybullet.GEOM_BOX:
            corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
            local = corners * size / 2
        else:  # spheres, cylinders, capsules: their bounding box (radius, length or radius, radius)
            radius, length = float(size[1]), float(size[0]) if kind != pybullet.GEOM_SPHERE else float(size[0])
            corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
            local = corners * np.array([radius, radius, length / 2])
        points.append(local @ quat_to_matrix(orientation).T + np.asarray(position))
    return np.concatenate(points) if points else np.zeros((0, 3))


def link_frame(client, body: int, link: int) -> tuple[np.ndarray, np.ndarray]:
    """World pose (position, rotation) of a link's frame (the base's for link -1)."""
    if link < 0:
        position, orientation = client.getBasePositionAndOrientation(body)
    else:
        state = client.getLinkState(body, link, computeForwardKinematics=True)
        position, orientation = state[4], state[5]
    return np.asarray(position, dtype=float), quat_to_matrix(orientation)


# ---------------------------------------------------------------------------------------------------- robot links


def robot_links(stage: Stage) -> tuple[tuple[RobotLink, ...], np.ndarray]:
    """The legend of the robot-link map and the value of every link (index: link + 1, so row 0 is the base)."""
    client, robot, spec = stage.client, stage.robot.body, stage.robot.spec
    count = client.getNumJoints(robot)
    names = ["base"] + [client.getJointInfo(robot, j)[12].decode() for j in range(count)]
    parents = [None] + [client.getJointInfo(robot, j)[16] for j in range(count)]
    gripper = set(spec.gripper_links)
    moving = [j for j in spec.arm_joints if j not in gripper]  # joint j moves link j
    value_of = {link: ROBOT_LINK_BASE + 1 + k for k, link in enumerate(moving)}
    values = np.zeros(count + 1, dtype=np.uint8)
    values[0] = ROBOT_LINK_BASE
    for link in range(count):  # parents come first in pybullet's link order
        if link in gripper:
            values[link + 1] = ROBOT_LINK_GRIPPER
        elif link in value_of:
            values[link + 1] = value_of[link]
        else:
            values[link + 1] = values[parents[link + 1] + 1]

    def bodies(value: int) -> tuple[str, ...]:
        return tuple(names[row] for row in np.flatnonzero(values == value))

    legend = [RobotLink(ROBOT_LINK_BASE, "base", "base", None, bodies(ROBOT_LINK_BASE) + ("pedestal",))]
    for link, group in zip(moving, arm_link_groups(len(moving)), strict=True):
        joint = client.getJointInfo(robot, link)[1].decode()
        legend.append(RobotLink(value_of[link], names[link + 1], group, joint, bodies(value_of[link])))
    first = min(gripper)
    legend.append(RobotLink(ROBOT_LINK_GRIPPER, names[first + 1], "gripper", None, bodies(ROBOT_LINK_GRIPPER)))
    return tuple(legend), values


# ---------------------------------------------------------------------------------------------------- objects


def _record(points: np.ndarray, centroid: np.ndarray, rotation: np.ndarray, position: np.ndarray, camera_from_world):
    """(centroid, origin, body-aligned box, camera-frame aabb) of ``points`` given in the body frame."""
    low, high = points.min(axis=0), points.max(axis=0)
    rotation_cw, translation_cw = camera_from_world[:3, :3], camera_from_world[:3, 3]
    in_camera = transform(camera_from_world, points @ rotation.T + position)
    box_rotation = rotation_cw @ rotation
    origin = rotation_cw @ position + translation_cw
    box = OrientedBox(origin + box_rotation @ ((low + high) / 2), high - low, box_rotation)
    centre = transform(camera_from_world, rotation @ centroid + position)
    return centre, origin, box, in_camera.min(axis=0), in_camera.max(axis=0)


class Sensors:
    """Per-clip state of the sensor passes (see the module docstring)."""

    def __init__(self, stage: Stage, camera: Camera, indices: dict[str, int]) -> None:
        self.stage, self.camera = stage, camera
        self.K = camera.K
        self.legend, self.link_values = robot_links(stage)
        self.gripper_index = indices[GRIPPER.label]
        self.labels = {index: label for label, index in indices.items()}
        self.objects = {indices[label]: label for label in stage.objects}
        client, robot = stage.client, stage.robot
        self.gripper_links = [link for link in robot.spec.gripper_links if len(link_points(client, robot.body, link))]
        self.gripper_points = {link: link_points(client, robot.body, link) for link in self.gripper_links}
        self.pedestal = set(stage.pedestal)
        gripper = set(robot.spec.gripper_links)
        self.arm_colours = {row[1]: row[7] for row in client.getVisualShapeData(robot.body) if row[1] not in gripper}

    def link_map(self, bodies: np.ndarray, links: np.ndarray) -> np.ndarray:
        out = np.zeros(bodies.shape, dtype=np.uint8)
        robot = bodies == self.stage.robot.body
        out[robot] = self.link_values[links[robot] + 1]
        out[np.isin(bodies, list(self.pedestal))] = ROBOT_LINK_BASE
        return out

    def _gripper(self, camera_from_world: np.ndarray):
        client, body = self.stage.client, self.stage.robot.body
        root_position, root_rotation = link_frame(client, body, self.gripper_links[0])
        points = []
        for link in self.gripper_links:
            position, rotation = link_frame(client, body, link)
            world = self.gripper_points[link] @ rotation.T + position
            points.append((world - root_position) @ root_rotation)
        local = np.concatenate(points)
        masses, centres = [], []
        for link in self.stage.robot.spec.gripper_links:
            mass = client.getDynamicsInfo(body, link)[0]
            if mass > 0:
                masses.append(mass)
                centres.append(client.getLinkState(body, link, computeForwardKinematics=True)[0])
        if masses:
            com = np.average(np.asarray(centres), axis=0, weights=masses)
            centroid = root_rotation.T @ (com - root_position)
        else:
            centroid = (local.min(axis=0) + local.max(axis=0)) / 2
        return _record(local, centroid, root_rotation, root_position, camera_from_world)

    def _object(self, label: str, camera_from_world: np.ndarray):
        mesh = self.stage.meshes[label]
        points = np.concatenate([part.vertices for part in mesh.parts])
        position, _ = self.stage.object_pose(label)
        return _record(points, mesh.centroid, self.stage.object_rotation(label), position, camera_from_world)

    @contextmanager
    def _arm_hidden(self, hide: bool):
        """Make the arm's links transparent for one render (alpha 0: TinyRenderer skips them), so that the
        gripper's silhouette is its own; their colours are restored after."""
        robot = self.stage.robot.body
        if hide:
            for link in self.arm_colours:
                self.stage.client.changeVisualShape(robot, link, rgbaColor=[1.0, 1.0, 1.0, 0.0])
        try:
            yield
        finally:
            if hide:
                for link, rgba in self.arm_colours.items():
                    self.stage.client.changeVisualShape(robot, link, rgbaColor=list(rgba))

    def _silhouettes(self, records: dict[int, tuple], light: Light) -> dict[int, tuple[int, bool]]:
        """(silhouette pixels, reaches the border) of each object in view, from renders of objects alone."""
        camera, stage = self.camera, self.stage
        rects = {}
        for index, record in records.items():
            box, low, high = record[2], record[3], record[4]
            signs = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=bool)
            corners = np.concatenate([box.corners(), np.where(signs, high, low)])
            rect = screen_rect(corners, self.K, camera.width, camera.height)
            if rect is not None:
                rects[index] = rect
        client = stage.client
        saved = {b: client.getBasePositionAndOrientation(b) for b in range(client.getNumBodies())}
        flat = Light(light.towards, light.ambient, light.diffuse, light.specular, shadows=False)
        out = {}
        try:
            for batch in isolation_batches(rects):
                shown = set()
                for index in batch:
                    if index == self.gripper_index:
                        shown.add(stage.robot.body)
                    else:
                        shown.update(stage.objects[self.objects[index]].visuals)
                for body, (position, orientation) in saved.items():
                    target = position if body in shown else AWAY
                    client.resetBasePositionAndOrientation(body, list(target), orientation)
                with self._arm_hidden(self.gripper_index in batch):
                    shot = render(client, camera, flat)
                for index in batch:
                    if index == self.gripper_index:
                        drawn = (shot.bodies == stage.robot.body) & np.isin(
                            shot.links, self.stage.robot.spec.gripper_links
                        )
                    else:
                        drawn = np.isin(shot.bodies, stage.objects[self.objects[index]].visuals)
                    out[index] = silhouette(drawn, rects[index])
        finally:
            for body, (position, orientation) in saved.items():
                client.resetBasePositionAndOrientation(body, position, orientation)
        return out

    def measure(self, shot, label_map: np.ndarray, light: Light) -> tuple[np.ndarray, np.ndarray, FrameGeometry]:
        """Depth (mm), robot-link map and 3-D record of the frame just rendered into ``shot``."""
        depth_mm = depth_millimetres(shot.depth_m, shot.bodies)
        link_map = self.link_map(shot.bodies, shot.links)
        pose = self.camera.T_world_camera
        camera_from_world = invert_pose(pose)
        records = {index: self._object(label, camera_from_world) for index, label in self.objects.items()}
        records[self.gripper_index] = self._gripper(camera_from_world)
        silhouettes = self._silhouettes(records, light)
        objects = {}
        for index, (centroid, origin, box, low, high) in records.items():
            pixels = int(np.count_nonzero(label_map == index))
            area, border = silhouettes.get(index, (0, False))
            objects[index] = ObjectGeometry(
                index=index,
                label=self.labels[index],
                centroid=centroid,
                origin=origin,
                box=box,
                aabb_min=low,
                aabb_max=high,
                pixels=pixels,
                silhouette_pixels=area,
                occluded=pixels < area,
                truncated=border or area == 0,
            )
        grip = transform(camera_from_world, self.stage.robot.grip_pose()[0])
        return depth_mm, link_map, FrameGeometry(pose, objects, self.gripper_index, grip)

    def sequence(self, frames: dict[str, FrameGeometry]) -> SequenceGeometry:
        return SequenceGeometry(
            width=self.camera.width,
            height=self.camera.height,
            K=self.K,
            fovy=self.camera.view.fovy,
            camera_name=FREE_CAMERA,
            links=self.legend,
            frames=frames,
            table_top_z=TABLE_TOP_Z,
        )
