"""Object meshes for pybullet: the v2 catalog's kinds as triangle meshes with their textures, and OBJ files.

pybullet draws what it is given as vertex arrays, so an object is a list of :class:`MeshPart` (one per material:
TinyRenderer draws one texture per visual shape) in the object's own frame, the frame the MuJoCo clips place it by.

:func:`catalog_mesh` is the packs' source. It builds the kind exactly as the MuJoCo clips do (``kind.build``:
LIBERO XMLs with their ``.msh`` / OBJ meshes and the XML's mesh scale, Sweet Home 3D models through the converted
per-material OBJs :mod:`mesh_objects` caches, robosuite's own objects), compiles it alone in MuJoCo and reads the
compiled visual geoms back: vertices placed by each geom's pose (so mesh scale, geom offsets and inner body poses
are applied as MuJoCo applies them), texture coordinates, normals, and the material's texture, written once as a
PNG (at most :data:`MAX_TEXTURE_SIDE` pixels, see :func:`downscaled`) under the pack cache. Primitive geoms become
meshes of the same shape with the material's colour. :func:`obj_mesh` reads a plain OBJ file with its MTL
(tests use it for fixture objects). A kind that cannot be converted is an :class:`ActiSegError` naming it;
:mod:`bullet.clip` skips such kinds.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from actiseg_core.atomic import atomic_write_bytes
from actiseg_core.data.sim.geometry import Extent
from actiseg_core.errors import ActiSegError

MAX_TEXTURE_SIDE = 512  # pixels: objects cover at most ~200 pixels and TinyRenderer has no mipmaps (see downscaled)
TEXTURE_DIR = "bullet-textures"
MESH_CACHE = 48  # converted kinds kept per process (a few MB each; a clip shows at most 5)
_VISUAL_GROUP = 1


@dataclass(frozen=True)
class MeshPart:
    """Triangles of one material in the object's frame; ``uvs`` follow the OBJ convention (v = 0 is the bottom
    row of the texture image), as pybullet reads them."""

    vertices: np.ndarray  # (n, 3) float
    indices: np.ndarray  # (m, 3) int
    normals: np.ndarray | None  # (n, 3)
    uvs: np.ndarray | None  # (n, 2)
    texture: Path | None
    rgba: tuple[float, float, float, float]


@dataclass(frozen=True)
class ObjectMesh:
    """An object's visual parts; ``extent`` is measured on them (the object upright, unrotated, at the origin).
    ``com``: the centre of mass in the object's frame where the source knows it."""

    parts: tuple[MeshPart, ...]
    com: np.ndarray | None = field(default=None, compare=False)
    extent: Extent = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not self.parts or any(len(part.indices) == 0 for part in self.parts):
            raise ActiSegError("an object mesh needs at least one part with triangles")
        cloud = np.concatenate([part.vertices for part in self.parts])
        extent = Extent(cloud.min(axis=0), cloud.max(axis=0), float(np.linalg.norm(cloud[:, :2], axis=1).max()))
        object.__setattr__(self, "extent", extent)

    @property
    def centroid(self) -> np.ndarray:
        """The centre of mass, or the centre of the box when the source gives none."""
        return self.com if self.com is not None else (self.extent.low + self.extent.high) / 2

    @property
    def triangles(self) -> int:
        return sum(len(part.indices) for part in self.parts)


ObjectSource = Callable[[str], ObjectMesh]  # kind label -> its mesh; raises ActiSegError when it cannot


# --------------------------------------------------------------------------------------------------------------
# Primitive shapes (robosuite's generated objects: boxes, balls, cylinders)


