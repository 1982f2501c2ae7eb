"""ActiSeg-Sim v2's per-frame geometry beside the ActionVOS layout: depth, camera, 3-D objects, robot links.

Written only when a render is asked for sensors (``render_split(..., sensors=True)``); a plain ActionVOS / VISOR
reader never looks into these folders, so it ignores them. Per split, next to :mod:`layout`'s folders::

    Depth_Sparse/<split>/<seq>/frame_0000000123.png       16-bit grey PNG, depth in millimetres (REP 118 16UC1)
    RobotLinks_Sparse/<split>/<seq>/frame_0000000123.png  palette PNG, one value per robot link (legend below)
    Geometry_Sparse/<split>/<seq>.json                    the sequence's camera, per-frame poses and 3-D objects

**Depth**: ``uint16`` millimetres of the distance *along the optical axis* (the camera-frame z of the surface seen
in the pixel, not the length of the ray), rounded to the nearest millimetre; 0 means no return (no geometry in the
pixel) or beyond 65.535 m. Depth and the label maps come from one render: a pixel labelled k shows object k's
surface at that depth.

**Frames and units**: metres. The camera frame is the ROS optical frame (REP 103: x right, y down, z forward);
``T_world_camera`` maps camera-frame points to the world (z up, table top at ``world.table_top_z``). MuJoCo's /
OpenGL's camera frame (x right, y up, looking along -z) is ``T_world_camera @ OPENGL_FROM_OPTICAL`` (stored too, as
``T_world_camera_opengl``). Pixel (u, v) is column u, row v from the top-left, its centre at integer coordinates
(OpenCV / ROS ``CameraInfo``), so the principal point of MuJoCo's centred frustum is ((W-1)/2, (H-1)/2) and
``fx = fy = (H/2) / tan(fovy/2)`` (square pixels).

**Robot links** (``RobotLinks_Sparse``): 0 not robot, :data:`ROBOT_LINK_BASE` (1) the base (root, fixed base link,
mount, pedestal: what no arm joint moves), 1 + k the link moved by the k-th arm joint from the root (kinematic
order), :data:`ROBOT_LINK_GRIPPER` (32) the whole gripper or hand, for every robot. The legend (``robot_links`` in
the JSON) gives each value its body names, joint and group (:data:`LINK_GROUPS`: base, shoulder, upper_arm,
forearm, wrist, gripper). RobotSeg's three targets follow directly: whole robot = value > 0, gripper =
:data:`ROBOT_LINK_GRIPPER`, arm = the rest; the robot's pixels are exactly those of v1's ``RobotParts_Sparse``
(1 arm, 2 gripper), which every render keeps writing unchanged.

**Geometry JSON** (one per sequence, ``GEOMETRY_FORMAT`` version ``GEOMETRY_VERSION``)::

    {"format": "actiseg-sim-geometry", "version": 1, "sequence": "<seq>",
     "image": {"width": 854, "height": 480},
     "camera": {"name": "free" | "<MuJoCo camera>", "fovy_degrees": 45.0, "K": 3x3,
                "convention": "...", "opengl_from_optical": 3x3},
     "depth": {"folder": "Depth_Sparse", "unit_m": 0.001, "no_return": 0, ...},
     "robot_links": {"folder": "RobotLinks_Sparse", "groups": [...], "base_value": 1, "gripper_value": 32,
                     "links": [{"value": 1, "name": "base", "group": "base", "joint": null, "bodies": [...]}, ...]},
     "world": {"up": [0, 0, 1], "table_top_z": 0.8},
     "frames": {"frame_0000000001.jpg": {
         "T_world_camera": 4x4, "T_world_camera_opengl": 4x4,
         "gripper": {"index": 2, "grip_site": [x, y, z]},
         "objects": {"<palette index>": {
             "label": "milk", "centroid": [x, y, z], "origin": [x, y, z],
             "box": {"center": [x, y, z], "size": [dx, dy, dz], "rotation": 3x3},
             "aabb": {"min": [x, y, z], "max": [x, y, z]},
             "pixels": 1234, "silhouette_pixels": 1300, "occluded": true, "truncated": false}}}}}

Every point and box of a frame is in that frame's camera frame. Objects are keyed by the palette index of
``Annotations_Sparse`` (the gripper too, under ``gripper.index``). ``centroid``: the object's centre of mass
(MuJoCo's ``subtree_com``); ``origin``: its body frame's origin; ``box``: the box of its visual geometry aligned
with its body frame (``rotation`` columns = the body axes in the camera frame, ``size`` full edge lengths);
``aabb``: the camera-frame axis-aligned box of the same geometry (exact for primitives and mesh vertices);
``pixels``: visible pixels in the label map; ``silhouette_pixels``: in-image pixels of the object rendered alone
(nothing in front); ``occluded``: pixels < silhouette_pixels; ``truncated``: the silhouette reaches the image border
(or the object is out of view). All files are written atomically.

Reading: :func:`read_depth_png`, :func:`read_geometry` (-> :class:`SequenceGeometry`), ``layout.read_label_png``
for the link maps, :meth:`SequenceGeometry.group_map`; :func:`unproject` turns a depth image and a mask into
camera-frame points, :func:`transform` with ``T_world_camera`` takes them to the world, :func:`project` back.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from actiseg_core.data.layout import Sequence, _read_image, atomic_write_bytes, atomic_write_json, mask_name, read_json
from actiseg_core.errors import DataError

DEPTH_DIR = "Depth_Sparse"
ROBOT_LINKS_DIR = "RobotLinks_Sparse"
GEOMETRY_DIR = "Geometry_Sparse"
GEOMETRY_FORMAT = "actiseg-sim-geometry"
GEOMETRY_VERSION = 1

DEPTH_UNIT_M = 0.001  # one depth PNG count is one millimetre
DEPTH_NO_RETURN = 0
DEPTH_MAX_MM = 65535

ROBOT_LINK_BASE = 1
ROBOT_LINK_GRIPPER = 32
MAX_ARM_LINKS = ROBOT_LINK_GRIPPER - ROBOT_LINK_BASE - 1  # arm links take values 2 .. 31
LINK_GROUPS: tuple[str, ...] = ("base", "shoulder", "upper_arm", "forearm", "wrist", "gripper")  # group ids 1..6

#: camera-frame change from the ROS optical frame (x right, y down, z forward) to OpenGL's (x right, y up, z back)
OPENGL_FROM_OPTICAL = np.diag([1.0, -1.0, -1.0])

CAMERA_CONVENTION = (
    "camera frame = ROS optical (REP 103): x right, y down, z forward; T_world_camera maps camera points to the world;"
    " pixel (u, v) = column, row from the top-left with its centre at integer coordinates (OpenCV / ROS CameraInfo)"
)
DEPTH_MEASURE = "distance along the optical axis (camera-frame z), REP 118 16UC1"


@dataclass(frozen=True, eq=False)
class OrientedBox:
    """A box: ``center`` (3,), full edge lengths ``size`` (3,), ``rotation`` (3, 3) whose columns are its axes."""

    center: np.ndarray
    size: np.ndarray
    rotation: np.ndarray

    def corners(self) -> np.ndarray:
        """The 8 corners, (8, 3)."""
        signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
        return self.center + (signs * self.size / 2) @ self.rotation.T

    def contains(self, points: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
        """Whether each of ``points`` (N, 3) lies inside the box grown by ``tolerance`` on every side."""
        local = (np.asarray(points, dtype=float) - self.center) @ self.rotation
        return np.all(np.abs(local) <= self.size / 2 + tolerance, axis=1)

    def to_json(self) -> dict[str, Any]:
        return {"center": _rounded(self.center), "size": _rounded(self.size), "rotation": _rounded(self.rotation)}


@dataclass(frozen=True, eq=False)
class ObjectGeometry:
    """One annotated object (or the gripper) in one frame; points in the camera frame, see the module docstring."""

    index: int
    label: str
    centroid: np.ndarray
    origin: np.ndarray
    box: OrientedBox
    aabb_min: np.ndarray
    aabb_max: np.ndarray
    pixels: int
    silhouette_pixels: int
    occluded: bool
    truncated: bool

    @property
    def visible_fraction(self) -> float:
        """Visible share of the object's in-image silhouette (0 when it is out of view)."""
        return self.pixels / self.silhouette_pixels if self.silhouette_pixels else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "centroid": _rounded(self.centroid),
            "origin": _rounded(self.origin),
            "box": self.box.to_json(),
            "aabb": {"min": _rounded(self.aabb_min), "max": _rounded(self.aabb_max)},
            "pixels": self.pixels,
            "silhouette_pixels": self.silhouette_pixels,
            "occluded": self.occluded,
            "truncated": self.truncated,
        }


