"""One episode's pybullet world: room, table, robot on its pedestal, objects; poses and interpenetration tests.

Nothing is simulated: bodies are posed kinematically and pybullet serves as the renderer and the collision
detector. The room copies robosuite's ``TableArena`` the MuJoCo clips stand in (floor, rear / corner / side walls,
a 0.8 x 0.8 m table whose top is at :data:`scene.TABLE_TOP_Z` on four metal legs), textured with the episode's
table / floor / wall textures repeated per metre as there. The world frame is the MuJoCo clips' too: table centre
at the origin's x / y, robot behind the table facing +x, camera in front.

Each object has one visual body per material part (TinyRenderer draws one texture per shape) and two collision
bodies: its triangle mesh (static, exact for concave objects such as bowls and baskets) and its convex hull
(dynamic: what a moving object is tested with, since bullet does not collide two triangle meshes). Object poses
use MuJoCo's (w, x, y, z) quaternions, so :func:`placement.place` stands objects here as it does in a
:class:`world.World`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybullet
import pybullet_data
from pybullet_utils.bullet_client import BulletClient

from actiseg_core.data.sim.bullet.meshes import MeshPart, ObjectMesh, box_part, cylinder_part, downscaled
from actiseg_core.data.sim.bullet.robots import PEDESTAL_RGBA, Robot, RobotSpec, quat_to_matrix
from actiseg_core.data.sim.geometry import Extent
from actiseg_core.data.sim.scene import TABLE_SIZE, TABLE_TOP_Z
from actiseg_core.errors import ActiSegError

CLEARANCE = 0.003  # metres of overlap tolerated between robot, objects and table in a frame (as world.CLEARANCE)
MAX_VERTICES = 100_000  # per pybullet shape (its API refuses more than 131072)
COLLISION_GRID = 0.002  # metres: collision meshes are welded on this grid (visual meshes keep every vertex)
TABLE_REPEAT, FLOOR_REPEAT, WALL_REPEAT = 2.0, 2.0, 3.0  # texture repeats per metre, as the MuJoCo arena's
LEG_RGBA = (0.55, 0.55, 0.57, 1.0)
PLAIN_RGBA = {"table": (0.75, 0.7, 0.62, 1.0), "floor": (0.55, 0.55, 0.55, 1.0), "walls": (0.85, 0.84, 0.8, 1.0)}
ROOM_HEIGHT = 3.0
ROOM_TEXTURE_SIDE = 256  # pixels: about the size a repeat of the table / floor / wall textures is seen at


class MeshRejected(ActiSegError):
    """pybullet refused an object's mesh; ``label`` names the object."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(f"pybullet cannot load the mesh of {label!r}: {reason}")
        self.label = label


@dataclass(frozen=True)
class Look:
    """Texture files of the table, floor and walls (None: a plain colour)."""

    table: Path | None
    floor: Path | None
    walls: Path | None


@dataclass
class StagedObject:
    visuals: list[int]
    trimesh: int
    hull: int


def mujoco_to_bullet_quat(quat: np.ndarray) -> list[float]:
    w, x, y, z = (float(v) for v in quat)
    return [x, y, z, w]


def _quad(corner: np.ndarray, u: np.ndarray, v: np.ndarray, repeat: float, texture, rgba) -> MeshPart:
    """A rectangle from ``corner`` spanned by ``u`` and ``v`` (normal u x v), its texture repeated per metre."""
    vertices = np.array([corner, corner + u, corner + u + v, corner + v])
    normal = np.cross(u, v)
    normal /= np.linalg.norm(normal)
    size = np.array([np.linalg.norm(u), np.linalg.norm(v)]) * repeat
    uvs = np.array([[0.0, 0.0], [size[0], 0.0], size, [0.0, size[1]]])
    return MeshPart(vertices, np.array([[0, 1, 2], [0, 2, 3]]), np.tile(normal, (4, 1)), uvs, texture, rgba)


