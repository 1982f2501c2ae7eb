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
from actiseg_core.data.sim.embodiments import MODELS_PACK
from actiseg_core.data.sim.packs import python_pack

TABLE_SIZE = (0.8, 0.8, 0.05)
TABLE_TOP_Z = 0.8
PHOTO_PREFIX = "photo:"  # v2's wall textures that are real photographs, shown whole behind the workspace


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


def _material(asset: ET.Element, name: str, texture: Path, repeat: str, uniform: bool = True) -> None:
    """A 2-D texture repeated per metre, or ``repeat`` times per face when not ``uniform`` (a photo spans a wall
    once); a cube map would upload six faces per episode for the same look."""
    ET.SubElement(asset, "texture", name=f"tex_{name}", type="2d", file=str(texture))
    ET.SubElement(
        asset,
        "material",
        name=f"mat_{name}",
        texture=f"tex_{name}",
        texrepeat=repeat,
        texuniform="true" if uniform else "false",
        specular="0.1",
        shininess="0.1",
        reflectance="0",
    )


def _dress_arena(arena: object, spec: SceneSpec, catalog: Catalog) -> None:
    """Apply the table / floor / wall textures and the key light to robosuite's TableArena in place."""
    _material(arena.asset, "table", catalog.texture_path(spec.table_texture), "2 2")
    _material(arena.asset, "floor", catalog.texture_path(spec.floor_texture), "2 2")
    photo = spec.wall_texture.startswith(PHOTO_PREFIX)
    _material(arena.asset, "walls", catalog.texture_path(spec.wall_texture), "1 1" if photo else "3 3", not photo)
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


# Pads of the grippers and hands that declare none or whole fingers (geom names without the gripper's prefix):
# left and right are the two opposing sides; a hand's are its thumb tip and its index and middle fingertips.
PADS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "YumiRightGripper": (("gripper_r_finger_l_collision",), ("gripper_r_finger_r_collision",)),
    "InspireRightHand": (("r_thumb_distal_col",), ("r_index_distal_col", "r_middle_distal_col")),
    "FourierRightHand": (
        ("R_thumb_distal_link_col",),
        ("R_index_intermediate_link_col", "R_middle_intermediate_link_col"),
    ),
    "AbilityRightHand": (("thumb_L2_collision",), ("index_L2_collision", "middle_L2_collision")),
    "SchunkSvhRightHand": (("right_hand_c_collision",), ("right_hand_t_collision", "right_hand_s_collision")),
}


@dataclass(frozen=True)
class Remount:
    """How a gripper or hand made for another robot is mounted here, in its root body's frame.

    The planner points the grip site's z axis down and puts the site where the object's middle goes; robosuite's
    own grippers have their site between the fingers with z along them, but the UMI and PR2 grippers point their
    site's z back at the wrist and humanoid hands (made for GR1) sit with their fingers along the forearm. For
    these the root is turned so that ``approach`` (the direction the gripper moves onto an object: along a
    gripper's fingers, out of a hand's palm, so that the fingers wrap the object from above) lies along the arm's
    approach axis (:data:`APPROACH_AXES`), and a grip site is added at ``grasp`` (between the pads; under a hand's
    palm) with z along ``approach``. A gripper without an entry approaches along its root's z axis.
    """

    approach: tuple[float, float, float]
    grasp: tuple[float, float, float]