@dataclass(frozen=True, eq=False)
class FrameGeometry:
    """One frame: the camera pose (optical frame), the objects by palette index, the gripper and its grip site."""

    T_world_camera: np.ndarray
    objects: dict[int, ObjectGeometry]
    gripper_index: int
    grip_site: np.ndarray

    @property
    def T_world_camera_opengl(self) -> np.ndarray:
        """The same pose with MuJoCo's / OpenGL's camera axes (x right, y up, looking along -z)."""
        return self.T_world_camera @ _homogeneous(OPENGL_FROM_OPTICAL, np.zeros(3))

    @property
    def T_camera_world(self) -> np.ndarray:
        return invert_pose(self.T_world_camera)

    def to_json(self) -> dict[str, Any]:
        return {
            "T_world_camera": _rounded(self.T_world_camera),
            "T_world_camera_opengl": _rounded(self.T_world_camera_opengl),
            "gripper": {"index": self.gripper_index, "grip_site": _rounded(self.grip_site)},
            "objects": {str(k): obj.to_json() for k, obj in sorted(self.objects.items())},
        }


@dataclass(frozen=True)
class RobotLink:
    """One value of ``RobotLinks_Sparse``: the link's name, group, the arm joint that moves it, its bodies."""

    value: int
    name: str
    group: str
    joint: str | None
    bodies: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "name": self.name,
            "group": self.group,
            "joint": self.joint,
            "bodies": list(self.bodies),
        }