def box_part(half: np.ndarray, rgba: tuple[float, float, float, float], texture: Path | None = None) -> MeshPart:
    """A box of half sizes ``half`` centred at the origin, four corners per face (flat normals, full-face uvs)."""
    vertices, normals, uvs, indices = [], [], [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            normal = np.zeros(3)
            normal[axis] = sign
            u_axis, v_axis = [a for a in range(3) if a != axis]
            if sign < 0:
                u_axis, v_axis = v_axis, u_axis
            start = len(vertices)
            for u, v in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                corner = normal.copy()
                corner[u_axis], corner[v_axis] = u, v
                vertices.append(corner * half)
                normals.append(normal)
                uvs.append(((u + 1) / 2, (v + 1) / 2))
            indices += [(start, start + 1, start + 2), (start, start + 2, start + 3)]
    return MeshPart(np.array(vertices), np.array(indices), np.array(normals), np.array(uvs), texture, rgba)


def _revolve(radii: np.ndarray, heights: np.ndarray, segments: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A surface of revolution about z through the profile (radius, height) rows; returns (vertices, triangles)."""
    angles = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    vertices = np.concatenate(
        [np.column_stack([ring * r, np.full(segments, h)]) for r, h in zip(radii, heights, strict=True)]
    )
    triangles = []
    for row in range(len(radii) - 1):
        for k in range(segments):
            a, b = row * segments + k, row * segments + (k + 1) % segments
            triangles += [(a, b, b + segments), (a, b + segments, a + segments)]
    return vertices, np.array(triangles)


def _smooth_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    normals = np.zeros_like(vertices)
    corners = vertices[triangles]
    face = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    for k in range(3):
        np.add.at(normals, triangles[:, k], face)
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)


def sphere_part(radius: np.ndarray, rgba: tuple[float, float, float, float]) -> MeshPart:
    """A sphere (or ellipsoid with per-axis ``radius``) centred at the origin."""
    polar = np.linspace(0.0, np.pi, 13)
    vertices, triangles = _revolve(np.sin(polar), -np.cos(polar))
    vertices = vertices * np.broadcast_to(radius, 3)
    return MeshPart(vertices, triangles, _smooth_normals(vertices, triangles), None, None, rgba)


def cylinder_part(radius: float, half_height: float, rgba: tuple[float, float, float, float], caps: float = 0.0):
    """A closed cylinder along z (``caps`` > 0: hemispherical ends of that radius, a capsule)."""
    if caps > 0:
        polar = np.linspace(0.0, np.pi / 2, 7)
        bottom = [(radius * np.sin(a), -half_height - caps * np.cos(a)) for a in polar]
        top = [(radius * np.cos(a), half_height + caps * np.sin(a)) for a in polar]
        profile = np.array(bottom + top)
    else:
        profile = np.array([(0.0, -half_height), (radius, -half_height), (radius, half_height), (0.0, half_height)])
    vertices, triangles = _revolve(profile[:, 0], profile[:, 1])
    return MeshPart(vertices, triangles, _smooth_normals(vertices, triangles), None, None, rgba)


# --------------------------------------------------------------------------------------------------------------
# Compiled MuJoCo objects


def _cached_png(image: Image.Image, side: int) -> Path:
    """``image`` at most ``side`` pixels on a side as a PNG in the cache, named by its content: written once,
    shared by every process."""
    from actiseg_core.data.sim.packs import cache_root

    if max(image.size) > side:
        image = image.copy()
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
    digest = hashlib.sha1(np.ascontiguousarray(np.asarray(image)).tobytes()).hexdigest()[:20]
    path = cache_root() / TEXTURE_DIR / f"{digest}.png"
    if not path.is_file():
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        atomic_write_bytes(path, buffer.getvalue())
    return path


def downscaled(path: Path, side: int) -> Path:
    """A texture file no larger than ``side`` pixels: itself if it is small enough, else a cached smaller copy.

    TinyRenderer samples textures without mipmaps, so a large texture seen small aliases into stripes; a copy
    near the size it is seen at looks like a filtered texture and renders faster."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            if max(image.size) <= side:
                return path
            return _cached_png(image.convert("RGB"), side)
    except OSError as error:
        raise ActiSegError(f"{path}: unreadable texture ({error})") from None


def _mujoco_texture(model, material: int) -> tuple[Path | None, np.ndarray]:
    """(PNG of the material's 2-D colour texture or None, the material's rgba)."""
    import mujoco

    rgba = np.asarray(model.mat_rgba[material], dtype=float)
    texture = int(model.mat_texid[material, int(mujoco.mjtTextureRole.mjTEXROLE_RGB)])
    if texture < 0 or model.tex_type[texture] != int(mujoco.mjtTexture.mjTEXTURE_2D):
        return None, rgba
    width, height, channels = model.tex_width[texture], model.tex_height[texture], model.tex_nchannel[texture]
    start = model.tex_adr[texture]
    pixels = model.tex_data[start : start + width * height * channels].reshape(height, width, channels)
    return _cached_png(Image.fromarray(np.ascontiguousarray(pixels[..., :3])), MAX_TEXTURE_SIDE), rgba


def _mesh_geom(model, geom: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(vertices, triangles, normals, uvs) of a mesh geom in the geom's frame, one vertex per distinct corner."""
    mesh = model.geom_dataid[geom]
    vert = model.mesh_vert[model.mesh_vertadr[mesh] : model.mesh_vertadr[mesh] + model.mesh_vertnum[mesh]]
    faces = slice(model.mesh_faceadr[mesh], model.mesh_faceadr[mesh] + model.mesh_facenum[mesh])
    corner_v = model.mesh_face[faces].reshape(-1)
    normal_start = model.mesh_normaladr[mesh]
    normal = model.mesh_normal[normal_start : normal_start + model.mesh_normalnum[mesh]]
    corner_n = model.mesh_facenormal[faces].reshape(-1)
    columns = [corner_v, corner_n]
    uv_start = model.mesh_texcoordadr[mesh]
    texcoord = None
    if uv_start >= 0:
        texcoord = model.mesh_texcoord[uv_start : uv_start + model.mesh_texcoordnum[mesh]]
        columns.append(model.mesh_facetexcoord[faces].reshape(-1))
    corners = np.stack(columns, axis=1)
    unique, inverse = np.unique(corners, axis=0, return_inverse=True)
    vertices = vert[unique[:, 0]].astype(float)
    normals = normal[unique[:, 1]].astype(float) if len(normal) else None
    uvs = None
    if texcoord is not None:
        uvs = texcoord[unique[:, 2]].astype(float)
        uvs[:, 1] = 1.0 - uvs[:, 1]  # MuJoCo's v = 0 is the image's first row; OBJ's is its last
    return vertices, inverse.reshape(-1, 3).astype(np.int64), normals, uvs


def _geom_part(model, data, geom: int) -> MeshPart:
    import mujoco

    kind, size = int(model.geom_type[geom]), model.geom_size[geom]
    material = int(model.geom_matid[geom])
    texture, rgba = _mujoco_texture(model, material) if material >= 0 else (None, model.geom_rgba[geom])
    colour = tuple(float(v) for v in rgba)
    if kind == mujoco.mjtGeom.mjGEOM_MESH:
        vertices, triangles, normals, uvs = _mesh_geom(model, geom)
        part = MeshPart(vertices, triangles, normals, uvs, texture if uvs is not None else None, colour)
    elif kind == mujoco.mjtGeom.mjGEOM_BOX:
        part = box_part(size[:3], colour)
    elif kind in (mujoco.mjtGeom.mjGEOM_SPHERE, mujoco.mjtGeom.mjGEOM_ELLIPSOID):
        part = sphere_part(size[0] if kind == mujoco.mjtGeom.mjGEOM_SPHERE else size[:3], colour)
    elif kind in (mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_CAPSULE):
        caps = size[0] if kind == mujoco.mjtGeom.mjGEOM_CAPSULE else 0.0
        part = cylinder_part(float(size[0]), float(size[1]), colour, caps)
    else:
        raise ActiSegError(f"geom type {kind} has no pybullet mesh")
    rotation = data.geom_xmat[geom].reshape(3, 3)
    normals = None if part.normals is None else part.normals @ rotation.T
    return MeshPart(
        part.vertices @ rotation.T + data.geom_xpos[geom], part.indices, normals, part.uvs, part.texture, part.rgba
    )


def compiled_mesh(obj, source: str) -> ObjectMesh:
    """The visual geoms of a robosuite object, compiled alone in MuJoCo, as an :class:`ObjectMesh` in the frame
    of its free body."""
    import mujoco

    from actiseg_core.data.sim.geometry import subtree_geoms
    from actiseg_core.data.sim.mesh_objects import compile_alone

    model = compile_alone(obj, source)
    data = mujoco.MjData(model)
    adr = model.joint(obj.joints[0]).qposadr[0]
    data.qpos[adr : adr + 7] = [0, 0, 0, 1, 0, 0, 0]
    mujoco.mj_kinematics(model, data)
    mujoco.mj_comPos(model, data)
    root = model.body(obj.root_body).id
    visual = [
        g for g in subtree_geoms(model, root) if model.geom_group[g] == _VISUAL_GROUP and model.geom_rgba[g][3] > 0
    ]
    if not visual:
        raise ActiSegError(f"{source}: no visual geoms")
    return ObjectMesh(tuple(_geom_part(model, data, g) for g in visual), com=data.subtree_com[root].copy())


@lru_cache(maxsize=MESH_CACHE)
def catalog_mesh(label: str) -> ObjectMesh:
    """The mesh of v2 catalog kind ``label``, built from its pack (installed on first use) and converted once."""
    from actiseg_core.data.sim.catalog_v2 import V2

    kind = V2.kind(label)
    try:
        return compiled_mesh(kind.build(label), kind.source)
    except ActiSegError as error:
        raise ActiSegError(f"kind {label!r} ({kind.source}): {error}") from None
    except (OSError, ValueError) as error:
        raise ActiSegError(f"kind {label!r} ({kind.source}): cannot be converted ({error})") from None


# --------------------------------------------------------------------------------------------------------------
# OBJ files


def _mtl_materials(path: Path) -> dict[str, tuple[tuple[float, float, float, float], Path | None]]:
    materials: dict[str, tuple[tuple[float, float, float, float], Path | None]] = {}
    name = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0] == "newmtl":
            name = line.split(None, 1)[1].strip()
            materials[name] = ((0.8, 0.8, 0.8, 1.0), None)
        elif name is not None and tokens[0] == "Kd":
            materials[name] = ((*(float(t) for t in tokens[1:4]), 1.0), materials[name][1])
        elif name is not None and tokens[0] == "map_Kd":
            materials[name] = (materials[name][0], path.parent / tokens[-1])
    return materials


def obj_mesh(path: Path, scale: float = 1.0) -> ObjectMesh:
    """A plain OBJ file (v / vt / vn / f, ``usemtl`` with ``Kd`` and ``map_Kd`` from its MTL) as an object mesh,
    one part per material, scaled by ``scale``."""
    path = Path(path)
    positions, texcoords, normals = [], [], []
    faces: dict[str, list[list[tuple[int, int, int]]]] = {}
    materials: dict[str, tuple[tuple[float, float, float, float], Path | None]] = {}
    current = ""
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            tokens = line.split()
            if not tokens or tokens[0].startswith("#"):
                continue
            if tokens[0] == "v":
                positions.append([float(t) for t in tokens[1:4]])
            elif tokens[0] == "vt":
                texcoords.append([float(t) for t in tokens[1:3]])
            elif tokens[0] == "vn":
                normals.append([float(t) for t in tokens[1:4]])
            elif tokens[0] == "mtllib":
                materials.update(_mtl_materials(path.parent / line.split(None, 1)[1].strip()))
            elif tokens[0] == "usemtl":
                current = line.split(None, 1)[1].strip()
            elif tokens[0] == "f":
                corners = []
                for token in tokens[1:]:
                    fields = (token.split("/") + ["", ""])[:3]
                    corners.append(tuple(int(f) - 1 if f else -1 for f in fields))
                faces.setdefault(current, []).extend(
                    [corners[0], corners[k], corners[k + 1]] for k in range(1, len(corners) - 1)
                )
    except (OSError, ValueError) as error:
        raise ActiSegError(f"{path}: unreadable OBJ ({error})") from None
    parts = []
    for material, triangles in faces.items():
        corners = np.array(triangles).reshape(-1, 3)
        unique, inverse = np.unique(corners, axis=0, return_inverse=True)
        rgba, texture = materials.get(material, ((0.8, 0.8, 0.8, 1.0), None))
        has_uv = texcoords and np.all(unique[:, 1] >= 0)
        has_normals = normals and np.all(unique[:, 2] >= 0)
        parts.append(
            MeshPart(
                np.asarray(positions, dtype=float)[unique[:, 0]] * scale,
                inverse.reshape(-1, 3),
                np.asarray(normals, dtype=float)[unique[:, 2]] if has_normals else None,
                np.asarray(texcoords, dtype=float)[unique[:, 1]] if has_uv else None,
                texture if has_uv else None,
                rgba,
            )
        )
    if not parts:
        raise ActiSegError(f"{path}: OBJ has no faces")
    return ObjectMesh(tuple(parts))