def _weld(vertices: np.ndarray, triangles: np.ndarray, grid: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices that fall in one cell of ``grid`` and drop the triangles that collapse."""
    keys = np.round(vertices / grid).astype(np.int64)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    welded = np.zeros((len(unique), 3))
    np.add.at(welded, inverse.reshape(-1), vertices)
    welded /= np.bincount(inverse.reshape(-1), minlength=len(unique))[:, None]
    faces = inverse.reshape(-1)[triangles]
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    return welded, faces[keep]


def _chunks(part: MeshPart) -> list[MeshPart]:
    """Split a part whose vertex count exceeds what one pybullet shape takes into parts of whole triangles."""
    if len(part.vertices) <= MAX_VERTICES:
        return [part]
    out = []
    step = MAX_VERTICES // 3
    for start in range(0, len(part.indices), step):
        triangles = part.indices[start : start + step]
        used, local = np.unique(triangles, return_inverse=True)

        def pick(values: np.ndarray | None, used: np.ndarray = used) -> np.ndarray | None:
            return None if values is None else values[used]

        out.append(
            MeshPart(
                part.vertices[used],
                local.reshape(-1, 3),
                pick(part.normals),
                pick(part.uvs),
                part.texture,
                part.rgba,
            )
        )
    return out


class Stage:
    """The pybullet world of one episode (its own DIRECT client); close it when done."""

    def __init__(self, spec: RobotSpec, meshes: dict[str, ObjectMesh], look: Look) -> None:
        self.client = BulletClient(connection_mode=pybullet.DIRECT)
        self._textures: dict[Path, int] = {}
        look = Look(
            *(None if t is None else downscaled(t, ROOM_TEXTURE_SIDE) for t in (look.table, look.floor, look.walls))
        )
        self.room: list[int] = []
        # Built front to back, as TinyRenderer draws in creation order and shades only what passes the depth test
        self.robot = Robot(self.client, spec, pybullet_data.getDataPath())
        self.meshes = meshes
        self.extent: dict[str, Extent] = {label: mesh.extent for label, mesh in meshes.items()}
        self.objects = {}
        for label, mesh in meshes.items():
            try:
                self.objects[label] = self._build_object(mesh)
            except pybullet.error as error:
                self.close()
                raise MeshRejected(label, str(error)) from None
        self.table = self._build_table(look)
        self.pedestal = self._pedestal(spec)
        self._build_room(look)
        self._poses: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._rendering = False
        for label in meshes:
            self.set_object(label, np.array([0.0, 0.0, -5.0]), np.array([1.0, 0.0, 0.0, 0.0]))

    def close(self) -> None:
        self.client.disconnect()

    # building ---------------------------------------------------------------------------------------------------
    def _texture(self, path: Path | None) -> int | None:
        if path is None:
            return None
        if path not in self._textures:
            self._textures[path] = self.client.loadTexture(str(path))
        return self._textures[path]

    def _visual(self, part: MeshPart, position=(0.0, 0.0, 0.0)) -> list[int]:
        """Bodies drawing ``part`` (one per chunk of at most MAX_VERTICES vertices)."""
        bodies = []
        for chunk in _chunks(part):
            arrays = {
                "vertices": chunk.vertices.tolist(),
                "indices": chunk.indices.reshape(-1).astype(int).tolist(),
            }
            if chunk.normals is not None:
                arrays["normals"] = chunk.normals.tolist()
            if chunk.uvs is not None:
                arrays["uvs"] = chunk.uvs.tolist()
            textured = chunk.texture is not None and chunk.uvs is not None
            rgba = [1.0, 1.0, 1.0, 1.0] if textured else list(chunk.rgba[:3]) + [1.0]
            shape = self.client.createVisualShape(pybullet.GEOM_MESH, rgbaColor=rgba, **arrays)
            body = self.client.createMultiBody(0.0, -1, shape, basePosition=list(position))
            if textured:
                self.client.changeVisualShape(body, -1, textureUniqueId=self._texture(chunk.texture))
            bodies.append(body)
        return bodies

    def _build_room(self, look: Look) -> None:
        floor_rgba, wall_rgba = PLAIN_RGBA["floor"], PLAIN_RGBA["walls"]
        x, y, z = np.eye(3)
        height = ROOM_HEIGHT * z
        quads = [  # (corner, u, v): the face u x v looks into the room (TinyRenderer culls back faces)
            (np.array([-3.0, -3.0, 0.0]), 6 * x, 6 * y, FLOOR_REPEAT, look.floor, floor_rgba),
            (np.array([-2.0, -1.5, 0.0]), 3 * y, height, WALL_REPEAT, look.walls, wall_rgba),  # rear
            (np.array([-2.0, 1.5, 0.0]), np.array([1.5, 1.5, 0.0]), height, WALL_REPEAT, look.walls, wall_rgba),
            (np.array([-0.5, -3.0, 0.0]), np.array([-1.5, 1.5, 0.0]), height, WALL_REPEAT, look.walls, wall_rgba),
            (np.array([-0.5, 3.0, 0.0]), 3.5 * x, height, WALL_REPEAT, look.walls, wall_rgba),  # left side
            (np.array([3.0, -3.0, 0.0]), -3.5 * x, height, WALL_REPEAT, look.walls, wall_rgba),  # right side
        ]
        for corner, u, v, repeat, texture, rgba in quads:
            self.room += self._visual(_quad(corner, u, v, repeat, texture, rgba))

    def _build_table(self, look: Look) -> int:
        half = np.array(TABLE_SIZE) / 2
        centre = np.array([0.0, 0.0, TABLE_TOP_Z - half[2]])
        top = box_part(half, PLAIN_RGBA["table"], look.table)
        uvs = top.uvs * 2 * half.max() * TABLE_REPEAT  # box_part's uvs span each face once: repeat per metre
        top = MeshPart(top.vertices, top.indices, top.normals, uvs, look.table, top.rgba)
        self.room += self._visual(top, centre)
        leg_height = TABLE_TOP_Z - TABLE_SIZE[2]
        for sx in (-1, 1):
            for sy in (-1, 1):
                leg = cylinder_part(0.025, leg_height / 2, LEG_RGBA)
                self.room += self._visual(leg, (sx * (half[0] - 0.1), sy * (half[1] - 0.1), leg_height / 2))
        shape = self.client.createCollisionShape(pybullet.GEOM_BOX, halfExtents=half.tolist())
        return self._hidden(0.0, shape, centre)

    def _pedestal(self, spec: RobotSpec) -> list[int]:
        height = spec.base[2]
        part = cylinder_part(spec.pedestal_radius, height / 2, PEDESTAL_RGBA)
        return self._visual(part, (spec.base[0], spec.base[1], height / 2))

    def _build_object(self, mesh: ObjectMesh) -> StagedObject:
        visuals = [body for part in mesh.parts for body in self._visual(part)]
        vertices, triangles, offset = [], [], 0
        for part in mesh.parts:
            vertices.append(part.vertices)
            triangles.append(part.indices + offset)
            offset += len(part.vertices)
        welded, faces = _weld(np.concatenate(vertices), np.concatenate(triangles), COLLISION_GRID)
        grid = COLLISION_GRID
        while len(welded) > MAX_VERTICES:
            grid *= 2
            welded, faces = _weld(welded, faces, grid)
        points = welded.tolist()
        trimesh = self.client.createCollisionShape(
            pybullet.GEOM_MESH,
            vertices=points,
            indices=faces.reshape(-1).astype(int).tolist(),
            flags=pybullet.GEOM_FORCE_CONCAVE_TRIMESH,
        )
        hull = self.client.createCollisionShape(pybullet.GEOM_MESH, vertices=points)
        return StagedObject(visuals, self._hidden(0.0, trimesh), self._hidden(1.0, hull))

    def _hidden(self, mass: float, shape: int, position=(0.0, 0.0, 0.0)) -> int:
        """A collision-only body. pybullet draws the collision shape of a body without a visual shape; alpha 0
        keeps it out of the colour and segmentation buffers (not out of the shadow map: see :meth:`for_rendering`)."""
        body = self.client.createMultiBody(mass, shape, -1, basePosition=list(position))
        self.client.changeVisualShape(body, -1, rgbaColor=[1.0, 1.0, 1.0, 0.0])
        return body

    def for_rendering(self) -> None:
        """Park the convex hulls out of sight: they are larger than concave objects and would cast shadows.
        (The triangle meshes and the table's box coincide with what they stand for, so their shadows are the
        objects' own.) Poses set afterwards move only what is drawn."""
        self._rendering = True
        for staged in self.objects.values():
            self.client.resetBasePositionAndOrientation(staged.hull, [0.0, 0.0, -50.0], [0.0, 0.0, 0.0, 1.0])

    # poses ------------------------------------------------------------------------------------------------------
    def set_object(self, label: str, position: np.ndarray, quat: np.ndarray) -> None:
        """Pose object ``label``: ``quat`` is MuJoCo's (w, x, y, z)."""
        position, quat = np.asarray(position, dtype=float), np.asarray(quat, dtype=float)
        self._poses[label] = (position.copy(), quat / np.linalg.norm(quat))
        staged = self.objects[label]
        orientation = mujoco_to_bullet_quat(self._poses[label][1])
        bodies = [*staged.visuals, staged.trimesh] + ([] if self._rendering else [staged.hull])
        for body in bodies:
            self.client.resetBasePositionAndOrientation(body, position.tolist(), orientation)

    def site_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """The grip point and its rotation, as :meth:`World.site_pose` (what :func:`motion.script` asks)."""
        return self.robot.grip_pose()

    def object_pose(self, label: str) -> tuple[np.ndarray, np.ndarray]:
        position, quat = self._poses[label]
        return position.copy(), quat.copy()

    def object_rotation(self, label: str) -> np.ndarray:
        return quat_to_matrix(mujoco_to_bullet_quat(self._poses[label][1]))

    def resting_z(self, label: str) -> float:
        """Height of the object's origin when its lowest point touches the table (upright)."""
        return TABLE_TOP_Z - float(self.extent[label].low[2]) + 1e-4

    # interpenetration -------------------------------------------------------------------------------------------
    def others(self, *labels: str) -> list[int]:
        """Table plus the triangle meshes of every object except ``labels``: what a moving part must not cut."""
        return [self.table] + [staged.trimesh for label, staged in self.objects.items() if label not in labels]

    def _depth(self, body: int, others: list[int], links: tuple[int, ...] | None = None, reach: float = 0.0):
        """Smallest signed distance between ``body`` (its ``links`` only, if given) and any of ``others``."""
        nearest = np.inf
        for other in others:
            if links is None:
                points = self.client.getClosestPoints(body, other, reach)
            else:
                points = [p for link in links for p in self.client.getClosestPoints(body, other, reach, link)]
            for point in points:
                nearest = min(nearest, point[8])
        return nearest

    def robot_cuts(self, others: list[int], tolerance: float = CLEARANCE, gripper_only: bool = False) -> bool:
        links = self.robot.spec.gripper_links if gripper_only else None
        return self._depth(self.robot.body, others, links) < -tolerance

    def object_cuts(self, label: str, others: list[int], tolerance: float = CLEARANCE) -> bool:
        return self._depth(self.objects[label].hull, others) < -tolerance

    def finger_distance(self, label: str, reach: float = 0.05) -> float:
        """Nearest distance from a finger link to object ``label`` (negative: overlap; inf: beyond ``reach``)."""
        return self._depth(self.robot.body, [self.objects[label].trimesh], self.robot.spec.finger_links, reach)