@dataclass(frozen=True, eq=False)
class SequenceGeometry:
    """Everything ``Geometry_Sparse/<split>/<seq>.json`` holds; ``frames`` keyed by frame name (``.jpg``)."""

    width: int
    height: int
    K: np.ndarray
    fovy: float
    camera_name: str
    links: tuple[RobotLink, ...]
    frames: dict[str, FrameGeometry]
    table_top_z: float | None = None

    def group_lut(self) -> np.ndarray:
        """(256,) uint8: robot-link value -> group id (1 + index in :data:`LINK_GROUPS`), 0 elsewhere."""
        lut = np.zeros(256, dtype=np.uint8)
        for link in self.links:
            lut[link.value] = LINK_GROUPS.index(link.group) + 1
        return lut

    def group_map(self, link_map: np.ndarray) -> np.ndarray:
        """A ``RobotLinks_Sparse`` map turned into group ids (base 1, shoulder 2, ..., gripper 6)."""
        return self.group_lut()[link_map]

    def to_json(self, sequence: str) -> dict[str, Any]:
        return {
            "format": GEOMETRY_FORMAT,
            "version": GEOMETRY_VERSION,
            "sequence": sequence,
            "image": {"width": self.width, "height": self.height},
            "camera": {
                "name": self.camera_name,
                "fovy_degrees": self.fovy,
                "K": self.K.tolist(),
                "convention": CAMERA_CONVENTION,
                "opengl_from_optical": OPENGL_FROM_OPTICAL.tolist(),
            },
            "depth": {
                "folder": DEPTH_DIR,
                "unit_m": DEPTH_UNIT_M,
                "no_return": DEPTH_NO_RETURN,
                "measure": DEPTH_MEASURE,
            },
            "robot_links": {
                "folder": ROBOT_LINKS_DIR,
                "groups": list(LINK_GROUPS),
                "base_value": ROBOT_LINK_BASE,
                "gripper_value": ROBOT_LINK_GRIPPER,
                "links": [link.to_json() for link in self.links],
            },
            "world": {"up": [0.0, 0.0, 1.0], "table_top_z": self.table_top_z},
            "frames": {name: frame.to_json() for name, frame in self.frames.items()},
        }


