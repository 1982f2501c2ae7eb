"""One episode's MJCF, composed with robosuite's model API (arena, robot + mount + gripper, objects) and compiled.

Objects are composed without positions: they are placed after compiling by writing their free-joint qpos, which
needs their real extents (read from the compiled geometry, see :mod:`geometry`). Textures and lighting are written
into the XML here, so one compiled model is one fixed look; the camera is chosen at render time.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from actiseg_core.data.layout import ANNOTATION_HEIGHT, ANNOTATION_WIDTH
from actiseg_core.data.sim.assets import robosuite
from actiseg_core.data.sim.catalog import V1, Catalog

TABLE_SIZE = (0.8, 0.8, 0.05)
TABLE_TOP_Z = 0.8


@dataclass(frozen=True)
class Lighting:
    """A directional key light (direction, intensity) plus the headlight's ambient share."""

    direction: tuple[float, float, float]
    diffuse: float
    ambient: float

    def to_json(self) -> dict[str, object]:
        return {"direction": [round(v, 4) for v in self.direction], "diffuse": self.diffuse, "ambient": self.ambient}


@dataclass(frozen=True)
class SceneSpec:
    """Everything that changes the compiled model: embodiment, textures, lighting, object classes present."""

    robot: str
    table_texture: str
    floor_texture: str
    wall_texture: str
    objects: tuple[str, ...]
    lighting: Lighting


@dataclass
class Scene:
    """A compiled episode model and the names of its parts (robosuite prefixes them: robot0_, gripper0_right_)."""

    spec: SceneSpec
    model: mujoco.MjModel
    arm_joints: list[str]
    init_qpos: np.ndarray
    gripper_joints: list[str]
    gripper_type: str
    grip_site: str
    gripper_root: str
    robot_root: str
    finger_pads: tuple[list[str], list[str]]
    object_joints: dict[str, str]
    object_roots: dict[str, str]


def _material(asset: ET.Element, name: str, texture: Path, repeat: str) -> None:
    """A 2-D texture repeated per metre (a cube map would upload six faces per episode for the same look)."""
    ET.SubElement(asset, "texture", name=f"tex_{name}", type="2d", file=str(texture))
    ET.SubElement(
        asset,
        "material",
        name=f"mat_{name}",
        texture=f"tex_{name}",
        texrepeat=repeat,
        texuniform="true",
        specular="0.1",
        shininess="0.1",
        reflectance="0",
    )


def _dress_arena(arena: object, spec: SceneSpec, catalog: Catalog) -> None:
    """Apply the table / floor / wall textures and the key light to robosuite's TableArena in place."""
    _material(arena.asset, "table", catalog.texture_path(spec.table_texture), "2 2")
    _material(arena.asset, "floor", catalog.texture_path(spec.floor_texture), "2 2")
    _material(arena.asset, "walls", catalog.texture_path(spec.wall_texture), "3 3")
    arena.table_visual.set("material", "mat_table")
    arena.floor.set("material", "mat_floor")
    for geom in arena.worldbody.findall("geom"):
        if geom.get("name", "").startswith("wall_"):
            geom.set("material", "mat_walls")
    _prune_unused(arena)
    light = arena.worldbody.find("light")
    light.set("dir", " ".join(f"{v:.4f}" for v in spec.lighting.direction))
    light.set("diffuse", " ".join([f"{spec.lighting.diffuse:.3f}"] * 3))
    light.set("specular", "0.2 0.2 0.2")
    light.set("castshadow", "false")


def _prune_unused(arena: object) -> None:
    """Drop the arena's own materials and textures that our materials replaced.

    Every texture is uploaded to the renderer per episode; robosuite's default table is a 6-face cube map of
    1181x1181 pixels, the largest single cost of creating a renderer.
    """
    used = {geom.get("material") for geom in arena.worldbody.iter("geom")}
    for material in arena.asset.findall("material"):
        if material.get("name") not in used:
            arena.asset.remove(material)
    used = {material.get("texture") for material in arena.asset.findall("material")}
    for texture in arena.asset.findall("texture"):
        if texture.get("name") not in used and texture.get("type") != "skybox":
            arena.asset.remove(texture)


def _finish_xml(xml: str, spec: SceneSpec) -> str:
    """Offscreen buffer for 854x480 frames and the headlight (ambient fill) go into ``<visual>``."""
    root = ET.fromstring(xml)
    visual = root.find("visual")
    if visual is None:
        visual = ET.SubElement(root, "visual")
    ET.SubElement(visual, "global", offwidth=str(ANNOTATION_WIDTH), offheight=str(ANNOTATION_HEIGHT))
    ambient = f"{spec.lighting.ambient:.3f}"
    ET.SubElement(visual, "headlight", ambient=" ".join([ambient] * 3), diffuse="0.25 0.25 0.25", specular="0 0 0")
    return ET.tostring(root, encoding="unicode")


def _finger_pads(model: mujoco.MjModel, gripper: object, side: str) -> list[str]:
    """Geoms of one finger's pads: robosuite's declared ones, or by name where a gripper declares missing geoms
    (robosuite 1.5.2's xArm gripper names ``finger1_pad_collision``, its model has ``left_finger_pad_1``)."""
    names = {model.geom(i).name for i in range(model.ngeom)}
    declared = [n for n in gripper.important_geoms[f"{side}_fingerpad"] if n in names]
    found = declared or sorted(n for n in names if n.startswith(gripper.naming_prefix) and side in n and "pad" in n)
    if not found:
        raise ValueError(f"{type(gripper).__name__}: no {side} finger pad geoms")
    return found


def build_scene(spec: SceneSpec, catalog: Catalog = V1) -> Scene:
    """Compose the episode with robosuite and compile it with MuJoCo; labels are resolved in ``catalog``."""
    robosuite()
    from robosuite.models.arenas import TableArena
    from robosuite.models.bases import robot_base_factory
    from robosuite.models.grippers import gripper_factory
    from robosuite.models.robots import create_robot
    from robosuite.models.tasks import ManipulationTask

    embodiment = catalog.embodiment(spec.robot)
    robot = create_robot(embodiment.robot, idn=0)
    robot.add_base(robot_base_factory(robot.default_base, idn=0))
    gripper = gripper_factory(embodiment.gripper or robot.default_gripper["right"], idn="0_right")
    robot.add_gripper(gripper, robot.eef_name["right"])
    robot.set_base_xpos(robot.base_xpos_offset["table"](TABLE_SIZE[0]))

    arena = TableArena(table_full_size=TABLE_SIZE, table_offset=(0, 0, TABLE_TOP_Z))
    _dress_arena(arena, spec, catalog)
    objects = [catalog.kind(label).build(label) for label in spec.objects]
    task = ManipulationTask(mujoco_arena=arena, mujoco_robots=[robot], mujoco_objects=objects)
    model = mujoco.MjModel.from_xml_string(_finish_xml(task.get_xml(), spec))

    return Scene(
        spec=spec,
        model=model,
        arm_joints=list(robot.joints),
        init_qpos=np.asarray(robot.init_qpos, dtype=float),
        gripper_joints=list(gripper.joints),
        gripper_type=type(gripper).__name__,
        grip_site=gripper.important_sites["grip_site"],
        gripper_root=gripper.root_body,
        robot_root=robot.root_body,
        finger_pads=(_finger_pads(model, gripper, "left"), _finger_pads(model, gripper, "right")),
        object_joints={label: obj.joints[0] for label, obj in zip(spec.objects, objects, strict=True)},
        object_roots={label: obj.root_body for label, obj in zip(spec.objects, objects, strict=True)},
    )