REMOUNTS: dict[str, Remount] = {
    "UMIGripper": Remount((1.0, 0.0, 0.0), (0.135, 0.0, 0.0)),
    "PR2Gripper": Remount((1.0, 0.0, 0.0), (0.165, 0.0, 0.0)),
    "InspireRightHand": Remount((-1.0, 0.0, 0.0), (-0.05, -0.065, 0.0)),
    "FourierRightHand": Remount((-1.0, 0.0, 0.0), (-0.05, -0.065, 0.0)),
    "AbilityRightHand": Remount((-1.0, 0.0, 0.0), (-0.045, 0.005, -0.08)),
    "SchunkSvhRightHand": Remount((1.0, 0.0, 0.0), (0.08, 0.015, 0.125)),
}
GRIP_SITE = "actiseg_grip_site"  # the grip site added to remounted grippers (with the gripper's name prefix)
# The approach axis of an arm's flange (the frame grippers are mounted in), where it is not z as on robosuite's
# arms: the Unitree Z1 and the ARX5 (robosuite-models) carry their grippers along x.
APPROACH_AXES: dict[str, tuple[float, float, float]] = {"Z1": (1.0, 0.0, 0.0), "Arx5": (1.0, 0.0, 0.0)}


@dataclass(frozen=True)
class TableMount:
    """A small arm clamped onto the table top near its back edge (as robosuite-models' ALOHA, Unitree and ARX arms
    are used) instead of standing on a pedestal behind the table: base at ``x``, on a riser block ``riser`` metres
    high (0: none) that lifts its workspace to the heights the clips move through (up to 0.3 m above the table)."""

    x: float
    riser: float = 0.0


TABLE_MOUNTS: dict[str, TableMount] = {
    "VX300S": TableMount(-0.36),
    "Z1": TableMount(-0.36, 0.2),
    "Arx5": TableMount(-0.36, 0.2),
}
RISER_HALF_WIDTH = 0.06


def _table_mount(robot: object, mount: TableMount) -> None:
    """Stand the arm (mounted on robosuite's empty mount) on the table top, with its riser block under it."""
    robot.set_base_xpos(np.array([mount.x, 0.0, TABLE_TOP_Z + mount.riser]))
    if mount.riser:
        root = next(body for body in robot.worldbody.iter("body") if body.get("name") == robot.root_body)
        ET.SubElement(
            root,
            "geom",
            name=f"{robot.naming_prefix}riser",
            type="box",
            size=f"{RISER_HALF_WIDTH} {RISER_HALF_WIDTH} {mount.riser / 2:.4f}",
            pos=f"0 0 {-mount.riser / 2:.4f}",
            rgba="0.15 0.15 0.16 1",
            group="1",
        )


def _turn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of the smallest rotation taking unit vector ``a`` to unit vector ``b``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    axis, dot = np.cross(a, b), float(a @ b)
    if dot < -1 + 1e-9:  # opposite: half a turn about any axis normal to a
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        return np.array([0.0, *(axis / np.linalg.norm(axis))])
    quat = np.array([1.0 + dot, *axis])
    return quat / np.linalg.norm(quat)


def _floats(element: ET.Element, attribute: str, default: tuple[float, ...]) -> np.ndarray:
    return np.array([float(v) for v in element.get(attribute, " ".join(map(str, default))).split()])


def _mount(gripper: object, robot: str) -> str:
    """Turn the gripper's root so that its approach axis (:data:`REMOUNTS`) lies along the arm's
    (:data:`APPROACH_AXES`) and add a grip site to remounted grippers; returns the grip site's name.

    Grippers that robosuite made to fit (its grippers on robosuite's arms) are left exactly as they are.
    """
    remount = REMOUNTS.get(type(gripper).__name__)
    axis = np.array(APPROACH_AXES.get(robot, (0.0, 0.0, 1.0)))
    if remount is None and axis[2] == 1.0:
        return gripper.important_sites["grip_site"]
    root = next(body for body in gripper.worldbody.iter("body") if body.get("name") == gripper.root_body)
    approach = np.array(remount.approach if remount else (0.0, 0.0, 1.0))
    quat, pos = _floats(root, "quat", (1, 0, 0, 0)), _floats(root, "pos", (0, 0, 0))
    along = np.zeros(3)
    mujoco.mju_rotVecQuat(along, approach, quat)  # the approach axis in the flange frame, as the MJCF mounts it
    turn = _turn(along, axis)
    mujoco.mju_mulQuat(quat, turn, quat.copy())
    mujoco.mju_rotVecQuat(pos, pos.copy(), turn)
    root.set("quat", " ".join(f"{v:.6f}" for v in quat))
    root.set("pos", " ".join(f"{v:.6f}" for v in pos))
    if remount is None:
        return gripper.important_sites["grip_site"]
    name = gripper.naming_prefix + GRIP_SITE
    ET.SubElement(
        root,
        "site",
        name=name,
        pos=" ".join(f"{v:.4f}" for v in remount.grasp),
        quat=" ".join(f"{v:.6f}" for v in _turn((0.0, 0.0, 1.0), approach)),
        size="0.005",
        rgba="0 0 0 0",
        group="5",
    )
    return name