def _rounded(array: np.ndarray, digits: int = 6) -> list:
    """Micrometres (and 1e-6 for rotations): far below a millimetre depth step, and stable file bytes."""
    return (np.round(np.asarray(array, dtype=float), digits) + 0.0).tolist()  # + 0.0 turns -0.0 into 0.0


def _homogeneous(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = translation
    return pose


def invert_pose(pose: np.ndarray) -> np.ndarray:
    """The inverse of a rigid 4x4 transform."""
    rotation, translation = pose[:3, :3], pose[:3, 3]
    return _homogeneous(rotation.T, -rotation.T @ translation)


def transform(pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to (N, 3) points (or one (3,) point)."""
    points = np.asarray(points, dtype=float)
    return points @ pose[:3, :3].T + pose[:3, 3]


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Camera-frame (optical) points (N, 3) -> pixel coordinates (N, 2) as (u, v); points must have z > 0."""
    points = np.atleast_2d(np.asarray(points, dtype=float))
    uv = points @ np.asarray(K, dtype=float).T
    return uv[:, :2] / uv[:, 2:3]


def unproject(depth_mm: np.ndarray, K: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The camera-frame (optical) points, (N, 3) in metres, of the ``mask`` pixels that have a depth return.

    ``depth_mm`` is a ``Depth_Sparse`` image (uint16 millimetres along the optical axis); pixels with 0 (no return)
    are left out, so N <= mask.sum(). Rows follow ``np.nonzero(mask)`` order (row-major).
    """
    depth_mm = np.asarray(depth_mm)
    valid = depth_mm != DEPTH_NO_RETURN
    if mask is not None:
        if mask.shape != depth_mm.shape:
            raise ValueError(f"mask {mask.shape} and depth {depth_mm.shape} differ in size")
        valid &= mask.astype(bool)
    v, u = np.nonzero(valid)
    z = depth_mm[v, u].astype(float) * DEPTH_UNIT_M
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    return np.stack([(u - cx) / fx * z, (v - cy) / fy * z, z], axis=1)


def depth_path(root: Path, split: str, seq: Sequence, frame: str) -> Path:
    return Path(root) / DEPTH_DIR / split / seq.folder / mask_name(frame)


def robot_links_path(root: Path, split: str, seq: Sequence, frame: str) -> Path:
    return Path(root) / ROBOT_LINKS_DIR / split / seq.folder / mask_name(frame)


def geometry_path(root: Path, split: str, seq: Sequence) -> Path:
    return Path(root) / GEOMETRY_DIR / split / f"{seq.folder}.json"


def encode_depth_png(depth_mm: np.ndarray) -> bytes:
    """Encode a uint16 millimetre depth map as a 16-bit grey PNG."""
    if depth_mm.dtype != np.uint16 or depth_mm.ndim != 2:
        raise ValueError(f"depth must be 2-D uint16 millimetres, got {depth_mm.dtype} {depth_mm.shape}")
    buffer = BytesIO()
    Image.fromarray(depth_mm).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def write_depth_png(path: Path, depth_mm: np.ndarray) -> None:
    atomic_write_bytes(path, encode_depth_png(depth_mm))


def read_depth_png(path: Path) -> np.ndarray:
    """Read a ``Depth_Sparse`` PNG as uint16 millimetres; missing, corrupt or not 16-bit -> :class:`DataError`."""

    def decode(image: Image.Image) -> np.ndarray:
        if image.mode not in ("I;16", "I"):
            raise DataError(f"{path}: depth must be a 16-bit grey PNG, got mode {image.mode}")
        array = np.array(image)
        if array.min(initial=0) < 0 or array.max(initial=0) > DEPTH_MAX_MM:
            raise DataError(f"{path}: depth values outside 0..{DEPTH_MAX_MM}")
        return array.astype(np.uint16)

    return _read_image(path, "depth", decode)


def write_geometry(path: Path, geometry: SequenceGeometry, sequence: str) -> None:
    atomic_write_json(path, geometry.to_json(sequence))


def _array(raw: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    try:
        array = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{where}: expected numbers of shape {shape}") from None
    if array.shape != shape or not np.all(np.isfinite(array)):
        raise DataError(f"{where}: expected finite numbers of shape {shape}, got {array.shape}")
    return array


def _parse_object(raw: dict, index: int, where: str) -> ObjectGeometry:
    box = raw["box"]
    return ObjectGeometry(
        index=index,
        label=str(raw["label"]),
        centroid=_array(raw["centroid"], (3,), f"{where} centroid"),
        origin=_array(raw["origin"], (3,), f"{where} origin"),
        box=OrientedBox(
            _array(box["center"], (3,), f"{where} box"),
            _array(box["size"], (3,), f"{where} box"),
            _array(box["rotation"], (3, 3), f"{where} box"),
        ),
        aabb_min=_array(raw["aabb"]["min"], (3,), f"{where} aabb"),
        aabb_max=_array(raw["aabb"]["max"], (3,), f"{where} aabb"),
        pixels=int(raw["pixels"]),
        silhouette_pixels=int(raw["silhouette_pixels"]),
        occluded=bool(raw["occluded"]),
        truncated=bool(raw["truncated"]),
    )


def _parse_frame(raw: dict, where: str) -> FrameGeometry:
    objects = {int(k): _parse_object(obj, int(k), f"{where} object {k}") for k, obj in raw["objects"].items()}
    gripper = raw["gripper"]
    if int(gripper["index"]) not in objects:
        raise DataError(f"{where}: gripper index {gripper['index']} is not one of the frame's objects")
    return FrameGeometry(
        T_world_camera=_array(raw["T_world_camera"], (4, 4), f"{where} T_world_camera"),
        objects=objects,
        gripper_index=int(gripper["index"]),
        grip_site=_array(gripper["grip_site"], (3,), f"{where} grip_site"),
    )


def _parse_link(raw: dict, path: Path) -> RobotLink:
    link = RobotLink(int(raw["value"]), str(raw["name"]), str(raw["group"]), raw["joint"], tuple(raw["bodies"]))
    if link.group not in LINK_GROUPS or not 1 <= link.value <= 255:
        raise DataError(f"{path}: robot link {link.value} ({link.group!r}) is not a known group or a label value")
    return link


def parse_geometry(path: Path, raw: Any) -> SequenceGeometry:
    """Validate a geometry record; any problem is a one-line :class:`DataError` naming ``path``."""
    if not isinstance(raw, dict) or raw.get("format") != GEOMETRY_FORMAT:
        raise DataError(f"{path}: not an {GEOMETRY_FORMAT} file")
    if raw.get("version") != GEOMETRY_VERSION:
        raise DataError(f"{path}: geometry version {raw.get('version')!r}, this reader knows {GEOMETRY_VERSION}")
    try:
        camera, links = raw["camera"], raw["robot_links"]
        return SequenceGeometry(
            width=int(raw["image"]["width"]),
            height=int(raw["image"]["height"]),
            K=_array(camera["K"], (3, 3), f"{path}: K"),
            fovy=float(camera["fovy_degrees"]),
            camera_name=str(camera["name"]),
            links=tuple(_parse_link(link, path) for link in links["links"]),
            frames={str(name): _parse_frame(frame, f"{path}: {name}") for name, frame in raw["frames"].items()},
            table_top_z=raw.get("world", {}).get("table_top_z"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{path}: malformed geometry record ({exc.__class__.__name__}: {exc})") from None


def read_geometry(path: Path) -> SequenceGeometry:
    """Read ``Geometry_Sparse/<split>/<seq>.json`` (see :func:`geometry_path`)."""
    return parse_geometry(Path(path), read_json(path))