def _finger_pads(model: mujoco.MjModel, gripper: object, side: str) -> list[str]:
    """Geoms of one finger's pads: :data:`PADS`, robosuite's declared ones, or by name where a gripper declares
    missing geoms (robosuite 1.5.2's xArm gripper names ``finger1_pad_collision``, its model has
    ``left_finger_pad_1``)."""
    names = {model.geom(i).name for i in range(model.ngeom)}
    if type(gripper).__name__ in PADS:
        pads = PADS[type(gripper).__name__][0 if side == "left" else 1]
        return [gripper.naming_prefix + name for name in pads]
    declared = [n for n in gripper.important_geoms[f"{side}_fingerpad"] if n in names]
    found = declared or sorted(n for n in names if n.startswith(gripper.naming_prefix) and side in n and "pad" in n)
    if not found:
        raise ValueError(f"{type(gripper).__name__}: no {side} finger pad geoms")
    return found


def _load_models(robot: str, gripper: str | None) -> None:
    """Make robosuite-models' arms and grippers known to robosuite (they register themselves when imported) if
    the embodiment names a class that robosuite alone does not have; the pack is installed on first use."""
    from robosuite.models.grippers import GRIPPER_MAPPING
    from robosuite.models.robots.robot_model import REGISTERED_ROBOTS

    if robot in REGISTERED_ROBOTS and (gripper is None or gripper in GRIPPER_MAPPING):
        return
    python_pack(MODELS_PACK)
    import robosuite_models  # noqa: F401  (registers VX300S, Z1, Arx5, their grippers and hands)


def build_scene(spec: SceneSpec, catalog: Catalog = V1) -> Scene:
    """Compose the episode with robosuite and compile it with MuJoCo; labels are resolved in ``catalog``."""
    robosuite()
    from robosuite.models.arenas import TableArena
    from robosuite.models.bases import robot_base_factory
    from robosuite.models.grippers import gripper_factory
    from robosuite.models.robots import create_robot
    from robosuite.models.tasks import ManipulationTask

    embodiment = catalog.embodiment(spec.robot)
    _load_models(embodiment.robot, embodiment.gripper)
    robot = create_robot(embodiment.robot, idn=0)
    table_mount = TABLE_MOUNTS.get(embodiment.robot)
    robot.add_base(robot_base_factory("NullMount" if table_mount else robot.default_base, idn=0))
    gripper = gripper_factory(embodiment.gripper or robot.default_gripper["right"], idn="0_right")
    grip_site = _mount(gripper, embodiment.robot)
    robot.add_gripper(gripper, robot.eef_name["right"])
    if table_mount:
        _table_mount(robot, table_mount)
    else:
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
        grip_site=grip_site,
        gripper_root=gripper.root_body,
        robot_root=robot.root_body,
        finger_pads=(_finger_pads(model, gripper, "left"), _finger_pads(model, gripper, "right")),
        object_joints={label: obj.joints[0] for label, obj in zip(spec.objects, objects, strict=True)},
        object_roots={label: obj.root_body for label, obj in zip(spec.objects, objects, strict=True)},
    )
